# SPDX-License-Identifier: MIT
# mk/bench.mk: the benchmarks of issue 7 (sources in bench/).
#
#   make bench         every workload at full size (under 10 minutes on 2 cores);
#                      prints the table, writes build/bench/results.json and results.svg
#   make bench-smoke   tiny sizes, seconds: CI runs it so the benchmarks keep building
#   make bench-deps    makes sure Boehm GC (libgc-dev) links, for the comparator rows
#
# Knobs: BENCH_REPS=N (repetitions; default 5, smoke 2), BENCH_ONLY=name (handles,
# bintrees, gcbench, scavenge, fullgc, objects; lua-bintrees, lua-objects: the Lua
# rows of bench/bintrees.lua and bench/objects.lua), BENCH_LUA_DEPTH (binary-trees through Lua,
# default 16). A slow figure never fails the run; a wrong result (a checksum, a
# lost object) does.
#
# Boehm GC is linked when a test program with <gc.h> and -lgc builds. `make bench`
# first makes sure it does (tools/deps.sh boehm: installed as root with apt-get,
# as `make test` gets busted; otherwise named, and the target fails); `make
# bench-smoke` does not ask for it, and without it the Boehm rows say "not
# installed". The test runs only when a bench target is built (recursive '='
# variables), and its answer is kept in a stamp file so the binary relinks when
# libgc-dev appears or goes.

BENCH_DIR       := $(BUILD)/bench
BENCH_BIN       := $(BENCH_DIR)/scopelab-bench
BENCH_CLOCK     := $(BENCH_DIR)/clock.so
BENCH_SRC       := $(filter-out bench/lclock.c,$(wildcard bench/*.c))
BENCH_HDR       := $(wildcard bench/*.h)
BENCH_LUA_DEPTH ?= 16
BENCH_REPS      ?=
BENCH_ONLY      ?=
BENCH_HAVE_GC    = $(shell printf '\043include <gc.h>\nint main(void){GC_INIT();return GC_MALLOC(8)==0;}\n' \
                     | $(CC) -x c - -o /dev/null -lgc >/dev/null 2>&1 && echo yes)
BENCH_GC_FLAGS   = $(if $(BENCH_HAVE_GC),-DBENCH_HAVE_BOEHM)
BENCH_GC_LIBS    = $(if $(shell cat $(BENCH_DIR)/boehm.flags 2>/dev/null),-lgc)
BENCH_ARGS       = $(if $(BENCH_REPS),--reps $(BENCH_REPS)) $(if $(BENCH_ONLY),--only $(BENCH_ONLY))
BENCH_RUN_LUA    = $(if $(BENCH_ONLY),$(findstring $(BENCH_ONLY),lua-bintrees),yes)
BENCH_RUN_LUA_OBJECTS = $(if $(BENCH_ONLY),$(findstring $(BENCH_ONLY),lua-objects),yes)

.PHONY: bench bench-smoke bench-build bench-deps bench-boehm-stamp
bench-boehm-stamp:

bench-deps:
	@$(DEPS) boehm

# Rewritten only when the answer changes, so its date says when it last did. For
# `make bench`, only once Boehm is there (order-only: never a reason to rewrite).
$(BENCH_DIR)/boehm.flags: bench-boehm-stamp | $(if $(filter bench,$(MAKECMDGOALS)),bench-deps)
	@mkdir -p $(dir $@)
	@echo '$(BENCH_GC_FLAGS)' | cmp -s - $@ || echo '$(BENCH_GC_FLAGS)' > $@

$(BENCH_BIN): $(BENCH_SRC) $(BENCH_HDR) $(LIB) $(BENCH_DIR)/boehm.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -D_POSIX_C_SOURCE=200809L -Ibench $$(cat $(BENCH_DIR)/boehm.flags) $(BENCH_SRC) $(LIB) \
	  -o $@ $(LDFLAGS) $(BENCH_GC_LIBS) -lm

$(BENCH_CLOCK): bench/lclock.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -D_POSIX_C_SOURCE=200809L $(LUA_CFLAGS) -shared bench/lclock.c -o $@

bench-build: all $(BENCH_BIN) $(BENCH_CLOCK)

bench: bench-build
	@rm -f $(BENCH_DIR)/rows.tsv
	$(BENCH_BIN) --rows $(BENCH_DIR)/rows.tsv $(BENCH_ARGS)
	$(if $(BENCH_RUN_LUA),$(LUA) bench/bintrees.lua --depth $(BENCH_LUA_DEPTH) $(if $(BENCH_REPS),--reps $(BENCH_REPS)) --rows $(BENCH_DIR)/rows.tsv)
	$(if $(BENCH_RUN_LUA_OBJECTS),$(LUA) bench/objects.lua $(if $(BENCH_REPS),--reps $(BENCH_REPS)) --rows $(BENCH_DIR)/rows.tsv)
	$(LUA) bench/report.lua $(BENCH_DIR)/rows.tsv $(BENCH_DIR)/results.json $(BENCH_DIR)/results.svg

bench-smoke: bench-build
	@mkdir -p $(BENCH_DIR)/smoke
	@rm -f $(BENCH_DIR)/smoke/rows.tsv
	$(BENCH_BIN) --smoke --rows $(BENCH_DIR)/smoke/rows.tsv $(BENCH_ARGS)
	$(LUA) bench/bintrees.lua --depth 6 --reps 2 --rows $(BENCH_DIR)/smoke/rows.tsv
	$(LUA) bench/objects.lua --n 2048 --reps 2 --rows $(BENCH_DIR)/smoke/rows.tsv
	$(LUA) bench/report.lua $(BENCH_DIR)/smoke/rows.tsv $(BENCH_DIR)/smoke/results.json \
	  $(BENCH_DIR)/smoke/results.svg
