# SPDX-License-Identifier: MIT
# mk/examples.mk: build and run the two embedding examples.
#
#   make examples                     both, each checks its own claims (exit 1 if wrong)
#   make examples EXAMPLE_SCRIPT=x.lua EXAMPLE_BENCH=   the host runs other experiments
#
# scopelab-host  examples/host.c: Lua 5.4 embedded, scopelab.core registered with
#                luaL_requiref and the Lua front compiled in (front.h); it runs
#                experiments under the embedded scopelab.runner. It runs from another
#                folder with LUA_PATH/LUA_CPATH unset, to show that it needs no
#                scopelab files on disk: first experiments/escapable_scope.lua (verbose), then
#                every experiments/*.lua and experiments/node/*.lua (quiet, the summary
#                table only).
# hello-cxx      examples/hello.cc: the same install from C++17 (-pedantic -Werror),
#                so the public header and its inline calls stay valid C++.
# interp         examples/interp.c: C only. Built the way a user builds against an
#                installed scopelab: 'make install' into a staging DESTDIR, then
#                cc ... $(pkg-config --cflags --libs scopelab) with PKG_CONFIG_PATH and
#                PKG_CONFIG_SYSROOT_DIR pointing at it; runs against the staged
#                libscopelab.so through LD_LIBRARY_PATH.

EX_BUILD       := $(BUILD)/examples
EX_STAGE       := $(CURDIR)/$(EX_BUILD)/stage
EX_PREFIX      := /usr/local
EX_PKGCONFIG    = PKG_CONFIG_PATH=$(EX_STAGE)$(EX_PREFIX)/lib/pkgconfig \
                  PKG_CONFIG_SYSROOT_DIR=$(EX_STAGE) pkg-config
EXAMPLE_SCRIPT ?= experiments/escapable_scope.lua
EXAMPLE_BENCH  ?= $(wildcard experiments/*.lua) $(wildcard experiments/node/*.lua)
EX_HOST         = cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 \
                  $(CURDIR)/$(EX_BUILD)/scopelab-host
LUA_LIBS       := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
EX_CFLAGS       = $(CSTD) $(OPT) $(WARN) $(CFLAGS)

.PHONY: examples examples-build examples-stage

examples: examples-build
	@echo "== scopelab-host $(EXAMPLE_SCRIPT) (run from /, LUA_PATH and LUA_CPATH unset)"
	$(EX_HOST) $(abspath $(EXAMPLE_SCRIPT))
ifneq ($(strip $(EXAMPLE_BENCH)),)
	@echo "== scopelab-host --quiet experiments/*.lua experiments/node/*.lua (the embedded runner)"
	$(EX_HOST) --quiet $(abspath $(EXAMPLE_BENCH))
endif
	@echo "== interp (linked with: $$($(EX_PKGCONFIG) --libs scopelab))"
	LD_LIBRARY_PATH=$(EX_STAGE)$(EX_PREFIX)/lib $(EX_BUILD)/interp
	@echo "== hello-cxx (C++17, -pedantic, against the installed headers)"
	LD_LIBRARY_PATH=$(EX_STAGE)$(EX_PREFIX)/lib $(EX_BUILD)/hello-cxx

examples-build: $(EX_BUILD)/scopelab-host $(EX_BUILD)/interp $(EX_BUILD)/hello-cxx

$(EX_BUILD)/front.h: examples/embed-front.lua $(addprefix lua/,$(LUA_FRONT))
	@mkdir -p $(dir $@)
	$(LUA) examples/embed-front.lua lua $(LUA_FRONT) > $@.tmp && mv $@.tmp $@

$(EX_BUILD)/scopelab-host: examples/host.c $(EX_BUILD)/front.h $(BIND_OBJ) $(LIB)
	$(CC) $(EX_CFLAGS) $(LUA_CFLAGS) -I$(EX_BUILD) examples/host.c $(BIND_OBJ) $(LIB) \
	  -o $@ $(LDFLAGS) $(LUA_LIBS) -lm

# Always re-staged: an install is cheap and must match the current build.
examples-stage: $(LIB) $(SHLIB)
	@rm -rf $(EX_STAGE)
	$(MAKE) --no-print-directory install-c DESTDIR=$(EX_STAGE) PREFIX=$(EX_PREFIX)

$(EX_BUILD)/hello-cxx: examples/hello.cc examples-stage
	$(CXX) -std=c++17 -pedantic -Wall -Wextra -Werror $(OPT) examples/hello.cc -o $@ $(LDFLAGS) \
	  $$($(EX_PKGCONFIG) --cflags --libs scopelab)

$(EX_BUILD)/interp: examples/interp.c examples-stage
	$(CC) $(EX_CFLAGS) examples/interp.c -o $@ $(LDFLAGS) \
	  $$($(EX_PKGCONFIG) --cflags --libs scopelab)
