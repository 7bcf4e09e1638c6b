-- SPDX-License-Identifier: MIT
-- A native method called 10^4 times through iso:call leaks no Locals; run from an event-loop callback, it does
-- luacheck: read globals claim recorder
local scopelab = require "scopelab"
local N, EVERY = 10000, 100

-- The method's body, as an addon writes it:
--
-- void Describe(const FunctionCallbackInfo<Value>& info) {
--   Isolate* isolate = info.GetIsolate();
--   int n = info[0].As<Int32>()->Value();
--   Local<Object> result = Object::New(isolate);                              // a Local
--   result->Set(context, n_key, info[0]).Check();
--   result->Set(context, square_key, Number::New(isolate, 1.0 * n * n)).Check();  // a Local
--   result->Set(context, label_key, String::NewFromUtf8(isolate, "item").ToLocalChecked()).Check();  // a Local
--   info.GetReturnValue().Set(result);
-- }
--
-- It opens no HandleScope: it needs none when JavaScript calls it, because V8 opens one
-- around every call into native code (Builtins::InvokeApiFunction, HandleApiCallHelper
-- in src/builtins/builtins-api.cc) and closes it when the callback returns.
local function describe_body(iso, n)
  local result = iso:object()
  result:set("n", iso:smi(n))
  result:set("square", iso:integer(n * n))
  result:set("label", iso:string("item"))
  return result
end

-- 1. JavaScript calls it:   for (let i = 0; i < N; i++) addon.describe(i);
-- A JavaScript loop holds its values in the interpreter's registers, not in handles:
-- here each iteration's scope stands for that frame and holds only what the call
-- returns (and its argument).
local function from_javascript(iso, rec, seen)
  local function own_handles()                       -- of the innermost scope: the implicit one
    local report = iso:handle_report()
    return report[#report].handles
  end
  local describe = iso:func(function(info)
    local n = info:arg(1):value()
    local at_entry = own_handles()
    local result = describe_body(iso, n)
    seen.implicit[#seen.implicit + 1] = own_handles() - at_entry
    seen.stack = seen.stack or iso:handle_report()   -- the scopes open in the first call
    info:set_return_value(result)
  end, nil, "describe")
  local addon = iso:object()
  for i = 1, N do
    local frame <close> = iso:handle_scope()
    iso:call(describe, addon, iso:smi(i))
    seen.frame[#seen.frame + 1] = frame:handles()
    if i % EVERY == 0 then rec:mark("call", i) end
  end
end

-- 2. An event-loop callback runs the same body for each queued item:
--
-- void OnBatch(uv_async_t* async) {            // libuv calls it: no JavaScript frame,
--   HandleScope scope(isolate);                // no implicit scope, so the addon opens one
--   for (int i = 0; i < N; i++) DescribeItem(isolate, i);   // the method's body, called directly
-- }
--
-- Every Local the body makes lands in OnBatch's scope, and nothing closes it until the
-- whole batch is done.
local function from_event_loop(iso, rec)
  local scope <close> = iso:handle_scope()
  for i = 1, N do
    describe_body(iso, i)
    if i % EVERY == 0 then rec:mark("call", i) end
  end
end

local function run(name, body, opts)
  local iso <close> = scopelab.isolate(opts)
  local rec = recorder(iso, name)
  local outer <close> = iso:handle_scope()
  local seen = { implicit = {}, frame = {} }
  body(iso, rec, seen)
  rec:stop()
  local handles = {}
  for _, s in ipairs(rec:marks("call")) do handles[#handles + 1] = s.handles end
  local st, last = iso:stats(), rec:marks("call")[#handles]
  print(("%-27s after %d calls: %5d handles in %2d block(s) at the last mark; %d minor / %d major GCs")
    :format(name, N, handles[#handles], last.blocks, st.minor_collections, st.major_collections))
  local stack = seen.stack or {}
  for k, scope in ipairs(stack) do
    print(("  in the first call: scope level %d, opened at %s: %d handles%s"):format(scope.level,
      scope.site, scope.handles, k == #stack and " (the implicit scope of that iso:call)" or ""))
  end
  iso:verify()
  seen.handles = handles
  return seen
end

-- How many Locals one run of the body makes, counted directly.
local per_call
do
  local iso <close> = scopelab.isolate()
  local scope <close> = iso:handle_scope()
  local before = iso:number_of_handles()
  describe_body(iso, 1)
  per_call = iso:number_of_handles() - before
  print(("the body makes %d Locals per run"):format(per_call))
end

local js = run("called from JavaScript", from_javascript)
-- gc_interval = 0: the leak keeps every object the 10^4 runs make alive, and under
-- `scopelab run --stress` verifying that heap every 7 allocations takes most of a
-- minute; the side through iso:call keeps the stress collections.
local loop = run("from an event-loop callback", from_event_loop, { gc_interval = 0 })

claim.equal(N, #js.implicit, "the method ran once per call")
claim.flat(js.implicit, "each call's Locals sit in the implicit scope the engine opened for it")
claim.equal(per_call, js.implicit[1], "every Local the body made is in that scope")
claim.flat(js.frame, "after each call the caller's frame holds the same handles")
claim.equal(2, js.frame[1], "only the argument and the returned value: the body's Locals died with the call")
claim.flat(js.handles, "called from JavaScript, the handle count stays flat over 10^4 calls")
claim.grows(loop.handles, "run from the event-loop callback, the handle count climbs")
claim.equal(per_call * (N - EVERY), loop.handles[#loop.handles] - loop.handles[1],
  "every run of the body leaves its Locals in the callback's scope")
