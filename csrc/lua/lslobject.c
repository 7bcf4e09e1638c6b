/* SPDX-License-Identifier: MIT */
/*
** lslobject.c: objects (V8's JSObject) and externals: iso:object([n]),
** iso:external(p), and the Local methods of objects: o:get(key) and
** o:set(key, v) (through a:get / a:set in lsllocal.c, which hand a string key
** here), o:has(key), o:delete(key), o:keys(), o:internal_field_count(),
** o:set_internal_field(i, v), o:get_internal_field(i),
** o:set_aligned_pointer(i, p), o:get_aligned_pointer(i), h:external_value().
**
** Keys are Lua strings and go to the core's _named calls: no handle is made
** for a key, and the lookup compares bytes. Internal fields are numbered from
** 1, as everything in Lua; the core's are 0-based, so the messages about a
** field are the binding's own. Native pointers (aligned pointers, externals)
** are light userdata or native blocks (lslnative.c), and come back as the
** block while it lives.
*/

#include <string.h>

#include "lsltypes.h"

/* A live Local at 1 (self). */
static lsl_local *l_self(lua_State *L, const char *op) {
  lsl_local *lo = lsl_checklocal(L, 1, op);
  sl_status st = sl_local_check(lo->li->iso, lo->h);
  if (st != SL_OK) lsl_fail(L, lo->li, st, 1, op, lo);
  return lo;
}

/* The key at 2: a string. */
static const char *l_key(lua_State *L, const char *op, size_t *len) {
  if (lua_type(L, 2) != LUA_TSTRING) lsl_typeerror(L, 2, op, "string");
  return lua_tolstring(L, 2, len);
}


/* ================================================================ constructors */

int lsl_iso_object(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "object");
  lua_Integer n = lua_isnoneornil(L, 2) ? 0 : lsl_checkint(L, 2, "object");
  uint64_t cb0;
  lsl_local *lo;
  if (n < 0 || n > SL_MAX_INTERNAL_FIELDS)
    return lsl_argerror(L, 2, "object", lua_pushfstring(L, "%I internal fields (0 to %d "
                        "allowed)", n, (int)SL_MAX_INTERNAL_FIELDS));
  lo = lsl_newlocal(L, li, "object", &cb0);
  return lsl_madelocal(L, li, lo, sl_object_new(li->iso, (int)n, &lo->h), cb0, "object");
}

int lsl_iso_external(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "external");
  void *p = lsl_topointer(L, li, 2, "external");
  uint64_t cb0;
  lsl_local *lo = lsl_newlocal(L, li, "external", &cb0);
  return lsl_madelocal(L, li, lo, sl_external_new(li->iso, p, &lo->h), cb0, "external");
}


/* ================================================================ properties */

/* o:get(key) when the core's fast try failed: 'lo' is live; the failure is
** raised with its own message (a non-object, no scope, ...). */
int lsl_object_get_checked(lua_State *L, lsl_local *lo) {
  size_t n;
  const char *k = lua_tolstring(L, 2, &n);
  sl_local out;
  sl_status st = sl_object_get_named(lo->li->iso, lo->h, k, n, &out);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "get", lo);
  lsl_pushlocal(L, lo->li, 1, out, "get");
  return 1;
}

/* o:set(key, v) when the fast try failed ('tried' its status, SL_OK when it
** was not made): the arguments are checked, and the core is called only if it
** was not already; nil stores undefined. */
int lsl_object_set_checked(lua_State *L, lsl_local *lo, sl_status tried) {
  size_t n;
  const char *k = lua_tolstring(L, 2, &n);
  lsl_local *v = lsl_checklocalof(L, lo->li, 3, "set", 1);
  sl_status st = tried;
  lo->li->L = L;
  if (st == SL_OK) st = sl_object_set_named(lo->li->iso, lo->h, k, n, v ? v->h : SL_EMPTY_LOCAL);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "set", NULL);
  return 0;
}

int lsl_object_has(lua_State *L) {
  lsl_local *lo = l_self(L, "has");
  size_t n;
  const char *k = l_key(L, "has", &n);
  int has = 0;
  sl_status st = sl_object_has_named(lo->li->iso, lo->h, k, n, &has);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "has", lo);
  lua_pushboolean(L, has);
  return 1;
}

/* o:delete(key) -> true, as V8's Object::Delete, also for an absent key. */
int lsl_object_delete(lua_State *L) {
  lsl_local *lo = l_self(L, "delete");
  size_t n;
  const char *k = l_key(L, "delete", &n);
  int done = 0;
  sl_status st = sl_object_delete_named(lo->li->iso, lo->h, k, n, &done);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "delete", lo);
  lua_pushboolean(L, done);
  return 1;
}

/* Reads the keys of 'o' inside a scope of its own (sl_object_key_at makes a
** handle per key), into 'buf' (lens[i], then the bytes) when it is not NULL.
** Returns the key count and in *bytes their total length; no Lua call runs
** while the scope is open, so no error can leave it open. */
static sl_status l_readkeys(sl_isolate *iso, sl_local o, size_t *count, size_t *bytes,
                            size_t *lens, char *buf, size_t cap) {
  sl_scope s;
  size_t i, n = 0, total = 0;
  sl_status st = sl_object_property_count(iso, o, &n);
  if (st == SL_OK) st = sl_scope_open(iso, &s);
  if (st != SL_OK) return st;
  for (i = 0; i < n && st == SL_OK; i++) {
    sl_local k;
    const char *b;
    size_t len;
    st = sl_object_key_at(iso, o, i, &k);
    if (st == SL_OK) st = sl_string_value(iso, k, &b, &len);
    if (st != SL_OK) break;
    if (buf != NULL && i < *count && total + len <= cap) {
      lens[i] = len;
      memcpy(buf + total, b, len);
    }
    total += len;
  }
  sl_scope_close(&s);
  if (st == SL_OK && buf != NULL && (n != *count || total != *bytes)) st = SL_EORDER;
  *count = n;
  *bytes = total;
  return st;
}

/* o:keys(): a Lua list of the keys in insertion order. Read twice, once to
** size a Lua-owned buffer and once to fill it; a finalizer run by the
** buffer's allocation may add keys in between: then it is read again. */
int lsl_object_keys(lua_State *L) {
  lsl_local *lo = l_self(L, "keys");
  size_t n = 0, bytes = 0, i, off = 0;
  int tries;
  sl_status st = l_readkeys(lo->li->iso, lo->h, &n, &bytes, NULL, NULL, 0);
  for (tries = 0; st == SL_OK; tries++) {
    size_t *lens = (size_t *)lua_newuserdatauv(L, n * sizeof *lens + bytes + 1, 0);
    lsl_stilllive(L, lo->li, "keys");
    st = l_readkeys(lo->li->iso, lo->h, &n, &bytes, lens, (char *)(lens + n), bytes);
    if (st == SL_OK) {
      lua_createtable(L, (int)n, 0);
      for (i = 0; i < n; i++) {
        lua_pushlstring(L, (char *)(lens + n) + off, lens[i]);
        off += lens[i];
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      return 1;
    }
    lua_pop(L, 1);
    if (st == SL_EORDER && tries < 8) st = SL_OK;   /* changed meanwhile: again */
  }
  return lsl_fail(L, lo->li, st, 1, "keys", lo);
}


/* ================================================================ internal fields */

/* The 1-based field index at 2 of the object 'lo', returned 0-based. */
static int l_field(lua_State *L, lsl_local *lo, const char *op) {
  lua_Integer i = lsl_checkint(L, 2, op);
  int n = 0;
  sl_status st = sl_object_internal_field_count(lo->li->iso, lo->h, &n);
  if (st != SL_OK) lsl_fail(L, lo->li, st, 1, op, lo);
  if (i < 1 || i > n)
    lsl_argerror(L, 2, op, lua_pushfstring(L, "internal field %I out of range 1..%d", i, n));
  return (int)i - 1;
}

int lsl_object_internal_field_count(lua_State *L) {
  lsl_local *lo = l_self(L, "internal_field_count");
  int n = 0;
  sl_status st = sl_object_internal_field_count(lo->li->iso, lo->h, &n);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "internal_field_count", lo);
  lua_pushinteger(L, n);
  return 1;
}

int lsl_object_set_internal_field(lua_State *L) {
  lsl_local *lo = l_self(L, "set_internal_field");
  int i = l_field(L, lo, "set_internal_field");
  lsl_local *v = lsl_checklocalof(L, lo->li, 3, "set_internal_field", 1);
  sl_status st = sl_object_set_internal_field(lo->li->iso, lo->h, i, v ? v->h : SL_EMPTY_LOCAL);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "set_internal_field", NULL);
  return 0;
}

int lsl_object_get_internal_field(lua_State *L) {
  lsl_local *lo = l_self(L, "get_internal_field");
  int i = l_field(L, lo, "get_internal_field");
  sl_local out;
  sl_status st = sl_object_get_internal_field(lo->li->iso, lo->h, i, &out);
  if (st == SL_EARG)            /* a live object, a field in range: it holds a pointer */
    return lsl_argerror(L, 2, "get_internal_field", lua_pushfstring(L, "internal field %d "
                        "holds an aligned pointer", i + 1));
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "get_internal_field", lo);
  lsl_pushlocal(L, lo->li, 1, out, "get_internal_field");
  return 1;
}

int lsl_object_set_aligned_pointer(lua_State *L) {
  lsl_local *lo = l_self(L, "set_aligned_pointer");
  int i = l_field(L, lo, "set_aligned_pointer");
  void *p = lsl_topointer(L, lo->li, 3, "set_aligned_pointer");
  sl_status st = sl_object_set_aligned_pointer(lo->li->iso, lo->h, i, p);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 3, "set_aligned_pointer", NULL);
  return 0;
}

/* o:get_aligned_pointer(i) -> a native block, a light userdata, or nil unset. */
int lsl_object_get_aligned_pointer(lua_State *L) {
  lsl_local *lo = l_self(L, "get_aligned_pointer");
  int i = l_field(L, lo, "get_aligned_pointer");
  void *p = NULL;
  sl_status st = sl_object_get_aligned_pointer(lo->li->iso, lo->h, i, &p);
  if (st == SL_EARG)
    return lsl_argerror(L, 2, "get_aligned_pointer", lua_pushfstring(L, "internal field %d "
                        "holds a value", i + 1));
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "get_aligned_pointer", lo);
  lsl_pushpointer(L, lo->li, p);
  return 1;
}


/* ================================================================ externals */

int lsl_external_value(lua_State *L) {
  lsl_local *lo = l_self(L, "external_value");
  void *p = NULL;
  sl_status st = sl_external_value(lo->li->iso, lo->h, &p);
  if (st != SL_OK) return lsl_fail(L, lo->li, st, 1, "external_value", lo);
  lsl_pushpointer(L, lo->li, p);
  return 1;
}
