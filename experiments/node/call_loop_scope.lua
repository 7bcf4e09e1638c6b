-- SPDX-License-Identifier: MIT
-- A loop in one native call holds every iteration's handles until it returns; a scope per iteration frees them
-- luacheck: read globals claim recorder
--
-- Reproduces the Node-API documentation's "Making handle lifespan shorter than that of
-- the native method" (https://nodejs.org/api/n-api.html#making-handle-lifespan-shorter-than-that-of-the-native-method)
-- and nan #300 (https://github.com/nodejs/nan/issues/300). Mechanism: every napi_value a
-- native method makes lives in the HandleScope V8 opened around the call, until the
-- method returns; a loop over a large array makes handles per iteration, so they (and
-- the objects they hold) pile up inside the one call, however short-lived each is.
--
-- The addon:
--
--   napi_value ForEach(napi_env env, napi_callback_info info) {
--     size_t argc = 2; napi_value argv[2];
--     napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
--     uint32_t n; napi_get_array_length(env, argv[0], &n);
--     for (uint32_t i = 0; i < n; i++) {
--       napi_value element, result;
--       napi_get_element(env, argv[0], i, &element);                     // one handle
--       napi_call_function(env, recv, argv[1], 1, &element, &result);    // and another
--     }
--     return NULL;
--   }
--
-- the documentation's fix, in the loop's body:
--
--       napi_handle_scope scope;
--       napi_open_handle_scope(env, &scope);
--       ... the same two calls ...
--       napi_close_handle_scope(env, scope);
--
-- Modelled: JavaScript calls forEach(array, cb) through iso:call (V8's implicit scope
-- around the native method); cb is a JavaScript function that returns element + 1 as a
-- new number. Simplified: napi_get_array_length / napi_get_element are the isolate's
-- #a / a:get(i), as the Node-API layer has no element calls; they make the same one
-- Local each.
local scopelab = require "scopelab"
local N, EVERY = 2000, 100

local function run(name, scope_per_iteration)
  local iso <close> = scopelab.isolate { young_size = 16 * 1024 }
  local loop = scopelab.loop(iso)
  local env = scopelab.napi(iso, loop)
  local rec = recorder(iso, name)
  local seen = { handles = {}, peak = 0 }

  local outer <close> = iso:handle_scope()              -- the JS caller's frame
  local for_each = env:create_function("forEach", function(e, info)
    local _, argv, this = e:get_cb_info(info, 2)
    local array, cb = argv[1], argv[2]
    local base = iso:number_of_handles()
    for i = 1, #array do
      local s = scope_per_iteration and e:open_handle_scope()
      local element = array:get(i)                       -- napi_get_element
      e:call_function(this, cb, element)                 -- napi_call_function
      if s then e:close_handle_scope(s) end
      if i % EVERY == 0 then
        rec:mark("iteration", i)
        local held = iso:number_of_handles() - base
        seen.handles[#seen.handles + 1] = held
        seen.peak = math.max(seen.peak, held)
      end
    end
    seen.report = iso:handle_report()                    -- the scopes at the loop's end
  end)
  local cb = iso:func(function(info)                     -- (x) => x + 1
    info:set_return_value(iso:integer(info:arg(1):value() + 1))
  end)
  local array = iso:array(N)
  for i = 1, N do array:set(i, iso:smi(i)) end

  local before = iso:number_of_handles()
  iso:call(for_each, nil, array, cb)                     -- forEach(array, cb)
  seen.after = iso:number_of_handles() - before
  rec:stop()
  local implicit
  for _, s in ipairs(seen.report) do if s.implicit then implicit = s end end
  seen.implicit = implicit
  local st = iso:stats()
  print(("%-26s %d elements: %4d handles held at the loop's end (the method's implicit scope, opened at %s, "
    .. "holds %d), %d after the call; %d scavenges, %d B promoted to old space")
    :format(name .. ":", N, seen.handles[#seen.handles], implicit and implicit.site or "?",
      implicit and implicit.handles or -1, seen.after, st.minor_collections, st.old_used))
  seen.old_used, seen.scavenges = st.old_used, st.minor_collections
  iso:verify()
  return seen
end

local leak = run("no scope in the loop", false)
local fixed = run("a scope per iteration", true)

claim.grows(leak.handles, "without a scope per iteration the handles climb inside the one call")
claim.equal(2 * N, leak.handles[#leak.handles], "two per iteration: the element and the callback's result")
claim.equal(2 * N, leak.implicit and leak.implicit.handles,
  "handle_report shows them all in the implicit scope of the native call")
claim.equal(1, leak.after, "the call's return frees them: only its result is left")
claim.flat(fixed.handles, "with a scope per iteration they stay flat")
claim.equal(0, fixed.peak, "at zero between iterations")
claim.equal(1, fixed.after, "and the call leaves the same single result")
claim.less(0, leak.scavenges, "scavenges ran during the leaky loop")
claim.less(fixed.old_used * 2, leak.old_used,
  "the held results survived them and were promoted; with the fix only the array was")
