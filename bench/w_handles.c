/* SPDX-License-Identifier: MIT */
/*
** w_handles.c: the handle fast paths against their physical floor.
**
** The floor is what V8's HandleScope does when nothing goes wrong, compiled
** into this binary and inlined: a scope saves 'next', 'limit' and 'level',
** a handle is one store through a bump pointer, closing restores the three
** words. scopelab does the same work plus what the floor leaves out (the
** stamp that detects stale Locals, status codes, a call across the library
** boundary); the ratio is what that costs.
**
** Rows: handle create (ns per Local, S scopes x K Locals), scope open+close
** (ns per scope), depth-10 escape chains, persistent new+reset pairs,
** persistent retargeting, and, for the profile, object allocation and array
** element get/set.
*/
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ------------------------------------------------------------ the floor */

/* One preallocated block: the floor never needs a second one at these sizes,
** but it still tests the limit, as a real scope must. */
typedef struct floor_hs {
  void **next, **limit;
  int level;
  void **block;
} floor_hs;

typedef struct floor_saved {
  void **next, **limit;
} floor_saved;

static __attribute__((noinline)) void floor_overflow(void) {
  fprintf(stderr, "bench: floor handle block overflow\n");
  exit(2);
}

static inline floor_saved floor_open(floor_hs *hs) {
  floor_saved s = { hs->next, hs->limit };
  hs->level++;
  return s;
}

static inline void floor_close(floor_hs *hs, floor_saved s) {
  hs->next = s.next;
  hs->limit = s.limit;
  hs->level--;
}

static inline void **floor_create(floor_hs *hs, void *obj) {
  void **slot = hs->next;
  if (slot == hs->limit) floor_overflow();
  *slot = obj;
  hs->next = slot + 1;
  return slot;
}

static void floor_init(floor_hs *hs, size_t slots) {
  hs->block = malloc(slots * sizeof(void *));
  if (!hs->block) floor_overflow();
  hs->next = hs->block;
  hs->limit = hs->block + slots;
  hs->level = 0;
}

static __attribute__((noinline)) void floor_churn(floor_hs *hs, void *obj, long S, long K) {
  long s, k;
  for (s = 0; s < S; s++) {
    floor_saved sv = floor_open(hs);
    for (k = 0; k < K; k++) bench_keep(floor_create(hs, obj));
    floor_close(hs, sv);
  }
}

static __attribute__((noinline)) void floor_open_close(floor_hs *hs, long S) {
  long s;
  for (s = 0; s < S; s++) {
    floor_saved sv = floor_open(hs);
    bench_keep(hs);
    floor_close(hs, sv);
  }
}

/* An escapable floor scope reserves its slot in the parent before opening;
** escaping is one store into it. */
static __attribute__((noinline)) void floor_escape_chain(floor_hs *hs, void *obj, long N, int depth) {
  floor_saved outer, sv[16];
  void **reserved[16];
  void **cur;
  long n;
  int d;
  for (n = 0; n < N; n++) {
    outer = floor_open(hs);
    for (d = 0; d < depth; d++) {
      reserved[d] = floor_create(hs, NULL);
      sv[d] = floor_open(hs);
    }
    cur = floor_create(hs, obj);
    for (d = depth - 1; d >= 0; d--) {
      *reserved[d] = *cur;
      cur = reserved[d];
      floor_close(hs, sv[d]);
    }
    bench_keep(cur);
    floor_close(hs, outer);
  }
}

/* Persistent nodes: a free list of two-word nodes, as V8's NodeSpace. */
typedef struct floor_node {
  void *obj;
  struct floor_node *next_free;
} floor_node;

static __attribute__((noinline)) void floor_persistent(floor_node **free_list, void *obj, long N) {
  long n;
  for (n = 0; n < N; n++) {
    floor_node *nd = *free_list;             /* new: pop a node, store the object */
    *free_list = nd->next_free;
    nd->obj = obj;
    bench_keep(nd);
    nd->obj = NULL;                          /* reset: clear it, push it back */
    nd->next_free = *free_list;
    *free_list = nd;
  }
}

static __attribute__((noinline)) void floor_retarget(floor_node *nd, void *a, void *b, long N) {
  long n;
  for (n = 0; n < N; n++) {
    nd->obj = (n & 1) ? a : b;
    bench_keep(nd);
  }
}

/* Bump allocation of a 24-byte object (header, payload) plus its handle; when
** the nursery is full it starts over, as if every scavenge found no survivor. */
static __attribute__((noinline)) void floor_alloc(floor_hs *hs, char *nursery, size_t size,
                                                  long S, long K) {
  char *top = nursery, *end = nursery + size;
  long s, k;
  for (s = 0; s < S; s++) {
    floor_saved sv = floor_open(hs);
    for (k = 0; k < K; k++) {
      uint64_t *o;
      if ((size_t)(end - top) < 24) top = nursery;
      o = (uint64_t *)top;
      top += 24;
      o[0] = 1;                               /* header: kind */
      o[1] = (uint64_t)k;                     /* payload */
      bench_keep(floor_create(hs, o));
    }
    floor_close(hs, sv);
  }
}

static __attribute__((noinline)) void floor_array_setget(void **arr, void *obj, long N) {
  long n;
  for (n = 0; n < N; n++) {
    void **slot = &arr[n & 1];
    *slot = obj;
    bench_keep(slot);
    bench_keep(arr[(n + 1) & 1]);
  }
}

/* ------------------------------------------------------------ scopelab side */

static __attribute__((noinline)) void sl_churn(sl_isolate *iso, sl_local h, long S, long K) {
  long s, k;
  for (s = 0; s < S; s++) {
    sl_scope sc;
    int bad = 0;
    BENCH_CHECK(iso, sl_scope_open(iso, &sc));
    for (k = 0; k < K; k++) {
      sl_local out;
      bad |= sl_local_new(iso, h, &out);
      bench_keep(out.slot);
    }
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
    BENCH_CHECK(iso, sl_scope_close(&sc));
  }
}

static __attribute__((noinline)) void sl_open_close(sl_isolate *iso, long S) {
  long s;
  for (s = 0; s < S; s++) {
    sl_scope sc;
    int bad = sl_scope_open(iso, &sc);
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

static __attribute__((noinline)) void sl_escape_chain(sl_isolate *iso, sl_local h, long N, int depth) {
  sl_scope outer, sc[16];
  sl_local cur;
  long n;
  int d;
  for (n = 0; n < N; n++) {
    int bad = sl_scope_open(iso, &outer);
    for (d = 0; d < depth; d++) bad |= sl_escapable_scope_open(iso, &sc[d]);
    bad |= sl_local_new(iso, h, &cur);
    for (d = depth - 1; d >= 0; d--) {
      bad |= sl_scope_escape(&sc[d], cur, &cur);
      bad |= sl_scope_close(&sc[d]);
    }
    bench_keep(cur.slot);
    bad |= sl_scope_close(&outer);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

static __attribute__((noinline)) void sl_persistent_pairs(sl_isolate *iso, sl_local h, long N) {
  long n;
  for (n = 0; n < N; n++) {
    sl_persistent p;
    int bad = sl_persistent_new(iso, h, &p);
    bench_keep(p.node);
    bad |= sl_persistent_delete(iso, p);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

static __attribute__((noinline)) void sl_retarget(sl_isolate *iso, sl_persistent p, sl_local a,
                                                  sl_local b, long N) {
  long n;
  int bad = 0;
  for (n = 0; n < N; n++) bad |= sl_persistent_reset(iso, p, (n & 1) ? a : b);
  if (bad) BENCH_CHECK(iso, sl_last_status(iso));
}

static __attribute__((noinline)) void sl_alloc(sl_isolate *iso, long S, long K) {
  long s, k;
  for (s = 0; s < S; s++) {
    sl_scope sc;
    int bad = sl_scope_open(iso, &sc);
    for (k = 0; k < K; k++) {
      sl_local out;
      bad |= sl_integer(iso, k, &out);
      bench_keep(out.slot);
    }
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

/* One set and one get per iteration, the pair binary-trees does per edge. The
** get makes a Local, so a scope per 512 iterations keeps the handles bounded. */
static __attribute__((noinline)) void sl_setget(sl_isolate *iso, sl_local arr, sl_local v, long N) {
  long n = 0;
  while (n < N) {
    sl_scope sc;
    long m;
    int bad = sl_scope_open(iso, &sc);
    for (m = 0; m < 512 && n < N; m++, n++) {
      sl_local got;
      bad |= sl_array_set(iso, arr, (size_t)(n & 1), v);
      bad |= sl_array_get(iso, arr, (size_t)((n + 1) & 1), &got);
      bench_keep(got.slot);
    }
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

/* ------------------------------------------------------------ the workload */

#define TIME(series, stmt) do { uint64_t t0_ = bench_now_ns(); stmt; \
    bench_add((series), (double)(bench_now_ns() - t0_)); } while (0)

/* Converts a series of total nanoseconds into nanoseconds per operation. */
static bench_summary per_op(const bench_series *s, double ops) {
  bench_summary r = bench_summarise(s);
  r.median /= ops; r.min /= ops; r.max /= ops;
  return r;
}

static void pair(bench_ctx *cx, const char *kase, const char *unit, const bench_series *sl,
                 const bench_series *fl, double ops, const char *note) {
  bench_summary f = per_op(fl, ops), s = per_op(sl, ops);
  bench_emit(cx, "handles", kase, "floor", unit, &f, NULL, NULL);
  bench_emit(cx, "handles", kase, "scopelab", unit, &s, &f, note);
}

void bench_handles(bench_ctx *cx) {
  long S = cx->smoke ? 200 : 20000, K = 1000;           /* 2*10^7 handles */
  long SO = cx->smoke ? 20000 : 20000000;               /* scope open+close */
  long NE = cx->smoke ? 2000 : 1000000;                 /* escape chains */
  long NP = cx->smoke ? 20000 : 10000000;               /* persistent pairs */
  long NA = cx->smoke ? 200 : 10000;                    /* scopes of K allocations */
  long NS = cx->smoke ? 20000 : 20000000;               /* array set+get pairs */
  const int depth = 10;
  sl_isolate *iso = bench_isolate(cx, 0, 0, 0);
  sl_isolate *zapping = bench_isolate_zap(0, 0, 0, -1);   /* the library default */
  sl_scope ztop;
  sl_local zh;
  sl_options defaults;
  floor_hs hs;
  floor_node nodes[4], *free_list = NULL;
  char *nursery = malloc((size_t)1 << 20);
  void *arr[2] = { NULL, NULL };
  sl_scope top;
  sl_local h, h2, a;
  sl_persistent p;
  int r, i;
  bench_series s_churn = {0}, f_churn = {0}, s_oc = {0}, f_oc = {0}, s_esc = {0}, f_esc = {0},
               s_per = {0}, f_per = {0}, s_ret = {0}, f_ret = {0}, s_all = {0}, f_all = {0},
               s_sg = {0}, f_sg = {0}, z_churn = {0}, z_oc = {0};

  printf("handles: C API fast paths against an inline floor\n");
  floor_init(&hs, 4096);
  if (!nursery) floor_overflow();
  for (i = 0; i < 4; i++) {
    nodes[i].next_free = free_list;
    free_list = &nodes[i];
  }
  BENCH_CHECK(iso, sl_scope_open(iso, &top));
  BENCH_CHECK(iso, sl_integer(iso, 42, &h));
  BENCH_CHECK(iso, sl_integer(iso, 43, &h2));
  BENCH_CHECK(iso, sl_array(iso, 2, &a));
  BENCH_CHECK(iso, sl_persistent_new(iso, h, &p));
  BENCH_CHECK(zapping, sl_scope_open(zapping, &ztop));
  BENCH_CHECK(zapping, sl_integer(zapping, 42, &zh));

  /* alternate the sides within each repetition, so drift hits both alike */
  for (r = 0; r < cx->reps; r++) {
    TIME(&f_churn, floor_churn(&hs, &hs, S, K));
    TIME(&s_churn, sl_churn(iso, h, S, K));
    TIME(&f_oc, floor_open_close(&hs, SO));
    TIME(&s_oc, sl_open_close(iso, SO));
    TIME(&z_churn, sl_churn(zapping, zh, S, K));
    TIME(&z_oc, sl_open_close(zapping, SO));
    TIME(&f_esc, floor_escape_chain(&hs, &hs, NE, depth));
    TIME(&s_esc, sl_escape_chain(iso, h, NE, depth));
    TIME(&f_per, floor_persistent(&free_list, &hs, NP));
    TIME(&s_per, sl_persistent_pairs(iso, h, NP));
    TIME(&f_ret, floor_retarget(&nodes[0], &hs, nursery, NP));
    TIME(&s_ret, sl_retarget(iso, p, h, h2, NP));
    TIME(&f_all, floor_alloc(&hs, nursery, (size_t)1 << 20, NA, K));
    TIME(&s_all, sl_alloc(iso, NA, K));
    TIME(&f_sg, floor_array_setget(arr, &hs, NS));
    TIME(&s_sg, sl_setget(iso, a, h, NS));
  }
  pair(cx, "create (per Local)", "ns/handle", &s_churn, &f_churn, (double)S * K,
       cx->zap ? "sl_local_new, 1000 per scope, zap_handles default; target <= 1.3x"
               : "sl_local_new, 1000 per scope, zap_handles=0; target <= 1.3x");
  pair(cx, "open+close (per scope)", "ns/scope", &s_oc, &f_oc, (double)SO,
       cx->zap ? "empty scope, zap_handles default; target <= 1.5x"
               : "empty scope, zap_handles=0; target <= 1.5x");
  sl_options_init(&defaults);
  if (defaults.zap_handles && !cx->zap) {
    bench_summary f = per_op(&f_churn, (double)S * K), z = per_op(&z_churn, (double)S * K);
    bench_emit(cx, "handles", "create, zap on (default)", "floor", "ns/handle", &f, NULL, NULL);
    bench_emit(cx, "handles", "create, zap on (default)", "scopelab", "ns/handle", &z, &f,
               "zap_handles=1: closing refills the freed slots");
    f = per_op(&f_oc, (double)SO);
    z = per_op(&z_oc, (double)SO);
    bench_emit(cx, "handles", "open+close, zap on (default)", "floor", "ns/scope", &f, NULL, NULL);
    bench_emit(cx, "handles", "open+close, zap on (default)", "scopelab", "ns/scope", &z, &f,
               "zap_handles=1: close takes the out-of-line path");
  }
  pair(cx, "escape chain depth 10", "ns/chain", &s_esc, &f_esc, (double)NE,
       "10 escapable scopes, 10 escapes, outer scope");
  pair(cx, "persistent new+reset", "ns/pair", &s_per, &f_per, (double)NP,
       "sl_persistent_new + sl_persistent_delete (V8 Global::Reset frees the node)");
  pair(cx, "persistent retarget", "ns/reset", &s_ret, &f_ret, (double)NP,
       "sl_persistent_reset(p, h) alternating two objects");
  pair(cx, "allocate integer", "ns/object", &s_all, &f_all, (double)NA * K,
       "sl_integer incl. scavenges of pure garbage");
  pair(cx, "array set+get", "ns/pair", &s_sg, &f_sg, (double)NS,
       "young array: barrier fast path + a Local per get");

  BENCH_CHECK(iso, sl_persistent_delete(iso, p));
  BENCH_CHECK(iso, sl_scope_close(&top));
  BENCH_CHECK(iso, sl_isolate_dispose(iso));
  BENCH_CHECK(zapping, sl_scope_close(&ztop));
  BENCH_CHECK(zapping, sl_isolate_dispose(zapping));
  free(hs.block);
  free(nursery);
}
