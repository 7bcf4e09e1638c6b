-- SPDX-License-Identifier: MIT
-- A moving collection relocates objects while handles follow them
-- luacheck: read globals claim
local scopelab = require "scopelab"
-- This experiment schedules every collection itself: no stress collections (--stress).
local iso <close> = scopelab.isolate{ promote_after = 2, gc_interval = 0 }
local scope <close> = iso:handle_scope()

-- Garbage first, so that the live objects have somewhere to move to.
do
  local tmp <close> = iso:handle_scope()
  for i = 1, 200 do iso:string("garbage " .. i) end
end

-- Old garbage-to-be: promoted now, so it lies in front of x in the old generation.
local doomed = {}
do
  local tmp <close> = iso:handle_scope()
  for i = 1, 50 do doomed[i] = iso:persistent(iso:string("old garbage " .. i)) end
  iso:collect("minor"); iso:collect("minor")
end

local x = iso:integer(42)
local list = iso:array(3)
list:set(1, x)
list:set(2, iso:string("two"))
local w = iso:probe(x)
local id = x:id()

local function where(when)
  print(("%-22s x = %d at 0x%x (%s, id %d, %d move(s)); list at 0x%x"):format(
    when, x:value(), x:address(), x:generation(), x:id(), w:moves(), list:address()))
end

where("allocated:")
local a0 = x:address()
claim.equal("young", x:generation(), "a new object starts in the young generation")

local gc1 = iso:collect("minor")            -- copies survivors to the other semispace
where("after minor #1:")
print(("  collection: moved %d, promoted %d"):format(gc1.moved, gc1.promoted))
claim.moved(x, a0, "a scavenge moves a surviving object")
claim.moved(w, "the probe counts the move")
claim.equal(42, x:value(), "the Local follows: it still reads 42")
claim.equal(id, x:id(), "the identity is unchanged by the move")
claim(list:get(1) == x, "the array element was updated to the new address too")

local a1 = x:address()
iso:collect("minor")                        -- the second survival promotes
where("after minor #2:")
claim.moved(x, a1, "promotion moves the object again")
claim.equal("old", x:generation(), "the second survived scavenge promotes to the old generation")

-- Reset the old strings in front of x; a mark-compact then slides x down.
for _, p in ipairs(doomed) do p:reset() end
local a2, moves2 = x:address(), w:moves()
local before_gc = iso:stats()
local gc3 = iso:collect("major")
where("after major:")
print(("  x slid from 0x%x to 0x%x (%d bytes down)"):format(a2, x:address(), a2 - x:address()))
print(("  collection: moved %d, freed %d bytes; old used %d -> %d bytes"):format(
  gc3.moved, gc3.freed_bytes, before_gc.old_used, iso:stats().old_used))
claim.less(0, gc3.freed_bytes, "the major collection frees the reset strings")
claim.less(iso:stats().old_used, before_gc.old_used, "compaction shrinks the old generation")
claim.moved(x, a2, "sliding compaction moves x down over the freed strings")
claim.equal(moves2 + 1, w:moves(), "the probe counts that move too")
claim.equal(42, x:value(), "after compaction the Local still reads 42")
claim.equal("two", list:get(2):value(), "and the array still reaches its second element")
claim.equal(w:address(), x:address(), "the probe and the Local agree on the address")
