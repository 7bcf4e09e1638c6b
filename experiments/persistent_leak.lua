-- SPDX-License-Identifier: MIT
-- The persistent leak (persistents never reset keep the heap growing) and its fixes: Reset, or a weak handle
-- luacheck: read globals claim recorder
local scopelab = require "scopelab"
local N, EVERY = 1500, 50

-- A request handler that keeps a Persistent to each request object "for later":
--   requests.push_back(new Persistent<Object>(isolate, request));   // never Reset
local function handle(iso, i)
  local scope <close> = iso:handle_scope()
  local request = iso:array(8)
  request:set(1, iso:integer(i))
  request:set(2, iso:string("request " .. i))
  return iso:persistent(request)
end

local function run(name, variant)
  local iso <close> = scopelab.isolate{ young_size = 64 * 1024 }
  local rec = recorder(iso, name)
  local kept, callbacks = {}, 0
  for i = 1, N do
    local p = handle(iso, i)
    kept[#kept + 1] = p                            -- the embedder keeps every handle
    if variant == "reset" then
      p:reset()                                    -- done with it: persistent.Reset()
    elseif variant == "weak" then
      p:set_weak(function() callbacks = callbacks + 1 end)  -- SetWeak: the collector may free it
    end
    if i % EVERY == 0 then rec:mark("request", i) end
  end
  iso:collect("major")
  rec:mark("after a major collection")
  rec:stop()
  local st = iso:stats()
  local heap = {}
  for _, s in ipairs(rec:marks("request")) do heap[#heap + 1] = s.young_used + s.old_used end
  local holding = 0                                -- handles the embedder still has that hold a request
  for _, p in ipairs(kept) do if not p:is_empty() then holding = holding + 1 end end
  print(("%-22s after %d requests and a major GC: %4d persistent handles (%4d held), heap %7d B, %d weak callbacks")
    :format(
    name, N, st.persistent_handles, holding, st.young_used + st.old_used, callbacks))
  return { heap = heap, stats = st, callbacks = callbacks, holding = holding }
end

local leak = run("never reset", "leak")
local reset = run("reset when done", "reset")
local weak = run("weak handles", "weak")

claim.equal(N, leak.stats.persistent_handles, "every forgotten persistent is still counted")
claim.equal(N, leak.holding, "every forgotten persistent still holds its request")
claim.equal(0, weak.holding, "every weak handle was emptied when its request died")
claim.grows(leak.heap, "persistents never reset keep the heap growing")
claim.less(N * 64, leak.stats.young_used + leak.stats.old_used,
  "even a major collection cannot free what the persistents hold")
claim.equal(0, reset.stats.persistent_handles, "with Reset no persistent handle remains")
claim.less(reset.stats.young_used + reset.stats.old_used, (leak.stats.young_used + leak.stats.old_used) / 10,
  "with Reset the heap after a major collection is a small fraction of the leak's")
claim.equal(0, weak.stats.persistent_handles, "weak handles to dead requests are cleared")
claim.equal(N, weak.callbacks, "each weak handle's callback ran exactly once")
claim.less(weak.stats.young_used + weak.stats.old_used, (leak.stats.young_used + leak.stats.old_used) / 10,
  "with weak handles the heap after a major collection is a small fraction of the leak's")
