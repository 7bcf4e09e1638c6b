-- SPDX-License-Identifier: MIT
-- ObjectWrap: a two-pass weak callback frees a dead wrapper's native memory; without one it leaks
-- luacheck: read globals claim
local scopelab = require "scopelab"
local N, BYTES = 20, 64 * 1024

-- Node's ObjectWrap (src/node_object_wrap.h), under a class Image whose pixels are native:
--
-- void ObjectWrap::Wrap(Local<Object> handle) {      // from Image's constructor callback
--   handle->SetAlignedPointerInInternalField(0, this);
--   persistent().Reset(isolate, handle);
--   MakeWeak();
-- }
-- void ObjectWrap::MakeWeak() {
--   persistent().SetWeak(this, WeakCallback, WeakCallbackType::kParameter);
-- }
-- static void ObjectWrap::WeakCallback(const WeakCallbackInfo<ObjectWrap>& data) {
--   ObjectWrap* wrap = data.GetParameter();
--   wrap->handle_.Reset();
--   delete wrap;                                       // ~Image() frees the pixels
-- }
--
-- Node deletes the wrap in that one (first-pass) callback. gin's WrappableBase
-- (Chromium, gin/wrappable.cc) splits it the way V8's documentation asks
-- (include/v8-weak-callback-info.h), and finds its object through the internal field:
--
-- SetWeak(this, FirstWeakCallback, WeakCallbackType::kInternalFields);
-- static void FirstWeakCallback(const WeakCallbackInfo<Image>& data) {  // inside the GC
--   Image* image = static_cast<Image*>(data.GetInternalField(0));
--   image->handle_.Reset();
--   data.SetSecondPassCallback(SecondWeakCallback);
-- }
-- static void SecondWeakCallback(const WeakCallbackInfo<Image>& data) { // the whole API
--   delete static_cast<Image*>(data.GetInternalField(0));
-- }
--
-- The Image below does the latter.

-- The C++ Image object: its persistent handle and its native pixels, found from what
-- the wrapper's internal field holds (as C++ casts the pointer back to Image*). A
-- field holding a live native block gives that block back.
local function image_class(iso, with_callback)
  local images = {}                                  -- native block -> the Image
  local log = { first = 0, second = 0, fields_matched = 0 }

  local function second_pass(info)
    local image = images[info:internal_field(1)]
    image.pixels:free()                              -- delete image;
    images[image.pixels] = nil
    log.second = log.second + 1
  end

  local function first_pass(info)
    local image = images[info:internal_field(1)]
    if image and image == info:parameter() then log.fields_matched = log.fields_matched + 1 end
    image.handle:reset()                             -- image->handle_.Reset();
    info:set_second_pass_callback(second_pass)
    log.first = log.first + 1
  end

  local function new_image(i)
    local this = iso:object(1)                        -- instance template: SetInternalFieldCount(1)
    local pixels = iso:native_alloc(BYTES, "Image pixels")
    local image = { pixels = pixels, index = i }
    this:set_aligned_pointer(1, pixels)               -- SetAlignedPointerInInternalField(0, image)
    image.handle = iso:persistent(this)               -- handle_.Reset(isolate, this)
    if with_callback then
      image.handle:set_weak { type = "internal_fields", parameter = image, first_pass = first_pass }
    else
      image.handle:set_weak()                         -- weak, but nobody frees the pixels
    end
    images[pixels] = image
    image.probe = iso:probe(this)
    return this, image
  end
  return new_image, images, log
end

local function run(name, with_callback)
  local iso <close> = scopelab.isolate()
  local new_image, images, log = image_class(iso, with_callback)
  local outer <close> = iso:handle_scope()
  local kept, kept_image = new_image(0)              -- one image the program keeps using
  local made = { kept_image }
  do
    local scope <close> = iso:handle_scope()
    for i = 1, N - 1 do made[#made + 1] = select(2, new_image(i)) end
  end                                                -- the other wrappers are garbage now
  local before = iso:stats()
  local gc = iso:collect("full")
  local after = iso:stats()
  local dead = 0
  for _, image in ipairs(made) do if not image.probe:alive() then dead = dead + 1 end end
  print(("%-22s %d wrappers, %d died in the collection (%s); native memory %d -> %d KiB in %d -> %d blocks; "
    .. "first passes %d, second passes %d"):format(name .. ":", N, dead, gc.reason or "?",
    before.native_bytes // 1024, after.native_bytes // 1024, before.native_blocks,
    after.native_blocks, log.first, log.second))
  local report = iso:native_report()
  for _, entry in ipairs(report) do
    print(("  unfreed: %d block(s) of %q, %d bytes, allocated at %s"):format(entry.count,
      entry.label, entry.bytes, entry.site))
  end
  iso:verify()
  return {
    dead = dead, before = before, after = after, log = log, images = images, report = report,
    pending = after.pending_tasks, kept_alive = kept_image.probe:alive(),
    kept_field = kept:get_aligned_pointer(1) == kept_image.pixels, kept_moved = kept_image.probe:moves(),
  }
end

local wrap = run("two-pass weak callback", true)
local leak = run("no weak callback", false)

claim.equal(N - 1, wrap.dead, "every wrapper the program let go of died")
claim.equal(N * BYTES, wrap.before.native_bytes, "before the collection each wrapper's pixels are allocated")
claim.equal(N - 1, wrap.log.first, "a first pass ran for each dead wrapper")
claim.equal(N - 1, wrap.log.fields_matched, "each first pass found its Image through internal field 1")
claim.equal(N - 1, wrap.log.second, "each asked for a second pass, which ran right after the forced collection")
claim.equal(0, wrap.pending, "nothing is left queued")
claim.equal(BYTES, wrap.after.native_bytes, "the dead wrappers' native memory was freed")
claim.equal(1, wrap.after.native_blocks, "only the kept image's pixels remain")
claim(wrap.kept_alive, "the kept wrapper is alive")
claim(wrap.kept_moved > 0 and wrap.kept_field,
  "its internal field still points at its own pixels after the collection moved it")

claim.equal(N - 1, leak.dead, "without a callback the wrappers die just the same")
claim.equal(0, leak.log.first, "but no callback runs for them")
claim.equal(N * BYTES, leak.after.native_bytes, "and all their native memory is still allocated: a leak")
claim.equal(N, leak.after.native_blocks, "one unfreed block per wrapper ever made")
