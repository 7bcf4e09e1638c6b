# SPDX-License-Identifier: MIT
# mk/reliability.mk: stress modes, sanitizers, valgrind and the fuzzers (issue 5).
#
#   make test-stress    the whole spec suite with every isolate collecting every 7
#                       allocations, moving everything on major collections and
#                       verifying the heap after each (SCOPELAB_STRESS=1, read by
#                       spec/helper.lua)
#   make test-asan      C tests (full leak checking) and specs under ASan+UBSan: the core
#                       (internal asserts on: SLC_DEBUG) and the Lua module built by
#                       clang into $(ASAN_BUILD), lua5.4 run
#                       with the ASan runtime preloaded (leak checking off for the Lua
#                       process: lua5.4 itself is not built with ASan)
#   make test-valgrind  C tests (full leak checking) and specs under valgrind memcheck
#   make fuzz           the model-checked Lua fuzzer, 1,000,000 operations (FUZZ_OPS,
#                       FUZZ_SEED); on a divergence it prints a shrunk reproducer
#   make fuzz-smoke     the same, 300,000 operations from fixed seeds 1..3 (CI, seconds)
#   make fuzz-c         builds the libFuzzer harness csrc/fuzz/fuzz_api.c and runs it on
#                       fuzz/corpus for FUZZ_SECONDS (default 60); new inputs go to
#                       $(FUZZ_C_DIR)/corpus, never into the committed seed corpus;
#                       stops at the first crash (artifact in $(FUZZ_C_DIR)/crashes)
#
# Every sanitizer finding fails its target (halt_on_error, -fno-sanitize-recover).

ASAN_BUILD   ?= $(BUILD)/asan
ASAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_RT       = $(shell clang -print-file-name=libclang_rt.asan-x86_64.so)
ASAN_ENV      = ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1 \
                UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
FUZZ_OPS     ?= 1000000
FUZZ_SEED    ?= 1
FUZZ_SECONDS ?= 60
FUZZ_C_DIR   := $(BUILD)/fuzz
FUZZ_C_BIN   := $(FUZZ_C_DIR)/fuzz_api
VALGRIND     := valgrind --error-exitcode=99 --leak-check=full \
                --errors-for-leak-kinds=definite,indirect,possible \
                --show-leak-kinds=definite,indirect,possible -q

.PHONY: test-stress test-asan test-valgrind fuzz fuzz-smoke fuzz-c fuzz-c-build

export STRESS_CHECK := dofile "spec/helper.lua"; local d = require("scopelab").defaults(); assert(d.gc_interval and d.gc_interval > 0 and d.stress_compaction and d.verify_heap, "spec/helper.lua does not honour SCOPELAB_STRESS=1")

# First make sure the helper really turns stress on: a helper that ignored the
# variable would make this target a plain 'make spec' that passes.
test-stress: all
	SCOPELAB_STRESS=1 $(LUA) -e "$$STRESS_CHECK"
	SCOPELAB_STRESS=1 $(BUSTED) --lua=$(LUA) spec

# A separate build tree: the sanitized objects never mix with the normal ones. The
# spec run loads the sanitized module through spec/sanitizer_helper.lua (which
# checks where it came from), since the ordinary build comes first on LUA_CPATH.
test-asan:
	$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CC=clang \
	  OPT="-O1 -g -DSLC_DEBUG $(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  $(ASAN_BUILD)/libscopelab.a $(ASAN_BUILD)/scopelab/core.so $(ASAN_BUILD)/tests/test_core
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(ASAN_BUILD)/tests/test_core
	env $(ASAN_ENV) LD_PRELOAD=$(ASAN_RT) SCOPELAB_CPATH='$(ASAN_BUILD)/?.so' \
	  $(LUA) $(shell command -v $(BUSTED)) --ignore-lua --cpath='$(ASAN_BUILD)/?.so' \
	  --helper=spec/sanitizer_helper.lua spec

# busted re-executes itself under the interpreter named by 'lua' (.busted sets it),
# which would leave valgrind watching only the parent: --ignore-lua keeps the
# specs in the process valgrind runs. The 200,000-deep nestings of literal_spec
# and snapshot_spec take 13 s and 39 s under valgrind, which runs pure-Lua work
# 20-50 times slower and checks no C there: they are left out here only (a Lua
# pattern on the test names; make test and test-asan run them).
VALGRIND_FILTER_OUT ?= 200,000%-deep
test-valgrind: all $(CTEST)
	$(VALGRIND) $(CTEST)
	$(VALGRIND) $(LUA) $(shell command -v $(BUSTED)) --ignore-lua \
	  $(if $(VALGRIND_FILTER_OUT),--filter-out='$(VALGRIND_FILTER_OUT)') spec

fuzz: all
	$(LUA) fuzz/fuzz.lua --ops $(FUZZ_OPS) --seed $(FUZZ_SEED) --stats

fuzz-smoke: all
	$(LUA) fuzz/fuzz.lua --ops 300000 --seed 1 --runs 3

$(FUZZ_C_BIN): csrc/fuzz/fuzz_api.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	clang $(CSTD) -D_POSIX_C_SOURCE=200809L -DSLC_DEBUG -O1 -g $(WARN) \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -Icsrc/include -Icsrc/core csrc/fuzz/fuzz_api.c $(CORE_SRC) -o $@ -lm

fuzz-c-build: $(FUZZ_C_BIN)

fuzz-c: $(FUZZ_C_BIN)
	@mkdir -p $(FUZZ_C_DIR)/corpus $(FUZZ_C_DIR)/crashes
	$(FUZZ_C_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=20 \
	  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(FUZZ_C_DIR)/crashes/ \
	  $(FUZZ_C_DIR)/corpus fuzz/corpus
