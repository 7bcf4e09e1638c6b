# mk/lint.mk: `make lint`, static checks of the Lua and C sources.
#
# luacheck   lua/ experiments/ spec/ examples/ and bin/scopelab, settings in .luacheckrc
#            (std lua54, busted globals in spec/, lines up to 120), every warning a finding
#            except "unused" <close> locals (luacheck 1.1 does not understand attributes).
# cppcheck   csrc/: --enable=warning,style,performance,portability, C11, every
#            configuration of the tunables header is not explored (--max-configs=1),
#            missing system headers and variableScope (declarations at the top of a block are
#            fine C) ignored; a finding fails the target (--error-exitcode).
# clang-tidy csrc/ and examples/ *.c, these checks, every finding an error:
#              clang-analyzer-*          path-sensitive bugs: null derefs, leaks, use after free
#              bugprone-*                suspicious constructs (minus those excluded below)
#              cert-err34-c              atoi & co. that cannot report a conversion error
#              misc-redundant-expression
#              performance-*
#              portability-*
#            excluded: bugprone-easily-swappable-parameters (the API is (iso, h, out) by design),
#            bugprone-reserved-identifier (none of ours; fires on system macros),
#            clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling (asks for
#            C11 Annex K memset_s/snprintf_s, which glibc does not provide),
#            bugprone-sizeof-expression (flags `p = malloc(n * sizeof *p)` when p is an
#            array of object pointers, the heap's everyday idiom),
#            performance-no-int-to-ptr (the collectors keep forwarding addresses in the
#            header's id word by design).
# Both tools get the Makefile's own -D/-I/-std flags (CFLAGS_ALL), so they see what cc sees.
#
# Each tool is skipped with a message when it is not installed; each one's findings
# are printed in full and the target fails if any tool found something.

LUACHECK   ?= luacheck
CPPCHECK   ?= cppcheck
CLANG_TIDY ?= clang-tidy

LINT_LUA   := $(wildcard lua experiments spec examples) $(wildcard bin/scopelab)
LINT_C     := $(shell find csrc examples -name '*.c' 2>/dev/null | sort)
# (later globs override earlier ones: the exclusions come last)
TIDY_CHECKS := -*,clang-analyzer-*,bugprone-*,cert-err34-c,misc-redundant-expression,performance-*,portability-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,-bugprone-sizeof-expression,-performance-no-int-to-ptr
LINT_CPPFLAGS = $(filter -D% -I% -std=%,$(CFLAGS_ALL))
# SL_NO_SIMD: the analysers cannot follow a Local written by one vector store
TIDY_FLAGS  = $(LINT_CPPFLAGS) -DSL_NO_SIMD -Icsrc/tests -I$(BUILD)/examples $(LUA_CFLAGS)

.PHONY: lint lint-lua lint-cppcheck lint-tidy

lint:
	@fail=0; \
	$(MAKE) --no-print-directory lint-lua || fail=1; \
	$(MAKE) --no-print-directory lint-cppcheck || fail=1; \
	$(MAKE) --no-print-directory lint-tidy || fail=1; \
	if [ $$fail = 0 ]; then echo "lint: clean"; else echo "lint: findings above"; exit 1; fi

# luacheck 1.1 ignores Lua 5.4 attributes, so a local kept only for its <close> is
# "unused" (W211): those warnings are dropped when the reported line has "<close>".
# Everything else luacheck prints fails the target.
lint-lua:
	@if command -v $(LUACHECK) >/dev/null; then \
	  echo "$(LUACHECK) $(LINT_LUA)"; \
	  $(LUACHECK) --formatter plain --codes $(LINT_LUA) | awk -F: ' \
	    /\(W211\)/ { cmd = "sed -n " $$2 "p " $$1; src = ""; cmd | getline src; close(cmd); \
	                 if (src ~ /<close>/) { closed++; next } } \
	    { print; n++ } \
	    END { printf "luacheck: %d warnings (%d on <close> locals ignored)\n", n, closed; \
	          exit n > 0 }'; \
	else echo "lint: $(LUACHECK) not installed, skipped"; fi

lint-cppcheck:
	@if command -v $(CPPCHECK) >/dev/null; then \
	  set -x; $(CPPCHECK) -q --std=c11 --enable=warning,style,performance,portability \
	    --max-configs=1 --inline-suppr --suppress=missingIncludeSystem --suppress=variableScope \
	    --error-exitcode=1 $(filter -D% -I%,$(LINT_CPPFLAGS)) csrc; \
	else echo "lint: $(CPPCHECK) not installed, skipped"; fi

# front.h is generated; the host example needs it to be analysed.
lint-tidy: $(if $(filter examples/host.c,$(LINT_C)),$(BUILD)/examples/front.h)
	@if command -v $(CLANG_TIDY) >/dev/null; then \
	  echo "$(CLANG_TIDY) --checks='$(TIDY_CHECKS)' --warnings-as-errors='*' $(LINT_C)"; \
	  $(CLANG_TIDY) --quiet --checks='$(TIDY_CHECKS)' --warnings-as-errors='*' \
	    $(LINT_C) -- $(TIDY_FLAGS); \
	else echo "lint: $(CLANG_TIDY) not installed, skipped"; fi
