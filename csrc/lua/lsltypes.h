/* SPDX-License-Identifier: MIT */
/*
** lsltypes.h: what the files of the Lua binding share (as LPeg's lptypes.h):
** the metatable names, the upvalue and user-value numbers, the userdata
** structs and their tags, and the check and fail helpers.
**
** One file per mechanism, each opening with its own design note:
**   lslaux.c     errors, warnings, argument checks, the call-site cache
**   lsllocal.c   Locals and their methods, the constructors (iso:integer, ...)
**   lslscope.c   handle, escapable and seal scopes
**   lslglobal.c  persistent and global handles, references, eternal handles,
**                weak callbacks
**   lslprobe.c   probes
**   lslobject.c  objects (properties, internal fields), externals, Smis and
**                the read-only roots
**   lslnative.c  native blocks (malloc as an addon does) and their report
**   lslcall.c    functions, iso:call and the callback info
**   lslweak.c    two-pass weak callbacks, tasks, the worker switch
**   lsldiag.c    collect, stats, verify, the gc/move/watch hooks, diagnostics
**   lscopelab.c  the isolate (lifetime, options), registration, luaopen
**
** Cross-file names begin with 'lsl_' and are hidden from the module's exports;
** file-local helpers are short 'l_' words. Every function of the Lua API is
** listed once, in LSL_API below (which declares it, and which lscopelab.c
** registers), and defined in its mechanism's file. The type checks are static
** inline here: they sit on every hot path (a:get, a:set, s:close, iso:integer).
*/

#ifndef LSLTYPES_H
#define LSLTYPES_H

#include <stddef.h>
#include <stdint.h>

#include "lua.h"
#include "lauxlib.h"

#include "scopelab.h"

#if defined(__GNUC__)
#define LSL_FUNC __attribute__((visibility("hidden"))) extern
#else
#define LSL_FUNC extern
#endif
#define LSL_DATA LSL_FUNC

#define ISOLATE_MT    "scopelab.Isolate"
#define LOCAL_MT      "scopelab.Local"
#define SCOPE_MT      "scopelab.Scope"
#define PERSISTENT_MT "scopelab.Persistent"
#define PROBE_MT      "scopelab.Probe"
#define REFERENCE_MT  "scopelab.Reference"
#define NATIVE_MT     "scopelab.NativeBlock"
#define CALLINFO_MT   "scopelab.CallbackInfo"
#define WEAKINFO_MT   "scopelab.WeakCallbackInfo"
#define PATH_MT       "scopelab.Path"
#define GUARD_MT      "scopelab.IsolateGuard"
#define ISOLATES_KEY  "scopelab.isolates"

/* Every function of the module shares these upvalues: the metatables, so that a
** new object gets its metatable with no table lookup. */
enum { UP_ISOLATE = 1, UP_LOCAL, UP_SCOPE, UP_PERSISTENT, UP_PROBE, UP_REFERENCE,
       UP_NATIVE, UP_CALLINFO, UP_WEAKINFO, UP_PATH, NUP = UP_PATH };

/* User values of an Isolate userdata. */
enum { UV_SITES = 1,   /* site number -> "file:line" */
       UV_SITEIDX,     /* "file:line" -> site number (dedupe) */
       UV_WEAK,        /* lightuserdata(l_persistent*) -> Persistent, while weak
                          with a callback: keeps the userdata and the callback alive */
       UV_WEAKLOG,     /* weak-callback trace (option 'record_weak') */
       UV_WARN,        /* option 'warn': function receiving diagnostics, or nil */
       UV_LOCALMT,     /* the metatable of this isolate's Locals (see lsllocal.c) */
       UV_GUARD,       /* a userdata whose __gc disposes the isolate, so that one
                          whose metatable debug.setmetatable removed is still freed */
       UV_FUNCS,       /* lightuserdata(lsl_func*) -> the Lua callback of a function */
       UV_NATIVE,      /* lightuserdata(block bytes) -> NativeBlock, until freed */
       UV_SECOND,      /* persistent serial -> {second pass, parameter}, queued */
       UV_TASKS,       /* the Lua tasks posted, a queue: [task_head..task_tail) */
       NUV_ISOLATE = UV_TASKS };

/* Every user value of an Isolate is read through lsl_getuvtable or checked for
** its type where it is read: the debug library can replace any of them. */

/* User values of handle userdata but Locals: 1 is always the Isolate userdata. */
enum { UV_ISO = 1, UV_CALLBACK = 2 };

typedef struct lsl_move {
  uint64_t id, collection;
  uintptr_t from, to;
} lsl_move;

/* The call-site cache (lslaux.c): (short_src, line) -> site number. */
#if !defined(LSL_SITECACHE)
#define LSL_SITECACHE 64        /* entries, a power of 2 */
#endif

typedef struct lsl_siteentry {
  uint32_t site;                /* 0: empty */
  int line;
  char short_src[LUA_IDSIZE];
} lsl_siteentry;

/* Every userdata of the binding begins with its tag: the address of its type's
** entry in 'lsl_tags' (constant, so no global state). Checking a type is then a
** size and a pointer compare, with no metatable fetched (debug.setmetatable can
** give any userdata any metatable: the tag, not the metatable, says what it is).
** Handles continue with their isolate, which user value 1 keeps alive. */
LSL_DATA const char lsl_tags[16];
#define lsl_tag(up) ((const void *)&lsl_tags[(up)])

/* What "used from a worker thread" says (see lslweak.c, the worker switch). */
#define LSL_WORKER_MSG "isolate used from a worker thread"

typedef struct lsl_head {
  const void *tag;
  struct lsl_isolate *li;       /* handles only */
} lsl_head;

struct lsl_block;
struct lsl_func;
struct lsl_callctx;

typedef struct lsl_isolate {
  const void *tag;        /* lsl_tag(UP_ISOLATE) */
  sl_isolate *iso;        /* NULL once disposed, and while a worker runs */
  sl_isolate *worker_iso; /* while a worker runs: the isolate, 'iso' being NULL so
                             that every check of the binding refuses it (lslweak.c) */
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
  lsl_move *moves;
  size_t nmoves, capmoves;
  int moves_lost;         /* realloc failed inside the hook */
  /* sl_watch_handles: the hook may not call the API (nor Lua, whose GC could
  ** run finalizers that do), so it only records; the warning is emitted when
  ** the call that created the handle returns. */
  size_t watch_threshold;
  int watch_pending;
  sl_scope_info watch_info;
  /* native blocks (lslnative.c): a list the isolate frees when disposed */
  struct lsl_block *blocks;
  size_t native_bytes, native_blocks;
  /* functions (lslcall.c): the records their callbacks hang off */
  struct lsl_func *funcs;
  size_t nfuncs;          /* records, each with a probe: stats() leaves them out */
  int sweep;              /* a collection ran since the records were last swept */
  struct lsl_callctx *callctx;  /* the innermost iso:call in progress */
  lua_Integer task_head, task_tail;  /* UV_TASKS: the Lua tasks not yet run */
  lua_Integer task_swept;            /* below it, no entry of UV_TASKS is left (those of
                                        tasks dropped before they ran are, up to head) */
  lsl_siteentry sitecache[LSL_SITECACHE];
} lsl_isolate;

/* A Local has no user value: what keeps its isolate alive is its metatable, one
** per isolate (UV_LOCALMT, a copy of the registry's "scopelab.Local" holding the
** Isolate userdata at [1]). */
typedef struct lsl_local {
  const void *tag;        /* lsl_tag(UP_LOCAL) */
  lsl_isolate *li;        /* reachable because its metatable holds the Isolate */
  sl_local h;             /* slot + stamp */
  uint32_t site, level;   /* of the owning scope, for the stale-handle message */
  uint64_t id;            /* the identity of its object, read when it was made: what
                             h:in_heap() looks for after the scope closed */
} lsl_local;

typedef struct lsl_scope {
  const void *tag;        /* lsl_tag(UP_SCOPE) */
  lsl_isolate *li;
  sl_scope s;
  uint32_t site, level;
  uint32_t prev_site, prev_level;  /* the innermost scope's when this one opened:
                                      restored when it closes, given to escaped Locals */
  sl_scope_kind kind;
  size_t capacity;
} lsl_scope;

enum { P_PLAIN = 1, P_GLOBAL, P_REFERENCE };

typedef struct lsl_persistent {
  const void *tag;        /* lsl_tag(UP_PERSISTENT) or lsl_tag(UP_REFERENCE) */
  lsl_isolate *li;
  sl_persistent p;
  int type;               /* P_PLAIN, P_GLOBAL or P_REFERENCE */
  int deleted;
  uint32_t site;
  lua_Integer count;      /* references: the Node-API count */
  uint64_t id;            /* the identity of the object it last held (0: never held
                             one), kept through reset(nil), clearing and delete */
} lsl_persistent;

typedef struct lsl_probe {
  const void *tag;        /* lsl_tag(UP_PROBE) */
  lsl_isolate *li;
  sl_probe p;
  int deleted;
} lsl_probe;

/* A native block (lslnative.c): the userdata names the C block, which the
** isolate owns; 'b' is NULL once freed. */
typedef struct lsl_native {
  const void *tag;        /* lsl_tag(UP_NATIVE) */
  lsl_isolate *li;
  struct lsl_block *b;
} lsl_native;

/* The info of a call (lslcall.c); 'ci' is NULL once the call returned. */
typedef struct lsl_callinfo {
  const void *tag;        /* lsl_tag(UP_CALLINFO) */
  lsl_isolate *li;
  const sl_call_info *ci;
  uint32_t site, level;   /* the implicit scope's: given to the frame's Locals */
} lsl_callinfo;

/* The info of a two-pass weak callback (lslweak.c); 'w' is NULL once the pass
** returned. User value 2 is the parameter. */
typedef struct lsl_weakinfo {
  const void *tag;        /* lsl_tag(UP_WEAKINFO) */
  lsl_isolate *li;
  const sl_weak_info *w;
  uint64_t serial;        /* of the persistent whose object died */
} lsl_weakinfo;

#define lsl_setint(L, name, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, name))


/* ---------------------------------------------------------------- lslaux.c */

LSL_FUNC int lsl_argerror(lua_State *L, int arg, const char *op, const char *msg);
LSL_FUNC int lsl_typeerror(lua_State *L, int arg, const char *op, const char *tname);
LSL_FUNC int lsl_fail(lua_State *L, lsl_isolate *li, sl_status st, int arg, const char *op,
                      const lsl_local *lo);
LSL_FUNC void lsl_pushsite(lua_State *L, int isoidx, uint32_t site);
LSL_FUNC void lsl_pushisomap(lua_State *L);
LSL_FUNC int lsl_pushiso(lua_State *L, lsl_isolate *li);
LSL_FUNC void lsl_getuvtable(lua_State *L, int isoidx, int uv);
LSL_FUNC const char *lsl_scopedesc(lua_State *L, lsl_isolate *li, uint32_t level,
                                   uint32_t site);
LSL_FUNC void lsl_warn(lua_State *L, lsl_isolate *li, const char *msg);
LSL_FUNC void lsl_flushwatch_(lua_State *L, lsl_isolate *li, const char *op);
LSL_FUNC lsl_local *lsl_checklocal(lua_State *L, int arg, const char *op);
LSL_FUNC lsl_local *lsl_checklocalof(lua_State *L, lsl_isolate *li, int arg, const char *op,
                                     int nilok);
LSL_FUNC lsl_probe *lsl_checkprobe(lua_State *L, int arg, const char *op);
LSL_FUNC uint32_t lsl_callsite(lua_State *L, lsl_isolate *li, int isoidx);
LSL_FUNC const char *lsl_genname(sl_generation g);
LSL_FUNC const char *lsl_scopekind(sl_scope_kind k);
LSL_FUNC int lsl_inheap(lsl_isolate *li, uint64_t id);
LSL_FUNC int lsl_pushheld(lua_State *L, lsl_isolate *li, uint64_t id, int inheap);

/* ---------------------------------------------------------------- lsllocal.c */

LSL_FUNC void lsl_pushlocalof(lua_State *L, lsl_isolate *li, int hidx, sl_local h);
LSL_FUNC void lsl_pushlocal(lua_State *L, lsl_isolate *li, int hidx, sl_local h,
                            const char *op);
LSL_FUNC void lsl_pushlocalmt(lua_State *L, int isoidx);
LSL_FUNC void lsl_pushrootlocal(lua_State *L, lsl_isolate *li, int hidx, sl_local h);
LSL_FUNC lsl_local *lsl_newlocal(lua_State *L, lsl_isolate *li, const char *op, uint64_t *cb0);
LSL_FUNC int lsl_madelocal(lua_State *L, lsl_isolate *li, lsl_local *lo, sl_status st,
                           uint64_t cb0, const char *op);

/* ---------------------------------------------------------------- lslobject.c */

LSL_FUNC int lsl_object_get_checked(lua_State *L, lsl_local *lo);
LSL_FUNC int lsl_object_set_checked(lua_State *L, lsl_local *lo, sl_status tried);

/* ---------------------------------------------------------------- lslnative.c */

LSL_FUNC void lsl_native_freeall(lsl_isolate *li);
LSL_FUNC int lsl_pushblock(lua_State *L, lsl_isolate *li, void *p);
LSL_FUNC lsl_native *lsl_checknative(lua_State *L, int arg, const char *op);
LSL_FUNC void *lsl_topointer(lua_State *L, const lsl_isolate *li, int arg, const char *op);
LSL_FUNC void lsl_pushpointer(lua_State *L, lsl_isolate *li, void *p);

/* ---------------------------------------------------------------- lslcall.c */

LSL_FUNC void lsl_func_freeall(lsl_isolate *li);
LSL_FUNC void lsl_func_sweep(lua_State *L, lsl_isolate *li);

/* ---------------------------------------------------------------- lslglobal.c */

LSL_FUNC int lsl_register(lua_State *L, lsl_persistent *lp);
LSL_FUNC void lsl_unregister(lua_State *L, lsl_persistent *lp);
LSL_FUNC const lsl_persistent *lsl_takeweak(lua_State *L, lsl_isolate *li, const void *node,
                                            uint64_t serial, int *iso);
LSL_FUNC void lsl_weakran(lsl_isolate *li);
LSL_FUNC const char *lsl_weakerror(lua_State *L, lsl_isolate *li, const char *what);
LSL_FUNC void lsl_weakdropped(lua_State *L, lsl_isolate *li, const char *why);
LSL_FUNC void lsl_logweak(lua_State *L, lsl_isolate *li, int iso, int pidx, const char *err,
                          const char *pass);

/* ---------------------------------------------------------------- lslweak.c */

LSL_FUNC int lsl_pers_set_weak_two_pass(lua_State *L, lsl_persistent *lp);

/* ---------------------------------------------------------------- lsldiag.c */

LSL_FUNC void lsl_gc_hook(sl_isolate *iso, const sl_gc_stats *s, void *ud);
LSL_FUNC void lsl_move_hook(sl_isolate *iso, uint64_t id, uintptr_t from, uintptr_t to,
                            uint64_t collection, void *ud);

/* ---------------------------------------------------------------- registration */

/* The Lua API: every function as (metatable, name, C function), where its file
** defines it; lscopelab.c registers them all ("__" names in the metatable, the
** others in its __index table). */
#define LSL_API(X) \
  /* lscopelab.c */ \
  X(UP_ISOLATE, "__gc", lsl_iso_gc) \
  X(UP_ISOLATE, "__close", lsl_iso_dispose) \
  X(UP_ISOLATE, "__tostring", lsl_iso_tostring) \
  X(UP_ISOLATE, "__len", lsl_iso_number_of_handles) \
  X(UP_ISOLATE, "dispose", lsl_iso_dispose) \
  X(UP_ISOLATE, "is_disposed", lsl_iso_is_disposed) \
  X(UP_ISOLATE, "number_of_handles", lsl_iso_number_of_handles) \
  /* lsllocal.c */ \
  X(UP_LOCAL, "__tostring", lsl_local_tostring) \
  X(UP_LOCAL, "__eq", lsl_local_eq) \
  X(UP_LOCAL, "__len", lsl_local_len) \
  X(UP_LOCAL, "value", lsl_local_value) \
  X(UP_LOCAL, "kind", lsl_local_kind) \
  X(UP_LOCAL, "id", lsl_local_id) \
  X(UP_LOCAL, "address", lsl_local_address) \
  X(UP_LOCAL, "generation", lsl_local_generation) \
  X(UP_LOCAL, "is_valid", lsl_local_is_valid) \
  X(UP_LOCAL, "get", lsl_local_get) \
  X(UP_LOCAL, "set", lsl_local_set) \
  X(UP_LOCAL, "unpack", lsl_local_unpack) \
  X(UP_LOCAL, "held_id", lsl_local_held_id) \
  X(UP_LOCAL, "in_heap", lsl_local_in_heap) \
  X(UP_ISOLATE, "integer", lsl_iso_integer) \
  X(UP_ISOLATE, "number", lsl_iso_number) \
  X(UP_ISOLATE, "string", lsl_iso_string) \
  X(UP_ISOLATE, "array", lsl_iso_array) \
  X(UP_ISOLATE, "array_of", lsl_iso_array_of) \
  X(UP_ISOLATE, "smi", lsl_iso_smi) \
  X(UP_ISOLATE, "undefined", lsl_iso_undefined) \
  X(UP_ISOLATE, "null", lsl_iso_null) \
  X(UP_ISOLATE, "boolean", lsl_iso_boolean) \
  /* lslobject.c */ \
  X(UP_LOCAL, "has", lsl_object_has) \
  X(UP_LOCAL, "delete", lsl_object_delete) \
  X(UP_LOCAL, "keys", lsl_object_keys) \
  X(UP_LOCAL, "internal_field_count", lsl_object_internal_field_count) \
  X(UP_LOCAL, "set_internal_field", lsl_object_set_internal_field) \
  X(UP_LOCAL, "get_internal_field", lsl_object_get_internal_field) \
  X(UP_LOCAL, "set_aligned_pointer", lsl_object_set_aligned_pointer) \
  X(UP_LOCAL, "get_aligned_pointer", lsl_object_get_aligned_pointer) \
  X(UP_LOCAL, "external_value", lsl_external_value) \
  X(UP_ISOLATE, "object", lsl_iso_object) \
  X(UP_ISOLATE, "external", lsl_iso_external) \
  /* lslnative.c */ \
  X(UP_NATIVE, "__tostring", lsl_native_tostring) \
  X(UP_NATIVE, "__eq", lsl_native_eq) \
  X(UP_NATIVE, "size", lsl_native_size) \
  X(UP_NATIVE, "pointer", lsl_native_pointer) \
  X(UP_NATIVE, "free", lsl_native_free) \
  X(UP_NATIVE, "is_freed", lsl_native_is_freed) \
  X(UP_ISOLATE, "native_alloc", lsl_iso_native_alloc) \
  X(UP_ISOLATE, "native_report", lsl_iso_native_report) \
  /* lslcall.c */ \
  X(UP_CALLINFO, "__tostring", lsl_info_tostring) \
  X(UP_CALLINFO, "this", lsl_info_this) \
  X(UP_CALLINFO, "length", lsl_info_length) \
  X(UP_CALLINFO, "arg", lsl_info_arg) \
  X(UP_CALLINFO, "data", lsl_info_data) \
  X(UP_CALLINFO, "isolate", lsl_info_isolate) \
  X(UP_CALLINFO, "set_return_value", lsl_info_set_return_value) \
  X(UP_ISOLATE, "func", lsl_iso_func) \
  X(UP_ISOLATE, "call", lsl_iso_call) \
  /* lslweak.c */ \
  X(UP_WEAKINFO, "__tostring", lsl_winfo_tostring) \
  X(UP_WEAKINFO, "parameter", lsl_winfo_parameter) \
  X(UP_WEAKINFO, "internal_field", lsl_winfo_internal_field) \
  X(UP_WEAKINFO, "set_second_pass_callback", lsl_winfo_set_second_pass_callback) \
  X(UP_ISOLATE, "post_task", lsl_iso_post_task) \
  X(UP_ISOLATE, "run_tasks", lsl_iso_run_tasks) \
  X(UP_ISOLATE, "_run_as_worker", lsl_iso_run_as_worker) \
  /* lslscope.c */ \
  X(UP_SCOPE, "__close", lsl_scope_gcclose) \
  X(UP_SCOPE, "__tostring", lsl_scope_tostring) \
  X(UP_SCOPE, "__len", lsl_scope_handles) \
  X(UP_SCOPE, "close", lsl_scope_close) \
  X(UP_SCOPE, "escape", lsl_scope_escape) \
  X(UP_SCOPE, "is_open", lsl_scope_is_open) \
  X(UP_SCOPE, "kind", lsl_scope_kind) \
  X(UP_SCOPE, "level", lsl_scope_level) \
  X(UP_SCOPE, "depth", lsl_scope_depth) \
  X(UP_SCOPE, "site", lsl_scope_site) \
  X(UP_SCOPE, "handles", lsl_scope_handles) \
  X(UP_ISOLATE, "handle_scope", lsl_iso_handle_scope) \
  X(UP_ISOLATE, "escapable_handle_scope", lsl_iso_escapable_scope) \
  X(UP_ISOLATE, "seal_handle_scope", lsl_iso_seal_scope) \
  /* lslglobal.c */ \
  X(UP_PERSISTENT, "__gc", lsl_node_gc) \
  X(UP_PERSISTENT, "__close", lsl_node_gc) \
  X(UP_PERSISTENT, "__tostring", lsl_node_tostring) \
  X(UP_PERSISTENT, "__eq", lsl_node_eq) \
  X(UP_PERSISTENT, "get", lsl_pers_get) \
  X(UP_PERSISTENT, "reset", lsl_pers_reset) \
  X(UP_PERSISTENT, "is_empty", lsl_pers_is_empty) \
  X(UP_PERSISTENT, "set_weak", lsl_pers_set_weak) \
  X(UP_PERSISTENT, "clear_weak", lsl_pers_clear_weak) \
  X(UP_PERSISTENT, "is_weak", lsl_pers_is_weak) \
  X(UP_PERSISTENT, "is_global", lsl_pers_is_global) \
  X(UP_PERSISTENT, "delete", lsl_pers_delete) \
  X(UP_PERSISTENT, "site", lsl_node_site) \
  X(UP_PERSISTENT, "held_id", lsl_node_held_id) \
  X(UP_PERSISTENT, "in_heap", lsl_node_in_heap) \
  X(UP_REFERENCE, "__gc", lsl_node_gc) \
  X(UP_REFERENCE, "__close", lsl_node_gc) \
  X(UP_REFERENCE, "__tostring", lsl_node_tostring) \
  X(UP_REFERENCE, "__eq", lsl_node_eq) \
  X(UP_REFERENCE, "ref", lsl_ref_ref) \
  X(UP_REFERENCE, "unref", lsl_ref_unref) \
  X(UP_REFERENCE, "count", lsl_ref_count) \
  X(UP_REFERENCE, "get", lsl_ref_get) \
  X(UP_REFERENCE, "is_empty", lsl_ref_is_empty) \
  X(UP_REFERENCE, "delete", lsl_ref_delete) \
  X(UP_REFERENCE, "is_deleted", lsl_ref_is_deleted) \
  X(UP_REFERENCE, "site", lsl_node_site) \
  X(UP_REFERENCE, "held_id", lsl_node_held_id) \
  X(UP_REFERENCE, "in_heap", lsl_node_in_heap) \
  X(UP_ISOLATE, "persistent", lsl_iso_persistent) \
  X(UP_ISOLATE, "global", lsl_iso_global) \
  X(UP_ISOLATE, "reference", lsl_iso_reference) \
  X(UP_ISOLATE, "eternal", lsl_iso_eternal) \
  X(UP_ISOLATE, "eternal_get", lsl_iso_eternal_get) \
  /* lslprobe.c */ \
  X(UP_PROBE, "__gc", lsl_probe_gc) \
  X(UP_PROBE, "__close", lsl_probe_gc) \
  X(UP_PROBE, "__tostring", lsl_probe_tostring) \
  X(UP_PROBE, "__eq", lsl_probe_eq) \
  X(UP_PROBE, "alive", lsl_probe_alive) \
  X(UP_PROBE, "address", lsl_probe_address) \
  X(UP_PROBE, "moves", lsl_probe_moves) \
  X(UP_PROBE, "id", lsl_probe_id) \
  X(UP_PROBE, "kind", lsl_probe_kind) \
  X(UP_PROBE, "generation", lsl_probe_generation) \
  X(UP_PROBE, "get", lsl_probe_get) \
  X(UP_PROBE, "delete", lsl_probe_delete) \
  X(UP_ISOLATE, "probe", lsl_iso_probe) \
  /* lsldiag.c */ \
  X(UP_PATH, "__tostring", lsl_path_tostring) \
  X(UP_ISOLATE, "collect", lsl_iso_collect) \
  X(UP_ISOLATE, "adjust_external_memory", lsl_iso_adjust_external_memory) \
  X(UP_ISOLATE, "stats", lsl_iso_stats) \
  X(UP_ISOLATE, "verify", lsl_iso_verify) \
  X(UP_ISOLATE, "retainers", lsl_iso_retainers) \
  X(UP_ISOLATE, "snapshot", lsl_iso_snapshot) \
  X(UP_ISOLATE, "handle_report", lsl_iso_handle_report) \
  X(UP_ISOLATE, "watch_handles", lsl_iso_watch_handles) \
  X(UP_ISOLATE, "persistent_report", lsl_iso_persistent_report) \
  X(UP_ISOLATE, "moves", lsl_iso_moves) \
  X(UP_ISOLATE, "weak_log", lsl_iso_weak_log)

#define LSL_PROTO(up, name, f) LSL_FUNC int f(lua_State *L);
LSL_API(LSL_PROTO)
#undef LSL_PROTO


/* ---------------------------------------------------------------- inline checks */

/* The size of the userdata of each type: debug.setmetatable can give a userdata
** another type's metatable, and the size tells most apart. */
static inline size_t lsl_udsize(int up) {
  switch (up) {
    case UP_ISOLATE: return sizeof(lsl_isolate);
    case UP_LOCAL: return sizeof(lsl_local);
    case UP_SCOPE: return sizeof(lsl_scope);
    case UP_PERSISTENT: case UP_REFERENCE: return sizeof(lsl_persistent);
    case UP_PROBE: return sizeof(lsl_probe);
    case UP_NATIVE: return sizeof(lsl_native);
    case UP_CALLINFO: return sizeof(lsl_callinfo);
    case UP_WEAKINFO: return sizeof(lsl_weakinfo);
    default: return 0;                          /* not checked */
  }
}

/* The isolate userdata at 'idx' if it is exactly 'li' (NULL never is). */
static inline int lsl_isiso(lua_State *L, int idx, const lsl_isolate *li) {
  const lsl_isolate *p = (const lsl_isolate *)lua_touserdata(L, idx);
  return p == li && p != NULL && lua_rawlen(L, idx) == sizeof *p &&
         p->tag == lsl_tag(UP_ISOLATE);
}

/* The userdata at 'idx' if it is of type 'up': its size and tag match and, for a
** handle, what keeps its isolate alive still does (a Local's metatable holds it
** at [1], another handle's user value 1 is it). The last check is what makes
** 'li' safe to follow: debug.setmetatable or debug.setuservalue could have let
** the isolate be collected, and then 'li' would point to freed memory. */
static inline void *lsl_testud(lua_State *L, int idx, int up) {
  lsl_head *p = (lsl_head *)lua_touserdata(L, idx);
  int ok;
  if (p == NULL || lua_rawlen(L, idx) != lsl_udsize(up) || p->tag != lsl_tag(up)) return NULL;
  if (up == UP_ISOLATE) return p;
  if (up == UP_LOCAL) {
    if (!lua_getmetatable(L, idx)) return NULL;
    lua_rawgeti(L, -1, 1);
    ok = lsl_isiso(L, -1, p->li);
    lua_pop(L, 2);
    return ok ? p : NULL;
  }
  lua_getiuservalue(L, idx, UV_ISO);
  ok = lsl_isiso(L, -1, p->li);
  lua_pop(L, 1);
  return ok ? p : NULL;
}

/* A Local of the live isolate 'li' at 'idx' (an argument beside self), or NULL.
** No user value check: 'li' is alive (the caller holds it), so a Local whose 'li'
** equals it points to live memory whatever its metatable says. */
static inline lsl_local *lsl_tolocalof(lua_State *L, int idx, const lsl_isolate *li) {
  lsl_local *p = (lsl_local *)lua_touserdata(L, idx);
  return p != NULL && lua_rawlen(L, idx) == sizeof *p && p->tag == lsl_tag(UP_LOCAL) &&
         p->li == li ? p : NULL;
}

/* Why 'li->iso' is NULL: 'msg' (disposed), or a worker runs (lslweak.c). Every
** check of the binding reads 'li->iso', so a worker needs no check of its own. */
#define lsl_gone(li, msg) ((li)->worker_iso != NULL ? LSL_WORKER_MSG : (msg))
/* 1 once the isolate of 'li' is disposed (not while a worker runs). */
#define lsl_disposed(li) ((li)->iso == NULL && (li)->worker_iso == NULL)

/* Lua allocations may run finalizers, and a finalizer may dispose the isolate:
** re-check right before the core call that follows them. */
#define lsl_stilllive(L, li, op) \
  do { if ((li)->iso == NULL) \
         return lsl_argerror(L, 1, (op), lsl_gone(li, "isolate is disposed")); } while (0)

/* A live isolate at 'arg'. */
static inline lsl_isolate *lsl_checkiso(lua_State *L, int arg, const char *op) {
  lsl_isolate *li = (lsl_isolate *)lsl_testud(L, arg, UP_ISOLATE);
  if (li == NULL) { lsl_typeerror(L, arg, op, ISOLATE_MT); return NULL; }  /* does not return */
  if (li->iso == NULL) lsl_argerror(L, arg, op, lsl_gone(li, "isolate is disposed"));
  return li;
}

/* Strict: a string that looks like a number is still a wrong type here. */
static inline lua_Integer lsl_checkint(lua_State *L, int arg, const char *op) {
  int isnum = 0;
  lua_Integer v = lua_type(L, arg) == LUA_TNUMBER ? lua_tointegerx(L, arg, &isnum) : 0;
  if (!isnum) {
    if (lua_type(L, arg) == LUA_TNUMBER)
      lsl_argerror(L, arg, op, "number has no integer representation");
    lsl_typeerror(L, arg, op, "integer");
  }
  return v;
}

/* After every call that created a handle: the watch hook may have fired (and
** the 'warn' function it calls may dispose the isolate: then 'op' raises). */
static inline void lsl_flushwatch(lua_State *L, lsl_isolate *li, const char *op) {
  if (li->watch_pending) lsl_flushwatch_(L, li, op);
}

#endif
