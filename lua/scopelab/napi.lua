-- SPDX-License-Identifier: MIT
-- scopelab.napi: Node-API over a scopelab isolate and loop, with Node-API's semantics and
-- statuses, and its references and finalizers built the way Node builds them.
--
--   local env = scopelab.napi(iso, loop [, {finalizers = "deferred"}])
--   local s = env:open_handle_scope()
--   local obj = env:create_object()
--   local ref = env:wrap(obj, block, function(env, native, hint) native:free() end, nil, true)
--   env:close_handle_scope(s)
--
-- Methods are Node-API's functions without the 'napi_' prefix; out-parameters become
-- results. A call that fails raises a Lua error whose message starts with the status
-- name ("napi_invalid_arg: Invalid argument ('create_reference' at f.lua:12: ...)")
-- and sets what get_last_error_info() returns; a call that succeeds clears it, as
-- napi_clear_last_error does.
--
-- The mechanisms, from Node's src/js_native_api_v8.{h,cc} and src/node_api.cc:
--
-- * v8impl::Reference. Every napi_ref, and the internal reference behind every wrap,
--   external finalizer and add_finalizer, is one record: a persistent node holding the
--   value, a count, an ownership (kUserland: the addon deletes it; kRuntime: deleted
--   when finalized) and, for ReferenceWithFinalizer, the finalizer. At count 0 the node
--   is weak with a first-pass callback (SetWeak(this, WeakCallback, kParameter)), which
--   resets the node as V8 requires, then finalizes a plain reference at once, or hands
--   a reference with a finalizer to InvokeFinalizerFromGC. The record owns a native
--   block of 80 bytes ("v8impl::Reference", the size LeakSanitizer reports for one in
--   node #34731), so a napi_ref never deleted shows in iso:native_report() too.
-- * Finalizers. With finalizers = "deferred" (Node >= 18) InvokeFinalizerFromGC queues
--   the reference ('pending_finalizers') and, once per batch, schedules the drain with
--   Environment::SetImmediate (loop:native_immediate): they run in a later check phase,
--   each in a HandleScope of its own (CallFinalizer), so native memory waits for the
--   loop to turn. With finalizers = "gc" the first pass asks for a second pass, which
--   calls the finalizer: right after a forced collection, otherwise as an isolate task.
-- * Wraps. napi_wrap stores the reference in the object, as an External under the
--   private key "node:napi:wrapper" (scopelab has no private symbols: it is a named
--   property, so it shows in o:keys()); unwrap and remove_wrap read it back.
-- * Teardown (FreeEnvironment, then node_napi_env__::DeleteMe): under a HandleScope and
--   a SealHandleScope, with JavaScript disallowed, the cleanup hooks run last added
--   first; then the pending finalizers are drained; then every reference with a
--   finalizer still linked is finalized, newest first (RefTracker::FinalizeAll), then
--   the plain ones (reset; a kUserland one stays allocated until deleted).
-- * options.deferred_delete = true gives napi_delete_reference the rule of Node < 19
--   (RefBase::Delete before node #44141): a reference whose count is 0 and whose weak
--   callback has not run is only marked, and is deleted when its object is collected.
--
-- API (docs/API.md, section "Node-API"): see the methods below.

local M = {}

-- ---------------------------------------------------------------- statuses

-- napi_status, in js_native_api_types.h's order, with the messages of
-- napi_get_last_error_info (error_messages[] in js_native_api_v8.cc).
local STATUSES = {
  { "napi_ok", nil },
  { "napi_invalid_arg", "Invalid argument" },
  { "napi_object_expected", "An object was expected" },
  { "napi_string_expected", "A string was expected" },
  { "napi_name_expected", "A string or symbol was expected" },
  { "napi_function_expected", "A function was expected" },
  { "napi_number_expected", "A number was expected" },
  { "napi_boolean_expected", "A boolean was expected" },
  { "napi_array_expected", "An array was expected" },
  { "napi_generic_failure", "Unknown failure" },
  { "napi_pending_exception", "An exception is pending" },
  { "napi_cancelled", "The async work item was cancelled" },
  { "napi_escape_called_twice", "napi_escape_handle already called on scope" },
  { "napi_handle_scope_mismatch", "Invalid handle scope usage" },
  { "napi_callback_scope_mismatch", "Invalid callback scope usage" },
  { "napi_queue_full", "Thread-safe function queue is full" },
  { "napi_closing", "Thread-safe function handle is closing" },
  { "napi_bigint_expected", "A bigint was expected" },
  { "napi_date_expected", "A date was expected" },
  { "napi_arraybuffer_expected", "An arraybuffer was expected" },
  { "napi_detachable_arraybuffer_expected", "A detachable arraybuffer was expected" },
  { "napi_would_deadlock", "Main thread would deadlock" },
  { "napi_no_external_buffers_allowed", "External buffers are not allowed" },
  { "napi_cannot_run_js", "Cannot run JavaScript" },
}
local CODE, MESSAGE = {}, {}
for i, s in ipairs(STATUSES) do
  CODE[s[1]] = i - 1
  MESSAGE[s[1]] = s[2]
end
M.status = CODE            -- scopelab.napi.status.napi_invalid_arg == 1

local WRAPPER_KEY = "node:napi:wrapper"   -- Node's napi_wrapper private symbol
local REFERENCE_BYTES = 80                -- one v8impl::Reference (node #34731's LSan)

local Env = {}
Env.__index = Env
Env.__name = "scopelab.napi_env"

local Ref = { __name = "scopelab.napi_ref" }
local Scope = { __name = "scopelab.napi_handle_scope" }
local CbInfo = { __name = "scopelab.napi_callback_info" }
Ref.__index, Scope.__index, CbInfo.__index = Ref, Scope, CbInfo

-- ---------------------------------------------------------------- errors

-- "file:line" of the addon's call: the first Lua frame above 'level' outside this file.
local THIS_FILE = debug.getinfo(1, "S").short_src
local function site(level)
  for l = level + 1, level + 10 do
    local info = debug.getinfo(l, "Sl")
    if not info then break end
    if info.what ~= "C" and info.short_src ~= THIS_FILE and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline
    end
  end
  return "?"
end

-- Sets the env's last error and raises it: "<status>: <message> ('<op>' at <site>)".
-- The call site is that of the method's caller (three levels up from here).
local function fail(env, status, op, detail)
  env.last_error = status
  local msg = MESSAGE[status]
  error(("%s: %s ('%s' at %s%s)"):format(status, msg, op, site(3),
    detail and ": " .. detail or ""), 0)
end

local function clear(env)
  env.last_error = "napi_ok"
end

-- Checks run by every method: a live env (a torn-down one is gone: a Lua argument
-- error, as no status can say it).
local function checkenv(env, op)
  if getmetatable(env) ~= Env then
    error(("bad argument #1 to '%s' (scopelab.napi_env expected, got %s)"):format(op, type(env)), 3)
  end
  if env.torn_down then
    error(("bad argument #1 to '%s' (napi env is torn down)"):format(op), 3)
  end
  if env.iso:is_disposed() then      -- else the first isolate call would name itself
    error(("bad argument #1 to '%s' (napi env's isolate is disposed)"):format(op), 3)
  end
  return env
end

-- The kind of a Local (nil for anything else, or for a Local whose scope closed).
local function getkind(v) return v:kind() end
local function kind_of(v)
  if type(v) ~= "userdata" then return nil end
  local ok, k = pcall(getkind, v)
  return ok and k or nil
end

local IS_OBJECT = { object = true, array = true, ["function"] = true, external = true }

local function checkvalue(env, v, op, what)
  local k = kind_of(v)
  if not k then
    fail(env, "napi_invalid_arg", op, ("%s must be a live Local, got %s"):format(what,
      type(v) == "userdata" and "a stale or foreign value" or type(v)))
  end
  return k
end

local function checkcallable(env, f, op, what, optional)
  if f == nil and optional then return end
  if type(f) ~= "function" then
    fail(env, "napi_invalid_arg", op, ("%s must be a function, got %s"):format(what, type(f)))
  end
end

-- ---------------------------------------------------------------- the env

--- scopelab.napi(iso, loop [, {finalizers = "deferred" | "gc", deferred_delete = false}])
function M.new(iso, loop, opts)
  if type(iso) ~= "userdata" or type(iso.handle_scope) ~= "function" then
    error(("bad argument #1 to 'napi' (scopelab.Isolate expected, got %s)"):format(type(iso)), 2)
  end
  local Loop = require("scopelab.loop").Loop
  if getmetatable(loop) ~= Loop then
    error(("bad argument #2 to 'napi' (scopelab.Loop expected, got %s)"):format(type(loop)), 2)
  end
  if loop.iso ~= iso then error("bad argument #2 to 'napi' (loop of another isolate)", 2) end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #3 to 'napi' (table expected, got %s)"):format(type(opts)), 2)
  end
  local finalizers, deferred_delete = "deferred", false
  for k, v in pairs(opts or {}) do
    if k == "finalizers" then
      if v ~= "deferred" and v ~= "gc" then
        error(("bad argument #3 to 'napi' (option 'finalizers' must be \"deferred\" or \"gc\", got %s)")
          :format(type(v) == "string" and ("%q"):format(v) or type(v)), 2)
      end
      finalizers = v
    elseif k == "deferred_delete" then
      if type(v) ~= "boolean" then
        error(("bad argument #3 to 'napi' (option 'deferred_delete' must be a boolean, got %s)")
          :format(type(v)), 2)
      end
      deferred_delete = v
    else
      error(("bad argument #3 to 'napi' (unknown option '%s')"):format(tostring(k)), 2)
    end
  end
  local env = setmetatable({
    iso = iso, loop = loop,
    finalizers = finalizers, deferred_delete = deferred_delete,
    last_error = "napi_ok",
    last_exception = nil,
    open_handle_scopes = 0,
    can_call_into_js = true,
    -- RefTracker lists: Link() puts a record first, FinalizeAll() takes the first
    reflist = { next = nil }, finalizing_reflist = { next = nil },
    pending = {}, pending_set = {},    -- pending_finalizers, in the order queued
    finalization_scheduled = false,
    destructing = false, torn_down = false,
    cleanup_hooks = {},                -- {fn, arg}, in the order added
    instance_data = nil,               -- a finalizer record (TrackedFinalizer)
    by_block = {},                     -- native block pointer -> reference (unwrap)
    records = setmetatable({}, { __mode = "k" }),  -- the references this env made
    live = { references = 0, wraps = 0, externals = 0, finalizers = 0 },
    userland = {},                     -- the napi_refs handed out, not deleted (a set)
    counts = { finalizers_run = 0, references_created = 0, references_deleted = 0 },
  }, Env)
  return env
end

setmetatable(M, { __call = function(_, iso, loop, opts) return M.new(iso, loop, opts) end })

-- ---------------------------------------------------------------- RefTracker lists

local function link(rec, list)
  rec.prev = list
  rec.next = list.next
  if rec.next then rec.next.prev = rec end
  list.next = rec
end

local function unlink(rec)
  if rec.prev then rec.prev.next = rec.next end
  if rec.next then rec.next.prev = rec.prev end
  rec.prev, rec.next = nil, nil
end

-- ---------------------------------------------------------------- CallIntoModule

-- env->CallIntoModule: clears the last error, runs 'fn', and checks that the module
-- closed every napi handle scope it opened (a CHECK in Node: a fatal error).
-- An exception still pending when the module returns is thrown on into JavaScript:
-- here, raised out of the iso:call (or loop callback) that entered the module.
local function call_into_module(env, fn, ...)
  local before = env.open_handle_scopes
  clear(env)
  fn(...)
  if env.open_handle_scopes ~= before then
    error(("FATAL ERROR: napi_env: CHECK_EQ(open_handle_scopes, open_handle_scopes_before)"
      .. " failed: %d != %d (a napi handle scope left open)"):format(env.open_handle_scopes, before), 0)
  end
  local exc = env.last_exception
  if exc ~= nil then
    env.last_exception = nil
    error(exc, 0)
  end
end

-- NAPI_PREAMBLE: the calls that may run JavaScript refuse while an exception is
-- pending or once the environment cannot call into JavaScript (teardown).
local function preamble(env, op)
  if env.last_exception ~= nil or not env.can_call_into_js then
    fail(env, "napi_pending_exception", op, env.can_call_into_js and "an exception is pending"
      or "the environment cannot call into JavaScript (it is being torn down)")
  end
end

-- env->CallFinalizer: a HandleScope of its own around the user's finalizer.
local function call_finalizer(env, cb, data, hint)
  local scope <close> = env.iso:handle_scope()
  env.counts.finalizers_run = env.counts.finalizers_run + 1
  call_into_module(env, cb, env, data, hint)
end

-- ---------------------------------------------------------------- references

local weak_callback            -- forward

-- Reference::SetWeak
local function set_weak(rec)
  rec.persistent:set_weak { first_pass = weak_callback, parameter = rec, type = "parameter" }
end

-- A new v8impl::Reference (Reference::New and its subclasses). 'fin': the finalizer of
-- a ReferenceWithFinalizer (nil for a plain Reference or a ReferenceWithData).
local function new_reference(env, value, count, ownership, kind, fin)
  local iso = env.iso
  local rec = setmetatable({
    env = env, count = count, ownership = ownership, kind = kind,
    persistent = iso:persistent(value),
    block = iso:native_alloc(REFERENCE_BYTES, "v8impl::Reference"),
    finalize_cb = fin and fin.cb, data = fin and fin.data, hint = fin and fin.hint,
    has_finalizer = fin ~= nil,
    deleted = false, finalize_ran = false, delete_self = false, alive = true,
  }, Ref)
  env.records[rec] = true
  env.by_block[rec.block:pointer()] = rec
  link(rec, fin and env.finalizing_reflist or env.reflist)
  if count == 0 then set_weak(rec) end
  env.counts.references_created = env.counts.references_created + 1
  if ownership == "userland" then
    env.userland[rec] = true
    env.live.references = env.live.references + 1
  end
  if kind ~= "reference" then env.live[kind .. "s"] = env.live[kind .. "s"] + 1 end
  return rec
end

-- The wrap, external or finalizer behind 'rec' no longer counts as live.
local function retire(rec)
  if rec.alive then
    rec.alive = false
    if rec.kind ~= "reference" then
      local k = rec.kind .. "s"
      rec.env.live[k] = rec.env.live[k] - 1
    end
  end
end

local function dequeue(env, rec)
  if env.pending_set[rec] then
    env.pending_set[rec] = nil
    for i, r in ipairs(env.pending) do
      if r == rec then table.remove(env.pending, i); break end
    end
  end
end

-- ~Reference (and ~ReferenceWithFinalizer): reset, unlink, leave the finalizer queue,
-- free the node and the C++ object.
local function destroy(rec)
  if rec.deleted then return end
  local env = rec.env
  rec.deleted = true
  retire(rec)
  unlink(rec)
  dequeue(env, rec)
  rec.persistent:reset()
  rec.persistent:delete()
  env.by_block[rec.block:pointer()] = nil
  rec.block:free()
  if env.userland[rec] then
    env.userland[rec] = nil
    env.live.references = env.live.references - 1
  end
  env.counts.references_deleted = env.counts.references_deleted + 1
end

-- Reference::Finalize (and RefBase::Finalize of Node < 19 with deferred_delete).
local function finalize(rec)
  if rec.deleted then return end
  local env = rec.env
  rec.persistent:reset()
  retire(rec)
  unlink(rec)
  local cb = rec.finalize_cb
  rec.finalize_cb = nil                  -- CallFinalizer resets it: it never runs twice
  if cb ~= nil then call_finalizer(env, cb, rec.data, rec.hint) end
  if rec.deleted then return end         -- the finalizer deleted it
  if env.deferred_delete then
    if rec.delete_self or rec.ownership == "runtime" then destroy(rec) else rec.finalize_ran = true end
  elseif rec.ownership == "runtime" then
    destroy(rec)
  end
end

-- node_napi_env__::DrainFinalizerQueue: finalizers can queue or delete others, so take
-- the first until none is left. 'run' (teardown) calls each finalize, else it is called.
local function drain(env, run)
  while #env.pending > 0 do
    local rec = table.remove(env.pending, 1)
    env.pending_set[rec] = nil
    if run then run(finalize, rec) else finalize(rec) end
  end
end

-- The drain, once per batch, from a native immediate. A finalizer that raises stops
-- the drain and its error leaves loop:run(); the finalizers queued after it are
-- scheduled again first, or they would wait, unseen by loop:alive(), until some
-- later collection queued another.
local function schedule_drain(env)
  if not env.finalization_scheduled and not env.destructing and not env.loop.closed then
    env.finalization_scheduled = true
    env.loop:native_immediate(function()
      env.finalization_scheduled = false
      if env.torn_down then return end
      local ok, err = pcall(drain, env)
      if not ok then
        if #env.pending > 0 then schedule_drain(env) end
        error(err, 0)
      end
    end)
  end
end

-- node_napi_env__::EnqueueFinalizer. Runs in a first pass: only tables are touched.
local function enqueue_finalizer(env, rec)
  if not env.pending_set[rec] then
    env.pending_set[rec] = true
    env.pending[#env.pending + 1] = rec
  end
  schedule_drain(env)
end

local function second_pass(info)
  finalize(info:parameter())
end

-- Reference::WeakCallback, the first pass: reset the node (V8's rule), then
-- InvokeFinalizerFromGC. No heap access here: only the record's tables.
weak_callback = function(info)
  local rec = info:parameter()
  rec.persistent:reset()
  if not rec.has_finalizer then
    finalize(rec)                          -- nothing of the addon's runs: safe in GC
  elseif rec.env.finalizers == "gc" then
    retire(rec)
    info:set_second_pass_callback(second_pass)
  else
    retire(rec)
    enqueue_finalizer(rec.env, rec)
  end
end

local function checkref(env, ref, op)
  if not env.records[ref] then             -- not one this env made (the fields are not read)
    fail(env, "napi_invalid_arg", op, ("napi_ref expected, got %s"):format(
      getmetatable(ref) ~= Ref and type(ref)
      or rawget(ref, "env") ~= env and "a napi_ref of another env" or "a forged napi_ref"))
  end
  if ref.deleted then fail(env, "napi_invalid_arg", op, "reference is deleted") end
  return ref
end

--- create_reference(value, count) -> napi_ref (a weak reference at count 0).
function Env:create_reference(value, count)
  checkenv(self, "create_reference")
  local k = checkvalue(self, value, "create_reference", "value")
  if not IS_OBJECT[k] then
    fail(self, "napi_invalid_arg", "create_reference", ("a %s cannot be referenced"):format(k))
  end
  if math.type(count) ~= "integer" or count < 0 or count > 0xffffffff then
    fail(self, "napi_invalid_arg", "create_reference", "count must be an integer in 0..4294967295")
  end
  local rec = new_reference(self, value, count, "userland", "reference", nil)
  clear(self)
  return rec
end

--- reference_ref(ref) -> new count (0, unchanged, once the object was collected).
function Env:reference_ref(ref)
  checkenv(self, "reference_ref")
  checkref(self, ref, "reference_ref")
  if ref.persistent:is_empty() then clear(self); return 0 end
  if ref.count == 0xffffffff then
    fail(self, "napi_generic_failure", "reference_ref", "reference count would overflow")
  end
  ref.count = ref.count + 1
  if ref.count == 1 then ref.persistent:clear_weak() end
  clear(self)
  return ref.count
end

--- reference_unref(ref) -> new count; napi_generic_failure at 0.
function Env:reference_unref(ref)
  checkenv(self, "reference_unref")
  checkref(self, ref, "reference_unref")
  if ref.count == 0 then fail(self, "napi_generic_failure", "reference_unref", "count is already 0") end
  if ref.persistent:is_empty() then clear(self); return 0 end
  ref.count = ref.count - 1
  if ref.count == 0 then set_weak(ref) end
  clear(self)
  return ref.count
end

--- get_reference_value(ref) -> Local, or nil once a weak reference's object is gone.
function Env:get_reference_value(ref)
  checkenv(self, "get_reference_value")
  checkref(self, ref, "get_reference_value")
  local v = ref.persistent:get()
  clear(self)
  return v
end

--- delete_reference(ref)
function Env:delete_reference(ref)
  checkenv(self, "delete_reference")
  checkref(self, ref, "delete_reference")
  if self.deferred_delete and ref.count == 0 and not ref.delete_self and not ref.finalize_ran
      and not ref.persistent:is_empty() then
    ref.delete_self = true                 -- RefBase::Delete: wait for the weak callback
  else
    destroy(ref)
  end
  clear(self)
end

-- ---------------------------------------------------------------- handle scopes

local function open_scope(env, op, escapable)
  checkenv(env, op)
  local ok, s = pcall(escapable and env.iso.escapable_handle_scope or env.iso.handle_scope, env.iso)
  if not ok then error(s, 0) end            -- no scope to reserve in, a worker: V8 would abort
  env.open_handle_scopes = env.open_handle_scopes + 1
  clear(env)
  return setmetatable({ env = env, scope = s, escapable = escapable, escaped = false, closed = false },
    Scope)
end

local function close_scope(env, s, op, escapable)
  checkenv(env, op)
  if getmetatable(s) ~= Scope or s.env ~= env or s.escapable ~= escapable then
    fail(env, "napi_invalid_arg", op, ("%s expected"):format(escapable and "napi_escapable_handle_scope"
      or "napi_handle_scope"))
  end
  if env.open_handle_scopes == 0 or s.closed then
    fail(env, "napi_handle_scope_mismatch", op, s.closed and "scope is already closed" or "no scope is open")
  end
  local ok, err = pcall(s.scope.close, s.scope)
  if not ok then fail(env, "napi_handle_scope_mismatch", op, tostring(err)) end
  s.closed = true
  env.open_handle_scopes = env.open_handle_scopes - 1
  clear(env)
end

function Env:open_handle_scope() return open_scope(self, "open_handle_scope", false) end
function Env:close_handle_scope(s) close_scope(self, s, "close_handle_scope", false) end
function Env:open_escapable_handle_scope()
  return open_scope(self, "open_escapable_handle_scope", true)
end
function Env:close_escapable_handle_scope(s)
  close_scope(self, s, "close_escapable_handle_scope", true)
end

--- escape_handle(scope, value) -> Local of the parent scope; twice: napi_escape_called_twice.
function Env:escape_handle(s, v)
  checkenv(self, "escape_handle")
  if getmetatable(s) ~= Scope or s.env ~= self or not s.escapable then
    fail(self, "napi_invalid_arg", "escape_handle", "napi_escapable_handle_scope expected")
  end
  checkvalue(self, v, "escape_handle", "escapee")
  if s.escaped then fail(self, "napi_escape_called_twice", "escape_handle") end
  if s.closed then fail(self, "napi_handle_scope_mismatch", "escape_handle", "scope is closed") end
  local r = s.scope:escape(v)
  s.escaped = true
  clear(self)
  return r
end

-- A napi scope is also a to-be-closed value: closed at the end of its block if the
-- addon did not close it (with an error in flight, inner scopes are closed too).
function Scope.__close(s, err)
  if s.closed then return end
  local env = s.env
  if s.scope:is_open() then getmetatable(s.scope).__close(s.scope, err) end
  s.closed = true
  env.open_handle_scopes = env.open_handle_scopes - 1
end

function Scope.__tostring(s)
  return ("scopelab.napi_%shandle_scope (%s)"):format(s.escapable and "escapable_" or "",
    s.closed and "closed" or "open")
end

-- ---------------------------------------------------------------- values

function Env:create_object()
  checkenv(self, "create_object")
  local o = self.iso:object()
  clear(self)
  return o
end

function Env:get_undefined() checkenv(self, "get_undefined"); clear(self); return self.iso:undefined() end
function Env:get_null() checkenv(self, "get_null"); clear(self); return self.iso:null() end
function Env:get_boolean(b) checkenv(self, "get_boolean"); clear(self); return self.iso:boolean(b) end

local TYPEOF = {
  undefined = "napi_undefined", null = "napi_null", boolean = "napi_boolean",
  smi = "napi_number", integer = "napi_number", number = "napi_number", string = "napi_string",
  object = "napi_object", array = "napi_object", ["function"] = "napi_function",
  external = "napi_external",
}

--- typeof(value) -> "napi_object", "napi_number", ...
function Env:typeof(v)
  checkenv(self, "typeof")
  local k = checkvalue(self, v, "typeof", "value")
  clear(self)
  return TYPEOF[k]
end

-- ---------------------------------------------------------------- functions

function CbInfo.__tostring(ci)
  return "scopelab.napi_callback_info" .. (ci.info and "" or " (returned)")
end

--- create_function(name, cb [, data]) -> Local: cb(env, cbinfo) returns a Local or nil.
function Env:create_function(name, cb, data)
  checkenv(self, "create_function")
  preamble(self, "create_function")
  if name ~= nil and type(name) ~= "string" then
    fail(self, "napi_invalid_arg", "create_function", "name must be a string or nil")
  end
  checkcallable(self, cb, "create_function", "cb")
  local env = self
  -- FunctionCallbackWrapper::Invoke
  local function invoke(info)
    local ci = setmetatable({ info = info, data = data }, CbInfo)
    local result
    call_into_module(env, function() result = cb(env, ci) end)
    ci.info = nil
    if result ~= nil then info:set_return_value(result) end
  end
  local fn = self.iso:func(invoke, nil, name)
  clear(self)
  return fn
end

--- get_cb_info(cbinfo [, argc]) -> argc, argv, this, data: argv holds 'argc' values
-- (all of them when argc is nil), undefined past the actual ones.
function Env:get_cb_info(ci, argc)
  checkenv(self, "get_cb_info")
  if getmetatable(ci) ~= CbInfo then
    fail(self, "napi_invalid_arg", "get_cb_info", "napi_callback_info expected")
  end
  local info = ci.info
  if info == nil then fail(self, "napi_invalid_arg", "get_cb_info", "the call has returned") end
  local n = info:length()
  if argc ~= nil and (math.type(argc) ~= "integer" or argc < 0) then
    fail(self, "napi_invalid_arg", "get_cb_info", "argc must be a non-negative integer")
  end
  local argv = {}
  for i = 1, argc or n do argv[i] = info:arg(i) end
  clear(self)
  return n, argv, info:this(), ci.data
end

-- The binding's refusals of iso:call before the callee runs (no scope, a seal, a
-- worker): V8 aborts on them, so they pass through unchanged.
local function precondition_error(err)
  return type(err) == "string" and (err:find("cannot create a handle", 1, true)
    or err:find("isolate used from a worker thread", 1, true)
    or err:find("cannot 'call'", 1, true)) ~= nil
end

--- call_function(receiver, fn, ...) -> Local (v8::Function::Call). An error raised by
-- the callee is the pending exception: napi_pending_exception.
function Env:call_function(recv, fn, ...)
  checkenv(self, "call_function")
  preamble(self, "call_function")
  checkvalue(self, recv, "call_function", "recv")
  if checkvalue(self, fn, "call_function", "func") ~= "function" then
    fail(self, "napi_invalid_arg", "call_function", "func is not a function")
  end
  local ok, r = pcall(self.iso.call, self.iso, fn, recv, ...)
  if not ok then
    if precondition_error(r) then error(r, 0) end
    self.last_exception = r                -- v8impl::TryCatch keeps it for the module
    fail(self, "napi_pending_exception", "call_function", tostring(r))
  end
  clear(self)
  return r
end

-- ---------------------------------------------------------------- wraps

-- The reference of the wrap of 'obj', or nil; and true when the object holds a wrap
-- that is not (or no longer) one of this env's: the napi_ref napi_wrap returned was
-- deleted (its block freed: the External holds a dangling pointer, which in Node
-- unwrap would follow), or another env wrapped it. The External's identity must be
-- the one wrap stored: a block freed and another allocated at its address must not
-- make the new reference's data this object's.
local function wrapped_reference(env, obj)
  local ext = obj:get(WRAPPER_KEY)
  if ext == nil or kind_of(ext) ~= "external" then return nil, false end
  local v = ext:external_value()           -- the block, or a light userdata once freed
  local rec = env.by_block[getmetatable(v) ~= nil and v:pointer() or v]
  if rec == nil or rec.wrapper_id ~= ext:id() then return nil, true end
  return rec, false
end

local function checkobject(env, obj, op, kinds)
  local k = checkvalue(env, obj, op, "js_object")
  if not kinds[k] then fail(env, "napi_invalid_arg", op, ("js_object is a %s, not an object"):format(k)) end
end

local WRAPPABLE = { object = true }   -- scopelab keeps named properties on objects only

--- wrap(object, native, finalize_cb [, hint [, want_ref]]) -> napi_ref (want_ref) or nil.
function Env:wrap(obj, native, finalize_cb, hint, want_ref)
  checkenv(self, "wrap")
  preamble(self, "wrap")
  checkobject(self, obj, "wrap", WRAPPABLE)
  checkcallable(self, finalize_cb, "wrap", "finalize_cb", not want_ref)
  if obj:has(WRAPPER_KEY) then              -- HasPrivate: no handle made
    fail(self, "napi_invalid_arg", "wrap", "object is already wrapped")
  end
  local rec
  if want_ref then
    -- the returned reference is the addon's to delete, from the finalizer
    rec = new_reference(self, obj, 0, "userland", "wrap", { cb = finalize_cb, data = native, hint = hint })
  elseif finalize_cb then
    rec = new_reference(self, obj, 0, "runtime", "wrap", { cb = finalize_cb, data = native, hint = hint })
  else
    rec = new_reference(self, obj, 0, "runtime", "wrap", nil)   -- ReferenceWithData
    rec.data = native
  end
  -- SetPrivate(wrapper, External::New(reference)): one handle in the current scope,
  -- so under a seal this raises as V8 would abort; the reference goes with it
  local ok, err = pcall(function()
    local ext = self.iso:external(rec.block)
    rec.wrapper_id = ext:id()
    obj:set(WRAPPER_KEY, ext)
  end)
  if not ok then destroy(rec); error(err, 0) end
  clear(self)
  if want_ref then return rec end
end

local function unwrap(env, obj, op, remove)
  checkenv(env, op)
  preamble(env, op)
  checkobject(env, obj, op, IS_OBJECT)
  local rec, foreign
  if kind_of(obj) == "object" then rec, foreign = wrapped_reference(env, obj) end
  if rec == nil then
    fail(env, "napi_invalid_arg", op, foreign and "object's wrap is not this env's, or the "
      .. "napi_ref napi_wrap returned for it was deleted" or "object is not wrapped")
  end
  local native = rec.data
  if remove then
    obj:delete(WRAPPER_KEY)
    if rec.ownership == "userland" then
      rec.finalize_cb, rec.data, rec.hint = nil, nil, nil   -- ResetFinalizer
      retire(rec)
    else
      destroy(rec)
    end
  end
  clear(env)
  return native
end

function Env:unwrap(obj) return unwrap(self, obj, "unwrap", false) end
function Env:remove_wrap(obj) return unwrap(self, obj, "remove_wrap", true) end

-- ---------------------------------------------------------------- externals, finalizers

--- create_external(native, finalize_cb [, hint]) -> Local of an external.
function Env:create_external(native, finalize_cb, hint)
  checkenv(self, "create_external")
  preamble(self, "create_external")
  checkcallable(self, finalize_cb, "create_external", "finalize_cb", true)
  local ok, ext = pcall(self.iso.external, self.iso, native)
  if not ok then fail(self, "napi_invalid_arg", "create_external", tostring(ext)) end
  if finalize_cb then
    new_reference(self, ext, 0, "runtime", "external", { cb = finalize_cb, data = native, hint = hint })
  end
  clear(self)
  return ext
end

--- get_value_external(external) -> the native data (the block, or the light userdata).
function Env:get_value_external(v)
  checkenv(self, "get_value_external")
  if checkvalue(self, v, "get_value_external", "value") ~= "external" then
    fail(self, "napi_invalid_arg", "get_value_external", "value is not an external")
  end
  clear(self)
  return v:external_value()
end

--- add_finalizer(object, native, finalize_cb [, hint [, want_ref]]) -> napi_ref or nil.
function Env:add_finalizer(obj, native, finalize_cb, hint, want_ref)
  checkenv(self, "add_finalizer")
  checkobject(self, obj, "add_finalizer", IS_OBJECT)
  checkcallable(self, finalize_cb, "add_finalizer", "finalize_cb")
  local rec = new_reference(self, obj, 0, want_ref and "userland" or "runtime", "finalizer",
    { cb = finalize_cb, data = native, hint = hint })
  clear(self)
  if want_ref then return rec end
end

--- adjust_external_memory(delta) -> the new total (AdjustAmountOfExternalAllocatedMemory).
function Env:adjust_external_memory(delta)
  checkenv(self, "adjust_external_memory")
  if math.type(delta) ~= "integer" then
    fail(self, "napi_invalid_arg", "adjust_external_memory", "change_in_bytes must be an integer")
  end
  local total = self.iso:adjust_external_memory(delta)
  clear(self)
  return total
end

--- set_instance_data(data, finalize_cb [, hint]): replaces the old data without
-- finalizing it, as Node does.
function Env:set_instance_data(data, finalize_cb, hint)
  checkenv(self, "set_instance_data")
  checkcallable(self, finalize_cb, "set_instance_data", "finalize_cb", true)
  local old = self.instance_data
  if old then unlink(old) end
  local tf = { finalize_cb = finalize_cb, data = data, hint = hint, tracked = true }
  link(tf, self.finalizing_reflist)          -- TrackedFinalizer::New
  self.instance_data = tf
  clear(self)
end

function Env:get_instance_data()
  checkenv(self, "get_instance_data")
  clear(self)
  return self.instance_data and self.instance_data.data
end

--- add_env_cleanup_hook(fn [, arg]): fn(arg) at teardown, last added first.
function Env:add_env_cleanup_hook(fn, arg)
  checkenv(self, "add_env_cleanup_hook")
  checkcallable(self, fn, "add_env_cleanup_hook", "fun")
  for _, h in ipairs(self.cleanup_hooks) do
    if h.fn == fn and h.arg == arg then
      error("FATAL ERROR: node::AddEnvironmentCleanupHook: CHECK(insertion_info.second) failed"
        .. " (the same hook and argument added twice)", 0)
    end
  end
  self.cleanup_hooks[#self.cleanup_hooks + 1] = { fn = fn, arg = arg }
  clear(self)
end

function Env:remove_env_cleanup_hook(fn, arg)
  checkenv(self, "remove_env_cleanup_hook")
  checkcallable(self, fn, "remove_env_cleanup_hook", "fun")
  for i, h in ipairs(self.cleanup_hooks) do
    if h.fn == fn and h.arg == arg then table.remove(self.cleanup_hooks, i); break end
  end
  clear(self)
end

--- is_exception_pending() -> boolean
function Env:is_exception_pending()
  checkenv(self, "is_exception_pending")
  clear(self)
  return self.last_exception ~= nil
end

--- get_and_clear_last_exception() -> the pending exception (the Lua error value the
-- callee raised), or nil; it is no longer pending.
function Env:get_and_clear_last_exception()
  checkenv(self, "get_and_clear_last_exception")
  local exc = self.last_exception
  self.last_exception = nil
  clear(self)
  return exc
end

--- get_last_error_info() -> {error_code, error_message, engine_error_code, status}
function Env:get_last_error_info()
  checkenv(self, "get_last_error_info")
  local st = self.last_error
  return { status = st, error_code = CODE[st], error_message = MESSAGE[st], engine_error_code = 0 }
end

-- ---------------------------------------------------------------- teardown

-- RefTracker::FinalizeAll: finalize the first until the list is empty. Both unlink
-- the record before its finalizer runs, so one that raises (through 'run') is not
-- taken again.
local function finalize_all(env, list, run)
  while list.next do
    local rec = list.next
    if rec.tracked then                       -- TrackedFinalizer (the instance data)
      unlink(rec)
      if rec.finalize_cb then run(call_finalizer, env, rec.finalize_cb, rec.data, rec.hint) end
    else
      run(finalize, rec)
      if rec.prev then unlink(rec) end        -- a finalize that did not unlink (deleted)
    end
  end
end

--- teardown(): what FreeEnvironment does to this env (see the note at the top).
function Env:teardown()
  checkenv(self, "teardown")
  if self.destructing then error("cannot 'teardown' now (already tearing down)", 2) end
  local iso = self.iso
  local hs <close> = iso:handle_scope()
  local seal <close> = iso:seal_handle_scope()
  self.can_call_into_js = false
  -- A hook or finalizer that raises does not stop the teardown (Node drops what a
  -- finalizer throws once JavaScript cannot run: terminatedOrTerminating()); the rest
  -- still run, the env ends torn down, and the first error is raised at the end.
  local failed, first
  local function run(fn, ...)
    local ok, err = pcall(fn, ...)
    if not ok and not failed then failed, first = true, err end
    if iso:is_disposed() then                -- nothing after it could run
      self.torn_down = true
      error("cannot 'teardown' now (a cleanup hook or finalizer disposed the isolate)", 0)
    end
  end
  -- env->RunCleanup(): hooks, last added first; hooks added meanwhile run too
  while #self.cleanup_hooks > 0 do
    local h = table.remove(self.cleanup_hooks)
    run(h.fn, h.arg)
  end
  -- the env's own hook, added when the module loaded, so last: DeleteMe
  self.destructing = true
  drain(self, run)
  finalize_all(self, self.finalizing_reflist, run)
  finalize_all(self, self.reflist, run)
  self.torn_down = true
  if failed then error(first, 0) end
end

-- ---------------------------------------------------------------- diagnostics

--- stats() -> counts of what the addon holds and what ran.
function Env:stats()
  if getmetatable(self) ~= Env then error("bad argument #1 to 'stats' (scopelab.napi_env expected)", 2) end
  local strong, weak, empty = 0, 0, 0
  for rec in pairs(self.userland) do
    if self.iso:is_disposed() or rec.persistent:is_empty() then empty = empty + 1
    elseif rec.count > 0 then strong = strong + 1
    else weak = weak + 1 end
  end
  return {
    references = self.live.references,
    references_strong = strong, references_weak = weak, references_empty = empty,
    wraps = self.live.wraps, externals = self.live.externals, finalizers = self.live.finalizers,
    pending_finalizers = #self.pending,
    finalizers_run = self.counts.finalizers_run,
    references_created = self.counts.references_created,
    references_deleted = self.counts.references_deleted,
    open_handle_scopes = self.open_handle_scopes,
    cleanup_hooks = #self.cleanup_hooks,
    torn_down = self.torn_down,
  }
end

function Env:__tostring()
  local s = self:stats()
  return ("scopelab.napi_env: %s finalizers, %d references, %d wraps, %d externals, %d pending%s")
    :format(self.finalizers, s.references, s.wraps, s.externals, s.pending_finalizers,
      self.torn_down and " (torn down)" or "")
end

function Ref.__tostring(r)
  local state = r.deleted and "deleted"
    or (r.env.iso:is_disposed() or r.persistent:is_empty()) and "empty"
    or r.count > 0 and "strong" or "weak"
  return ("scopelab.napi_ref: %s, count %d (%s)"):format(r.kind, r.count, state)
end

M.Env, M.Ref = Env, Ref

return M
