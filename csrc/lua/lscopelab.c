/* SPDX-License-Identifier: MIT */
/*
** lscopelab.c: the Lua 5.4 binding of scopelab (module "scopelab.core"; the
** front "scopelab" in lua/scopelab/init.lua re-exports it). This file holds the
** isolate (lifetime, options) and registers everything; the other mechanisms
** have a file each (see lsltypes.h for the map).
**
** Module
**   core.isolate([opts])                 -> Isolate
**   core.version                          "0.1.0"
**
** Isolate ("scopelab.Isolate")
**   iso:dispose()  iso:is_disposed()      also __close and __gc
**   iso:handle_scope([{capacity = n}])    -> Scope
**   iso:escapable_handle_scope()          -> Scope
**   iso:seal_handle_scope()               -> Scope
**   iso:number_of_handles()  #iso         -> integer
**   iso:integer(i) iso:number(x) iso:string(s) iso:array(n)  -> Local
**   iso:array_of(h_or_nil, ...)           -> Local (an array of those elements)
**   iso:persistent([h])  iso:global([h])  -> Persistent
**   iso:reference(h, count)               -> Reference
**   iso:probe(h)                          -> Probe
**   iso:eternal(h) -> index               iso:eternal_get(index) -> Local
**   iso:collect(["minor"|"major"|"full"]) -> table
**   iso:stats()  iso:verify()
**   iso:retainers(x)  iso:snapshot()  iso:handle_report()  iso:watch_handles(n)
**   iso:persistent_report()  iso:moves()  iso:weak_log()
**
** Scope ("scopelab.Scope")
**   s:close()  s:escape(h)  s:is_open()  s:kind()  s:level()  s:depth()
**   s:site()  s:handles()  #s                                  also __close
**
** Local ("scopelab.Local")
**   h:value() h:kind() h:id() h:address() h:generation() h:is_valid()
**   h:held_id() h:in_heap()               the object it was made for, after its scope too
**   a:get(i) a:set(i, h_or_nil) #a        h1 == h2 (same object)
**   a:unpack([i [, j]])                   -> elements i..j as Locals (nil: empty)
**
** Persistent ("scopelab.Persistent", plain or global)
**   p:get() p:reset([h]) p:is_empty() p:set_weak([cb]) p:clear_weak()
**   p:is_weak() p:is_global() p:delete() p:site() p:held_id() p:in_heap()
**                                                              also __close, __gc
**
** Reference ("scopelab.Reference", Node-API)
**   r:ref() r:unref() r:count() r:get() r:is_empty() r:delete() r:is_deleted()
**   r:site() r:held_id() r:in_heap()
**
** Probe ("scopelab.Probe")
**   w:alive() w:address() w:moves() w:id() w:kind() w:generation() w:get()
**   w:delete()                                                 also __close, __gc
**
** Arguments are numbered as they sit on the stack, 'self' being #1, and every
** function names itself in its messages: the text of an error never depends on
** how the function was reached (method call, pcall(f, ...), a local alias).
**
** Nothing here is global: every piece of state hangs off an Isolate userdata.
** Only one thing is shared between isolates, in the Lua registry: the weak map
** "scopelab.isolates" from the C struct to its userdata, which a weak callback
** needs to find the isolate's Lua side.
*/

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lsltypes.h"

/* ================================================================ lifetime */

/* Disposes the isolate of 'li' for 'op' (dispose, __close, __gc): refused, as
** the core refuses, from inside one of its weak callbacks; then nothing is
** freed or forgotten, and a later dispose or collection frees it. */
static int l_release(lsl_isolate *li) {
  if (sl_isolate_dispose(li->iso) != SL_OK) return 0;
  li->iso = NULL;
  lsl_native_freeall(li);                      /* what an addon's exit would free */
  lsl_func_freeall(li);
  free(li->moves);
  li->moves = NULL;
  li->nmoves = li->capmoves = 0;
  return 1;
}

static int l_disposeop(lua_State *L, lsl_isolate *li, int isoidx, const char *op) {
  if (li->worker_iso != NULL) return lsl_argerror(L, isoidx, op, LSL_WORKER_MSG);
  if (li->iso == NULL) return 0;               /* disposing twice is harmless */
  if (!l_release(li)) return lsl_fail(L, li, SL_ESTATE, 1, op, NULL);
  lua_newtable(L);                             /* let go of weak persistents and callbacks */
  lua_setiuservalue(L, isoidx, UV_WEAK);
  return 0;
}

int lsl_iso_dispose(lua_State *L) {
  lsl_isolate *li = (lsl_isolate *)lsl_testud(L, 1, UP_ISOLATE);
  if (li == NULL) return lsl_typeerror(L, 1, "dispose", ISOLATE_MT);
  return l_disposeop(L, li, 1, "dispose");
}

/* __gc obeys the same refusal as dispose (Lua never runs it inside a weak
** callback: the callback's isolate is on the stack; only a call by hand can). */
int lsl_iso_gc(lua_State *L) {
  lsl_isolate *li = (lsl_isolate *)lsl_testud(L, 1, UP_ISOLATE);
  return li ? l_disposeop(L, li, 1, "__gc") : 0;
}

/* The guard (UV_GUARD) holds its Isolate as user value 1 and disposes it when
** both are garbage: an Isolate whose metatable (and so __gc) the debug library
** removed is still freed. The guard is garbage while the Isolate still holds
** it only if the Isolate is garbage too; a guard the debug library cut loose
** (its Isolate holds another value) disposes nothing. Lua keeps the Isolate
** alive while the guard's finalizer runs, so 'li' is valid there. */
static int l_guard_gc(lua_State *L) {
  lsl_isolate *li;
  lua_getiuservalue(L, 1, 1);
  li = (lsl_isolate *)lsl_testud(L, 2, UP_ISOLATE);
  if (li == NULL || li->iso == NULL) return 0;
  lua_getiuservalue(L, 2, UV_GUARD);
  if (lua_rawequal(L, 1, 3)) l_release(li);
  return 0;
}

/* Asks nothing of the core: true once dispose (or __gc, or the guard) ran. */
int lsl_iso_is_disposed(lua_State *L) {
  const lsl_isolate *li = (const lsl_isolate *)lsl_testud(L, 1, UP_ISOLATE);
  if (li != NULL) {
    lua_pushboolean(L, lsl_disposed(li));
    return 1;
  }
  return lsl_typeerror(L, 1, "is_disposed", ISOLATE_MT);
}

int lsl_iso_number_of_handles(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "number_of_handles");
  lua_pushinteger(L, (lua_Integer)sl_number_of_handles(li->iso));
  return 1;
}

int lsl_iso_tostring(lua_State *L) {
  lsl_isolate *li = (lsl_isolate *)lsl_testud(L, 1, UP_ISOLATE);
  if (li == NULL) return lsl_typeerror(L, 1, "__tostring", ISOLATE_MT);
  if (li->worker_iso != NULL)
    lua_pushfstring(L, ISOLATE_MT ": %p (in a worker)", (void *)li);
  else if (li->iso == NULL)
    lua_pushfstring(L, ISOLATE_MT ": %p (disposed)", (void *)li);
  else
    lua_pushfstring(L, ISOLATE_MT ": %p (live, %I handles, scope level %d)", (void *)li,
                    (lua_Integer)sl_number_of_handles(li->iso), (int)li->cur_level);
  return 1;
}


/* ================================================================ options */

/* Every option of core.isolate, described once: the unknown-key check and the
** parser both read this table. 'field' is where the value goes in l_optvals. */
typedef struct l_optvals {
  sl_options o;
  int trace_gc, record_moves, record_weak;
} l_optvals;

enum { O_SIZE, O_UINT, O_BOOL, O_KIND, O_FUNC, O_LIST, O_NUM };

typedef struct l_option {
  const char *name;
  int type;               /* O_SIZE (size_t), O_UINT (unsigned), O_BOOL, O_KIND (int),
                             O_FUNC (kept as the isolate's UV_WARN), O_LIST (gc_at),
                             O_NUM (double; the core checks its range) */
  lua_Integer max;        /* O_SIZE and O_UINT: the value is in 0..max */
  size_t field;           /* offsetof(l_optvals, ...) */
} l_option;

#define l_field(f) offsetof(l_optvals, f)

static const l_option l_options[] = {
  {"young_size", O_SIZE, LUA_MAXINTEGER, l_field(o.young_size)},
  {"old_size", O_SIZE, LUA_MAXINTEGER, l_field(o.old_size)},
  {"block_size", O_SIZE, 0x7fffffff, l_field(o.block_size)},
  {"promote_after", O_UINT, 0x7fffffff, l_field(o.promote_after)},
  {"gc_interval", O_UINT, 0x7fffffff, l_field(o.gc_interval)},
  {"gc_interval_kind", O_KIND, 0, l_field(o.gc_interval_major)},
  {"verify_heap", O_BOOL, 0, l_field(o.verify_heap)},
  {"stress_compaction", O_BOOL, 0, l_field(o.stress_compaction)},
  {"zap_handles", O_BOOL, 0, l_field(o.zap_handles)},
  {"trace_gc", O_BOOL, 0, l_field(trace_gc)},
  {"record_moves", O_BOOL, 0, l_field(record_moves)},
  {"record_weak", O_BOOL, 0, l_field(record_weak)},
  {"warn", O_FUNC, 0, 0},
  {"gc_at", O_LIST, 0, l_field(o.gc_at)},
  {"external_memory_limit", O_SIZE, LUA_MAXINTEGER, l_field(o.external_memory_limit)},
  {"heap_growing_factor", O_NUM, 0, l_field(o.heap_growing_factor)},
  {"check_thread", O_BOOL, 0, l_field(o.check_thread)},
  {NULL, 0, 0, 0}
};

/* "bad argument #1 to 'isolate' (option 'name' <what>)" */
static int l_opterror(lua_State *L, const l_option *op, const char *what) {
  return lsl_argerror(L, 1, "isolate", lua_pushfstring(L, "option '%s' %s", op->name, what));
}

/* What a bad option value on top is, for "got ...": its type, or for a number
** its value (NaN said as such: "got number" would hide why it was refused). */
static const char *l_optgot(lua_State *L) {
  lua_Number x;
  if (lua_type(L, -1) != LUA_TNUMBER) return luaL_typename(L, -1);
  if (lua_isinteger(L, -1)) return lua_pushfstring(L, "%I", lua_tointeger(L, -1));
  x = lua_tonumber(L, -1);
  if (x != x) return "NaN";
  return lua_pushfstring(L, "%f", x);
}

/* The value on top, an integer in 0..op->max (strict: a numeric string is a
** string, as everywhere in the binding). */
static void l_optint(lua_State *L, const l_option *op, void *field) {
  lua_Integer v = 0;
  int ok = lua_isinteger(L, -1);
  if (ok) v = lua_tointeger(L, -1);
  if (!ok || v < 0 || v > op->max)
    lsl_argerror(L, 1, "isolate", lua_pushfstring(L, "option '%s' must be an integer in "
                 "0..%I, got %s", op->name, op->max, l_optgot(L)));
  if (op->type == O_SIZE) *(size_t *)field = (size_t)v;
  else *(unsigned *)field = (unsigned)v;
}

static void l_optkind(lua_State *L, const l_option *op, int *field) {
  const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  if (strcmp(k, "alternate") == 0) *field = 0;
  else if (strcmp(k, "major") == 0) *field = 1;
  else if (strcmp(k, "minor") == 0) *field = -1;
  else l_opterror(L, op, "must be 'alternate', 'major' or 'minor'");
}

static int l_cmpu64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The list on top (option 'gc_at'), sorted and without repeats (the docs
** promise the order does not matter, and a count given twice collects once)
** into a buffer that replaces slot 2, where it stays until sl_isolate_new has
** copied it. */
static void l_optlist(lua_State *L, const l_option *op, sl_options *o) {
  lua_Integer i, n;
  uint64_t *at;
  if (!lua_istable(L, -1))
    l_opterror(L, op, "must be a list of positive integers");
  n = (lua_Integer)lua_rawlen(L, -1);
  at = (uint64_t *)lua_newuserdatauv(L, (size_t)n * sizeof *at + 1, 0);
  size_t k = 0;
  for (i = 1; i <= n; i++) {
    lua_Integer x = 0;
    int ok = lua_rawgeti(L, -2, i) == LUA_TNUMBER && lua_isinteger(L, -1);
    if (ok) x = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (!ok || x < 1)
      lsl_argerror(L, 1, "isolate", lua_pushfstring(L, "option 'gc_at' must be a "
                   "list of positive integers (bad element %I)", i));
    at[i - 1] = (uint64_t)x;
  }
  qsort(at, (size_t)n, sizeof *at, l_cmpu64);
  for (i = 0; i < n; i++)                      /* drop repeats */
    if (k == 0 || at[i] != at[k - 1]) at[k++] = at[i];
  o->gc_at = at;
  o->gc_at_count = k;
  lua_replace(L, 2);
}

/* Reads the options table at 1 into 'v' (slot 2 keeps the gc_at buffer).
** Unknown keys are errors: a typo must not silently mean "default". */
static void l_parseopts(lua_State *L, l_optvals *v) {
  const l_option *op;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    for (op = l_options; op->name; op++)
      if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), op->name) == 0)
        break;
    if (op->name == NULL) {
      lua_pushvalue(L, -2);
      lsl_argerror(L, 1, "isolate", lua_pushfstring(L, "unknown option '%s'",
                   luaL_tolstring(L, -1, NULL)));
    }
    lua_pop(L, 1);
  }
  for (op = l_options; op->name; op++) {
    void *field = (char *)v + op->field;
    if (lua_getfield(L, 1, op->name) != LUA_TNIL) {
      switch (op->type) {
        case O_SIZE: case O_UINT: l_optint(L, op, field); break;
        case O_KIND: l_optkind(L, op, (int *)field); break;
        case O_FUNC:
          if (!lua_isfunction(L, -1))
            l_opterror(L, op, "must be a function");
          break;
        case O_LIST: l_optlist(L, op, &v->o); break;
        case O_NUM:
          if (lua_type(L, -1) != LUA_TNUMBER)
            l_opterror(L, op, lua_pushfstring(L, "must be a number, got %s",
                                                luaL_typename(L, -1)));
          *(double *)field = (double)lua_tonumber(L, -1);
          break;
        default:
          if (!lua_isboolean(L, -1))
            l_opterror(L, op, lua_pushfstring(L, "must be a boolean, got %s",
                                                luaL_typename(L, -1)));
          *(int *)field = lua_toboolean(L, -1);
      }
    }
    lua_pop(L, 1);
  }
}


/* ================================================================ creation */

/* Gives the new Isolate userdata on top its user values (see lsltypes.h), the
** 'warn' option of the table at 1 among them. */
static void l_setuservalues(lua_State *L) {
  lua_newtable(L); lua_setiuservalue(L, -2, UV_SITES);
  lua_newtable(L); lua_setiuservalue(L, -2, UV_SITEIDX);
  lua_newtable(L); lua_setiuservalue(L, -2, UV_WEAK);
  lua_newtable(L); lua_setiuservalue(L, -2, UV_WEAKLOG);
  lua_getfield(L, 1, "warn");
  lua_setiuservalue(L, -2, UV_WARN);
  lsl_pushlocalmt(L, lua_gettop(L));           /* made and kept as UV_LOCALMT */
  lua_pop(L, 1);
  lua_newuserdatauv(L, 0, 1);                  /* the guard */
  luaL_setmetatable(L, GUARD_MT);
  lua_pushvalue(L, -2);
  lua_setiuservalue(L, -2, 1);
  lua_setiuservalue(L, -2, UV_GUARD);
}

/* core.isolate([opts]) */
static int l_isolate_new(lua_State *L) {
  l_optvals v;
  const char *bad;
  lsl_isolate *li;
  memset(&v, 0, sizeof v);
  sl_options_init(&v.o);
  if (lua_isnoneornil(L, 1)) { lua_settop(L, 0); lua_newtable(L); }
  if (!lua_istable(L, 1)) return lsl_typeerror(L, 1, "isolate", "table");
  lua_settop(L, 1);
  lua_pushnil(L);                              /* 2: the gc_at buffer, if any */
  l_parseopts(L, &v);
  if ((bad = sl_options_check(&v.o)) != NULL) return lsl_argerror(L, 1, "isolate", bad);
  li = (lsl_isolate *)lua_newuserdatauv(L, sizeof *li, NUV_ISOLATE);
  memset(li, 0, sizeof *li);
  li->tag = lsl_tag(UP_ISOLATE);
  lua_pushvalue(L, lua_upvalueindex(UP_ISOLATE));
  lua_setmetatable(L, -2);                     /* __gc set before the isolate exists */
  li->iso = sl_isolate_new(&v.o);              /* copies gc_at */
  if (li->iso == NULL) return luaL_error(L, "cannot create isolate (out of memory)");
  li->L = L;
  li->trace_gc = v.trace_gc;
  li->record_moves = v.record_moves;
  li->record_weak = v.record_weak;
  sl_set_gc_hook(li->iso, lsl_gc_hook, li);
  if (li->record_moves) sl_set_move_hook(li->iso, lsl_move_hook, li);
  l_setuservalues(L);
  /* registry map struct -> userdata, weak-valued (see the header comment) */
  lsl_pushisomap(L);
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, li);
  lua_pop(L, 1);
  return 1;
}

/* ================================================================ module */

/* One entry of the Lua API (see LSL_API in lsltypes.h): function 'f' under
** 'name' in the metatable of type 'up' if the name begins with "__" (a
** metamethod), else in that metatable's __index table. */
typedef struct l_reg {
  int up;
  const char *name;
  lua_CFunction f;
} l_reg;

#define l_entry(up, name, f) {up, name, f},
static const l_reg l_api[] = { LSL_API(l_entry) {0, NULL, NULL} };

/* Pushes a closure of 'f' with the metatables (at 'first'..) as upvalues. */
static void l_pushfunc(lua_State *L, int first, lua_CFunction f) {
  int i;
  for (i = 0; i < NUP; i++) lua_pushvalue(L, first + i);
  lua_pushcclosure(L, f, NUP);
}

/* Registers the whole API (l_api) into the metatables at 'first'.., each of
** which gets an __index table for its methods but the Path's, which has none. */
static void l_register(lua_State *L, int first) {
  const l_reg *r;
  int up;
  for (up = 1; up < UP_PATH; up++) {
    lua_newtable(L);
    lua_setfield(L, first + up - 1, "__index");
  }
  for (r = l_api; r->name; r++) {
    int mt = first + r->up - 1;
    if (r->name[0] == '_' && r->name[1] == '_')
      lua_pushvalue(L, mt);
    else
      lua_getfield(L, mt, "__index");
    l_pushfunc(L, first, r->f);
    lua_setfield(L, -2, r->name);
    lua_pop(L, 1);
  }
}

int luaopen_scopelab_core(lua_State *L) {
  static const char *const names[NUP] = {
    ISOLATE_MT, LOCAL_MT, SCOPE_MT, PERSISTENT_MT, PROBE_MT, REFERENCE_MT, NATIVE_MT,
    CALLINFO_MT, WEAKINFO_MT, PATH_MT
  };
  int i, first;
  /* every metatable first (re-used when busted opens the module again), all
  ** complete before any object gets one */
  first = lua_gettop(L) + 1;
  for (i = 0; i < NUP; i++) luaL_newmetatable(L, names[i]);
  l_register(L, first);
  luaL_newmetatable(L, GUARD_MT);
  lua_pushcfunction(L, l_guard_gc);
  lua_setfield(L, -2, "__gc");
  lsl_pushisomap(L);
  lua_pop(L, 2);
  lua_createtable(L, 0, 2);
  l_pushfunc(L, first, l_isolate_new);
  lua_setfield(L, -2, "isolate");
  lua_pushliteral(L, SL_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
