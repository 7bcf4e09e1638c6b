# scopelab: build, test and run.
#
#   make          the core library and the Lua module
#   make test     C unit tests, then the specs (busted --lua=lua5.4); last line "N passed, N failed"
#   make run      every experiment, with a summary table and reports
#
# Missing Debian packages are installed with apt-get when running as root
# (see 'deps'); otherwise the exact apt-get line is printed.

CC      ?= cc
LUA     ?= lua5.4
BUSTED  ?= busted# always called with --lua=$(LUA): plain lua may be 5.1
BUILD   ?= build

WARN     = -Wall -Wextra -Werror
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
CTEST_SRC := $(wildcard csrc/tests/*.c)
CTEST    := $(BUILD)/tests/test_core

# The pure-Lua front, relative to lua/ (installed and embedded by mk/*.mk); defined
# here, before the mk/ files whose rules list it as prerequisites.
LUA_FRONT := $(patsubst lua/%,%,$(shell find lua/scopelab -name '*.lua' 2>/dev/null | sort))

DEB_PKGS := build-essential pkg-config lua5.4 liblua5.4-dev lua-busted

# Every Lua process started here finds the module in the tree.
export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/spec/?.lua;;
export LUA_CPATH := $(CURDIR)/$(BUILD)/?.so;;

.PHONY: all deps test ctest spec run clean
all: deps $(LIB) $(LUAMOD)

# Installs what is missing (Debian 12). Quiet when everything is present.
deps:
	@sh tools/deps.sh $(DEB_PKGS)

$(BUILD)/obj/%.o: csrc/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/lua/%.o: csrc/lua/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LUA_CFLAGS) -c $< -o $@

$(LUAMOD): $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(wildcard csrc/lua/*.c)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $^ $(LDFLAGS) -lm

$(CTEST): $(CTEST_SRC) $(wildcard csrc/tests/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icsrc/tests $(CTEST_SRC) $(LIB) -o $@ $(LDFLAGS) -lm -pthread

ctest: all $(CTEST)
	$(CTEST)

spec: all
	$(BUSTED) --lua=$(LUA) spec

# C tests and specs, each summarised, then one total line for CI.
test: all $(CTEST)
	@sh tools/test-all.sh "$(CTEST)" "$(BUSTED) --lua=$(LUA)" "$(BUSTED_ARGS)"

run: all
	$(LUA) lua/scopelab/runner.lua --report $(BUILD)/reports experiments/*.lua

clean:
	rm -rf $(BUILD)

# Targets of the other mechanisms (bench, fuzz, install, lint, ...) live beside this.
-include $(wildcard mk/*.mk)
