-- SPDX-License-Identifier: MIT
-- A persistent handle keeps its object alive across scopes and collections until Reset
-- luacheck: read globals claim
local scopelab = require "scopelab"
local iso <close> = scopelab.isolate()

-- Persistent<String> cache;  void remember(Isolate* isolate) {
--   HandleScope scope(isolate);  cache.Reset(isolate, String::New(isolate, "cached"));
-- }
local cache, probe
do
  local scope <close> = iso:handle_scope()
  local s = iso:string("cached")
  cache = iso:persistent(s)
  probe = iso:probe(s)
end
print(("scope closed: %d handles, %d persistent handle(s)"):format(
  iso:number_of_handles(), iso:stats().persistent_handles))
claim.handles(iso, 0, "no Local remains once the scope closed")

for round = 1, 3 do
  iso:collect(round % 2 == 1 and "minor" or "major")
  print(("collection %d: object %s at 0x%x (moved %d times, %s)"):format(round,
    probe:alive() and "alive" or "dead", probe:address() or 0, probe:moves(),
    probe:alive() and "held by the persistent" or "gone"))
end
claim.alive(probe, "the persistent keeps the object alive through minor and major collections")
claim.alive(cache, "the persistent is not empty")

do
  local scope <close> = iso:handle_scope()
  local again = cache:get()                  -- Local<String>::New(isolate, cache)
  print("cache:get() reads " .. again:value())
  claim.equal("cached", again:value(), "a Local made from the persistent reads the same value")
end

cache:reset()                                -- cache.Reset();
claim(cache:is_empty(), "reset empties the persistent")
claim.alive(probe, "reset alone frees nothing: the object waits for a collection")
iso:collect("major")
print(("after reset and a major collection: object %s, %d persistent handle(s)"):format(
  probe:alive() and "alive" or "collected", iso:stats().persistent_handles))
claim.collected(probe, "after reset the next collection frees the object")
claim.equal(0, iso:stats().persistent_handles, "no persistent handle is counted any more")
