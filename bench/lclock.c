/* SPDX-License-Identifier: MIT */
/*
** lclock.c: the Lua module "bench.clock", so the Lua benchmark times itself with
** the same clock_gettime(CLOCK_MONOTONIC) as the C harness.
**
**   clock.now_ns()  -> integer nanoseconds on the monotonic clock
*/
#include <time.h>

#include "lua.h"
#include "lauxlib.h"

static int l_now_ns(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + (lua_Integer)ts.tv_nsec);
  return 1;
}

static const luaL_Reg l_clock[] = {
  { "now_ns", l_now_ns },
  { NULL, NULL }
};

int luaopen_bench_clock(lua_State *L);
int luaopen_bench_clock(lua_State *L) {
  luaL_newlib(L, l_clock);
  return 1;
}
