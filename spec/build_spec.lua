-- SPDX-License-Identifier: MIT
-- The build on other people's machines: what a target needs is found by trying it
-- (tools/deps.sh), never by asking dpkg; a missing tool is named with its Debian
-- package; -Werror is for development builds only.
--
-- A machine without some tool is made with PATH: a folder of links to every
-- command of /usr/bin and /usr/sbin except the ones a case takes away (apt-get is
-- always taken away, so that the script names the package instead of installing it).
local helper = require "helper"
local q, sh, must = helper.q, helper.sh, helper.must

local ROOT = must("cd " .. q(debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
  .. "/.. && pwd"):gsub("%s+$", "")

describe("tools/deps.sh", function()
  local tmp

  setup(function()
    tmp = must("mktemp -d ${TMPDIR:-/tmp}/scopelab-deps-spec.XXXXXX"):gsub("%s+$", "")
  end)
  teardown(function()
    if tmp then sh("rm -rf " .. q(tmp)) end
  end)

  -- A PATH with every command but 'without' (a list of names) and apt-get.
  local function path_without(without)
    local dir = tmp .. "/bin-" .. table.concat(without, "-")
    if not sh("test -d " .. q(dir)) then
      must("mkdir " .. q(dir) .. " && ln -s /usr/sbin/* " .. q(dir) .. " && ln -sf /usr/bin/* " .. q(dir))
      for _, name in ipairs(without) do must("rm -f " .. q(dir .. "/" .. name)) end
      must("rm -f " .. q(dir .. "/apt-get"))
    end
    return dir
  end

  -- Runs tools/deps.sh with the given needs and environment; returns ok, output.
  local function deps(env, needs)
    local vars = {}
    for k, v in pairs(env) do vars[#vars + 1] = k .. "=" .. q(v) end
    table.sort(vars)
    return sh(string.format("cd %s && env %s /bin/sh tools/deps.sh %s", q(ROOT),
      table.concat(vars, " "), needs))
  end

  it("says nothing and succeeds when every tool of every need works", function()
    local ok, out = deps({ PATH = path_without {} }, "cc lua-headers lua luassert busted")
    assert.is_true(ok, out)
    assert.equal("", out)
  end)

  it("names build-essential when PATH has no C compiler", function()
    local ok, out = deps({ PATH = path_without { "cc" }, CC = "cc" }, "cc lua-headers")
    assert.is_false(ok)
    assert.truthy(out:find("  cc: 'cc' not found (Debian package build-essential)\n", 1, true), out)
    assert.truthy(out:find("\nscopelab: install them, then run make again:  apt-get install -y "
      .. "build-essential  (as root)\n", 1, true), out)
    assert.falsy(out:find("lua-headers", 1, true), out)      -- found without a compiler
  end)

  it("names lua-busted when PATH has no busted, and only that", function()
    local ok, out = deps({ PATH = path_without { "busted" } }, "cc lua-headers lua busted")
    assert.is_false(ok)
    assert.equal("scopelab: missing what this target needs:\n"
      .. "  busted: 'busted' not found (Debian package lua-busted)\n"
      .. "scopelab: install them, then run make again:  apt-get install -y lua-busted  (as root)\n", out)
  end)

  it("names lua5.4 when PATH has no lua5.4, and the packages that need it", function()
    local ok, out = deps({ PATH = path_without { "lua5.4" } }, "lua luassert")
    assert.is_false(ok)
    assert.truthy(out:find("  lua: 'lua5.4' not found (Debian package lua5.4)\n", 1, true), out)
    assert.truthy(out:find("apt-get install -y lua5.4 lua-luassert  (as root)", 1, true), out)
  end)

  it("names liblua5.4-dev when the only lua.h found is not Lua 5.4's", function()
    must("mkdir -p " .. q(tmp .. "/lua5.3") .. " && printf '#define LUA_VERSION_NUM 503\\n' > "
      .. q(tmp .. "/lua5.3/lua.h") .. " && : > " .. q(tmp .. "/lua5.3/lauxlib.h"))
    local ok, out = deps({ PATH = path_without {}, LUA_CFLAGS = "-I" .. tmp .. "/lua5.3" }, "lua-headers")
    assert.is_false(ok)
    assert.truthy(out:find("  lua-headers: no lua.h of Lua 5.4 with '-I" .. tmp
      .. "/lua5.3' (Debian package liblua5.4-dev)\n", 1, true), out)
  end)

  it("is what make runs, and neither make nor it asks dpkg or apt-get when all works", function()
    -- dpkg-query, apt-get and sudo that leave a trace and fail
    local dir = path_without { "dpkg-query", "dpkg", "sudo" }
    local log = tmp .. "/asked.log"
    for _, name in ipairs { "dpkg-query", "dpkg", "apt-get", "sudo" } do
      local f = assert(io.open(dir .. "/" .. name, "w"))
      f:write("#!/bin/sh\necho \"" .. name .. " $*\" >> " .. q(log) .. "\nexit 1\n")
      f:close()
      must("chmod +x " .. q(dir .. "/" .. name))
    end
    must(string.format("cd %s && env -u MAKEFLAGS -u MFLAGS PATH=%s make --no-print-directory all",
      q(ROOT), q(dir)))
    must(string.format("cd %s && env PATH=%s sh tools/deps.sh cc lua-headers lua luassert busted",
      q(ROOT), q(dir)))
    assert.is_false(sh("test -e " .. q(log)), "asked: " .. select(2, sh("cat " .. q(log))))
  end)
end)

describe("the build flags", function()
  -- The compile line make would run for one core file.
  local function compile_line(args)
    local out = must("env -u MAKEFLAGS -u MFLAGS make --no-print-directory -C " .. q(ROOT)
      .. " -n -B " .. args .. " build/obj/core/heap.o")
    return out:match("[^\n]*csrc/core/heap%.c[^\n]*")
  end

  it("use -Werror in a git checkout (or with RELEASE=0), and not with RELEASE=1", function()
    assert.truthy(compile_line("RELEASE=0"):find(" -Werror", 1, true))
    assert.falsy(compile_line("RELEASE=1"):find("-Werror", 1, true))
    assert.truthy(compile_line("RELEASE=1"):find(" -Wall -Wextra", 1, true))
    local checkout = sh("test -e " .. q(ROOT .. "/.git"))
    assert.equal(checkout, compile_line(""):find(" -Werror", 1, true) ~= nil)
  end)

  it("are the release ones when LuaRocks builds the rockspec", function()
    local spec = {}
    assert(loadfile(ROOT .. "/scopelab-dev-1.rockspec", "t", spec))()
    assert.equal("1", spec.build.build_variables.RELEASE)
    assert.equal("MIT", spec.description.license)
    assert.same({ scopelab = "bin/scopelab" }, spec.build.install.bin)
    assert.same({ "lua >= 5.4, < 5.5", "luassert", "say" }, spec.dependencies)
  end)
end)

describe("the version", function()
  it("is scopelab._VERSION, as lfs and cjson name theirs, from the header's SL_VERSION", function()
    local scopelab = require "scopelab"
    local header = assert(io.open(ROOT .. "/csrc/include/scopelab.h")):read("a")
    local v = assert(header:match('#define SL_VERSION "([^"]+)"'))
    assert.equal("scopelab " .. v, scopelab._VERSION)
    assert.equal(v, scopelab.version)
  end)
end)

describe("make lint", function()
  local function make(args)
    return sh("env -u MAKEFLAGS -u MFLAGS make --no-print-directory -C " .. q(ROOT) .. " " .. args)
  end

  it("says which tools it skipped, and the package of each, instead of 'clean'", function()
    local ok, out = make("lint LUACHECK=no-luacheck CPPCHECK=no-cppcheck CLANG_TIDY=no-clang-tidy")
    assert.is_true(ok, out)
    assert.truthy(out:find("lint: no-luacheck skipped (install lua-check)\n", 1, true), out)
    assert.truthy(out:find("\nlint: no findings, but skipped: no-luacheck (install lua-check), "
      .. "no-cppcheck (install cppcheck), no-clang-tidy (install clang-tidy)\n", 1, true), out)
    assert.falsy(out:find("lint: clean", 1, true), out)
  end)

  it("names each Lua file it checks, with its findings under it", function()
    if not sh("command -v luacheck") then
      pending("luacheck is not installed (lua-check)")
      return
    end
    local tmp = must("mktemp -d ${TMPDIR:-/tmp}/scopelab-lint-spec.XXXXXX"):gsub("%s+$", "")
    local f = assert(io.open(tmp .. "/bad.lua", "w"))
    f:write("local unused = 1\ndo local s <close> = nil end\nreturn 1\n")
    f:close()
    local ok, out = make("lint-lua LINT_LUA=" .. q(tmp .. "/bad.lua lua/scopelab/svg.lua"))
    sh("rm -rf " .. q(tmp))
    assert.is_false(ok)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = (l:gsub("%s+", " ")) end
    local at
    for i, l in ipairs(lines) do if l == " " .. tmp .. "/bad.lua 1 findings" then at = i end end
    assert.truthy(at, out)
    assert.equal(" " .. tmp .. "/bad.lua:1:7: (W211) unused variable 'unused'", lines[at + 1])
    assert.equal(" lua/scopelab/svg.lua ok", lines[at + 2])
    assert.truthy(out:find("\nluacheck: 2 files, 1 warnings (1 on <close> locals ignored)\n", 1, true), out)
  end)
end)
