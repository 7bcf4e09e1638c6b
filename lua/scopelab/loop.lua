-- SPDX-License-Identifier: MIT
-- scopelab.loop: an event loop in virtual time, entered the way Node.js enters libuv.
--
--   local loop = scopelab.loop(iso [, {node = true}])     -- or require("scopelab.loop")(iso)
--   loop:set_timeout(10, function() ... end)
--   loop:run()
--
-- What it models, and from where (read the sources for the details):
--
-- * The phases, libuv's uv_run (src/unix/core.c, libuv >= 1.45): run() first runs the
--   due timers, then each iteration is the poll phase, the check phase, and the timers
--   due by then. The poll phase is where uv_async handles fire: first the threadpool's
--   ('wq_async': every finished uv_queue_work item has its after-work callback
--   called), then Node's platform ('flush_tasks_': the isolate's foreground tasks run,
--   NodePlatform's FlushForegroundTasksInternal). The check phase runs Node's
--   immediates (Environment::CheckImmediate: the native ones first, then
--   setImmediate's). A timer, immediate or work item added while its phase runs waits
--   for the next iteration (uv__run_timers takes the due timers first, then runs them).
-- * Virtual time, in integer milliseconds from 0. It moves only where uv_run would
--   block: in the poll phase, when nothing is ready (no immediates, no finished work,
--   no isolate task), it jumps to the earliest timer, as epoll_wait's timeout would.
-- * How callbacks are entered: as libuv calls them, with no scope opened for them. With
--   {node = true} (default) every run sits inside a HandleScope and a SealHandleScope, as
--   Node's SpinEventLoop (src/api/embed_helpers.cc) has since io.js 1.8, so a callback
--   that makes a handle without a scope of its own gets the seal's error. With
--   {node = false} the loop opens one HandleScope at its first run and keeps it until
--   loop:close(), as node::Start did up to Node 0.10 / io.js 1.7: handles made without a
--   scope pile up there silently (the leak behind io.js #1075).
-- * run() is SpinEventLoop: uv_run until no handle is active, then the platform's
--   DrainTasks, again while anything is left. Isolate tasks (second-pass weak
--   callbacks, what iso:post_task queued) run inside a HandleScope, as NodePlatform's
--   RunForegroundTask opens one per task; so do native immediates
--   (RunAndClearNativeImmediates).
-- * queue_work(execute, complete) is uv_queue_work: 'execute' stands for the threadpool
--   thread (the isolate is in worker mode while it runs: every heap or handle call
--   raises "isolate used from a worker thread"), 'complete(status)' is the after-work
--   callback, on the loop, in the next poll phase (status 0, or UV_ECANCELED = -125
--   after cancel_work).
-- * make_callback(fn, receiver, ...) is node::MakeCallback (src/api/callback.cc): an
--   InternalCallbackScope (the async callback scope depth, its own short-lived
--   HandleScopes) around a plain Function::Call: the callee's Locals die with V8's
--   implicit scope of iso:call, and the result is a Local of the caller's scope, so a
--   caller with no scope of its own fails as V8 would.
--
-- A Lua error from a callback stops the run and propagates out of run()/run_once()
-- with its message; the loop's scopes and any the callback leaked are closed first (in
-- node = false mode the loop's long-lived scope with them: the next run opens a new
-- one). A callback that returns with a scope of its own still open is an error too
-- ("callback left 1 scope open"): C++ cannot do that, so it is a bug of the experiment.
--
-- API (docs/API.md, section "Event loop"): scopelab.loop(iso [, opts]), loop:now(),
-- set_timeout, clear_timeout, set_immediate, clear_immediate, queue_work, cancel_work,
-- native_immediate, run, run_once, alive, close, make_callback, stats, is_closed,
-- is_running.

local M = {}

local Loop = {}
Loop.__index = Loop
Loop.__name = "scopelab.Loop"

local UV_ECANCELED = -125      -- libuv's UV_ECANCELED on Linux (-ECANCELED)

-- ---------------------------------------------------------------- argument checks

local function argerror(n, op, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, op, msg), 3)
end

local function checkloop(self, op)
  if getmetatable(self) ~= Loop then
    argerror(1, op, ("scopelab.Loop expected, got %s"):format(type(self)))
  end
  if self.closed then argerror(1, op, "loop is closed") end
  return self
end

local function checkfn(f, n, op)
  if type(f) ~= "function" then
    argerror(n, op, ("function expected, got %s"):format(type(f)))
  end
end

local function checkms(ms, n, op)
  if math.type(ms) ~= "integer" then
    if type(ms) == "number" and ms == math.floor(ms) and ms >= 0 and ms < 2^53 then
      ms = math.tointeger(ms)
    else
      argerror(n, op, ("milliseconds must be a non-negative integer, got %s"):format(
        type(ms) == "number" and tostring(ms) or type(ms)))
    end
  end
  if ms < 0 then argerror(n, op, ("milliseconds must be a non-negative integer, got %d"):format(ms)) end
  return ms
end

-- ---------------------------------------------------------------- the timer heap
-- libuv keeps its timers in a binary min-heap ordered by (timeout, start_id); so do
-- we. Cancelled timers stay in the heap until they reach the top (they are skipped).

local function before(a, b)
  return a.due < b.due or (a.due == b.due and a.seq < b.seq)
end

local function heap_push(h, t)
  local i = #h + 1
  h[i] = t
  while i > 1 do
    local p = i // 2
    if not before(h[i], h[p]) then break end
    h[i], h[p] = h[p], h[i]
    i = p
  end
end

local function heap_pop(h)
  local n = #h
  local top = h[1]
  h[1] = h[n]
  h[n] = nil
  n = n - 1
  local i = 1
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and before(h[l], h[m]) then m = l end
    if r <= n and before(h[r], h[m]) then m = r end
    if m == i then break end
    h[i], h[m] = h[m], h[i]
    i = m
  end
  return top
end

-- The first live timer, dropping cancelled ones from the top.
local function heap_peek(h)
  while h[1] and h[1].cancelled do heap_pop(h) end
  return h[1]
end

-- ---------------------------------------------------------------- construction

--- scopelab.loop(iso [, {node = true}]) -> Loop
function M.new(iso, opts)
  if type(iso) ~= "userdata" or type(iso.handle_scope) ~= "function" then
    error(("bad argument #1 to 'loop' (scopelab.Isolate expected, got %s)"):format(type(iso)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'loop' (table expected, got %s)"):format(type(opts)), 2)
  end
  local node = true
  for k, v in pairs(opts or {}) do
    if k ~= "node" then
      error(("bad argument #2 to 'loop' (unknown option '%s')"):format(tostring(k)), 2)
    end
    if type(v) ~= "boolean" then
      error(("bad argument #2 to 'loop' (option 'node' must be a boolean, got %s)"):format(type(v)), 2)
    end
    node = v
  end
  return setmetatable({
    iso = iso,
    node = node,
    time = 0,
    seq = 0,                 -- libuv's timer start_id: ties on 'due' run in start order
    timers = {},             -- the heap
    active_timers = 0,
    immediates = {},         -- setImmediate's queue
    active_immediates = 0,
    natives = {},            -- Environment::SetImmediate's queue (native immediates)
    work = {},               -- queued uv_work_t items, in order
    active_work = 0,
    closed = false,
    running = false,
    scope = nil,             -- node = false: the scope kept open from the first run
    callback_scope_depth = 0,
    -- the timers, immediates and work items this loop made: clearing one of another
    -- loop (or a table made to look like one) would corrupt both loops' counts
    owned = setmetatable({}, { __mode = "k" }),
    counts = {
      iterations = 0, callbacks_run = 0, timers_run = 0, immediates_run = 0,
      completions_run = 0, work_executed = 0, native_immediates_run = 0, tasks_run = 0,
      make_callbacks = 0,
    },
  }, Loop)
end

setmetatable(M, { __call = function(_, iso, opts) return M.new(iso, opts) end })

-- ---------------------------------------------------------------- scheduling

function Loop:now()
  checkloop(self, "now")
  return self.time
end

--- set_timeout(ms, cb) -> timer: cb() runs in the timers phase once 'ms' have passed.
function Loop:set_timeout(ms, cb)
  checkloop(self, "set_timeout")
  ms = checkms(ms, 2, "set_timeout")
  checkfn(cb, 3, "set_timeout")
  self.seq = self.seq + 1
  -- libuv saturates (uv_timer_start: a sum that wraps becomes UINT64_MAX); a wrapped
  -- integer would be a timer due in the past, run at once
  local due = ms > math.maxinteger - self.time and math.maxinteger or self.time + ms
  local t = { kind = "timer", due = due, seq = self.seq, cb = cb, cancelled = false }
  self.owned[t] = true
  heap_push(self.timers, t)
  self.active_timers = self.active_timers + 1
  return t
end

-- Cancels a timer or immediate 'h' of kind 'kind' whose count of active ones is
-- self[counter]: true if it was still pending.
local function cancel(self, h, kind, counter, op)
  checkloop(self, op)
  if type(h) ~= "table" or h.kind ~= kind then argerror(2, op, kind .. " expected") end
  if not self.owned[h] then argerror(2, op, kind .. " of another loop") end
  if h.cancelled or h.ran then return false end
  h.cancelled = true
  self[counter] = self[counter] - 1
  return true
end

--- clear_timeout(timer) -> true if it was still pending (uv_timer_stop).
function Loop:clear_timeout(t)
  return cancel(self, t, "timer", "active_timers", "clear_timeout")
end

--- set_immediate(cb) -> immediate: cb() runs in the next check phase.
function Loop:set_immediate(cb)
  checkloop(self, "set_immediate")
  checkfn(cb, 2, "set_immediate")
  local im = { kind = "immediate", cb = cb, cancelled = false }
  self.owned[im] = true
  self.immediates[#self.immediates + 1] = im
  self.active_immediates = self.active_immediates + 1
  return im
end

function Loop:clear_immediate(im)
  return cancel(self, im, "immediate", "active_immediates", "clear_immediate")
end

--- native_immediate(fn): Environment::SetImmediate, the queue of native callbacks Node
-- runs at the start of the check phase, each batch inside a HandleScope (Node-API's
-- deferred finalizers go through it). Not counted as callbacks, as tasks are not.
function Loop:native_immediate(fn)
  checkloop(self, "native_immediate")
  checkfn(fn, 2, "native_immediate")
  self.natives[#self.natives + 1] = fn
end

--- queue_work(execute, complete) -> work (uv_queue_work).
function Loop:queue_work(execute, complete)
  checkloop(self, "queue_work")
  checkfn(execute, 2, "queue_work")
  checkfn(complete, 3, "queue_work")
  local w = { kind = "work", execute = execute, complete = complete, state = "queued" }
  self.owned[w] = true
  self.work[#self.work + 1] = w
  self.active_work = self.active_work + 1
  return w
end

--- cancel_work(work) -> true if it had not started (uv_cancel): its complete(UV_ECANCELED)
-- still runs, in the next poll phase, as libuv calls it.
function Loop:cancel_work(w)
  checkloop(self, "cancel_work")
  if type(w) ~= "table" or w.kind ~= "work" then argerror(2, "cancel_work", "work expected") end
  if not self.owned[w] then argerror(2, "cancel_work", "work of another loop") end
  if w.state ~= "queued" then return false end
  w.state = "cancelled"
  return true
end

-- ---------------------------------------------------------------- running

-- The isolate's scope depth (open scopes of every kind).
local function depth(iso)
  return iso:stats().scope_depth
end

-- Runs one callback the way libuv does: no scope of ours around it. A callback that
-- returns with scopes of its own still open is refused (C++ cannot do it).
local function enter(self, cb, ...)
  local d = depth(self.iso)
  cb(...)
  if self.iso:is_disposed() then error("a callback disposed the isolate", 0) end
  local now = depth(self.iso)
  if now > d then
    local n = now - d
    error(("callback left %d scope%s open"):format(n, n == 1 and "" or "s"), 0)
  elseif now < d then
    local n = d - now
    error(("callback closed %d scope%s it did not open"):format(n, n == 1 and "" or "s"), 0)
  end
end

-- The isolate's pending foreground tasks, inside one HandleScope (RunForegroundTask
-- opens one per task; we open one per flush). Returns how many ran.
local function flush_tasks(self)
  local iso = self.iso
  if iso:stats().pending_tasks == 0 then return 0 end
  local d = depth(iso)
  local s = iso:handle_scope()
  local ran = iso:run_tasks()
  if depth(iso) ~= d + 1 then error("an isolate task left a scope open", 0) end
  s:close()
  ran = math.tointeger(ran) or 0
  self.counts.tasks_run = self.counts.tasks_run + ran
  return ran
end

-- Runs 'execute' as the threadpool thread would: the binding's worker switch makes
-- every heap or handle call raise "isolate used from a worker thread" meanwhile.
local function in_worker(iso, fn)
  iso:_run_as_worker(fn)
end

local function run_timers(self)
  local h, due = self.timers, {}
  local t = heap_peek(h)
  while t and t.due <= self.time do
    due[#due + 1] = heap_pop(h)
    t = heap_peek(h)
  end
  for i, timer in ipairs(due) do
    if not timer.cancelled then      -- an earlier callback of this phase may clear it
      timer.ran = true
      self.active_timers = self.active_timers - 1
      self.counts.timers_run = self.counts.timers_run + 1
      self.counts.callbacks_run = self.counts.callbacks_run + 1
      local ok, err = pcall(enter, self, timer.cb)
      if not ok then
        -- the due timers after it go back to the heap (their 'due' and 'seq' keep them
        -- first), as Node's listOnTimeout leaves the rest of its list for the next turn
        for j = i + 1, #due do heap_push(h, due[j]) end
        error(err, 0)
      end
    end
  end
  return #due
end

-- A callback of a phase raised: the entries of 'list' from 'from' on did not run. They
-- go back to the front of self[field], before what the callbacks queued meanwhile, so
-- the next run() runs them first, as Node's processImmediate keeps the rest of its
-- queue when one throws. Dropping them would lose them while the counts still say
-- they are pending: alive() true for good, and the next run() spinning forever.
local function requeue(self, field, list, from)
  local rest = {}
  for j = from, #list do rest[#rest + 1] = list[j] end
  for _, e in ipairs(self[field]) do rest[#rest + 1] = e end
  self[field] = rest
end

-- Something for the poll phase to do now (so it does not block).
local function poll_ready(self)
  return #self.work > 0 or #self.immediates > 0 or #self.natives > 0
      or self.iso:stats().pending_tasks > 0
end

local function run_poll(self, block)
  if block and not poll_ready(self) then
    local t = heap_peek(self.timers)
    if t and t.due > self.time then self.time = t.due end   -- epoll_wait's timeout
  end
  -- wq_async: the threadpool's finished items, each executed then completed
  local work = self.work
  if #work > 0 then
    self.work = {}
    for i, w in ipairs(work) do
      local status = 0
      local ok, err = true, nil
      if w.state == "cancelled" then
        status = UV_ECANCELED
      else
        w.state = "executing"
        ok, err = pcall(in_worker, self.iso, w.execute)
        if ok then self.counts.work_executed = self.counts.work_executed + 1 end
      end
      w.state = "done"                 -- an execute that raised is done, never completed
      self.active_work = self.active_work - 1
      if ok then
        self.counts.completions_run = self.counts.completions_run + 1
        self.counts.callbacks_run = self.counts.callbacks_run + 1
        ok, err = pcall(enter, self, w.complete, status)
      end
      if not ok then requeue(self, "work", work, i + 1); error(err, 0) end
    end
  end
  -- flush_tasks_: the platform's foreground tasks
  flush_tasks(self)
end

local function run_check(self)
  local natives = self.natives
  if #natives > 0 then
    self.natives = {}
    local d = depth(self.iso)
    local s = self.iso:handle_scope()
    for i, fn in ipairs(natives) do
      self.counts.native_immediates_run = self.counts.native_immediates_run + 1
      local ok, err = pcall(enter, self, fn)
      if not ok then requeue(self, "natives", natives, i + 1); error(err, 0) end
    end
    if depth(self.iso) ~= d + 1 then error("a native immediate left a scope open", 0) end
    s:close()
  end
  local ims = self.immediates
  if #ims > 0 then
    self.immediates = {}
    for i, im in ipairs(ims) do
      if not im.cancelled then
        im.ran = true
        self.active_immediates = self.active_immediates - 1
        self.counts.immediates_run = self.counts.immediates_run + 1
        self.counts.callbacks_run = self.counts.callbacks_run + 1
        local ok, err = pcall(enter, self, im.cb)
        if not ok then requeue(self, "immediates", ims, i + 1); error(err, 0) end
      end
    end
  end
end

-- uv_loop_alive: an active timer, immediate (Node keeps its check handle referenced
-- while any is queued), native immediate or work item.
local function uv_alive(self)
  return self.active_timers > 0 or self.active_immediates > 0 or #self.natives > 0
      or self.active_work > 0
end

-- uv_run as libuv >= 1.45 has it: in UV_RUN_DEFAULT the due timers run once before
-- the first iteration; each iteration is then poll, check, timers (the timers that
-- the poll phase's wait made due run at its end). UV_RUN_ONCE is one iteration.
local function uv_run(self, once)
  local r = uv_alive(self)
  if r and not once then run_timers(self) end
  while r do
    self.counts.iterations = self.counts.iterations + 1
    run_poll(self, true)
    run_check(self)
    run_timers(self)
    r = uv_alive(self)
    if once then break end
  end
end

-- Opens the loop's scopes for a run; returns what leave() needs.
local function open_scopes(self)
  local iso = self.iso
  if self.node then
    local hs = iso:handle_scope()
    local ok, seal = pcall(iso.seal_handle_scope, iso)
    if not ok then hs:close(); error(seal, 0) end
    return { hs = hs, seal = seal }
  end
  if self.scope == nil or not self.scope:is_open() then self.scope = iso:handle_scope() end
  return { depth = self.scope:depth() }
end

-- Closes what open_scopes opened. After an error every scope above the loop's own is
-- closed (Scope's __close with an error does that), the loop's own with them.
local function close_scopes(self, st, err)
  if self.iso:is_disposed() then self.scope = nil; return end
  if self.node then
    if err ~= nil then
      getmetatable(st.hs).__close(st.hs, err)
    else
      st.seal:close()
      st.hs:close()
    end
  elseif err ~= nil and self.scope:is_open() and depth(self.iso) > st.depth then
    getmetatable(self.scope).__close(self.scope, err)
    self.scope = nil
  end
end

local function guarded(self, op, body)
  checkloop(self, op)
  if self.running then
    error(("cannot '%s' now (the loop is already running)"):format(op), 3)
  end
  self.running = true
  local ran_before = self.counts.callbacks_run
  local ok, st = pcall(open_scopes, self)
  if not ok then self.running = false; error(st, 3) end
  local ok2, err = pcall(body, self)
  local ok3, cerr = pcall(close_scopes, self, st, (not ok2) and (err or "error") or nil)
  self.running = false
  if not ok2 then error(err, 0) end
  if not ok3 then error(cerr, 0) end
  return self.counts.callbacks_run - ran_before
end

local function spin(self)
  repeat
    uv_run(self, false)                                     -- uv_run(UV_RUN_DEFAULT)
    flush_tasks(self)                                       -- platform->DrainTasks
  until not (uv_alive(self) or self.iso:stats().pending_tasks > 0)
end

--- run() -> number of callbacks run (timers, work completions, immediates).
function Loop:run()
  return guarded(self, "run", spin)
end

--- run_once() -> number of callbacks run in one iteration (uv_run(UV_RUN_ONCE): poll,
-- check, then the timers due by then). With no handle active, it drains the isolate's
-- tasks instead, so it always makes progress while alive() is true.
function Loop:run_once()
  return guarded(self, "run_once", function(s)
    if uv_alive(s) then uv_run(s, true) else flush_tasks(s) end
  end)
end

--- alive() -> true while anything is left to run: a timer, an immediate, a work item,
-- a native immediate, or an isolate task.
function Loop:alive()
  checkloop(self, "alive")
  return uv_alive(self) or self.iso:stats().pending_tasks > 0
end

--- close(): uv_loop_close. Refused while running or while anything is pending
-- (UV_EBUSY); in node = false mode closes the scope the loop kept open.
function Loop:close()
  if getmetatable(self) ~= Loop then argerror(1, "close", "scopelab.Loop expected") end
  if self.closed then return end
  if self.running then error("cannot 'close' now (the loop is running)", 2) end
  if uv_alive(self) then
    error(("cannot 'close' now (the loop is busy: %s)"):format(self:_pending_text()), 2)
  end
  if self.scope and not self.iso:is_disposed() and self.scope:is_open() then
    self.scope:close()
  end
  self.scope = nil
  self.closed = true
end

-- __close: as close(), but with an error in flight it drops what is pending.
function Loop.__close(self, err)
  if self.closed then return end
  if err ~= nil then
    self.timers, self.immediates, self.natives, self.work = {}, {}, {}, {}
    self.active_timers, self.active_immediates, self.active_work = 0, 0, 0
    if self.scope and not self.iso:is_disposed() and self.scope:is_open() then
      getmetatable(self.scope).__close(self.scope, err)
    end
    self.scope = nil
    self.closed = true
    return
  end
  self:close()
end

function Loop:_pending_text()
  local parts = {}
  local function add(n, what)
    if n > 0 then parts[#parts + 1] = ("%d %s%s"):format(n, what, n == 1 and "" or "s") end
  end
  add(self.active_timers, "timer")
  add(self.active_immediates, "immediate")
  add(#self.natives, "native immediate")
  add(self.active_work, "work item")
  return #parts > 0 and table.concat(parts, ", ") or "nothing pending"
end

--- make_callback(fn, receiver, ...) -> Local: node::MakeCallback.
function Loop:make_callback(fn, recv, ...)
  checkloop(self, "make_callback")
  local iso = self.iso
  self.counts.make_callbacks = self.counts.make_callbacks + 1
  -- InternalCallbackScope: PushAsyncCallbackScope, then a HandleScope of its own for
  -- the async hooks' bookkeeping, closed before the call
  self.callback_scope_depth = self.callback_scope_depth + 1
  local ok, r = pcall(function(...)
    iso:handle_scope():close()
    local result = iso:call(fn, recv, ...)
    -- InternalCallbackScope::Close: the tick queue runs in a HandleScope of its own
    if self.callback_scope_depth == 1 then iso:handle_scope():close() end
    return result
  end, ...)
  self.callback_scope_depth = self.callback_scope_depth - 1
  if not ok then error(r, 0) end
  return r
end

function Loop:is_closed() return self.closed end
function Loop:is_running() return self.running end

--- stats() -> table of integers (and 'node', a boolean).
function Loop:stats()
  if getmetatable(self) ~= Loop then argerror(1, "stats", "scopelab.Loop expected") end
  local c = self.counts
  local s = {
    node = self.node,
    now = self.time,
    pending_timers = self.active_timers,
    pending_immediates = self.active_immediates,
    pending_native_immediates = #self.natives,
    pending_work = self.active_work,
    pending_tasks = self.iso:is_disposed() and 0 or self.iso:stats().pending_tasks,
    callback_scope_depth = self.callback_scope_depth,
    scope_handles = (self.scope and not self.iso:is_disposed() and self.scope:is_open())
      and self.scope:handles() or 0,
  }
  for k, v in pairs(c) do s[k] = v end
  return s
end

function Loop:__tostring()
  local state = self.closed and "closed" or self.running and "running" or "open"
  return ("scopelab.Loop: %s mode, %d ms, %s (%s)"):format(self.node and "node" or "legacy",
    self.time, self:_pending_text(), state)
end

M.Loop = Loop
M.UV_ECANCELED = UV_ECANCELED

return M
