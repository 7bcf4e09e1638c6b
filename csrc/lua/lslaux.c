/* SPDX-License-Identifier: MIT */
/*
** lslaux.c: what every file of the binding calls: the error messages, the
** warnings, the argument checks that are not on a hot path, and the call-site
** cache.
**
** Errors read like Lua's own ("bad argument #2 to 'set' (handle from a closed
** scope: level 2, opened at f.lua:3)"): arguments are numbered as they sit on
** the stack, 'self' being #1, and every function names itself, so the text
** never depends on how the function was reached. A failed core call is turned
** into a message by lsl_fail from its status and the core's own text.
**
** Diagnostics that are not errors (a watched scope growing, an error inside a
** weak callback) go through the isolate's 'warn' option or lua_warning, and
** never raise.
*/

#include <string.h>

#include "lsltypes.h"

const char lsl_tags[16];

/* ================================================================ errors */

/* 'bad argument #arg to 'op' (msg)'; 'arg' counts stack slots, self included. */
int lsl_argerror(lua_State *L, int arg, const char *op, const char *msg) {
  return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, op, msg);
}

/* The type name of a userdata of ours at 'arg' by its tag alone, or NULL. */
static const char *l_tagname(lua_State *L, int arg) {
  static const char *const names[] = {
    NULL, ISOLATE_MT, LOCAL_MT, SCOPE_MT, PERSISTENT_MT, PROBE_MT, REFERENCE_MT, NATIVE_MT,
    CALLINFO_MT, WEAKINFO_MT
  };
  const lsl_head *p = (const lsl_head *)lua_touserdata(L, arg);
  int up;
  if (p == NULL) return NULL;
  for (up = UP_ISOLATE; up <= UP_WEAKINFO; up++)
    if (lua_rawlen(L, arg) == lsl_udsize(up) && p->tag == lsl_tag(up)) return names[up];
  return NULL;
}

int lsl_typeerror(lua_State *L, int arg, const char *op, const char *tname) {
  const char *got = l_tagname(L, arg);
  if (got != NULL && strcmp(got, tname) == 0)   /* the tag is right: its isolate is not */
    return lsl_argerror(L, arg, op, lua_pushfstring(L, "%s cut off from its isolate (its "
                        "metatable or user value was replaced)", tname));
  if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING)
    got = lua_tostring(L, -1);
  else
    got = luaL_typename(L, arg);
  return lsl_argerror(L, arg, op, lua_pushfstring(L, "%s expected, got %s", tname, got));
}

/* Pushes user value 'uv' of the Isolate at 'isoidx' (absolute), a table. One that
** the debug library replaced by anything else is replaced by a new empty table:
** what it held is lost (sites print as unknown, weak callbacks no longer run),
** but nothing is ever read from a value of the wrong type. */
void lsl_getuvtable(lua_State *L, int isoidx, int uv) {
  if (lua_getiuservalue(L, isoidx, uv) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, isoidx, uv);
}

/* Pushes the "file:line" of a site, or nil for site 0 / unknown. */
void lsl_pushsite(lua_State *L, int isoidx, uint32_t site) {
  int t;
  if (site == 0) { lua_pushnil(L); return; }
  if (lua_getiuservalue(L, isoidx, UV_SITES) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return;
  }
  t = lua_rawgeti(L, -1, (lua_Integer)site);
  lua_remove(L, -2);
  if (t != LUA_TSTRING) { lua_pop(L, 1); lua_pushnil(L); }
}

/* Pushes the registry's map from isolate structs to their userdata (weak
** values), made anew if missing or replaced by something else than a table. */
void lsl_pushisomap(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, ISOLATES_KEY) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_createtable(L, 0, 4);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_pushvalue(L, -1);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, ISOLATES_KEY);
}

/* Pushes the Isolate userdata of 'li' (from the registry map); false and nil
** when it is not there (the map was replaced) or is not 'li's. */
int lsl_pushiso(lua_State *L, lsl_isolate *li) {
  lsl_pushisomap(L);
  lua_rawgetp(L, -1, li);
  lua_remove(L, -2);
  if (lsl_isiso(L, -1, li)) return 1;
  lua_pop(L, 1);
  lua_pushnil(L);
  return 0;
}

/* "level 2, opened at foo.lua:14" or "level 2" when the site is unknown. */
const char *lsl_scopedesc(lua_State *L, lsl_isolate *li, uint32_t level, uint32_t site) {
  const char *where = NULL;
  if (site && lsl_pushiso(L, li)) {
    lsl_pushsite(L, lua_gettop(L), site);
    where = lua_tostring(L, -1);
  }
  if (where)
    return lua_pushfstring(L, "level %d, opened at %s", (int)level, where);
  return lua_pushfstring(L, "level %d", (int)level);
}

/* The core's message without its leading "op: " (we name the operation ourselves:
** "open a scope: " too) and, for heap exhaustion, without the words "heap
** exhausted (...)" around it. */
static const char *l_coremsg(lua_State *L, lsl_isolate *li) {
  const char *m, *p;
  size_t n;
  if (li->iso == NULL) return "";
  m = p = sl_last_error(li->iso);
  while ((*p >= 'a' && *p <= 'z') || *p == '_' || (*p == ' ' && p > m && p[1] != ' ')) p++;
  if (p > m && p[0] == ':' && p[1] == ' ') m = p + 2;
  n = strlen(m);
  if (strncmp(m, "heap exhausted (", 16) == 0 && n > 17 && m[n - 1] == ')')
    return lua_pushlstring(L, m + 16, n - 17);
  return m;
}

/* The message of a failure to create a handle (no scope, sealed, full). */
static int l_failhandle(lua_State *L, lsl_isolate *li, sl_status st, const char *op) {
  sl_scope_info in;
  size_t cap = 0;
  if (st == SL_ENOSCOPE)
    return luaL_error(L, "cannot create a handle in '%s' (no handle scope is open)", op);
  if (st == SL_ESEALED)
    return luaL_error(L, "cannot create a handle in '%s' (the innermost scope is a seal "
                      "scope: %s)", op, lsl_scopedesc(L, li, li->cur_level, li->cur_site));
  if (li->iso && sl_scope_info_at(li->iso, sl_scope_depth(li->iso), &in) == SL_OK)
    cap = in.capacity;
  return luaL_error(L, "handle scope full in '%s' (%s, capacity %d)", op,
                    lsl_scopedesc(L, li, li->cur_level, li->cur_site), (int)cap);
}

/* Raises the error for a failed sl_ call on behalf of 'op'. 'arg' is the stack
** slot to blame for argument-like failures; 'lo' the Local in it, if any (its
** scope names the closed scope of a stale handle). */
int lsl_fail(lua_State *L, lsl_isolate *li, sl_status st, int arg, const char *op,
             const lsl_local *lo) {
  const char *core = l_coremsg(L, li);
  switch (st) {
    case SL_ESTALE:
      if (lo == NULL && strstr(core, "weak callback") != NULL)  /* a constructor's */
        return lsl_argerror(L, arg, op, core);
      if (lo)
        return lsl_argerror(L, arg, op, lua_pushfstring(L, "handle from a closed scope: %s",
                            lsl_scopedesc(L, li, lo->level, lo->site)));
      return lsl_argerror(L, arg, op, "handle from a closed scope");
    case SL_EISOLATE:
      return lsl_argerror(L, arg, op, "handle from another isolate");
    case SL_EARG:
      return lsl_argerror(L, arg, op, *core ? core : "invalid argument");
    case SL_EESCAPE:
      return lsl_argerror(L, arg, op, *core ? core : "cannot escape");
    case SL_EORDER:
      return lsl_argerror(L, arg, op, *core ? core : "scope is not the innermost");
    case SL_ENOSCOPE: case SL_ESEALED: case SL_ECAPACITY:
      return l_failhandle(L, li, st, op);
    case SL_ENOMEM:
      return luaL_error(L, "heap exhausted in '%s' (%s)", op, *core ? core : "out of memory");
    case SL_ESTATE:
      if (strcmp(core, "Handle not reset in first callback") == 0)  /* it did collect */
        return luaL_error(L, "%s (in '%s')", core, op);
      return luaL_error(L, "cannot '%s' now (%s)", op, *core ? core : "not allowed");
    case SL_ECALLBACK:
      return luaL_error(L, "error in '%s' (%s)", op, core);
    case SL_ECORRUPT:
      return luaL_error(L, "heap corrupt after '%s' (%s)", op, core);
    default:
      return luaL_error(L, "BUG: '%s' failed with status %d (%s)", op, (int)st, core);
  }
}


/* ================================================================ warnings */

/* Emits a diagnostic: through the isolate's 'warn' option if set, else lua_warning.
** Never raises (a failing 'warn' function is ignored). */
void lsl_warn(lua_State *L, lsl_isolate *li, const char *msg) {
  int top = lua_gettop(L);
  if (lsl_pushiso(L, li) && lua_getiuservalue(L, -1, UV_WARN) == LUA_TFUNCTION) {
    lua_pushstring(L, msg);
    (void)lua_pcall(L, 1, 0, 0);
  } else {
    lua_warning(L, msg, 0);
  }
  lua_settop(L, top);
}

static int l_warn_body(lua_State *L) {
  lsl_isolate *li = (lsl_isolate *)lua_touserdata(L, 1);
  sl_scope_info in = li->watch_info;
  li->watch_pending = 0;
  lsl_warn(L, li, lua_pushfstring(L, "scopelab: handle scope %s holds more than %d handles",
           lsl_scopedesc(L, li, in.level, in.site), (int)li->watch_threshold));
  return 0;
}

/* The slow half of lsl_flushwatch: the watch hook fired, warn now. The 'warn'
** function may have disposed the isolate: the handle just made is then dead,
** and 'op' fails instead of returning it. */
void lsl_flushwatch_(lua_State *L, lsl_isolate *li, const char *op) {
  lua_pushcfunction(L, l_warn_body);
  lua_pushlightuserdata(L, li);
  (void)lua_pcall(L, 1, 0, 0);
  if (li->iso == NULL) lsl_argerror(L, 1, op, lsl_gone(li, "isolate is disposed"));
}


/* ================================================================ checks */

/* A Local of a live isolate at 'arg' (not checked for staleness: the core does). */
lsl_local *lsl_checklocal(lua_State *L, int arg, const char *op) {
  lsl_local *lo = (lsl_local *)lsl_testud(L, arg, UP_LOCAL);
  if (lo == NULL) { lsl_typeerror(L, arg, op, LOCAL_MT); return NULL; }  /* does not return */
  if (lo->li->iso == NULL)
    lsl_argerror(L, arg, op, lsl_gone(lo->li, "handle of a disposed isolate"));
  return lo;
}

/* A Local of isolate 'li' at 'arg', live; nil gives NULL when 'nilok'. */
lsl_local *lsl_checklocalof(lua_State *L, lsl_isolate *li, int arg, const char *op,
                            int nilok) {
  lsl_local *lo;
  sl_status st;
  if (nilok && lua_isnoneornil(L, arg)) return NULL;
  lo = lsl_checklocal(L, arg, op);
  if (lo->li != li) lsl_argerror(L, arg, op, "handle from another isolate");
  st = sl_local_check(li->iso, lo->h);
  if (st != SL_OK) lsl_fail(L, li, st, arg, op, lo);
  return lo;
}

lsl_probe *lsl_checkprobe(lua_State *L, int arg, const char *op) {
  lsl_probe *pr = (lsl_probe *)lsl_testud(L, arg, UP_PROBE);
  if (pr == NULL) { lsl_typeerror(L, arg, op, PROBE_MT); return NULL; }  /* does not return */
  if (pr->li->iso == NULL)
    lsl_argerror(L, arg, op, lsl_gone(pr->li, "probe of a disposed isolate"));
  if (pr->deleted) lsl_argerror(L, arg, op, "probe is deleted");
  return pr;
}

/* Whether an object with identity 'id' is in the heap of the live isolate
** 'li': a heap walk (the visitor stops at the first match). */
static int l_findid(const sl_object_info *o, void *ud) {
  uint64_t *id = (uint64_t *)ud;
  if (o->id != *id) return 0;
  *id = 0;                                    /* found */
  return 1;
}

/* The read-only roots live in no space (no heap walk sees them) and never
** die: their identities are asked of the roots themselves. */
static int l_isroot(sl_isolate *iso, uint64_t id) {
  sl_local r[4];
  int i;
  r[0] = sl_undefined(iso);
  r[1] = sl_null(iso);
  r[2] = sl_boolean(iso, 0);
  r[3] = sl_boolean(iso, 1);
  for (i = 0; i < 4; i++) {
    uint64_t rid;
    if (sl_identity(iso, r[i], &rid) == SL_OK && rid == id) return 1;
  }
  return 0;
}

int lsl_inheap(lsl_isolate *li, uint64_t id) {
  if (id == 0 || li->iso == NULL) return 0;
  if (l_isroot(li->iso, id)) return 1;
  sl_heap_foreach(li->iso, l_findid, &id);
  return id == 0;
}

/* h:held_id() (inheap 0) and h:in_heap() (inheap 1) of a handle whose object
** had identity 'id' (0: it never held one; both give nil then). in_heap walks
** the heap: a worker may not. */
int lsl_pushheld(lua_State *L, lsl_isolate *li, uint64_t id, int inheap) {
  if (inheap && li->worker_iso != NULL)
    return lsl_argerror(L, 1, "in_heap", LSL_WORKER_MSG);
  if (id == 0) lua_pushnil(L);
  else if (inheap) lua_pushboolean(L, lsl_inheap(li, id));
  else lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

const char *lsl_genname(sl_generation g) {
  return g == SL_OLD ? "old" : "young";
}

const char *lsl_scopekind(sl_scope_kind k) {
  switch (k) {
    case SL_SCOPE_ESCAPABLE: return "escapable";
    case SL_SCOPE_SEAL: return "seal";
    default: return "handle";
  }
}


/* ================================================================ call sites */

/* The call-site cache: (short_src, line) -> site number, so that opening a scope
** on a line seen before formats no string and touches no Lua table. The 'source'
** pointer of lua_Debug (stable per function prototype) only picks the entry; the
** entry is trusted only if 'short_src' and 'line' match, so a source string freed
** and another allocated at its address can never give a wrong site. */

/* Registers (or finds) "file:line" of 'ar' in the isolate's site tables: the
** first time a line is seen, or when the cache entry was taken by another line. */
static uint32_t l_callsite_slow(lua_State *L, lsl_isolate *li, int isoidx,
                                const lua_Debug *ar) {
  uint32_t site;
  lsl_getuvtable(L, isoidx, UV_SITEIDX);
  lua_pushfstring(L, "%s:%d", ar->short_src, ar->currentline);
  lua_pushvalue(L, -1);
  if (lua_rawget(L, -3) == LUA_TNUMBER) {
    site = (uint32_t)lua_tointeger(L, -1);
    lua_pop(L, 3);
    return site;
  }
  lua_pop(L, 1);
  site = ++li->nsites;
  lua_pushvalue(L, -1);
  lua_pushinteger(L, (lua_Integer)site);
  lua_rawset(L, -4);                          /* siteidx[str] = site */
  lsl_getuvtable(L, isoidx, UV_SITES);
  lua_insert(L, -2);
  lua_rawseti(L, -2, (lua_Integer)site);      /* sites[site] = str */
  lua_pop(L, 2);
  return site;
}

/* The site number of the Lua line that called the running C function, registered
** in the isolate's site tables on first sight (0 when called from C). */
uint32_t lsl_callsite(lua_State *L, lsl_isolate *li, int isoidx) {
  lua_Debug ar;
  uint32_t site;
  lsl_siteentry *e;
  if (!lua_getstack(L, 1, &ar) || !lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
    return 0;
  e = &li->sitecache[(((uintptr_t)ar.source >> 4) ^ ((uintptr_t)ar.currentline * 2654435761u))
                     & (LSL_SITECACHE - 1)];
  if (e->site != 0 && e->line == ar.currentline && strcmp(e->short_src, ar.short_src) == 0)
    return e->site;                           /* seen before: no string, no table */
  site = l_callsite_slow(L, li, isoidx, &ar);
  e->site = site;
  e->line = ar.currentline;
  memcpy(e->short_src, ar.short_src, sizeof e->short_src);
  return site;
}
