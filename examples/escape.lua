-- The host's own experiment: an EscapableHandleScope lets exactly one value out
-- (V8's returning_function), and the value survives moving collections.
--
--   Local<Value> returning_function() {
--     EscapableHandleScope scope(isolate);
--     Local<Value> zero = Integer::New(isolate, 0);
--     Local<Value> one = Integer::New(isolate, 1);
--     return scope.Escape(one);
--   }
-- luacheck: read globals claim
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
print(("handles in the outer scope: %d before the call, %d after"):format(
  before, iso:number_of_handles()))
claim.handles(iso, before + 1, "the escaped value takes exactly one slot of the caller")

local address = one_probe:address()
iso:collect("minor")
iso:collect("major")
print(("zero: %s; one: %s, value %d, moved %d times (0x%x -> 0x%x)"):format(
  zero_probe:alive() and "alive" or "collected", one_probe:alive() and "alive" or "collected",
  one:value(), one_probe:moves(), address, one_probe:address() or 0))
claim.collected(zero_probe, "zero was not escaped: a collection frees it")
claim.alive(one_probe, "one was escaped: it survives its scope")
claim.equal(1, one:value(), "the escaped Local still reads 1 after the object moved")
claim.moved(one_probe, address, "the collections relocated the survivor")
