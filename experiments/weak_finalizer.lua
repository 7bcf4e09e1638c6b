-- SPDX-License-Identifier: MIT
-- The weak-callback finalizer: a native resource is freed when its wrapper object dies (ObjectWrap)
-- luacheck: read globals claim
local scopelab = require "scopelab"
-- The point is the scavenge below: no stress collections may promote the wrappers first.
local iso <close> = scopelab.isolate{ gc_interval = 0 }

-- The "native" side: file descriptors in a Lua table, as a C addon keeps FILE*.
local native = { open = {}, count = 0, closed = {} }
local function native_open(path)
  native.count = native.count + 1
  native.open[path] = true
  return path
end
local function native_close(path)
  native.open[path] = nil
  native.count = native.count - 1
  native.closed[#native.closed + 1] = path
end

-- class File : public ObjectWrap {  // the wrapper's Persistent is weak; its callback deletes the File
local wrappers = {}                  -- the addon keeps its Persistent handles (not the objects)
local emptied_in_callback = 0
local function wrap(path)
  local wrapper = iso:array(1)
  wrapper:set(1, iso:string(path))
  local fd = native_open(path)
  local p = iso:persistent(wrapper)
  p:set_weak(function(handle)
    if handle:is_empty() then emptied_in_callback = emptied_in_callback + 1 end
    native_close(fd)                 -- delete file;  (the object is already gone)
  end)
  wrappers[#wrappers + 1] = p
  return wrapper
end

local outer <close> = iso:handle_scope()
local kept = wrap("kept.txt")        -- stays reachable from this scope
do
  local scope <close> = iso:handle_scope()
  wrap("a.txt"); wrap("b.txt"); wrap("c.txt")
end                                  -- their wrappers are now unreachable
print(("before collecting: %d native files open, %d weak handles"):format(
  native.count, iso:stats().weak_handles))
claim.equal(4, native.count, "four native resources are open")

iso:collect("minor")                 -- young wrappers held only weakly die in a scavenge
print(("after a minor collection: %d open (%s), closed: %s"):format(native.count,
  next(native.open), table.concat(native.closed, ", ")))
claim.equal(1, native.count, "the three unreachable wrappers had their resources freed")
claim(native.open["kept.txt"], "the reachable wrapper keeps its resource")
claim.equal(3, emptied_in_callback, "each callback saw its handle already empty (phantom semantics)")
claim.alive(wrappers[1], "the weak handle of the reachable wrapper still holds it")

iso:collect("major"); iso:collect("minor")
claim.equal(3, #native.closed, "callbacks run exactly once, not again at later collections")
claim.equal("kept.txt", kept:get(1):value(), "the surviving wrapper is intact after it moved")
