-- SPDX-License-Identifier: MIT
-- An eternal is read with no HandleScope: Eternal::Get binds the Local to the eternal's own slot
-- luacheck: read globals claim
local scopelab = require "scopelab"
local iso <close> = scopelab.isolate()

-- Node keeps its per-isolate strings in eternals (IsolateData in src/env.h):
--
--   v8::Eternal<v8::String> message_string_;           // set once at start-up
--   v8::Local<v8::String> message_string() const { return message_string_.Get(isolate_); }
--
-- and V8's Eternal<T>::Get (include/v8-persistent-handle.h) returns Local<T>::FromSlot:
-- the eternal's slot itself, which lives as long as the isolate, so no handle is
-- created and no HandleScope is needed: code with no scope open (a callback before it
-- opens one, a SealHandleScope region) may read it.
local message
do
  local startup <close> = iso:handle_scope()
  message = iso:eternal(iso:string("message"))       -- message_string_.Set(isolate, ...)
end

-- No scope is open now: creating a handle is refused, reading the eternal is not.
claim.equal(0, iso:stats().scope_level, "no handle scope is open")
local err = claim.raises(function() return iso:string("x") end, "no handle scope is open",
  "a new string needs a HandleScope")
print("iso:string with no scope: " .. tostring(err))
local key = iso:eternal_get(message)                  -- message_string()
print(("iso:eternal_get with no scope: %s, reads %q, %d handles"):format(
  tostring(key), key:value(), iso:number_of_handles()))
claim.equal("message", key:value(), "the eternal reads with no scope open")
claim.handles(iso, 0, "and created no handle")

-- Under a seal (V8's SealHandleScope: no handle may be created here) it still reads.
do
  local scope <close> = iso:handle_scope()
  local one = iso:integer(1)
  local seal <close> = iso:seal_handle_scope()
  local before = iso:number_of_handles()
  local again = iso:eternal_get(message)
  claim.equal("message", again:value(), "the eternal reads under a seal")
  claim.handles(iso, before, "the seal saw no new handle")
  claim.raises(function() return iso:integer(2) end, "seal", "while a new integer is refused there")
  claim.equal(1, one:value(), "the Local made before the seal is intact")
end

-- The Local is the slot, so it follows the object when the collector moves it, and no
-- scope closing can make it stale.
local before = key:address()
local gc = iso:collect("minor")
print(("after a scavenge (moved %d): the string went 0x%x -> 0x%x and the Local still reads %q"):format(
  gc.moved, before, key:address(), key:value()))
claim(key:address() ~= before, "the scavenge moved the eternal's string")
claim.equal("message", key:value(), "the eternal's Local follows it: it is bound to the slot")
claim(key:is_valid(), "and it is never stale: no scope owns it")
claim.handles(iso, 0, "reading it never created a handle")
iso:verify()
