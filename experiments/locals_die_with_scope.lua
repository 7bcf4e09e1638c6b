-- SPDX-License-Identifier: MIT
-- Locals die with their scope: every Local made in a HandleScope is released when it closes (example_function)
-- luacheck: read globals claim
local scopelab = require "scopelab"
local iso <close> = scopelab.isolate()

-- Probes watch the objects without keeping them alive.
local number_probe, string_probe, array_probe

-- void example_function(Isolate* isolate) {
--   HandleScope handle_scope(isolate);
--   Local<Number> n = Number::New(isolate, 42); ...
-- }
local function example_function()
  local handle_scope <close> = iso:handle_scope()
  local n = iso:integer(42)
  local s = iso:string("hello")
  local a = iso:array(2)
  a:set(1, n)
  a:set(2, s)
  number_probe, string_probe, array_probe = iso:probe(n), iso:probe(s), iso:probe(a)
  print(("inside example_function: %d handles, scope level %d"):format(
    iso:number_of_handles(), iso:stats().scope_level))
  claim.handles(iso, 3, "the three Locals occupy three handle slots while the scope is open")

  iso:collect("minor")                       -- the scope's slots are roots
  print(("after a collection inside: number at 0x%x, %d move(s)"):format(
    number_probe:address(), number_probe:moves()))
  claim.alive(number_probe, "a Local keeps its object alive through a collection")
  claim.equal(42, n:value(), "the Local still reads 42 after the collection")
end

example_function()
print(("after example_function: %d handles, scope level %d"):format(
  iso:number_of_handles(), iso:stats().scope_level))
claim.handles(iso, 0, "closing the scope releases every Local it created")
claim.equal(0, iso:stats().scope_level, "the scope level is back to 0")

claim.alive(array_probe, "before the next collection the objects are still in the heap")
-- A major collection: under --stress the objects may already be old, where a
-- scavenge would not look.
local gc = iso:collect("major")
print(("major collection: %d freed bytes, %d moved, %d promoted"):format(
  gc.freed_bytes, gc.moved, gc.promoted))
for name, probe in pairs({ number = number_probe, string = string_probe, array = array_probe }) do
  print(("  %s: %s"):format(name, probe:alive() and "alive" or "collected"))
  claim.collected(probe, "the " .. name .. " dies at the first collection after its scope closed")
end
