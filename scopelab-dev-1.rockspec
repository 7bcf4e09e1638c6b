-- SPDX-License-Identifier: MIT
-- LuaRocks spec for the development version of scopelab.
--   luarocks --lua-version=5.4 make --local    (from a checkout: builds with the Makefile)
-- Debian's luarocks builds for Lua 5.1 unless told otherwise: --lua-version=5.4 is needed.
-- Kept in step with the Makefile: 'module' and 'install-lua' are targets of
-- mk/install.mk, and spec/install_spec.lua runs exactly these two make calls with the
-- variables below, then requires the module from the tree they install into.
rockspec_format = "3.0"
package = "scopelab"
version = "dev-1"
source = {
   -- No public repository yet: replace before publishing. 'luarocks make' in a
   -- checkout builds the files at hand and does not fetch this.
   url = "git+https://example.invalid/scopelab.git",
   branch = "main",
}
description = {
   summary = "V8-style handle scopes over a generational moving heap, as a Lua lab",
   detailed = [[
An isolate with a copying young generation, a sliding mark-compact old generation
and a write barrier, plus V8-style handle scopes, escapable and seal scopes,
persistent/weak/eternal handles and probes that watch objects move and die.
For embedder and addon authors chasing handle leaks, and for people studying GCs.
]],
   labels = { "gc", "v8", "handles", "embedding" },
   license = "MIT",
}
dependencies = {
   "lua >= 5.4, < 5.5",
   -- scopelab.assert extends luassert and writes its messages with say; the
   -- experiment runner (and so bin/scopelab) loads scopelab.assert.
   "luassert",
   "say",
}
build = {
   type = "make",
   -- Only the Lua module: the C core is linked into core.so statically.
   build_target = "module",
   build_variables = {
      RELEASE = "1",                -- no -Werror: a newer compiler's new warning must not fail an install
      CFLAGS = "$(CFLAGS)",
      LUA_CFLAGS = "-I$(LUA_INCDIR)",
   },
   install_target = "install-lua",
   install_variables = {
      LUA_LIBDIR = "$(LIBDIR)",     -- core.so lands in $(LIBDIR)/scopelab/core.so
      LUA_SHAREDIR = "$(LUADIR)",   -- the front in $(LUADIR)/scopelab/*.lua
   },
   -- The command, wrapped by LuaRocks so that it finds the tree it was installed in.
   install = {
      bin = { scopelab = "bin/scopelab" },
   },
   copy_directories = { "docs", "examples" },
}
