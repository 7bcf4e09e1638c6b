-- escape.lua: the experiment the embedding host runs by default.
--
-- V8's returning_function: an EscapableHandleScope lets exactly one value out of a
-- function; everything else allocated inside dies with the scope. Reads like:
--
--   Local<Value> returning_function() {
--     EscapableHandleScope scope(isolate);
--     Local<Value> zero = Integer::New(isolate, 0);
--     Local<Value> one = Integer::New(isolate, 1);
--     return scope.Escape(one);
--   }
local scopelab = require "scopelab"

local iso <close> = scopelab.isolate()
local outer <close> = iso:handle_scope()

local zero_probe, one_probe
local function returning_function()
  local scope <close> = iso:escapable_handle_scope()
  local zero = iso:integer(0)
  local one = iso:integer(1)
  zero_probe, one_probe = iso:probe(zero), iso:probe(one)
  return scope:escape(one)
end

local before = iso:number_of_handles()
local one = returning_function()
local after = iso:number_of_handles()
print(string.format("handles in the outer scope: %d before the call, %d after", before, after))
assert(after == before + 1, "the escaped value should take exactly one slot of the caller")

local address = one_probe:address()
iso:collect("minor")
iso:collect("major")
print(string.format("zero: %s; one: %s, value %d, moved %d times (address %#x -> %#x)",
  zero_probe:alive() and "alive" or "collected", one_probe:alive() and "alive" or "collected",
  one:value(), one_probe:moves(), address, one_probe:address() or 0))
assert(not zero_probe:alive(), "zero was not escaped: a collection must free it")
assert(one_probe:alive() and one:value() == 1, "the escaped one must survive its scope")
assert(one_probe:moves() >= 1, "a moving collection should have relocated the survivor")
print("escape: all claims hold")
