# SPDX-License-Identifier: MIT
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
# Each tool names every file as it checks it. A tool that is not installed is
# skipped with the Debian package to install, and the summary then says what was
# skipped instead of "clean"; a skipped tool does not fail the target (CI installs
# all three). Each tool's findings are printed in full and the target fails if
# any tool found something.

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

# "tool (install package)" for each lint tool that is not installed.
LINT_SKIPPED = $(strip \
  $(if $(shell command -v $(LUACHECK)),,$(LUACHECK) (install lua-check),) \
  $(if $(shell command -v $(CPPCHECK)),,$(CPPCHECK) (install cppcheck),) \
  $(if $(shell command -v $(CLANG_TIDY)),,$(CLANG_TIDY) (install clang-tidy),))

lint:
	@fail=0; \
	$(MAKE) --no-print-directory lint-lua || fail=1; \
	$(MAKE) --no-print-directory lint-cppcheck || fail=1; \
	$(MAKE) --no-print-directory lint-tidy || fail=1; \
	if [ $$fail != 0 ]; then echo "lint: findings above"; exit 1; fi; \
	skipped='$(LINT_SKIPPED)'; \
	if [ -n "$$skipped" ]; then echo "lint: no findings, but skipped: $${skipped%,}"; \
	else echo "lint: clean"; fi

# luacheck 1.1 ignores Lua 5.4 attributes, so a local kept only for its <close> is
# "unused" (W211): those warnings are dropped when the reported line has "<close>".
# Everything else luacheck prints fails the target. One luacheck run for all files
# (one per file would take seconds more); its "Checking FILE" lines name each file,
# printed here with the findings that remain.
lint-lua:
	@if command -v $(LUACHECK) >/dev/null; then \
	  echo "$(LUACHECK) $(LINT_LUA)"; \
	  $(LUACHECK) --no-color --codes $(LINT_LUA) | awk ' \
	    function flush() { \
	      if (file != "") printf "  %-46s %s\n", file, (nf ? nf " findings" : "ok"); \
	      for (i = 1; i <= nf; i++) print "    " w[i]; \
	      nf = 0 } \
	    /^Checking / { flush(); file = $$2; files++; next } \
	    /^    [^ ]+:[0-9]+:[0-9]+: / { \
	      f = substr($$0, 5); split(f, a, ":"); \
	      if (f ~ /\(W211\)/) { cmd = "sed -n " a[2] "p " a[1]; src = ""; cmd | getline src; close(cmd); \
	                            if (src ~ /<close>/) { closed++; next } } \
	      w[++nf] = f; n++; next } \
	    END { flush(); \
	          printf "luacheck: %d files, %d warnings (%d on <close> locals ignored)\n", files, n, closed; \
	          exit n > 0 || files == 0 }'; \
	else echo "lint: $(LUACHECK) skipped (install lua-check)"; fi

lint-cppcheck:
	@if command -v $(CPPCHECK) >/dev/null; then \
	  echo "$(CPPCHECK) --std=c11 --enable=warning,style,performance,portability csrc"; \
	  log=$$(mktemp); \
	  $(CPPCHECK) --std=c11 --enable=warning,style,performance,portability \
	    --max-configs=1 --inline-suppr --suppress=missingIncludeSystem --suppress=variableScope \
	    --error-exitcode=1 $(filter -D% -I%,$(LINT_CPPFLAGS)) csrc >$$log 2>&1; st=$$?; \
	  sed -e '/^[0-9]*\/[0-9]* files checked/d' -e '/^Checking [^ ]*: /d' \
	      -e 's/^Checking \(.*\) \.\.\.$$/  \1/' $$log; rm -f $$log; \
	  if [ $$st = 0 ]; then echo "cppcheck: no findings"; else echo "cppcheck: findings above"; fi; \
	  exit $$st; \
	else echo "lint: $(CPPCHECK) skipped (install cppcheck)"; fi

# front.h is generated; the host example needs it to be analysed. One file at a
# time, so each is named before its findings ("N warnings generated" counts the
# warnings of checks that are off, and is dropped).
lint-tidy: $(if $(filter examples/host.c,$(LINT_C)),$(BUILD)/examples/front.h)
	@if command -v $(CLANG_TIDY) >/dev/null; then \
	  echo "$(CLANG_TIDY) --checks='$(TIDY_CHECKS)' --warnings-as-errors='*'"; \
	  fail=0; log=$$(mktemp); \
	  for f in $(LINT_C); do \
	    echo "  $$f"; \
	    $(CLANG_TIDY) --quiet --checks='$(TIDY_CHECKS)' --warnings-as-errors='*' \
	      $$f -- $(TIDY_FLAGS) >$$log 2>&1 || fail=1; \
	    sed '/^[0-9]* warnings\{0,1\} generated\.$$/d' $$log; \
	  done; rm -f $$log; \
	  if [ $$fail = 0 ]; then echo "clang-tidy: no findings"; else echo "clang-tidy: findings above"; fi; \
	  exit $$fail; \
	else echo "lint: $(CLANG_TIDY) skipped (install clang-tidy)"; fi
