#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/deps.sh NEED...: makes sure what a make target needs works, by trying it.
#
#   cc           $CC compiles and links a C program             Debian: build-essential
#   lua-headers  $CC finds Lua 5.4's lua.h and lauxlib.h         liblua5.4-dev
#                with $LUA_CFLAGS (else pkg-config, else -I/usr/include/lua5.4)
#   lua          $LUA runs and is Lua 5.4                       lua5.4
#   luassert     $LUA can require luassert and say              lua-luassert
#   busted       $BUSTED runs and $LUA can load busted          lua-busted
#   boehm        $CC links a program with <gc.h> and -lgc       libgc-dev
#
# Nothing is asked of a package manager while everything works, and then nothing is
# printed. When something does not work: as root with apt-get, the packages are
# installed and everything is tried again; otherwise the packages are named and the
# script fails (exit 1). The make targets call it with their own CC, LUA, BUSTED and
# LUA_CFLAGS.

CC=${CC:-cc}
LUA=${LUA:-lua5.4}
BUSTED=${BUSTED:-busted}
tmp=""
trap '[ -n "$tmp" ] && rm -rf "$tmp"' EXIT

# A scratch folder for the test compiles, made on first use.
scratch() {
  [ -n "$tmp" ] || tmp=$(mktemp -d "${TMPDIR:-/tmp}/scopelab-deps.XXXXXX") || exit 1
}

lua_cflags() {
  if [ -n "${LUA_CFLAGS+set}" ]; then echo "$LUA_CFLAGS"
  else pkg-config --cflags lua5.4 2>/dev/null || echo "-I/usr/include/lua5.4"; fi
}

# check NEED: succeeds when NEED works; otherwise sets 'why' and 'pkg'.
check() {
  case $1 in
    cc)
      pkg=build-essential
      # shellcheck disable=SC2086
      command -v ${CC%% *} >/dev/null 2>&1 || { why="'$CC' not found"; return 1; }
      scratch
      printf 'int main(void) { return 0; }\n' > "$tmp/cc.c"
      # shellcheck disable=SC2086
      $CC "$tmp/cc.c" -o "$tmp/cc" >/dev/null 2>&1 || { why="'$CC' cannot build a C program"; return 1; }
      ;;
    lua-headers)
      pkg=liblua5.4-dev
      flags=$(lua_cflags)
      # shellcheck disable=SC2086
      if ! command -v ${CC%% *} >/dev/null 2>&1; then
        # no compiler to try them with (the 'cc' need names it): look for the file
        for f in $flags; do
          case $f in -I*) grep -qs 'define LUA_VERSION_NUM[[:space:]]*504' "${f#-I}/lua.h" && return 0 ;; esac
        done
        why="no lua.h of Lua 5.4 in '$flags'"; return 1
      fi
      scratch
      printf '#include "lua.h"\n#include "lauxlib.h"\n#if LUA_VERSION_NUM != 504\n#error\n#endif\n' \
        > "$tmp/lua.c"
      # shellcheck disable=SC2086
      $CC $flags -c "$tmp/lua.c" -o "$tmp/lua.o" >/dev/null 2>&1 ||
        { why="no lua.h of Lua 5.4 with '$flags'"; return 1; }
      ;;
    lua)
      pkg=lua5.4
      command -v "$LUA" >/dev/null 2>&1 || { why="'$LUA' not found"; return 1; }
      "$LUA" -e 'assert(_VERSION == "Lua 5.4", _VERSION)' >/dev/null 2>&1 ||
        { why="'$LUA' is not Lua 5.4"; return 1; }
      ;;
    luassert)
      pkg=lua-luassert
      "$LUA" -e 'require "luassert"; require "say"' >/dev/null 2>&1 ||
        { why="'$LUA' cannot require luassert and say"; return 1; }
      ;;
    busted)
      pkg=lua-busted
      # shellcheck disable=SC2086
      command -v ${BUSTED%% *} >/dev/null 2>&1 || { why="'$BUSTED' not found"; return 1; }
      "$LUA" -e 'require "busted.runner"' >/dev/null 2>&1 ||
        { why="'$LUA' cannot load busted"; return 1; }
      ;;
    boehm)
      pkg=libgc-dev
      # shellcheck disable=SC2086
      command -v ${CC%% *} >/dev/null 2>&1 || { why="no C compiler to try it with"; return 1; }
      scratch
      printf '#include <gc.h>\nint main(void) { GC_INIT(); return GC_MALLOC(8) == 0; }\n' > "$tmp/gc.c"
      # shellcheck disable=SC2086
      $CC "$tmp/gc.c" -o "$tmp/gc" -lgc >/dev/null 2>&1 ||
        { why="'$CC' cannot build a program with <gc.h> and -lgc"; return 1; }
      ;;
    *)
      echo "tools/deps.sh: unknown need '$1' (cc lua-headers lua luassert busted boehm)" >&2
      exit 2
      ;;
  esac
}

# Tries every need; 'missing' gets their packages (each once), 'report' one line each.
try_all() {
  missing=""; report=""
  for need in "$@"; do
    check "$need" && continue
    report="$report
  $need: $why (Debian package $pkg)"
    case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
  done
  [ -z "$missing" ]
}

try_all "$@" && exit 0

echo "scopelab: missing what this target needs:$report"
if [ "$(id -u 2>/dev/null)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  pkgs=$missing
  echo "scopelab: apt-get install -y$pkgs"
  scratch
  export DEBIAN_FRONTEND=noninteractive
  # apt-get's progress and debconf's notes only matter when it fails
  # shellcheck disable=SC2086
  if { apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs; } \
       >"$tmp/apt.log" 2>&1; then
    try_all "$@" && { echo "scopelab: installed$pkgs"; exit 0; }
    echo "scopelab: still missing after installing$pkgs:$report"
  else
    cat "$tmp/apt.log"
    echo "scopelab: apt-get install$pkgs failed"
  fi
  exit 1
fi
echo "scopelab: install them, then run make again:  apt-get install -y$missing  (as root)"
exit 1
