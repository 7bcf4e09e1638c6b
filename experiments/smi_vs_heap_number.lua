-- SPDX-License-Identifier: MIT
-- A Smi lives in its handle slot: nothing is allocated and nothing dies; a HeapNumber is collected
-- luacheck: read globals claim
local scopelab = require "scopelab"

-- V8's embedder guide, run twice:
--
-- Local<Number> returning_function(Isolate* isolate) {
--   EscapableHandleScope scope(isolate);
--   Local<Number> zero = Number::New(isolate, 0);
--   Local<Number> one = Number::New(isolate, 1);
--   return scope.Escape(one);
-- }
--
-- In V8 both numbers are Smis: Factory::NewNumber tags an integer that fits in 31 bits
-- into the pointer itself (src/objects/smi.h), and the handle slot holds that tagged
-- word. No object is allocated, so "zero is deleted" only means its slot is freed. A
-- HeapNumber (Number::New(isolate, 0.5), or an integer past 31 bits) is a heap object
-- the collector can free. iso:smi is the first; iso:integer, a boxed heap integer, is
-- the second (experiments/escapable_scope.lua uses it so that zero can be seen to die).
local function returning_function(iso, new_number, seen)
  local scope <close> = iso:escapable_handle_scope()
  local zero = new_number(0)
  local one = new_number(1)
  seen.inside = iso:number_of_handles()
  seen.kind = zero:kind()
  seen.probe_ok, seen.zero_probe = pcall(iso.probe, iso, zero)
  if seen.probe_ok then seen.one_probe = iso:probe(one) end
  return scope:escape(one)
end

local function run(name, make)
  local iso <close> = scopelab.isolate()
  local outer <close> = iso:handle_scope()
  local before = iso:stats()
  local seen = {}
  local result = returning_function(iso, function(v) return make(iso, v) end, seen)
  local after = iso:stats()
  local gc = iso:collect("major")
  seen.name, seen.result = name, result:value()
  seen.allocated = after.allocations - before.allocations
  seen.young_grew = after.young_used - before.young_used
  seen.left = iso:number_of_handles()
  seen.freed = gc.freed_bytes
  print(("%-11s %d handles inside (escape slot, zero, one), %d after; %d objects (%d bytes) "
    .. "allocated; a major collection freed %d bytes; result reads %d"):format(
    name .. ":", seen.inside, seen.left, seen.allocated, seen.young_grew, seen.freed, seen.result))
  if seen.probe_ok then
    seen.zero_alive, seen.one_alive = seen.zero_probe:alive(), seen.one_probe:alive()
    print(("            zero %s, one %s"):format(seen.zero_alive and "alive" or "collected",
      seen.one_alive and "alive" or "collected"))
  else
    print("            iso:probe(zero): " .. tostring(seen.zero_probe))
  end
  iso:verify()
  return seen
end

local smi = run("Smi", function(iso, v) return iso:smi(v) end)
local heap = run("HeapNumber", function(iso, v) return iso:integer(v) end)

-- Both functions use their slots the same way ...
claim.equal(heap.inside, smi.inside, "a Smi takes a handle slot like any Local")
claim.equal(1, smi.left, "closing the scope frees zero's slot: only the escaped one remains")
claim.equal(smi.left, heap.left, "the same slots are left after either function")
-- ... but only the HeapNumbers are objects.
claim.equal("smi", smi.kind, "Number::New(isolate, 0) is a Smi")
claim.equal(0, smi.allocated, "making two Smis allocates nothing")
claim.equal(0, smi.young_grew, "the young generation did not grow by a byte")
claim(not smi.probe_ok and tostring(smi.zero_probe):find("a Smi is not a heap object", 1, true),
  "there is no object for a probe to watch")
claim.equal(0, smi.freed, "so the collection has nothing to free")
claim.equal(1, smi.result, "the escaped Smi reads 1: its value is in the slot")

claim.equal(2, heap.allocated, "two HeapNumbers are two heap objects")
claim(heap.zero_alive == false, "the HeapNumber zero is collected once its slot is freed")
claim(heap.one_alive == true, "the escaped HeapNumber one survives")
claim.less(0, heap.freed, "the collection frees zero's bytes")
claim.equal(1, heap.result, "the escaped HeapNumber reads 1 after the collection")
