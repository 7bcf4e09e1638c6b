-- SPDX-License-Identifier: MIT
-- Opening and closing a scope restores next, limit and level, and frees the extension blocks
-- luacheck: read globals claim
local scopelab = require "scopelab"
-- Small blocks so that one scope needs several of them (V8 uses 1022 slots per block).
local BLOCK = 16
local iso <close> = scopelab.isolate{ block_size = BLOCK }

local function show(when)
  local st = iso:stats()
  print(("%-34s handles %4d  level %d  blocks %d"):format(when, st.handles, st.scope_level, st.blocks))
  return st
end

local outer <close> = iso:handle_scope()
for i = 1, 5 do iso:integer(i) end
local before = show("outer scope, 5 handles:")

do
  local inner <close> = iso:handle_scope()   -- saves next, limit, level
  for i = 1, 3 * BLOCK do iso:integer(i) end  -- fills the block, then extension blocks
  local during = show(("inner scope, %d more handles:"):format(3 * BLOCK))
  claim.equal(before.handles + 3 * BLOCK, during.handles, "each new Local takes one slot")
  claim.equal(before.scope_level + 1, during.scope_level, "opening a scope raises the level by one")
  claim.less(before.blocks, during.blocks, "filling the block allocates extension blocks")
  print(("  extension blocks allocated: %d"):format(during.blocks - before.blocks))
end                                           -- ~HandleScope: restores them

local after = show("inner scope closed:")
claim.equal(before.handles, after.handles, "closing restores 'next': the handle count is as before")
claim.equal(before.scope_level, after.scope_level, "closing restores the level")
claim.equal(before.blocks, after.blocks, "closing frees the extension blocks ('limit' is as before)")

-- The same again, nested three deep: every close undoes exactly its own open.
local levels = {}
local function nest(depth)
  local s <close> = iso:handle_scope()
  for i = 1, BLOCK + 1 do iso:integer(i) end
  levels[#levels + 1] = iso:stats().scope_level
  if depth > 1 then nest(depth - 1) end
end
nest(3)
local final = show("after three nested scopes:")
claim.equal(before.scope_level + 3, levels[3], "three nested scopes stand three levels above the outer one")
claim.equal(before.handles, final.handles, "nested scopes leave no handle behind")
claim.equal(before.blocks, final.blocks, "nested scopes leave no block behind")
