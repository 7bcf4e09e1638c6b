-- SPDX-License-Identifier: MIT
-- Returning a Local from a plain HandleScope is caught as a stale handle
-- luacheck: read globals claim
local scopelab = require "scopelab"
local iso <close> = scopelab.isolate()
local outer <close> = iso:handle_scope()

local opened_at
-- Local<Number> broken(Isolate* isolate) {
--   HandleScope scope(isolate);              // should be EscapableHandleScope
--   return Number::New(isolate, 7);          // dangling once 'scope' is destroyed
-- }
local function broken()
  opened_at = debug.getinfo(1, "l").currentline + 1
  local scope <close> = iso:handle_scope()
  return iso:integer(7)
end

local h = broken()
print(("broken() returned %s; %d handles in the outer scope"):format(tostring(h), iso:number_of_handles()))
claim.handles(iso, 0, "the returned Local's slot was released with its scope")

-- In C++ this reads freed memory or another object; here every use is refused.
local msg = claim.raises(function() return h:value() end, "scope",
  "reading a Local whose scope closed raises an error")
print("h:value() -> " .. tostring(msg))
claim(msg and msg:find("closed") ~= nil, "the error says the scope is closed")
claim(msg and msg:find("stale_local.lua:" .. opened_at, 1, true) ~= nil,
  "the error names the line that opened the scope (stale_local.lua:" .. opened_at .. ")")

claim.raises(function() local a = iso:array(1); a:set(1, h) end, "scope",
  "storing a stale Local into an array raises an error")
claim.raises(function() return iso:persistent(h) end, "scope",
  "making a persistent from a stale Local raises an error")

-- The isolate stays usable after the misuse.
local fine = iso:integer(8)
claim.equal(8, fine:value(), "the isolate keeps working after the errors")
