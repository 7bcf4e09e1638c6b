/* SPDX-License-Identifier: MIT */
/*
** lslprobe.c: probes ("scopelab.Probe"), made by iso:probe(h).
**
** A probe observes an object without keeping it alive: its node is weak and,
** unlike a weak persistent, keeps the object's identity, kind and move count
** after the object dies, so a test can ask "was it collected?" and "how often
** did it move?" after the fact. Nothing of the object is reachable through it
** but w:get() while it lives. Once Lua forgets a probe its node is useless, so
** __gc deletes it.
*/

#include <string.h>

#include "lsltypes.h"

int lsl_iso_probe(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "probe");
  lsl_local *lo = lsl_checklocalof(L, li, 2, "probe", 0);
  lsl_probe *pr = (lsl_probe *)lua_newuserdatauv(L, sizeof *pr, 1);
  sl_status st;
  memset(pr, 0, sizeof *pr);
  pr->tag = lsl_tag(UP_PROBE);
  pr->li = li;
  lsl_stilllive(L, li, "probe");
  st = sl_probe_new(li->iso, lo->h, &pr->p);
  if (st != SL_OK) return lsl_fail(L, li, st, 2, "probe", lo);
  lua_pushvalue(L, lua_upvalueindex(UP_PROBE));
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, UV_ISO);
  return 1;
}

static sl_probe_info l_probeinfo(lua_State *L, const char *op) {
  lsl_probe *pr = lsl_checkprobe(L, 1, op);
  sl_probe_info in;
  sl_status st = sl_probe_info_of(pr->li->iso, pr->p, &in);
  if (st != SL_OK) lsl_fail(L, pr->li, st, 1, op, NULL);
  return in;
}

int lsl_probe_alive(lua_State *L) {
  lua_pushboolean(L, l_probeinfo(L, "alive").alive);
  return 1;
}

int lsl_probe_address(lua_State *L) {
  sl_probe_info in = l_probeinfo(L, "address");
  if (in.alive) lua_pushinteger(L, (lua_Integer)in.address); else lua_pushnil(L);
  return 1;
}

int lsl_probe_moves(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)l_probeinfo(L, "moves").moves);
  return 1;
}

int lsl_probe_id(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)l_probeinfo(L, "id").id);
  return 1;
}

int lsl_probe_kind(lua_State *L) {
  lua_pushstring(L, sl_kind_name(l_probeinfo(L, "kind").kind));
  return 1;
}

int lsl_probe_generation(lua_State *L) {
  sl_probe_info in = l_probeinfo(L, "generation");
  if (in.alive) lua_pushstring(L, lsl_genname(in.generation)); else lua_pushnil(L);
  return 1;
}

int lsl_probe_get(lua_State *L) {
  lsl_probe *pr = lsl_checkprobe(L, 1, "get");
  sl_local out;
  sl_status st = sl_probe_get(pr->li->iso, pr->p, &out);
  if (st != SL_OK) return lsl_fail(L, pr->li, st, 1, "get", NULL);
  lsl_pushlocal(L, pr->li, 1, out, "get");
  return 1;
}

static void l_probedelete(lsl_probe *pr) {
  if (pr == NULL) return;
  if (!pr->deleted && pr->li->iso != NULL) sl_probe_delete(pr->li->iso, pr->p);
  pr->deleted = 1;
}

int lsl_probe_delete(lua_State *L) {
  l_probedelete(lsl_checkprobe(L, 1, "delete"));
  return 0;
}

int lsl_probe_gc(lua_State *L) {
  l_probedelete((lsl_probe *)lsl_testud(L, 1, UP_PROBE));
  return 0;
}

int lsl_probe_eq(lua_State *L) {
  lsl_probe *a = (lsl_probe *)lsl_testud(L, 1, UP_PROBE);
  lsl_probe *b = (lsl_probe *)lsl_testud(L, 2, UP_PROBE);
  lua_pushboolean(L, a && b && a->p.node == b->p.node && a->p.serial == b->p.serial);
  return 1;
}

int lsl_probe_tostring(lua_State *L) {
  lsl_probe *pr = (lsl_probe *)lsl_testud(L, 1, UP_PROBE);
  sl_probe_info in;
  if (pr == NULL) return lsl_typeerror(L, 1, "__tostring", PROBE_MT);
  if (pr->li->iso == NULL) lua_pushliteral(L, PROBE_MT ": (isolate disposed)");
  else if (pr->deleted) lua_pushliteral(L, PROBE_MT ": (deleted)");
  else if (sl_probe_info_of(pr->li->iso, pr->p, &in) != SL_OK)
    lua_pushliteral(L, PROBE_MT ": (invalid)");
  else if (in.alive)
    lua_pushfstring(L, PROBE_MT ": %s#%I (alive, %s, moved %I times)", sl_kind_name(in.kind),
                    (lua_Integer)in.id, lsl_genname(in.generation), (lua_Integer)in.moves);
  else
    lua_pushfstring(L, PROBE_MT ": %s#%I (dead)", sl_kind_name(in.kind), (lua_Integer)in.id);
  return 1;
}
