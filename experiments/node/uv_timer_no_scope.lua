-- SPDX-License-Identifier: MIT
-- A uv timer callback that makes handles with no HandleScope, and `Nan::HandleScope();` closed at its `;`
-- luacheck: read globals claim recorder
--
-- Reproduces:
--   nodejs/node-addon-api #1652  https://github.com/nodejs/node-addon-api/issues/1652
--     "'Cannot create a handle without a HandleScope' from main uv thread"
--   nodejs/nan #440              https://github.com/nodejs/nan/issues/440
--     "FATAL ERROR: v8::HandleScope::CreateHandle() Cannot create a handle without a HandleScope"
-- Mechanism: libuv enters a callback with no scope of V8's; since io.js 1.8 Node runs the loop
-- under a SealHandleScope, so the first handle such a callback makes is refused (V8 aborts).
-- `Nan::HandleScope();` names no variable: the temporary is destroyed at the `;`, so the
-- handles after it land in the scope outside, the seal (today) or the process-lifetime scope
-- (Node <= 0.10 / io.js <= 1.7).
--
-- Modelled: the timer of #1652 (a uv_timer_t an ObjectWrap starts, its callback calling the
-- JavaScript function held in a FunctionReference) with loop:set_timeout re-armed as a
-- repeating timer; the after-work callback of #440 with loop:queue_work. Simplified: V8's
-- message under a seal is "Cannot create a handle without a HandleScope" (HandleScope::Extend
-- sees the sealed level); the lab says which scope refused it. V8 aborts the process; the lab
-- raises, and loop:run() stops with the error.
local scopelab = require "scopelab"
local TICKS = 20

-- ------------------------------------------------------------------ 1. node-addon-api #1652
--
-- void TimedCallback::executeCallbackTimer(uv_timer_t* handle) {   // libuv calls it
--   TimedCallback* self = static_cast<TimedCallback*>(handle->data);
--   Napi::Env env = self->callback_.Env();
--   // (the fix: Napi::HandleScope scope(env);)
--   self->callback_.Call({Napi::Number::New(env, ++self->ticks_)});   // handles: the function, the number
-- }
local function timer_run(name, with_scope)
  local iso <close> = scopelab.isolate()
  local loop = scopelab.loop(iso)                          -- node = true: today's Node
  local env = scopelab.napi(iso, loop)
  local rec = recorder(iso, name)
  local seen = { js_calls = 0, handles = {} }
  local self = { ticks = 0 }
  do -- StartTimer, called from JavaScript: callback_ = Napi::Persistent(info[0].As<Function>())
    local s <close> = iso:handle_scope()
    local onTick = env:create_function("onTick", function() seen.js_calls = seen.js_calls + 1 end)
    self.callback = env:create_reference(onTick, 1)
  end
  local base = iso:number_of_handles()
  local function execute_callback_timer()
    local scope = with_scope and env:open_handle_scope()
    self.ticks = self.ticks + 1
    local fn = env:get_reference_value(self.callback)      -- callback_.Value(): a new handle
    env:call_function(env:get_undefined(), fn, iso:smi(self.ticks))
    if scope then env:close_handle_scope(scope) end
    seen.handles[#seen.handles + 1] = iso:number_of_handles() - base
    rec:mark("tick", self.ticks)
    if self.ticks < TICKS then loop:set_timeout(10, execute_callback_timer) end  -- repeat: 10 ms
  end
  loop:set_timeout(10, execute_callback_timer)             -- uv_timer_start(timer, cb, 10, 10)
  local ok, err = pcall(loop.run, loop)
  rec:stop()
  seen.error = not ok and tostring(err):gsub("^[^:]+:%d+: ", "") or nil
  seen.ticks, seen.now = self.ticks, loop:now()
  print(("%-36s %s after %d ms: %d tick(s), JavaScript called %d time(s), %d handle(s) left per tick")
    :format(name, ok and "ran" or "stopped", loop:now(), self.ticks, seen.js_calls,
      seen.handles[#seen.handles] or 0))
  if not ok then print("  the callback raised: " .. seen.error) end
  env:delete_reference(self.callback)
  if not ok then loop.__close(loop, err) else loop:close() end
  return seen
end

local bug = timer_run("timer callback without a scope", false)
local fix = timer_run("with Napi::HandleScope in the callback", true)

claim(bug.error and bug.error:find("cannot create a handle", 1, true) ~= nil
  and bug.error:find("seal scope", 1, true) ~= nil,
  "without a scope the first handle of the timer callback hits the loop's SealHandleScope")
claim.equal(0, bug.js_calls, "the JavaScript callback never ran: the process would have aborted")
claim.equal(TICKS, fix.ticks, "with a HandleScope in the callback every tick runs")
claim.equal(TICKS, fix.js_calls, "and calls the JavaScript function each time")
claim.flat(fix.handles, "each tick's handles die with its scope: the count stays flat")
claim.equal(0, fix.handles[1], "no handle is left behind by a tick")

-- ------------------------------------------------------------------ 2. nan #440
--
-- static void OpenAfter(uv_work_t* req) {            // the after-work callback, on the loop
--   Nan::HandleScope();                              // a temporary: built and destroyed here
--   OpenReq* r = static_cast<OpenReq*>(req->data);
--   Local<Value> argv[] = {Nan::Null(), GNFile::NewInstance(r->file)};   // an EscapableHandleScope
--   r->callback->Call(2, argv);                                           // and the instance
-- }
-- The fix (kkoopa's answer): `Nan::HandleScope scope;`, a named scope that lives to the `}`.
local N = 50
local function work_run(name, node, named)
  local iso <close> = scopelab.isolate()
  local loop = scopelab.loop(iso, { node = node })
  local rec = recorder(iso, name)
  local seen = { completions = 0, loop_scope = {}, innermost = nil }
  local function new_instance()                       -- GNFile::NewInstance
    local scope <close> = iso:escapable_handle_scope()  -- reserves its slot in the scope outside
    local instance = iso:object()
    instance:set("file", iso:smi(seen.completions))
    return scope:escape(instance)
  end
  local function open_after()
    local scope
    if named then scope = iso:handle_scope()          -- Nan::HandleScope scope;
    else iso:handle_scope():close() end               -- Nan::HandleScope();
    local report = iso:handle_report()
    seen.innermost = seen.innermost or report[#report]
    local argv = { iso:null(), new_instance() }
    seen.completions = seen.completions + 1
    assert(#argv == 2)
    if scope then scope:close() end
    seen.loop_scope[#seen.loop_scope + 1] = loop:stats().scope_handles
    rec:mark("completion", seen.completions)
  end
  for _ = 1, N do loop:queue_work(function() end, open_after) end
  local ok, err = pcall(loop.run, loop)
  rec:stop()
  seen.error = not ok and tostring(err):gsub("^[^:]+:%d+: ", "") or nil
  local inner = seen.innermost
  print(("%-36s %-5s mode: %2d completion(s); after the scope line the innermost scope was a %s scope (level %d)%s")
    :format(name, node and "node" or "0.10", seen.completions, inner.kind, inner.level,
      ok and (", the loop's own scope holds %d handle(s)"):format(loop:stats().scope_handles) or ""))
  if not ok then print("  the callback raised: " .. seen.error) end
  if not ok then loop.__close(loop, err) else loop:close() end
  return seen
end

local temp_today = work_run("Nan::HandleScope(); (a temporary)", true, false)
local temp_old = work_run("Nan::HandleScope(); (a temporary)", false, false)
local named_today = work_run("Nan::HandleScope scope; (named)", true, true)
local named_old = work_run("Nan::HandleScope scope; (named)", false, true)

claim.equal("seal", temp_today.innermost.kind,
  "after `Nan::HandleScope();` the innermost scope is the loop's seal again: the temporary is gone")
claim(temp_today.error and temp_today.error:find("cannot create a handle", 1, true) ~= nil,
  "today the handles after the temporary are refused, as nan #440 aborted")
claim.equal(0, temp_today.completions, "no completion got through")
claim.equal(N, temp_old.completions, "under Node 0.10's loop the same code 'works'")
claim.grows(temp_old.loop_scope, "but every completion leaves its handles in the process-lifetime scope")
claim.equal(temp_old.completions, temp_old.loop_scope[#temp_old.loop_scope],
  "one per completion: NewInstance's escape slot, holding the instance (Null() is a root, no handle)")
claim.equal("handle", named_today.innermost.kind, "with `Nan::HandleScope scope;` the callback's own scope is open")
claim.equal(N, named_today.completions, "and every completion runs under today's seal")
claim.flat(named_old.loop_scope, "under the old loop nothing reaches the process-lifetime scope")
claim.equal(0, named_old.loop_scope[N], "it holds no handle at all")
