/* SPDX-License-Identifier: MIT */
/*
** lslcall.c: functions and calls (V8's FunctionTemplate callbacks and their
** FunctionCallbackInfo): iso:func(callback [, data [, name]]), iso:call(fn,
** receiver, ...), and the info a callback gets ("scopelab.CallbackInfo"):
** info:this(), info:length(), info:arg(i), info:data(), info:isolate(),
** info:set_return_value(h).
**
** Every function made here has the same C callback, l_trampoline, and as its
** native pointer a record (lsl_func, malloc'd, on a list of the isolate) under
** which the isolate's UV_FUNCS keeps the Lua callback. The record lives as long
** as the function object: it holds a probe of it, and after every collection
** (the gc hook sets 'sweep') the next iso:collect, iso:func, iso:call or
** iso:run_tasks frees the records whose function died, and lets go of their
** Lua callbacks. Probes, not weak persistents: nothing the user counts
** (persistent_handles, weak_handles, callbacks_run, the persistent report)
** sees them; stats() leaves them out of 'probes' and gives 'internal_handles'.
**
** A Lua error must never cross sl_call (a longjmp through the core would leave
** its frame and scopes behind): the trampoline runs the callback under
** lua_pcall, and on an error leaves the error object on the stack of the
** iso:call that is waiting, returns SL_ECALLBACK, and that iso:call raises the
** original object once sl_call has closed everything. Calls nest: each iso:call
** keeps its context (the Lua state, the implicit scope's site) on its own C
** stack, linked from the isolate ('callctx').
*/

#include <stdlib.h>
#include <string.h>

#include "lsltypes.h"

typedef struct lsl_func {
  struct lsl_func *next;
  lsl_isolate *li;
  sl_probe probe;             /* sees the function object die */
  int probed;                 /* 0: the probe could not be made; kept until dispose */
} lsl_func;

typedef struct lsl_callctx {
  lua_State *L;
  struct lsl_callctx *prev;
  uint32_t site;              /* the iso:call line: the implicit scope's site */
  int raised;                 /* the callback raised: its error object is on top */
} lsl_callctx;


/* ================================================================ records */

void lsl_func_freeall(lsl_isolate *li) {
  while (li->funcs != NULL) {
    lsl_func *f = li->funcs;
    li->funcs = f->next;
    free(f);
  }
  li->nfuncs = 0;
}

/* Frees the records of the functions that died, and their Lua callbacks:
** the table first (it may allocate), then a walk that calls no Lua. */
void lsl_func_sweep(lua_State *L, lsl_isolate *li) {
  lsl_func **pf = &li->funcs;
  int funcs;
  if (!li->sweep || li->iso == NULL) return;
  li->sweep = 0;
  if (!lsl_pushiso(L, li)) { lua_pop(L, 1); return; }
  lsl_getuvtable(L, lua_gettop(L), UV_FUNCS);
  funcs = lua_gettop(L);
  while (*pf != NULL) {
    lsl_func *f = *pf;
    sl_probe_info in;
    if (!f->probed || sl_probe_info_of(li->iso, f->probe, &in) != SL_OK || in.alive) {
      pf = &f->next;
      continue;
    }
    sl_probe_delete(li->iso, f->probe);
    lua_pushnil(L);
    lua_rawsetp(L, funcs, f);                  /* an existing key: no allocation */
    *pf = f->next;
    li->nfuncs--;
    free(f);
  }
  lua_settop(L, funcs - 2);
}


/* ================================================================ the trampoline */

typedef struct l_frame {
  const sl_call_info *ci;
  lsl_func *f;
  uint32_t site, level;
} l_frame;

/* Under lua_pcall: finds the Lua callback and calls it with a new info. The info
** stays at 5 of this frame for the whole call, and is made dead here as the call
** returns: the callback may drop its own reference (a tail call, 'info = nil') and
** a collection free the userdata, so nothing may write to it once this frame is
** gone (l_trampoline did, after its lua_pcall: a use after free). */
static int l_call_body(lua_State *L) {
  l_frame *fr = (l_frame *)lua_touserdata(L, 1);
  lsl_isolate *li = fr->f->li;
  lsl_callinfo *info;
  int rc;
  if (!lsl_pushiso(L, li)) return luaL_error(L, "its isolate is not in the registry map");
  lsl_getuvtable(L, 2, UV_FUNCS);
  if (lua_rawgetp(L, 3, fr->f) != LUA_TFUNCTION)
    return luaL_error(L, "the function's Lua callback is gone");
  info = (lsl_callinfo *)lua_newuserdatauv(L, sizeof *info, 1);
  info->tag = lsl_tag(UP_CALLINFO);
  info->li = li;
  info->ci = fr->ci;
  info->site = fr->site;
  info->level = fr->level;
  luaL_setmetatable(L, CALLINFO_MT);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, UV_ISO);                                /* 5 */
  lua_pushvalue(L, 4);
  lua_pushvalue(L, 5);
  rc = lua_pcall(L, 1, 0, 0);
  info->ci = NULL;                             /* refused from now on */
  if (rc != LUA_OK) return lua_error(L);       /* the callback's error object, as is */
  return 0;
}

/* The C callback of every function made by iso:func. The implicit scope the
** core opened is given the iso:call's site and the next level, so that the
** Locals made in it say where they lived. */
static sl_status l_trampoline(sl_isolate *iso, const sl_call_info *ci) {
  lsl_func *f = (lsl_func *)sl_call_native(ci);
  lsl_isolate *li = f->li;
  lsl_callctx *cx = li->callctx;
  l_frame fr;
  uint32_t site, level, depth = sl_scope_depth(iso);
  sl_scope implicit;
  sl_scope_info in;
  lua_State *L;
  int top, rc;
  if (cx == NULL) return sl_set_error(iso, SL_ECALLBACK, "call: not called from Lua");
  L = cx->L;
  if (!lua_checkstack(L, 8)) return sl_set_error(iso, SL_ECALLBACK, "call: Lua stack overflow");
  site = li->cur_site;
  level = li->cur_level;
  if (sl_scope_at(iso, depth, &implicit) == SL_OK) sl_scope_set_site(&implicit, cx->site);
  li->cur_site = cx->site;
  li->cur_level = level + 1;
  fr.ci = ci;
  fr.f = f;
  fr.site = cx->site;
  fr.level = level + 1;
  top = lua_gettop(L);
  lua_pushcfunction(L, l_call_body);
  lua_pushlightuserdata(L, &fr);
  rc = lua_pcall(L, 1, 0, 0);
  li->cur_site = site;
  li->cur_level = level;
  if (sl_scope_depth(iso) < depth) {           /* it closed the implicit scope, and more */
    li->cur_site = li->cur_level = 0;
    if (sl_scope_info_at(iso, sl_scope_depth(iso), &in) == SL_OK) {
      li->cur_site = in.site;
      li->cur_level = in.level;
    }
  }
  li->L = L;
  if (rc == LUA_OK) { lua_settop(L, top); return SL_OK; }
  cx->raised = 1;                              /* the error object stays on top */
  return sl_set_error(iso, SL_ECALLBACK, "call: the callback raised an error");
}


/* ================================================================ iso:func */

/* Takes back the record of a function that was not made (nothing points to
** it): its Lua callback in the table at 'funcs', and the record. */
static void l_dropfunc(lua_State *L, lsl_isolate *li, lsl_func *f, int funcs) {
  lsl_func **pf = &li->funcs;
  lua_pushnil(L);
  lua_rawsetp(L, funcs, f);
  while (*pf != NULL && *pf != f) pf = &(*pf)->next;
  if (*pf == f) {
    *pf = f->next;
    li->nfuncs--;
    free(f);
  }
}

/* Makes the function of record 'f' into 'out'. A name given as a Lua string
** is made a string first, a Local of the caller's scope as the caller would
** make it (V8's SetClassName takes a Local<String>): no scope of the binding's
** own, which a weak callback run by either allocation could leave open. */
static sl_status l_makefunc(lua_State *L, lsl_isolate *li, lsl_func *f, sl_local data,
                            sl_local name, sl_local *out) {
  size_t len;
  const char *s;
  sl_status st;
  if (lua_type(L, 4) == LUA_TSTRING) {
    s = lua_tolstring(L, 4, &len);
    st = sl_string(li->iso, s, len, &name);
    if (st != SL_OK) return st;
  }
  return sl_function_new(li->iso, l_trampoline, f, data, name, out);
}

/* iso:func(callback [, data [, name]]): 'name' a Lua string or a string Local. */
int lsl_iso_func(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "func");
  lsl_local *data, *name = NULL, *lo;
  lsl_func *f;
  sl_status st;
  uint64_t cb0;
  if (lua_type(L, 2) != LUA_TFUNCTION) return lsl_typeerror(L, 2, "func", "function");
  data = lsl_checklocalof(L, li, 3, "func", 1);
  if (lua_type(L, 4) != LUA_TSTRING) name = lsl_checklocalof(L, li, 4, "func", 1);
  lua_settop(L, 4);
  lsl_getuvtable(L, 1, UV_FUNCS);                                  /* 5 */
  lo = lsl_newlocal(L, li, "func", &cb0);                          /* 6 */
  f = (lsl_func *)calloc(1, sizeof *f);
  if (f == NULL) return luaL_error(L, "cannot create a function in 'func' (out of memory)");
  f->li = li;
  f->next = li->funcs;
  li->funcs = f;
  li->nfuncs++;
  lua_pushvalue(L, 2);
  lua_rawsetp(L, 5, f);        /* first: a function must never point to a dead record */
  if (li->iso == NULL) {
    l_dropfunc(L, li, f, 5);
    return lsl_argerror(L, 1, "func", lsl_gone(li, "isolate is disposed"));
  }
  st = l_makefunc(L, li, f, data ? data->h : SL_EMPTY_LOCAL, name ? name->h : SL_EMPTY_LOCAL,
                  &lo->h);
  if (st != SL_OK) {
    l_dropfunc(L, li, f, 5);
    if (st == SL_EARG && name != NULL)        /* a name Local that is not a string */
      return lsl_fail(L, li, st, 4, "func", name);
  } else if (sl_probe_new(li->iso, lo->h, &f->probe) == SL_OK) f->probed = 1;
  lsl_func_sweep(L, li);
  return lsl_madelocal(L, li, lo, st, cb0, "func");
}


/* ================================================================ iso:call */

#if !defined(LSL_CALL_STACK)
#define LSL_CALL_STACK 8        /* arguments gathered on the C stack */
#endif

/* The Local or nil at 'arg' as an sl_local (nil: empty, which is undefined). */
static sl_local l_arg(lua_State *L, lsl_isolate *li, int arg) {
  lsl_local *v = lsl_tolocalof(L, arg, li);
  if (v != NULL) return v->h;
  if (lua_isnil(L, arg)) return SL_EMPTY_LOCAL;
  v = lsl_checklocalof(L, li, arg, "call", 1);                     /* raises */
  return v ? v->h : SL_EMPTY_LOCAL;
}

/* Raises what a failed sl_call says, naming the argument at fault. */
static int l_callfailed(lua_State *L, lsl_isolate *li, sl_status st, int nargs) {
  int i;
  if (st == SL_ESTALE || st == SL_EISOLATE)
    for (i = 2; i <= nargs; i++) lsl_checklocalof(L, li, i, "call", i != 2);
  if (st == SL_EARG) {
    lsl_local *fn = lsl_checklocalof(L, li, 2, "call", 0);
    return lsl_fail(L, li, st, 2, "call", fn);
  }
  if (st == SL_EORDER || st == SL_ECALLBACK ||
      (st == SL_ESTATE && strstr(sl_last_error(li->iso), "first-pass") == NULL))
    return luaL_error(L, "error in 'call' (%s)", sl_last_error(li->iso) +
                      (strncmp(sl_last_error(li->iso), "call: ", 6) == 0 ? 6 : 0));
  return lsl_fail(L, li, st, 1, "call", NULL);
}

/* iso:call(fn, receiver, ...) -> the return value as a new Local. */
int lsl_iso_call(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "call");
  int nargs = lua_gettop(L), n = nargs > 2 ? nargs - 2 : 0, i;
  sl_local small[LSL_CALL_STACK], *argv = small, fn, recv;
  lsl_callctx cx;
  lsl_local *lo;
  sl_status st;
  uint64_t cb0;
  if (nargs < 2) lua_settop(L, nargs = 2);
  if (n > LSL_CALL_STACK)
    argv = (sl_local *)lua_newuserdatauv(L, (size_t)n * sizeof *argv, 0);
  fn = l_arg(L, li, 2);
  recv = nargs >= 3 ? l_arg(L, li, 3) : SL_EMPTY_LOCAL;
  for (i = 0; i < n - 1; i++) argv[i] = l_arg(L, li, i + 4);
  cx.site = lsl_callsite(L, li, 1);
  lo = lsl_newlocal(L, li, "call", &cb0);
  cx.L = L;
  cx.prev = li->callctx;
  cx.raised = 0;
  li->callctx = &cx;
  st = sl_call(li->iso, fn, recv, n > 0 ? (size_t)n - 1 : 0, argv, &lo->h);
  li->callctx = cx.prev;
  li->L = L;
  // cppcheck-suppress knownConditionTrueFalse ; l_trampoline sets it through 'callctx'
  if (cx.raised) return lua_error(L);          /* the callback's own error object */
  lsl_func_sweep(L, li);
  if (st != SL_OK) return l_callfailed(L, li, st, nargs);
  return lsl_madelocal(L, li, lo, st, cb0, "call");
}


/* ================================================================ the info */

/* The info at 1, while its call runs. */
static lsl_callinfo *l_checkinfo(lua_State *L, const char *op) {
  lsl_callinfo *info = (lsl_callinfo *)lsl_testud(L, 1, UP_CALLINFO);
  if (info == NULL) { lsl_typeerror(L, 1, op, CALLINFO_MT); return NULL; }  /* not reached */
  if (info->li->iso == NULL)
    lsl_argerror(L, 1, op, lsl_gone(info->li, "callback info of a disposed isolate"));
  if (info->ci == NULL) lsl_argerror(L, 1, op, "callback info used after its call returned");
  return info;
}

/* Pushes a Local bound to a frame slot: it lives in the implicit scope. */
static int l_pushframe(lua_State *L, lsl_callinfo *info, sl_local h) {
  lsl_local *lo;
  lsl_pushlocalof(L, info->li, 1, h);
  lo = (lsl_local *)lua_touserdata(L, -1);
  lo->site = info->site;
  lo->level = info->level;
  return 1;
}

int lsl_info_this(lua_State *L) {
  lsl_callinfo *info = l_checkinfo(L, "this");
  return l_pushframe(L, info, sl_call_this(info->ci));
}

int lsl_info_length(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)sl_call_length(l_checkinfo(L, "length")->ci));
  return 1;
}

/* info:arg(i), 1-based: past the end, undefined (a root, as V8 reads it). */
int lsl_info_arg(lua_State *L) {
  lsl_callinfo *info = l_checkinfo(L, "arg");
  lua_Integer i = lsl_checkint(L, 2, "arg");
  if (i < 1)
    return lsl_argerror(L, 2, "arg", lua_pushfstring(L, "index %I out of range (arguments "
                        "are numbered from 1)", i));
  if ((lua_Unsigned)i > sl_call_length(info->ci)) {
    lsl_pushrootlocal(L, info->li, 1, sl_undefined(info->li->iso));
    return 1;
  }
  return l_pushframe(L, info, sl_call_arg(info->ci, (size_t)i - 1));
}

int lsl_info_data(lua_State *L) {
  lsl_callinfo *info = l_checkinfo(L, "data");
  return l_pushframe(L, info, sl_call_data(info->ci));
}

int lsl_info_isolate(lua_State *L) {
  l_checkinfo(L, "isolate");
  lua_getiuservalue(L, 1, UV_ISO);
  return 1;
}

/* info:set_return_value(h): nil sets undefined. */
int lsl_info_set_return_value(lua_State *L) {
  lsl_callinfo *info = l_checkinfo(L, "set_return_value");
  lsl_local *v = lsl_checklocalof(L, info->li, 2, "set_return_value", 1);
  sl_status st = sl_call_set_return(info->ci, v ? v->h : SL_EMPTY_LOCAL);
  if (st != SL_OK) return lsl_fail(L, info->li, st, 2, "set_return_value", v);
  return 0;
}

int lsl_info_tostring(lua_State *L) {
  lsl_callinfo *info = (lsl_callinfo *)lsl_testud(L, 1, UP_CALLINFO);
  if (info == NULL) return lsl_typeerror(L, 1, "__tostring", CALLINFO_MT);
  if (info->ci == NULL || info->li->iso == NULL)
    lua_pushliteral(L, CALLINFO_MT ": (returned)");
  else
    lua_pushfstring(L, CALLINFO_MT ": %I arguments (running)",
                    (lua_Integer)sl_call_length(info->ci));
  return 1;
}
