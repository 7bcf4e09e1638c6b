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
*/
#ifndef SCOPELAB_H
#define SCOPELAB_H

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__) && defined(__x86_64__) && !defined(SL_NO_SIMD)
#include <emmintrin.h>  /* sl__put_local: a Local in one store */
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define SL_VERSION "0.1.0"

typedef struct sl_isolate sl_isolate;
typedef struct sl_object sl_object;     /* opaque: never dereference */
typedef struct slG_node slG_node;       /* opaque: a persistent/probe node */

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
const char *sl_last_error(const sl_isolate *iso);
sl_status sl_last_status(const sl_isolate *iso);
/* A short constant name for a status ("no scope", "stale handle", ...). */
const char *sl_status_name(sl_status st);

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
void sl_options_init(sl_options *o);
/* NULL if 'o' is acceptable, else a message saying which field is wrong. */
const char *sl_options_check(const sl_options *o);

/* NULL only when the options are invalid (see sl_options_check) or memory ran out. */
sl_isolate *sl_isolate_new(const sl_options *opts);
/* Frees everything. Refused (SL_ESTATE) from inside a weak callback or hook. */
sl_status sl_isolate_dispose(sl_isolate *iso);

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

#define SL_EMPTY_LOCAL ((sl_local){ NULL, 0 })
static inline int sl_local_is_empty(sl_local h) { return h.slot == NULL; }

typedef enum sl_kind {
  SL_INTEGER = 1, SL_NUMBER, SL_STRING, SL_ARRAY
} sl_kind;
const char *sl_kind_name(sl_kind k);   /* "integer", "number", ... */

typedef enum sl_generation { SL_YOUNG = 1, SL_OLD } sl_generation;

/* Each creates a new Local in the innermost open handle scope. sl_integer,
** sl_number and sl_array (n empty slots) are inline (end of header). */
/* sl_string copies 'len' bytes; they may be another string's (sl_string_value). */
sl_status sl_string(sl_isolate *iso, const char *bytes, size_t len, sl_local *out);
/* A new Local in the innermost scope for the same object (empty stays empty).
** sl_local_new is inline (see the end of this header). */

/* SL_OK if 'h' is a live, non-empty Local of this isolate, else why not. */
sl_status sl_local_check(sl_isolate *iso, sl_local h);

sl_status sl_kind_of(sl_isolate *iso, sl_local h, sl_kind *out);
sl_status sl_integer_value(sl_isolate *iso, sl_local h, int64_t *out);
sl_status sl_number_value(sl_isolate *iso, sl_local h, double *out);
/* The bytes stay valid until the next call that may allocate or collect. */
sl_status sl_string_value(sl_isolate *iso, sl_local h, const char **bytes, size_t *len);
sl_status sl_array_length(sl_isolate *iso, sl_local h, size_t *out);
/* 0-based; an empty element gives an empty Local. */
/* sl_array_get(iso, a, i, &out) is inline (end of header). */
/* sl_array_unpack(iso, a, i, n, out): elements i..i+n-1 as n new Locals in out[]
** (empty Locals for empty elements): n reads for one check of 'a'. Inline for
** n <= 4 (end of header). */
/* sl_array_from(iso, n, elems, &out): a new array of the n objects elems[0..n-1]
** refer to (an empty Local gives an empty element); any stale or foreign element
** fails it before anything is allocated. Inline for n <= 4 (end of header). */
/* 0-based; 'v' may be empty (clears the element). Runs the write barrier. */
/* sl_array_set(iso, a, i, v) is inline (end of header). */
sl_status sl_identity(sl_isolate *iso, sl_local h, uint64_t *out);
sl_status sl_address(sl_isolate *iso, sl_local h, uintptr_t *out);
sl_status sl_generation_of(sl_isolate *iso, sl_local h, sl_generation *out);
/* *out = 1 when both refer to the same object (or both are empty). */
sl_status sl_same(sl_isolate *iso, sl_local a, sl_local b, int *out);

/* Live Local slots across all open scopes (V8's NumberOfHandles). */
size_t sl_number_of_handles(const sl_isolate *iso);

/* ------------------------------------------------------------------ scopes */

typedef enum sl_scope_kind {
  SL_SCOPE_HANDLE = 1, SL_SCOPE_ESCAPABLE, SL_SCOPE_SEAL
} sl_scope_kind;

/* A token for an open scope; the isolate keeps the saved next/limit. Copyable:
** any copy closes the scope, and every copy knows when it has been closed. */
typedef struct sl_scope {
  sl_isolate *iso;
  uint64_t stamp;      /* the scope's serial (unique in this isolate) << 20 | its
                          1-based depth on the scope stack; read it with
                          sl_scope_token_depth / sl_scope_token_serial */
} sl_scope;

/* sl_scope_open(iso, &out) and sl_scope_close(&s) are inline (end of header). */
/* Reserves the escape slot in the current (parent) scope, then opens. */
/* sl_escapable_scope_open(iso, &out) is inline (end of header). */
sl_status sl_seal_scope_open(sl_isolate *iso, sl_scope *out);
/* A handle scope that refuses its (capacity+1)-th handle with SL_ECAPACITY. */
sl_status sl_scope_open_capacity(sl_isolate *iso, size_t capacity, sl_scope *out);
/* sl_scope_close: only the innermost open scope may close (SL_EORDER otherwise). */
/* Copies 'h' into the reserved parent slot; *out is a Local of the parent scope.
** An empty 'h' escapes as empty. A second escape is SL_EESCAPE. */
/* sl_scope_escape(s, h, &out) is inline (end of header). */
/* 1 while the scope is open. */
int sl_scope_is_open(const sl_scope *s);

/* Tags for diagnostics: an opaque number the embedder maps to a source site. */
sl_status sl_scope_set_site(sl_scope *s, uint32_t site);

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
uint32_t sl_scope_depth(const sl_isolate *iso);
/* depth in 1..sl_scope_depth(). */
sl_status sl_scope_info_at(const sl_isolate *iso, uint32_t depth, sl_scope_info *out);
/* A token for the open scope at 'depth' (1..sl_scope_depth()), e.g. to close
** scopes an error unwound past, innermost first. SL_EARG for any other depth. */
sl_status sl_scope_at(sl_isolate *iso, uint32_t depth, sl_scope *out);
/* Where a token's scope sits (or sat) on the stack, and its serial. */
#define sl_scope_token_depth(s) ((uint32_t)((s)->stamp & SL__DEPTH_MASK))
#define sl_scope_token_serial(s) ((s)->stamp >> SL__DEPTH_BITS)
/* Where a Local lives: its scope depth and serial (works for stale Locals too). */
void sl_local_scope(sl_local h, uint32_t *depth, uint64_t *serial);

/* Soft watch: calls 'hook' once per scope when the scope's own handle count first
** exceeds 'threshold' (0 turns the watch off). The hook may not call the API. */
typedef void (*sl_watch_hook)(sl_isolate *iso, const sl_scope_info *scope, void *ud);
void sl_watch_handles(sl_isolate *iso, size_t threshold, sl_watch_hook hook, void *ud);

/* ------------------------------------------------------------------ persistent */

/* A persistent (global) handle: a node that outlives every scope. Copyable by value;
** the node is freed by sl_persistent_delete. A stale copy is detected by 'serial'. */
typedef struct sl_persistent {
  slG_node *node;
  uint64_t serial;
} sl_persistent;

typedef void (*sl_weak_callback)(sl_isolate *iso, sl_persistent p, void *param);

/* A new strong node holding h's object (empty if h is empty). */
sl_status sl_persistent_new(sl_isolate *iso, sl_local h, sl_persistent *out);
/* Re-targets the node to h's object (or empty), strong again (V8's Reset). */
sl_status sl_persistent_reset(sl_isolate *iso, sl_persistent p, sl_local h);
/* Frees the node; any copy of 'p' becomes invalid (SL_EARG). */
sl_status sl_persistent_delete(sl_isolate *iso, sl_persistent p);
/* A new Local in the innermost scope (empty when the node is empty). */
sl_status sl_persistent_get(sl_isolate *iso, sl_persistent p, sl_local *out);
sl_status sl_persistent_is_empty(sl_isolate *iso, sl_persistent p, int *out);
/* Weak: not a root. When a collection finds the object dead the node is emptied,
** then, after the collection, 'cb' (may be NULL) runs once with 'param', in the
** order nodes were made weak. Callbacks may use the whole API; a callback whose
** node an earlier callback deleted, reset or made weak/strong again is skipped. */
sl_status sl_persistent_set_weak(sl_isolate *iso, sl_persistent p,
                                 sl_weak_callback cb, void *param);
sl_status sl_persistent_clear_weak(sl_isolate *iso, sl_persistent p, void **param);
sl_status sl_persistent_is_weak(sl_isolate *iso, sl_persistent p, int *out);
sl_status sl_persistent_set_site(sl_isolate *iso, sl_persistent p, uint32_t site);
sl_status sl_persistent_site(sl_isolate *iso, sl_persistent p, uint32_t *site);

/* ------------------------------------------------------------------ eternal */

sl_status sl_eternal_new(sl_isolate *iso, sl_local h, size_t *index);
/* A new Local in the innermost scope for eternal 'index'. */
sl_status sl_eternal_get(sl_isolate *iso, size_t index, sl_local *out);
size_t sl_eternal_count(const sl_isolate *iso);

/* ------------------------------------------------------------------ probes */

typedef struct sl_probe {
  slG_node *node;
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

sl_status sl_probe_new(sl_isolate *iso, sl_local h, sl_probe *out);
sl_status sl_probe_info_of(sl_isolate *iso, sl_probe p, sl_probe_info *out);
/* A new Local for a live probe's object (empty when dead). */
sl_status sl_probe_get(sl_isolate *iso, sl_probe p, sl_local *out);
sl_status sl_probe_delete(sl_isolate *iso, sl_probe p);

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
sl_status sl_collect(sl_isolate *iso, int kinds, sl_gc_stats *out);

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

void sl_heap_stats_of(const sl_isolate *iso, sl_heap_stats *out);

/* SL_OK, or SL_ECORRUPT with the first broken invariant in sl_last_error(). */
sl_status sl_verify_heap(sl_isolate *iso);

/* ------------------------------------------------------------------ observing */

/* After every collection (before weak callbacks). Must not call the API. */
typedef void (*sl_gc_hook)(sl_isolate *iso, const sl_gc_stats *st, void *ud);
void sl_set_gc_hook(sl_isolate *iso, sl_gc_hook hook, void *ud);

/* For every object that moves, during a collection. Must not call the API. */
typedef void (*sl_move_hook)(sl_isolate *iso, uint64_t id, uintptr_t from,
                             uintptr_t to, uint64_t collection, void *ud);
void sl_set_move_hook(sl_isolate *iso, sl_move_hook hook, void *ud);

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
void sl_heap_foreach(sl_isolate *iso, sl_object_visitor cb, void *ud);

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
sl_status sl_retaining_path(sl_isolate *iso, uint64_t id, sl_path *path);
void sl_path_free(sl_path *path);

/* Every root slot that holds an object. Returning non-zero stops the walk. */
typedef int (*sl_root_visitor)(const sl_root_info *r, const sl_object_info *o, void *ud);
void sl_roots_foreach(sl_isolate *iso, sl_root_visitor cb, void *ud);

/* Every persistent node in use (empty ones included), in creation order of
** their blocks. 'id' is 0 for an empty node. Returning non-zero stops the walk. */
typedef int (*sl_persistent_visitor)(sl_persistent p, uint32_t site, int weak,
                                     uint64_t id, void *ud);
void sl_persistent_foreach(sl_isolate *iso, sl_persistent_visitor cb, void *ud);

/* ------------------------------------------------------------------ internals */

/*
** What the inline fast paths need to see of an isolate, as V8 exposes its
** Internals: an isolate begins with this handle-scope data. The layout may
** change between versions: use the functions, never these fields.
*/
typedef struct sl__scope_record {
  /* Saved fields are not laid out in the order of their sources: a compiler
  ** would otherwise copy next/limit as one 16-byte load, which stalls on the
  ** 8-byte store of 'next' by the previous close (store forwarding). */
  uint64_t stamp;             /* this scope's serial << 20 | depth: Locals made
                                 in it carry it, and so does its token */
  sl_object **prev_next;      /* restored on close; an escapable scope's slot,
                                 reserved just before, is prev_next[-1] */
  uint64_t meta;              /* kind (bits 0-7), SL__SCOPE_* flags, site << 32 */
  sl_object **prev_limit;
} sl__scope_record;           /* 32 bytes: a shift finds the record of a depth */

#define SL__SCOPE_KIND 0xffu
#define SL__SCOPE_ESCAPED (1u << 8)   /* the escape slot has been filled */
#define SL__SCOPE_CHECKED (1u << 9)   /* capacity-checked */
#define SL__SCOPE_WATCHED (1u << 10)  /* the handle watch fired for it */

/* Everything the inline paths read. The depth is the stamp's low bits, so
** opening a scope writes its record, the serial and the stamp, and closing
** restores next and the stamp: V8's three words plus the stale-Local check. */
#define SL__HANDLE_DATA_FIELDS                                                  \
  sl_object **next, **limit;  /* the live slots end at 'next' */                \
  uint64_t stamp;             /* the innermost scope's stamp (0: none open) */  \
  sl__scope_record *scopes;   /* depth d is scopes[d - 1]; scopes[-1] is a   */ \
                              /* sentinel whose stamp is 0 */                   \
  uint64_t serial;            /* last scope serial handed out */                \
  uint32_t open_limit;        /* scopes open inline while depth < open_limit */ \
  int zap;                    /* zap freed slots: close takes the slow path */

typedef struct sl__handle_data { SL__HANDLE_DATA_FIELDS } sl__handle_data;

/* A semispace: objects are bumped in at 'top'. */
typedef struct sl__space { char *start, *top, *end; } sl__space;

/* The start of every isolate: what the allocation and handle fast paths touch. */
typedef struct sl__isolate_head {
  sl__space young;            /* from-space: where new objects are allocated */
  uint64_t gc_trigger;        /* stress: collect before the object whose
                                 identity reaches it */
  uint64_t next_id;           /* the identity of the next object; identities
                                 count allocations from 1 */
  sl__handle_data hs;         /* last: the isolate's own handle data continues it */
} sl__isolate_head;

#define SL__HS(iso) (&((sl__isolate_head *)(iso))->hs)

#define SL__DEPTH_BITS 20
#define SL__DEPTH_MASK ((((uint64_t)1) << SL__DEPTH_BITS) - 1)

/* An object's header (csrc/core/slcore.h has the same layout). */
typedef struct sl__object_header {
  uint32_t meta;              /* kind (bits 0-7), flags (8-15), age (16-23) */
  uint32_t length;            /* string bytes or array slots */
  uint64_t id;
} sl__object_header;

#define SL__KIND_MASK 0xffu
#define SL__REMEMBERED (1u << 10)  /* an old array in the remembered set */
#define SL__OLD (1u << 11)         /* lives in the old generation */

sl_status sl__local_new_slow(sl_isolate *iso, sl_local h, sl_local *out);
sl_status sl__scope_open_slow(sl_isolate *iso, sl_scope *out);
sl_status sl__scope_close_slow(sl_scope *s);
sl_status sl__escapable_scope_open_slow(sl_isolate *iso, sl_scope *out);
sl_status sl__scope_escape_slow(sl_scope *s, sl_local h, sl_local *out);
sl_status sl__array_get_slow(sl_isolate *iso, sl_local a, size_t i, sl_local *out);
sl_status sl__array_set_slow(sl_isolate *iso, sl_local a, size_t i, sl_local v);

sl_status sl__integer_slow(sl_isolate *iso, int64_t v, sl_local *out);
sl_status sl__number_slow(sl_isolate *iso, double v, sl_local *out);
sl_status sl__array_slow(sl_isolate *iso, size_t n, sl_local *out);
sl_status sl__array_from_slow(sl_isolate *iso, size_t n, const sl_local *elems, sl_local *out);
sl_status sl__array_unpack_slow(sl_isolate *iso, sl_local a, size_t i, size_t n, sl_local *out);

/* For the fast paths a compiler would otherwise call out of line: inlined, a
** constant 'n' unrolls them and the Locals passed stay in registers. */
#if defined(__GNUC__)
#define SL__ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define SL__ALWAYS_INLINE static inline
#endif

/* Writes a Local as one 16-byte store where the target has one: callers copy
** the struct they just got with a 16-byte load, which cannot be forwarded from
** two 8-byte stores and stalls until they reach the cache (binary-trees lost a
** quarter of its time to that). SL_NO_SIMD selects plain stores (the static
** analysers cannot see fields written by a vector store). */
static inline void sl__put_local(sl_local *out, sl_object **slot, uint64_t stamp) {
#if defined(__SSE2__) && defined(__x86_64__) && !defined(SL_NO_SIMD)
  _mm_storeu_si128((__m128i *)(void *)out,
                   _mm_set_epi64x((long long)stamp, (long long)(uintptr_t)slot));
#else
  out->slot = slot;
  out->stamp = stamp;
#endif
}

/* Allocation fast path: a slot in the innermost scope and a bump in the young
** semispace. NULL (nothing changed) when either is full or a stress
** collection is due: the slow path handles those. */
static inline sl__object_header *sl__bump(sl_isolate *iso, size_t size, uint32_t kind,
                                          uint32_t length, sl_local *out) {
  sl__isolate_head *h = (sl__isolate_head *)iso;
  sl_object **s = h->hs.next;
  char *p = h->young.top;
  if (s == h->hs.limit || (size_t)(h->young.end - p) < size || h->next_id >= h->gc_trigger)
    return NULL;
  sl__object_header *o = (sl__object_header *)p;
  h->young.top = p + size;
  o->meta = kind;
  o->length = length;
  o->id = h->next_id++;
  *s = (sl_object *)o;
  h->hs.next = s + 1;
  sl__put_local(out, s, h->hs.stamp);
  return o;
}

static inline sl_status sl_integer(sl_isolate *iso, int64_t v, sl_local *out) {
  sl__object_header *o = sl__bump(iso, sizeof *o + 8, SL_INTEGER, 0, out);
  if (o == NULL) return sl__integer_slow(iso, v, out);
  *(int64_t *)(void *)(o + 1) = v;
  return SL_OK;
}

static inline sl_status sl_number(sl_isolate *iso, double v, sl_local *out) {
  sl__object_header *o = sl__bump(iso, sizeof *o + 8, SL_NUMBER, 0, out);
  if (o == NULL) return sl__number_slow(iso, v, out);
  *(double *)(void *)(o + 1) = v;
  return SL_OK;
}

/* Fills the n <= 4 elements of a new small array. The stores are spelled
** out: a loop here compiles to a memset call. */
static inline void sl__fill_small(sl__object_header *o, size_t n, sl_object *v0,
                                  sl_object *v1, sl_object *v2, sl_object *v3) {
  sl_object **e = (sl_object **)(void *)(o + 1);
  if (n > 0) e[0] = v0;
  if (n > 1) e[1] = v1;
  if (n > 2) e[2] = v2;
  if (n > 3) e[3] = v3;
}

/* Small arrays inline; larger ones (and every failure) out of line. */
static inline sl_status sl_array(sl_isolate *iso, size_t n, sl_local *out) {
  sl__object_header *o = n <= 4 ? sl__bump(iso, sizeof *o + n * sizeof(sl_object *),
                                           SL_ARRAY, (uint32_t)n, out) : NULL;
  if (o == NULL) return sl__array_slow(iso, n, out);
  sl__fill_small(o, n, NULL, NULL, NULL, NULL);
  return SL_OK;
}


#define SL__STAMP_DEPTH(st) ((uint32_t)((st) & SL__DEPTH_MASK))

/* A non-empty Local whose scope is still open (the object is not checked): the
** record at its depth must be open and still carry its stamp. Most Locals
** belong to the innermost scope, whose stamp the isolate holds. With no scope
** open that stamp is 0, which a Local with a zeroed stamp must not match (d). */
static inline int sl__live(const sl__handle_data *hs, sl_local h) {
  uint32_t d = SL__STAMP_DEPTH(h.stamp);
  return h.slot != NULL &&
         ((h.stamp == hs->stamp && d != 0) ||
          (d - 1u < SL__STAMP_DEPTH(hs->stamp) && hs->scopes[d - 1].stamp == h.stamp));
}

/* Creating a Local: check the source's stamp, then a pointer bump and a store. */
static inline sl_status sl_local_new(sl_isolate *iso, sl_local h, sl_local *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (s != hs->limit && sl__live(hs, h) && *h.slot != NULL) {
    *s = *h.slot;
    hs->next = s + 1;
    sl__put_local(out, s, hs->stamp);
    return SL_OK;
  }
  return sl__local_new_slow(iso, h, out);
}

/* Pushes a scope record saving next/limit under a fresh stamp (no checks). */
static inline sl__scope_record *sl__push_scope(sl__handle_data *hs, sl_isolate *iso,
                                               uint8_t kind, sl_scope *out) {
  uint32_t d = SL__STAMP_DEPTH(hs->stamp);
  sl__scope_record *r = &hs->scopes[d];
  uint64_t stamp = (++hs->serial << SL__DEPTH_BITS) | (d + 1);
  r->stamp = stamp;
  r->prev_next = hs->next;
  r->meta = kind;
  r->prev_limit = hs->limit;
  hs->stamp = stamp;
  out->iso = iso;
  out->stamp = stamp;
  return r;
}

/* Opening a scope: save next/limit on the scope stack under a new stamp. */
static inline sl_status sl_scope_open(sl_isolate *iso, sl_scope *out) {
  sl__handle_data *hs = SL__HS(iso);
  if (SL__STAMP_DEPTH(hs->stamp) >= hs->open_limit) return sl__scope_open_slow(iso, out);
  sl__push_scope(hs, iso, SL_SCOPE_HANDLE, out);
  return SL_OK;
}

/* Opening an escapable scope: reserve the escape slot in the parent, then open.
** A full block, no open scope or a sealed level (next == limit) take the slow path. */
static inline sl_status sl_escapable_scope_open(sl_isolate *iso, sl_scope *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (s == hs->limit || SL__STAMP_DEPTH(hs->stamp) >= hs->open_limit)
    return sl__escapable_scope_open_slow(iso, out);
  *s = NULL;
  hs->next = s + 1;
  sl__push_scope(hs, iso, SL_SCOPE_ESCAPABLE, out);
  return SL_OK;
}

/* Escaping: copy the object into the slot reserved in the parent; the new
** Local carries the parent's stamp. */
static inline sl_status sl_scope_escape(sl_scope *s, sl_local h, sl_local *out) {
  sl__handle_data *hs = SL__HS(s->iso);
  uint32_t d = SL__STAMP_DEPTH(s->stamp);
  if (d - 1u < SL__STAMP_DEPTH(hs->stamp) && sl__live(hs, h) && *h.slot != NULL) {
    sl__scope_record *r = &hs->scopes[d - 1];
    if (r->stamp == s->stamp &&
        (r->meta & (SL__SCOPE_KIND | SL__SCOPE_ESCAPED)) == SL_SCOPE_ESCAPABLE) {
      sl_object **slot = r->prev_next - 1;
      *slot = *h.slot;
      r->meta |= SL__SCOPE_ESCAPED;
      sl__put_local(out, slot, r[-1].stamp);
      return SL_OK;
    }
  }
  return sl__scope_escape_slow(s, h, out);
}

/* The object a Local that passed sl__live refers to, NULL for an empty one. */
#define SL__DEREF(h) ((h).slot != NULL ? *(h).slot : NULL)

/* An array holding the objects of 'elems' (V8's Array::New with elements):
** one check per element, no barrier (the array is new). Small ones inline. */
SL__ALWAYS_INLINE sl_status sl_array_from(sl_isolate *iso, size_t n, const sl_local *elems,
                                          sl_local *out) {
  const sl__handle_data *hs = SL__HS(iso);
  if (n <= 4) {
    size_t i;
    for (i = 0; i < n; i++)
      if (elems[i].slot != NULL && (!sl__live(hs, elems[i]) || *elems[i].slot == NULL)) break;
    if (i == n) {
      /* read first: 'out' may be one of 'elems' (the inline bump moves nothing) */
      sl_object *v0 = n > 0 ? SL__DEREF(elems[0]) : NULL, *v1 = n > 1 ? SL__DEREF(elems[1]) : NULL;
      sl_object *v2 = n > 2 ? SL__DEREF(elems[2]) : NULL, *v3 = n > 3 ? SL__DEREF(elems[3]) : NULL;
      sl__object_header *o = sl__bump(iso, sizeof *o + n * sizeof(sl_object *), SL_ARRAY,
                                      (uint32_t)n, out);
      if (o != NULL) {
        sl__fill_small(o, n, v0, v1, v2, v3);
        return SL_OK;
      }
    }
  }
  return sl__array_from_slow(iso, n, elems, out);
}

/* Reading an element: a new Local in the innermost scope (empty for an empty one). */
static inline sl_status sl_array_get(sl_isolate *iso, sl_local a, size_t i, sl_local *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (s != hs->limit && sl__live(hs, a)) {
    const sl__object_header *o = (const sl__object_header *)*a.slot;
    if (o != NULL && (o->meta & SL__KIND_MASK) == SL_ARRAY && i < o->length) {
      sl_object *v = ((sl_object *const *)(o + 1))[i];
      if (v == NULL) {
        sl__put_local(out, NULL, 0);
        return SL_OK;
      }
      *s = v;
      hs->next = s + 1;
      sl__put_local(out, s, hs->stamp);
      return SL_OK;
    }
  }
  return sl__array_get_slow(iso, a, i, out);
}

/* Reading n <= 4 elements: one check of 'a', then a slot per non-empty element. */
SL__ALWAYS_INLINE sl_status sl_array_unpack(sl_isolate *iso, sl_local a, size_t i, size_t n,
                                            sl_local *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (n <= 4 && (size_t)(hs->limit - s) >= n && sl__live(hs, a)) {
    const sl__object_header *o = (const sl__object_header *)*a.slot;
    if (o != NULL && (o->meta & SL__KIND_MASK) == SL_ARRAY && n <= o->length &&
        i <= o->length - n) {
      sl_object *const *e = (sl_object *const *)(const void *)(o + 1) + i;
      uint64_t stamp = hs->stamp;
      for (size_t k = 0; k < n; k++) {
        if (e[k] == NULL) {
          sl__put_local(&out[k], NULL, 0);
        } else {
          *s = e[k];
          sl__put_local(&out[k], s, stamp);
          s++;
        }
      }
      hs->next = s;
      return SL_OK;
    }
  }
  return sl__array_unpack_slow(iso, a, i, n, out);
}

/* Writing an element; only an old array that gets a young value and is not yet
** remembered needs the write barrier's slow path. */
static inline sl_status sl_array_set(sl_isolate *iso, sl_local a, size_t i, sl_local v) {
  sl__handle_data *hs = SL__HS(iso);
  if (sl__live(hs, a) && (v.slot == NULL || sl__live(hs, v))) {
    sl__object_header *o = (sl__object_header *)*a.slot;
    const sl__object_header *val = v.slot ? (const sl__object_header *)*v.slot : NULL;
    if (o != NULL && (o->meta & SL__KIND_MASK) == SL_ARRAY && i < o->length &&
        (v.slot == NULL || val != NULL) &&
        (val == NULL || !(o->meta & SL__OLD) || (val->meta & SL__OLD) ||
         (o->meta & SL__REMEMBERED))) {
      sl_object **elements = (sl_object **)(void *)(o + 1);
      elements[i] = (sl_object *)val;  // cppcheck-suppress unreadVariable ; the heap keeps it
      return SL_OK;
    }
  }
  return sl__array_set_slow(iso, a, i, v);
}

/* Closing the innermost scope that grew no block: restore next and the stamp.
** A closed token no longer matches the stamp: closing it again is an error. */
static inline sl_status sl_scope_close(sl_scope *s) {
  sl__handle_data *hs = SL__HS(s->iso);
  if (s->stamp == hs->stamp && !hs->zap) {
    /* signed: a zeroed token with no scope open lands on the sentinel */
    sl__scope_record *r = hs->scopes + ((ptrdiff_t)SL__STAMP_DEPTH(s->stamp) - 1);
    if ((r->meta & SL__SCOPE_KIND) != SL_SCOPE_SEAL && hs->limit == r->prev_limit) {
      hs->next = r->prev_next;
      hs->stamp = r[-1].stamp;
      return SL_OK;
    }
  }
  return sl__scope_close_slow(s);
}

#ifdef __cplusplus
}
#endif

#endif
