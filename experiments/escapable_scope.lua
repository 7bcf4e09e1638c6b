-- SPDX-License-Identifier: MIT
-- An EscapableHandleScope lets one value outlive the scope: zero is collected, one survives (returning_function)
-- luacheck: read globals claim
local scopelab = require "scopelab"
local iso <close> = scopelab.isolate()
local outer <close> = iso:handle_scope()

local zero_probe, one_probe

-- Local<Number> returning_function(Isolate* isolate) {
--   EscapableHandleScope scope(isolate);
--   Local<Number> zero = Number::New(isolate, 0);
--   Local<Number> one = Number::New(isolate, 1);
--   return scope.Escape(one);
-- }
local function returning_function()
  local scope <close> = iso:escapable_handle_scope()
  local zero = iso:integer(0)
  local one = iso:integer(1)
  zero_probe, one_probe = iso:probe(zero), iso:probe(one)
  print(("inside: %d handles (the reserved escape slot in the parent, zero, one)"):format(
    iso:number_of_handles()))
  return scope:escape(one)
end

local result = returning_function()
print(("returned: %s, %d handle(s) left in the outer scope"):format(
  tostring(result), iso:number_of_handles()))
claim.handles(iso, 1, "only the escaped value's slot remains")
claim.equal(1, result:value(), "the escaped Local reads 1 in the parent scope")

local before = one_probe:address()
-- A major collection: under --stress zero may already be old, out of a scavenge's reach.
local gc = iso:collect("major")
print(("major collection: moved %d, freed %d bytes; zero %s, one %s at 0x%x -> 0x%x"):format(
  gc.moved, gc.freed_bytes, zero_probe:alive() and "alive" or "collected",
  one_probe:alive() and "alive" or "collected", before, one_probe:address() or 0))
claim.collected(zero_probe, "zero dies: its Local was released with the scope")
claim.alive(one_probe, "one survives: the escape slot in the parent holds it")
claim.equal(1, result:value(), "the escaped Local follows the object when it moves")

-- Escaping twice is a bug V8 turns into a fatal error; here it is a Lua error.
local err = claim.raises(function()
  local scope <close> = iso:escapable_handle_scope()
  local v = iso:integer(2)
  scope:escape(v)
  scope:escape(v)
end, "escape", "escaping twice from one scope raises an error")
print("escaping twice: " .. tostring(err))
claim.handles(iso, 2, "the failed second escape leaves the first escaped value in place")
