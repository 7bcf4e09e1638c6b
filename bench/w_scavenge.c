/* SPDX-License-Identifier: MIT */
/*
** w_scavenge.c: what one scavenge costs, by survivor fraction and semispace size.
**
** Each measurement gets a fresh isolate with a semispace of 1, 4 or 16 MiB,
** fills 90 % of it with 2-slot arrays, of which a fraction f (spread evenly by
** an accumulator) is linked into a list hanging off one rooted array, then times
** a single sl_collect(SL_MINOR), after one warm-up scavenge of garbage so both
** semispaces have been touched. Survivors are copied once (not promoted: the
** default promotes at the second survival). The comparator is a memcpy of the
** surviving bytes, between two buffers already touched: the floor of copying.
**
** A copying collector's cost should be proportional to the survivors and flat in
** the garbage: the 0 % rows (only the root survives) are that check, in
** microseconds per scavenge, and should not grow with the semispace.
*/
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct scav_result {
  double ns;            /* wall time of sl_collect */
  size_t survivors;     /* list nodes kept alive */
  size_t node_bytes;    /* young bytes per node */
} scav_result;

/*
** Fills the semispace with garbage and scavenges once, so both semispaces have
** been written before the measured scavenge: the steady state of a running
** program, and what the memcpy comparator gets (its buffers are touched first).
*/
static void warm_up(sl_isolate *iso, size_t semispace) {
  sl_heap_stats hs;
  sl_gc_stats gs;
  sl_heap_stats_of(iso, &hs);
  while (hs.young_used + 4096 < semispace / 10 * 9) {
    sl_scope s;
    int k, bad = sl_scope_open(iso, &s);
    for (k = 0; k < 64; k++) {
      sl_local g;
      bad |= sl_array(iso, 2, &g);
    }
    bad |= sl_scope_close(&s);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
    sl_heap_stats_of(iso, &hs);
  }
  BENCH_CHECK(iso, sl_collect(iso, SL_MINOR, &gs));
}

static void fill_and_scavenge(const bench_ctx *cx, size_t semispace, double fraction, scav_result *res) {
  sl_isolate *iso = bench_isolate(cx, semispace, (size_t)256 << 20, 0);
  sl_heap_stats hs;
  sl_gc_stats gs;
  sl_scope outer;
  sl_local root, probe;
  size_t before, node_bytes, budget, used, survivors = 0;
  double acc = 0;
  uint64_t t0;
  BENCH_CHECK(iso, sl_scope_open(iso, &outer));
  BENCH_CHECK(iso, sl_array(iso, 1, &root));
  warm_up(iso, semispace);
  sl_heap_stats_of(iso, &hs);
  before = hs.young_used;
  BENCH_CHECK(iso, sl_array(iso, 2, &probe));  /* garbage: sizes one node */
  sl_heap_stats_of(iso, &hs);
  node_bytes = hs.young_used - before;
  if (node_bytes == 0) node_bytes = 1;         /* keeps the arithmetic defined */
  budget = semispace / 10 * 9;
  used = hs.young_used;
  while (used + 256 * node_bytes <= budget) {
    sl_scope s;
    int k, bad = sl_scope_open(iso, &s);
    for (k = 0; k < 256; k++) {
      sl_local node, head;
      bad |= sl_array(iso, 2, &node);
      acc += fraction;
      if (acc >= 1.0) {
        acc -= 1.0;
        bad |= sl_array_get(iso, root, 0, &head);
        bad |= sl_array_set(iso, node, 0, head);
        bad |= sl_array_set(iso, root, 0, node);
        survivors++;
      }
    }
    bad |= sl_scope_close(&s);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
    used += 256 * node_bytes;
  }
  sl_heap_stats_of(iso, &hs);
  if (hs.minor_collections != 1 || hs.major_collections != 0) {
    fprintf(stderr, "bench: scavenge: the fill itself collected (%zu of %zu bytes used)\n",
            hs.young_used, hs.young_size);
    exit(2);
  }
  t0 = bench_now_ns();
  BENCH_CHECK(iso, sl_collect(iso, SL_MINOR, &gs));
  res->ns = (double)(bench_now_ns() - t0);
  if (gs.survived < survivors) {
    fprintf(stderr, "bench: scavenge kept %zu objects, %zu were reachable\n",
            gs.survived, survivors);
    exit(2);
  }
  res->survivors = survivors;
  res->node_bytes = node_bytes;
  BENCH_CHECK(iso, sl_scope_close(&outer));
  BENCH_CHECK(iso, sl_isolate_dispose(iso));
}

/*
** A scavenge of pure garbage in an isolate holding 'n' persistent handles to
** old objects: the young-node list keeps it as cheap as with none (before the
** list, 10^5 nodes cost 0.3 ms and 10^6 cost 13 ms per scavenge).
*/
static double scavenge_with_old_persistents(const bench_ctx *cx, long n) {
  sl_isolate *iso = bench_isolate(cx, (size_t)1 << 20, (size_t)256 << 20, 1);
  sl_persistent *ps = malloc((size_t)(n > 0 ? n : 1) * sizeof *ps);
  sl_gc_stats gs;
  uint64_t t0;
  long i;
  int k;
  if (ps == NULL) exit(2);
  for (i = 0; i < n; i++) {
    sl_scope s;
    sl_local h;
    int bad = sl_scope_open(iso, &s);
    bad |= sl_integer(iso, i, &h);
    bad |= sl_persistent_new(iso, h, &ps[i]);
    bad |= sl_scope_close(&s);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
  BENCH_CHECK(iso, sl_collect(iso, SL_MINOR, &gs));   /* promote_after 1: all old */
  t0 = bench_now_ns();
  for (k = 0; k < 100; k++) BENCH_CHECK(iso, sl_collect(iso, SL_MINOR, &gs));
  t0 = bench_now_ns() - t0;
  if (gs.nodes_scanned != 0) {
    fprintf(stderr, "bench: a scavenge visited %zu nodes of old objects\n", gs.nodes_scanned);
    exit(2);
  }
  for (i = 0; i < n; i++) BENCH_CHECK(iso, sl_persistent_delete(iso, ps[i]));
  free(ps);
  BENCH_CHECK(iso, sl_isolate_dispose(iso));
  return (double)t0 / 100;
}

static void persistent_rows(bench_ctx *cx) {
  static const long counts[] = { 0, 100000 };
  int c, r;
  for (c = 0; c < 2; c++) {
    bench_series s = {0};
    bench_summary ss;
    long n = cx->smoke ? counts[c] / 100 : counts[c];
    char kase[64];
    for (r = 0; r < cx->reps; r++) bench_add(&s, scavenge_with_old_persistents(cx, n));
    ss = bench_summarise(&s);
    ss.median /= 1e3; ss.min /= 1e3; ss.max /= 1e3;
    snprintf(kase, sizeof kase, "0%% survive, %ld old persistents", n);
    bench_emit(cx, "scavenge", kase, "scopelab", "us/scavenge", &ss, NULL,
               "1 MiB; only nodes holding young objects are visited (V8's young-node list)");
  }
}

void bench_scavenge(bench_ctx *cx) {
  static const double fractions[] = { 0.0, 0.10, 0.25, 0.50, 1.00 };
  size_t sizes[3];
  int nsizes, si, fi, r;
  char *from = NULL, *to = NULL;
  printf("scavenge: one minor collection by survivor fraction and semispace size\n");
  if (cx->smoke) {
    sizes[0] = (size_t)256 << 10;
    nsizes = 1;
  } else {
    sizes[0] = (size_t)1 << 20; sizes[1] = (size_t)4 << 20; sizes[2] = (size_t)16 << 20;
    nsizes = 3;
  }
  for (si = 0; si < nsizes; si++) {
    from = malloc(sizes[si]);
    to = malloc(sizes[si]);
    if (!from || !to) exit(2);
    memset(from, 1, sizes[si]);
    memset(to, 2, sizes[si]);
    for (fi = 0; fi < (int)(sizeof fractions / sizeof fractions[0]); fi++) {
      bench_series s = {0}, m = {0};
      bench_summary ss, ms;
      scav_result res = { 0, 0, 0 };
      char kase[48], note[128];
      double per;
      for (r = 0; r < cx->reps; r++) {
        uint64_t t0;
        size_t bytes;
        fill_and_scavenge(cx, sizes[si], fractions[fi], &res);
        bench_add(&s, res.ns);
        bytes = res.survivors * res.node_bytes;
        t0 = bench_now_ns();
        memcpy(to, from, bytes);
        bench_keep(to);
        bench_add(&m, (double)(bench_now_ns() - t0));
      }
      snprintf(kase, sizeof kase, "%zu MiB, %d%% survive", sizes[si] >> 20,
               (int)(fractions[fi] * 100 + 0.5));
      if (sizes[si] < ((size_t)1 << 20))
        snprintf(kase, sizeof kase, "%zu KiB, %d%% survive", sizes[si] >> 10,
                 (int)(fractions[fi] * 100 + 0.5));
      ss = bench_summarise(&s);
      ms = bench_summarise(&m);
      if (res.survivors == 0) {
        ss.median /= 1e3; ss.min /= 1e3; ss.max /= 1e3;
        snprintf(note, sizeof note, "garbage only (%zu-byte nodes); flat across sizes is the target",
                 res.node_bytes);
        bench_emit(cx, "scavenge", kase, "scopelab", "us/scavenge", &ss, NULL, note);
        continue;
      }
      per = (double)res.survivors;
      ss.median /= per; ss.min /= per; ss.max /= per;
      ms.median /= per; ms.min /= per; ms.max /= per;
      snprintf(note, sizeof note, "%zu survivors of %zu bytes; target <= 8 ns/survivor",
               res.survivors, res.node_bytes);
      bench_emit(cx, "scavenge", kase, "memcpy", "ns/survivor", &ms, NULL, NULL);
      bench_emit(cx, "scavenge", kase, "scopelab", "ns/survivor", &ss, &ms, note);
    }
    free(from);
    free(to);
  }
  persistent_rows(cx);
}
