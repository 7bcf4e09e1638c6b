# SPDX-License-Identifier: MIT
# mk/install.mk: install scopelab where Lua and C users look for things.
#
#   make install   [PREFIX=/usr/local] [DESTDIR=]
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]
#   make module    only the Lua module (what the rockspec builds)
#   make shared    build/libscopelab.so (the static library is built by 'all')
#
# Layout under $(DESTDIR)$(PREFIX), the Debian/Lua 5.4 defaults, so that
# `lua5.4 -e 'require "scopelab"'` works from any folder after a /usr/local install:
#
#   lib/lua/5.4/scopelab/core.so        the C module (core linked in statically)
#   share/lua/5.4/scopelab/*.lua        the pure Lua front (init.lua, ...)
#   lib/libscopelab.a, lib/libscopelab.so.ABI.x.y.z (+ .so.ABI, .so links)
#   include/scopelab.h, include/scopelab_internal.h (its inline internals)
#   lib/pkgconfig/scopelab.pc           generated from scopelab.pc.in
#   bin/scopelab                        the CLI, told where the two halves above are
#   share/doc/scopelab/                 README.md (LICENSE, NEWS.md when present), docs/*.md
#   share/man/man1/scopelab.1           the CLI's man page
#
# LUA_LIBDIR and LUA_SHAREDIR can be set on their own: the rockspec points them at
# LuaRocks' tree and runs 'install-lua' only.
#
# 'install' notes in share/doc/scopelab/installed-dirs every folder it had to create
# (DESTDIR's own included); 'uninstall' removes the files, then those folders when
# they are empty: nothing is left of an install into a fresh prefix, and a folder
# that was there before (/usr/local/bin) stays.

PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
LUA_LIBDIR   ?= $(PREFIX)/lib/lua/5.4
LUA_SHAREDIR ?= $(PREFIX)/share/lua/5.4

DOCDIR       ?= $(PREFIX)/share/doc/scopelab
MANDIR       ?= $(PREFIX)/share/man

INSTALL      ?= install

# The version and the ABI number live in the public header. The soname follows
# the ABI (it changes whenever the layout the inline calls read changes:
# csrc/tests/test_abi.c catches a layout change without a bump), the file name
# adds the release.
SL_VERSION  := $(shell sed -n 's/^\#define SL_VERSION "\(.*\)"/\1/p' csrc/include/scopelab.h)
SL_ABI      := $(shell sed -n 's/^\#define SL_ABI_VERSION \([0-9]*\)/\1/p' csrc/include/scopelab.h)
SHLIB_REAL  := libscopelab.so.$(SL_ABI).$(SL_VERSION)
SHLIB_SONAME := libscopelab.so.$(SL_ABI)
SHLIB       := $(BUILD)/$(SHLIB_REAL)

# Every pure Lua file of the front, relative to lua/ (subfolders kept).
# LUA_FRONT (the pure-Lua files of lua/scopelab) is defined in the Makefile.
BIN_SCRIPT  := $(wildcard bin/scopelab)
PUBLIC_HDR  := csrc/include/scopelab.h csrc/include/scopelab_internal.h
DOC_TOP     := $(wildcard README.md LICENSE NEWS.md)
DOC_DOCS    := $(wildcard docs/*.md)
MAN_PAGE    := docs/scopelab.1
DIRS_LOG     = $(DESTDIR)$(DOCDIR)/installed-dirs
# every folder a full install writes into, the log's own first
INSTALL_DIRS = $(DOCDIR) $(DOCDIR)/docs $(MANDIR)/man1 $(BINDIR) $(LIBDIR) $(INCLUDEDIR) \
               $(PKGCONFIGDIR) $(LUA_LIBDIR)/scopelab $(LUA_SHAREDIR)/scopelab

.PHONY: install install-dirs install-lua install-c install-bin install-doc install-man \
        uninstall module shared

module: $(LUAMOD)

shared: $(SHLIB)

# The same objects as the static library (compiled with -fPIC by the Makefile).
$(SHLIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SHLIB_SONAME) -o $@ $^ $(LDFLAGS) -lm
	ln -sf $(SHLIB_REAL) $(BUILD)/$(SHLIB_SONAME)
	ln -sf $(SHLIB_REAL) $(BUILD)/libscopelab.so

install: install-dirs
	@$(MAKE) --no-print-directory install-lua install-c install-bin install-doc install-man

# Creates the folders of a full install, noting (appending: a second install
# creates nothing) each one that did not exist, parents included.
install-dirs:
	@set -e; new=; for d in $(addprefix $(DESTDIR),$(INSTALL_DIRS)); do \
	  p=$$d; while [ ! -d "$$p" ]; do new="$$new $$p"; p=$$(dirname "$$p"); done; \
	  $(INSTALL) -d "$$d"; \
	done; \
	for n in $$new; do echo "$$n"; done >> $(DIRS_LOG)

install-lua: $(LUAMOD)
	$(INSTALL) -d $(DESTDIR)$(LUA_LIBDIR)/scopelab $(DESTDIR)$(LUA_SHAREDIR)/scopelab
	$(INSTALL) -m 755 $(LUAMOD) $(DESTDIR)$(LUA_LIBDIR)/scopelab/core.so
	@set -e; for f in $(LUA_FRONT); do \
	  echo "$(INSTALL) -m 644 lua/$$f $(DESTDIR)$(LUA_SHAREDIR)/$$f"; \
	  $(INSTALL) -d $(DESTDIR)$(LUA_SHAREDIR)/$$(dirname $$f); \
	  $(INSTALL) -m 644 lua/$$f $(DESTDIR)$(LUA_SHAREDIR)/$$f; \
	done

# The .pc is written at install time so that it always names the PREFIX installed to.
install-c: $(LIB) $(SHLIB) scopelab.pc.in
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libscopelab.a
	$(INSTALL) -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SHLIB_REAL)
	ln -sf $(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME)
	ln -sf $(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/libscopelab.so
	$(INSTALL) -m 644 $(PUBLIC_HDR) $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(SL_VERSION)|g' \
	    scopelab.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/scopelab.pc

# bin/scopelab is a lua5.4 script, installed only when the tree has it, with the
# folders of the Lua front and the C module written in (as they are after DESTDIR is
# gone), so it finds them from any folder with no LUA_PATH set.
install-bin:
ifneq ($(BIN_SCRIPT),)
	$(INSTALL) -d $(DESTDIR)$(BINDIR)
	sed -e 's|"@LUA_SHAREDIR@"|"$(LUA_SHAREDIR)"|' -e 's|"@LUA_LIBDIR@"|"$(LUA_LIBDIR)"|' \
	    $(BIN_SCRIPT) > $(DESTDIR)$(BINDIR)/scopelab.tmp
	chmod 755 $(DESTDIR)$(BINDIR)/scopelab.tmp
	mv $(DESTDIR)$(BINDIR)/scopelab.tmp $(DESTDIR)$(BINDIR)/scopelab
endif

# The docs keep their layout (README.md links to docs/API.md).
install-doc:
	$(INSTALL) -d $(DESTDIR)$(DOCDIR)/docs
	$(INSTALL) -m 644 $(DOC_TOP) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 644 $(DOC_DOCS) $(DESTDIR)$(DOCDIR)/docs/

install-man: $(MAN_PAGE)
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 644 $(MAN_PAGE) $(DESTDIR)$(MANDIR)/man1/scopelab.1

# Removes exactly what 'install' puts there, then the scopelab folders if empty,
# then the folders the install created (deepest first), each only if empty.
uninstall:
	@created=$$(cat $(DIRS_LOG) 2>/dev/null || true); \
	set -x; \
	rm -f $(DESTDIR)$(LUA_LIBDIR)/scopelab/core.so; \
	rm -f $(addprefix $(DESTDIR)$(LUA_SHAREDIR)/,$(LUA_FRONT)); \
	rm -f $(DESTDIR)$(LIBDIR)/libscopelab.a $(DESTDIR)$(LIBDIR)/$(SHLIB_REAL) \
	      $(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME) $(DESTDIR)$(LIBDIR)/libscopelab.so; \
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(PUBLIC_HDR))) $(DESTDIR)$(PKGCONFIGDIR)/scopelab.pc; \
	rm -f $(DESTDIR)$(BINDIR)/scopelab $(DESTDIR)$(MANDIR)/man1/scopelab.1; \
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_TOP))) \
	      $(addprefix $(DESTDIR)$(DOCDIR)/docs/,$(notdir $(DOC_DOCS))) $(DIRS_LOG); \
	find $(DESTDIR)$(LUA_SHAREDIR)/scopelab $(DESTDIR)$(LUA_LIBDIR)/scopelab $(DESTDIR)$(DOCDIR) \
	      -depth -type d -empty -delete 2>/dev/null || true; \
	{ set +x; } 2>/dev/null; \
	for d in $$(for c in $$created; do echo "$${#c} $$c"; done | sort -rn | cut -d' ' -f2-); do \
	  rmdir "$$d" 2>/dev/null && echo "rmdir $$d" || true; \
	done
