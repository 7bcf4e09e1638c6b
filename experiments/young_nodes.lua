-- SPDX-License-Identifier: MIT
-- A scavenge visits only the persistent handles that hold young objects (V8's young nodes)
-- luacheck: read globals claim
local scopelab = require "scopelab"

-- An addon that caches many objects in Persistents (Global<Object> cache[N]) keeps them
-- for the life of the process: after a scavenge or two they are all in the old
-- generation. A minor collection must not pay for them: V8 keeps a list of the global
-- handles whose objects are still young, and scavenges walk only that list.
-- (gc_interval = 0: the exact counts below need only the collections this script asks for,
-- also under `scopelab run --stress`.)
local iso <close> = scopelab.isolate { promote_after = 1, gc_interval = 0 }

local cache = {}
local function remember(n)                 -- Persistent per object, each made in its own scope
  for i = 1, n do
    local scope <close> = iso:handle_scope()
    cache[#cache + 1] = iso:persistent(iso:integer(i))
  end
end

remember(1000)
local first = iso:collect("minor")
print(("1000 new persistents: the scavenge visited %d nodes and promoted %d objects"):format(
  first.nodes_scanned, first.promoted))
claim.equal(1000, first.nodes_scanned, "a scavenge visits the persistents whose objects are young")

local visited = {}
for _, more in ipairs { 0, 10000, 100000 } do
  remember(more)
  iso:collect("minor")                      -- the new ones: young, then promoted
  local st = iso:collect("minor")
  visited[#visited + 1] = st.nodes_scanned
  print(("%6d persistents to old objects: the next scavenge visited %d of them"):format(
    #cache, st.nodes_scanned))
end
claim.flat(visited, "with every cached object old, a scavenge visits no persistent at all")
claim.equal(0, visited[#visited], ("%d old persistents cost a scavenge nothing"):format(#cache))

-- The list follows what the handles hold: a Reset to a young object, a new weak handle.
local doomed
do
  local scope <close> = iso:handle_scope()
  cache[1]:reset(iso:string("fresh"))
  local w = iso:integer(-1)
  doomed = iso:probe(w)
  local weak = iso:persistent(w)
  weak:set_weak()
  cache[#cache + 1] = weak
end
local st = iso:collect("minor")
print(("after a reset and a weak handle to young objects: %d nodes visited"):format(st.nodes_scanned))
claim.equal(3, st.nodes_scanned, "the reset handle, the weak handle and the probe are visited")
claim.collected(doomed, "the weak handle's young object dies in that scavenge")
claim.equal("fresh", (function()
  local scope <close> = iso:handle_scope()
  return cache[1]:get():value()
end)(), "the reset handle's young object survived and was followed")
