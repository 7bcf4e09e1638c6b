-- SPDX-License-Identifier: MIT
-- The handle leak of a loop without an inner scope, and its fix: one HandleScope per iteration
-- luacheck: read globals claim recorder
local scopelab = require "scopelab"
local N, EVERY = 3000, 100

-- void leaky(Isolate* isolate) {
--   HandleScope scope(isolate);
--   for (int i = 0; i < N; i++) {
--     Local<Array> item = Array::New(isolate, 4);   // a slot per iteration, never released
--     item->Set(context, 0, Integer::New(isolate, i));
--   }
-- }
local function leaky(iso, rec)
  local scope <close> = iso:handle_scope()
  for i = 1, N do
    local item = iso:array(4)
    item:set(1, iso:integer(i))
    if i % EVERY == 0 then rec:mark("iteration", i) end
  end
  return iso:stats()
end

-- The fix: for (...) { HandleScope inner(isolate); ... }
local function fixed(iso, rec)
  local scope <close> = iso:handle_scope()
  for i = 1, N do
    local inner <close> = iso:handle_scope()
    local item = iso:array(4)
    item:set(1, iso:integer(i))
    if i % EVERY == 0 then rec:mark("iteration", i) end
  end
  return iso:stats()
end

local function run(name, body)
  local iso <close> = scopelab.isolate{ young_size = 32 * 1024 }
  local rec = recorder(iso, name)
  local last = body(iso, rec)
  rec:stop()
  local handles, heap = {}, {}
  for _, s in ipairs(rec:marks("iteration")) do
    handles[#handles + 1] = s.handles
    heap[#heap + 1] = s.young_used + s.old_used
  end
  print(("%-20s at the last iteration: %5d handles, %3d blocks, young %6d B, old %7d B, %d minor / %d major GCs")
    :format(
    name, last.handles, last.blocks, last.young_used, last.old_used,
    last.minor_collections, last.major_collections))
  return handles, heap, last
end

local leak_handles, leak_heap, leak = run("loop without a scope", leaky)
local fix_handles, _, fix = run("scope per iteration", fixed)

claim.grows(leak_handles, "without an inner scope the handle count grows with every iteration")
claim.equal(2 * N, leak.handles, "two handles leak per iteration")
claim.less(leak_heap[1] * 4, leak_heap[#leak_heap], "the leaked handles keep the heap growing")
claim.flat(fix_handles, "with a scope per iteration the handle count stays constant")
claim.less(fix.old_used + fix.young_used, leak.old_used + leak.young_used,
  "the fixed loop ends with less heap in use than the leaky one")
claim(fix.old_used <= 4096, "the fixed loop promotes (almost) nothing to the old generation")
