/*
** lscopelab.c: the Lua 5.4 binding of scopelab (module "scopelab.core"; the
** front "scopelab" in lua/scopelab/init.lua re-exports it).
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
**   a:get(i) a:set(i, h_or_nil) #a        h1 == h2 (same object)
**   a:unpack([i [, j]])                   -> elements i..j as Locals (nil: empty)
**
** Persistent ("scopelab.Persistent", plain or global)
**   p:get() p:reset([h]) p:is_empty() p:set_weak([cb]) p:clear_weak()
**   p:is_weak() p:is_global() p:delete() p:site()              also __close, __gc
**
** Reference ("scopelab.Reference", Node-API)
**   r:ref() r:unref() r:count() r:get() r:is_empty() r:delete() r:is_deleted()
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

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "scopelab.h"

#define ISOLATE_MT    "scopelab.Isolate"
#define LOCAL_MT      "scopelab.Local"
#define SCOPE_MT      "scopelab.Scope"
#define PERSISTENT_MT "scopelab.Persistent"
#define PROBE_MT      "scopelab.Probe"
#define REFERENCE_MT  "scopelab.Reference"
#define PATH_MT       "scopelab.Path"
#define ISOLATES_KEY  "scopelab.isolates"

/* Every function of the module shares these upvalues: the metatables, so that a
** type check is a metatable comparison and a new Local gets its metatable with
** no table lookup. */
enum { UP_ISOLATE = 1, UP_LOCAL, UP_SCOPE, UP_PERSISTENT, UP_PROBE, UP_REFERENCE,
       UP_PATH, NUP = UP_PATH };

/* User values of an Isolate userdata. */
enum { UV_SITES = 1,   /* site number -> "file:line" */
       UV_SITEIDX,     /* "file:line" -> site number (dedupe) */
       UV_WEAK,        /* lightuserdata(l_persistent*) -> Persistent, while weak
                          with a callback: keeps the userdata and the callback alive */
       UV_WEAKLOG,     /* weak-callback trace (option 'record_weak') */
       UV_WARN,        /* option 'warn': function receiving diagnostics, or nil */
       UV_LOCALMT,     /* the metatable of this isolate's Locals (see l_local) */
       NUV_ISOLATE = UV_LOCALMT };

/* User values of handle userdata but Locals: 1 is always the Isolate userdata. */
enum { UV_ISO = 1, UV_CALLBACK = 2 };

typedef struct l_move {
  uint64_t id, collection;
  uintptr_t from, to;
} l_move;

/* The call-site cache: (short_src, line) -> site number, so that opening a scope
** on a line seen before formats no string and touches no Lua table. The 'source'
** pointer of lua_Debug (stable per function prototype) only picks the entry; the
** entry is trusted only if 'short_src' and 'line' match, so a source string freed
** and another allocated at its address can never give a wrong site. */
#if !defined(L_SITECACHE)
#define L_SITECACHE 64          /* entries, a power of 2 */
#endif

typedef struct l_siteentry {
  uint32_t site;                /* 0: empty */
  int line;
  char short_src[LUA_IDSIZE];
} l_siteentry;

/* Every userdata of the binding begins with its tag: the address of its type's
** entry in 'l_tags' (constant, so no global state). Checking a type is then a
** size and a pointer compare, with no metatable fetched (debug.setmetatable can
** give any userdata any metatable: the tag, not the metatable, says what it is).
** Handles continue with their isolate, which user value 1 keeps alive. */
static const char l_tags[8];
#define l_tag(up) ((const void *)&l_tags[(up)])

typedef struct l_head {
  const void *tag;
  struct l_isolate *li;   /* handles only */
} l_head;

typedef struct l_isolate {
  const void *tag;        /* l_tag(UP_ISOLATE) */
  sl_isolate *iso;        /* NULL once disposed */
  lua_State *L;           /* the thread of the call that may run callbacks */
  uint32_t nsites;        /* sites registered in UV_SITES */
  uint32_t cur_site;      /* site and level of the innermost open scope, */
  uint32_t cur_level;     /*   copied into every new Local; kept by opening and
                             closing scopes (all of them go through here), so no
                             call asks the core for them */
  uint64_t collections;   /* number of the last collection (gc hook) */
  uint64_t cb_order;      /* weak callbacks run after that collection */
  uint64_t cb_collection; /* the collection 'cb_order' counts for */
  uint64_t cb_errors;     /* Lua errors raised by weak callbacks, all time */
  uint64_t cb_total;      /* weak callbacks run, all time (a constructor that ran
                             some re-checks the Local it made) */
  int trace_gc, record_moves, record_weak;
  /* option 'record_moves': filled by the move hook, which may not touch Lua */
  l_move *moves;
  size_t nmoves, capmoves;
  int moves_lost;         /* realloc failed inside the hook */
  /* sl_watch_handles: the hook may not call the API (nor Lua, whose GC could
  ** run finalizers that do), so it only records; the warning is emitted when
  ** the call that created the handle returns. */
  size_t watch_threshold;
  int watch_pending;
  sl_scope_info watch_info;
  l_siteentry sitecache[L_SITECACHE];
} l_isolate;

/* A Local has no user value: what keeps its isolate alive is its metatable, one
** per isolate (UV_LOCALMT, a copy of the registry's "scopelab.Local" holding the
** Isolate userdata at [1]). A userdata with no user value is cheaper all along
** its short life: smaller, made with two API calls fewer, and marked by Lua's
** collector at once instead of through the gray list. */
typedef struct l_local {
  const void *tag;        /* l_tag(UP_LOCAL) */
  l_isolate *li;          /* reachable because its metatable holds the Isolate */
  sl_local h;             /* slot + stamp */
  uint32_t site, level;   /* of the owning scope, for the stale-handle message */
} l_local;

typedef struct l_scope {
  const void *tag;        /* l_tag(UP_SCOPE) */
  l_isolate *li;
  sl_scope s;
  uint32_t site, level;
  uint32_t prev_site, prev_level;  /* the innermost scope's when this one opened:
                                      restored when it closes, given to escaped Locals */
  sl_scope_kind kind;
  size_t capacity;
} l_scope;

enum { P_PLAIN = 1, P_GLOBAL, P_REFERENCE };

typedef struct l_persistent {
  const void *tag;        /* l_tag(UP_PERSISTENT) or l_tag(UP_REFERENCE) */
  l_isolate *li;
  sl_persistent p;
  int type;               /* P_PLAIN, P_GLOBAL or P_REFERENCE */
  int deleted;
  uint32_t site;
  lua_Integer count;      /* references: the Node-API count */
} l_persistent;

typedef struct l_probe {
  const void *tag;        /* l_tag(UP_PROBE) */
  l_isolate *li;
  sl_probe p;
  int deleted;
} l_probe;


/* ================================================================ errors */

/* 'bad argument #arg to 'op' (msg)'; 'arg' counts stack slots, self included. */
static int l_argerror(lua_State *L, int arg, const char *op, const char *msg) {
  return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, op, msg);
}

static size_t l_udsize(int up);

/* The type name of a userdata of ours at 'arg' by its tag alone, or NULL. */
static const char *l_tagname(lua_State *L, int arg) {
  static const char *const names[] = {
    NULL, ISOLATE_MT, LOCAL_MT, SCOPE_MT, PERSISTENT_MT, PROBE_MT, REFERENCE_MT
  };
  const l_head *p = (const l_head *)lua_touserdata(L, arg);
  int up;
  if (p == NULL) return NULL;
  for (up = UP_ISOLATE; up <= UP_REFERENCE; up++)
    if (lua_rawlen(L, arg) == l_udsize(up) && p->tag == l_tag(up)) return names[up];
  return NULL;
}

static int l_typeerror(lua_State *L, int arg, const char *op, const char *tname) {
  const char *got = l_tagname(L, arg);
  if (got != NULL && strcmp(got, tname) == 0)   /* the tag is right: its isolate is not */
    return l_argerror(L, arg, op, lua_pushfstring(L, "%s cut off from its isolate (its "
                      "metatable or user value was replaced)", tname));
  if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING)
    got = lua_tostring(L, -1);
  else
    got = luaL_typename(L, arg);
  return l_argerror(L, arg, op, lua_pushfstring(L, "%s expected, got %s", tname, got));
}

/* Pushes the "file:line" of a site, or nil for site 0 / unknown. */
static void l_pushsite(lua_State *L, int isoidx, uint32_t site) {
  if (site == 0) { lua_pushnil(L); return; }
  lua_getiuservalue(L, isoidx, UV_SITES);
  lua_rawgeti(L, -1, (lua_Integer)site);
  lua_remove(L, -2);
}

/* Pushes the Isolate userdata of 'li' (from the weak registry map). */
static int l_pushiso(lua_State *L, l_isolate *li) {
  lua_getfield(L, LUA_REGISTRYINDEX, ISOLATES_KEY);
  lua_rawgetp(L, -1, li);
  lua_remove(L, -2);
  return lua_isuserdata(L, -1);
}

/* "level 2, opened at foo.lua:14" or "level 2" when the site is unknown. */
static const char *l_scopedesc(lua_State *L, l_isolate *li, uint32_t level, uint32_t site) {
  const char *where = NULL;
  if (site && l_pushiso(L, li)) {
    l_pushsite(L, lua_gettop(L), site);
    where = lua_tostring(L, -1);
  }
  if (where)
    return lua_pushfstring(L, "level %d, opened at %s", (int)level, where);
  return lua_pushfstring(L, "level %d", (int)level);
}

/* The core's message without its leading "op: " (we name the operation ourselves)
** and, for heap exhaustion, without the words "heap exhausted (...)" around it. */
static const char *l_coremsg(lua_State *L, l_isolate *li) {
  const char *m, *p;
  size_t n;
  if (li->iso == NULL) return "";
  m = p = sl_last_error(li->iso);
  while ((*p >= 'a' && *p <= 'z') || *p == '_') p++;
  if (p > m && p[0] == ':' && p[1] == ' ') m = p + 2;
  n = strlen(m);
  if (strncmp(m, "heap exhausted (", 16) == 0 && n > 17 && m[n - 1] == ')')
    return lua_pushlstring(L, m + 16, n - 17);
  return m;
}

/* Raises the error for a failed sl_ call on behalf of 'op'. 'arg' is the stack
** slot to blame for argument-like failures; 'lo' the Local in it, if any (its
** scope names the closed scope of a stale handle). */
static int l_fail(lua_State *L, l_isolate *li, sl_status st, int arg, const char *op,
                  const l_local *lo) {
  const char *core = l_coremsg(L, li);
  switch (st) {
    case SL_ESTALE:
      if (lo == NULL && strstr(core, "weak callback") != NULL)  /* a constructor's */
        return l_argerror(L, arg, op, core);
      if (lo)
        return l_argerror(L, arg, op, lua_pushfstring(L, "handle from a closed scope: %s",
                          l_scopedesc(L, li, lo->level, lo->site)));
      return l_argerror(L, arg, op, "handle from a closed scope");
    case SL_EISOLATE:
      return l_argerror(L, arg, op, "handle from another isolate");
    case SL_EARG:
      return l_argerror(L, arg, op, *core ? core : "invalid argument");
    case SL_EESCAPE:
      return l_argerror(L, arg, op, *core ? core : "cannot escape");
    case SL_EORDER:
      return l_argerror(L, arg, op, *core ? core : "scope is not the innermost");
    case SL_ENOSCOPE:
      return luaL_error(L, "cannot create a handle in '%s' (no handle scope is open)", op);
    case SL_ESEALED:
      return luaL_error(L, "cannot create a handle in '%s' (the innermost scope is a seal "
                        "scope: %s)", op, l_scopedesc(L, li, li->cur_level, li->cur_site));
    case SL_ECAPACITY: {
      sl_scope_info in;
      size_t cap = 0;
      if (li->iso && sl_scope_info_at(li->iso, sl_scope_depth(li->iso), &in) == SL_OK)
        cap = in.capacity;
      return luaL_error(L, "handle scope full in '%s' (%s, capacity %d)", op,
                        l_scopedesc(L, li, li->cur_level, li->cur_site), (int)cap);
    }
    case SL_ENOMEM:
      return luaL_error(L, "heap exhausted in '%s' (%s)", op, *core ? core : "out of memory");
    case SL_ESTATE:
      return luaL_error(L, "cannot '%s' now (%s)", op, *core ? core : "not allowed");
    case SL_ECORRUPT:
      return luaL_error(L, "heap corrupt after '%s' (%s)", op, core);
    default:
      return luaL_error(L, "BUG: '%s' failed with status %d (%s)", op, (int)st, core);
  }
}

/* Emits a diagnostic: through the isolate's 'warn' option if set, else lua_warning.
** Never raises (a failing 'warn' function is ignored). */
static void l_warn(lua_State *L, l_isolate *li, const char *msg) {
  int top = lua_gettop(L);
  if (l_pushiso(L, li) && lua_getiuservalue(L, -1, UV_WARN) == LUA_TFUNCTION) {
    lua_pushstring(L, msg);
    (void)lua_pcall(L, 1, 0, 0);
  } else {
    lua_warning(L, msg, 0);
  }
  lua_settop(L, top);
}

static int l_warn_body(lua_State *L) {
  l_isolate *li = (l_isolate *)lua_touserdata(L, 1);
  sl_scope_info in = li->watch_info;
  li->watch_pending = 0;
  l_warn(L, li, lua_pushfstring(L, "scopelab: handle scope %s holds more than %d handles",
         l_scopedesc(L, li, in.level, in.site), (int)li->watch_threshold));
  return 0;
}

/* After every call that created a handle: the watch hook may have fired. */
static void l_flushwatch(lua_State *L, l_isolate *li) {
  if (li->watch_pending) {
    lua_pushcfunction(L, l_warn_body);
    lua_pushlightuserdata(L, li);
    (void)lua_pcall(L, 1, 0, 0);
  }
}


/* ================================================================ checks */

/* The size of the userdata each metatable belongs to: debug.setmetatable can
** give a userdata another type's metatable, and the size tells most apart. */
static size_t l_udsize(int up) {
  switch (up) {
    case UP_ISOLATE: return sizeof(l_isolate);
    case UP_LOCAL: return sizeof(l_local);
    case UP_SCOPE: return sizeof(l_scope);
    case UP_PERSISTENT: case UP_REFERENCE: return sizeof(l_persistent);
    case UP_PROBE: return sizeof(l_probe);
    default: return 0;                          /* not checked */
  }
}

/* The isolate userdata at 'idx' if it is exactly 'li' (NULL never is). */
static int l_isiso(lua_State *L, int idx, const l_isolate *li) {
  const l_isolate *p = (const l_isolate *)lua_touserdata(L, idx);
  return p == li && p != NULL && lua_rawlen(L, idx) == sizeof *p && p->tag == l_tag(UP_ISOLATE);
}

/* The userdata at 'idx' if it is of type 'up': its size and tag match and, for a
** handle, what keeps its isolate alive still does (a Local's metatable holds it
** at [1], another handle's user value 1 is it). The last check is what makes
** 'li' safe to follow: debug.setmetatable or debug.setuservalue could have let
** the isolate be collected, and then 'li' would point to freed memory. */
static void *l_testud(lua_State *L, int idx, int up) {
  l_head *p = (l_head *)lua_touserdata(L, idx);
  int ok;
  if (p == NULL || lua_rawlen(L, idx) != l_udsize(up) || p->tag != l_tag(up)) return NULL;
  if (up == UP_ISOLATE) return p;
  if (up == UP_LOCAL) {
    if (!lua_getmetatable(L, idx)) return NULL;
    lua_rawgeti(L, -1, 1);
    ok = l_isiso(L, -1, p->li);
    lua_pop(L, 2);
    return ok ? p : NULL;
  }
  lua_getiuservalue(L, idx, UV_ISO);
  ok = l_isiso(L, -1, p->li);
  lua_pop(L, 1);
  return ok ? p : NULL;
}

/* A Local of the live isolate 'li' at 'idx' (an argument beside self), or NULL.
** No user value check: 'li' is alive (the caller holds it), so a Local whose 'li'
** equals it points to live memory whatever its user value says. */
static l_local *l_tolocalof(lua_State *L, int idx, const l_isolate *li) {
  l_local *p = (l_local *)lua_touserdata(L, idx);
  return p != NULL && lua_rawlen(L, idx) == sizeof *p && p->tag == l_tag(UP_LOCAL) &&
         p->li == li ? p : NULL;
}

/* Lua allocations may run finalizers, and a finalizer may dispose the isolate:
** re-check right before the core call that follows them. */
#define l_stilllive(L, li, op) \
  do { if ((li)->iso == NULL) return l_argerror(L, 1, (op), "isolate is disposed"); } while (0)

/* A live isolate at 'arg'. */
static l_isolate *l_checkiso(lua_State *L, int arg, const char *op) {
  l_isolate *li = (l_isolate *)l_testud(L, arg, UP_ISOLATE);
  if (li == NULL) { l_typeerror(L, arg, op, ISOLATE_MT); return NULL; }  /* does not return */
  if (li->iso == NULL) l_argerror(L, arg, op, "isolate is disposed");
  return li;
}

/* A Local of a live isolate at 'arg' (not checked for staleness: the core does). */
static l_local *l_checklocal(lua_State *L, int arg, const char *op) {
  l_local *lo = (l_local *)l_testud(L, arg, UP_LOCAL);
  if (lo == NULL) { l_typeerror(L, arg, op, LOCAL_MT); return NULL; }  /* does not return */
  if (lo->li->iso == NULL) l_argerror(L, arg, op, "handle of a disposed isolate");
  return lo;
}

/* A Local of isolate 'li' at 'arg', live; nil gives NULL when 'nilok'. */
static l_local *l_checklocalof(lua_State *L, l_isolate *li, int arg, const char *op,
                               int nilok) {
  l_local *lo;
  sl_status st;
  if (nilok && lua_isnoneornil(L, arg)) return NULL;
  lo = l_checklocal(L, arg, op);
  if (lo->li != li) l_argerror(L, arg, op, "handle from another isolate");
  st = sl_local_check(li->iso, lo->h);
  if (st != SL_OK) l_fail(L, li, st, arg, op, lo);
  return lo;
}

/* Strict: a string that looks like a number is still a wrong type here. */
static lua_Integer l_checkint(lua_State *L, int arg, const char *op) {
  int isnum = 0;
  lua_Integer v = lua_type(L, arg) == LUA_TNUMBER ? lua_tointegerx(L, arg, &isnum) : 0;
  if (!isnum) {
    if (lua_type(L, arg) == LUA_TNUMBER)
      l_argerror(L, arg, op, "number has no integer representation");
    l_typeerror(L, arg, op, "integer");
  }
  return v;
}

static l_scope *l_checkscope(lua_State *L, int arg, const char *op) {
  l_scope *sc = (l_scope *)l_testud(L, arg, UP_SCOPE);
  if (sc == NULL) l_typeerror(L, arg, op, SCOPE_MT);
  return sc;
}

static l_persistent *l_checkpers(lua_State *L, int arg, const char *op) {
  l_persistent *lp = (l_persistent *)l_testud(L, arg, UP_PERSISTENT);
  if (lp == NULL) { l_typeerror(L, arg, op, PERSISTENT_MT); return NULL; }  /* does not return */
  if (lp->li->iso == NULL) l_argerror(L, arg, op, "handle of a disposed isolate");
  if (lp->deleted) l_argerror(L, arg, op, "persistent handle is deleted");
  return lp;
}

static l_persistent *l_checkref(lua_State *L, int arg, const char *op) {
  l_persistent *lp = (l_persistent *)l_testud(L, arg, UP_REFERENCE);
  if (lp == NULL) { l_typeerror(L, arg, op, REFERENCE_MT); return NULL; }  /* does not return */
  if (lp->li->iso == NULL) l_argerror(L, arg, op, "reference of a disposed isolate");
  if (lp->deleted) l_argerror(L, arg, op, "reference is deleted");
  return lp;
}

static l_probe *l_checkprobe(lua_State *L, int arg, const char *op) {
  l_probe *pr = (l_probe *)l_testud(L, arg, UP_PROBE);
  if (pr == NULL) { l_typeerror(L, arg, op, PROBE_MT); return NULL; }  /* does not return */
  if (pr->li->iso == NULL) l_argerror(L, arg, op, "probe of a disposed isolate");
  if (pr->deleted) l_argerror(L, arg, op, "probe is deleted");
  return pr;
}


/* ================================================================ sites */

/* Registers (or finds) "file:line" of 'ar' in the isolate's site tables: the
** first time a line is seen, or when the cache entry was taken by another line. */
static uint32_t l_callsite_slow(lua_State *L, l_isolate *li, int isoidx,
                                const lua_Debug *ar) {
  uint32_t site;
  lua_getiuservalue(L, isoidx, UV_SITEIDX);
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
  lua_getiuservalue(L, isoidx, UV_SITES);
  lua_insert(L, -2);
  lua_rawseti(L, -2, (lua_Integer)site);      /* sites[site] = str */
  lua_pop(L, 2);
  return site;
}

/* The site number of the Lua line that called the running C function, registered
** in the isolate's site tables on first sight (0 when called from C). */
static uint32_t l_callsite(lua_State *L, l_isolate *li, int isoidx) {
  lua_Debug ar;
  uint32_t site;
  l_siteentry *e;
  if (!lua_getstack(L, 1, &ar) || !lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
    return 0;
  e = &li->sitecache[(((uintptr_t)ar.source >> 4) ^ ((uintptr_t)ar.currentline * 2654435761u))
                     & (L_SITECACHE - 1)];
  if (e->site != 0 && e->line == ar.currentline && strcmp(e->short_src, ar.short_src) == 0)
    return e->site;                           /* seen before: no string, no table */
  site = l_callsite_slow(L, li, isoidx, &ar);
  e->site = site;
  e->line = ar.currentline;
  memcpy(e->short_src, ar.short_src, sizeof e->short_src);
  return site;
}


/* ================================================================ locals */

/* Pushes the metatable for new Locals of the isolate of the userdata at 'hidx'
** (absolute), which the caller has checked: an Isolate, a Local (its own
** metatable) or another handle (through its user value). */
static void l_pushlocalmt(lua_State *L, int hidx) {
  const l_head *p = (const l_head *)lua_touserdata(L, hidx);
  if (p->tag == l_tag(UP_LOCAL)) {
    lua_getmetatable(L, hidx);
  } else if (p->tag == l_tag(UP_ISOLATE)) {
    lua_getiuservalue(L, hidx, UV_LOCALMT);
  } else {
    lua_getiuservalue(L, hidx, UV_ISO);
    lua_getiuservalue(L, -1, UV_LOCALMT);
    lua_remove(L, -2);
  }
}

/* Fills the Local on top (already holding 'h') and gives it the metatable at
** 'mtidx' (absolute). */
static void l_setlocal(lua_State *L, l_isolate *li, l_local *lo, int mtidx) {
  lo->tag = l_tag(UP_LOCAL);
  lo->li = li;
  lo->site = li->cur_site;
  lo->level = li->cur_level;
  lua_pushvalue(L, mtidx);
  lua_setmetatable(L, -2);
}

/* Turns the userdata on top (already holding 'h') into a Local of the isolate
** of the userdata at 'hidx' (see l_pushlocalmt). */
static void l_finishlocal(lua_State *L, l_isolate *li, int hidx, l_local *lo) {
  lo->tag = l_tag(UP_LOCAL);
  lo->li = li;
  lo->site = li->cur_site;
  lo->level = li->cur_level;
  l_pushlocalmt(L, hidx);
  lua_setmetatable(L, -2);
}

/* Pushes a new Local for the non-empty 'h', made by a method of the userdata at
** 'hidx' (absolute; see l_pushlocalmt). */
static void l_pushlocalof(lua_State *L, l_isolate *li, int hidx, sl_local h) {
  l_local *lo = (l_local *)lua_newuserdatauv(L, sizeof *lo, 0);
  lo->h = h;
  l_finishlocal(L, li, hidx, lo);
}

/* Pushes a Local for 'h' (nil when empty), as l_pushlocalof. */
static void l_pushlocal(lua_State *L, l_isolate *li, int hidx, sl_local h) {
  if (sl_local_is_empty(h)) { lua_pushnil(L); return; }
  l_pushlocalof(L, li, hidx, h);
  l_flushwatch(L, li);
}

/* Weak callbacks ran inside the call that made 'lo': one may have closed the scope
** it was made in (then it is refused here, not at first use) or left a scope open
** (then the site and level come from the Local's own scope, not the innermost). */
static void l_recheck(lua_State *L, l_isolate *li, l_local *lo, const char *op) {
  uint32_t depth;
  sl_scope_info in;
  if (sl_local_check(li->iso, lo->h) != SL_OK)
    l_argerror(L, 1, op, "a weak callback closed the scope the new handle was made in");
  sl_local_scope(lo->h, &depth, NULL);
  if (sl_scope_info_at(li->iso, depth, &in) == SL_OK) {
    lo->site = in.site;
    lo->level = in.level;
  }
}

/* iso:integer(i) is the hot path (issue 7): one userdata, no table lookups. */
static int l_iso_integer(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "integer");
  lua_Integer v = l_checkint(L, 2, "integer");
  l_local *lo = (l_local *)lua_newuserdatauv(L, sizeof *lo, 0);
  sl_status st;
  uint64_t cb0;
  l_stilllive(L, li, "integer");
  li->L = L;
  cb0 = li->cb_total;
  st = sl_integer(li->iso, (int64_t)v, &lo->h);
  if (st != SL_OK) return l_fail(L, li, st, 1, "integer", NULL);
  l_finishlocal(L, li, 1, lo);
  if (li->cb_total != cb0) l_recheck(L, li, lo, "integer");
  if (li->watch_pending) l_flushwatch(L, li);
  return 1;
}

static int l_iso_number(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "number");
  l_local *lo;
  sl_status st;
  uint64_t cb0;
  double v;
  if (lua_type(L, 2) != LUA_TNUMBER) return l_typeerror(L, 2, "number", "number");
  v = (double)lua_tonumber(L, 2);
  lo = (l_local *)lua_newuserdatauv(L, sizeof *lo, 0);
  l_stilllive(L, li, "number");
  li->L = L;
  cb0 = li->cb_total;
  st = sl_number(li->iso, v, &lo->h);
  if (st != SL_OK) return l_fail(L, li, st, 1, "number", NULL);
  l_finishlocal(L, li, 1, lo);
  if (li->cb_total != cb0) l_recheck(L, li, lo, "number");
  l_flushwatch(L, li);
  return 1;
}

static int l_iso_string(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "string");
  size_t len;
  const char *s;
  l_local *lo;
  sl_status st;
  uint64_t cb0;
  if (lua_type(L, 2) != LUA_TSTRING) return l_typeerror(L, 2, "string", "string");
  s = lua_tolstring(L, 2, &len);
  lo = (l_local *)lua_newuserdatauv(L, sizeof *lo, 0);
  l_stilllive(L, li, "string");
  li->L = L;
  cb0 = li->cb_total;
  st = sl_string(li->iso, s, len, &lo->h);
  if (st != SL_OK) return l_fail(L, li, st, 1, "string", NULL);
  l_finishlocal(L, li, 1, lo);
  if (li->cb_total != cb0) l_recheck(L, li, lo, "string");
  l_flushwatch(L, li);
  return 1;
}

static int l_iso_array(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "array");
  lua_Integer n = l_checkint(L, 2, "array");
  l_local *lo;
  sl_status st;
  uint64_t cb0;
  if (n < 0)
    return l_argerror(L, 2, "array", lua_pushfstring(L, "size must be non-negative, got %I", n));
  lo = (l_local *)lua_newuserdatauv(L, sizeof *lo, 0);
  l_stilllive(L, li, "array");
  li->L = L;
  cb0 = li->cb_total;
  st = sl_array(li->iso, (size_t)n, &lo->h);
  if (st != SL_OK) return l_fail(L, li, st, 1, "array", NULL);
  l_finishlocal(L, li, 1, lo);
  if (li->cb_total != cb0) l_recheck(L, li, lo, "array");
  l_flushwatch(L, li);
  return 1;
}

/* iso:array_of(...): a new array whose i-th element is the object of the i-th
** argument (nil leaves it empty), in one call: what iso:array(n) followed by n
** a:set(i, h) does, for one method dispatch and one userdata. The core call
** checks every element before it allocates; when it fails, the checked loop
** names the argument to blame (or, all being fine, the failure itself). */
#if !defined(L_ARRAYOF_STACK)
#define L_ARRAYOF_STACK 8       /* elements gathered on the C stack */
#endif

static int l_iso_array_of(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "array_of");
  int n = lua_gettop(L) - 1, i;
  sl_local small[L_ARRAYOF_STACK], *elems = small;
  l_local *lo;
  sl_status st;
  uint64_t cb0;
  if (n > L_ARRAYOF_STACK)                    /* at n + 2, after the arguments */
    elems = (sl_local *)lua_newuserdatauv(L, (size_t)n * sizeof *elems, 0);
  for (i = 0; i < n; i++) {
    l_local *v = l_tolocalof(L, i + 2, li);
    if (v != NULL) elems[i] = v->h;
    else if (lua_isnil(L, i + 2)) elems[i] = SL_EMPTY_LOCAL;
    else {                                    /* raises: not a Local of 'li' */
      const l_local *c = l_checklocalof(L, li, i + 2, "array_of", 1);
      elems[i] = c != NULL ? c->h : SL_EMPTY_LOCAL;
    }
  }
  lo = (l_local *)lua_newuserdatauv(L, sizeof *lo, 0);
  l_stilllive(L, li, "array_of");
  li->L = L;
  cb0 = li->cb_total;
  st = sl_array_from(li->iso, (size_t)n, elems, &lo->h);
  if (st != SL_OK) {
    for (i = 2; i <= n + 1; i++) l_checklocalof(L, li, i, "array_of", 1);
    return l_fail(L, li, st, 1, "array_of", NULL);
  }
  l_finishlocal(L, li, 1, lo);
  if (li->cb_total != cb0) l_recheck(L, li, lo, "array_of");
  if (li->watch_pending) l_flushwatch(L, li);
  return 1;
}

/* A live Local at arg 1 (self). */
static l_local *l_self(lua_State *L, const char *op) {
  l_local *lo = l_checklocal(L, 1, op);
  sl_status st = sl_local_check(lo->li->iso, lo->h);
  if (st != SL_OK) l_fail(L, lo->li, st, 1, op, lo);
  return lo;
}

static int l_local_value(lua_State *L) {
  l_local *lo = l_self(L, "value");
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
    default:
      return l_argerror(L, 1, "value", "an array has no Lua value");
  }
}

static int l_local_kind(lua_State *L) {
  l_local *lo = l_self(L, "kind");
  sl_kind k;
  sl_kind_of(lo->li->iso, lo->h, &k);
  lua_pushstring(L, sl_kind_name(k));
  return 1;
}

static int l_local_id(lua_State *L) {
  l_local *lo = l_self(L, "id");
  uint64_t id;
  sl_identity(lo->li->iso, lo->h, &id);
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static int l_local_address(lua_State *L) {
  l_local *lo = l_self(L, "address");
  uintptr_t a;
  sl_address(lo->li->iso, lo->h, &a);
  lua_pushinteger(L, (lua_Integer)a);
  return 1;
}

static const char *l_genname(sl_generation g) {
  return g == SL_OLD ? "old" : "young";
}

static int l_local_generation(lua_State *L) {
  l_local *lo = l_self(L, "generation");
  sl_generation g;
  sl_generation_of(lo->li->iso, lo->h, &g);
  lua_pushstring(L, l_genname(g));
  return 1;
}

static int l_local_is_valid(lua_State *L) {
  l_local *lo = (l_local *)l_testud(L, 1, UP_LOCAL);
  if (lo == NULL) return l_typeerror(L, 1, "is_valid", LOCAL_MT);
  lua_pushboolean(L, lo->li->iso != NULL && sl_local_check(lo->li->iso, lo->h) == SL_OK);
  return 1;
}

/* A 1-based index into array 'lo' at 'arg', returned 0-based. */
static size_t l_checkindex(lua_State *L, l_local *lo, int arg, const char *op) {
  lua_Integer i = l_checkint(L, arg, op);
  size_t n;
  sl_status st = sl_array_length(lo->li->iso, lo->h, &n);
  if (st != SL_OK) l_argerror(L, 1, op, "array expected");
  if (i < 1 || (lua_Unsigned)i > n)
    l_argerror(L, arg, op, lua_pushfstring(L, "index %I out of range 1..%I", i, (lua_Integer)n));
  return (size_t)(i - 1);
}

/* The hot paths of a:get(i) and a:set(i, v) try the core call at once on the
** plain case (a Local of a live isolate, an integer index, a Local of the same
** isolate or nil) and trust its SL_OK, which implies every check below passed;
** anything else, including a failure, takes the checked path, which runs the
** checks in their order and so raises the same message as always. A failed
** core call changes nothing, so running it again there is harmless. */
static int l_local_get_checked(lua_State *L);

static int l_local_get(lua_State *L) {
  l_local *lo = (l_local *)l_testud(L, 1, UP_LOCAL);
  sl_local out;
  if (lo != NULL && lo->li->iso != NULL && lua_isinteger(L, 2) &&
      sl_array_get(lo->li->iso, lo->h, (size_t)lua_tointeger(L, 2) - 1, &out) == SL_OK) {
    if (sl_local_is_empty(out)) { lua_pushnil(L); return 1; }
    l_pushlocalof(L, lo->li, 1, out);
    if (lo->li->watch_pending) l_flushwatch(L, lo->li);
    return 1;
  }
  return l_local_get_checked(L);
}

static int l_local_get_checked(lua_State *L) {
  l_local *lo = l_self(L, "get");
  size_t i = l_checkindex(L, lo, 2, "get");
  sl_local out;
  sl_status st = sl_array_get(lo->li->iso, lo->h, i, &out);
  if (st != SL_OK) return l_fail(L, lo->li, st, 1, "get", lo);
  l_pushlocal(L, lo->li, 1, out);
  return 1;
}

/* a:unpack([i [, j]]): elements i..j (default 1..#a) as new Locals in the
** innermost scope, nil for an empty element, like table.unpack: one call where
** a:get(i) for each would take one method dispatch each. An empty element costs
** no userdata: the core call comes first, as in a:get(i). */
static int l_local_unpack(lua_State *L) {
  int nargs = lua_gettop(L);
  l_local *lo = (l_local *)lua_touserdata(L, 1);
  l_isolate *li;
  size_t n;
  lua_Integer i = 1, j, k;
  /* l_testud by hand, keeping the metatable it fetches for the new Locals */
  if (lo == NULL || lua_rawlen(L, 1) != sizeof *lo || lo->tag != l_tag(UP_LOCAL) ||
      !lua_getmetatable(L, 1) || (lua_rawgeti(L, nargs + 1, 1), !l_isiso(L, -1, lo->li)) ||
      (lua_pop(L, 1), lo->li->iso == NULL) ||
      sl_array_length(lo->li->iso, lo->h, &n) != SL_OK) {
    lua_settop(L, nargs);
    l_self(L, "unpack");                        /* raises unless a live Local */
    return l_argerror(L, 1, "unpack", "array expected");
  }
  li = lo->li;
  j = (lua_Integer)n;
  if (nargs > 1) {
    if (!lua_isnil(L, 2)) i = l_checkint(L, 2, "unpack");
    /* the metatable sits above the arguments: slot 3 is 'j' only if given */
    if (nargs >= 3 && !lua_isnil(L, 3)) j = l_checkint(L, 3, "unpack");
    if (i > j) return 0;                        /* empty range, as table.unpack */
    if (i < 1 || (lua_Unsigned)j > n)
      return l_argerror(L, i < 1 ? 2 : 3, "unpack", lua_pushfstring(L,
                        "range %I..%I out of 1..%I", i, j, (lua_Integer)n));
  }
  if (i > j) return 0;
  if (j - i >= LUA_MINSTACK - 4 &&              /* LUA_MINSTACK slots are always free */
      ((lua_Unsigned)(j - i) >= (lua_Unsigned)(INT_MAX - 4) ||
       !lua_checkstack(L, (int)(j - i + 1) + 2)))
    return luaL_error(L, "too many results to unpack");
  if (nargs > 1) {                              /* 2: the metatable of the new Locals */
    lua_replace(L, 2);
    lua_settop(L, 2);
  }
  for (k = i; k <= j; k++) {
    sl_local h;
    l_local *r;
    sl_status st;
    l_stilllive(L, li, "unpack");               /* a finalizer may have disposed it */
    st = sl_array_get(li->iso, lo->h, (size_t)(k - 1), &h);   /* no collection here */
    if (st != SL_OK) return l_fail(L, li, st, 1, "unpack", lo);
    if (sl_local_is_empty(h)) { lua_pushnil(L); continue; }
    r = (l_local *)lua_newuserdatauv(L, sizeof *r, 0);
    r->h = h;
    l_setlocal(L, li, r, 2);
  }
  if (li->watch_pending) l_flushwatch(L, li);
  return (int)(j - i + 1);
}

static int l_local_set_checked(lua_State *L);

static int l_local_set(lua_State *L) {
  l_local *lo = (l_local *)l_testud(L, 1, UP_LOCAL);
  if (lo != NULL && lo->li->iso != NULL && lua_isinteger(L, 2)) {
    l_local *v = NULL;
    /* the core cannot tell another isolate's Local: check that here */
    if (lua_isnil(L, 3) || (v = l_tolocalof(L, 3, lo->li)) != NULL) {
      if (sl_array_set(lo->li->iso, lo->h, (size_t)lua_tointeger(L, 2) - 1,
                       v ? v->h : SL_EMPTY_LOCAL) == SL_OK)
        return 0;
    }
  }
  return l_local_set_checked(L);
}

static int l_local_set_checked(lua_State *L) {
  l_local *lo = l_self(L, "set");
  size_t i = l_checkindex(L, lo, 2, "set");
  l_local *v = l_checklocalof(L, lo->li, 3, "set", 1);
  sl_status st = sl_array_set(lo->li->iso, lo->h, i, v ? v->h : SL_EMPTY_LOCAL);
  if (st != SL_OK) return l_fail(L, lo->li, st, 3, "set", v);
  return 0;
}

static int l_local_len(lua_State *L) {
  l_local *lo = l_self(L, "__len");
  size_t n;
  if (sl_array_length(lo->li->iso, lo->h, &n) != SL_OK)
    return l_argerror(L, 1, "__len", "array expected");
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* h1 == h2: same object. Handles of different isolates are never equal. */
static int l_local_eq(lua_State *L) {
  l_local *a = (l_local *)l_testud(L, 1, UP_LOCAL);
  l_local *b = (l_local *)l_testud(L, 2, UP_LOCAL);
  int same = 0;
  sl_status st;
  /* Lua calls __eq for any two userdata: anything but two Locals is unequal. */
  if (a == NULL || b == NULL || b->li != a->li) { lua_pushboolean(L, 0); return 1; }
  if (a->li->iso == NULL) return l_argerror(L, 1, "__eq", "handle of a disposed isolate");
  st = sl_same(a->li->iso, a->h, b->h, &same);
  if (st != SL_OK) return l_fail(L, a->li, st, 2, "__eq", b);
  lua_pushboolean(L, same);
  return 1;
}

static int l_local_tostring(lua_State *L) {
  l_local *lo = (l_local *)l_testud(L, 1, UP_LOCAL);
  sl_kind k;
  uint64_t id;
  if (lo == NULL) return l_typeerror(L, 1, "__tostring", LOCAL_MT);
  if (lo->li->iso == NULL)
    lua_pushliteral(L, LOCAL_MT ": (isolate disposed)");
  else if (sl_local_check(lo->li->iso, lo->h) != SL_OK)
    lua_pushfstring(L, LOCAL_MT ": (scope %d, closed)", (int)lo->level);
  else {
    sl_kind_of(lo->li->iso, lo->h, &k);
    sl_identity(lo->li->iso, lo->h, &id);
    lua_pushfstring(L, LOCAL_MT ": %s#%I (scope %d, live)", sl_kind_name(k),
                    (lua_Integer)id, (int)lo->level);
  }
  return 1;
}


/* ================================================================ scopes */

static int l_openscope(lua_State *L, sl_scope_kind kind, const char *op) {
  l_isolate *li = l_checkiso(L, 1, op);
  size_t capacity = 0;
  l_scope *sc;
  sl_status st;
  if (kind == SL_SCOPE_HANDLE && !lua_isnoneornil(L, 2)) {
    lua_Integer c;
    if (!lua_istable(L, 2)) return l_typeerror(L, 2, op, "table");
    lua_getfield(L, 2, "capacity");
    if (!lua_isnil(L, -1)) {
      int isnum;
      c = lua_tointegerx(L, -1, &isnum);
      if (!isnum || c < 1)
        return l_argerror(L, 2, op, "option 'capacity' must be a positive integer");
      capacity = (size_t)c;
    }
    lua_pop(L, 1);
  }
  sc = (l_scope *)lua_newuserdatauv(L, sizeof *sc, 1);
  memset(sc, 0, sizeof *sc);
  sc->tag = l_tag(UP_SCOPE);
  sc->li = li;
  sc->kind = kind;
  sc->capacity = capacity;
  sc->site = l_callsite(L, li, 1);
  l_stilllive(L, li, op);
  switch (kind) {
    case SL_SCOPE_ESCAPABLE: st = sl_escapable_scope_open(li->iso, &sc->s); break;
    case SL_SCOPE_SEAL: st = sl_seal_scope_open(li->iso, &sc->s); break;
    default:
      st = capacity ? sl_scope_open_capacity(li->iso, capacity, &sc->s)
                    : sl_scope_open(li->iso, &sc->s);
  }
  if (st != SL_OK) return l_fail(L, li, st, 1, op, NULL);
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

static int l_iso_handle_scope(lua_State *L) {
  return l_openscope(L, SL_SCOPE_HANDLE, "handle_scope");
}
static int l_iso_escapable_scope(lua_State *L) {
  return l_openscope(L, SL_SCOPE_ESCAPABLE, "escapable_handle_scope");
}
static int l_iso_seal_scope(lua_State *L) {
  return l_openscope(L, SL_SCOPE_SEAL, "seal_handle_scope");
}

static int l_isopen(l_scope *sc) {
  return sc->li->iso != NULL && sl_scope_is_open(&sc->s);
}

static const char *l_scopekind(sl_scope_kind k) {
  switch (k) {
    case SL_SCOPE_ESCAPABLE: return "escapable";
    case SL_SCOPE_SEAL: return "seal";
    default: return "handle";
  }
}

/* Closes every scope opened inside 'sc' (they were leaked: an error unwound
** past them), innermost first. */
static void l_closeinner(l_scope *sc) {
  sl_isolate *iso = sc->li->iso;
  uint32_t d;
  while ((d = sl_scope_depth(iso)) > sl_scope_token_depth(&sc->s)) {
    sl_scope s;
    if (sl_scope_at(iso, d, &s) != SL_OK || sl_scope_close(&s) != SL_OK) break;
  }
}

static void l_scopeclose(lua_State *L, l_scope *sc, const char *op) {
  sl_status st;
  l_isolate *li = sc->li;
  if (!l_isopen(sc)) return;                   /* closing twice is harmless */
  st = sl_scope_close(&sc->s);
  if (st == SL_EORDER) {
    sl_scope_info in;
    uint32_t d = sl_scope_depth(li->iso);
    sl_scope_info_at(li->iso, d, &in);
    l_argerror(L, 1, op, lua_pushfstring(L, "scope %s is not the innermost; "
               "innermost is %s scope %s", l_scopedesc(L, li, sc->level, sc->site),
               l_scopekind(in.kind), l_scopedesc(L, li, in.level, in.site)));
  }
  if (st != SL_OK) l_fail(L, li, st, 1, op, NULL);
  /* scopes close innermost first: the one innermost when 'sc' opened is again */
  li->cur_site = sc->prev_site;
  li->cur_level = sc->prev_level;
}

/* Closing the innermost scope of a live isolate: one core call. Anything else
** (closed already, out of order, inner scopes left open by an error) fails in
** the core without a change and takes the checked path. */
static int l_scope_tryclose(lua_State *L) {
  l_scope *sc = (l_scope *)l_testud(L, 1, UP_SCOPE);
  if (sc != NULL && sc->li->iso != NULL && sl_scope_close(&sc->s) == SL_OK) {
    sc->li->cur_site = sc->prev_site;
    sc->li->cur_level = sc->prev_level;
    return 1;
  }
  return 0;
}

static int l_scope_close(lua_State *L) {
  if (l_scope_tryclose(L)) return 0;
  l_scopeclose(L, l_checkscope(L, 1, "close"), "close");
  return 0;
}

/* __close(self, err): with an error in flight, scopes left open inside this one
** are closed too, so an error never leaves the isolate with open scopes; on a
** normal exit an inner scope still open is an out-of-order close (an error). */
static int l_scope_gcclose(lua_State *L) {
  l_scope *sc;
  if (l_scope_tryclose(L)) return 0;
  sc = l_checkscope(L, 1, "__close");
  if (l_isopen(sc) && !lua_isnoneornil(L, 2)) l_closeinner(sc);
  l_scopeclose(L, sc, "__close");
  return 0;
}

/* Pushes the Local an escape returned: it lives in the parent scope, so it takes
** that scope's site and level, saved when 'sc' opened. */
static void l_pushescaped(lua_State *L, l_scope *sc, sl_local out) {
  l_local *r;
  l_pushlocalof(L, sc->li, 1, out);
  r = (l_local *)lua_touserdata(L, -1);
  if (sl_scope_token_depth(&sc->s) > 1) {
    r->site = sc->prev_site;
    r->level = sc->prev_level;
  }
}

static int l_scope_escape_checked(lua_State *L);

/* s:escape(h) on the plain case (h a Local of the same isolate) tries the core at
** once: its SL_OK means the scope is open, escapable, not yet escaped and h live. */
static int l_scope_escape(lua_State *L) {
  l_scope *sc = (l_scope *)l_testud(L, 1, UP_SCOPE);
  l_local *lo;
  sl_local out;
  if (sc != NULL && sc->li->iso != NULL &&
      (lo = l_tolocalof(L, 2, sc->li)) != NULL &&
      sl_scope_escape(&sc->s, lo->h, &out) == SL_OK && !sl_local_is_empty(out)) {
    l_pushescaped(L, sc, out);
    return 1;
  }
  return l_scope_escape_checked(L);
}

static int l_scope_escape_checked(lua_State *L) {
  l_scope *sc = l_checkscope(L, 1, "escape");
  l_isolate *li = sc->li;
  l_local *lo;
  sl_local out;
  sl_status st;
  if (li->iso == NULL) return l_argerror(L, 1, "escape", "scope of a disposed isolate");
  if (sc->kind != SL_SCOPE_ESCAPABLE)
    return l_argerror(L, 1, "escape", lua_pushfstring(L, "%s scope is not escapable",
                      l_scopekind(sc->kind)));
  if (!sl_scope_is_open(&sc->s))
    return l_argerror(L, 1, "escape", lua_pushfstring(L, "escapable scope %s is closed",
                      l_scopedesc(L, li, sc->level, sc->site)));
  lo = l_checklocalof(L, li, 2, "escape", 1);
  st = sl_scope_escape(&sc->s, lo ? lo->h : SL_EMPTY_LOCAL, &out);
  if (st == SL_EESCAPE)  /* open, escapable and 'lo' live: only a second escape is left */
    return l_argerror(L, 1, "escape", lua_pushfstring(L, "escapable scope %s has already "
                      "escaped a value", l_scopedesc(L, li, sc->level, sc->site)));
  if (st != SL_OK) return l_fail(L, li, st, 1, "escape", NULL);
  if (sl_local_is_empty(out)) { lua_pushnil(L); return 1; }
  l_pushescaped(L, sc, out);
  return 1;
}

static int l_scope_is_open(lua_State *L) {
  lua_pushboolean(L, l_isopen(l_checkscope(L, 1, "is_open")));
  return 1;
}

static int l_scope_kind(lua_State *L) {
  lua_pushstring(L, l_scopekind(l_checkscope(L, 1, "kind")->kind));
  return 1;
}

static int l_scope_level(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)l_checkscope(L, 1, "level")->level);
  return 1;
}

static int l_scope_depth(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)sl_scope_token_depth(&l_checkscope(L, 1, "depth")->s));
  return 1;
}

static int l_scope_site(lua_State *L) {
  l_scope *sc = l_checkscope(L, 1, "site");
  lua_getiuservalue(L, 1, UV_ISO);
  l_pushsite(L, lua_gettop(L), sc->site);
  return 1;
}

static int l_scope_handles(lua_State *L) {
  l_scope *sc = l_checkscope(L, 1, "handles");
  sl_scope_info in;
  if (!l_isopen(sc)) return l_argerror(L, 1, "handles", "scope is closed");
  sl_scope_info_at(sc->li->iso, sl_scope_token_depth(&sc->s), &in);
  lua_pushinteger(L, (lua_Integer)in.handles);
  return 1;
}

static int l_scope_tostring(lua_State *L) {
  l_scope *sc = l_checkscope(L, 1, "__tostring");
  const char *where;
  lua_getiuservalue(L, 1, UV_ISO);
  l_pushsite(L, lua_gettop(L), sc->site);
  where = lua_isnil(L, -1) ? "?" : lua_tostring(L, -1);
  if (l_isopen(sc)) {
    sl_scope_info in;
    sl_scope_info_at(sc->li->iso, sl_scope_token_depth(&sc->s), &in);
    lua_pushfstring(L, SCOPE_MT ": %s scope level %d opened at %s (open, %d handles)",
                    l_scopekind(sc->kind), (int)sc->level, where, (int)in.handles);
  } else {
    lua_pushfstring(L, SCOPE_MT ": %s scope level %d opened at %s (closed)",
                    l_scopekind(sc->kind), (int)sc->level, where);
  }
  return 1;
}

static int l_iso_number_of_handles(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "number_of_handles");
  lua_pushinteger(L, (lua_Integer)sl_number_of_handles(li->iso));
  return 1;
}


/* ================================================================ persistent */

static int l_newpers(lua_State *L, int type, const char *op) {
  l_isolate *li = l_checkiso(L, 1, op);
  l_local *lo = l_checklocalof(L, li, 2, op, type != P_REFERENCE);
  lua_Integer count = 0;
  l_persistent *lp;
  sl_status st;
  if (type == P_REFERENCE) {
    count = lua_isnoneornil(L, 3) ? 0 : l_checkint(L, 3, op);
    if (count < 0)
      return l_argerror(L, 3, op, lua_pushfstring(L, "count must be non-negative, got %I",
                        count));
  }
  lp = (l_persistent *)lua_newuserdatauv(L, sizeof *lp, 2);
  memset(lp, 0, sizeof *lp);
  lp->tag = l_tag(type == P_REFERENCE ? UP_REFERENCE : UP_PERSISTENT);
  lp->li = li;
  lp->type = type;
  lp->count = count;
  lp->site = l_callsite(L, li, 1);
  l_stilllive(L, li, op);
  st = sl_persistent_new(li->iso, lo ? lo->h : SL_EMPTY_LOCAL, &lp->p);
  if (st != SL_OK) return l_fail(L, li, st, 2, op, lo);
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

static int l_iso_persistent(lua_State *L) { return l_newpers(L, P_PLAIN, "persistent"); }
static int l_iso_global(lua_State *L) { return l_newpers(L, P_GLOBAL, "global"); }
static int l_iso_reference(lua_State *L) { return l_newpers(L, P_REFERENCE, "reference"); }

/* Drops the entry that keeps a weak persistent and its callback alive. */
static void l_unregister(lua_State *L, l_persistent *lp) {
  if (l_pushiso(L, lp->li)) {
    lua_getiuservalue(L, -1, UV_WEAK);
    lua_pushnil(L);
    lua_rawsetp(L, -2, lp);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void l_persdelete(lua_State *L, l_persistent *lp) {
  if (lp->deleted || lp->li->iso == NULL) return;
  l_unregister(L, lp);
  sl_persistent_delete(lp->li->iso, lp->p);
  lp->deleted = 1;
}

static int l_pers_get(lua_State *L) {
  l_persistent *lp = l_checkpers(L, 1, "get");
  sl_local out;
  sl_status st = sl_persistent_get(lp->li->iso, lp->p, &out);
  if (st != SL_OK) return l_fail(L, lp->li, st, 1, "get", NULL);
  l_pushlocal(L, lp->li, 1, out);
  return 1;
}

static int l_pers_reset(lua_State *L) {
  l_persistent *lp = l_checkpers(L, 1, "reset");
  l_local *lo = l_checklocalof(L, lp->li, 2, "reset", 1);
  sl_status st = sl_persistent_reset(lp->li->iso, lp->p, lo ? lo->h : SL_EMPTY_LOCAL);
  if (st != SL_OK) return l_fail(L, lp->li, st, 2, "reset", lo);
  l_unregister(L, lp);                         /* Reset makes it strong again */
  return 0;
}

static int l_pers_is_empty(lua_State *L) {
  l_persistent *lp = l_checkpers(L, 1, "is_empty");
  int e = 1;
  sl_persistent_is_empty(lp->li->iso, lp->p, &e);
  lua_pushboolean(L, e);
  return 1;
}

static int l_tostring_body(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  return 1;
}

/* The C weak callback. It may run inside an allocation or a collection, deep in
** the core: everything that touches Lua (and could raise, even for memory) runs
** under lua_pcall in l_weak_body. */
static int l_weak_body(lua_State *L) {
  l_persistent *lp = (l_persistent *)lua_touserdata(L, 1);
  l_isolate *li = lp->li;
  int iso, rc;
  const char *err = NULL;
  if (!l_pushiso(L, li)) return 0;
  iso = lua_gettop(L);
  lua_getiuservalue(L, iso, UV_WEAK);
  if (lua_rawgetp(L, -1, lp) != LUA_TUSERDATA) return 0;   /* cleared meanwhile */
  /* unregister before the call: the callback may make p weak again */
  lua_pushnil(L);
  lua_rawsetp(L, -3, lp);
  if (li->cb_collection != li->collections) {
    li->cb_collection = li->collections;
    li->cb_order = 0;
  }
  li->cb_order++;
  li->cb_total++;
  lua_getiuservalue(L, -1, UV_CALLBACK);
  lua_pushvalue(L, -2);
  rc = lua_pcall(L, 1, 0, 0);
  li->L = L;                                   /* nested calls may have changed it */
  if (rc != LUA_OK) {
    li->cb_errors++;
    /* the error object's own __tostring may fail too: convert it under pcall */
    lua_pushcfunction(L, l_tostring_body);
    lua_pushvalue(L, -2);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1));
    }
    err = lua_tostring(L, -1);
    l_warn(L, li, lua_pushfstring(L, "scopelab: error in weak callback: %s", err));
  }
  if (li->record_weak) {
    lua_getiuservalue(L, iso, UV_WEAKLOG);
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, iso + 2);                 /* the Persistent */
    lua_setfield(L, -2, "handle");
    lua_pushinteger(L, (lua_Integer)li->collections);
    lua_setfield(L, -2, "collection");
    lua_pushinteger(L, (lua_Integer)li->cb_order);
    lua_setfield(L, -2, "order");
    if (err) { lua_pushstring(L, err); lua_setfield(L, -2, "error"); }
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  }
  return 0;
}

static void l_weak_cb(sl_isolate *iso, sl_persistent p, void *param) {
  l_persistent *lp = (l_persistent *)param;
  l_isolate *li = lp->li;                      /* 'lp' may be garbage after the call */
  lua_State *L = li->L;
  int top;
  (void)iso; (void)p;
  if (L == NULL || !lua_checkstack(L, 4)) return;
  top = lua_gettop(L);
  lua_pushcfunction(L, l_weak_body);
  lua_pushlightuserdata(L, lp);
  (void)lua_pcall(L, 1, 0, 0);
  li->L = L;
  lua_settop(L, top);
}

static int l_pers_set_weak(lua_State *L) {
  l_persistent *lp = l_checkpers(L, 1, "set_weak");
  l_isolate *li = lp->li;
  int hascb = !lua_isnoneornil(L, 2);
  sl_status st;
  if (hascb && lua_type(L, 2) != LUA_TFUNCTION)
    return l_typeerror(L, 2, "set_weak", "function");
  l_unregister(L, lp);
  if (hascb) {
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 1, UV_CALLBACK);
    lua_getiuservalue(L, 1, UV_ISO);
    lua_getiuservalue(L, -1, UV_WEAK);
    lua_pushvalue(L, 1);
    lua_rawsetp(L, -2, lp);
    lua_pop(L, 2);
  }
  st = sl_persistent_set_weak(li->iso, lp->p, hascb ? l_weak_cb : NULL, hascb ? lp : NULL);
  if (st != SL_OK) { l_unregister(L, lp); return l_fail(L, li, st, 1, "set_weak", NULL); }
  return 0;
}

static int l_pers_clear_weak(lua_State *L) {
  l_persistent *lp = l_checkpers(L, 1, "clear_weak");
  void *param = NULL;
  sl_status st = sl_persistent_clear_weak(lp->li->iso, lp->p, &param);
  if (st != SL_OK) return l_fail(L, lp->li, st, 1, "clear_weak", NULL);
  l_unregister(L, lp);
  return 0;
}

static int l_pers_is_weak(lua_State *L) {
  l_persistent *lp = l_checkpers(L, 1, "is_weak");
  int w = 0;
  sl_persistent_is_weak(lp->li->iso, lp->p, &w);
  lua_pushboolean(L, w);
  return 1;
}

static int l_pers_is_global(lua_State *L) {
  l_persistent *lp = (l_persistent *)l_testud(L, 1, UP_PERSISTENT);
  if (lp == NULL) return l_typeerror(L, 1, "is_global", PERSISTENT_MT);
  lua_pushboolean(L, lp->type == P_GLOBAL);
  return 1;
}

static int l_pers_site(lua_State *L) {
  l_persistent *lp = (l_persistent *)lua_touserdata(L, 1);
  if (!l_testud(L, 1, UP_PERSISTENT) && !l_testud(L, 1, UP_REFERENCE))
    return l_typeerror(L, 1, "site", PERSISTENT_MT);
  lua_getiuservalue(L, 1, UV_ISO);
  l_pushsite(L, lua_gettop(L), lp->site);
  return 1;
}

static int l_pers_delete(lua_State *L) {
  l_persdelete(L, l_checkpers(L, 1, "delete"));
  return 0;
}

/* __gc/__close of a plain persistent (V8's Persistent): the node is freed only if
** it is empty, so a persistent dropped without reset() keeps its object: the
** classic leak, on purpose. A global (V8's Global) always frees its node. */
static int l_pers_gc(lua_State *L) {
  l_persistent *lp = (l_persistent *)l_testud(L, 1, UP_PERSISTENT);
  int empty = 0;
  if (lp == NULL || lp->deleted || lp->li->iso == NULL) return 0;
  if (lp->type == P_GLOBAL ||
      (sl_persistent_is_empty(lp->li->iso, lp->p, &empty) == SL_OK && empty))
    l_persdelete(L, lp);
  return 0;
}

static int l_pers_eq(lua_State *L) {
  l_persistent *a = (l_persistent *)lua_touserdata(L, 1);
  l_persistent *b = (l_persistent *)lua_touserdata(L, 2);
  lua_pushboolean(L, a && b && l_testud(L, 1, UP_PERSISTENT) && l_testud(L, 2, UP_PERSISTENT)
                  && a->p.node == b->p.node && a->p.serial == b->p.serial);
  return 1;
}

static int l_pers_tostring(lua_State *L) {
  l_persistent *lp = (l_persistent *)lua_touserdata(L, 1);
  int isref = l_testud(L, 1, UP_REFERENCE) != NULL;
  const char *name = isref ? REFERENCE_MT : PERSISTENT_MT;
  const char *type, *where;
  if (!isref && !l_testud(L, 1, UP_PERSISTENT))
    return l_typeerror(L, 1, "__tostring", PERSISTENT_MT);
  type = isref ? "reference" : lp->type == P_GLOBAL ? "global" : "persistent";
  lua_getiuservalue(L, 1, UV_ISO);
  l_pushsite(L, lua_gettop(L), lp->site);
  where = lua_isnil(L, -1) ? "?" : lua_tostring(L, -1);
  if (lp->li->iso == NULL)
    lua_pushfstring(L, "%s: %s (isolate disposed)", name, type);
  else if (lp->deleted)
    lua_pushfstring(L, "%s: %s (deleted)", name, type);
  else {
    int empty = 1, weak = 0;
    sl_persistent_is_empty(lp->li->iso, lp->p, &empty);
    sl_persistent_is_weak(lp->li->iso, lp->p, &weak);
    if (isref)
      lua_pushfstring(L, "%s: %s created at %s (%s, count %I)", name, type, where,
                      empty ? "empty" : weak ? "weak" : "strong", lp->count);
    else
      lua_pushfstring(L, "%s: %s created at %s (%s)", name, type, where,
                      empty ? "empty" : weak ? "weak" : "strong");
  }
  return 1;
}

/* ---------------------------------------------------------------- references */

static int l_ref_ref(lua_State *L) {
  l_persistent *lp = l_checkref(L, 1, "ref");
  if (lp->count == 0) {
    void *param;
    sl_status st = sl_persistent_clear_weak(lp->li->iso, lp->p, &param);
    if (st != SL_OK) return l_fail(L, lp->li, st, 1, "ref", NULL);
  }
  lua_pushinteger(L, ++lp->count);
  return 1;
}

static int l_ref_unref(lua_State *L) {
  l_persistent *lp = l_checkref(L, 1, "unref");
  if (lp->count == 0) return l_argerror(L, 1, "unref", "reference count is already 0");
  if (lp->count == 1) {
    int empty = 0;
    sl_status st = sl_persistent_is_empty(lp->li->iso, lp->p, &empty);
    if (st == SL_OK && !empty)                 /* an empty node has nothing to hold */
      st = sl_persistent_set_weak(lp->li->iso, lp->p, NULL, NULL);
    if (st != SL_OK) return l_fail(L, lp->li, st, 1, "unref", NULL);
  }
  lua_pushinteger(L, --lp->count);
  return 1;
}

static int l_ref_count(lua_State *L) {
  lua_pushinteger(L, l_checkref(L, 1, "count")->count);
  return 1;
}

static int l_ref_is_empty(lua_State *L) {
  l_persistent *lp = l_checkref(L, 1, "is_empty");
  int e = 1;
  sl_persistent_is_empty(lp->li->iso, lp->p, &e);
  lua_pushboolean(L, e);
  return 1;
}

static int l_ref_get(lua_State *L) {
  l_persistent *lp = l_checkref(L, 1, "get");
  sl_local out;
  sl_status st = sl_persistent_get(lp->li->iso, lp->p, &out);
  if (st != SL_OK) return l_fail(L, lp->li, st, 1, "get", NULL);
  l_pushlocal(L, lp->li, 1, out);
  return 1;
}

static int l_ref_delete(lua_State *L) {
  l_persdelete(L, l_checkref(L, 1, "delete"));
  return 0;
}

static int l_ref_is_deleted(lua_State *L) {
  l_persistent *lp = (l_persistent *)l_testud(L, 1, UP_REFERENCE);
  if (lp == NULL) return l_typeerror(L, 1, "is_deleted", REFERENCE_MT);
  lua_pushboolean(L, lp->deleted || lp->li->iso == NULL);
  return 1;
}

/* A reference dropped without delete() leaks its node, as in Node-API; only an
** empty node (its object collected, or never set) is freed. */
static int l_ref_gc(lua_State *L) {
  l_persistent *lp = (l_persistent *)l_testud(L, 1, UP_REFERENCE);
  int empty = 0;
  if (lp == NULL || lp->deleted || lp->li->iso == NULL) return 0;
  if (sl_persistent_is_empty(lp->li->iso, lp->p, &empty) == SL_OK && empty)
    l_persdelete(L, lp);
  return 0;
}

static int l_ref_eq(lua_State *L) {
  l_persistent *a = (l_persistent *)l_testud(L, 1, UP_REFERENCE);
  l_persistent *b = (l_persistent *)l_testud(L, 2, UP_REFERENCE);
  lua_pushboolean(L, a && b && a->p.node == b->p.node && a->p.serial == b->p.serial);
  return 1;
}


/* ================================================================ eternal */

static int l_iso_eternal(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "eternal");
  l_local *lo = l_checklocalof(L, li, 2, "eternal", 0);
  size_t index;
  sl_status st = sl_eternal_new(li->iso, lo->h, &index);
  if (st != SL_OK) return l_fail(L, li, st, 2, "eternal", lo);
  lua_pushinteger(L, (lua_Integer)index + 1);  /* 1-based, as Lua indices are */
  return 1;
}

static int l_iso_eternal_get(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "eternal_get");
  lua_Integer i = l_checkint(L, 2, "eternal_get");
  size_t n = sl_eternal_count(li->iso);
  sl_local out;
  sl_status st;
  if (i < 1 || (lua_Unsigned)i > n)
    return l_argerror(L, 2, "eternal_get", lua_pushfstring(L, "no eternal handle %I "
                      "(there are %I)", i, (lua_Integer)n));
  st = sl_eternal_get(li->iso, (size_t)(i - 1), &out);
  if (st != SL_OK) return l_fail(L, li, st, 1, "eternal_get", NULL);
  l_pushlocal(L, li, 1, out);
  return 1;
}


/* ================================================================ probes */

static int l_iso_probe(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "probe");
  l_local *lo = l_checklocalof(L, li, 2, "probe", 0);
  l_probe *pr = (l_probe *)lua_newuserdatauv(L, sizeof *pr, 1);
  sl_status st;
  memset(pr, 0, sizeof *pr);
  pr->tag = l_tag(UP_PROBE);
  pr->li = li;
  l_stilllive(L, li, "probe");
  st = sl_probe_new(li->iso, lo->h, &pr->p);
  if (st != SL_OK) return l_fail(L, li, st, 2, "probe", lo);
  lua_pushvalue(L, lua_upvalueindex(UP_PROBE));
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, UV_ISO);
  return 1;
}

static sl_probe_info l_probeinfo(lua_State *L, const char *op) {
  l_probe *pr = l_checkprobe(L, 1, op);
  sl_probe_info in;
  sl_status st = sl_probe_info_of(pr->li->iso, pr->p, &in);
  if (st != SL_OK) l_fail(L, pr->li, st, 1, op, NULL);
  return in;
}

static int l_probe_alive(lua_State *L) {
  lua_pushboolean(L, l_probeinfo(L, "alive").alive);
  return 1;
}

static int l_probe_address(lua_State *L) {
  sl_probe_info in = l_probeinfo(L, "address");
  if (in.alive) lua_pushinteger(L, (lua_Integer)in.address); else lua_pushnil(L);
  return 1;
}

static int l_probe_moves(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)l_probeinfo(L, "moves").moves);
  return 1;
}

static int l_probe_id(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)l_probeinfo(L, "id").id);
  return 1;
}

static int l_probe_kind(lua_State *L) {
  lua_pushstring(L, sl_kind_name(l_probeinfo(L, "kind").kind));
  return 1;
}

static int l_probe_generation(lua_State *L) {
  sl_probe_info in = l_probeinfo(L, "generation");
  if (in.alive) lua_pushstring(L, l_genname(in.generation)); else lua_pushnil(L);
  return 1;
}

static int l_probe_get(lua_State *L) {
  l_probe *pr = l_checkprobe(L, 1, "get");
  sl_local out;
  sl_status st = sl_probe_get(pr->li->iso, pr->p, &out);
  if (st != SL_OK) return l_fail(L, pr->li, st, 1, "get", NULL);
  l_pushlocal(L, pr->li, 1, out);
  return 1;
}

static void l_probedelete(l_probe *pr) {
  if (!pr->deleted && pr->li->iso != NULL) sl_probe_delete(pr->li->iso, pr->p);
  pr->deleted = 1;
}

static int l_probe_delete(lua_State *L) {
  l_probedelete(l_checkprobe(L, 1, "delete"));
  return 0;
}

/* A probe only observes: once Lua forgets it, its node is useless. */
static int l_probe_gc(lua_State *L) {
  l_probe *pr = (l_probe *)l_testud(L, 1, UP_PROBE);
  if (pr) l_probedelete(pr);
  return 0;
}

static int l_probe_eq(lua_State *L) {
  l_probe *a = (l_probe *)l_testud(L, 1, UP_PROBE);
  l_probe *b = (l_probe *)l_testud(L, 2, UP_PROBE);
  lua_pushboolean(L, a && b && a->p.node == b->p.node && a->p.serial == b->p.serial);
  return 1;
}

static int l_probe_tostring(lua_State *L) {
  l_probe *pr = (l_probe *)l_testud(L, 1, UP_PROBE);
  sl_probe_info in;
  if (pr == NULL) return l_typeerror(L, 1, "__tostring", PROBE_MT);
  if (pr->li->iso == NULL) lua_pushliteral(L, PROBE_MT ": (isolate disposed)");
  else if (pr->deleted) lua_pushliteral(L, PROBE_MT ": (deleted)");
  else if (sl_probe_info_of(pr->li->iso, pr->p, &in) != SL_OK)
    lua_pushliteral(L, PROBE_MT ": (invalid)");
  else if (in.alive)
    lua_pushfstring(L, PROBE_MT ": %s#%I (alive, %s, moved %I times)", sl_kind_name(in.kind),
                    (lua_Integer)in.id, l_genname(in.generation), (lua_Integer)in.moves);
  else
    lua_pushfstring(L, PROBE_MT ": %s#%I (dead)", sl_kind_name(in.kind), (lua_Integer)in.id);
  return 1;
}


/* ================================================================ collection */

#define setint(L, name, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, name))

static void l_pushgcstats(lua_State *L, const sl_gc_stats *s, uint64_t errors) {
  lua_createtable(L, 0, 14);
  lua_pushstring(L, s->kind == SL_MINOR ? "minor" : "major");
  lua_setfield(L, -2, "kind");
  setint(L, "number", s->number);
  setint(L, "moved", s->moved);
  setint(L, "promoted", s->promoted);
  setint(L, "survived", s->survived);
  setint(L, "freed_bytes", s->freed_bytes);
  setint(L, "bytes_before", s->bytes_before);
  setint(L, "bytes_after", s->bytes_after);
  setint(L, "handles_scanned", s->handles_scanned);
  setint(L, "nodes_scanned", s->nodes_scanned);
  setint(L, "weak_cleared", s->weak_cleared);
  setint(L, "callbacks_run", s->callbacks_run);
  setint(L, "callback_errors", errors);
  setint(L, "duration_ns", s->duration_ns);
}

static int l_iso_collect(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "collect");
  const char *kind = lua_isnoneornil(L, 2) ? "major" : lua_tostring(L, 2);
  int kinds;
  uint64_t errs = li->cb_errors;
  sl_gc_stats gs;
  sl_status st;
  if (lua_type(L, 2) != LUA_TSTRING && !lua_isnoneornil(L, 2))
    return l_typeerror(L, 2, "collect", "string");
  if (strcmp(kind, "minor") == 0) kinds = SL_MINOR;
  else if (strcmp(kind, "major") == 0) kinds = SL_MAJOR;
  else if (strcmp(kind, "full") == 0) kinds = SL_MINOR | SL_MAJOR;
  else
    return l_argerror(L, 2, "collect", lua_pushfstring(L, "invalid kind '%s' (expected "
                      "'minor', 'major' or 'full')", kind));
  memset(&gs, 0, sizeof gs);
  li->L = L;
  st = sl_collect(li->iso, kinds, &gs);
  if (st != SL_OK) return l_fail(L, li, st, 1, "collect", NULL);
  l_pushgcstats(L, &gs, li->cb_errors - errs);
  return 1;
}

static int l_iso_stats(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "stats");
  sl_heap_stats s;
  sl_heap_stats_of(li->iso, &s);
  lua_createtable(L, 0, 24);
  setint(L, "handles", s.handles);
  setint(L, "scope_level", s.scope_level);
  setint(L, "scope_depth", s.scope_depth);
  setint(L, "blocks", s.blocks);
  setint(L, "spare_blocks", s.spare_blocks);
  setint(L, "block_size", s.block_size);
  setint(L, "young_used", s.young_used);
  setint(L, "young_size", s.young_size);
  setint(L, "old_used", s.old_used);
  setint(L, "old_size", s.old_size);
  setint(L, "persistent_handles", s.persistent_handles);
  setint(L, "weak_handles", s.weak_handles);
  setint(L, "probes", s.probes);
  setint(L, "eternal_handles", s.eternal_handles);
  setint(L, "remembered", s.remembered);
  setint(L, "minor_collections", s.minor_collections);
  setint(L, "major_collections", s.major_collections);
  setint(L, "collections", s.minor_collections + s.major_collections);
  setint(L, "allocations", s.allocations);
  setint(L, "bytes_allocated", s.bytes_allocated);
  setint(L, "objects_moved", s.objects_moved);
  setint(L, "weak_callbacks_run", s.weak_callbacks_run);
  setint(L, "callback_errors", li->cb_errors);
  return 1;
}

static int l_iso_verify(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "verify");
  sl_status st = sl_verify_heap(li->iso);
  if (st != SL_OK) return l_fail(L, li, st, 1, "verify", NULL);
  lua_pushboolean(L, 1);
  return 1;
}

/* The gc hook may not call the API nor Lua: it counts and traces only. */
static void l_gc_hook(sl_isolate *iso, const sl_gc_stats *s, void *ud) {
  l_isolate *li = (l_isolate *)ud;
  (void)iso;
  li->collections = s->number;
  if (li->trace_gc)
    fprintf(stderr, "[scopelab %p] #%llu %s: %.3f ms, %lu -> %lu bytes, moved %lu, "
            "promoted %lu, handles scanned %lu, weak cleared %lu\n", (void *)li,
            (unsigned long long)s->number, s->kind == SL_MINOR ? "Scavenge" : "Mark-Compact",
            (double)s->duration_ns / 1e6, (unsigned long)s->bytes_before,
            (unsigned long)s->bytes_after, (unsigned long)s->moved,
            (unsigned long)s->promoted, (unsigned long)s->handles_scanned,
            (unsigned long)s->weak_cleared);
}

static void l_move_hook(sl_isolate *iso, uint64_t id, uintptr_t from, uintptr_t to,
                        uint64_t collection, void *ud) {
  l_isolate *li = (l_isolate *)ud;
  (void)iso;
  if (li->nmoves == li->capmoves) {
    size_t cap = li->capmoves ? 2 * li->capmoves : 256;
    l_move *m = (l_move *)realloc(li->moves, cap * sizeof *m);
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
  l_isolate *li = (l_isolate *)ud;
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
    default: return "?";
  }
}

/* The identity of a Local, Persistent, Reference or Probe at 'arg' (0: none). */
static uint64_t l_idof(lua_State *L, l_isolate *li, int arg, const char *op) {
  uint64_t id = 0;
  if (l_testud(L, arg, UP_PROBE)) {
    l_probe *pr = l_checkprobe(L, arg, op);
    sl_probe_info in;
    if (sl_probe_info_of(li->iso, pr->p, &in) == SL_OK && in.alive) id = in.id;
  } else if (l_testud(L, arg, UP_PERSISTENT) || l_testud(L, arg, UP_REFERENCE)) {
    l_persistent *lp = (l_persistent *)lua_touserdata(L, arg);
    sl_scope tmp;
    sl_local h;
    if (lp->li != li) l_argerror(L, arg, op, "handle from another isolate");
    if (lp->deleted) l_argerror(L, arg, op, "persistent handle is deleted");
    /* a Local needs a scope: open one just for the look-up */
    if (sl_scope_open(li->iso, &tmp) != SL_OK) return 0;
    if (sl_persistent_get(li->iso, lp->p, &h) == SL_OK && !sl_local_is_empty(h))
      sl_identity(li->iso, h, &id);
    sl_scope_close(&tmp);
  } else if (l_testud(L, arg, UP_LOCAL)) {
    l_local *lo = l_checklocalof(L, li, arg, op, 0);
    sl_identity(li->iso, lo->h, &id);
  } else {
    l_typeerror(L, arg, op, "scopelab handle");
  }
  return id;
}

static int l_path_tostring(lua_State *L) {
  luaL_Buffer b;
  lua_Integer i, n;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_buffinit(L, &b);
  lua_getfield(L, 1, "root");
  lua_getfield(L, -1, "kind");
  lua_getfield(L, -2, "site");
  lua_getfield(L, -3, "level");
  lua_getfield(L, -4, "index");
  {
    const char *k = lua_tostring(L, -4);
    const char *site = lua_tostring(L, -3);
    lua_Integer level = lua_tointeger(L, -2), idx = lua_tointeger(L, -1);
    if (k && strcmp(k, "local") == 0)
      lua_pushfstring(L, site ? "local (scope %I, opened at %s)" : "local (scope %I)",
                      level, site);
    else if (k && strcmp(k, "persistent") == 0)
      lua_pushfstring(L, site ? "persistent #%I (created at %s)" : "persistent #%I",
                      idx, site);
    else if (k && strcmp(k, "eternal") == 0)
      lua_pushfstring(L, "eternal #%I", idx);
    else
      lua_pushfstring(L, "%s", k ? k : "?");
  }
  lua_replace(L, -6);
  lua_pop(L, 4);
  luaL_addvalue(&b);
  lua_getfield(L, 1, "steps");
  n = (lua_Integer)lua_rawlen(L, -1);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    lua_getfield(L, -1, "index");
    if (i > 1 && !lua_isnil(L, -1)) {
      lua_pushfstring(L, "[%I]", lua_tointeger(L, -1));
      lua_remove(L, -2);
    } else {
      lua_pop(L, 1);
      lua_pushliteral(L, "");
    }
    lua_getfield(L, -2, "kind");
    lua_getfield(L, -3, "id");
    lua_pushfstring(L, "%s -> %s#%I", lua_tostring(L, -3), lua_tostring(L, -2),
                    lua_tointeger(L, -1));
    lua_replace(L, -5);
    lua_pop(L, 3);
    /* stack: ..., steps, piece; luaL_Buffer wants the piece on top */
    luaL_addvalue(&b);
  }
  lua_pop(L, 1);
  luaL_pushresult(&b);
  return 1;
}

static void l_pushroot(lua_State *L, int isoidx, const sl_root_info *r) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, l_rootkind(r->kind));
  lua_setfield(L, -2, "kind");
  if (r->kind == SL_ROOT_LOCAL) {
    setint(L, "level", r->level);
    setint(L, "depth", r->depth);
    setint(L, "index", r->index + 1);
  } else if (r->kind == SL_ROOT_ETERNAL) {
    setint(L, "index", r->index + 1);
  } else {
    setint(L, "index", r->index);
  }
  if (r->kind == SL_ROOT_LOCAL || r->kind == SL_ROOT_PERSISTENT) {
    l_pushsite(L, isoidx, r->site);
    lua_setfield(L, -2, "site");
  }
}

static int l_iso_retainers(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "retainers");
  uint64_t id = l_idof(L, li, 2, "retainers");
  sl_path path;
  size_t i;
  memset(&path, 0, sizeof path);
  if (id == 0 || sl_retaining_path(li->iso, id, &path) != SL_OK) {
    sl_path_free(&path);
    lua_pushnil(L);
    return 1;
  }
  /* copy the path into Lua-owned memory first, so no Lua error leaks it */
  {
    size_t n = path.n;
    sl_root_info root = path.root;
    sl_object_info *st = (sl_object_info *)lua_newuserdatauv(L, n * sizeof *st + 1, 0);
    size_t *ix = (size_t *)lua_newuserdatauv(L, n * sizeof *ix + 1, 0);
    int bufs = lua_gettop(L);
    memcpy(st, path.steps, n * sizeof *st);
    memcpy(ix, path.index, n * sizeof *ix);
    sl_path_free(&path);
    lua_createtable(L, 0, 2);
    l_pushroot(L, 1, &root);
    lua_setfield(L, -2, "root");
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
      lua_createtable(L, 0, 4);
      setint(L, "id", st[i].id);
      lua_pushstring(L, sl_kind_name(st[i].kind));
      lua_setfield(L, -2, "kind");
      lua_pushstring(L, l_genname(st[i].generation));
      lua_setfield(L, -2, "generation");
      if (i > 0) setint(L, "index", ix[i] + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "steps");
    lua_pushvalue(L, lua_upvalueindex(UP_PATH));
    lua_setmetatable(L, -2);
    lua_replace(L, bufs - 1);
    lua_settop(L, bufs - 1);
  }
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

typedef struct l_rootcount { size_t n[5]; } l_rootcount;

static int l_countroot(const sl_root_info *r, const sl_object_info *o, void *ud) {
  (void)o;
  if (r->kind >= 1 && r->kind <= 4) ((l_rootcount *)ud)->n[r->kind]++;
  return 0;
}

static int l_iso_snapshot(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "snapshot");
  l_objbuf b = { NULL, 0, 0 };
  l_rootcount rc;
  size_t i, bytes = 0;
  int k;
  sl_heap_foreach(li->iso, l_countobj, &b);
  b.cap = b.n;
  b.o = (sl_object_info *)lua_newuserdatauv(L, b.cap * sizeof *b.o + 1, 0);
  b.n = 0;
  sl_heap_foreach(li->iso, l_fillobj, &b);
  memset(&rc, 0, sizeof rc);
  sl_roots_foreach(li->iso, l_countroot, &rc);
  lua_createtable(L, 0, 4);
  lua_createtable(L, (int)b.n, 0);
  for (i = 0; i < b.n; i++) {
    lua_createtable(L, 0, 4);
    setint(L, "id", b.o[i].id);
    lua_pushstring(L, sl_kind_name(b.o[i].kind));
    lua_setfield(L, -2, "kind");
    setint(L, "size", b.o[i].size);
    lua_pushstring(L, l_genname(b.o[i].generation));
    lua_setfield(L, -2, "generation");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
    bytes += b.o[i].size;
  }
  lua_setfield(L, -2, "objects");
  lua_createtable(L, 0, 4);
  for (k = 1; k <= 4; k++) setint(L, l_rootkind((sl_root_kind)k), rc.n[k]);
  lua_setfield(L, -2, "roots");
  setint(L, "count", b.n);
  setint(L, "bytes", bytes);
  return 1;
}

static int l_iso_handle_report(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "handle_report");
  uint32_t d, n = sl_scope_depth(li->iso);
  lua_createtable(L, (int)n, 0);
  for (d = 1; d <= n; d++) {
    sl_scope_info in;
    if (sl_scope_info_at(li->iso, d, &in) != SL_OK) continue;
    lua_createtable(L, 0, 7);
    lua_pushstring(L, l_scopekind(in.kind));
    lua_setfield(L, -2, "kind");
    setint(L, "level", in.level);
    setint(L, "depth", in.depth);
    setint(L, "handles", in.handles);
    setint(L, "capacity", in.capacity);
    lua_pushboolean(L, in.escaped);
    lua_setfield(L, -2, "escaped");
    l_pushsite(L, 1, in.site);
    lua_setfield(L, -2, "site");
    lua_rawseti(L, -2, (lua_Integer)d);
  }
  return 1;
}

static int l_iso_watch_handles(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "watch_handles");
  lua_Integer n = lua_isnoneornil(L, 2) ? 0 : l_checkint(L, 2, "watch_handles");
  if (n < 0)
    return l_argerror(L, 2, "watch_handles", lua_pushfstring(L, "threshold must be "
                      "non-negative, got %I", n));
  li->watch_threshold = (size_t)n;
  li->watch_pending = 0;
  sl_watch_handles(li->iso, (size_t)n, n ? l_watch_hook : NULL, li);
  return 0;
}

typedef struct l_persbuf { uint32_t *site; int *weak; size_t n, cap; } l_persbuf;

static int l_countpers(sl_persistent p, uint32_t site, int weak, uint64_t id, void *ud) {
  (void)p; (void)site; (void)weak;
  if (id != 0) ((l_persbuf *)ud)->n++;
  return 0;
}

static int l_fillpers(sl_persistent p, uint32_t site, int weak, uint64_t id, void *ud) {
  l_persbuf *b = (l_persbuf *)ud;
  (void)p;
  if (id == 0) return 0;
  if (b->n >= b->cap) return 1;
  b->site[b->n] = site;
  b->weak[b->n] = weak;
  b->n++;
  return 0;
}

/* t.name = t.name + 1 for the table on top. */
static void l_bump(lua_State *L, const char *name) {
  lua_Integer v;
  lua_getfield(L, -1, name);
  v = lua_tointeger(L, -1) + 1;
  lua_pop(L, 1);
  setint(L, name, v);
}

/* Live (non-empty) persistent handles grouped by creation site, most first:
** { {site = "f.lua:3" or nil, count = n, weak = n}, ..., total = n }. */
static int l_iso_persistent_report(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "persistent_report");
  l_persbuf b = { NULL, NULL, 0, 0 };
  size_t i;
  int groups, idx, t;
  sl_persistent_foreach(li->iso, l_countpers, &b);
  b.cap = b.n;
  b.site = (uint32_t *)lua_newuserdatauv(L, b.cap * sizeof *b.site + 1, 0);
  b.weak = (int *)lua_newuserdatauv(L, b.cap * sizeof *b.weak + 1, 0);
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
      lua_createtable(L, 0, 3);
      l_pushsite(L, 1, b.site[i]);
      lua_setfield(L, -2, "site");
      setint(L, "count", 0);
      setint(L, "weak", 0);
      lua_pushvalue(L, -1);
      lua_rawseti(L, idx, (lua_Integer)b.site[i]);
      lua_pushvalue(L, -1);
      lua_rawseti(L, t, ++groups);
    }
    l_bump(L, "count");
    if (b.weak[i]) l_bump(L, "weak");
    lua_pop(L, 1);
  }
  /* sort groups by count, descending (insertion sort: few groups) */
  {
    int a, c;
    for (a = 2; a <= groups; a++) {
      for (c = a; c > 1; c--) {
        lua_Integer x, y;
        lua_rawgeti(L, t, c - 1);
        lua_getfield(L, -1, "count");
        x = lua_tointeger(L, -1);
        lua_rawgeti(L, t, c);
        lua_getfield(L, -1, "count");
        y = lua_tointeger(L, -1);
        if (y <= x) { lua_pop(L, 4); break; }
        lua_pop(L, 1);                       /* stack: g(c-1), x, g(c) */
        lua_rawseti(L, t, c - 1);
        lua_pop(L, 1);
        lua_rawseti(L, t, c);
      }
    }
  }
  lua_pushvalue(L, t);
  setint(L, "total", b.n);
  return 1;
}

static int l_iso_moves(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "moves");
  size_t i;
  if (!li->record_moves)
    return l_argerror(L, 1, "moves", "moves are not recorded (option 'record_moves')");
  lua_createtable(L, (int)li->nmoves, 1);
  for (i = 0; i < li->nmoves; i++) {
    lua_createtable(L, 0, 4);
    setint(L, "id", li->moves[i].id);
    setint(L, "from", li->moves[i].from);
    setint(L, "to", li->moves[i].to);
    setint(L, "collection", li->moves[i].collection);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  if (li->moves_lost) { lua_pushboolean(L, 1); lua_setfield(L, -2, "incomplete"); }
  return 1;
}

static int l_iso_weak_log(lua_State *L) {
  l_isolate *li = l_checkiso(L, 1, "weak_log");
  if (!li->record_weak)
    return l_argerror(L, 1, "weak_log", "weak callbacks are not recorded (option "
                      "'record_weak')");
  lua_getiuservalue(L, 1, UV_WEAKLOG);
  return 1;
}


/* ================================================================ isolate */

static void l_dispose(l_isolate *li) {
  if (li->iso) sl_isolate_dispose(li->iso);
  li->iso = NULL;
  free(li->moves);
  li->moves = NULL;
  li->nmoves = li->capmoves = 0;
}

static int l_iso_dispose(lua_State *L) {
  l_isolate *li = (l_isolate *)l_testud(L, 1, UP_ISOLATE);
  if (li == NULL) return l_typeerror(L, 1, "dispose", ISOLATE_MT);
  if (li->iso == NULL) return 0;               /* disposing twice is harmless */
  if (sl_isolate_dispose(li->iso) != SL_OK) {
    /* refused: we are inside one of its weak callbacks */
    return l_fail(L, li, SL_ESTATE, 1, "dispose", NULL);
  }
  li->iso = NULL;
  l_dispose(li);
  /* let go of weak persistents and their callbacks */
  lua_newtable(L);
  lua_setiuservalue(L, 1, UV_WEAK);
  return 0;
}

static int l_iso_gc(lua_State *L) {
  l_isolate *li = (l_isolate *)l_testud(L, 1, UP_ISOLATE);
  if (li) l_dispose(li);
  return 0;
}

static int l_iso_is_disposed(lua_State *L) {
  l_isolate *li = (l_isolate *)l_testud(L, 1, UP_ISOLATE);
  if (li == NULL) return l_typeerror(L, 1, "is_disposed", ISOLATE_MT);
  lua_pushboolean(L, li->iso == NULL);
  return 1;
}

static int l_iso_len(lua_State *L) {
  return l_iso_number_of_handles(L);
}

static int l_iso_tostring(lua_State *L) {
  l_isolate *li = (l_isolate *)l_testud(L, 1, UP_ISOLATE);
  if (li == NULL) return l_typeerror(L, 1, "__tostring", ISOLATE_MT);
  if (li->iso == NULL)
    lua_pushfstring(L, ISOLATE_MT ": %p (disposed)", (void *)li);
  else
    lua_pushfstring(L, ISOLATE_MT ": %p (live, %I handles, scope level %d)", (void *)li,
                    (lua_Integer)sl_number_of_handles(li->iso), (int)li->cur_level);
  return 1;
}

/* Reads option 'name' of the table at 1 as a non-negative integer into *out. */
static int l_optsize(lua_State *L, const char *name, lua_Integer max, lua_Integer *out) {
  int t = lua_getfield(L, 1, name), isnum;
  lua_Integer v;
  if (t == LUA_TNIL) { lua_pop(L, 1); return 0; }
  v = lua_tointegerx(L, -1, &isnum);
  if (!isnum || v < 0 || v > max)
    l_argerror(L, 1, "isolate", lua_pushfstring(L, "option '%s' must be an integer in "
               "0..%I, got %s", name, max, isnum ? lua_tostring(L, -1) : luaL_typename(L, -1)));
  lua_pop(L, 1);
  *out = v;
  return 1;
}

static int l_optbool(lua_State *L, const char *name) {
  int t = lua_getfield(L, 1, name), v;
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    l_argerror(L, 1, "isolate", lua_pushfstring(L, "option '%s' must be a boolean, got %s",
               name, luaL_typename(L, -1)));
  v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static const char *const l_optnames[] = {
  "young_size", "old_size", "block_size", "promote_after", "gc_interval",
  "gc_interval_kind", "verify_heap", "stress_compaction", "gc_at", "trace_gc",
  "record_moves", "record_weak", "warn", "zap_handles", NULL
};

static int l_cmpu64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* core.isolate([opts]) */
static int l_isolate_new(lua_State *L) {
  sl_options o;
  lua_Integer v;
  const char *bad;
  l_isolate *li;
  int trace = 0, rmoves = 0, rweak = 0;
  sl_options_init(&o);
  if (lua_isnoneornil(L, 1)) { lua_settop(L, 0); lua_newtable(L); }
  if (!lua_istable(L, 1)) return l_typeerror(L, 1, "isolate", "table");
  lua_settop(L, 1);
  /* unknown keys are errors: a typo must not silently mean "default" */
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int k, known = 0;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (k = 0; l_optnames[k]; k++)
        if (strcmp(lua_tostring(L, -2), l_optnames[k]) == 0) known = 1;
    if (!known) {
      lua_pushvalue(L, -2);
      return l_argerror(L, 1, "isolate", lua_pushfstring(L, "unknown option '%s'",
                        luaL_tolstring(L, -1, NULL)));
    }
    lua_pop(L, 1);
  }
  if (l_optsize(L, "young_size", LUA_MAXINTEGER, &v)) o.young_size = (size_t)v;
  if (l_optsize(L, "old_size", LUA_MAXINTEGER, &v)) o.old_size = (size_t)v;
  if (l_optsize(L, "block_size", 0x7fffffff, &v)) o.block_size = (size_t)v;
  if (l_optsize(L, "promote_after", 0x7fffffff, &v)) o.promote_after = (unsigned)v;
  if (l_optsize(L, "gc_interval", 0x7fffffff, &v)) o.gc_interval = (unsigned)v;
  if (lua_getfield(L, 1, "gc_interval_kind") != LUA_TNIL) {
    const char *k = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING) k = "";
    if (strcmp(k, "alternate") == 0) o.gc_interval_major = 0;
    else if (strcmp(k, "major") == 0) o.gc_interval_major = 1;
    else if (strcmp(k, "minor") == 0) o.gc_interval_major = -1;
    else
      return l_argerror(L, 1, "isolate", "option 'gc_interval_kind' must be 'alternate', "
                        "'major' or 'minor'");
  }
  lua_pop(L, 1);
  o.verify_heap = l_optbool(L, "verify_heap");
  o.stress_compaction = l_optbool(L, "stress_compaction");
  if (lua_getfield(L, 1, "zap_handles") != LUA_TNIL) o.zap_handles = l_optbool(L, "zap_handles");
  lua_pop(L, 1);
  trace = l_optbool(L, "trace_gc");
  rmoves = l_optbool(L, "record_moves");
  rweak = l_optbool(L, "record_weak");
  if (lua_getfield(L, 1, "warn") != LUA_TNIL && !lua_isfunction(L, -1))
    return l_argerror(L, 1, "isolate", "option 'warn' must be a function");
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "gc_at") != LUA_TNIL) {     /* stack: 1 opts, 2 gc_at */
    lua_Integer i, n;
    uint64_t *at;
    if (!lua_istable(L, 2))
      return l_argerror(L, 1, "isolate", "option 'gc_at' must be a list of positive "
                        "integers");
    n = (lua_Integer)lua_rawlen(L, 2);
    at = (uint64_t *)lua_newuserdatauv(L, (size_t)n * sizeof *at + 1, 0);
    for (i = 1; i <= n; i++) {
      int isnum;
      lua_Integer x;
      lua_rawgeti(L, 2, i);
      x = lua_tointegerx(L, -1, &isnum);
      lua_pop(L, 1);
      if (!isnum || x < 1)
        return l_argerror(L, 1, "isolate", lua_pushfstring(L, "option 'gc_at' must be a "
                          "list of positive integers (bad element %I)", i));
      at[i - 1] = (uint64_t)x;
    }
    qsort(at, (size_t)n, sizeof *at, l_cmpu64);
    o.gc_at = at;
    o.gc_at_count = (size_t)n;
  } else {
    lua_pushnil(L);                             /* keep slot 3 for the buffer */
  }
  /* stack: 1 opts, 2 gc_at or nil, 3 buffer or nil */
  if ((bad = sl_options_check(&o)) != NULL) return l_argerror(L, 1, "isolate", bad);
  li = (l_isolate *)lua_newuserdatauv(L, sizeof *li, NUV_ISOLATE);
  memset(li, 0, sizeof *li);
  li->tag = l_tag(UP_ISOLATE);
  lua_pushvalue(L, lua_upvalueindex(UP_ISOLATE));
  lua_setmetatable(L, -2);                     /* __gc set before the isolate exists */
  li->iso = sl_isolate_new(&o);                /* copies gc_at */
  if (li->iso == NULL) return luaL_error(L, "cannot create isolate (out of memory)");
  li->L = L;
  li->trace_gc = trace;
  li->record_moves = rmoves;
  li->record_weak = rweak;
  sl_set_gc_hook(li->iso, l_gc_hook, li);
  if (rmoves) sl_set_move_hook(li->iso, l_move_hook, li);
  lua_newtable(L); lua_setiuservalue(L, -2, UV_SITES);
  lua_newtable(L); lua_setiuservalue(L, -2, UV_SITEIDX);
  lua_newtable(L); lua_setiuservalue(L, -2, UV_WEAK);
  lua_newtable(L); lua_setiuservalue(L, -2, UV_WEAKLOG);
  lua_getfield(L, 1, "warn");
  lua_setiuservalue(L, -2, UV_WARN);
  /* this isolate's Local metatable: the registry's, plus the Isolate at [1] */
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, lua_upvalueindex(UP_LOCAL))) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_pushvalue(L, -2);
  lua_rawseti(L, -2, 1);
  lua_setiuservalue(L, -2, UV_LOCALMT);
  /* registry map struct -> userdata, weak-valued (see the header comment) */
  lua_getfield(L, LUA_REGISTRYINDEX, ISOLATES_KEY);
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, li);
  lua_pop(L, 1);
  return 1;
}


/* ================================================================ module */

static const luaL_Reg l_isolate_meta[] = {
  {"__gc", l_iso_gc}, {"__close", l_iso_dispose}, {"__tostring", l_iso_tostring},
  {"__len", l_iso_len}, {NULL, NULL}
};
static const luaL_Reg l_isolate_methods[] = {
  {"dispose", l_iso_dispose}, {"is_disposed", l_iso_is_disposed},
  {"handle_scope", l_iso_handle_scope}, {"escapable_handle_scope", l_iso_escapable_scope},
  {"seal_handle_scope", l_iso_seal_scope}, {"number_of_handles", l_iso_number_of_handles},
  {"integer", l_iso_integer}, {"number", l_iso_number}, {"string", l_iso_string},
  {"array", l_iso_array}, {"array_of", l_iso_array_of}, {"persistent", l_iso_persistent}, {"global", l_iso_global},
  {"reference", l_iso_reference}, {"probe", l_iso_probe}, {"eternal", l_iso_eternal},
  {"eternal_get", l_iso_eternal_get}, {"collect", l_iso_collect}, {"stats", l_iso_stats},
  {"verify", l_iso_verify}, {"retainers", l_iso_retainers}, {"snapshot", l_iso_snapshot},
  {"handle_report", l_iso_handle_report}, {"watch_handles", l_iso_watch_handles},
  {"persistent_report", l_iso_persistent_report}, {"moves", l_iso_moves},
  {"weak_log", l_iso_weak_log}, {NULL, NULL}
};

/* A Local has no __gc or __close: its slot belongs to its scope, so finalising
** it would do nothing and would only slow down the hot path (every finalisable
** userdata costs the Lua collector a separate pass). */
static const luaL_Reg l_local_meta[] = {
  {"__tostring", l_local_tostring}, {"__eq", l_local_eq}, {"__len", l_local_len},
  {NULL, NULL}
};
static const luaL_Reg l_local_methods[] = {
  {"value", l_local_value}, {"kind", l_local_kind}, {"id", l_local_id},
  {"address", l_local_address}, {"generation", l_local_generation},
  {"is_valid", l_local_is_valid}, {"get", l_local_get}, {"set", l_local_set},
  {"unpack", l_local_unpack}, {NULL, NULL}
};

static const luaL_Reg l_scope_meta[] = {
  /* No __gc: a scope collected while open stays open (closing it at an arbitrary
  ** moment would close it out of order; the isolate frees it at dispose), and a
  ** no-op finalizer made every open ~550 instructions dearer (finalizer pass). */
  {"__close", l_scope_gcclose}, {"__tostring", l_scope_tostring},
  {"__len", l_scope_handles}, {NULL, NULL}
};
static const luaL_Reg l_scope_methods[] = {
  {"close", l_scope_close}, {"escape", l_scope_escape}, {"is_open", l_scope_is_open},
  {"kind", l_scope_kind}, {"level", l_scope_level}, {"depth", l_scope_depth},
  {"site", l_scope_site}, {"handles", l_scope_handles}, {NULL, NULL}
};

static const luaL_Reg l_pers_meta[] = {
  {"__gc", l_pers_gc}, {"__close", l_pers_gc}, {"__tostring", l_pers_tostring},
  {"__eq", l_pers_eq}, {NULL, NULL}
};
static const luaL_Reg l_pers_methods[] = {
  {"get", l_pers_get}, {"reset", l_pers_reset}, {"is_empty", l_pers_is_empty},
  {"set_weak", l_pers_set_weak}, {"clear_weak", l_pers_clear_weak},
  {"is_weak", l_pers_is_weak}, {"is_global", l_pers_is_global}, {"delete", l_pers_delete},
  {"site", l_pers_site}, {NULL, NULL}
};

static const luaL_Reg l_ref_meta[] = {
  {"__gc", l_ref_gc}, {"__close", l_ref_gc}, {"__tostring", l_pers_tostring},
  {"__eq", l_ref_eq}, {NULL, NULL}
};
static const luaL_Reg l_ref_methods[] = {
  {"ref", l_ref_ref}, {"unref", l_ref_unref}, {"count", l_ref_count}, {"get", l_ref_get},
  {"is_empty", l_ref_is_empty},
  {"delete", l_ref_delete}, {"is_deleted", l_ref_is_deleted}, {"site", l_pers_site},
  {NULL, NULL}
};

static const luaL_Reg l_probe_meta[] = {
  {"__gc", l_probe_gc}, {"__close", l_probe_gc}, {"__tostring", l_probe_tostring},
  {"__eq", l_probe_eq}, {NULL, NULL}
};
static const luaL_Reg l_probe_methods[] = {
  {"alive", l_probe_alive}, {"address", l_probe_address}, {"moves", l_probe_moves},
  {"id", l_probe_id}, {"kind", l_probe_kind}, {"generation", l_probe_generation},
  {"get", l_probe_get}, {"delete", l_probe_delete}, {NULL, NULL}
};

static const luaL_Reg l_path_meta[] = {
  {"__tostring", l_path_tostring}, {NULL, NULL}
};

static const luaL_Reg l_module[] = {
  {"isolate", l_isolate_new}, {NULL, NULL}
};

static void l_pushups(lua_State *L, int first) {
  int i;
  for (i = 0; i < NUP; i++) lua_pushvalue(L, first + i);
}

/* Fills metatable 'mt' (an absolute index) with 'meta' and, as __index, 'methods'. */
static void l_fillmeta(lua_State *L, int mt, int first, const luaL_Reg *meta,
                       const luaL_Reg *methods) {
  lua_pushvalue(L, mt);
  l_pushups(L, first);
  luaL_setfuncs(L, meta, NUP);
  if (methods) {
    lua_newtable(L);
    l_pushups(L, first);
    luaL_setfuncs(L, methods, NUP);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

int luaopen_scopelab_core(lua_State *L) {
  static const char *const names[NUP] = {
    ISOLATE_MT, LOCAL_MT, SCOPE_MT, PERSISTENT_MT, PROBE_MT, REFERENCE_MT, PATH_MT
  };
  int i, first;
  /* every metatable first (re-used when busted opens the module again), all
  ** complete before any object gets one */
  first = lua_gettop(L) + 1;
  for (i = 0; i < NUP; i++) luaL_newmetatable(L, names[i]);
  l_fillmeta(L, first + UP_ISOLATE - 1, first, l_isolate_meta, l_isolate_methods);
  l_fillmeta(L, first + UP_LOCAL - 1, first, l_local_meta, l_local_methods);
  l_fillmeta(L, first + UP_SCOPE - 1, first, l_scope_meta, l_scope_methods);
  l_fillmeta(L, first + UP_PERSISTENT - 1, first, l_pers_meta, l_pers_methods);
  l_fillmeta(L, first + UP_PROBE - 1, first, l_probe_meta, l_probe_methods);
  l_fillmeta(L, first + UP_REFERENCE - 1, first, l_ref_meta, l_ref_methods);
  l_fillmeta(L, first + UP_PATH - 1, first, l_path_meta, NULL);
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, ISOLATES_KEY) == 0) {
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_pushvalue(L, -1);
    lua_setmetatable(L, -2);
  }
  lua_pop(L, 1);
  lua_newtable(L);
  l_pushups(L, first);
  luaL_setfuncs(L, l_module, NUP);
  lua_pushliteral(L, SL_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
