-- SPDX-License-Identifier: MIT
-- External memory: 1 MiB wrappers start no full collection until adjust_external_memory reports them
-- luacheck: read globals claim recorder
local scopelab = require "scopelab"
local MiB = 1 << 20
local N = 120
-- V8's soft limit is 64 MiB; a quarter of it shows the same cycles with fewer wrappers.
local LIMIT = 16 * MiB

-- An addon's wrapper of native memory (what a Buffer over malloc'ed bytes is):
--
-- Local<Object> NewBuffer(Isolate* isolate, size_t size) {
--   Local<Object> obj = tmpl->NewInstance(context).ToLocalChecked();  // one internal field
--   Buffer* buf = new Buffer(malloc(size), size);
--   obj->SetAlignedPointerInInternalField(0, buf);
--   buf->handle_.Reset(isolate, obj);
--   buf->handle_.SetWeak(buf, Free, WeakCallbackType::kParameter);
--   isolate->AdjustAmountOfExternalAllocatedMemory(size);            // the line that matters
--   return obj;
-- }
-- static void Free(const WeakCallbackInfo<Buffer>& data) {           // node's ObjectWrap does
--   Buffer* buf = data.GetParameter();                                // this in its first pass
--   buf->handle_.Reset();
--   isolate->AdjustAmountOfExternalAllocatedMemory(-buf->size);
--   free(buf->data); delete buf;
-- }
--
-- for (int i = 0; i < N; i++) { HandleScope scope(isolate); NewBuffer(isolate, 1 << 20); }
--
-- The wrapper is a few dozen bytes of heap; its megabyte is invisible to the collector,
-- which schedules full collections by heap growth (src/heap/heap.cc). Only the external
-- memory counter (Heap::ReportExternalMemoryPressure) ties the two together.
local function run(name, report)
  -- gc_interval = 0: the point is which collections the heap itself schedules, so none
  -- may be forced by `scopelab run --stress`.
  local iso <close> = scopelab.isolate { gc_interval = 0, external_memory_limit = LIMIT }
  local rec = recorder(iso, name)
  local freed, reasons = 0, {}            -- reasons: the external total that started each

  local function free(info)                           -- the first pass: reset, free, report
    local buf = info:parameter()
    buf.handle:reset()
    buf.data:free()
    if report then iso:adjust_external_memory(-buf.size) end
    freed = freed + 1
  end

  local function new_buffer(size)
    local obj = iso:object(1)
    local buf = { data = iso:native_alloc(size, "Buffer data"), size = size }
    obj:set_aligned_pointer(1, buf.data)
    buf.handle = iso:persistent(obj)
    buf.handle:set_weak { first_pass = free, parameter = buf, type = "parameter" }
    if report then iso:adjust_external_memory(size) end
    return obj
  end

  local outer <close> = iso:handle_scope()
  local native, on_time = {}, true
  for i = 1, N do
    local scope <close> = iso:handle_scope()
    local before = iso:stats()
    new_buffer(MiB)
    local st = iso:stats()
    -- With every older buffer dead, a full collection frees them all: the external total
    -- falls to 0 and growth is measured from there, so one must run exactly when the
    -- total reported before this allocation is past the limit.
    local collected = st.major_collections > before.major_collections
    if collected then reasons[#reasons + 1] = before.external_memory end
    if collected ~= (report and before.external_memory > LIMIT) then on_time = false end
    rec:mark("buffer", i)
    native[#native + 1] = st.native_bytes
  end
  rec:stop()
  local st = iso:stats()
  local peak = 0
  for _, b in ipairs(native) do peak = math.max(peak, b) end
  print(("%-32s %d buffers of 1 MiB: %d full and %d minor collections; native memory %3d MiB at the end, "
    .. "peak %3d MiB; %d buffers freed"):format(name .. ":", N, st.major_collections,
    st.minor_collections, st.native_bytes // MiB, peak // MiB, freed))
  if #reasons > 0 then
    local at = {}
    for k, b in ipairs(reasons) do at[k] = b // MiB end
    print(("%-32s full collections with %s MiB reported (the trace, --trace-gc, names their reason)")
      :format("", table.concat(at, ", ")))
  end
  iso:verify()
  return { stats = st, native = native, peak = peak, freed = freed, triggers = reasons,
           on_time = on_time }
end

local silent = run("native memory not reported", false)
local reported = run("adjust_external_memory(+/-size)", true)

claim.equal(0, silent.stats.major_collections, "unreported, the tiny wrappers never start a full collection")
claim.grows(silent.native, "so native memory climbs with every buffer")
claim.equal(N * MiB, silent.stats.native_bytes, "and every megabyte is still allocated at the end")
claim.equal(0, silent.freed, "no wrapper was ever found dead")

claim.less(0, reported.stats.major_collections, "reported, the external memory starts full collections")
claim(reported.on_time, "each one exactly when the total reported since the last passed the limit")
claim.equal(0, reported.stats.minor_collections + silent.stats.minor_collections,
  "no other reason: the young space never filled")
claim.less(reported.stats.old_used, 1 << 20, "nor did old space reach the 1 MiB growth floor")
claim.less(reported.peak, LIMIT + 2 * MiB + 1,
  "native memory never exceeds the limit by more than the buffer being made")
claim.equal(reported.stats.native_bytes, reported.stats.external_memory,
  "the external memory counter matches the native bytes still allocated")
claim.equal(N * MiB, reported.stats.native_bytes + reported.freed * MiB, "every buffer is either live or freed")
