-- SPDX-License-Identifier: MIT
-- Megabytes behind tiny wrappers never reported: no collection comes; napi_adjust_external_memory brings it
-- luacheck: read globals claim recorder
--
-- Reproduces roaring-node #37 (https://github.com/SalvatorePreviti/roaring-node/issues/37,
-- "Should inform V8's GC about externally allocated memory") and s2 #86
-- (https://github.com/mapbox/node-s2/issues/86). Mechanism: V8 schedules collections by
-- the growth of its own heap; a wrapper is a few hundred bytes there while its bitmap is
-- a megabyte of malloc, so dead wrappers pile up with their megabytes and the collection
-- that would free them comes far too late. Reporting the bytes
-- (napi_adjust_external_memory, V8's AdjustAmountOfExternalAllocatedMemory) makes the
-- external total start full collections (Heap::ReportExternalMemoryPressure).
--
-- The addon (a RoaringBitmap32-like class over Node-API):
--
--   napi_value Bitmap::New(napi_env env, napi_callback_info info) {
--     Bitmap* b = new Bitmap(1 << 20);                   // malloc'ed containers
--     napi_wrap(env, jsthis, b, Bitmap::Finalize, nullptr, nullptr);
--     // the fix: napi_adjust_external_memory(env, b->size, &total);
--     return jsthis;
--   }
--   void Bitmap::Finalize(napi_env env, void* data, void*) {
--     Bitmap* b = static_cast<Bitmap*>(data);
--     // the fix: napi_adjust_external_memory(env, -(int64_t)b->size, &total);
--     delete b;
--   }
--
-- and a server that makes one per request and drops it when the request ends.
--
-- Modelled: each request is a timer callback (1 ms apart) calling the constructor
-- through iso:call in a HandleScope of its own; finalizers are Node's deferred ones (run
-- from the loop's check phase). Simplified: V8's 64 MiB external soft limit is 16 MiB
-- here (external_memory_limit), so the same cycles show with fewer requests; no forced
-- collection (gc_interval = 0, also under `scopelab run --stress`).
local scopelab = require "scopelab"
local MiB = 1 << 20
local REQUESTS, LIMIT = 100, 16 * MiB

local function run(name, report)
  local iso <close> = scopelab.isolate { gc_interval = 0, external_memory_limit = LIMIT }
  local loop = scopelab.loop(iso)
  local env = scopelab.napi(iso, loop)
  local rec = recorder(iso, name)

  local ctor
  do
    local s = env:open_handle_scope()
    ctor = env:create_reference(env:create_function("Bitmap", function(e, info)
      local _, _, this = e:get_cb_info(info, 0)
      local bitmap = iso:native_alloc(MiB, "Bitmap")
      e:wrap(this, bitmap, function(fe, b)             -- Bitmap::Finalize
        if report then fe:adjust_external_memory(-b:size()) end
        b:free()
      end)
      if report then e:adjust_external_memory(MiB) end
      return this
    end), 1)
    env:close_handle_scope(s)
  end

  local seen = { native = {}, peak = 0, served = 0, majors_at = {} }
  local function request()
    local scope <close> = iso:handle_scope()
    local majors = iso:stats().major_collections
    iso:call(env:get_reference_value(ctor), iso:object())    -- new Bitmap(); used, dropped
    seen.served = seen.served + 1
    local st = iso:stats()
    if st.major_collections > majors then seen.majors_at[#seen.majors_at + 1] = seen.served end
    seen.peak = math.max(seen.peak, st.native_bytes)
    seen.native[#seen.native + 1] = st.native_bytes
    rec:mark("request", seen.served)
    if seen.served < REQUESTS then loop:set_timeout(1, request) end
  end
  loop:set_timeout(1, request)
  loop:run()
  rec:stop()
  local st, est = iso:stats(), env:stats()
  seen.stats, seen.finalizers_run, seen.wraps = st, est.finalizers_run, est.wraps
  seen.bitmap_bytes = 0                                -- the report also lists the references
  for _, site in ipairs(iso:native_report()) do
    if site.label == "Bitmap" then seen.bitmap_bytes = seen.bitmap_bytes + site.bytes end
  end
  print(("%-34s %d requests of a 1 MiB bitmap: %d full and %d minor collections, %3d finalizers run, "
    .. "native memory peak %5.1f MiB, %5.1f MiB at the end")
    :format(name .. ":", REQUESTS, st.major_collections, st.minor_collections, est.finalizers_run,
      seen.peak / MiB, st.native_bytes / MiB))
  if #seen.majors_at > 0 then
    print(("%-34s full collections at requests %s (each once the reported total grew past the limit)")
      :format("", table.concat(seen.majors_at, ", ")))
  end
  iso:verify()
  return seen
end

local silent = run("native memory not reported", false)
local reported = run("napi_adjust_external_memory", true)

claim.equal(0, silent.stats.major_collections + silent.stats.minor_collections,
  "unreported, a hundred dead wrappers start no collection at all")
claim.grows(silent.native, "so native memory climbs with every request")
claim.less(REQUESTS * MiB - 1, silent.stats.native_bytes, "every bitmap is still allocated when the server is idle")
claim.equal(0, silent.finalizers_run, "not one finalizer ran: no wrapper was ever found dead")

claim.less(0, reported.stats.major_collections, "reported, the external total starts full collections")
claim.equal(0, reported.stats.minor_collections, "and only those: the JS heap itself never asked for one")
claim.less(reported.peak, LIMIT + 4 * MiB, "native memory stays near the limit instead of climbing")
claim.less(reported.peak * 4, silent.peak, "its peak is under a quarter of the unreported one")
claim.less(REQUESTS - LIMIT // MiB - 3, reported.finalizers_run, "the finalizers of all but the last few ran")
claim.equal(reported.bitmap_bytes, reported.stats.external_memory,
  "the external counter matches the bitmap bytes still allocated")
