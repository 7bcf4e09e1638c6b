/* SPDX-License-Identifier: MIT */
/*
** slcore.h: the isolate and the object layout shared by the core's files.
**
** Prefixes: slI_ isolate, slO_ objects, slM_ heap, slS_ scavenger, slK_ mark-compact,
** slH_ handles, slG_ global handles, slV_ verifier, slD_ diagnostics.
*/
#ifndef SLCORE_H
#define SLCORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "scopelab.h"
#include "slconf.h"

/* ------------------------------------------------------------------ objects */

/*
** Every heap object starts with this header. 'id' is the identity; while an
** object is being moved it temporarily holds the forwarding address (the copy
** or the Lisp-2 id list keeps the identity meanwhile).
*/
struct sl_object {
  uint32_t meta;     /* kind (bits 0-7), flags (8-15), age (16-23) */
  uint32_t length;   /* string bytes, array slots, an object's internal fields,
                        a property store's slots */
  uint64_t id;
};

#define SLO_KIND(o)     ((sl_kind)((o)->meta & 0xffu))
#define SLO_FLAGS(o)    (((o)->meta >> 8) & 0xffu)
#define SLO_AGE(o)      (((o)->meta >> 16) & 0xffu)
#define SLO_FORWARDED   (1u << 8)   /* scavenger: 'id' is the new address */
#define SLO_MARKED      (1u << 9)   /* mark-compact: reached in this cycle */
#define SLO_REMEMBERED  SL__REMEMBERED  /* old object in the remembered set */
#define SLO_OLD         SL__OLD      /* in old space: lets inline code run the barrier */
#define SLO_INTERNED    SL__INTERNED  /* a string in the name table: a property key */
#define SLO_READONLY    (1u << 13)  /* a read-only root: never marked, moved or freed */
#define SLO_SET_AGE(o, a) ((o)->meta = ((o)->meta & 0xff00ffffu) | ((uint32_t)(a) << 16))

#define SLO_HEADER sizeof(sl_object)
#define SLO_ALIGN(n) (((n) + 7u) & ~(size_t)7u)

/* Largest length a string or array may have (it lives in a uint32_t). */
#define SLO_MAX_LENGTH ((size_t)UINT32_MAX)

static inline int64_t *slO_integer(sl_object *o) { return (int64_t *)(o + 1); }
static inline double *slO_number(sl_object *o) { return (double *)(o + 1); }
static inline char *slO_bytes(sl_object *o) { return (char *)(o + 1); }
static inline sl_object **slO_slots(sl_object *o) { return (sl_object **)(o + 1); }

/*
** Bodies beyond one word, all made of slots:
**   ARRAY       elements[length]
**   OBJECT      properties (a PROPERTIES store or NULL), fields[length]
**   PROPERTIES  Smi(count), then (key, value) pairs: length = 1 + 2 * capacity;
**               keys are interned strings, in insertion order
**   FUNCTION    data, name, then the callback and its native pointer (raw words)
**   EXTERNAL    the native pointer (a raw word)
** The traced slots of each kind come first, in one run (slO_refs).
*/
enum { SLO_FN_DATA, SLO_FN_NAME, SLO_FN_CALLBACK, SLO_FN_NATIVE, SLO_FN_WORDS };

/* Bytes an object of this kind and length occupies, header included. */
static inline size_t slO_size_for(sl_kind k, size_t length) {
  switch (k) {
    case SL_STRING: return SLO_HEADER + SLO_ALIGN(length + 1);  /* + NUL */
    case SL_ARRAY: case SL_PROPERTIES: return SLO_HEADER + length * sizeof(sl_object *);
    case SL_OBJECT: return SLO_HEADER + (1 + length) * sizeof(sl_object *);
    case SL_FUNCTION: return SLO_HEADER + SLO_FN_WORDS * sizeof(sl_object *);
    default: return SLO_HEADER + 8;
  }
}
static inline size_t slO_size(const sl_object *o) {
  return slO_size_for(SLO_KIND(o), o->length);
}

/*
** The walker of the object graph (object.c's, inline for the collectors' inner
** loops): an object's references are one run of slots, returned here for every
** kind, so a new kind is taught to both collectors, the verifier and the
** diagnostics in this one place (as mruby's gc_mark_children). A slot of the
** run is followed when slO_is_ref says it holds an object.
*/
static inline sl_object **slO_refs(sl_object *o, size_t *n) {
  switch (SLO_KIND(o)) {
    case SL_ARRAY: case SL_PROPERTIES: *n = o->length; return slO_slots(o);
    case SL_OBJECT: *n = 1 + (size_t)o->length; return slO_slots(o);
    case SL_FUNCTION: *n = SLO_FN_CALLBACK; return slO_slots(o);
    default: *n = 0; return NULL;
  }
}
/* A slot value that is an object (not empty, a Smi or an aligned pointer). The
** read-only roots are objects too: they are not in any space, so the
** scavenger never copies them, and the marker skips them by their flag. */
static inline int slO_is_ref(const sl_object *v) { return SL__IS_OBJECT(v); }
static inline int slO_is_readonly(const sl_object *v) { return (v->meta & SLO_READONLY) != 0; }
/* An object the collectors may move or free: a reference, not read-only. */
static inline int slO_is_heap(const sl_object *v) {
  return slO_is_ref(v) && !slO_is_readonly(v);
}

/* A property store's pairs. */
static inline size_t slO_prop_count(sl_object *props) {
  return (size_t)SL__SMI_VALUE(slO_slots(props)[0]);
}
static inline sl_object **slO_prop_pairs(sl_object *props) { return slO_slots(props) + 1; }

/* Aligned native pointers in internal fields carry tag 2 (scopelab_internal.h). */
#define SLO_POINTER_TAG ((uintptr_t)2)
static inline int slO_is_pointer(const sl_object *v) {
  return ((uintptr_t)v & SL__TAG_MASK) == SLO_POINTER_TAG;
}

void slO_info(sl_isolate *iso, sl_object *o, sl_object_info *out);
/* A new object of 'kind' and 'length' (uninitialised body beyond the header)
** and a Local for it; weak callbacks its allocation queued wait for
** slO_created, once the body is filled. */
sl_status slO_new(sl_isolate *iso, sl_kind kind, size_t length, sl_local *out,
                  sl_object **obj);
sl_status slO_created(sl_isolate *iso, const sl_local *out, const char *op);
/* The value h holds, which must be of kind 'k' (SL_EARG naming 'op' if not). */
sl_status slO_get_kind(sl_isolate *iso, sl_local h, sl_kind k, const char *op,
                       sl_object **o);

/* ------------------------------------------------------------------ spaces */

typedef sl__space slM_space;

static inline int slM_in(const slM_space *s, const void *p) {
  return (const char *)p >= s->start && (const char *)p < s->end;
}

/* ------------------------------------------------------------------ handles */

/* The stamp of a Local: the owning scope's serial and its depth on the stack. */
#define SLH_DEPTH_BITS SL__DEPTH_BITS
#define SLH_DEPTH_MASK SL__DEPTH_MASK

/* One open scope: what it must restore when it closes (public for the inline
** fast paths in scopelab.h). */
typedef sl__scope_record slH_record;

/* A record flag of the core's own (the inline push clears every flag): the
** scope's base position is cached in its side entry. */
#define SLH_SCOPE_BASE (1u << 11)
/* The HandleScope sl_call opened around a callback. */
#define SLH_SCOPE_IMPLICIT (1u << 12)
_Static_assert(((SLH_SCOPE_BASE | SLH_SCOPE_IMPLICIT) &
                (SL__SCOPE_KIND | SL__SCOPE_ESCAPED | SL__SCOPE_CHECKED |
                 SL__SCOPE_WATCHED)) == 0, "record flags must not collide");

/* What the slow paths keep per depth beside the 32-byte records. */
typedef struct slH_side {
  size_t capacity;            /* a capacity-checked scope's bound */
  size_t base;                /* with SLH_SCOPE_BASE: slots below the scope */
} slH_side;

/* Open scopes of every kind: the low bits of the innermost scope's stamp. */
#define slH_depth(hs) SL__STAMP_DEPTH((hs)->stamp)
#define slH_kind(r) ((sl_scope_kind)((r)->meta & SL__SCOPE_KIND))

/* V8's HandleScopeData plus the block list and the scope stack. Its first
** fields are sl__handle_data, which the inline fast paths read. */
typedef struct slH_data {
  SL__HANDLE_DATA_FIELDS
  uint64_t root_stamp;        /* the stamp of Locals bound to root slots: depth 0
                                 and a per-isolate serial, so never stale */
  uint32_t cap_scopes;        /* records allocated after the sentinel */
  slH_side *side;             /* [d - 1]: the slow paths' data of depth d */
  uint32_t *seals;            /* depths of the open seal scopes, ascending: V8's
                                 level of depth d is d minus the seals at or below */
  size_t nseals, cap_seals;
  slH_record *scope_base;     /* the allocation: the sentinel, then 'scopes' */
  size_t block_size;
  sl_object ***blocks;        /* blocks in use, oldest first */
  size_t nblocks, cap_blocks;
  sl_object **spare;          /* at most one cached free block */
  size_t watch;               /* soft per-scope threshold (0: off) */
  sl_watch_hook watch_hook;
  void *watch_ud;
} slH_data;

/* ------------------------------------------------------------------ global handles */

/* NEAR_DEATH: a two-pass weak node whose object died, waiting for its first
** pass to reset it (V8's state of the same name). */
enum { SLG_FREE = 0, SLG_STRONG, SLG_WEAK, SLG_PROBE, SLG_NEAR_DEATH };

typedef sl_node slG_node;   /* the public opaque name, under the module's prefix */

struct sl_node {
  sl_object *obj;             /* first, so the node's address is the root slot */
  uint64_t serial;            /* 0 while free; must match the handle's copy */
  uint8_t state;
  uint8_t kind;               /* probes: the kind, kept after death */
  uint8_t in_young;           /* on the young-node list (kept while free) */
  uint32_t site;
  uint64_t weak_order;        /* when it was made weak: callbacks run in this order */
  uint64_t epoch;             /* bumped by reset/set_weak/clear_weak: a queued
                                 callback of an older epoch is stale */
  sl_weak_callback cb;         /* single-pass weak callback, or NULL */
  sl_weak_pass first_pass;    /* two-pass weak callback, or NULL */
  uint8_t weak_type;          /* its sl_weak_type */
  void *param;
  uint64_t id;                /* probes: identity, kept after death */
  uint64_t moves;             /* probes: times the object moved */
  slG_node *next_free;
};

typedef struct slG_block {
  struct slG_block *next;
  slG_node nodes[SLC_NODE_BLOCK];
} slG_block;

typedef struct slG_pending {
  slG_node *node;
  uint64_t serial, order, epoch;
  sl_weak_callback cb;        /* a single-pass callback, run after the collection */
  sl_weak_pass first_pass;    /* or a first pass, run at its end */
  void *param;
  void *fields[2];            /* SL_WEAK_INTERNAL_FIELDS: read before the object died */
} slG_pending;

/* What a two-pass weak callback is given (V8's WeakCallbackInfo). */
struct sl_weak_info {
  sl_isolate *iso;
  void *param;
  sl_persistent handle;
  void *fields[2];
  int second;                 /* 1 in the second pass */
  sl_weak_pass next;          /* what set_second_pass asked for */
};

/* Eternal slots: blocks that never move, so a Local can be bound to a slot. */
#define SLG_ETERNAL_BLOCK 256

typedef struct slG_data {
  slG_block *blocks;          /* newest first */
  slG_node *free;
  uint64_t serial, weak_order;
  uint64_t serial_base;       /* serials of this isolate are above it */
  size_t used, probes, weak;
  sl_object ***eternals;      /* blocks of SLG_ETERNAL_BLOCK slots */
  size_t neternals, cap_eternal_blocks;
  slG_pending *pending;       /* weak callbacks due after the current collection */
  size_t npending, cap_pending;
  slG_node **young;           /* every node whose object may be young (V8's
                                 young_nodes): what a scavenge visits */
  size_t nyoung, cap_young;
  int young_all;              /* the list could not grow: scavenges walk every
                                 block until the next rebuild */
  int not_reset;              /* a first pass left its handle set */
} slG_data;

/* ------------------------------------------------------------------ calls */

/* Call frames: the receiver, arguments, return value and callee of the calls
** in progress (V8 keeps them on the stack). Chunks never move, so a Local can
** be bound to a frame slot; every used slot is a root. */
typedef struct slC_chunk {
  sl_object **slots;
  size_t size, used;
} slC_chunk;

typedef struct slC_data {
  slC_chunk *chunks;
  size_t nchunks, cap_chunks; /* chunks[0..nchunks) hold frames */
  slC_chunk spare;            /* one empty chunk kept for the next call */
  uint32_t depth;             /* calls in progress */
} slC_data;

struct sl_call_info {
  sl_isolate *iso;
  sl_object **frame;          /* receiver, arguments, return value, callee */
  size_t argc;
  uint64_t stamp;             /* the implicit scope's: the frame's Locals carry it */
  void *native;
};

/* ------------------------------------------------------------------ tasks */

typedef struct slT_task {
  sl_task_fn fn;
  void *ud;
  sl_weak_info *second;       /* a second-pass weak callback (fn NULL), owned */
} slT_task;

typedef struct slT_data {
  slT_task *q;                /* a ring: head .. head + n */
  size_t head, n, cap;
  size_t second_passes;       /* of those, second-pass callbacks */
} slT_data;

/* ------------------------------------------------------------------ names */

/* The name table: internalized strings (V8's string table), open addressing,
** weak (a full collection drops the dead and follows the moved). Names live
** in old space, so scavenges never touch the table. */
typedef struct slP_data {
  sl_object **slots;          /* NULL empty, SLP_TOMBSTONE deleted */
  size_t cap, used, live;     /* used counts tombstones too */
} slP_data;
#define SLP_TOMBSTONE ((sl_object *)(uintptr_t)1)

/* ------------------------------------------------------------------ roots */

/* The read-only roots, in the isolate's root slots. */
enum { SLI_UNDEFINED, SLI_NULL, SLI_TRUE, SLI_FALSE, SLI_NROOTS };

/* ------------------------------------------------------------------ isolate */

/* Its first fields are sl__isolate_head (scopelab.h), read by the inline fast paths. */
struct sl_isolate {
  slM_space young;            /* from-space: where new objects are allocated */
  uint64_t gc_trigger;        /* stress: collect before allocating this identity */
  uint64_t next_id;           /* objects allocated so far: next_id - 1 */
  slH_data hs;                /* the hottest fields; its prefix is sl__handle_data */
  slM_space to;               /* to-space: empty between collections */
  slM_space old;
  size_t large_size;          /* larger objects are born old (pretenured) */
  uint64_t bytes_allocated;   /* except the young bumps since 'young_mark' */
  char *young_mark;           /* young.top when the last collection ended */
  size_t max_array;           /* the most elements an array can have */
  sl_options opt;
  uint64_t *gc_at;            /* copy of opt.gc_at */
  size_t gc_at_next;
  unsigned stress_count;      /* stress collections so far (alternation) */
  sl_object **remembered;     /* old objects that may refer to young ones */
  size_t nremembered, cap_remembered;
  sl_object **mark_stack;     /* mark-compact: gray objects */
  size_t nmark, cap_mark;
  size_t mark_live;           /* objects marked in this cycle */
  int mark_overflow;          /* the stack could not grow: rescan the heap */
  slG_data gh;
  slC_data calls;
  slT_data tasks;
  slP_data names;
  sl_object *roots[SLI_NROOTS];  /* Locals of the read-only roots are bound here */
  slM_space ro;               /* the read-only roots' own space */
  unsigned gate;              /* SLI_GATE_* modes that restrict the API */
  sl_object **gate_limit;     /* hs.limit, saved while the gate diverts it */
  uint64_t stress_trigger;    /* the identity a stress collection is due at */
  int gc_request;             /* an sl_gc_reason: a full collection is due */
  pthread_t owner;            /* check_thread: the thread that may use it */
  int64_t external;           /* sl_adjust_external_memory's total */
  int64_t external_at_full;   /* ... after the last full collection */
  size_t old_limit;           /* old space in use that asks for a full collection */
  int in_gc;                  /* a collection (or a hook inside it) is running */
  int force_major;            /* the remembered set could not grow: the next
                                 collection must be a full one, which rebuilds it */
  int in_callbacks;           /* weak callbacks are running */
  int in_tasks;               /* tasks are running */
  int in_hooks;               /* the handle watch's hook is running */
  sl_heap_stats st;           /* cumulative counters (the rest computed on demand) */
  sl_gc_stats last;           /* the collection being run / last run */
  sl_gc_hook gc_hook;
  void *gc_ud;
  sl_move_hook move_hook;
  void *move_ud;
  sl_status status;
  uint64_t errors;            /* messages set so far: whether a call set one */
  char msg[256];
};

/* Every layout scopelab_internal.h mirrors must equal the core's own. */
#define SL_SAME_FIELD(a, b, f) (offsetof(a, f) == offsetof(b, f))
_Static_assert(SL_SAME_FIELD(struct sl_isolate, sl__isolate_head, young) &&
               SL_SAME_FIELD(struct sl_isolate, sl__isolate_head, gc_trigger) &&
               SL_SAME_FIELD(struct sl_isolate, sl__isolate_head, next_id) &&
               SL_SAME_FIELD(struct sl_isolate, sl__isolate_head, hs),
               "the isolate must start with sl__isolate_head");
_Static_assert(SL_SAME_FIELD(slH_data, sl__handle_data, next) &&
               SL_SAME_FIELD(slH_data, sl__handle_data, limit) &&
               SL_SAME_FIELD(slH_data, sl__handle_data, stamp) &&
               SL_SAME_FIELD(slH_data, sl__handle_data, scopes) &&
               SL_SAME_FIELD(slH_data, sl__handle_data, serial) &&
               SL_SAME_FIELD(slH_data, sl__handle_data, open_limit) &&
               SL_SAME_FIELD(slH_data, sl__handle_data, zap),
               "the handle data must start with sl__handle_data");
_Static_assert(sizeof(struct sl_object) == sizeof(sl__object_header) &&
               SL_SAME_FIELD(struct sl_object, sl__object_header, meta) &&
               SL_SAME_FIELD(struct sl_object, sl__object_header, length) &&
               SL_SAME_FIELD(struct sl_object, sl__object_header, id),
               "sl__object_header must be the object header");
_Static_assert(offsetof(struct sl_node, obj) == 0, "a node's address is its root slot");

/* isolate.c */

/* Modes that restrict the API. While any is on, the allocation, handle and
** scope fast paths are diverted to their slow paths (gc_trigger 0, limit at
** next, open_limit 0, close slow), which ask slI_gate. */
#define SLI_GATE_GC 1u          /* a collection (or a hook in it) is running */
#define SLI_GATE_FIRST_PASS 2u  /* first-pass weak callbacks are running */
#define SLI_GATE_THREAD 4u      /* check_thread: every call checks its thread */
/* What an operation does, for slI_gate. */
#define SLI_READ 0u             /* reads, resets, set_weak, external memory */
#define SLI_ALLOC 1u            /* allocates, makes handles/persistents, opens
                                   scopes, collects, calls, runs tasks */
#define SLI_CLOSE 2u            /* closes a scope */
void slI_gate_on(sl_isolate *iso, unsigned mode);
void slI_gate_off(sl_isolate *iso, unsigned mode);
sl_status slI_gate_(sl_isolate *iso, unsigned what, const char *op);
static inline sl_status slI_gate(sl_isolate *iso, unsigned what, const char *op) {
  return sl_likely(iso->gate == 0) ? SL_OK : slI_gate_(iso, what, op);
}
/* gc_trigger from the stress schedule, the gate and a pending request. */
void slI_update_trigger(sl_isolate *iso);

sl_status slI_error(sl_isolate *iso, sl_status st, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;
uint64_t slI_now_ns(void);
/* 'arr' (of '*cap' elements of 'elem' bytes) grown to hold at least 'need',
** doubling from 'first': the new array, or NULL (nothing changed) if malloc
** failed. The one growth rule of every growable array of the core. */
void *slI_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first);
void slI_schedule(sl_isolate *iso, uint64_t count);

/* heap.c */
int slM_init(sl_isolate *iso);
void slM_free(sl_isolate *iso);
sl_object *slM_allocate_slow(sl_isolate *iso, size_t size);
/* Old space directly (names): may run a full collection. */
sl_object *slM_allocate_old(sl_isolate *iso, size_t size);
int slM_remember(sl_isolate *iso, sl_object *o);
/* One collection of 'kind' for 'reason' (an sl_gc_reason); weak callbacks are
** left pending, first passes have run. */
sl_status slM_collect(sl_isolate *iso, int kind, int reason);
sl_status slM_run_callbacks(sl_isolate *iso);
sl_status slM_settle(sl_isolate *iso, sl_status st);

static inline int slM_is_young(const sl_isolate *iso, const sl_object *o) {
  return slM_in(&iso->young, o);
}
static inline int slM_is_old(const sl_isolate *iso, const sl_object *o) {
  return slM_in(&iso->old, o);
}

/* Allocation fast path: a bump in the young semispace. */
static inline sl_object *slM_allocate(sl_isolate *iso, size_t size) {
  char *p = iso->young.top;
  if (sl_likely((size_t)(iso->young.end - p) >= size && iso->next_id < iso->gc_trigger)) {
    iso->young.top = p + size;
    return (sl_object *)p;
  }
  return slM_allocate_slow(iso, size);
}

/* Write barrier, run before the store: an old holder that is about to refer
** to a young value is remembered. 0 if the remembered set could not grow. */
static inline int slM_barrier(sl_isolate *iso, sl_object *holder, sl_object *v) {
  if (slO_is_ref(v) && slM_is_young(iso, v) && !slM_is_young(iso, holder) &&
      !(holder->meta & SLO_REMEMBERED))
    return slM_remember(iso, holder);
  return 1;
}

/* scavenge.c, markcompact.c */
void slS_scavenge(sl_isolate *iso);
sl_status slK_collect(sl_isolate *iso);

/* handles.c */
int slH_init(sl_isolate *iso, size_t block_size);
void slH_free(sl_isolate *iso);
sl_object **slH_extend(sl_isolate *iso);
sl_status slH_check_slow(sl_isolate *iso, sl_local h, const char *op);

/* SL_OK for a live, non-empty Local of this isolate; else the reason. A Local
** bound to a root slot (a read-only root, an eternal, a call frame's slot of
** an outer call) takes the slow path, as does every check while gated. */
static inline sl_status slH_check(sl_isolate *iso, sl_local h, const char *op) {
  if (sl_likely(iso->gate == 0 && sl__live(SL__HS(iso), h) && *h.slot != NULL))
    return SL_OK;
  return slH_check_slow(iso, h, op);
}
size_t slH_scope_handles(const sl_isolate *iso, uint32_t depth);
uint32_t slH_level(const slH_data *hs, uint32_t depth);
/* How many slots lie below 'p' (a value of 'next', current or saved). */
size_t slH_position(const slH_data *hs, sl_object **p);
/* The same for a rising sequence of 'p's: '*k' is the block the search starts
** from (0 first), so a walk up the scope stack is linear in blocks + scopes. */
size_t slH_position_from(const slH_data *hs, size_t *k, sl_object **p);

/* Handle creation fast path: a pointer bump and a store. */
static inline sl_status slH_push(sl_isolate *iso, sl_object *o, sl_local *out) {
  sl_object **s = iso->hs.next;
  if (sl_unlikely(s == iso->hs.limit)) {
    s = slH_extend(iso);
    if (s == NULL) {          /* slH_extend set the error; never report success */
      *out = SL_EMPTY_LOCAL;
      return iso->status != SL_OK ? iso->status : SL_ESTATE;
    }
  }
  *s = o;
  iso->hs.next = s + 1;
  sl__put_local(out, s, iso->hs.stamp);
  return SL_OK;
}

/* globals.c */
void slG_init(sl_isolate *iso, uint64_t base);
void slG_free(sl_isolate *iso);

/* The one loop over the node pool: every node of every block, free ones too
** ('continue' skips one; the body is the trailing argument(s), commas allowed). */
#define SLG_FOREACH_NODE(g, n, ...)                                           \
  for (slG_block *b_ = (g)->blocks; b_ != NULL; b_ = b_->next)                \
    for (size_t k_ = 0; k_ < SLC_NODE_BLOCK; k_++) {                          \
      slG_node *n = &b_->nodes[k_];                                           \
      __VA_ARGS__                                                             \
    }

/* Whether a scan may take the young-node list instead of the whole pool:
** scavenges do, unless the list could not grow. */
#define slG_use_young_list(iso, young_only) ((young_only) && !(iso)->gh.young_all)

/* The nodes a collection scans: the young list for scavenges, else the pool. */
#define SLG_FOREACH_SCANNED(iso, young_only, n, ...)                          \
  if (slG_use_young_list((iso), (young_only))) {                              \
    for (size_t y_ = 0; y_ < (iso)->gh.nyoung; y_++) {                        \
      slG_node *n = (iso)->gh.young[y_];                                      \
      __VA_ARGS__                                                             \
    }                                                                         \
  } else                                                                      \
    SLG_FOREACH_NODE(&(iso)->gh, n, __VA_ARGS__)

/* How many nodes SLG_FOREACH_SCANNED visits (gc stats: nodes_scanned). */
size_t slG_scanned(const sl_isolate *iso, int young_only);
/* Non-empty strong or weak nodes (heap stats: persistent_handles). */
size_t slG_count_persistent(const sl_isolate *iso);
/* After a scavenge (flipped): drop the nodes whose objects are no longer young. */
void slG_prune_young(sl_isolate *iso);
/* After a full collection: the young list from every node. */
void slG_rebuild_young(sl_isolate *iso);
int slG_young_listed(const sl_isolate *iso, const slG_node *n);
/* After marking/copying: empties dead weak nodes and probes (queueing callbacks),
** and moves live ones to their new address. 'young_only' for scavenges. */
void slG_process_weak(sl_isolate *iso, int young_only,
                      int (*is_live)(sl_isolate *, sl_object *),
                      sl_object *(*forward)(sl_isolate *, sl_object *));
sl_status slG_run_pending(sl_isolate *iso);
int slG_reserve_pending(sl_isolate *iso);
/* At the end of a collection: the first passes it queued, under the gate. */
void slG_run_first_passes(sl_isolate *iso);
/* Eternal slot 'i' (i < neternals). */
static inline sl_object **slG_eternal_slot(const sl_isolate *iso, size_t i) {
  return &iso->gh.eternals[i / SLG_ETERNAL_BLOCK][i % SLG_ETERNAL_BLOCK];
}
/* Whether 'slot' is an eternal slot in use. */
int slG_is_eternal_slot(const sl_isolate *iso, sl_object *const *slot);

/* props.c */
void slP_free(sl_isolate *iso);
/* After marking (full collections): drops dead names, follows moved ones. */
void slP_process_names(sl_isolate *iso, int (*is_live)(sl_isolate *, sl_object *),
                       sl_object *(*forward)(sl_isolate *, sl_object *));
/* Whether 'o' is the name table's entry for its content (the verifier). */
int slP_is_listed(const sl_isolate *iso, const sl_object *o);

/* calls.c */
void slC_free(sl_isolate *iso);
/* Every used frame slot, in call order: the roots of the calls in progress. */
#define SLC_FOREACH_FRAME_SLOT(iso, sp, ...)                                  \
  for (size_t c_ = 0; c_ < (iso)->calls.nchunks; c_++)                        \
    for (sl_object **sp = (iso)->calls.chunks[c_].slots,                      \
                   **e_ = sp + (iso)->calls.chunks[c_].used; sp < e_; sp++) { \
      __VA_ARGS__                                                             \
    }
/* Whether 'slot' is a frame slot in use. */
int slC_is_frame_slot(const sl_isolate *iso, sl_object *const *slot);

/* tasks.c */
void slT_free(sl_isolate *iso);
/* Queues a second pass (takes 'w', a malloc'ed copy); 0 if out of memory. */
int slT_post_second_pass(sl_isolate *iso, sl_weak_info *w);
/* Runs every queued second pass now (a forced collection), in order. */
void slT_run_second_passes(sl_isolate *iso);

/* verify.c */
sl_status slV_verify(sl_isolate *iso);

/* roots.c: calls 'fn' for every root slot holding an object, in the order
** Locals (outermost scope first), strong nodes, eternals; non-zero stops. */
#define SLR_YOUNG 1u   /* a scavenge: only the nodes on the young list */
#define SLR_INFO 2u    /* fill each Local's depth, level, site and index */
#define SLR_COUNT 4u   /* record handles_scanned / nodes_scanned in 'last' */
typedef int (*slR_fn)(sl_isolate *iso, sl_object **slot, const sl_root_info *r, void *ud);
void slR_each(sl_isolate *iso, unsigned flags, slR_fn fn, void *ud);

#endif
