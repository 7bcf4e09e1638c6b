/* SPDX-License-Identifier: MIT */
/*
** lsldiag.c: collections and what the binding tells about the heap:
** iso:collect, iso:stats, iso:verify; the gc, move and watch hooks; and the
** diagnostics iso:retainers (a retaining path, "scopelab.Path"), iso:snapshot,
** iso:handle_report, iso:watch_handles, iso:persistent_report, iso:moves and
** iso:weak_log.
**
** The core's hooks and walk visitors run inside the core: they may not call the
** API nor Lua (Lua's collector could run a finalizer that calls the API). So
** the gc hook only counts and traces, the move hook appends to a C array, the
** watch hook records a pending warning (lslaux.c emits it), and every walk runs
** twice: once to count, once to fill a buffer that Lua owns (a userdata made in
** between), so that no Lua error can leak what the core handed out.
*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsltypes.h"

/* ================================================================ collection */

static void l_pushgcstats(lua_State *L, const sl_gc_stats *s, uint64_t errors) {
  lua_createtable(L, 0, 16);
  lua_pushstring(L, s->kind == SL_MINOR ? "minor" : "major");
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, sl_gc_reason_name(s->reason));
  lua_setfield(L, -2, "reason");
  lsl_setint(L, "first_passes_run", s->first_passes_run);
  lsl_setint(L, "number", s->number);
  lsl_setint(L, "moved", s->moved);
  lsl_setint(L, "promoted", s->promoted);
  lsl_setint(L, "survived", s->survived);
  lsl_setint(L, "freed_bytes", s->freed_bytes);
  lsl_setint(L, "bytes_before", s->bytes_before);
  lsl_setint(L, "bytes_after", s->bytes_after);
  lsl_setint(L, "handles_scanned", s->handles_scanned);
  lsl_setint(L, "nodes_scanned", s->nodes_scanned);
  lsl_setint(L, "weak_cleared", s->weak_cleared);
  lsl_setint(L, "callbacks_run", s->callbacks_run);
  lsl_setint(L, "callback_errors", errors);
  lsl_setint(L, "duration_ns", s->duration_ns);
}

int lsl_iso_collect(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "collect");
  const char *kind;
  int kinds;
  uint64_t errs = li->cb_errors;
  sl_gc_stats gs;
  sl_status st;
  /* the type first: lua_tostring would turn a number into the string it checks */
  if (lua_type(L, 2) != LUA_TSTRING && !lua_isnoneornil(L, 2))
    return lsl_typeerror(L, 2, "collect", "string");
  kind = lua_isnoneornil(L, 2) ? "major" : lua_tostring(L, 2);
  if (strcmp(kind, "minor") == 0) kinds = SL_MINOR;
  else if (strcmp(kind, "major") == 0) kinds = SL_MAJOR;
  else if (strcmp(kind, "full") == 0) kinds = SL_MINOR | SL_MAJOR;
  else
    return lsl_argerror(L, 2, "collect", lua_pushfstring(L, "invalid kind '%s', expected "
                        "'minor', 'major' or 'full'", kind));
  memset(&gs, 0, sizeof gs);
  li->L = L;
  st = sl_collect(li->iso, kinds, &gs);
  li->L = L;
  lsl_func_sweep(L, li);
  if (st != SL_OK) return lsl_fail(L, li, st, 1, "collect", NULL);
  l_pushgcstats(L, &gs, li->cb_errors - errs);
  return 1;
}

static int l_countempty(sl_persistent p, uint32_t site, int weak, uint64_t id, void *ud) {
  (void)p; (void)site; (void)weak;
  if (id == 0) (*(size_t *)ud)++;
  return 0;
}

/* Nodes emptied (reset, or cleared by the collector) but never deleted: in use,
** holding nothing. A napi_ref left at count 0 after its object died is one. */
static size_t l_count_empty(sl_isolate *iso) {
  size_t n = 0;
  sl_persistent_foreach(iso, l_countempty, &n);
  return n;
}

int lsl_iso_stats(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "stats");
  sl_heap_stats s;
  size_t empty;
  sl_heap_stats_of(li->iso, &s);
  empty = l_count_empty(li->iso);  /* before any Lua allocation: a __gc may dispose */
  lua_createtable(L, 0, 32);
  lsl_setint(L, "handles", s.handles);
  lsl_setint(L, "scope_level", s.scope_level);
  lsl_setint(L, "scope_depth", s.scope_depth);
  lsl_setint(L, "blocks", s.blocks);
  lsl_setint(L, "spare_blocks", s.spare_blocks);
  lsl_setint(L, "block_size", s.block_size);
  lsl_setint(L, "young_used", s.young_used);
  lsl_setint(L, "young_size", s.young_size);
  lsl_setint(L, "old_used", s.old_used);
  lsl_setint(L, "old_size", s.old_size);
  lsl_setint(L, "persistent_handles", s.persistent_handles);
  lsl_setint(L, "empty_persistent_handles", empty);
  lsl_setint(L, "weak_handles", s.weak_handles);
  lsl_setint(L, "probes", s.probes);
  lsl_setint(L, "eternal_handles", s.eternal_handles);
  lsl_setint(L, "remembered", s.remembered);
  lsl_setint(L, "minor_collections", s.minor_collections);
  lsl_setint(L, "major_collections", s.major_collections);
  lsl_setint(L, "collections", s.minor_collections + s.major_collections);
  lsl_setint(L, "allocations", s.allocations);
  lsl_setint(L, "bytes_allocated", s.bytes_allocated);
  lsl_setint(L, "objects_moved", s.objects_moved);
  lsl_setint(L, "weak_callbacks_run", s.weak_callbacks_run);
  lsl_setint(L, "callback_errors", li->cb_errors);
  lsl_setint(L, "external_memory", s.external_memory);
  lsl_setint(L, "pending_tasks", s.pending_tasks);
  lsl_setint(L, "tasks_run", s.tasks_run);
  lsl_setint(L, "names", s.names);
  lsl_setint(L, "native_bytes", li->native_bytes);
  lsl_setint(L, "native_blocks", li->native_blocks);
  lsl_setint(L, "internal_handles", li->nfuncs);   /* the functions' probes (lslcall.c) */
  lsl_setint(L, "probes", s.probes - li->nfuncs);
  return 1;
}

/* iso:adjust_external_memory(delta) -> the new total (V8's
** AdjustAmountOfExternalAllocatedMemory). */
int lsl_iso_adjust_external_memory(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "adjust_external_memory");
  lua_Integer d = lsl_checkint(L, 2, "adjust_external_memory");
  int64_t total = 0;
  sl_status st = sl_adjust_external_memory(li->iso, (int64_t)d, &total);
  if (st != SL_OK) return lsl_fail(L, li, st, 2, "adjust_external_memory", NULL);
  lua_pushinteger(L, (lua_Integer)total);
  return 1;
}

int lsl_iso_verify(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "verify");
  sl_status st = sl_verify_heap(li->iso);
  if (st != SL_OK) return lsl_fail(L, li, st, 1, "verify", NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/* The gc hook may not call the API nor Lua: it counts, traces, and marks the
** function records for a sweep (lslcall.c). The reason ends the trace line,
** as in V8's --trace-gc. */
void lsl_gc_hook(sl_isolate *iso, const sl_gc_stats *s, void *ud) {
  lsl_isolate *li = (lsl_isolate *)ud;
  (void)iso;
  li->collections = s->number;
  if (li->nfuncs > 0) li->sweep = 1;
  if (li->trace_gc)
    fprintf(stderr, "[scopelab %p] #%llu %s: %.3f ms, %lu -> %lu bytes, moved %lu, "
            "promoted %lu, handles scanned %lu, weak cleared %lu, %s\n", (void *)li,
            (unsigned long long)s->number, s->kind == SL_MINOR ? "Scavenge" : "Mark-Compact",
            (double)s->duration_ns / 1e6, (unsigned long)s->bytes_before,
            (unsigned long)s->bytes_after, (unsigned long)s->moved,
            (unsigned long)s->promoted, (unsigned long)s->handles_scanned,
            (unsigned long)s->weak_cleared, sl_gc_reason_name(s->reason));
}

void lsl_move_hook(sl_isolate *iso, uint64_t id, uintptr_t from, uintptr_t to,
                        uint64_t collection, void *ud) {
  lsl_isolate *li = (lsl_isolate *)ud;
  (void)iso;
  if (li->nmoves == li->capmoves) {
    size_t cap = li->capmoves ? 2 * li->capmoves : 256;
    lsl_move *m = (lsl_move *)realloc(li->moves, cap * sizeof *m);
    if (m == NULL) { li->moves_lost = 1; return; }
    li->moves = m;
    li->capmoves = cap;
  }
  li->moves[li->nmoves].id = id;
  li->moves[li->nmoves].from = from;
  li->moves[li->nmoves].to = to;
  li->moves[li->nmoves].collection = collection;
  li->nmoves++;
}

static void l_watch_hook(sl_isolate *iso, const sl_scope_info *scope, void *ud) {
  lsl_isolate *li = (lsl_isolate *)ud;
  (void)iso;
  if (!li->watch_pending) {
    li->watch_info = *scope;
    li->watch_pending = 1;
  }
}


/* ================================================================ diagnostics */

static const char *l_rootkind(sl_root_kind k) {
  switch (k) {
    case SL_ROOT_LOCAL: return "local";
    case SL_ROOT_PERSISTENT: return "persistent";
    case SL_ROOT_ETERNAL: return "eternal";
    case SL_ROOT_REMEMBERED: return "remembered";
    case SL_ROOT_FRAME: return "frame";
    default: return "?";
  }
}

/* The identity of a Local, Persistent, Reference or Probe at 'arg' (0: none). */
static uint64_t l_idof(lua_State *L, lsl_isolate *li, int arg, const char *op) {
  uint64_t id = 0;
  if (lsl_testud(L, arg, UP_PROBE)) {
    lsl_probe *pr = lsl_checkprobe(L, arg, op);
    sl_probe_info in;
    if (pr->li != li) lsl_argerror(L, arg, op, "handle from another isolate");
    if (sl_probe_info_of(li->iso, pr->p, &in) == SL_OK && in.alive) id = in.id;
  } else if (lsl_testud(L, arg, UP_PERSISTENT) || lsl_testud(L, arg, UP_REFERENCE)) {
    lsl_persistent *lp = (lsl_persistent *)lua_touserdata(L, arg);
    sl_scope tmp;
    sl_local h;
    if (lp->li != li) lsl_argerror(L, arg, op, "handle from another isolate");
    if (lp->deleted) lsl_argerror(L, arg, op, "persistent handle is deleted");
    /* a Local needs a scope: open one just for the look-up */
    if (sl_scope_open(li->iso, &tmp) != SL_OK) return 0;
    if (sl_persistent_get(li->iso, lp->p, &h) == SL_OK && !sl_local_is_empty(h))
      sl_identity(li->iso, h, &id);
    sl_scope_close(&tmp);
  } else if (lsl_testud(L, arg, UP_LOCAL)) {
    lsl_local *lo = lsl_checklocalof(L, li, arg, op, 0);
    sl_identity(li->iso, lo->h, &id);
  } else {
    lsl_typeerror(L, arg, op, "scopelab handle");
  }
  return id;
}

/* A Path is a plain table its owner may change (p.steps = "abc"): its
** __tostring type-checks everything it reads back, with raw access only. */
static int l_badpath(lua_State *L, const char *what) {
  return lsl_argerror(L, 1, "__tostring", lua_pushfstring(L, "malformed retaining path: %s",
                      what));
}

/* Pushes t[k] (raw) of the table at 't' and returns its type. */
static int l_rawfield(lua_State *L, int t, const char *k) {
  lua_pushstring(L, k);
  return lua_rawget(L, t);
}

/* Pushes the text of the path's root, the table at 'root'. */
static void l_pushrootdesc(lua_State *L, int root) {
  const char *k, *site;
  lua_Integer level, idx;
  int top = lua_gettop(L);
  if (l_rawfield(L, root, "kind") != LUA_TSTRING) l_badpath(L, "its root has no 'kind'");
  k = lua_tostring(L, -1);
  site = l_rawfield(L, root, "site") == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  level = l_rawfield(L, root, "level") == LUA_TNUMBER ? lua_tointeger(L, -1) : 0;
  idx = l_rawfield(L, root, "index") == LUA_TNUMBER ? lua_tointeger(L, -1) : 0;
  if (strcmp(k, "local") == 0)
    lua_pushfstring(L, site ? "local (scope %I, opened at %s)" : "local (scope %I)",
                    level, site);
  else if (strcmp(k, "persistent") == 0)
    lua_pushfstring(L, site ? "persistent #%I (created at %s)" : "persistent #%I", idx, site);
  else if (strcmp(k, "eternal") == 0)
    lua_pushfstring(L, "eternal #%I", idx);
  else if (strcmp(k, "frame") == 0)
    lua_pushliteral(L, "call frame");
  else
    lua_pushstring(L, k);
  lua_replace(L, top + 1);
  lua_settop(L, top + 1);
}

/* Pushes how the step at 'step' is held by the one before it: ".name" (a
** property), "[key 'name']" (a property's key itself), "[field 2]" (an
** internal field), "[data]" and "[name]" (a function's), "[3]" (an element,
** and any step with an index but no edge), or "". */
static const char *l_edgedesc(lua_State *L, int step) {
  const char *edge = l_rawfield(L, step, "edge") == LUA_TSTRING ? lua_tostring(L, -1) : "";
  const char *name = l_rawfield(L, step, "name") == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  int hasindex = l_rawfield(L, step, "index") == LUA_TNUMBER;
  lua_Integer index = lua_tointeger(L, -1);
  if (strcmp(edge, "property") == 0 && name != NULL)
    return l_rawfield(L, step, "key") == LUA_TBOOLEAN && lua_toboolean(L, -1)
      ? lua_pushfstring(L, "[key '%s']", name) : lua_pushfstring(L, ".%s", name);
  if (strcmp(edge, "internal_field") == 0 && hasindex)
    return lua_pushfstring(L, "[field %I]", index);
  if (strcmp(edge, "data") == 0 || strcmp(edge, "name") == 0)
    return lua_pushfstring(L, "[%s]", edge);
  if (hasindex) return lua_pushfstring(L, "[%I]", index);
  return "";
}

/* Pushes the text of step 'i' of the list at 'steps': "<edge> -> kind#id". */
static void l_pushstepdesc(lua_State *L, int steps, lua_Integer i) {
  int top = lua_gettop(L), step = top + 1;
  const char *kind, *edge;
  lua_Integer id;
  if (lua_rawgeti(L, steps, i) != LUA_TTABLE) l_badpath(L, "a step is not a table");
  if (l_rawfield(L, step, "kind") != LUA_TSTRING) l_badpath(L, "a step has no 'kind'");
  kind = lua_tostring(L, -1);
  if (l_rawfield(L, step, "id") != LUA_TNUMBER) l_badpath(L, "a step has no 'id'");
  id = lua_tointeger(L, -1);
  edge = i > 1 ? l_edgedesc(L, step) : "";
  lua_pushfstring(L, "%s -> %s#%I", edge, kind, id);
  lua_replace(L, step);
  lua_settop(L, step);
}

int lsl_path_tostring(lua_State *L) {
  luaL_Buffer b;
  lua_Integer i, n;
  int steps;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (l_rawfield(L, 1, "root") != LUA_TTABLE) return l_badpath(L, "'root' is not a table");
  if (l_rawfield(L, 1, "steps") != LUA_TTABLE) return l_badpath(L, "'steps' is not a table");
  steps = 3;
  n = (lua_Integer)lua_rawlen(L, steps);
  luaL_buffinit(L, &b);
  l_pushrootdesc(L, 2);
  luaL_addvalue(&b);
  for (i = 1; i <= n; i++) {
    l_pushstepdesc(L, steps, i);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return 1;
}

static void l_pushroot(lua_State *L, int isoidx, const sl_root_info *r) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, l_rootkind(r->kind));
  lua_setfield(L, -2, "kind");
  if (r->kind == SL_ROOT_LOCAL) {
    lsl_setint(L, "level", r->level);
    lsl_setint(L, "depth", r->depth);
    lsl_setint(L, "index", r->index + 1);
  } else if (r->kind == SL_ROOT_ETERNAL) {
    lsl_setint(L, "index", r->index + 1);
  } else {
    lsl_setint(L, "index", r->index);
  }
  if (r->kind == SL_ROOT_LOCAL || r->kind == SL_ROOT_PERSISTENT) {
    lsl_pushsite(L, isoidx, r->site);
    lua_setfield(L, -2, "site");
  }
}

static const char *l_edgename(sl_edge_kind e) {
  switch (e) {
    case SL_EDGE_ELEMENT: return "element";
    case SL_EDGE_PROPERTY: return "property";
    case SL_EDGE_INTERNAL_FIELD: return "internal_field";
    case SL_EDGE_DATA: return "data";
    case SL_EDGE_NAME: return "name";
    default: return "?";
  }
}

/* A path copied out of the core's memory, into one Lua-owned buffer. */
typedef struct l_pathcopy {
  sl_object_info *st;
  size_t *ix;
  sl_edge_kind *edge;
  size_t *nameoff;            /* into 'names'; (size_t)-1: none */
  char *names;
} l_pathcopy;

static void l_copypath(lua_State *L, const sl_path *path, l_pathcopy *c) {
  size_t i, n = path->n, bytes = 0, off = 0;
  for (i = 0; i < n; i++) if (path->name[i]) bytes += strlen(path->name[i]) + 1;
  c->st = (sl_object_info *)lua_newuserdatauv(L, n * (sizeof *c->st + sizeof *c->ix +
                                              sizeof *c->edge + sizeof *c->nameoff) + bytes + 1, 0);
  c->ix = (size_t *)(c->st + n);
  c->nameoff = c->ix + n;
  c->edge = (sl_edge_kind *)(c->nameoff + n);
  c->names = (char *)(c->edge + n);
  memcpy(c->st, path->steps, n * sizeof *c->st);
  memcpy(c->ix, path->index, n * sizeof *c->ix);
  memcpy(c->edge, path->edge, n * sizeof *c->edge);
  for (i = 0; i < n; i++) {
    c->nameoff[i] = (size_t)-1;
    if (path->name[i] == NULL) continue;
    c->nameoff[i] = off;
    memcpy(c->names + off, path->name[i], strlen(path->name[i]) + 1);
    off += strlen(path->name[i]) + 1;
  }
}

/* Pushes step 'i' of the copied path: {id, kind, generation} and, after the
** first, how the step before holds it: 'index' alone for an element (as
** before issue 14), else 'edge' ("property", "internal_field", "data",
** "name") with 'index' (a field, 1-based) or 'name' (a property's key; 'key'
** true when the key string itself is the step). */
static void l_pushstep(lua_State *L, const l_pathcopy *c, size_t i) {
  lua_createtable(L, 0, 6);
  lsl_setint(L, "id", c->st[i].id);
  lua_pushstring(L, sl_kind_name(c->st[i].kind));
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, lsl_genname(c->st[i].generation));
  lua_setfield(L, -2, "generation");
  if (i == 0) return;
  if (c->edge[i] != SL_EDGE_ELEMENT) {        /* an element is said by its index alone */
    lua_pushstring(L, l_edgename(c->edge[i]));
    lua_setfield(L, -2, "edge");
  }
  if (c->edge[i] == SL_EDGE_ELEMENT || c->edge[i] == SL_EDGE_INTERNAL_FIELD)
    lsl_setint(L, "index", c->ix[i] + 1);
  if (c->edge[i] == SL_EDGE_PROPERTY && c->nameoff[i] != (size_t)-1) {
    lua_pushstring(L, c->names + c->nameoff[i]);
    lua_setfield(L, -2, "name");
    if (c->ix[i] == 1) { lua_pushboolean(L, 1); lua_setfield(L, -2, "key"); }
  }
}

int lsl_iso_retainers(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "retainers");
  uint64_t id = l_idof(L, li, 2, "retainers");
  sl_path path;
  l_pathcopy c;
  sl_root_info root;
  size_t i, n;
  int buf;
  memset(&path, 0, sizeof path);
  if (id == 0 || sl_retaining_path(li->iso, id, &path) != SL_OK) {
    sl_path_free(&path);
    lua_pushnil(L);
    return 1;
  }
  /* copy the path into Lua-owned memory first (one allocation), so that no
  ** later Lua error leaks it */
  n = path.n;
  root = path.root;
  l_copypath(L, &path, &c);
  sl_path_free(&path);
  buf = lua_gettop(L);
  lua_createtable(L, 0, 2);
  l_pushroot(L, 1, &root);
  lua_setfield(L, -2, "root");
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    l_pushstep(L, &c, i);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "steps");
  lua_pushvalue(L, lua_upvalueindex(UP_PATH));
  lua_setmetatable(L, -2);
  lua_replace(L, buf);
  lua_settop(L, buf);
  return 1;
}

/* Walks run twice: count, then fill a Lua-owned buffer; visitors may not call
** Lua (its GC could run finalizers that call the API). */
typedef struct l_objbuf { sl_object_info *o; size_t n, cap; } l_objbuf;

static int l_countobj(const sl_object_info *o, void *ud) {
  (void)o;
  ((l_objbuf *)ud)->n++;
  return 0;
}

static int l_fillobj(const sl_object_info *o, void *ud) {
  l_objbuf *b = (l_objbuf *)ud;
  if (b->n >= b->cap) return 1;
  b->o[b->n++] = *o;
  return 0;
}

typedef struct l_rootcount { size_t n[6]; } l_rootcount;

static int l_countroot(const sl_root_info *r, const sl_object_info *o, void *ud) {
  (void)o;
  if (r->kind >= 1 && r->kind <= 5) ((l_rootcount *)ud)->n[r->kind]++;
  return 0;
}

int lsl_iso_snapshot(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "snapshot");
  l_objbuf b = { NULL, 0, 0 };
  l_rootcount rc;
  size_t i, bytes = 0;
  int k;
  sl_heap_foreach(li->iso, l_countobj, &b);
  b.cap = b.n;
  b.o = (sl_object_info *)lua_newuserdatauv(L, b.cap * sizeof *b.o + 1, 0);
  lsl_stilllive(L, li, "snapshot");            /* the allocation may run a finalizer */
  b.n = 0;
  sl_heap_foreach(li->iso, l_fillobj, &b);
  memset(&rc, 0, sizeof rc);
  sl_roots_foreach(li->iso, l_countroot, &rc);
  lua_createtable(L, 0, 4);
  lua_createtable(L, (int)b.n, 0);
  for (i = 0; i < b.n; i++) {
    lua_createtable(L, 0, 4);
    lsl_setint(L, "id", b.o[i].id);
    lua_pushstring(L, sl_kind_name(b.o[i].kind));
    lua_setfield(L, -2, "kind");
    lsl_setint(L, "size", b.o[i].size);
    lua_pushstring(L, lsl_genname(b.o[i].generation));
    lua_setfield(L, -2, "generation");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
    bytes += b.o[i].size;
  }
  lua_setfield(L, -2, "objects");
  lua_createtable(L, 0, 5);
  for (k = 1; k <= 4; k++) lsl_setint(L, l_rootkind((sl_root_kind)k), rc.n[k]);
  if (rc.n[SL_ROOT_FRAME] > 0) lsl_setint(L, "frame", rc.n[SL_ROOT_FRAME]);  /* calls running */
  lua_setfield(L, -2, "roots");
  lsl_setint(L, "count", b.n);
  lsl_setint(L, "bytes", bytes);
  return 1;
}

/* The scopes, read in one pass of sl_scope_foreach into a Lua-owned buffer:
** linear in the depth, where asking each depth would count the levels below
** it again. */
typedef struct l_scopebuf { sl_scope_info *s; size_t n, cap; } l_scopebuf;

static int l_fillscope(const sl_scope_info *scope, void *ud) {
  l_scopebuf *b = (l_scopebuf *)ud;
  if (b->n >= b->cap) return 1;
  b->s[b->n++] = *scope;
  return 0;
}

int lsl_iso_handle_report(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "handle_report");
  l_scopebuf b;
  size_t i;
  b.cap = sl_scope_depth(li->iso);
  b.n = 0;
  b.s = (sl_scope_info *)lua_newuserdatauv(L, b.cap * sizeof *b.s + 1, 0);
  lsl_stilllive(L, li, "handle_report");       /* the allocation may run a finalizer */
  sl_scope_foreach(li->iso, l_fillscope, &b);
  lua_createtable(L, (int)b.n, 0);
  for (i = 0; i < b.n; i++) {
    const sl_scope_info *in = &b.s[i];
    lua_createtable(L, 0, 8);
    lua_pushstring(L, lsl_scopekind(in->kind));
    lua_setfield(L, -2, "kind");
    lsl_setint(L, "level", in->level);
    lsl_setint(L, "depth", in->depth);
    lsl_setint(L, "handles", in->handles);
    lsl_setint(L, "capacity", in->capacity);
    lua_pushboolean(L, in->escaped);
    lua_setfield(L, -2, "escaped");
    if (in->implicit) {                        /* the HandleScope of an iso:call */
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "implicit");
    }
    lsl_pushsite(L, 1, in->site);
    lua_setfield(L, -2, "site");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

int lsl_iso_watch_handles(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "watch_handles");
  lua_Integer n = lua_isnoneornil(L, 2) ? 0 : lsl_checkint(L, 2, "watch_handles");
  if (n < 0)
    return lsl_argerror(L, 2, "watch_handles", lua_pushfstring(L, "threshold must be "
                      "non-negative, got %I", n));
  li->watch_threshold = (size_t)n;
  li->watch_pending = 0;
  sl_watch_handles(li->iso, (size_t)n, n ? l_watch_hook : NULL, li);
  return 0;
}

/* weak[i]: 1 weak, 0 strong, -1 empty (in use, holding nothing). */
typedef struct l_persbuf { uint32_t *site; int *weak; size_t n, cap; } l_persbuf;

static int l_countpers(sl_persistent p, uint32_t site, int weak, uint64_t id, void *ud) {
  (void)p; (void)site; (void)weak; (void)id;
  ((l_persbuf *)ud)->n++;
  return 0;
}

static int l_fillpers(sl_persistent p, uint32_t site, int weak, uint64_t id, void *ud) {
  l_persbuf *b = (l_persbuf *)ud;
  (void)p;
  if (b->n >= b->cap) return 1;
  b->site[b->n] = site;
  b->weak[b->n] = id == 0 ? -1 : weak != 0;
  b->n++;
  return 0;
}

/* t.name = t.name + 1 for the table on top. */
static void l_bump(lua_State *L, const char *name) {
  lua_Integer v;
  lua_getfield(L, -1, name);
  v = lua_tointeger(L, -1) + 1;
  lua_pop(L, 1);
  lsl_setint(L, name, v);
}

static lua_Integer l_field(lua_State *L, int t, int i, const char *k) {
  lua_Integer v;
  lua_rawgeti(L, t, i);
  lua_getfield(L, -1, k);
  v = lua_tointeger(L, -1);
  lua_pop(L, 2);
  return v;
}

/* Group t[i] sorts before t[j]: more live handles, or as many and more empty. */
static int l_group_before(lua_State *L, int t, int i, int j) {
  lua_Integer ci = l_field(L, t, i, "count"), cj = l_field(L, t, j, "count");
  if (ci != cj) return ci > cj;
  return l_field(L, t, i, "empty") > l_field(L, t, j, "empty");
}

/* Persistent handles grouped by creation site, most live first:
** { {site = "f.lua:3" or nil, count = n, weak = n, empty = n}, ..., total = n,
** empty = n }. 'count' and 'total' are the live (non-empty) ones; 'empty' the
** nodes emptied but never deleted, so a leaked napi_ref shows at its line. */
int lsl_iso_persistent_report(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "persistent_report");
  l_persbuf b = { NULL, NULL, 0, 0 };
  size_t i, empty = 0;
  int groups, idx, t;
  sl_persistent_foreach(li->iso, l_countpers, &b);
  b.cap = b.n;
  b.site = (uint32_t *)lua_newuserdatauv(L, b.cap * sizeof *b.site + 1, 0);
  b.weak = (int *)lua_newuserdatauv(L, b.cap * sizeof *b.weak + 1, 0);
  lsl_stilllive(L, li, "persistent_report");   /* the allocations may run a finalizer */
  b.n = 0;
  sl_persistent_foreach(li->iso, l_fillpers, &b);
  lua_newtable(L);                             /* site -> group */
  idx = lua_gettop(L);
  lua_newtable(L);                             /* result */
  t = idx + 1;
  groups = 0;
  for (i = 0; i < b.n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)b.site[i]);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_createtable(L, 0, 4);
      lsl_pushsite(L, 1, b.site[i]);
      lua_setfield(L, -2, "site");
      lsl_setint(L, "count", 0);
      lsl_setint(L, "weak", 0);
      lsl_setint(L, "empty", 0);
      lua_pushvalue(L, -1);
      lua_rawseti(L, idx, (lua_Integer)b.site[i]);
      lua_pushvalue(L, -1);
      lua_rawseti(L, t, ++groups);
    }
    if (b.weak[i] < 0) {
      l_bump(L, "empty");
      empty++;
    } else {
      l_bump(L, "count");
      if (b.weak[i]) l_bump(L, "weak");
    }
    lua_pop(L, 1);
  }
  /* most live first, then most empty (insertion sort: few groups) */
  {
    int a, c;
    for (a = 2; a <= groups; a++) {
      for (c = a; c > 1 && l_group_before(L, t, c, c - 1); c--) {
        lua_rawgeti(L, t, c - 1);
        lua_rawgeti(L, t, c);
        lua_rawseti(L, t, c - 1);
        lua_rawseti(L, t, c);
      }
    }
  }
  lua_pushvalue(L, t);
  lsl_setint(L, "total", (lua_Integer)(b.n - empty));
  lsl_setint(L, "empty", (lua_Integer)empty);
  return 1;
}

int lsl_iso_moves(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "moves");
  size_t i;
  if (!li->record_moves)
    return lsl_argerror(L, 1, "moves", "moves are not recorded (option 'record_moves')");
  lua_createtable(L, (int)li->nmoves, 1);
  for (i = 0; i < li->nmoves; i++) {
    lua_createtable(L, 0, 4);
    lsl_setint(L, "id", li->moves[i].id);
    lsl_setint(L, "from", li->moves[i].from);
    lsl_setint(L, "to", li->moves[i].to);
    lsl_setint(L, "collection", li->moves[i].collection);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  if (li->moves_lost) { lua_pushboolean(L, 1); lua_setfield(L, -2, "incomplete"); }
  return 1;
}

int lsl_iso_weak_log(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "weak_log");
  if (!li->record_weak)
    return lsl_argerror(L, 1, "weak_log", "weak callbacks are not recorded (option "
                      "'record_weak')");
  lsl_getuvtable(L, 1, UV_WEAKLOG);
  return 1;
}
