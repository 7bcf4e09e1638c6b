-- SPDX-License-Identifier: MIT
-- A SealHandleScope turns a forgotten HandleScope into an error at the very call that would leak
-- luacheck: read globals claim
local scopelab = require "scopelab"
local iso <close> = scopelab.isolate()
local outer <close> = iso:handle_scope()

-- A helper that forgets its own HandleScope: its Local lands in the caller's scope and
-- stays there until the caller's scope closes (the loop-leak of native addons).
local function leaky_helper(i)
  local n = iso:integer(i)
  return n:value()
end

-- The same helper done right: { HandleScope scope(isolate); ... }.
local function careful_helper(i)
  local scope <close> = iso:handle_scope()
  local n = iso:integer(i)
  return n:value()
end

-- void Loop(...) { SealHandleScope seal(isolate); for (...) Helper(i); }
do
  local seal <close> = iso:seal_handle_scope()
  local err = claim.raises(function() leaky_helper(1) end, "the innermost scope is a seal scope",
    "under a seal, a helper that creates a Local without its own scope is caught at that call")
  print("leaky helper under the seal: " .. tostring(err))
  local sum = 0
  for i = 1, 100 do sum = sum + careful_helper(i) end
  claim.equal(5050, sum, "a helper that opens its own HandleScope works under the seal")
  claim.handles(iso, 0, "the seal let no Local into the outer scope")
end

-- Without the seal the leaky helper 'works', and every call leaves a Local behind.
for i = 1, 100 do leaky_helper(i) end
print(("without the seal: 100 calls of the leaky helper left %d Locals in the outer scope"):format(
  iso:number_of_handles()))
claim.handles(iso, 100, "without a seal each leaky call leaves one Local in the caller's scope")
