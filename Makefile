# SPDX-License-Identifier: MIT
# scopelab: build, test and run.
#
#   make          the core library and the Lua module
#   make test     C unit tests, then the specs (busted --lua=lua5.4); last line "N passed, N failed"
#   make run      every experiment, with a summary table and reports
#   make deps     makes sure every tool of every target works (see below)
#
# What a target needs is checked by trying it (tools/deps.sh): the C compiler and the
# Lua 5.4 headers for 'make', busted too for 'make test', lua5.4 and luassert for
# 'make run', Boehm GC for 'make bench'. Nothing is asked of dpkg: when all works,
# the check is silent. When something is missing, as root with apt-get the Debian
# package is installed; otherwise its name is printed and the target fails.
#
# -Werror is for development builds only: a git checkout, unless RELEASE=1. A
# release tarball and the rockspec (RELEASE=1) build with warnings as warnings, so
# a newer compiler's new warning cannot break an install.

CC      ?= cc
LUA     ?= lua5.4
# always called with --lua=$(LUA): plain lua may be 5.1
BUSTED  ?= busted
BUILD   ?= build

RELEASE ?= $(if $(wildcard .git),,1)
WERROR   = $(if $(filter-out 0 no,$(RELEASE)),,-Werror)
WARN     = -Wall -Wextra $(WERROR)
CSTD     = -std=c11
OPT     ?= -O2 -g
CFLAGS  ?=
CFLAGS_ALL = $(CSTD) -D_POSIX_C_SOURCE=200809L $(OPT) $(WARN) -fPIC -Icsrc/include -Icsrc/core $(CFLAGS)
LDFLAGS ?=

LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)

CORE_SRC := $(wildcard csrc/core/*.c)
CORE_OBJ := $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(CORE_SRC))
CORE_HDR := $(wildcard csrc/core/*.h csrc/include/*.h)
LIB      := $(BUILD)/libscopelab.a
LUAMOD   := $(BUILD)/scopelab/core.so
BIND_OBJ := $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(wildcard csrc/lua/*.c))
CTEST_SRC := $(wildcard csrc/tests/*.c)
CTEST    := $(BUILD)/tests/test_core

# The pure-Lua front, relative to lua/ (installed and embedded by mk/*.mk); defined
# here, before the mk/ files whose rules list it as prerequisites.
LUA_FRONT := $(patsubst lua/%,%,$(shell find lua/scopelab -name '*.lua' 2>/dev/null | sort))

# tools/deps.sh NEED...: checks (and, as root, installs) what a target needs, with
# the tools this Makefile was told to use.
DEPS = CC='$(CC)' LUA='$(LUA)' BUSTED='$(BUSTED)' LUA_CFLAGS='$(LUA_CFLAGS)' sh tools/deps.sh

# Every Lua process started here finds the module in the tree.
export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/spec/?.lua;;
export LUA_CPATH := $(CURDIR)/$(BUILD)/?.so;;

.PHONY: all deps deps-build test ctest spec run clean
all: $(LIB) $(LUAMOD)

# Every object waits for the build check (order-only: the check is no reason to
# rebuild); one compile of a two-line file, so it costs little on each 'make'.
$(CORE_OBJ) $(BIND_OBJ): | deps-build
deps-build:
	@$(DEPS) cc lua-headers

# Everything any target uses, at once (what a fresh machine wants first).
deps:
	@$(DEPS) cc lua-headers lua luassert busted boehm

# The core's symbols are hidden but for what scopelab.h marks SL_API, so the
# shared library exports the public API only.
$(BUILD)/obj/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fvisibility=hidden -c $< -o $@

$(LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/lua/%.o: csrc/lua/%.c $(CORE_HDR) $(wildcard csrc/lua/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LUA_CFLAGS) -c $< -o $@

# The module exports luaopen_scopelab_core only: the core linked into it from
# the archive keeps its symbols to itself (--exclude-libs).
$(LUAMOD): $(BIND_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $^ -Wl,--exclude-libs,ALL $(LDFLAGS) -lm

$(CTEST): $(CTEST_SRC) $(wildcard csrc/tests/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icsrc/tests $(CTEST_SRC) $(LIB) -o $@ $(LDFLAGS) -lm -pthread

ctest: all $(CTEST)
	$(CTEST)

spec: all
	@$(DEPS) lua busted
	$(BUSTED) --lua=$(LUA) spec

# C tests and specs, each summarised, then one total line for CI.
test: all $(CTEST)
	@$(DEPS) lua busted
	@sh tools/test-all.sh "$(CTEST)" "$(BUSTED) --lua=$(LUA)" "$(BUSTED_ARGS)"

# The V8 experiments, then the Node.js addon cases (experiments/node/).
EXPERIMENTS = $(sort $(wildcard experiments/*.lua)) $(sort $(wildcard experiments/node/*.lua))

run: all
	@$(DEPS) lua luassert
	$(LUA) lua/scopelab/runner.lua --report $(BUILD)/reports $(EXPERIMENTS)

clean:
	rm -rf $(BUILD)

# Targets of the other mechanisms (bench, fuzz, install, lint, ...) live beside this.
-include $(wildcard mk/*.mk)
