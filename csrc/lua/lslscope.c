/* SPDX-License-Identifier: MIT */
/*
** lslscope.c: handle scopes ("scopelab.Scope"): iso:handle_scope([{capacity}]),
** iso:escapable_handle_scope(), iso:seal_handle_scope() and their methods.
**
** A Scope userdata is the core's token (sl_scope) plus what the binding shows:
** the call site that opened it (a site number, see lslaux.c), its level, and
** the site and level of the scope that was innermost when it opened. The
** isolate keeps the innermost scope's site and level ('cur_site', 'cur_level')
** so that a new Local copies them without asking the core: every open and
** close goes through here and keeps them.
**
** A scope has no __gc: collected while open it stays open (closing it at an
** arbitrary moment would close it out of order; the isolate frees it at
** dispose). __close closes it, and with an error in flight also the scopes the
** error left open inside it, so an error never leaves the isolate with open
** scopes. s:close() and s:escape(h) try the core call at once and take the
** checked path, which raises the precise message, only when it fails.
*/

#include <string.h>

#include "lsltypes.h"

static lsl_scope *l_checkscope(lua_State *L, int arg, const char *op) {
  lsl_scope *sc = (lsl_scope *)lsl_testud(L, arg, UP_SCOPE);
  if (sc == NULL) lsl_typeerror(L, arg, op, SCOPE_MT);
  else if (sc->li->worker_iso != NULL) lsl_argerror(L, arg, op, LSL_WORKER_MSG);
  return sc;
}

/* Option 'capacity' of the table at 2 (0 when absent). */
static size_t l_optcapacity(lua_State *L, const char *op) {
  size_t capacity = 0;
  if (lua_isnoneornil(L, 2)) return 0;
  if (!lua_istable(L, 2)) return (size_t)lsl_typeerror(L, 2, op, "table");
  lua_getfield(L, 2, "capacity");
  if (!lua_isnil(L, -1)) {
    lua_Integer c = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;  /* strict: no strings */
    if (lua_type(L, -1) != LUA_TNUMBER)
      lsl_argerror(L, 2, op, lua_pushfstring(L, "option 'capacity' must be a positive "
                   "integer, got %s", luaL_typename(L, -1)));
    if (c < 1) lsl_argerror(L, 2, op, "option 'capacity' must be a positive integer");
    capacity = (size_t)c;
  }
  lua_pop(L, 1);
  return capacity;
}

static int l_openscope(lua_State *L, sl_scope_kind kind, const char *op) {
  lsl_isolate *li = lsl_checkiso(L, 1, op);
  size_t capacity = kind == SL_SCOPE_HANDLE ? l_optcapacity(L, op) : 0;
  lsl_scope *sc;
  sl_status st;
  sc = (lsl_scope *)lua_newuserdatauv(L, sizeof *sc, 1);
  memset(sc, 0, sizeof *sc);
  sc->tag = lsl_tag(UP_SCOPE);
  sc->li = li;
  sc->kind = kind;
  sc->capacity = capacity;
  sc->site = lsl_callsite(L, li, 1);
  lsl_stilllive(L, li, op);
  switch (kind) {
    case SL_SCOPE_ESCAPABLE: st = sl_escapable_scope_open(li->iso, &sc->s); break;
    case SL_SCOPE_SEAL: st = sl_seal_scope_open(li->iso, &sc->s); break;
    default:
      st = capacity ? sl_scope_open_capacity(li->iso, capacity, &sc->s)
                    : sl_scope_open(li->iso, &sc->s);
  }
  if (st != SL_OK) return lsl_fail(L, li, st, 1, op, NULL);
  sl_scope_set_site(&sc->s, sc->site);
  sc->prev_site = li->cur_site;
  sc->prev_level = li->cur_level;
  sc->level = li->cur_level + (kind != SL_SCOPE_SEAL);  /* a seal scope keeps the level */
  li->cur_site = sc->site;
  li->cur_level = sc->level;
  lua_pushvalue(L, lua_upvalueindex(UP_SCOPE));
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, UV_ISO);
  return 1;
}

int lsl_iso_handle_scope(lua_State *L) {
  return l_openscope(L, SL_SCOPE_HANDLE, "handle_scope");
}
int lsl_iso_escapable_scope(lua_State *L) {
  return l_openscope(L, SL_SCOPE_ESCAPABLE, "escapable_handle_scope");
}
int lsl_iso_seal_scope(lua_State *L) {
  return l_openscope(L, SL_SCOPE_SEAL, "seal_handle_scope");
}

static int l_isopen(lsl_scope *sc) {
  return sc->li->iso != NULL && sl_scope_is_open(&sc->s);
}

/* Closes every scope opened inside 'sc' (they were leaked: an error unwound
** past them), innermost first. */
static void l_closeinner(lsl_scope *sc) {
  sl_isolate *iso = sc->li->iso;
  uint32_t d;
  while ((d = sl_scope_depth(iso)) > sl_scope_token_depth(&sc->s)) {
    sl_scope s;
    if (sl_scope_at(iso, d, &s) != SL_OK || sl_scope_close(&s) != SL_OK) break;
  }
}

static void l_scopeclose(lua_State *L, lsl_scope *sc, const char *op) {
  sl_status st;
  lsl_isolate *li = sc->li;
  if (!l_isopen(sc)) return;                   /* closing twice is harmless */
  st = sl_scope_close(&sc->s);
  if (st == SL_EORDER) {
    sl_scope_info in;
    uint32_t d = sl_scope_depth(li->iso);
    sl_scope_info_at(li->iso, d, &in);
    lsl_argerror(L, 1, op, lua_pushfstring(L, "scope %s is not the innermost; "
                 "innermost is %s scope %s", lsl_scopedesc(L, li, sc->level, sc->site),
                 lsl_scopekind(in.kind), lsl_scopedesc(L, li, in.level, in.site)));
  }
  if (st != SL_OK) lsl_fail(L, li, st, 1, op, NULL);
  /* scopes close innermost first: the one innermost when 'sc' opened is again */
  li->cur_site = sc->prev_site;
  li->cur_level = sc->prev_level;
}

/* Closing the innermost scope of a live isolate: one core call. Anything else
** (closed already, out of order, inner scopes left open by an error) fails in
** the core without a change and takes the checked path. */
static int l_scope_tryclose(lua_State *L) {
  lsl_scope *sc = (lsl_scope *)lsl_testud(L, 1, UP_SCOPE);
  if (sc != NULL && sc->li->iso != NULL && sl_scope_close(&sc->s) == SL_OK) {
    sc->li->cur_site = sc->prev_site;
    sc->li->cur_level = sc->prev_level;
    return 1;
  }
  return 0;
}

int lsl_scope_close(lua_State *L) {
  if (l_scope_tryclose(L)) return 0;
  l_scopeclose(L, l_checkscope(L, 1, "close"), "close");
  return 0;
}

/* __close(self, err): with an error in flight, scopes left open inside this one
** are closed too, so an error never leaves the isolate with open scopes; on a
** normal exit an inner scope still open is an out-of-order close (an error). */
int lsl_scope_gcclose(lua_State *L) {
  lsl_scope *sc;
  if (l_scope_tryclose(L)) return 0;
  sc = l_checkscope(L, 1, "__close");
  if (l_isopen(sc) && !lua_isnoneornil(L, 2)) l_closeinner(sc);
  l_scopeclose(L, sc, "__close");
  return 0;
}

/* Pushes the Local an escape returned: it lives in the parent scope, so it takes
** that scope's site and level, saved when 'sc' opened. */
static void l_pushescaped(lua_State *L, lsl_scope *sc, sl_local out) {
  lsl_local *r;
  lsl_pushlocalof(L, sc->li, 1, out);
  r = (lsl_local *)lua_touserdata(L, -1);
  if (sl_scope_token_depth(&sc->s) > 1) {
    r->site = sc->prev_site;
    r->level = sc->prev_level;
  }
}

static int l_scope_escape_checked(lua_State *L);

/* s:escape(h) on the plain case (h a Local of the same isolate) tries the core at
** once: its SL_OK means the scope is open, escapable, not yet escaped and h live. */
int lsl_scope_escape(lua_State *L) {
  lsl_scope *sc = (lsl_scope *)lsl_testud(L, 1, UP_SCOPE);
  lsl_local *lo;
  sl_local out;
  if (sc != NULL && sc->li->iso != NULL &&
      (lo = lsl_tolocalof(L, 2, sc->li)) != NULL &&
      sl_scope_escape(&sc->s, lo->h, &out) == SL_OK && !sl_local_is_empty(out)) {
    l_pushescaped(L, sc, out);
    return 1;
  }
  return l_scope_escape_checked(L);
}

static int l_scope_escape_checked(lua_State *L) {
  lsl_scope *sc = l_checkscope(L, 1, "escape");
  lsl_isolate *li = sc->li;
  lsl_local *lo;
  sl_local out;
  sl_status st;
  if (li->iso == NULL)
    return lsl_argerror(L, 1, "escape", lsl_gone(li, "scope of a disposed isolate"));
  if (sc->kind != SL_SCOPE_ESCAPABLE)
    return lsl_argerror(L, 1, "escape", lua_pushfstring(L, "%s scope is not escapable",
                        lsl_scopekind(sc->kind)));
  if (!sl_scope_is_open(&sc->s))
    return lsl_argerror(L, 1, "escape", lua_pushfstring(L, "escapable scope %s is closed",
                        lsl_scopedesc(L, li, sc->level, sc->site)));
  lo = lsl_checklocalof(L, li, 2, "escape", 1);
  st = sl_scope_escape(&sc->s, lo ? lo->h : SL_EMPTY_LOCAL, &out);
  if (st == SL_EESCAPE)  /* open, escapable and 'lo' live: only a second escape is left */
    return lsl_argerror(L, 1, "escape", lua_pushfstring(L, "escapable scope %s has already "
                        "escaped a value", lsl_scopedesc(L, li, sc->level, sc->site)));
  if (st != SL_OK) return lsl_fail(L, li, st, 1, "escape", NULL);
  if (sl_local_is_empty(out)) { lua_pushnil(L); return 1; }
  l_pushescaped(L, sc, out);
  return 1;
}

int lsl_scope_is_open(lua_State *L) {
  lua_pushboolean(L, l_isopen(l_checkscope(L, 1, "is_open")));
  return 1;
}

int lsl_scope_kind(lua_State *L) {
  lua_pushstring(L, lsl_scopekind(l_checkscope(L, 1, "kind")->kind));
  return 1;
}

int lsl_scope_level(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)l_checkscope(L, 1, "level")->level);
  return 1;
}

int lsl_scope_depth(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)sl_scope_token_depth(&l_checkscope(L, 1, "depth")->s));
  return 1;
}

int lsl_scope_site(lua_State *L) {
  lsl_scope *sc = l_checkscope(L, 1, "site");
  lua_getiuservalue(L, 1, UV_ISO);
  lsl_pushsite(L, lua_gettop(L), sc->site);
  return 1;
}

int lsl_scope_handles(lua_State *L) {
  lsl_scope *sc = l_checkscope(L, 1, "handles");
  sl_scope_info in;
  if (!l_isopen(sc)) return lsl_argerror(L, 1, "handles", "scope is closed");
  sl_scope_info_at(sc->li->iso, sl_scope_token_depth(&sc->s), &in);
  lua_pushinteger(L, (lua_Integer)in.handles);
  return 1;
}

int lsl_scope_tostring(lua_State *L) {
  lsl_scope *sc = l_checkscope(L, 1, "__tostring");
  const char *where;
  lua_getiuservalue(L, 1, UV_ISO);
  lsl_pushsite(L, lua_gettop(L), sc->site);
  where = lua_isnil(L, -1) ? "?" : lua_tostring(L, -1);
  if (l_isopen(sc)) {
    sl_scope_info in;
    sl_scope_info_at(sc->li->iso, sl_scope_token_depth(&sc->s), &in);
    lua_pushfstring(L, SCOPE_MT ": %s scope level %d opened at %s (open, %d handles)",
                    lsl_scopekind(sc->kind), (int)sc->level, where, (int)in.handles);
  } else {
    lua_pushfstring(L, SCOPE_MT ": %s scope level %d opened at %s (closed)",
                    lsl_scopekind(sc->kind), (int)sc->level, where);
  }
  return 1;
}
