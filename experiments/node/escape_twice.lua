-- SPDX-License-Identifier: MIT
-- `napi_escape_handle` called twice on one scope: napi_escape_called_twice, and V8's check underneath
-- luacheck: read globals claim recorder
--
-- Reproduces:
--   nodejs/abi-stable-node #255  https://github.com/nodejs/abi-stable-node/issues/255
--   nodejs/node #13651           https://github.com/nodejs/node/pull/13651
--     "n-api: avoid crash in napi_escape_scope()": "V8 will crash if escape is called twice on
--     the same scope"; the fix records the escape and returns napi_escape_called_twice.
-- Mechanism: an EscapableHandleScope reserves one slot in the scope outside when it opens;
-- Escape fills it, and a second Escape finds it filled: V8's ApiCheck "Escape value set
-- twice" aborts the process. Before #13651 napi_escape_handle went straight to Escape; since,
-- the wrapper remembers the first escape and answers napi_escape_called_twice, leaving the
-- first escaped value (and the out-parameter) as they were.
--
-- Modelled: an addon function that escapes a cached object on one path and forgets to return,
-- so the common path escapes again (the shape of the double escape in addons); first over V8's
-- scopes directly (napi_escape_handle before #13651), then over scopelab.napi (after it), with
-- the status checked (scope closed, then an exception thrown) and ignored. Simplified: V8 aborts;
-- the lab raises.
local scopelab = require "scopelab"
local napi = require "scopelab.napi"
local CALLS = 200

-- napi_value GetItem(napi_env env, napi_callback_info info) {
--   napi_escapable_handle_scope scope;
--   napi_open_escapable_handle_scope(env, &scope);
--   napi_value result = nullptr, item;
--   if (cached_ != nullptr) {
--     napi_get_reference_value(env, cached_, &item);
--     napi_escape_handle(env, scope, item, &result);        // the fix: close the scope and return here
--   }
--   napi_create_object(env, &item);
--   napi_status st = napi_escape_handle(env, scope, item, &result);   // second escape, same scope
--   napi_close_escapable_handle_scope(env, scope);
--   if (st != napi_ok) { napi_throw_error(env, nullptr, "escape failed"); return nullptr; }
--   return result;                                        // (or: st ignored)
-- }
local function get_item(env, cached, fixed, escape, checked, out)
  local scope = env:open_escapable_handle_scope()
  local result
  if cached then
    result = escape(scope, env:get_reference_value(cached))
    if fixed then
      out.info = env:get_last_error_info()
      env:close_escapable_handle_scope(scope)
      return result
    end
  end
  local item = env:create_object()
  local ok, r = pcall(escape, scope, item)
  out.info = env:get_last_error_info()                    -- what the escape left
  if ok then result = r end
  env:close_escapable_handle_scope(scope)
  if checked and not ok then error(r, 0) end               -- status checked: throw, scope closed
  return result
end

-- ------------------------------------------------------------------ V8 underneath
do
  local iso <close> = scopelab.isolate()
  local outer <close> = iso:handle_scope()
  local s = iso:escapable_handle_scope()
  local slots = outer:handles()
  local first = s:escape(iso:object())
  local msg = claim.raises(function() s:escape(iso:object()) end, "has already escaped a value",
    "V8's EscapableHandleScope refuses a second Escape (V8: \"Escape value set twice\", an abort)")
  s:close()
  print("V8 level, the second Escape: " .. tostring(msg):gsub("^[^:]+:%d+: ", ""))
  claim.equal(1, slots, "the scope reserved exactly one slot in the scope outside when it opened")
  claim.equal(1, outer:handles(), "after it closed the scope outside holds that one slot, the first value")
  claim.equal("object", first:kind(), "the first escaped value is intact")
end

-- ------------------------------------------------------------------ through Node-API
local function run(name, fixed, checked)
  local iso <close> = scopelab.isolate()
  local loop = scopelab.loop(iso)
  local env = scopelab.napi(iso, loop)
  local rec = recorder(iso, name)
  local outer <close> = iso:handle_scope()
  local cached = env:create_reference(env:create_object(), 1)
  local cached_value = env:get_reference_value(cached)
  local got = { returned_cached = 0, returned_new = 0, errors = 0, handles = {}, statuses = {} }
  local base = outer:handles()
  for i = 1, CALLS do
    local frame <close> = iso:handle_scope()               -- the JavaScript caller's frame
    local out = {}
    local hit = i % 2 == 1                                  -- the cache answers every other call
    local ok, r = pcall(get_item, env, hit and cached, fixed,
      function(s, v) return env:escape_handle(s, v) end, checked, out)
    local info = out.info
    got.statuses[info.status] = (got.statuses[info.status] or 0) + 1
    if not ok then
      got.errors = got.errors + 1
      got.error = got.error or tostring(r):gsub("^[^:]+:%d+: ", "")
      got.info = got.info or info
    elseif r:id() == cached_value:id() then
      got.returned_cached = got.returned_cached + 1
    elseif not hit then
      got.returned_new = got.returned_new + 1
    end
    got.handles[#got.handles + 1] = frame:handles()
    if i % 20 == 0 then rec:mark("call", i) end
  end
  rec:stop()
  got.left = outer:handles() - base
  got.scopes = env:stats().open_handle_scopes
  print(("%-42s %d calls, %d cache hits: %3d raised; returned %3d cached and %3d new objects; statuses: %s")
    :format(name, CALLS, CALLS // 2, got.errors, got.returned_cached, got.returned_new, (function()
      local t = {}
      for k, n in pairs(got.statuses) do t[#t + 1] = k .. " x" .. n end
      table.sort(t)
      return table.concat(t, ", ")
    end)()))
  if got.error then print("  " .. got.error) end
  if got.info then
    print(("  get_last_error_info(): status %s, error_code %d, error_message %q"):format(got.info.status,
      got.info.error_code, got.info.error_message))
  end
  env:delete_reference(cached)
  return got
end

local checked = run("double escape, status checked", false, true)
local unchecked = run("double escape, status ignored", false, false)
local fixed = run("escape once and return", true, true)

claim.equal(CALLS // 2, checked.errors, "with the status checked every cache hit fails at its second escape")
claim.equal(CALLS // 2, checked.returned_new, "the calls without a hit escape once and succeed")
claim(checked.error:find("^napi_escape_called_twice: napi_escape_handle already called on scope") ~= nil,
  "the failure is napi_escape_called_twice, with Node-API's message")
claim.equal("napi_escape_called_twice", checked.info.status, "get_last_error_info() names the status")
claim.equal(napi.status.napi_escape_called_twice, checked.info.error_code, "and gives its code")
claim.equal(0, checked.scopes, "the escapable scopes were closed all the same: nothing is left open")
claim.equal(0, unchecked.errors, "with the status ignored nothing fails visibly")
claim.equal(CALLS // 2, unchecked.returned_cached,
  "a hit returns what the first escape set: the failed call leaves the out-parameter alone")
claim.equal(CALLS // 2, unchecked.statuses.napi_escape_called_twice,
  "the last error says what went wrong, for whoever reads it")
claim.equal(0, fixed.errors, "escaping once and returning, every call succeeds")
claim.equal(CALLS, fixed.statuses.napi_ok, "with napi_ok as the last status")
claim.equal(CALLS // 2, fixed.returned_cached, "hits return the cached object")
claim.equal(CALLS // 2, fixed.returned_new, "misses a new one")
claim.flat(fixed.handles, "each call leaves its caller one handle, the escaped value")
claim.equal(1, fixed.handles[1], "exactly one")
