-- SPDX-License-Identifier: MIT
-- What a weak callback may do: a second pass needs its own HandleScope, a first pass must Reset and cannot resurrect
-- luacheck: read globals claim recorder
--
-- Reproduces:
-- * nan #886 (https://github.com/nodejs/nan/issues/886), fixed in nan's test by nan #887
--   (https://github.com/nodejs/nan/pull/887): nan's weak test makes Nan::New(*parameter)
--   in its callback, which nan runs as V8's second pass; once V8 stopped providing a
--   HandleScope there, it aborted with "Cannot create a handle without a HandleScope".
--   Mechanism: a second-pass callback is entered with no scope of its own.
-- * "Handle not reset in first callback" (node #30127, https://github.com/nodejs/node/issues/30127;
--   J2V8 #500, https://github.com/eclipsesource/J2V8/issues/500): V8 CHECKs after every
--   first pass that the callback reset its handle. Mechanism: a first pass that does
--   its clean-up but forgets persistent.Reset().
-- * Resurrection attempts: a first pass that tries to keep the dying object (a new
--   persistent, re-targeting its own, reading it back) as the old non-phantom weak
--   callbacks allowed. Mechanism: phantom handles are emptied before any callback runs,
--   and V8 forbids every API call but Reset in the first pass.
--
-- The addon (nan's test/cpp/weak.cpp, reduced):
--
--   void weakCallback(const Nan::WeakCallbackInfo<int>& data) {    // nan: the second pass
--     int* parameter = data.GetParameter();
--     v8::Local<v8::Integer> val = Nan::New(*parameter);           // a handle, no scope
--     delete parameter;
--   }
--   // nan #887's fix: Nan::HandleScope scope; as the callback's first line
--
-- Modelled: nan's two passes (WeakCallbackInfo::invokeparameter: the first pass resets
-- and asks for the second, which calls the user's callback) as p:set_weak{first_pass}
-- with set_second_pass_callback. V8 gives the second pass no scope: here the forced
-- collection (global.gc() in nan's test) is made where no scope is open, so the
-- callback has none to put its handle in. Simplified: scopelab reports an error in a
-- weak callback (warn + callback_errors) where V8 aborts the process.
local scopelab = require "scopelab"

local warnings = {}
local iso <close> = scopelab.isolate { gc_interval = 0, warn = function(m) warnings[#warnings + 1] = m end }
local rec = recorder(iso, "weak callbacks")

-- A wrapper whose object dies at once: its persistent, made weak with 'first_pass'.
local function dying(first_pass, parameter)
  local scope <close> = iso:handle_scope()
  local p = iso:persistent(iso:object())
  p:set_weak { first_pass = first_pass, parameter = parameter, type = "parameter" }
  return p
end

-- nan's two passes around a user callback 'user(parameter)'.
local function nan_weak(user, parameter)
  local p
  p = dying(function(info)
    p:reset()                                        -- nan resets in the first pass
    info:set_second_pass_callback(function(info2) user(info2:parameter()) end)
  end, parameter)
  return p
end

-- 1. nan #886: the second pass makes a handle with no scope.
local seen = {}
nan_weak(function(parameter)
  seen.value = iso:integer(parameter):value()       -- Nan::New(*parameter)
end, 42)
local errors_before = iso:stats().callback_errors
iso:collect("major")                                 -- global.gc(), no scope open here
rec:mark("gc: second pass without a scope")
local no_scope_errors = iso:stats().callback_errors - errors_before
print(("second pass without a scope: %d error(s), value %s; V8 would abort with:")
  :format(no_scope_errors, tostring(seen.value)))
print("  " .. tostring(warnings[#warnings]):gsub("[^ ]+:%d+: ", ""))
claim.equal(1, no_scope_errors, "a second pass that makes a handle with no scope fails")
claim(warnings[#warnings] and warnings[#warnings]:find("cannot create a handle in 'integer' (no handle scope is open)",
  1, true), "with \"no handle scope is open\" (V8: Cannot create a handle without a HandleScope)")
claim.equal(nil, seen.value, "and never reaches its value")

-- nan #887: a HandleScope of its own in the callback.
nan_weak(function(parameter)
  local scope <close> = iso:handle_scope()          -- Nan::HandleScope scope;
  seen.value = iso:integer(parameter):value()
end, 42)
errors_before = iso:stats().callback_errors
iso:collect("major")
rec:mark("gc: second pass with its own scope")
print(("second pass with Nan::HandleScope: %d error(s), value %s, %d handles left")
  :format(iso:stats().callback_errors - errors_before, tostring(seen.value), iso:number_of_handles()))
claim.equal(errors_before, iso:stats().callback_errors, "with a HandleScope of its own it runs cleanly")
claim.equal(42, seen.value, "and makes its handle")
claim.handles(iso, 0, "which dies with the callback's scope")

-- 2. A first pass that frees its native object but forgets Reset().
local native = iso:native_alloc(1024, "Wrap")
dying(function(info) info:parameter():free() end, native)    -- delete wrap; (no Reset)
local err = claim.raises(function() iso:collect("major") end, "Handle not reset in first callback",
  "a first pass that does not reset its handle fails the collection")
rec:mark("gc: first pass forgot Reset")
print("first pass without Reset: " .. tostring(err))
claim(native:is_freed(), "though its clean-up ran")
local wrap = { block = iso:native_alloc(1024, "Wrap") }
wrap.handle = dying(function(info)
  local w = info:parameter()
  w.handle:reset()                                   -- wrap->handle_.Reset();
  w.block:free()                                     -- delete wrap;
end, wrap)
local ok, err2 = pcall(iso.collect, iso, "major")
rec:mark("gc: first pass resets")
print("first pass with Reset: " .. (ok and "the collection completes" or tostring(err2)))
claim(ok, "with handle_.Reset() in the first pass the collection completes")
claim(wrap.block:is_freed() and wrap.handle:is_empty(), "the block freed, the handle empty")
iso:verify()

-- 3. Resurrection: a first pass that tries to keep the dying object alive.
local outer <close> = iso:handle_scope()
local registry = iso:object()                        -- somewhere the addon could store it
local tried = {}
local victim
victim = dying(function()
  local function try(what, fn)
    local okr, r = pcall(fn)
    if not okr then r = tostring(r):gsub("^[^:]+:%d+: ", "") end   -- the message, not its line
    tried[#tried + 1] = { what = what, ok = okr, result = r }
  end
  try("persistent.Get(isolate)", function() return victim:get() end)
  try("new Persistent(registry)", function() return iso:persistent(registry) end)
  try("persistent.Reset(isolate, registry)", function() victim:reset(registry) end)
  try("napi_create_reference", function() return iso:reference(registry, 1) end)
  victim:reset()
end)
iso:collect("major")
rec:mark("gc: resurrection attempts")
print("a first pass trying to keep its object:")
for _, t in ipairs(tried) do
  print(("  %-40s %s"):format(t.what, t.ok and ("returns " .. tostring(t.result)) or ("refused: " .. t.result)))
end
claim(tried[1].ok and tried[1].result == nil,
  "the dying object cannot be read back: its handle was emptied before the callback")
for k = 2, #tried do
  claim(not tried[k].ok and tried[k].result:find("not allowed in a first-pass weak callback", 1, true),
    tried[k].what .. " is refused: \"" .. tostring(tried[k].result) .. "\"")
end
claim.equal(0, iso:persistent_report().total, "no persistent outlived the attempts")
rec:stop()
iso:verify()
