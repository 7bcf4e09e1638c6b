-- SPDX-License-Identifier: MIT
-- scopelab: the Lua front of the C module 'scopelab.core'.
--
-- Kept thin on purpose: everything lives in C (csrc/lua/lscopelab.c) except the
-- process-wide defaults for new isolates, which a spec helper or a runner sets once
-- (e.g. the stress options of `make test-stress`). See docs/API.md.
local core = require "scopelab.core"

local M = {}
for k, v in pairs(core) do M[k] = v end

-- "scopelab X.Y.Z", as lfs has "LuaFileSystem 1.8.0" and Lua "Lua 5.4"; the
-- number alone is 'version', both from the core's version string (SL_VERSION).
M._VERSION = "scopelab " .. core.version

local defaults = {}

local function copy(t)
  local c = {}
  for k, v in pairs(t) do
    if k == "gc_at" and type(v) == "table" then
      local l = {}
      for i, x in ipairs(v) do l[i] = x end
      v = l
    end
    c[k] = v
  end
  return c
end

--- Sets the options every later `scopelab.isolate(opts)` starts from; keys given
-- in `opts` override them. `set_defaults()` (or `{}`) clears them. Validated now,
-- so a bad default fails here rather than at the first isolate.
function M.set_defaults(t)
  if t ~= nil and type(t) ~= "table" then
    error(("bad argument #1 to 'set_defaults' (table expected, got %s)"):format(type(t)), 2)
  end
  local ok, err = pcall(core.isolate, t or {})
  if not ok then error((err:gsub("'isolate'", "'set_defaults'", 1)), 2) end
  err:dispose()
  defaults = copy(t or {})
end

--- A copy of the current defaults.
function M.defaults()
  return copy(defaults)
end

--- scopelab.isolate([opts]) -> Isolate
function M.isolate(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #1 to 'isolate' (table expected, got %s)"):format(type(opts)), 2)
  end
  local o = opts
  if next(defaults) ~= nil then
    o = copy(defaults)
    for k, v in pairs(opts or {}) do o[k] = v end
  end
  -- called through pcall so that an error points at the caller, not at this file
  local ok, iso = pcall(core.isolate, o)
  if not ok then error(iso, 2) end
  return iso
end

-- The Node.js addon lab (issue 15), loaded on first use: scopelab.loop(iso [, opts]) is
-- require("scopelab.loop")(iso [, opts]), scopelab.napi(iso, loop [, opts]) likewise.
function M.loop(iso, opts) return require("scopelab.loop").new(iso, opts) end
function M.napi(iso, loop, opts) return require("scopelab.napi").new(iso, loop, opts) end

require("scopelab.diag").install(M)   -- diff, to_json; snapshot:json() (issue 6)

return M
