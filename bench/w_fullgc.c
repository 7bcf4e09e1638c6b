/* SPDX-License-Identifier: MIT */
/*
** w_fullgc.c: a full (mark-compact) collection with 10^6 and 10^7 live old objects.
**
** The live set is a root array of chunks, each chunk an array of 1000 integer
** objects, built with promotion at the first survival and then moved to the old
** generation by a minor+major collection. Each repetition times one
** sl_collect(SL_MAJOR) on that heap: marking every object, computing its new
** address, updating every reference and sliding. There is no comparator; the
** target is 10^7 objects in at most one second.
*/
#include <stdlib.h>

#include "bench.h"

#define CHUNK 1000

static void run_size(bench_ctx *cx, long objects, const char *label) {
  long chunks = objects / CHUNK, c;
  size_t old_limit = (size_t)objects * 96 + ((size_t)64 << 20);
  sl_isolate *iso = bench_isolate(cx, (size_t)16 << 20, old_limit, 1);
  sl_scope outer;
  sl_local root;
  sl_gc_stats gs;
  sl_heap_stats hs;
  bench_series s = {0};
  bench_summary sum;
  uint64_t t0, build;
  size_t live;
  char kase[48], note[160];
  int r;
  t0 = bench_now_ns();
  BENCH_CHECK(iso, sl_scope_open(iso, &outer));
  BENCH_CHECK(iso, sl_array(iso, (size_t)chunks, &root));
  for (c = 0; c < chunks; c++) {
    sl_scope sc;
    sl_local chunk;
    long k;
    int bad = sl_scope_open(iso, &sc);
    bad |= sl_array(iso, CHUNK, &chunk);
    bad |= sl_array_set(iso, root, (size_t)c, chunk);
    for (k = 0; k < CHUNK; k++) {
      sl_local v;
      bad |= sl_integer(iso, k, &v);
      bad |= sl_array_set(iso, chunk, (size_t)k, v);
    }
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
  BENCH_CHECK(iso, sl_collect(iso, SL_MINOR | SL_MAJOR, &gs));
  build = bench_now_ns() - t0;
  live = (size_t)chunks * (CHUNK + 1) + 1;
  for (r = 0; r < cx->reps; r++) {
    t0 = bench_now_ns();
    BENCH_CHECK(iso, sl_collect(iso, SL_MAJOR, &gs));
    bench_add(&s, (double)(bench_now_ns() - t0));
    if (gs.survived < live) {
      fprintf(stderr, "bench: full collection kept %zu objects, %zu are reachable\n",
              gs.survived, live);
      exit(2);
    }
  }
  sl_heap_stats_of(iso, &hs);
  if (hs.young_used > ((size_t)1 << 20)) {
    fprintf(stderr, "bench: full collection: %zu young bytes left, the live set is not old\n",
            hs.young_used);
    exit(2);
  }
  sum = bench_summarise(&s);
  snprintf(note, sizeof note, "%zu objects, %.1f ns/object, %zu MiB old, built in %.0f ms; "
           "target 10^7 <= 1 s", live, sum.median / (double)live, hs.old_used >> 20,
           (double)build / 1e6);
  sum.median /= 1e6; sum.min /= 1e6; sum.max /= 1e6;
  snprintf(kase, sizeof kase, "%s live old objects", label);
  bench_emit(cx, "full-gc", kase, "scopelab", "ms", &sum, NULL, note);
  BENCH_CHECK(iso, sl_scope_close(&outer));
  BENCH_CHECK(iso, sl_isolate_dispose(iso));
}

void bench_fullgc(bench_ctx *cx) {
  printf("full-gc: mark-compact of a live old generation\n");
  if (cx->smoke) {
    run_size(cx, 20000, "2*10^4");
  } else {
    run_size(cx, 1000000, "10^6");
    run_size(cx, 10000000, "10^7");
  }
}
