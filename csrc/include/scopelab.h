/*
** scopelab.h: the public C API of scopelab.
**
** An isolate owns a generational moving heap (a copying young generation and a
** sliding mark-compact old generation with a write barrier) and the handles that
** native code uses to refer into it:
**
**   Local handles      slots in block-allocated handle scopes (V8's HandleScope)
**   escapable scopes   one slot reserved in the parent so a value outlives the scope
**   seal scopes        no handle may be created in the sealed level
**   persistent handles nodes that outlive every scope until reset; may be weak
**   eternal handles    roots that live as long as the isolate
**   probes             observers that see an object move and die, never keep it alive
**
** Every function that can fail returns an sl_status; on failure the isolate keeps a
** message for sl_last_error(). Misuse never aborts and never corrupts the isolate.
** Raw object pointers are never exposed: an object may move at every allocation.
**
** Threads: an isolate has no lock. Two isolates may run in two threads at once,
** but one isolate must be used by one thread at a time (V8 asks for a Locker).
**
** Read this file top to bottom: every call has its prototype and a one-line doc
** in its section. The calls marked "inline" are defined, with the layout they
** read, in scopelab_internal.h (included at the end), as V8 keeps its Internals
** in v8-internal.h: never touch what is named sl__ there.
*/
#ifndef SCOPELAB_H
#define SCOPELAB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ version */

#define SL_VERSION_MAJOR 0
#define SL_VERSION_MINOR 2
#define SL_VERSION_PATCH 0
#define SL_VERSION "0.2.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if tests. */
#define SL_VERSION_NUM (SL_VERSION_MAJOR * 10000 + SL_VERSION_MINOR * 100 + SL_VERSION_PATCH)

/* The ABI: the inline calls below compile the isolate's layout into the program
** that uses them, so every change of that layout bumps this number, and with it
** the shared library's soname (libscopelab.so.<SL_ABI_VERSION>). */
#define SL_ABI_VERSION 3

/* Exported from the shared library (everything else in it is hidden). */
#if defined(__GNUC__)
#define SL_API __attribute__((visibility("default")))
#else
#define SL_API
#endif

/* The version of the library linked in ("0.2.0"): compare with SL_VERSION. */
SL_API const char *sl_version(void);
/* The ABI of the library linked in: must equal SL_ABI_VERSION. */
SL_API int sl_abi_version(void);

typedef struct sl_isolate sl_isolate;
typedef struct sl_object sl_object;     /* opaque: never dereference */
typedef struct sl_node sl_node;         /* opaque: a persistent or probe node */

/* ------------------------------------------------------------------ status */

typedef enum sl_status {
  SL_OK = 0,
  SL_ENOSCOPE,    /* a handle was created with no handle scope open */
  SL_ESEALED,     /* a handle was created in a sealed level */
  SL_ESTALE,      /* a Local from a scope that has closed */
  SL_EESCAPE,     /* escaping twice, or from a scope that is not escapable/open */
  SL_EORDER,      /* closing a scope that is not the innermost */
  SL_EISOLATE,    /* a handle that belongs to another isolate */
  SL_ENOMEM,      /* heap exhausted (after a full collection) or malloc failed */
  SL_EARG,        /* bad argument: wrong kind, index out of range, empty handle */
  SL_ECAPACITY,   /* a capacity-checked scope is full */
  SL_ESTATE,      /* not allowed now (e.g. collecting inside a collection) */
  SL_ECORRUPT     /* the heap verifier found a broken invariant */
} sl_status;

/* The message of the last failed call on this isolate ("" if none). */
SL_API const char *sl_last_error(const sl_isolate *iso);
/* The status of the last failed call on this isolate (SL_OK if none). */
SL_API sl_status sl_last_status(const sl_isolate *iso);
/* A short constant name for a status ("no scope", "stale handle", ...). */
SL_API const char *sl_status_name(sl_status st);

/* ------------------------------------------------------------------ isolate */

typedef struct sl_options {
  size_t young_size;       /* bytes in each young semispace (0: default 1 MiB) */
  size_t old_size;         /* old-generation limit in bytes (0: default 256 MiB) */
  size_t block_size;       /* slots per handle block (0: default 1022) */
  unsigned promote_after;  /* the n-th survived scavenge promotes (0: default 2) */
  unsigned gc_interval;    /* stress: collect every N allocations (0: off) */
  int gc_interval_major;   /* stress: 0 alternates minor/major, 1 always major,
                              -1 always minor */
  int stress_compaction;   /* every major collection moves every live object */
  int verify_heap;         /* run the verifier after every collection */
  int zap_handles;         /* fill freed Local slots with a zap value on scope
                              close (sl_options_init: 1; 0 is faster) */
  const uint64_t *gc_at;   /* collect when the allocation count reaches each of */
  size_t gc_at_count;      /*   these (sorted ascending; copied at creation) */
} sl_options;

/* Fills 'o' with the defaults. */
SL_API void sl_options_init(sl_options *o);
/* NULL if 'o' is acceptable, else a message saying which field is wrong. */
SL_API const char *sl_options_check(const sl_options *o);

/* NULL only when the options are invalid (see sl_options_check) or memory ran out. */
SL_API sl_isolate *sl_isolate_new(const sl_options *opts);
/* Frees everything. Refused (SL_ESTATE) from inside a weak callback or hook. */
SL_API sl_status sl_isolate_dispose(sl_isolate *iso);

/* ------------------------------------------------------------------ locals */

/*
** A Local: the address of a slot in a handle block, plus the stamp of the scope
** that owns that slot (its depth on the scope stack and its serial number). The
** stamp is what lets every call detect a Local whose scope has closed, even after
** the slot was reused. An empty Local has slot == NULL.
*/
typedef struct sl_local {
  sl_object **slot;
  uint64_t stamp;
} sl_local;

#ifdef __cplusplus
#define SL_EMPTY_LOCAL (sl_local{ nullptr, 0 })
#else
#define SL_EMPTY_LOCAL ((sl_local){ NULL, 0 })
#endif
/* 1 for an empty Local (slot == NULL). */
static inline int sl_local_is_empty(sl_local h) { return h.slot == NULL; }

typedef enum sl_kind {
  SL_INTEGER = 1, SL_NUMBER, SL_STRING, SL_ARRAY
} sl_kind;
/* "integer", "number", "string", "array". */
SL_API const char *sl_kind_name(sl_kind k);

typedef enum sl_generation { SL_YOUNG = 1, SL_OLD } sl_generation;

/* Each constructor makes the object and a new Local for it in the innermost
** open handle scope; it may collect first, and any object may move then. */

/* inline: a boxed 64-bit integer (a heap object, V8's HeapNumber). */
static inline sl_status sl_integer(sl_isolate *iso, int64_t v, sl_local *out);
/* inline: a boxed double. */
static inline sl_status sl_number(sl_isolate *iso, double v, sl_local *out);
/* A copy of 'len' bytes; they may be another string's (sl_string_value). */
SL_API sl_status sl_string(sl_isolate *iso, const char *bytes, size_t len, sl_local *out);
/* inline for n <= 4: an array of n empty elements. */
static inline sl_status sl_array(sl_isolate *iso, size_t n, sl_local *out);
/* inline for n <= 4: an array of the n objects elems[0..n-1] refer to (V8's
** Array::New with elements; an empty Local gives an empty element). A stale or
** foreign element fails it before anything is allocated. */
static inline sl_status sl_array_from(sl_isolate *iso, size_t n, const sl_local *elems,
                                      sl_local *out);

/* inline: a new Local in the innermost scope for h's object (empty stays empty). */
static inline sl_status sl_local_new(sl_isolate *iso, sl_local h, sl_local *out);
/* SL_OK if 'h' is a live, non-empty Local of this isolate, else why not. */
SL_API sl_status sl_local_check(sl_isolate *iso, sl_local h);

/* The kind of h's object. */
SL_API sl_status sl_kind_of(sl_isolate *iso, sl_local h, sl_kind *out);
/* The value of an integer. */
SL_API sl_status sl_integer_value(sl_isolate *iso, sl_local h, int64_t *out);
/* The value of a number. */
SL_API sl_status sl_number_value(sl_isolate *iso, sl_local h, double *out);
/* A string's bytes (NUL-terminated); valid until the next call that may allocate. */
SL_API sl_status sl_string_value(sl_isolate *iso, sl_local h, const char **bytes,
                                 size_t *len);
/* The number of elements of an array. */
SL_API sl_status sl_array_length(sl_isolate *iso, sl_local h, size_t *out);
/* inline: element i (0-based) as a new Local; an empty element gives an empty Local. */
static inline sl_status sl_array_get(sl_isolate *iso, sl_local a, size_t i, sl_local *out);
/* inline for n <= 4: elements i..i+n-1 as n new Locals in out[] (empty Locals for
** empty elements): n reads for one check of 'a'. */
static inline sl_status sl_array_unpack(sl_isolate *iso, sl_local a, size_t i, size_t n,
                                        sl_local *out);
/* inline: element i (0-based) := v's object ('v' empty clears it); runs the barrier. */
static inline sl_status sl_array_set(sl_isolate *iso, sl_local a, size_t i, sl_local v);
/* The object's identity: never reused, kept across moves. */
SL_API sl_status sl_identity(sl_isolate *iso, sl_local h, uint64_t *out);
/* The object's current address (it changes when the object moves). */
SL_API sl_status sl_address(sl_isolate *iso, sl_local h, uintptr_t *out);
/* The generation h's object lives in. */
SL_API sl_status sl_generation_of(sl_isolate *iso, sl_local h, sl_generation *out);
/* *out = 1 when both refer to the same object (or both are empty). */
SL_API sl_status sl_same(sl_isolate *iso, sl_local a, sl_local b, int *out);

/* Live Local slots across all open scopes (V8's NumberOfHandles). */
SL_API size_t sl_number_of_handles(const sl_isolate *iso);

/* ------------------------------------------------------------------ scopes */

typedef enum sl_scope_kind {
  SL_SCOPE_HANDLE = 1, SL_SCOPE_ESCAPABLE, SL_SCOPE_SEAL
} sl_scope_kind;

/* A token for an open scope; the isolate keeps the saved next/limit. Copyable:
** any copy closes the scope, and every copy knows when it has been closed. */
typedef struct sl_scope {
  sl_isolate *iso;
  uint64_t stamp;      /* the scope's serial and depth: read them with
                          sl_scope_token_depth / sl_scope_token_serial */
} sl_scope;

/* inline: opens a handle scope (saves next/limit; allocates nothing). */
static inline sl_status sl_scope_open(sl_isolate *iso, sl_scope *out);
/* inline: reserves the escape slot in the current (parent) scope, then opens. */
static inline sl_status sl_escapable_scope_open(sl_isolate *iso, sl_scope *out);
/* Opens a seal scope: no handle may be created until an inner scope opens. */
SL_API sl_status sl_seal_scope_open(sl_isolate *iso, sl_scope *out);
/* A handle scope that refuses its (capacity+1)-th handle with SL_ECAPACITY. */
SL_API sl_status sl_scope_open_capacity(sl_isolate *iso, size_t capacity, sl_scope *out);
/* inline: closes the scope; only the innermost open one may close (SL_EORDER). */
static inline sl_status sl_scope_close(sl_scope *s);
/* inline: copies h's object into the slot reserved in the parent; *out is a Local
** of the parent scope. An empty 'h' escapes as empty; a second escape is SL_EESCAPE. */
static inline sl_status sl_scope_escape(sl_scope *s, sl_local h, sl_local *out);
/* 1 while the scope is open. */
SL_API int sl_scope_is_open(const sl_scope *s);
/* Tags the scope for diagnostics: an opaque number the embedder maps to a site. */
SL_API sl_status sl_scope_set_site(sl_scope *s, uint32_t site);
/* inline: where a token's scope sits (or sat) on the stack, 1-based. */
static inline uint32_t sl_scope_token_depth(const sl_scope *s);
/* inline: a token's scope serial (unique in its isolate). */
static inline uint64_t sl_scope_token_serial(const sl_scope *s);

typedef struct sl_scope_info {
  sl_scope_kind kind;
  uint32_t depth;       /* 1-based position on the scope stack */
  uint32_t level;       /* V8's level: handle scopes open up to and including it */
  uint64_t serial;
  size_t handles;       /* slots this scope owns (not counting inner scopes) */
  size_t capacity;      /* 0: unchecked */
  uint32_t site;
  int escaped;          /* escapable scopes: the escape slot has been filled */
} sl_scope_info;

/* Number of open scopes (of every kind). */
SL_API uint32_t sl_scope_depth(const sl_isolate *iso);
/* The open scope at 'depth' (1..sl_scope_depth()). */
SL_API sl_status sl_scope_info_at(const sl_isolate *iso, uint32_t depth, sl_scope_info *out);
/* Every open scope, outermost first, in one linear pass (a report over a deep
** stack); returning non-zero stops the walk. */
typedef int (*sl_scope_visitor)(const sl_scope_info *scope, void *ud);
SL_API void sl_scope_foreach(const sl_isolate *iso, sl_scope_visitor cb, void *ud);
/* A token for the open scope at 'depth' (1..sl_scope_depth()), e.g. to close
** scopes an error unwound past, innermost first. SL_EARG for any other depth. */
SL_API sl_status sl_scope_at(sl_isolate *iso, uint32_t depth, sl_scope *out);
/* Where a Local lives: its scope depth and serial (works for stale Locals too). */
SL_API void sl_local_scope(sl_local h, uint32_t *depth, uint64_t *serial);

/* Soft watch: calls 'hook' once per scope when the scope's own handle count first
** exceeds 'threshold' (0 turns the watch off). The hook may not call the API. */
typedef void (*sl_watch_hook)(sl_isolate *iso, const sl_scope_info *scope, void *ud);
SL_API void sl_watch_handles(sl_isolate *iso, size_t threshold, sl_watch_hook hook,
                             void *ud);

/* ------------------------------------------------------------------ persistent */

/* A persistent (global) handle: a node that outlives every scope. Copyable by value;
** the node is freed by sl_persistent_delete. A stale copy is detected by 'serial',
** one of another isolate by 'iso' (SL_EISOLATE; serials are also drawn from a
** per-isolate range, so a handle of a disposed isolate is refused unread). */
typedef struct sl_persistent {
  sl_isolate *iso;
  sl_node *node;
  uint64_t serial;
} sl_persistent;

typedef void (*sl_weak_callback)(sl_isolate *iso, sl_persistent p, void *param);

/* A new strong node holding h's object (empty if h is empty). */
SL_API sl_status sl_persistent_new(sl_isolate *iso, sl_local h, sl_persistent *out);
/* Re-targets the node to h's object (or empty), strong again (V8's Reset). */
SL_API sl_status sl_persistent_reset(sl_isolate *iso, sl_persistent p, sl_local h);
/* Frees the node; any copy of 'p' becomes invalid (SL_EARG). */
SL_API sl_status sl_persistent_delete(sl_isolate *iso, sl_persistent p);
/* A new Local in the innermost scope (empty when the node is empty). */
SL_API sl_status sl_persistent_get(sl_isolate *iso, sl_persistent p, sl_local *out);
/* *out = 1 when the node holds no object. */
SL_API sl_status sl_persistent_is_empty(sl_isolate *iso, sl_persistent p, int *out);
/* Weak: not a root. When a collection finds the object dead the node is emptied,
** then, after the collection, 'cb' (may be NULL) runs once with 'param', in the
** order nodes were made weak. Callbacks may use the whole API; a callback whose
** node an earlier callback deleted, reset or made weak/strong again is skipped. */
SL_API sl_status sl_persistent_set_weak(sl_isolate *iso, sl_persistent p,
                                        sl_weak_callback cb, void *param);
/* Strong again; '*param' (if not NULL) gets the parameter set_weak was given. */
SL_API sl_status sl_persistent_clear_weak(sl_isolate *iso, sl_persistent p, void **param);
/* *out = 1 while the node is weak. */
SL_API sl_status sl_persistent_is_weak(sl_isolate *iso, sl_persistent p, int *out);
/* Tags the node for diagnostics (an embedder-defined site number). */
SL_API sl_status sl_persistent_set_site(sl_isolate *iso, sl_persistent p, uint32_t site);
/* The node's site (0 if never set). */
SL_API sl_status sl_persistent_site(sl_isolate *iso, sl_persistent p, uint32_t *site);

/* ------------------------------------------------------------------ eternal */

/* A root for h's object that lives as long as the isolate; '*index' names it. */
SL_API sl_status sl_eternal_new(sl_isolate *iso, sl_local h, size_t *index);
/* A new Local in the innermost scope for eternal 'index'. */
SL_API sl_status sl_eternal_get(sl_isolate *iso, size_t index, sl_local *out);
/* Eternal handles made so far (they are never freed). */
SL_API size_t sl_eternal_count(const sl_isolate *iso);

/* ------------------------------------------------------------------ probes */

/* An observer of one object: sees it move and die, never keeps it alive. */
typedef struct sl_probe {
  sl_isolate *iso;
  sl_node *node;
  uint64_t serial;
} sl_probe;

typedef struct sl_probe_info {
  int alive;
  uintptr_t address;   /* 0 when dead */
  uint64_t moves;      /* times the object moved since the probe was made */
  uint64_t id;
  sl_kind kind;
  sl_generation generation;  /* meaningful while alive */
} sl_probe_info;

/* A probe of h's object. */
SL_API sl_status sl_probe_new(sl_isolate *iso, sl_local h, sl_probe *out);
/* What the probe has seen. */
SL_API sl_status sl_probe_info_of(sl_isolate *iso, sl_probe p, sl_probe_info *out);
/* A new Local for a live probe's object (empty when dead). */
SL_API sl_status sl_probe_get(sl_isolate *iso, sl_probe p, sl_local *out);
/* Frees the probe's node. */
SL_API sl_status sl_probe_delete(sl_isolate *iso, sl_probe p);

/* ------------------------------------------------------------------ collection */

#define SL_MINOR 1
#define SL_MAJOR 2

typedef struct sl_gc_stats {
  int kind;                  /* SL_MINOR or SL_MAJOR */
  uint64_t number;           /* 1-based count of collections of any kind */
  size_t bytes_before;       /* young + old used before */
  size_t bytes_after;
  size_t freed_bytes;
  size_t moved;              /* objects whose address changed */
  size_t promoted;           /* objects moved young -> old */
  size_t survived;           /* objects live after the collection (scanned gens) */
  size_t handles_scanned;    /* Local slots visited as roots */
  size_t nodes_scanned;      /* persistent nodes and probes visited: a scavenge
                                visits only those holding young objects */
  size_t weak_cleared;       /* weak nodes emptied */
  size_t callbacks_run;      /* weak callbacks run after this collection */
  uint64_t duration_ns;      /* the collection itself, without callbacks */
} sl_gc_stats;

/* SL_MINOR, SL_MAJOR, or both (a minor then a major; 'out' describes the major). */
SL_API sl_status sl_collect(sl_isolate *iso, int kinds, sl_gc_stats *out);

typedef struct sl_heap_stats {
  size_t handles;            /* sl_number_of_handles */
  uint32_t scope_level;      /* V8's level: open handle scopes */
  uint32_t scope_depth;      /* open scopes of every kind */
  size_t blocks;             /* handle blocks in use */
  size_t spare_blocks;       /* 0 or 1 */
  size_t block_size;
  size_t young_used, young_size;
  size_t old_used, old_size;
  size_t persistent_handles; /* non-empty persistent nodes (strong or weak) */
  size_t weak_handles;
  size_t probes;
  size_t eternal_handles;
  size_t remembered;         /* old objects in the remembered set */
  uint64_t minor_collections, major_collections;
  uint64_t allocations;      /* objects allocated since creation */
  uint64_t bytes_allocated;
  uint64_t objects_moved;    /* total moves over all collections */
  uint64_t weak_callbacks_run;
} sl_heap_stats;

/* The isolate's counters now. */
SL_API void sl_heap_stats_of(const sl_isolate *iso, sl_heap_stats *out);
/* SL_OK, or SL_ECORRUPT with the first broken invariant in sl_last_error(). */
SL_API sl_status sl_verify_heap(sl_isolate *iso);

/* ------------------------------------------------------------------ observing */

/* After every collection (before weak callbacks). Must not call the API. */
typedef void (*sl_gc_hook)(sl_isolate *iso, const sl_gc_stats *st, void *ud);
/* Installs (or, with NULL, removes) the collection hook. */
SL_API void sl_set_gc_hook(sl_isolate *iso, sl_gc_hook hook, void *ud);

/* For every object that moves, during a collection. Must not call the API. */
typedef void (*sl_move_hook)(sl_isolate *iso, uint64_t id, uintptr_t from,
                             uintptr_t to, uint64_t collection, void *ud);
/* Installs (or, with NULL, removes) the move hook. */
SL_API void sl_set_move_hook(sl_isolate *iso, sl_move_hook hook, void *ud);

typedef struct sl_object_info {
  uint64_t id;
  sl_kind kind;
  sl_generation generation;
  size_t size;          /* bytes, header included */
  size_t length;        /* string bytes or array slots; 0 for numbers */
  uintptr_t address;
} sl_object_info;

/* Every object in the heap, live or not yet collected. 'cb' must not call the API;
** returning non-zero stops the walk. */
typedef int (*sl_object_visitor)(const sl_object_info *o, void *ud);
SL_API void sl_heap_foreach(sl_isolate *iso, sl_object_visitor cb, void *ud);

typedef enum sl_root_kind {
  SL_ROOT_LOCAL = 1, SL_ROOT_PERSISTENT, SL_ROOT_ETERNAL, SL_ROOT_REMEMBERED
} sl_root_kind;

typedef struct sl_root_info {
  sl_root_kind kind;
  uint32_t depth;      /* LOCAL: scope stack depth owning the slot */
  uint32_t level;      /* LOCAL: that scope's level */
  uint32_t site;       /* LOCAL: the scope's site; PERSISTENT: the node's site */
  size_t index;        /* LOCAL: slot index within the scope (0-based);
                          PERSISTENT: node number; ETERNAL: index */
} sl_root_info;

/* Every root slot that holds an object. Returning non-zero stops the walk. */
typedef int (*sl_root_visitor)(const sl_root_info *r, const sl_object_info *o, void *ud);
SL_API void sl_roots_foreach(sl_isolate *iso, sl_root_visitor cb, void *ud);

/* The shortest chain of references from a root to the object with identity 'id'.
** steps[0] is the object the root refers to, steps[n-1] the target; index[i] is
** the element of steps[i-1] (an array) that refers to steps[i] (index[0] unused). */
typedef struct sl_path {
  sl_root_info root;
  size_t n;
  sl_object_info *steps;
  size_t *index;
} sl_path;

/* SL_OK with a path, SL_EARG if no live object has this id or none reaches it
** (then path->n == 0). Free with sl_path_free. */
SL_API sl_status sl_retaining_path(sl_isolate *iso, uint64_t id, sl_path *path);
/* Frees what sl_retaining_path allocated. */
SL_API void sl_path_free(sl_path *path);

/* Every persistent node in use (empty ones included), in creation order of
** their blocks. 'id' is 0 for an empty node. Returning non-zero stops the walk. */
typedef int (*sl_persistent_visitor)(sl_persistent p, uint32_t site, int weak,
                                     uint64_t id, void *ud);
SL_API void sl_persistent_foreach(sl_isolate *iso, sl_persistent_visitor cb, void *ud);

#ifdef __cplusplus
}
#endif

/* The layout behind the inline calls, and their bodies. */
#include "scopelab_internal.h"

#endif
