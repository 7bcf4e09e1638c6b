/* SPDX-License-Identifier: MIT */
/*
** lsllocal.c: Locals ("scopelab.Local") and the Isolate methods that make them
** (iso:integer, iso:number, iso:string, iso:array, iso:array_of, iso:smi, and
** the read-only roots iso:undefined, iso:null, iso:boolean). The methods of
** objects, functions and externals are in lslobject.c; a:get / a:set hand a
** string key to it.
**
** A Local is the hottest object of the binding: every experiment makes millions.
** So it has no user value (what keeps its isolate alive is its metatable, one
** per isolate: UV_LOCALMT, a copy of the registry's "scopelab.Local" holding the
** Isolate userdata at [1]), no __gc (its slot belongs to its scope), and its
** constructors and a:get / a:set / a:unpack try the core call first and take a
** checked path, which raises the precise message, only when it fails. A
** userdata with no user value is smaller, made with two API calls fewer, and
** marked by Lua's collector at once instead of through the gray list.
**
** A constructor may run weak callbacks (its allocation may collect), and a
** callback is Lua code: it may close the scope the new Local was made in, or
** leave one open. 'cb_total' tells whether any ran; then the new Local is
** checked again (l_recheck) before it is returned.
*/

#include <limits.h>

#include "lsltypes.h"

/* ================================================================ making Locals */

/* Pushes the metatable of the Locals of the Isolate at 'isoidx' (absolute): its
** UV_LOCALMT, a copy of the registry's "scopelab.Local" plus the Isolate at [1],
** made when missing (at creation, or when the debug library replaced it). */
void lsl_pushlocalmt(lua_State *L, int isoidx) {
  if (lua_getiuservalue(L, isoidx, UV_LOCALMT) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, lua_upvalueindex(UP_LOCAL))) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_pushvalue(L, isoidx);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, isoidx, UV_LOCALMT);
}

/* Pushes the metatable for new Locals of the isolate of the userdata at 'hidx'
** (absolute), which the caller has checked: an Isolate, a Local (its own
** metatable) or another handle (through its user value). */
static void l_pushlocalmt(lua_State *L, int hidx) {
  const lsl_head *p = (const lsl_head *)lua_touserdata(L, hidx);
  if (p->tag == lsl_tag(UP_LOCAL)) {
    lua_getmetatable(L, hidx);
  } else if (p->tag == lsl_tag(UP_ISOLATE)) {
    lsl_pushlocalmt(L, hidx);
  } else {
    lua_getiuservalue(L, hidx, UV_ISO);
    lsl_pushlocalmt(L, lua_gettop(L));
    lua_remove(L, -2);
  }
}

/* Fills the Local 'lo' on top (already holding a live 'h') with its isolate,
** the innermost scope's site and level, and its object's identity. */
static void l_initlocal(lsl_isolate *li, lsl_local *lo) {
  lo->tag = lsl_tag(UP_LOCAL);
  lo->li = li;
  lo->site = li->cur_site;
  lo->level = li->cur_level;
  /* the userdata's allocation may have run a finalizer that disposed the isolate:
  ** the Local is then dead, and every use of it says so */
  if (li->iso == NULL || sl_identity(li->iso, lo->h, &lo->id) != SL_OK) lo->id = 0;
}

/* Turns the userdata on top (already holding 'h') into a Local of the isolate
** of the userdata at 'hidx' (see l_pushlocalmt). */
static void l_finishlocal(lua_State *L, lsl_isolate *li, int hidx, lsl_local *lo) {
  l_initlocal(li, lo);
  l_pushlocalmt(L, hidx);
  lua_setmetatable(L, -2);
}

/* Pushes a new Local for the non-empty 'h', made by a method of the userdata at
** 'hidx' (absolute; see l_pushlocalmt). */
void lsl_pushlocalof(lua_State *L, lsl_isolate *li, int hidx, sl_local h) {
  lsl_local *lo = (lsl_local *)lua_newuserdatauv(L, sizeof *lo, 0);
  lo->h = h;
  l_finishlocal(L, li, hidx, lo);
}

/* Pushes a Local for 'h' (nil when empty), as lsl_pushlocalof, for 'op'. */
void lsl_pushlocal(lua_State *L, lsl_isolate *li, int hidx, sl_local h, const char *op) {
  if (sl_local_is_empty(h)) { lua_pushnil(L); return; }
  lsl_pushlocalof(L, li, hidx, h);
  lsl_flushwatch(L, li, op);
}

/* Pushes a Local bound to a root or eternal slot (depth 0 in its stamp): it
** belongs to no scope, so it has no level or site and is never stale. */
void lsl_pushrootlocal(lua_State *L, lsl_isolate *li, int hidx, sl_local h) {
  lsl_local *lo;
  lsl_pushlocalof(L, li, hidx, h);
  lo = (lsl_local *)lua_touserdata(L, -1);
  lo->site = lo->level = 0;
}


/* ================================================================ constructors */

/* Weak callbacks ran inside the call that made 'lo': one may have closed the scope
** it was made in (then it is refused here, not at first use) or left a scope open
** (then the site and level come from the Local's own scope, not the innermost). */
static void l_recheck(lua_State *L, lsl_isolate *li, lsl_local *lo, const char *op) {
  uint32_t depth;
  sl_scope_info in;
  if (li->iso == NULL) lsl_argerror(L, 1, op, lsl_gone(li, "isolate is disposed"));
  if (sl_local_check(li->iso, lo->h) != SL_OK)
    lsl_argerror(L, 1, op, "a weak callback closed the scope the new handle was made in");
  sl_local_scope(lo->h, &depth, NULL);
  if (sl_scope_info_at(li->iso, depth, &in) == SL_OK) {
    lo->site = in.site;
    lo->level = in.level;
  }
}

/* The head of every constructor, after its arguments are checked: the new Local's
** userdata (its allocation may run a finalizer that disposes the isolate: checked
** again after it) and, in *cb0, the count of weak callbacks run so far. */
static inline lsl_local *l_newlocal(lua_State *L, lsl_isolate *li, const char *op,
                                    uint64_t *cb0) {
  lsl_local *lo = (lsl_local *)lua_newuserdatauv(L, sizeof *lo, 0);
  if (li->iso == NULL) lsl_argerror(L, 1, op, lsl_gone(li, "isolate is disposed"));
  li->L = L;
  *cb0 = li->cb_total;
  return lo;
}

/* A constructor failed with 'st' after weak callbacks ran inside it: a stale
** status then means a callback closed the scope of the new handle or of its
** operands (the core refuses to write through their slots). */
static void l_failedincallback(lua_State *L, lsl_isolate *li, sl_status st, uint64_t cb0,
                               const char *op) {
  if (li->cb_total != cb0 && st == SL_ESTALE)
    lsl_argerror(L, 1, op, "a weak callback closed the scope the new handle was made in");
}

/* The tail of every constructor: 'st' is the core call's status. */
static inline int l_madelocal(lua_State *L, lsl_isolate *li, lsl_local *lo, sl_status st,
                              uint64_t cb0, const char *op) {
  if (st != SL_OK) {
    l_failedincallback(L, li, st, cb0, op);
    return lsl_fail(L, li, st, 1, op, NULL);
  }
  l_finishlocal(L, li, 1, lo);
  if (li->cb_total != cb0) l_recheck(L, li, lo, op);
  lsl_flushwatch(L, li, op);
  return 1;
}

/* For the constructors of the other files (lslobject.c, lslcall.c): the head
** and the tail of every constructor, out of line. */
lsl_local *lsl_newlocal(lua_State *L, lsl_isolate *li, const char *op, uint64_t *cb0) {
  return l_newlocal(L, li, op, cb0);
}

int lsl_madelocal(lua_State *L, lsl_isolate *li, lsl_local *lo, sl_status st, uint64_t cb0,
                  const char *op) {
  return l_madelocal(L, li, lo, st, cb0, op);
}

/* iso:integer(i) is the hot path: one userdata, no table lookups. */
int lsl_iso_integer(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "integer");
  lua_Integer v = lsl_checkint(L, 2, "integer");
  uint64_t cb0;
  lsl_local *lo = l_newlocal(L, li, "integer", &cb0);
  return l_madelocal(L, li, lo, sl_integer(li->iso, (int64_t)v, &lo->h), cb0, "integer");
}

/* iso:smi(i): the value lives in the slot (no object); out of V8's 31-bit
** range it is refused here, before the core sees a truncated int32. Nothing
** is allocated, so no callback can run; and a Smi has no identity to read
** (asking sl_identity would format an error message for nothing). */
int lsl_iso_smi(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "smi");
  lua_Integer v = lsl_checkint(L, 2, "smi");
  uint64_t cb0;
  lsl_local *lo;
  sl_status st;
  if (v < SL_SMI_MIN || v > SL_SMI_MAX)
    return lsl_argerror(L, 2, "smi", lua_pushfstring(L, "%I is out of range (%d .. %d)", v,
                        (int)SL_SMI_MIN, (int)SL_SMI_MAX));
  lo = l_newlocal(L, li, "smi", &cb0);
  st = sl_smi(li->iso, (int32_t)v, &lo->h);
  if (st != SL_OK) return lsl_fail(L, li, st, 1, "smi", NULL);
  lo->tag = lsl_tag(UP_LOCAL);
  lo->li = li;
  lo->site = li->cur_site;
  lo->level = li->cur_level;
  lo->id = 0;
  l_pushlocalmt(L, 1);
  lua_setmetatable(L, -2);
  lsl_flushwatch(L, li, "smi");
  return 1;
}

/* iso:undefined(), iso:null(), iso:boolean(b): Locals bound to the isolate's
** root slots (v8::Undefined): no handle, no scope needed, never stale. */
static int l_root(lua_State *L, const char *op, int which) {
  lsl_isolate *li = lsl_checkiso(L, 1, op);
  sl_local h = which == 0 ? sl_undefined(li->iso) : which == 1 ? sl_null(li->iso)
             : sl_boolean(li->iso, lua_toboolean(L, 2));
  if (which == 2 && lua_type(L, 2) != LUA_TBOOLEAN)
    return lsl_typeerror(L, 2, op, "boolean");
  lsl_pushrootlocal(L, li, 1, h);
  return 1;
}

int lsl_iso_undefined(lua_State *L) { return l_root(L, "undefined", 0); }
int lsl_iso_null(lua_State *L) { return l_root(L, "null", 1); }
int lsl_iso_boolean(lua_State *L) { return l_root(L, "boolean", 2); }

int lsl_iso_number(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "number");
  uint64_t cb0;
  lsl_local *lo;
  double v;
  if (lua_type(L, 2) != LUA_TNUMBER) return lsl_typeerror(L, 2, "number", "number");
  v = (double)lua_tonumber(L, 2);
  lo = l_newlocal(L, li, "number", &cb0);
  return l_madelocal(L, li, lo, sl_number(li->iso, v, &lo->h), cb0, "number");
}

int lsl_iso_string(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "string");
  uint64_t cb0;
  lsl_local *lo;
  const char *s;
  size_t len;
  if (lua_type(L, 2) != LUA_TSTRING) return lsl_typeerror(L, 2, "string", "string");
  s = lua_tolstring(L, 2, &len);
  lo = l_newlocal(L, li, "string", &cb0);
  return l_madelocal(L, li, lo, sl_string(li->iso, s, len, &lo->h), cb0, "string");
}

int lsl_iso_array(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "array");
  lua_Integer n = lsl_checkint(L, 2, "array");
  uint64_t cb0;
  lsl_local *lo;
  if (n < 0)
    return lsl_argerror(L, 2, "array", lua_pushfstring(L, "size must be non-negative, "
                        "got %I", n));
  lo = l_newlocal(L, li, "array", &cb0);
  return l_madelocal(L, li, lo, sl_array(li->iso, (size_t)n, &lo->h), cb0, "array");
}

/* iso:array_of(...): a new array whose i-th element is the object of the i-th
** argument (nil leaves it empty), in one call: what iso:array(n) followed by n
** a:set(i, h) does, for one method dispatch and one userdata. The core call
** checks every element before it allocates; when it fails, the checked loop
** names the argument to blame (or, all being fine, the failure itself). */
#if !defined(LSL_ARRAYOF_STACK)
#define LSL_ARRAYOF_STACK 8     /* elements gathered on the C stack */
#endif

int lsl_iso_array_of(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "array_of");
  int n = lua_gettop(L) - 1, i;
  sl_local small[LSL_ARRAYOF_STACK], *elems = small;
  lsl_local *lo;
  sl_status st;
  uint64_t cb0;
  if (n > LSL_ARRAYOF_STACK)                  /* at n + 2, after the arguments */
    elems = (sl_local *)lua_newuserdatauv(L, (size_t)n * sizeof *elems, 0);
  for (i = 0; i < n; i++) {
    lsl_local *v = lsl_tolocalof(L, i + 2, li);
    if (v != NULL) elems[i] = v->h;
    else if (lua_isnil(L, i + 2)) elems[i] = SL_EMPTY_LOCAL;
    else {                                    /* raises: not a Local of 'li' */
      const lsl_local *c = lsl_checklocalof(L, li, i + 2, "array_of", 1);
      elems[i] = c != NULL ? c->h : SL_EMPTY_LOCAL;
    }
  }
  lo = l_newlocal(L, li, "array_of", &cb0);
  st = sl_array_from(li->iso, (size_t)n, elems, &lo->h);
  if (st != SL_OK) {
    l_failedincallback(L, li, st, cb0, "array_of");
    if (st == SL_ESTALE || st == SL_EISOLATE || st == SL_EARG)  /* an element's fault */
      for (i = 2; i <= n + 1; i++) lsl_checklocalof(L, li, i, "array_of", 1);
  }
  return l_madelocal(L, li, lo, st, cb0, "array_of");
}


/* ================================================================ methods */

/* A live Local at arg 1 (self). */
static lsl_local *l_self(lua_State *L, const char *op) {
  lsl_local *lo = lsl_checklocal(L, 1, op);
  sl_status st = sl_local_check(lo->li->iso, lo->h);
  if (st != SL_OK) lsl_fail(L, lo->li, st, 1, op, lo);
  return lo;
}

int lsl_local_value(lua_State *L) {
  lsl_local *lo = l_self(L, "value");
  sl_isolate *iso = lo->li->iso;
  sl_kind k;
  sl_kind_of(iso, lo->h, &k);
  switch (k) {
    case SL_INTEGER: { int64_t v; sl_integer_value(iso, lo->h, &v);
                       lua_pushinteger(L, (lua_Integer)v); return 1; }
    case SL_NUMBER: { double v; sl_number_value(iso, lo->h, &v);
                      lua_pushnumber(L, (lua_Number)v); return 1; }
    case SL_STRING: { const char *b; size_t n; sl_string_value(iso, lo->h, &b, &n);
                      lua_pushlstring(L, b, n); return 1; }  /* copies before any GC */
    case SL_SMI: { int32_t v; sl_smi_value(iso, lo->h, &v);
                   lua_pushinteger(L, (lua_Integer)v); return 1; }
    case SL_BOOLEAN: { int b; sl_boolean_value(iso, lo->h, &b);
                       lua_pushboolean(L, b); return 1; }
    case SL_UNDEFINED: case SL_NULL: lua_pushnil(L); return 1;
    default:
      return lsl_argerror(L, 1, "value", lua_pushfstring(L, "%s %s has no Lua value",
                          k == SL_ARRAY || k == SL_OBJECT || k == SL_EXTERNAL ? "an" : "a",
                          sl_kind_name(k)));
  }
}

/* h:kind(), h:id(), h:address(), h:generation(): what the core says of the
** object of a live Local. */
enum { D_KIND, D_ID, D_ADDRESS, D_GENERATION };

static int l_describe(lua_State *L, int what) {
  static const char *const ops[] = { "kind", "id", "address", "generation" };
  lsl_local *lo = l_self(L, ops[what]);
  sl_isolate *iso = lo->li->iso;
  sl_kind k = SL_INTEGER;
  uint64_t id = 0;
  uintptr_t a = 0;
  sl_generation g = SL_YOUNG;
  sl_status st;
  switch (what) {   /* a Smi has no identity, address or generation: the core says so */
    case D_KIND: st = sl_kind_of(iso, lo->h, &k); lua_pushstring(L, sl_kind_name(k)); break;
    case D_ID: st = sl_identity(iso, lo->h, &id); lua_pushinteger(L, (lua_Integer)id); break;
    case D_ADDRESS: st = sl_address(iso, lo->h, &a); lua_pushinteger(L, (lua_Integer)a); break;
    default: st = sl_generation_of(iso, lo->h, &g); lua_pushstring(L, lsl_genname(g));
  }
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, ops[what], lo);
  return 1;
}

int lsl_local_kind(lua_State *L) { return l_describe(L, D_KIND); }
int lsl_local_id(lua_State *L) { return l_describe(L, D_ID); }
int lsl_local_address(lua_State *L) { return l_describe(L, D_ADDRESS); }
int lsl_local_generation(lua_State *L) { return l_describe(L, D_GENERATION); }

int lsl_local_is_valid(lua_State *L) {
  lsl_local *lo = (lsl_local *)lsl_testud(L, 1, UP_LOCAL);
  if (lo == NULL) return lsl_typeerror(L, 1, "is_valid", LOCAL_MT);
  if (lo->li->worker_iso != NULL) return lsl_argerror(L, 1, "is_valid", LSL_WORKER_MSG);
  lua_pushboolean(L, lo->li->iso != NULL && sl_local_check(lo->li->iso, lo->h) == SL_OK);
  return 1;
}

/* Raises "array expected, got <kind>" for the live Local 'lo' at 1. */
static int l_notarray(lua_State *L, lsl_local *lo, const char *op) {
  sl_kind k;
  if (sl_kind_of(lo->li->iso, lo->h, &k) != SL_OK)
    return lsl_argerror(L, 1, op, "array expected");
  return lsl_argerror(L, 1, op, lua_pushfstring(L, "array expected, got %s", sl_kind_name(k)));
}

/* h:held_id(), h:in_heap(): the identity of the object the Local was made for,
** and whether an object with that identity is still in the heap (a heap walk;
** false once the isolate is disposed). Both work after the scope closed: that
** is what they are for. */
static int l_local_held(lua_State *L, const char *op, int inheap) {
  lsl_local *lo = (lsl_local *)lsl_testud(L, 1, UP_LOCAL);
  if (lo == NULL) return lsl_typeerror(L, 1, op, LOCAL_MT);
  return lsl_pushheld(L, lo->li, lo->id, inheap);
}

int lsl_local_held_id(lua_State *L) { return l_local_held(L, "held_id", 0); }
int lsl_local_in_heap(lua_State *L) { return l_local_held(L, "in_heap", 1); }

/* A 1-based index into array 'lo' at 'arg', returned 0-based. */
static size_t l_checkindex(lua_State *L, lsl_local *lo, int arg, const char *op) {
  lua_Integer i = lsl_checkint(L, arg, op);
  size_t n;
  sl_status st = sl_array_length(lo->li->iso, lo->h, &n);
  if (st != SL_OK) l_notarray(L, lo, op);
  if (i < 1 || (lua_Unsigned)i > n)
    lsl_argerror(L, arg, op, lua_pushfstring(L, "index %I out of range 1..%I", i,
                 (lua_Integer)n));
  return (size_t)(i - 1);
}

/* The hot paths of a:get(i) and a:set(i, v) try the core call at once on the
** plain case (a Local of a live isolate, an integer index, a Local of the same
** isolate or nil) and trust its SL_OK, which implies every check below passed;
** anything else, including a failure, takes the checked path, which runs the
** checks in their order and so raises the same message as always. A failed
** core call changes nothing, so running it again there is harmless. A string
** key is an object's property (o:get(key), o:set(key, v)): the same, with the
** core's _named calls, which make no handle for the key. */
static int l_local_get_checked(lua_State *L);

int lsl_local_get(lua_State *L) {
  lsl_local *lo = (lsl_local *)lsl_testud(L, 1, UP_LOCAL);
  sl_local out = SL_EMPTY_LOCAL;
  if (lo != NULL && lo->li->iso != NULL) {
    sl_status st = SL_EARG;
    if (lua_isinteger(L, 2)) {
      st = sl_array_get(lo->li->iso, lo->h, (size_t)lua_tointeger(L, 2) - 1, &out);
    } else if (lua_type(L, 2) == LUA_TSTRING) {
      size_t n;
      const char *k = lua_tolstring(L, 2, &n);
      st = sl_object_get_named(lo->li->iso, lo->h, k, n, &out);
    }
    if (st == SL_OK) {
      if (sl_local_is_empty(out)) { lua_pushnil(L); return 1; }
      lsl_pushlocalof(L, lo->li, 1, out);
      lsl_flushwatch(L, lo->li, "get");
      return 1;
    }
  }
  return l_local_get_checked(L);
}

/* 1 when the live 'lo' is an object: its keys are strings (raised for
** anything else), where an array's are integers. */
static int l_isobject(lua_State *L, lsl_local *lo, const char *op) {
  sl_kind k;
  if (sl_kind_of(lo->li->iso, lo->h, &k) != SL_OK || k != SL_OBJECT) return 0;
  if (lua_type(L, 2) != LUA_TSTRING) lsl_typeerror(L, 2, op, "string");
  return 1;
}

static int l_local_get_checked(lua_State *L) {
  lsl_local *lo = l_self(L, "get");
  size_t i;
  if (l_isobject(L, lo, "get")) return lsl_object_get_checked(L, lo);
  i = l_checkindex(L, lo, 2, "get");
  sl_local out;
  sl_status st = sl_array_get(lo->li->iso, lo->h, i, &out);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "get", lo);
  lsl_pushlocal(L, lo->li, 1, out, "get");
  return 1;
}

/* The range i..j of a:unpack([i [, j]]) over an array of 'n' elements (nargs
** arguments, self included; the metatable of the new Locals sits above them, so
** slot 3 is 'j' only if given). Returns 0 for an empty range. */
static int l_unpackrange(lua_State *L, int nargs, size_t n, lua_Integer *pi,
                         lua_Integer *pj) {
  lua_Integer i = 1, j = (lua_Integer)n;
  if (nargs > 1) {
    if (!lua_isnil(L, 2)) i = lsl_checkint(L, 2, "unpack");
    if (nargs >= 3 && !lua_isnil(L, 3)) j = lsl_checkint(L, 3, "unpack");
    if (i > j) return 0;                        /* empty range, as table.unpack */
    if (i < 1 || (lua_Unsigned)j > n)
      lsl_argerror(L, i < 1 ? 2 : 3, "unpack", lua_pushfstring(L,
                   "range %I..%I out of 1..%I", i, j, (lua_Integer)n));
  }
  if (i > j) return 0;
  if (j - i >= LUA_MINSTACK - 4 &&              /* LUA_MINSTACK slots are always free */
      ((lua_Unsigned)(j - i) >= (lua_Unsigned)(INT_MAX - 4) ||
       !lua_checkstack(L, (int)(j - i + 1) + 2)))
    luaL_error(L, "too many results to unpack");
  *pi = i;
  *pj = j;
  return 1;
}

/* a:unpack([i [, j]]): elements i..j (default 1..#a) as new Locals in the
** innermost scope, nil for an empty element, like table.unpack: one call where
** a:get(i) for each would take one method dispatch each. An empty element costs
** no userdata: the core call comes first, as in a:get(i). */
int lsl_local_unpack(lua_State *L) {
  int nargs = lua_gettop(L);
  lsl_local *lo = (lsl_local *)lua_touserdata(L, 1);
  lsl_isolate *li;
  size_t n;
  lua_Integer i, j, k;
  /* lsl_testud by hand, keeping the metatable it fetches for the new Locals */
  if (lo == NULL || lua_rawlen(L, 1) != sizeof *lo || lo->tag != lsl_tag(UP_LOCAL) ||
      !lua_getmetatable(L, 1) || (lua_rawgeti(L, nargs + 1, 1), !lsl_isiso(L, -1, lo->li)) ||
      (lua_pop(L, 1), lo->li->iso == NULL) ||
      sl_array_length(lo->li->iso, lo->h, &n) != SL_OK) {
    lua_settop(L, nargs);
    return l_notarray(L, l_self(L, "unpack"), "unpack");  /* l_self raises unless live */
  }
  li = lo->li;
  if (!l_unpackrange(L, nargs, n, &i, &j)) return 0;
  if (nargs > 1) {                              /* 2: the metatable of the new Locals */
    lua_replace(L, 2);
    lua_settop(L, 2);
  }
  for (k = i; k <= j; k++) {
    sl_local h;
    lsl_local *r;
    sl_status st;
    lsl_stilllive(L, li, "unpack");             /* a finalizer may have disposed it */
    st = sl_array_get(li->iso, lo->h, (size_t)(k - 1), &h);   /* no collection here */
    if (st != SL_OK) return lsl_fail(L, li, st, 1, "unpack", lo);
    if (sl_local_is_empty(h)) { lua_pushnil(L); continue; }
    r = (lsl_local *)lua_newuserdatauv(L, sizeof *r, 0);
    r->h = h;
    l_initlocal(li, r);
    lua_pushvalue(L, 2);
    lua_setmetatable(L, -2);
  }
  lsl_flushwatch(L, li, "unpack");
  return (int)(j - i + 1);
}

static int l_local_set_checked(lua_State *L, sl_status tried);

/* A new key may collect, and a collection is not undone by failing (it may
** report a first pass that left its handle set, once): a failed o:set is not
** called again, its status goes to the checked path. */
int lsl_local_set(lua_State *L) {
  lsl_local *lo = (lsl_local *)lsl_testud(L, 1, UP_LOCAL);
  lsl_local *v = NULL;
  sl_status st = SL_OK;
  /* the core cannot tell another isolate's Local: check that here */
  if (lo != NULL && lo->li->iso != NULL &&
      (lua_isnil(L, 3) || (v = lsl_tolocalof(L, 3, lo->li)) != NULL)) {
    sl_local h = v ? v->h : SL_EMPTY_LOCAL;
    if (lua_isinteger(L, 2)) {
      if (sl_array_set(lo->li->iso, lo->h, (size_t)lua_tointeger(L, 2) - 1, h) == SL_OK)
        return 0;
    } else if (lua_type(L, 2) == LUA_TSTRING) {
      size_t n;
      const char *k = lua_tolstring(L, 2, &n);
      lo->li->L = L;                          /* a new key may collect: callbacks run */
      st = sl_object_set_named(lo->li->iso, lo->h, k, n, h);
      if (st == SL_OK) return 0;
    }
  }
  return l_local_set_checked(L, st);
}

/* 'tried': the status of the core call the fast path made (SL_OK: none). */
static int l_local_set_checked(lua_State *L, sl_status tried) {
  lsl_local *lo = l_self(L, "set");
  size_t i;
  lsl_local *v;
  if (l_isobject(L, lo, "set")) return lsl_object_set_checked(L, lo, tried);
  i = l_checkindex(L, lo, 2, "set");
  v = lsl_checklocalof(L, lo->li, 3, "set", 1);
  sl_status st = sl_array_set(lo->li->iso, lo->h, i, v ? v->h : SL_EMPTY_LOCAL);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 3, "set", v);
  return 0;
}

int lsl_local_len(lua_State *L) {
  lsl_local *lo = l_self(L, "__len");
  size_t n;
  if (sl_array_length(lo->li->iso, lo->h, &n) != SL_OK) return l_notarray(L, lo, "__len");
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* h1 == h2: same object. Handles of different isolates are never equal. */
int lsl_local_eq(lua_State *L) {
  lsl_local *a = (lsl_local *)lsl_testud(L, 1, UP_LOCAL);
  lsl_local *b = (lsl_local *)lsl_testud(L, 2, UP_LOCAL);
  int same = 0;
  sl_status st;
  /* Lua calls __eq for any two userdata: anything but two Locals is unequal. */
  if (a == NULL || b == NULL || b->li != a->li) { lua_pushboolean(L, 0); return 1; }
  if (a->li->iso == NULL)
    return lsl_argerror(L, 1, "__eq", lsl_gone(a->li, "handle of a disposed isolate"));
  st = sl_same(a->li->iso, a->h, b->h, &same);
  if (st != SL_OK) return lsl_fail(L, a->li, st, 2, "__eq", b);
  lua_pushboolean(L, same);
  return 1;
}

/* "smi 5", "boolean true", "undefined", "integer#57": a value, a root or an
** object of the live Local 'lo'. */
static const char *l_valuedesc(lua_State *L, lsl_local *lo, sl_kind k) {
  sl_isolate *iso = lo->li->iso;
  uint64_t id = 0;
  int32_t v = 0;
  int b = 0;
  switch (k) {
    case SL_SMI: sl_smi_value(iso, lo->h, &v); return lua_pushfstring(L, "smi %d", (int)v);
    case SL_BOOLEAN: sl_boolean_value(iso, lo->h, &b);
                     return b ? "boolean true" : "boolean false";
    case SL_UNDEFINED: case SL_NULL: return sl_kind_name(k);
    default:
      sl_identity(iso, lo->h, &id);
      return lua_pushfstring(L, "%s#%I", sl_kind_name(k), (lua_Integer)id);
  }
}

int lsl_local_tostring(lua_State *L) {
  lsl_local *lo = (lsl_local *)lsl_testud(L, 1, UP_LOCAL);
  sl_kind k;
  uint32_t depth;
  if (lo == NULL) return lsl_typeerror(L, 1, "__tostring", LOCAL_MT);
  if (lo->li->iso == NULL)
    lua_pushfstring(L, LOCAL_MT ": (%s)", lsl_disposed(lo->li) ? "isolate disposed"
                                                                : "isolate in a worker");
  else if (sl_local_check(lo->li->iso, lo->h) != SL_OK)
    lua_pushfstring(L, LOCAL_MT ": (scope %d, closed)", (int)lo->level);
  else {
    sl_kind_of(lo->li->iso, lo->h, &k);
    sl_local_scope(lo->h, &depth, NULL);
    if (depth == 0)                            /* bound to a root or eternal slot */
      lua_pushfstring(L, LOCAL_MT ": %s (%s)", l_valuedesc(L, lo, k),
                      k == SL_UNDEFINED || k == SL_NULL || k == SL_BOOLEAN ? "root" : "eternal");
    else
      lua_pushfstring(L, LOCAL_MT ": %s (scope %d, live)", l_valuedesc(L, lo, k),
                      (int)lo->level);
  }
  return 1;
}
