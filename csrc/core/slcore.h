/*
** slcore.h: the isolate and the object layout shared by the core's files.
**
** Prefixes: slI_ isolate, slO_ objects, slM_ heap, slS_ scavenger, slK_ mark-compact,
** slH_ handles, slG_ global handles, slV_ verifier, slD_ diagnostics.
*/
#ifndef SLCORE_H
#define SLCORE_H

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
  uint32_t length;   /* string bytes or array slots */
  uint64_t id;
};

#define SLO_KIND(o)     ((sl_kind)((o)->meta & 0xffu))
#define SLO_FLAGS(o)    (((o)->meta >> 8) & 0xffu)
#define SLO_AGE(o)      (((o)->meta >> 16) & 0xffu)
#define SLO_FORWARDED   (1u << 8)   /* scavenger: 'id' is the new address */
#define SLO_MARKED      (1u << 9)   /* mark-compact: reached in this cycle */
#define SLO_REMEMBERED  SL__REMEMBERED  /* old object in the remembered set */
#define SLO_OLD         SL__OLD      /* in old space: lets inline code run the barrier */
#define SLO_SET_AGE(o, a) ((o)->meta = ((o)->meta & 0xff00ffffu) | ((uint32_t)(a) << 16))

#define SLO_HEADER sizeof(sl_object)
#define SLO_ALIGN(n) (((n) + 7u) & ~(size_t)7u)

/* Largest length a string or array may have (it lives in a uint32_t). */
#define SLO_MAX_LENGTH ((size_t)UINT32_MAX)

static inline int64_t *slO_integer(sl_object *o) { return (int64_t *)(o + 1); }
static inline double *slO_number(sl_object *o) { return (double *)(o + 1); }
static inline char *slO_bytes(sl_object *o) { return (char *)(o + 1); }
static inline sl_object **slO_slots(sl_object *o) { return (sl_object **)(o + 1); }

/* Bytes an object of this kind and length occupies, header included. */
static inline size_t slO_size_for(sl_kind k, size_t length) {
  switch (k) {
    case SL_STRING: return SLO_HEADER + SLO_ALIGN(length + 1);  /* + NUL */
    case SL_ARRAY: return SLO_HEADER + length * sizeof(sl_object *);
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
    case SL_ARRAY: *n = o->length; return slO_slots(o);
    default: *n = 0; return NULL;
  }
}
static inline int slO_is_ref(const sl_object *v) { return v != NULL; }

void slO_info(sl_isolate *iso, sl_object *o, sl_object_info *out);

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
_Static_assert((SLH_SCOPE_BASE & (SL__SCOPE_KIND | SL__SCOPE_ESCAPED | SL__SCOPE_CHECKED |
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

enum { SLG_FREE = 0, SLG_STRONG, SLG_WEAK, SLG_PROBE };

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
  sl_weak_callback cb;
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
  sl_weak_callback cb;
  void *param;
} slG_pending;

typedef struct slG_data {
  slG_block *blocks;          /* newest first */
  slG_node *free;
  uint64_t serial, weak_order;
  uint64_t serial_base;       /* serials of this isolate are above it */
  size_t used, probes, weak;
  sl_object **eternals;
  size_t neternals, cap_eternals;
  slG_pending *pending;       /* weak callbacks due after the current collection */
  size_t npending, cap_pending;
  slG_node **young;           /* every node whose object may be young (V8's
                                 young_nodes): what a scavenge visits */
  size_t nyoung, cap_young;
  int young_all;              /* the list could not grow: scavenges walk every
                                 block until the next rebuild */
} slG_data;

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
  int in_gc;                  /* a collection (or a hook inside it) is running */
  int force_major;            /* the remembered set could not grow: the next
                                 collection must be a full one, which rebuilds it */
  int in_callbacks;           /* weak callbacks are running */
  sl_heap_stats st;           /* cumulative counters (the rest computed on demand) */
  sl_gc_stats last;           /* the collection being run / last run */
  sl_gc_hook gc_hook;
  void *gc_ud;
  sl_move_hook move_hook;
  void *move_ud;
  sl_status status;
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
int slM_remember(sl_isolate *iso, sl_object *o);
sl_status slM_collect(sl_isolate *iso, int kind);
sl_status slM_run_callbacks(sl_isolate *iso);

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
  if (v != NULL && slM_is_young(iso, v) && !slM_is_young(iso, holder) &&
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

/* SL_OK for a live, non-empty Local of this isolate; else the reason. */
static inline sl_status slH_check(sl_isolate *iso, sl_local h, const char *op) {
  if (sl_likely(sl__live(SL__HS(iso), h) && *h.slot != NULL))
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
