/* SPDX-License-Identifier: MIT */
/*
** lslglobal.c: handles that outlive scopes: persistent and global handles
** ("scopelab.Persistent"), Node-API references ("scopelab.Reference"), eternal
** handles, and the weak callbacks.
**
** The three kinds of node handle share one userdata (lsl_persistent) and differ
** in what dropping it does: a plain persistent (V8's Persistent) frees its node
** only if empty, so a persistent dropped without reset() keeps its object, the
** classic leak, on purpose; a global (V8's Global) always frees it; a reference
** (napi_ref) leaks a node that still holds an object, as Node-API does, and is
** weak exactly while its count is 0.
**
** Weak callbacks. While a persistent is weak with a Lua callback, the isolate's
** UV_WEAK table maps its node (a light userdata) to its userdata, which keeps
** both the userdata and the callback (its UV_CALLBACK) alive. The core's
** callback parameter is the isolate struct, never the persistent's: the
** callback finds the persistent through UV_WEAK and checks its tag and serial,
** so a userdata the debug library let be collected is never followed. The core
** calls l_weak_cb from inside a collection, possibly deep inside an allocation
** of any call: everything that touches Lua (and so could raise, even for
** memory) runs under lua_pcall in l_weak_body, on the thread of the call that
** may collect ('li->L'). An error in a callback, and a callback that cannot be
** run at all (no stack left), is counted ('cb_errors') and warned, never raised
** through the core.
*/

#include <string.h>

#include "lsltypes.h"

/* A live Persistent (up: UP_PERSISTENT) or Reference (UP_REFERENCE) at 'arg'. */
static lsl_persistent *l_checknode(lua_State *L, int arg, const char *op, int up) {
  int isref = up == UP_REFERENCE;
  lsl_persistent *lp = (lsl_persistent *)lsl_testud(L, arg, up);
  if (lp == NULL) {
    lsl_typeerror(L, arg, op, isref ? REFERENCE_MT : PERSISTENT_MT);
    return NULL;                                /* not reached */
  }
  if (lp->li->iso == NULL)
    lsl_argerror(L, arg, op, lsl_gone(lp->li, isref ? "reference of a disposed isolate"
                                                     : "handle of a disposed isolate"));
  if (lp->deleted)
    lsl_argerror(L, arg, op, isref ? "reference is deleted" : "persistent handle is deleted");
  return lp;
}

#define l_checkpers(L, arg, op) l_checknode(L, arg, op, UP_PERSISTENT)
#define l_checkref(L, arg, op) l_checknode(L, arg, op, UP_REFERENCE)

/* A Persistent or a Reference at 'arg' (its tag and isolate checked), or NULL. */
static lsl_persistent *l_testnode(lua_State *L, int arg) {
  lsl_persistent *lp = (lsl_persistent *)lsl_testud(L, arg, UP_PERSISTENT);
  return lp ? lp : (lsl_persistent *)lsl_testud(L, arg, UP_REFERENCE);
}

static int l_newpers(lua_State *L, int type, const char *op) {
  lsl_isolate *li = lsl_checkiso(L, 1, op);
  lsl_local *lo = lsl_checklocalof(L, li, 2, op, type != P_REFERENCE);
  lua_Integer count = 0;
  lsl_persistent *lp;
  sl_status st;
  if (type == P_REFERENCE) {
    count = lua_isnoneornil(L, 3) ? 0 : lsl_checkint(L, 3, op);
    if (count < 0)
      return lsl_argerror(L, 3, op, lua_pushfstring(L, "count must be non-negative, got %I",
                          count));
  }
  lp = (lsl_persistent *)lua_newuserdatauv(L, sizeof *lp, 2);
  memset(lp, 0, sizeof *lp);
  lp->tag = lsl_tag(type == P_REFERENCE ? UP_REFERENCE : UP_PERSISTENT);
  lp->li = li;
  lp->type = type;
  lp->count = count;
  lp->site = lsl_callsite(L, li, 1);
  lsl_stilllive(L, li, op);
  st = sl_persistent_new(li->iso, lo ? lo->h : SL_EMPTY_LOCAL, &lp->p);
  if (st != SL_OK) return lsl_fail(L, li, st, 2, op, lo);
  lp->id = lo ? lo->id : 0;
  /* from here the node exists: give the userdata its metatable (and __gc) first */
  lua_pushvalue(L, lua_upvalueindex(type == P_REFERENCE ? UP_REFERENCE : UP_PERSISTENT));
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, UV_ISO);
  sl_persistent_set_site(li->iso, lp->p, lp->site);
  if (type == P_REFERENCE && count == 0)
    sl_persistent_set_weak(li->iso, lp->p, NULL, NULL);
  return 1;
}

int lsl_iso_persistent(lua_State *L) { return l_newpers(L, P_PLAIN, "persistent"); }
int lsl_iso_global(lua_State *L) { return l_newpers(L, P_GLOBAL, "global"); }
int lsl_iso_reference(lua_State *L) { return l_newpers(L, P_REFERENCE, "reference"); }

/* Makes sure the Persistent at 1 ('lp') has its entry in UV_WEAK; returns 1 when it
** already had one. set_weak registers before the core call (no Lua allocation may
** come between a weak callback set in the core and its entry) and gives the new
** callback to the userdata only once the core accepted it: a refused set_weak must
** leave the callback it would have replaced in place (it may be pending: the object
** died in the collection whose first pass is running). */
int lsl_register(lua_State *L, lsl_persistent *lp) {
  int was;
  lua_getiuservalue(L, 1, UV_ISO);
  lsl_getuvtable(L, lua_gettop(L), UV_WEAK);
  was = lua_rawgetp(L, -1, (const void *)lp->p.node) == LUA_TUSERDATA &&
        lua_touserdata(L, -1) == (void *)lp;
  lua_pop(L, 1);
  if (!was) {
    lua_pushvalue(L, 1);
    lua_rawsetp(L, -2, (const void *)lp->p.node);
  }
  lua_pop(L, 2);
  return was;
}

/* Drops the entry that keeps a weak persistent and its callback alive. */
void lsl_unregister(lua_State *L, lsl_persistent *lp) {
  if (lsl_pushiso(L, lp->li)) {
    lsl_getuvtable(L, lua_gettop(L), UV_WEAK);
    lua_pushnil(L);
    lua_rawsetp(L, -2, (const void *)lp->p.node);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void l_persdelete(lua_State *L, lsl_persistent *lp) {
  if (lp->deleted || lp->li->iso == NULL) return;
  lsl_unregister(L, lp);
  if (lp->li->iso == NULL) return;             /* a finalizer run by Lua disposed it */
  sl_persistent_delete(lp->li->iso, lp->p);
  lp->deleted = 1;
}


/* ================================================================ shared methods */

/* p:get() and r:get() of the checked 'lp'. */
static int l_nodeget(lua_State *L, lsl_persistent *lp) {
  sl_local out;
  sl_status st = sl_persistent_get(lp->li->iso, lp->p, &out);
  if (st != SL_OK) return lsl_fail(L, lp->li, st, 1, "get", NULL);
  lsl_pushlocal(L, lp->li, 1, out, "get");
  return 1;
}

/* p:held_id(), p:in_heap() and the same of a Reference (see lsllocal.c): they
** need no live handle, only an isolate whose memory is alive (deleted or
** disposed: in_heap is false). */
static int l_nodeheld(lua_State *L, const char *op, int inheap) {
  lsl_persistent *lp = l_testnode(L, 1);
  if (lp == NULL) return lsl_typeerror(L, 1, op, PERSISTENT_MT);
  return lsl_pushheld(L, lp->li, lp->id, inheap);
}

int lsl_node_held_id(lua_State *L) { return l_nodeheld(L, "held_id", 0); }
int lsl_node_in_heap(lua_State *L) { return l_nodeheld(L, "in_heap", 1); }

/* p:is_empty() and r:is_empty() of the checked 'lp'. */
static int l_nodeempty(lua_State *L, lsl_persistent *lp) {
  int e = 1;
  sl_persistent_is_empty(lp->li->iso, lp->p, &e);
  lua_pushboolean(L, e);
  return 1;
}

/* __gc/__close of a Persistent or a Reference: a global always frees its node;
** a plain persistent and a reference only an empty one (see the note on top). */
int lsl_node_gc(lua_State *L) {
  lsl_persistent *lp = l_testnode(L, 1);
  int empty = 0;
  if (lp == NULL || lp->deleted || lp->li->iso == NULL) return 0;
  if (lp->type == P_GLOBAL ||
      (sl_persistent_is_empty(lp->li->iso, lp->p, &empty) == SL_OK && empty))
    l_persdelete(L, lp);
  return 0;
}

/* __eq: two handles of the same type naming the same node. */
int lsl_node_eq(lua_State *L) {
  lsl_persistent *a = l_testnode(L, 1), *b = l_testnode(L, 2);
  lua_pushboolean(L, a && b && a->tag == b->tag && a->p.node == b->p.node &&
                  a->p.serial == b->p.serial);
  return 1;
}

int lsl_node_site(lua_State *L) {
  lsl_persistent *lp = l_testnode(L, 1);
  if (lp == NULL) return lsl_typeerror(L, 1, "site", PERSISTENT_MT);
  lua_getiuservalue(L, 1, UV_ISO);
  lsl_pushsite(L, lua_gettop(L), lp->site);
  return 1;
}

int lsl_node_tostring(lua_State *L) {
  lsl_persistent *lp = l_testnode(L, 1);
  const char *name, *type, *where;
  int isref;
  if (lp == NULL) return lsl_typeerror(L, 1, "__tostring", PERSISTENT_MT);
  isref = lp->type == P_REFERENCE;
  name = isref ? REFERENCE_MT : PERSISTENT_MT;
  type = isref ? "reference" : lp->type == P_GLOBAL ? "global" : "persistent";
  lua_getiuservalue(L, 1, UV_ISO);
  lsl_pushsite(L, lua_gettop(L), lp->site);
  where = lua_isnil(L, -1) ? "?" : lua_tostring(L, -1);
  if (lp->li->iso == NULL)
    lua_pushfstring(L, "%s: %s (%s)", name, type,
                    lsl_disposed(lp->li) ? "isolate disposed" : "isolate in a worker");
  else if (lp->deleted)
    lua_pushfstring(L, "%s: %s (deleted)", name, type);
  else {
    int empty = 1, weak = 0;
    const char *state;
    sl_persistent_is_empty(lp->li->iso, lp->p, &empty);
    sl_persistent_is_weak(lp->li->iso, lp->p, &weak);
    state = empty ? "empty" : weak ? "weak" : "strong";
    if (isref)
      lua_pushfstring(L, "%s: %s created at %s (%s, count %I)", name, type, where, state,
                      lp->count);
    else
      lua_pushfstring(L, "%s: %s created at %s (%s)", name, type, where, state);
  }
  return 1;
}


/* ================================================================ persistent */

int lsl_pers_get(lua_State *L) { return l_nodeget(L, l_checkpers(L, 1, "get")); }

int lsl_pers_is_empty(lua_State *L) {
  return l_nodeempty(L, l_checkpers(L, 1, "is_empty"));
}

int lsl_pers_reset(lua_State *L) {
  lsl_persistent *lp = l_checkpers(L, 1, "reset");
  lsl_local *lo = lsl_checklocalof(L, lp->li, 2, "reset", 1);
  sl_status st = sl_persistent_reset(lp->li->iso, lp->p, lo ? lo->h : SL_EMPTY_LOCAL);
  if (st != SL_OK) return lsl_fail(L, lp->li, st, 2, "reset", lo);
  if (lo) lp->id = lo->id;                     /* reset(nil) keeps the last one held */
  lsl_unregister(L, lp);                         /* Reset makes it strong again */
  return 0;
}

static int l_tostring_body(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  return 1;
}

/* Appends the callback just run to the weak log (option 'record_weak'); the
** Persistent is at 'pidx', the error text (or NULL) in 'err'; 'pass' is
** "first" or "second" for a two-pass callback, NULL for a single pass. */
void lsl_logweak(lua_State *L, lsl_isolate *li, int iso, int pidx, const char *err,
                 const char *pass) {
  lsl_getuvtable(L, iso, UV_WEAKLOG);
  lua_createtable(L, 0, 5);
  if (pass) { lua_pushstring(L, pass); lua_setfield(L, -2, "pass"); }
  lua_pushvalue(L, pidx);
  lua_setfield(L, -2, "handle");
  lua_pushinteger(L, (lua_Integer)li->collections);
  lua_setfield(L, -2, "collection");
  lua_pushinteger(L, (lua_Integer)li->cb_order);
  lua_setfield(L, -2, "order");
  if (err) { lua_pushstring(L, err); lua_setfield(L, -2, "error"); }
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* The error on top, raised by a weak callback (or a task: 'what'): counted and
** warned. Its text is returned (the error object's own __tostring may fail
** too: converted under pcall). */
const char *lsl_weakerror(lua_State *L, lsl_isolate *li, const char *what) {
  const char *err;
  li->cb_errors++;
  lua_pushcfunction(L, l_tostring_body);
  lua_pushvalue(L, -2);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
    lua_pop(L, 1);
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1));
  }
  err = lua_tostring(L, -1);
  lsl_warn(L, li, lua_pushfstring(L, "scopelab: error in %s: %s", what, err));
  return err;
}

/* Pushes the isolate of 'li' (at 'iso') and, for the persistent of 'node' and
** 'serial' registered in its UV_WEAK, that table and the Persistent, which it
** unregisters (the callback may make it weak again). NULL when the persistent
** is no longer registered (cleared meanwhile). */
const lsl_persistent *lsl_takeweak(lua_State *L, lsl_isolate *li, const void *node,
                                   uint64_t serial, int *iso) {
  const lsl_persistent *lp;
  if (!lsl_pushiso(L, li)) luaL_error(L, "its isolate is not in the registry map");
  *iso = lua_gettop(L);
  lsl_getuvtable(L, *iso, UV_WEAK);
  lua_rawgetp(L, -1, node);
  lp = (const lsl_persistent *)lsl_testud(L, -1, UP_PERSISTENT);
  if (lp == NULL || lp->li != li || (const void *)lp->p.node != node ||
      lp->p.serial != serial)
    return NULL;
  lua_pushnil(L);
  lua_rawsetp(L, -3, node);
  return lp;
}

/* A weak callback runs: its order after its collection, and the count that
** tells a constructor to re-check its new Local. */
void lsl_weakran(lsl_isolate *li) {
  if (li->cb_collection != li->collections) {
    li->cb_collection = li->collections;
    li->cb_order = 0;
  }
  li->cb_order++;
  li->cb_total++;
}

/* The Lua side of a weak callback (see the note on top): 1 is the isolate
** struct, 2 the node, 3 the serial of the persistent whose object died. */
static int l_weak_body(lua_State *L) {
  lsl_isolate *li = (lsl_isolate *)lua_touserdata(L, 1);
  int iso, rc;
  const char *err = NULL;
  if (lsl_takeweak(L, li, lua_touserdata(L, 2), (uint64_t)lua_tointeger(L, 3), &iso) == NULL)
    return 0;                                  /* cleared meanwhile */
  lsl_weakran(li);
  lua_getiuservalue(L, -1, UV_CALLBACK);
  lua_pushvalue(L, -2);
  rc = lua_pcall(L, 1, 0, 0);
  li->L = L;                                   /* nested calls may have changed it */
  if (rc != LUA_OK) err = lsl_weakerror(L, li, "weak callback");
  if (li->record_weak) lsl_logweak(L, li, iso, iso + 2, err, NULL);
  return 0;
}

/* A weak callback that could not run at all (no Lua stack left, or l_weak_body
** itself failed): counted and warned like an error inside one. With no stack
** to call the 'warn' option on, lua_warning takes it (it needs no stack). */
void lsl_weakdropped(lua_State *L, lsl_isolate *li, const char *why) {
  li->cb_errors++;
  if (lua_checkstack(L, 8)) {
    lsl_warn(L, li, lua_pushfstring(L, "scopelab: weak callback not run: %s", why));
  } else {
    lua_warning(L, "scopelab: weak callback not run: ", 1);
    lua_warning(L, why, 0);
  }
}

static void l_weak_cb(sl_isolate *iso, sl_persistent p, void *param) {
  lsl_isolate *li = (lsl_isolate *)param;
  lua_State *L = li->L;
  int top;
  (void)iso;
  if (L == NULL) return;
  if (!lua_checkstack(L, 5)) { lsl_weakdropped(L, li, "Lua stack overflow"); return; }
  top = lua_gettop(L);
  lua_pushcfunction(L, l_weak_body);
  lua_pushlightuserdata(L, li);
  lua_pushlightuserdata(L, (void *)p.node);
  lua_pushinteger(L, (lua_Integer)p.serial);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK)
    lsl_weakdropped(L, li, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
  li->L = L;
  lua_settop(L, top);
}

/* p:set_weak([cb]); p:set_weak{first_pass = f, ...} is lslweak.c's. */
int lsl_pers_set_weak(lua_State *L) {
  lsl_persistent *lp = l_checkpers(L, 1, "set_weak");
  lsl_isolate *li = lp->li;
  int hascb = !lua_isnoneornil(L, 2), was;
  sl_status st;
  if (lua_istable(L, 2)) return lsl_pers_set_weak_two_pass(L, lp);
  if (hascb && lua_type(L, 2) != LUA_TFUNCTION)
    return lsl_typeerror(L, 2, "set_weak", "function");
  lua_settop(L, 2);
  was = hascb ? lsl_register(L, lp) : 1;
  lsl_stilllive(L, li, "set_weak");            /* the table stores may have run a finalizer */
  st = sl_persistent_set_weak(li->iso, lp->p, hascb ? l_weak_cb : NULL, hascb ? li : NULL);
  if (st != SL_OK) {                           /* the callback it replaced stays */
    if (!was) lsl_unregister(L, lp);
    return lsl_fail(L, li, st, 1, "set_weak", NULL);
  }
  if (hascb) {
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 1, UV_CALLBACK);
  } else {
    lsl_unregister(L, lp);
  }
  return 0;
}

int lsl_pers_clear_weak(lua_State *L) {
  lsl_persistent *lp = l_checkpers(L, 1, "clear_weak");
  void *param = NULL;
  sl_status st = sl_persistent_clear_weak(lp->li->iso, lp->p, &param);
  if (st != SL_OK) return lsl_fail(L, lp->li, st, 1, "clear_weak", NULL);
  lsl_unregister(L, lp);
  return 0;
}

int lsl_pers_is_weak(lua_State *L) {
  lsl_persistent *lp = l_checkpers(L, 1, "is_weak");
  int w = 0;
  sl_persistent_is_weak(lp->li->iso, lp->p, &w);
  lua_pushboolean(L, w);
  return 1;
}

/* Needs no live isolate: the type is the userdata's own. */
int lsl_pers_is_global(lua_State *L) {
  lsl_persistent *lp = (lsl_persistent *)lsl_testud(L, 1, UP_PERSISTENT);
  if (lp == NULL) return lsl_typeerror(L, 1, "is_global", PERSISTENT_MT);
  lua_pushboolean(L, lp->type == P_GLOBAL);
  return 1;
}

int lsl_pers_delete(lua_State *L) {
  l_persdelete(L, l_checkpers(L, 1, "delete"));
  return 0;
}


/* ================================================================ references */

int lsl_ref_ref(lua_State *L) {
  lsl_persistent *lp = l_checkref(L, 1, "ref");
  if (lp->count == LUA_MAXINTEGER)
    return lsl_argerror(L, 1, "ref", "reference count would overflow");
  if (lp->count == 0) {
    void *param;
    sl_status st = sl_persistent_clear_weak(lp->li->iso, lp->p, &param);
    if (st != SL_OK) return lsl_fail(L, lp->li, st, 1, "ref", NULL);
  }
  lua_pushinteger(L, ++lp->count);
  return 1;
}

int lsl_ref_unref(lua_State *L) {
  lsl_persistent *lp = l_checkref(L, 1, "unref");
  if (lp->count == 0) return lsl_argerror(L, 1, "unref", "reference count is already 0");
  if (lp->count == 1) {
    int empty = 0;
    sl_status st = sl_persistent_is_empty(lp->li->iso, lp->p, &empty);
    if (st == SL_OK && !empty)                 /* an empty node has nothing to hold */
      st = sl_persistent_set_weak(lp->li->iso, lp->p, NULL, NULL);
    if (st != SL_OK) return lsl_fail(L, lp->li, st, 1, "unref", NULL);
  }
  lua_pushinteger(L, --lp->count);
  return 1;
}

int lsl_ref_count(lua_State *L) {
  lua_pushinteger(L, l_checkref(L, 1, "count")->count);
  return 1;
}

int lsl_ref_get(lua_State *L) { return l_nodeget(L, l_checkref(L, 1, "get")); }

int lsl_ref_is_empty(lua_State *L) {
  return l_nodeempty(L, l_checkref(L, 1, "is_empty"));
}

int lsl_ref_delete(lua_State *L) {
  l_persdelete(L, l_checkref(L, 1, "delete"));
  return 0;
}

int lsl_ref_is_deleted(lua_State *L) {
  lsl_persistent *lp = (lsl_persistent *)lsl_testud(L, 1, UP_REFERENCE);
  if (lp == NULL) return lsl_typeerror(L, 1, "is_deleted", REFERENCE_MT);
  lua_pushboolean(L, lp->deleted || lsl_disposed(lp->li));
  return 1;
}


/* ================================================================ eternal */

int lsl_iso_eternal(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "eternal");
  lsl_local *lo = lsl_checklocalof(L, li, 2, "eternal", 0);
  size_t index;
  sl_status st = sl_eternal_new(li->iso, lo->h, &index);
  if (st != SL_OK) return lsl_fail(L, li, st, 2, "eternal", lo);
  lua_pushinteger(L, (lua_Integer)index + 1);  /* 1-based, as Lua indices are */
  return 1;
}

int lsl_iso_eternal_get(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "eternal_get");
  lua_Integer i = lsl_checkint(L, 2, "eternal_get");
  size_t n = sl_eternal_count(li->iso);
  sl_local out;
  sl_status st;
  if (i < 1 || (lua_Unsigned)i > n)
    return lsl_argerror(L, 2, "eternal_get", lua_pushfstring(L, "no eternal handle %I "
                        "(there are %I)", i, (lua_Integer)n));
  st = sl_eternal_get(li->iso, (size_t)(i - 1), &out);
  if (st != SL_OK) return lsl_fail(L, li, st, 1, "eternal_get", NULL);
  lsl_pushrootlocal(L, li, 1, out);
  return 1;
}
