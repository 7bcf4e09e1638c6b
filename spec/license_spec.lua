-- SPDX-License-Identifier: MIT
-- license_spec.lua: the project is MIT-licensed, and every source file says so.
--
-- The files are what git tracks (in a checkout) or what a walk finds (in a tarball):
-- C and C++ sources and headers, Lua (modules, specs, experiments, benchmarks, the
-- rockspec and the tool configurations), makefiles, shell scripts, the CLI and the man
-- page. Each names its license in an SPDX tag on its first line (the second after a #!).

local helper = require "helper"

local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/.."
local TAG = "SPDX-License-Identifier: MIT"

local function is_source(f)
  if f:match("^fuzz/corpus/") then return false end
  return f:match("%.[ch]$") or f:match("%.cc$") or f:match("%.lua$") or f:match("%.mk$")
    or f:match("%.sh$") or f:match("%.rockspec$") or f:match("%.pc%.in$") or f:match("%.1$")
    or f:match("^Makefile$") or f:match("^%.busted$") or f:match("^%.luacheckrc$")
    or f == "bin/scopelab" or f == ".ci/run"
end

local function tracked_files()
  local q = helper.q
  local p = io.popen("cd " .. q(ROOT) .. " && (git ls-files 2>/dev/null || find . -type f "
    .. "-not -path './build/*' -not -path './.git/*' | sed 's|^\\./||')")
  local list = {}
  for f in p:lines() do if is_source(f) then list[#list + 1] = f end end
  p:close()
  return list
end

describe("the license", function()
  it("is MIT, in LICENSE and in the rockspec", function()
    local license = assert(io.open(ROOT .. "/LICENSE")):read("a")
    assert.truthy(license:find("MIT License", 1, true), "LICENSE: not the MIT license")
    local p = io.popen("ls " .. helper.q(ROOT) .. "/*.rockspec")
    local rockspec = p:read("l"); p:close()
    local text = assert(io.open(rockspec)):read("a")
    assert.truthy(text:find('license%s*=%s*"MIT"'), rockspec .. ": no license = \"MIT\"")
  end)

  it("is named by an SPDX tag at the top of every source file", function()
    local files, missing = tracked_files(), {}
    assert.is_true(#files > 100, "found only " .. #files .. " source files")
    for _, f in ipairs(files) do
      local h = assert(io.open(ROOT .. "/" .. f))
      local first = h:read("l") or ""
      if first:match("^#!") then first = h:read("l") or "" end
      h:close()
      if not first:find(TAG, 1, true) then missing[#missing + 1] = f end
    end
    assert.same({}, missing, "files whose first line is not the SPDX tag")
  end)
end)
