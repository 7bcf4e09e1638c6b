-- SPDX-License-Identifier: MIT
-- install_spec.lua: scopelab installs where Lua and C users look for it.
--
-- Each case installs into its own temporary DESTDIR with `make install`, then uses
-- the installed tree from another folder, the way a user would after a real install:
-- lua5.4 with LUA_PATH/LUA_CPATH pointed at the tree, pkg-config with PKG_CONFIG_PATH
-- and PKG_CONFIG_SYSROOT_DIR, and a C program built with `pkg-config --cflags --libs`.

local helper = require "helper"
local q, sh, must = helper.q, helper.sh, helper.must

local function exists(path) return sh("test -e " .. q(path)) end
local function executable(path) return sh("test -x " .. q(path)) end

local ROOT = must("cd " .. q(debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".")
  .. "/.. && pwd"):gsub("%s+$", "")
local HEADER = assert(io.open(ROOT .. "/csrc/include/scopelab.h")):read("a")
local VERSION = HEADER:match('#define SL_VERSION "([^"]+)"')
local ABI = HEADER:match('#define SL_ABI_VERSION (%d+)')
local SHLIB = "libscopelab.so." .. ABI .. "." .. VERSION   -- its soname: libscopelab.so.ABI

-- make -C ROOT with arguments; the Makefile's own LUA_PATH/LUA_CPATH are not passed on.
local function make(args)
  return must("env -u MAKEFLAGS -u MFLAGS make --no-print-directory -C " .. q(ROOT) .. " " .. args)
end

-- Runs a Lua chunk in lua5.4 from 'dir', finding modules only through the given
-- path and cpath (plus Lua's defaults, so Debian's own modules stay reachable).
local function lua_in(dir, path, cpath, chunk)
  return must(string.format(
    "cd %s && env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s",
    q(dir), q(path .. ";;"), q(cpath .. ";;"), q(chunk)))
end

-- What a user's first script does: load, make an isolate, round-trip a value.
-- Prints where both halves of the module were found.
local SMOKE = [[
local scopelab = require "scopelab"
print(package.searchpath("scopelab", package.path))
print(package.searchpath("scopelab.core", package.cpath))
local iso = scopelab.isolate()
local scope = iso:handle_scope()
print(iso:integer(42):value(), iso:string("installed"):value())
scope:close()
iso:dispose()
]]

local function new_tmp()
  return (must("mktemp -d ${TMPDIR:-/tmp}/scopelab-install.XXXXXX"):gsub("%s+$", ""))
end

describe("make install", function()
  local tmp, dest, pre
  local prefix = "/usr/local"

  setup(function()
    tmp = new_tmp()
    dest = tmp .. "/dest"
    pre = dest .. prefix
    make("install DESTDIR=" .. q(dest) .. " PREFIX=" .. prefix)
    must("mkdir " .. q(tmp .. "/elsewhere"))
  end)

  teardown(function()
    if tmp then sh("rm -rf " .. q(tmp)) end
  end)

  it("puts the Lua module under lib/lua/5.4 and the Lua front under share/lua/5.4", function()
    assert.is_true(exists(pre .. "/lib/lua/5.4/scopelab/core.so"))
    assert.is_true(exists(pre .. "/share/lua/5.4/scopelab/init.lua"))
    local front = must("cd " .. q(ROOT .. "/lua") .. " && find scopelab -name '*.lua' | sort")
    local installed = must("cd " .. q(pre .. "/share/lua/5.4") .. " && find scopelab -name '*.lua' | sort")
    assert.are.equal(front, installed)
  end)

  it("puts the static and shared C library, the header and scopelab.pc under PREFIX", function()
    assert.is_true(exists(pre .. "/lib/libscopelab.a"))
    assert.is_true(exists(pre .. "/lib/libscopelab.so"))
    assert.is_true(exists(pre .. "/lib/" .. SHLIB))
    assert.is_true(exists(pre .. "/include/scopelab.h"))
    assert.is_true(exists(pre .. "/include/scopelab_internal.h"))
    assert.is_true(exists(pre .. "/lib/pkgconfig/scopelab.pc"))
    local soname = must("readelf -d " .. q(pre .. "/lib/" .. SHLIB))
    assert.truthy(soname:find("libscopelab.so." .. ABI .. "]", 1, true))
  end)

  it("lets lua5.4 require scopelab from another folder with paths pointed at the install", function()
    local out = lua_in(tmp .. "/elsewhere",
      pre .. "/share/lua/5.4/?.lua;" .. pre .. "/share/lua/5.4/?/init.lua",
      pre .. "/lib/lua/5.4/?.so", SMOKE)
    local front, core, value = out:match("^([^\n]*)\n([^\n]*)\n([^\n]*)")
    assert.are.equal(pre .. "/share/lua/5.4/scopelab/init.lua", front)
    assert.are.equal(pre .. "/lib/lua/5.4/scopelab/core.so", core)
    assert.are.equal("42\tinstalled", value)
  end)

  it("writes a scopelab.pc that pkg-config finds, with the header's version", function()
    local pc = "PKG_CONFIG_PATH=" .. q(pre .. "/lib/pkgconfig")
      .. " PKG_CONFIG_SYSROOT_DIR=" .. q(dest) .. " pkg-config "
    assert.are.equal(VERSION, (must(pc .. "--modversion scopelab"):gsub("%s+$", "")))
    assert.truthy(must(pc .. "--cflags scopelab"):find("-I" .. pre .. "/include", 1, true))
    local libs = must(pc .. "--libs scopelab")
    assert.truthy(libs:find("-L" .. pre .. "/lib", 1, true))
    assert.truthy(libs:find("-lscopelab", 1, true))
    assert.truthy(must(pc .. "--static --libs scopelab"):find("-lm", 1, true))
  end)

  it("links a C program with pkg-config --cflags --libs scopelab and runs it", function()
    local src = tmp .. "/elsewhere/hello.c"
    local f = assert(io.open(src, "w"))
    f:write([[
#include <stdio.h>
#include <scopelab.h>
int main(void) {
  sl_options o; sl_isolate *iso; sl_scope s; sl_local h; int64_t v = 0;
  sl_options_init(&o);
  iso = sl_isolate_new(&o);
  if (!iso || sl_scope_open(iso, &s) || sl_integer(iso, 7, &h) || sl_integer_value(iso, h, &v))
    return 1;
  printf("%s %lld %zu\n", SL_VERSION, (long long)v, sl_number_of_handles(iso));
  sl_scope_close(&s);
  return sl_isolate_dispose(iso) != SL_OK;
}
]])
    f:close()
    local pc = "PKG_CONFIG_PATH=" .. q(pre .. "/lib/pkgconfig")
      .. " PKG_CONFIG_SYSROOT_DIR=" .. q(dest) .. " pkg-config"
    must("cd " .. q(tmp .. "/elsewhere") .. " && cc -std=c11 -Wall -Werror hello.c -o hello $("
      .. pc .. " --cflags --libs scopelab)")
    local out = must("cd " .. q(tmp .. "/elsewhere") .. " && LD_LIBRARY_PATH=" .. q(pre .. "/lib")
      .. " ./hello")
    assert.are.equal(VERSION .. " 7 1\n", out)
    local needed = must("readelf -d " .. q(tmp .. "/elsewhere/hello"))
    assert.truthy(needed:find("libscopelab.so." .. ABI .. "]", 1, true))
  end)

  it("installs a bin/scopelab that runs an experiment from another folder", function()
    if not exists(ROOT .. "/bin/scopelab") then
      pending("bin/scopelab is not in this tree yet")
      return
    end
    assert.is_true(executable(pre .. "/bin/scopelab"))
    local share = pre .. "/share/lua/5.4"
    local out = must(string.format(
      "cd %s && env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 LUA_PATH=%s LUA_CPATH=%s %s run --report %s %s",
      q(tmp .. "/elsewhere"), q(share .. "/?.lua;" .. share .. "/?/init.lua;;"),
      q(pre .. "/lib/lua/5.4/?.so;;"), q(pre .. "/bin/scopelab"), q(tmp .. "/report"),
      q(ROOT .. "/experiments/escapable_scope.lua")))
    assert.truthy(out:find("1 experiments, 0 failed", 1, true), out)
  end)
end)

describe("an installed scopelab command", function()
  local tmp, prefix, empty

  setup(function()
    tmp = new_tmp()
    prefix = tmp .. "/prefix"
    make("install PREFIX=" .. q(prefix))
    empty = tmp .. "/empty"
    must("mkdir " .. q(empty))
    local f = assert(io.open(tmp .. "/my_experiment.lua", "w"))
    f:write('local iso <close> = require("scopelab").isolate()\nclaim(iso:stats() ~= nil, "an isolate")\n')
    f:close()
  end)

  teardown(function()
    if tmp then sh("rm -rf " .. q(tmp)) end
  end)

  -- The installed command from the empty folder, with no LUA_PATH/LUA_CPATH at all.
  local function scopelab(args)
    return sh(string.format("cd %s && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 %s %s",
      q(empty), q(prefix .. "/bin/scopelab"), args))
  end

  it("runs the file it is given from an empty folder and reports to ./scopelab-report", function()
    must("cp " .. q(tmp .. "/my_experiment.lua") .. " " .. q(empty))
    local ok, out = scopelab("run my_experiment.lua")
    assert.is_true(ok, out)
    assert.truthy(out:find("my_experiment | 1/1    | pass", 1, true), out)
    assert.truthy(out:find("report: " .. empty .. "/scopelab-report/index.html", 1, true), out)
    assert.is_true(exists(empty .. "/scopelab-report/my_experiment.log"))
    assert.is_false(exists(prefix .. "/build"))
    local _, again = scopelab("run --report elsewhere " .. q(tmp .. "/my_experiment.lua"))
    assert.truthy(again:find("report: " .. empty .. "/elsewhere/index.html", 1, true), again)
  end)

  it("runs only the files it is given, and says so when there is none", function()
    local ok, out, code = scopelab("run")
    assert.is_false(ok)
    assert.are.equal(2, code)
    assert.truthy(out:find("scopelab: no experiment files given", 1, true), out)
    assert.is_nil(out:find(prefix .. "/experiments", 1, true))
  end)

  it("prints the version of the header with --version", function()
    local ok, out = scopelab("--version")
    assert.is_true(ok, out)
    assert.are.equal("scopelab " .. VERSION .. "\n", out)
  end)

  it("comes with its documents under share/doc/scopelab and a man page", function()
    assert.is_true(exists(prefix .. "/share/doc/scopelab/README.md"))
    assert.is_true(exists(prefix .. "/share/doc/scopelab/docs/API.md"))
    assert.is_true(exists(prefix .. "/share/man/man1/scopelab.1"))
    -- (not under the ASan runtime that test-asan preloads: troff trips over it)
    local page = must("env -u LD_PRELOAD MANWIDTH=80 man -l " .. q(prefix .. "/share/man/man1/scopelab.1")
      .. " 2>&1")
    assert.truthy(page:find("scopelab - run scopelab experiments", 1, true), page)
  end)
end)

describe("make uninstall", function()
  it("leaves nothing of an install into a fresh prefix, and keeps a folder that was there", function()
    local tmp = new_tmp()
    must("mkdir -p " .. q(tmp .. "/p/bin") .. " && touch " .. q(tmp .. "/p/bin/mine"))
    make("install PREFIX=" .. q(tmp .. "/p"))
    make("install PREFIX=" .. q(tmp .. "/p"))          -- twice: the second creates nothing
    assert.is_true(exists(tmp .. "/p/share/man/man1/scopelab.1"))
    make("uninstall PREFIX=" .. q(tmp .. "/p"))
    local left = must("cd " .. q(tmp) .. " && find . | sort")
    make("install DESTDIR=" .. q(tmp .. "/dest") .. " PREFIX=/usr/local")
    make("uninstall DESTDIR=" .. q(tmp .. "/dest") .. " PREFIX=/usr/local")
    local dest = exists(tmp .. "/dest")
    sh("rm -rf " .. q(tmp))
    assert.are.equal(".\n./p\n./p/bin\n./p/bin/mine\n", left)
    assert.is_false(dest)
  end)

  it("removes every file make install put under another PREFIX", function()
    local tmp = new_tmp()
    local dest = tmp .. "/dest"
    make("install DESTDIR=" .. q(dest) .. " PREFIX=/opt/scopelab")
    assert.is_true(exists(dest .. "/opt/scopelab/lib/lua/5.4/scopelab/core.so"))
    assert.is_true(exists(dest .. "/opt/scopelab/lib/pkgconfig/scopelab.pc"))
    local pc = assert(io.open(dest .. "/opt/scopelab/lib/pkgconfig/scopelab.pc")):read("a")
    assert.truthy(pc:find("prefix=/opt/scopelab\n", 1, true))
    make("uninstall DESTDIR=" .. q(dest) .. " PREFIX=/opt/scopelab")
    local left = must("find " .. q(dest) .. " ! -type d 2>/dev/null || true")
    sh("rm -rf " .. q(tmp))
    assert.are.equal("", left)
  end)
end)

describe("the rockspec", function()
  local spec = {}
  assert(loadfile(ROOT .. "/scopelab-dev-1.rockspec", "t", spec))()

  -- LuaRocks' own values for the variables the rockspec refers to.
  local function expand(s, vars)
    return (s:gsub("%$%(([%w_]+)%)", function(k) return assert(vars[k], "unknown variable " .. k) end))
  end
  local function make_args(tbl, vars)
    local args = {}
    for k, v in pairs(tbl) do args[#args + 1] = k .. "=" .. q(expand(v, vars)) end
    table.sort(args)
    return table.concat(args, " ")
  end

  it("names only variables the Makefile uses", function()
    local mk = must("cat " .. q(ROOT .. "/Makefile") .. " " .. q(ROOT) .. "/mk/*.mk")
    for _, tbl in ipairs { spec.build.build_variables, spec.build.install_variables } do
      for k in pairs(tbl) do
        assert.truthy(mk:find("$(" .. k .. ")", 1, true), "the Makefile does not use " .. k)
      end
    end
  end)

  it("builds and installs a requirable module with the make targets and variables it names", function()
    assert.are.equal("make", spec.build.type)
    local tmp = new_tmp()
    local vars = { CFLAGS = "-O2 -fPIC", LUA_INCDIR = "/usr/include/lua5.4",
                   LIBDIR = tmp .. "/rock/lib", LUADIR = tmp .. "/rock/lua" }
    make(spec.build.build_target .. " " .. make_args(spec.build.build_variables, vars))
    make(spec.build.install_target .. " " .. make_args(spec.build.install_variables, vars))
    local out = lua_in(tmp, vars.LUADIR .. "/?.lua;" .. vars.LUADIR .. "/?/init.lua",
      vars.LIBDIR .. "/?.so", SMOKE)
    sh("rm -rf " .. q(tmp))
    assert.truthy(out:find(vars.LIBDIR .. "/scopelab/core.so\n", 1, true), out)
    assert.truthy(out:find("\n42\tinstalled\n", 1, true), out)
  end)
end)
