-- SPDX-License-Identifier: MIT
-- A Global resets itself when its Lua object is closed or collected; a plain Persistent leaks until Reset
-- luacheck: read globals claim
local scopelab = require "scopelab"
local iso <close> = scopelab.isolate()

local global_probe, closed_probe, persistent_probe
do
  local scope <close> = iso:handle_scope()
  local a, b, c = iso:string("held by a Global"), iso:string("held by a closed Global"),
    iso:string("held by a Persistent")
  global_probe, closed_probe, persistent_probe = iso:probe(a), iso:probe(b), iso:probe(c)
  local g = iso:global(a)              -- Global<String> g(isolate, a);  dropped below
  do
    local g2 <close> = iso:global(b)   -- { Global<String> g2(isolate, b); }  // destructor resets
  end
  local p = iso:persistent(c)          -- Persistent<String> p(isolate, c);  never Reset
  print(("handles made: %s, %s"):format(tostring(g), tostring(p)))
end
-- Lua collects the dropped handle objects: a Global's finaliser resets its node,
-- a plain Persistent's node stays (V8's Persistent has no destructor that resets).
collectgarbage(); collectgarbage()
print(("after Lua's collector: %d persistent node(s) still hold objects"):format(
  iso:stats().persistent_handles))
iso:collect("major")
print(("after a major collection: Global's object %s, closed Global's object %s, Persistent's object %s"):format(
  global_probe:alive() and "alive" or "collected", closed_probe:alive() and "alive" or "collected",
  persistent_probe:alive() and "alive" or "collected"))
claim.collected(closed_probe, "closing a Global (<close>) resets it, so its object dies")
claim.collected(global_probe, "a Global collected by Lua resets itself, so its object dies")
claim.alive(persistent_probe, "a dropped Persistent that was never reset keeps its object alive: the leak")
claim.equal(1, iso:stats().persistent_handles, "only the forgotten Persistent is still counted")
