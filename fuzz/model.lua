-- SPDX-License-Identifier: MIT
-- fuzz/model.lua: a reference model of scopelab's handle semantics in plain Lua.
--
-- Nothing here moves or frees memory: scopes are lists of Local records, objects
-- are records, and a collection is a tiny mark over those records. The model
-- answers, for every operation of fuzz/fuzz.lua, what the real isolate must do:
-- the result, or the class of error it must raise (see ERRORS in fuzz.lua). It
-- knows exactly what the collectors promise and nothing of how they do it:
--
--   minor   young objects not reached from the roots or from any old object (the
--           remembered set holds every old object that refers to a young one, dead
--           or not) die; survivors age by one and the one whose age reaches
--           'promote_after' becomes old. Old objects are untouched.
--   major   every object not reached from the roots dies; every live young object
--           becomes old (V8 evacuates the young generation). The model assumes old
--           space never fills (the fuzzer gives it 256 MiB).
--   roots   Locals of open scopes (an escapable scope's reserved slot included),
--           strong non-empty persistent nodes, eternal handles.
--   weak    a weak node whose object dies is emptied and becomes strong-empty; its
--           callback is queued; queued callbacks run when the operation ends, in
--           the order their nodes were made weak; a callback's body is the
--           driver's (it may allocate, reset its handle, collect: see fuzz.lua).
--   two     a two-pass node's first pass runs at the end of the collection that
--   passes  found its object dead (first passes in weak order); one that leaves
--           its handle set makes the operation that collected fail ("Handle not
--           reset in first callback"). A second pass it asks for joins the task
--           queue: a forced collection runs every queued second pass after the
--           single-pass callbacks; run_tasks runs the whole queue in order.
--
-- Values. Objects are arrays (elements), objects (named properties in insertion
-- order, internal fields: a field may hold a native pointer, 'PTR'), functions
-- (their data) and externals; all are traced like elements (an object's property
-- store is modelled as part of the object). Smis and the read-only roots are
-- values that are never in 'objects': a Smi is a record with 'immediate', a
-- root a shared record with 'root' (never dies, always old).
--
-- Locals belong to the innermost handle (or escapable) scope; a seal scope owns
-- no slots but refuses creation while the level it sealed is the current one.
-- A call (iso:call) opens an implicit handle scope around its callback.
local M = {}
M.__index = M

-- opts: promote_after (default 2), gc_interval, gc_interval_kind ("alternate",
-- "minor", "major") as given to the isolate.
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    promote_after = opts.promote_after or 2,
    objects = {},        -- every object not yet collected, in allocation order
    nobjects = 0,        -- model ids handed out
    stack = {},          -- open scopes, outermost first
    level = 0,           -- open handle/escapable scopes
    sealed_level = -1,   -- the level a seal scope refuses, or -1
    persistents = {},    -- every node ever made, deleted ones included
    eternals = {},
    probes = {},         -- user probes
    weak_order = 0,
    pending = {},        -- queued weak callbacks: node records
    tasks = {},          -- the isolate's task queue: {second = tag} or {task = n}
    not_reset = false,   -- a first pass left its handle set: the operation fails
    callback_log = {},   -- node 'tag's, in the order callbacks ran ("F3", "S3",
                         -- "T1" for first and second passes and tasks)
    roots = {},          -- the read-only roots, one record each
    minor = 0, major = 0,
  }, M)
end

-- A field holding a native pointer: never followed.
M.PTR = { ptr = true }

-- ------------------------------------------------------------------ objects

local function new_object(m, kind, value, n)
  m.nobjects = m.nobjects + 1
  local o = { mid = m.nobjects, kind = kind, value = value, gen = "young", age = 0,
              alive = true }
  if kind == "array" then
    o.n = n
    o.elems = {}
  elseif kind == "object" then
    o.nfields, o.fields, o.keys, o.props = n, {}, {}, {}
  elseif kind == "function" then
    o.data = value                -- an object record or nil (undefined)
    o.value = nil
  end
  m.objects[#m.objects + 1] = o
  return o
end

-- ------------------------------------------------------------------ scopes

-- The scope that owns new Locals (innermost handle or escapable scope), or nil.
local function owner(m)
  for i = #m.stack, 1, -1 do
    local s = m.stack[i]
    if s.kind ~= "seal" then return s end
  end
  return nil
end

-- nil when a Local may be created now, else the error class.
function M:creation_error()
  if self.level == 0 then return "noscope" end
  if self.level == self.sealed_level then return "sealed" end
  return nil
end

-- A new Local for 'o' in the innermost scope (the caller checked creation_error).
local function push(m, o)
  local s = owner(m)
  local l = { obj = o, scope = s }
  s.locals[#s.locals + 1] = l
  return l
end

-- Why Local record 'l' may not be used, or nil. 'l.foreign' marks a Local of
-- another isolate (the driver's).
function M.local_error(l)
  if l.foreign then return "foreign" end
  if not l.scope.open then return "stale" end
  return nil
end

function M:open(kind)
  local s = { kind = kind, open = true, locals = {}, escaped = false }
  if kind == "escapable" then
    local err = self:creation_error()
    if err then return nil, err end
    s.slot = push(self, nil)   -- the reserved slot belongs to the parent
  end
  if kind == "seal" then
    s.prev_sealed = self.sealed_level
    self.sealed_level = self.level
  else
    self.level = self.level + 1
  end
  self.stack[#self.stack + 1] = s
  s.depth = #self.stack
  s.level = self.level
  return s
end

-- Closing twice is harmless; closing a scope that is not the innermost is an error.
function M:close(s)
  if not s.open then return true end
  if self.stack[#self.stack] ~= s then return nil, "order" end
  self.stack[#self.stack] = nil
  s.open = false
  if s.kind == "seal" then
    self.sealed_level = s.prev_sealed
  else
    self.level = self.level - 1
  end
  return true
end

-- The binding checks, in order: escapable, open, the Local, escaped before.
function M.escape(_, s, l)
  if s.kind ~= "escapable" then return nil, "not_escapable" end
  if not s.open then return nil, "escape_closed" end
  if l then
    local err = M.local_error(l)
    if err then return nil, err end
  end
  if s.escaped then return nil, "escaped_twice" end
  s.escaped = true
  if not l then return false end        -- escapes as empty: nil
  s.slot.obj = l.obj
  return s.slot
end

function M:handles()
  local n = 0
  for _, s in ipairs(self.stack) do n = n + #s.locals end
  return n
end

function M:innermost() return self.stack[#self.stack] end

-- ------------------------------------------------------------------ values

-- Allocation: collections the real isolate ran inside it are applied first
-- ('minors', 'majors' counted by the driver from the isolate's statistics); a
-- first pass that left its handle set then fails it ("not_reset"). Only a call
-- that collected reports that, once: a callback's allocation that collected
-- nothing leaves it to the collection that ran the callback.
function M:allocate(kind, value, n, minors, majors)
  local err = self:creation_error()
  if err then return nil, err end
  for _ = 1, minors or 0 do self:collect("minor") end
  for _ = 1, majors or 0 do self:collect("major") end
  if (minors or 0) + (majors or 0) > 0 and self:take_not_reset() then return nil, "not_reset" end
  local o = new_object(self, kind, value, n)
  return push(self, o)
end

-- Whether two Locals refer to the same value: the same object or root, or
-- two Smis of one value (a Smi is its word).
function M.same(a, b)
  if a.immediate and b.immediate then return a.value == b.value end
  return a == b
end

-- A new Local for an existing object (nil object: no Local, no error).
function M:new_local(o)
  if o == nil then return false end
  local err = self:creation_error()
  if err then return nil, err end
  return push(self, o)
end

-- The record of a read-only root: kind "undefined", "null" or "boolean".
function M:root(kind, value)
  local key = kind .. tostring(value)
  local r = self.roots[key]
  if not r then
    r = { kind = kind, value = value, root = true, gen = "old", alive = true }
    self.roots[key] = r
  end
  return r
end

-- A Smi: a value in the slot, no object (nothing to collect, move or probe).
function M:smi(v)
  local err = self:creation_error()
  if err then return nil, err end
  return push(self, { kind = "smi", value = v, immediate = true, alive = true })
end

-- ------------------------------------------------------------------ globals

function M:persistent(l, tag)
  local p = { obj = l and l.obj or nil, weak = false, tag = tag }
  self.persistents[#self.persistents + 1] = p
  return p
end

function M.reset(_, p, l)
  p.obj = l and l.obj or nil
  p.weak, p.cb, p.first = false, nil, nil
end

function M:set_weak(p, cb, first)
  if p.obj == nil then return nil, "empty_weak" end
  if p.obj.immediate then return nil, "smi_heap" end
  self.weak_order = self.weak_order + 1
  p.weak, p.cb, p.first, p.order = true, cb, first, self.weak_order
  return true
end

function M.clear_weak(_, p)
  p.weak, p.cb, p.first = false, nil, nil
end

-- eternal_get's Local is bound to the eternal slot itself (V8's Eternal::Get):
-- it makes no handle, needs no scope (a seal refuses nothing) and never goes stale.
-- So are the Locals of the read-only roots (iso:undefined() ...).
local ETERNAL_SLOTS = { open = true, locals = {} }

function M.eternal_local(_, o)
  return { obj = o, scope = ETERNAL_SLOTS }
end

function M:root_local(kind, value)
  return { obj = self:root(kind, value), scope = ETERNAL_SLOTS }
end

function M:eternal(l)
  self.eternals[#self.eternals + 1] = l.obj
  return #self.eternals
end

-- ------------------------------------------------------------------ collection

-- Calls f(r) for every object record 'x' refers to (elements, fields,
-- property values, a function's data); native pointers and roots are skipped.
local function refs(x, f)
  if x.elems then
    for i = 1, x.n do
      local e = x.elems[i]
      if e then f(e) end
    end
  elseif x.fields then
    for i = 1, x.nfields do
      local e = x.fields[i]
      if e and e ~= M.PTR then f(e) end
    end
    for _, k in ipairs(x.keys) do f(x.props[k]) end
  elseif x.data then
    f(x.data)
  end
end
M.refs = refs

local function mark_from(o, marked, young_only)
  local stack = { o }                    -- explicit stack: no recursion
  local function push_ref(e) stack[#stack + 1] = e end
  while #stack > 0 do
    local x = stack[#stack]
    stack[#stack] = nil
    if x and not marked[x] and not x.root and not x.immediate
       and not (young_only and x.gen == "old") then
      marked[x] = true
      refs(x, push_ref)
    end
  end
end

local function roots(m, marked, young_only)
  for _, s in ipairs(m.stack) do
    for _, l in ipairs(s.locals) do
      if l.obj then mark_from(l.obj, marked, young_only) end
    end
  end
  for _, p in ipairs(m.persistents) do
    if not p.deleted and not p.weak and p.obj then mark_from(p.obj, marked, young_only) end
  end
  for _, o in ipairs(m.eternals) do mark_from(o, marked, young_only) end
end

-- One collection; its weak callbacks are queued (see run_callbacks).
function M:collect(kind)
  local marked = {}
  if kind == "minor" then
    self.minor = self.minor + 1
    roots(self, marked, true)
    for _, o in ipairs(self.objects) do       -- the remembered set, conservatively
      if o.gen == "old" then
        refs(o, function(e) if e.gen == "young" then mark_from(e, marked, true) end end)
      end
    end
  else
    self.major = self.major + 1
    roots(self, marked, false)
  end
  local survivors = {}
  for _, o in ipairs(self.objects) do
    local scanned = kind == "major" or o.gen == "young"
    if scanned and not marked[o] then
      o.alive = false
    else
      if scanned then
        if kind == "major" then
          o.gen = "old"
        else
          o.age = o.age + 1
          if o.age >= self.promote_after then o.gen = "old" end
        end
      end
      survivors[#survivors + 1] = o
    end
  end
  self.objects = survivors
  local first = {}
  for _, p in ipairs(self.persistents) do
    if not p.deleted and p.weak and p.obj and not p.obj.alive then
      p.obj, p.weak = nil, false
      if p.first then first[#first + 1] = { p = p, first = p.first, order = p.order }
      elseif p.cb then self.pending[#self.pending + 1] = { p = p, cb = p.cb, order = p.order } end
      p.cb, p.first = nil, nil
    end
  end
  -- the first passes, at the collection's end, in weak order: kind 3 leaves its
  -- handle set; kinds 1 and 4 ask for a second pass
  table.sort(first, function(a, b) return a.order < b.order end)
  for _, e in ipairs(first) do
    self.callback_log[#self.callback_log + 1] = "F" .. e.p.tag
    if e.first == 3 then self.not_reset = true end
    if e.first == 1 or e.first == 4 then self.tasks[#self.tasks + 1] = { second = e.p.tag } end
  end
end

-- Whether a first pass left its handle set since the last call (then cleared).
function M:take_not_reset()
  local n = self.not_reset
  self.not_reset = false
  return n
end

-- A forced collection runs the queued second passes, in order; posted tasks
-- stay queued. run_tasks runs the whole queue. Both return how many ran.
function M:run_second_passes()
  local keep, ran = {}, 0
  for _, t in ipairs(self.tasks) do
    if t.second then
      self.callback_log[#self.callback_log + 1] = "S" .. t.second
      ran = ran + 1
    else
      keep[#keep + 1] = t
    end
  end
  self.tasks = keep
  return ran
end

function M:run_tasks()
  local list = self.tasks
  self.tasks = {}
  for _, t in ipairs(list) do
    self.callback_log[#self.callback_log + 1] = t.second and ("S" .. t.second) or ("T" .. t.task)
  end
  return #list
end

-- ------------------------------------------------------------------ objects

-- o:set(key, v) (v nil: undefined), o:get(key), o:delete(key), o:keys().
function M:set_prop(o, key, v)
  if o.props[key] == nil then o.keys[#o.keys + 1] = key end
  o.props[key] = v or self:root("undefined")
end

function M:get_prop(o, key)
  return o.props[key] or self:root("undefined")
end

function M.delete_prop(_, o, key)
  if o.props[key] == nil then return end
  o.props[key] = nil
  for i, k in ipairs(o.keys) do
    if k == key then table.remove(o.keys, i) break end
  end
end

-- ------------------------------------------------------------------ calls

-- The implicit HandleScope a call opens around its callback.
function M:call_begin()
  local s = self:open("handle")
  s.implicit = true
  return s
end

-- After the callback: scopes it left open are closed (innermost first), then
-- the implicit one; leaving any open fails the call (and says how many: weak
-- callbacks the callback's allocations ran may have opened some).
function M:call_end(s)
  local left = 0
  while self.stack[#self.stack] ~= s do
    self:close(self.stack[#self.stack])
    left = left + 1
  end
  self:close(s)
  if left > 0 then return nil, "left_open", left end
  return true
end

-- The end of an operation that collected: the queued callbacks run in the order
-- their nodes were made weak. The queue is taken first, so a callback that
-- collects queues and runs its own batch inside ('act(i, p, cb)' is the callback's
-- body, supplied by the driver; it may call back into the model). Returns how
-- many ran.
function M:run_callbacks(act)
  if #self.pending == 0 then return 0 end
  local list = self.pending
  self.pending = {}
  table.sort(list, function(a, b) return a.order < b.order end)
  for i, e in ipairs(list) do
    self.callback_log[#self.callback_log + 1] = e.p.tag
    if act then act(i, e.p, e.cb) end
  end
  return #list
end

-- Counters compared with iso:stats().
function M:persistent_count()
  local n = 0
  for _, p in ipairs(self.persistents) do
    if not p.deleted and p.obj then n = n + 1 end
  end
  return n
end

function M:weak_count()
  local n = 0
  for _, p in ipairs(self.persistents) do
    if not p.deleted and p.weak then n = n + 1 end
  end
  return n
end

function M:pending_tasks() return #self.tasks end

return M
