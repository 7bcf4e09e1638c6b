-- SPDX-License-Identifier: MIT
-- What the two shared objects export: the Lua module its luaopen function only
-- (the core linked into it keeps its symbols to itself), the C library exactly
-- the calls scopelab.h marks SL_API (the core's own slX_ functions are hidden).
local helper = require "helper"
local q, must = helper.q, helper.must

local ROOT = must("cd " .. q(debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
  .. "/.. && pwd"):gsub("%s+$", "")

-- The names a shared object exports (defined dynamic symbols).
local function exports(file)
  local names = {}
  for name in must("nm -D --defined-only " .. q(file)):gmatch("%S+ %S+ (%S+)") do
    names[#names + 1] = name
  end
  table.sort(names)
  return names
end

describe("the shared objects", function()
  setup(function() must("cd " .. q(ROOT) .. " && make -s module shared >/dev/null") end)

  it("export only luaopen_scopelab_core from the Lua module", function()
    assert.same({ "luaopen_scopelab_core" }, exports(ROOT .. "/build/scopelab/core.so"))
  end)

  it("export from libscopelab.so exactly the calls scopelab.h marks SL_API", function()
    local header = assert(io.open(ROOT .. "/csrc/include/scopelab.h")):read("a")
      .. assert(io.open(ROOT .. "/csrc/include/scopelab_internal.h")):read("a")
    local declared = {}
    for decl in header:gmatch("\nSL_API [^;{]-%(") do   -- prototypes, not the #define
      declared[#declared + 1] = decl:match("([%w_]+)%s*%($")
    end
    table.sort(declared)
    local got = exports(ROOT .. "/build/libscopelab.so")
    assert.same(declared, got)
    for _, name in ipairs(got) do assert.truthy(name:match("^sl_"), name) end
  end)
end)
