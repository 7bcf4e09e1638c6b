/* SPDX-License-Identifier: MIT */
/*
** host.c: a C program that embeds Lua 5.4 with scopelab built in, the way an
** application ships a scripting layer: no scopelab files on disk are needed.
**
**   scopelab-host [--trace-gc] [--stress[=N]] [--seed N] [--quiet] [--report DIR] FILE...
**
** The C module is registered with luaL_requiref under "scopelab.core" (the name
** the Lua front requires), and every file of the pure Lua front is compiled into
** the binary (front.h, made by embed-front.lua) and put in package.preload, so
** `require "scopelab"` finds both without searching package.path or cpath.
** Then the experiments given on the command line run under the embedded
** scopelab.runner, with its claims, progress, summary and exit status (0 when
** every claim holds). An error outside the runner prints a traceback; exit 1.
*/
#include <stdio.h>
#include <stdlib.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "front.h"

int luaopen_scopelab_core(lua_State *L);

/* Message handler: adds a traceback to errors, as lua.c does. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* package.preload[name] = the compiled chunk, for every file of the front. */
static void preload_front(lua_State *L) {
  const front_module *m;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (m = front_modules; m->name != NULL; m++) {
    if (luaL_loadbufferx(L, (const char *)m->src, m->len, m->chunkname, "t") != LUA_OK)
      luaL_error(L, "cannot compile embedded module '%s': %s", m->name, lua_tostring(L, -1));
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);
}

/* Runs in protected mode: sets up the state, then the runner; leaves its status. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int i;
  luaL_openlibs(L);
  luaL_requiref(L, "scopelab.core", luaopen_scopelab_core, 0);
  lua_pop(L, 1);
  preload_front(L);
  lua_createtable(L, argc, 1);              /* arg, as lua.c sets it: program at 0 */
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_setglobal(L, "arg");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "scopelab.runner");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc - 1, 0);          /* runner.main(argv): the arguments only */
  for (i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 1, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L;
  int st, status = 1;
  if (argc < 2) {
    fprintf(stderr, "usage: %s [--trace-gc] [--stress[=N]] [--seed N] [--quiet] "
            "[--report DIR] FILE...\n", argv[0]);
    return 2;
  }
  L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create a Lua state: not enough memory\n", argv[0]);
    return 1;
  }
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  st = lua_pcall(L, 2, 1, 1);
  if (st != LUA_OK) fprintf(stderr, "%s: %s\n", argv[0], lua_tostring(L, -1));
  else if (lua_isinteger(L, -1)) status = (int)lua_tointeger(L, -1);
  lua_close(L);   /* runs __gc/__close of what the experiments left: isolates are disposed */
  return status;
}
