-- LuaRocks spec for the development version of scopelab.
--   luarocks make scopelab-dev-1.rockspec      (from a checkout: builds with the Makefile)
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
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "make",
   -- Only the Lua module: the C core is linked into core.so statically.
   build_target = "module",
   build_variables = {
      CFLAGS = "$(CFLAGS)",
      LUA_CFLAGS = "-I$(LUA_INCDIR)",
   },
   install_target = "install-lua",
   install_variables = {
      LUA_LIBDIR = "$(LIBDIR)",     -- core.so lands in $(LIBDIR)/scopelab/core.so
      LUA_SHAREDIR = "$(LUADIR)",   -- the front in $(LUADIR)/scopelab/*.lua
   },
   copy_directories = { "docs", "examples" },
}
