/* SPDX-License-Identifier: MIT */
/*
** bench.h: the harness shared by every scopelab benchmark.
**
** A workload times its scopelab side and its comparators in the same process,
** several repetitions each, with clock_gettime(CLOCK_MONOTONIC). Each series is
** summarised as median, min and max, printed at once with its ratio to the
** comparator, and appended as one tab-separated row to the rows file that
** bench/report.lua turns into the table, results.json and the SVG chart.
**
** Nothing here fails on a slow figure: a benchmark reports, it never judges.
*/
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "scopelab.h"

#define BENCH_MAX_REPS 64

/* Run-wide settings, passed to every workload (no globals). */
typedef struct bench_ctx {
  int smoke;          /* tiny sizes: the build check that CI runs */
  int reps;           /* repetitions per series */
  FILE *rows;         /* the rows file, appended to */
  const char *only;   /* run only workloads whose name contains this (NULL: all) */
  int depth;          /* binary-trees: one depth instead of 16 and 18 (0: those) */
  int zap;            /* zap_handles for every isolate: 0 (release, V8's
                         non-debug build) unless --zap asks for the default */
} bench_ctx;

/* One measured series: 'n' samples of a quantity in 'unit'. */
typedef struct bench_series {
  double sample[BENCH_MAX_REPS];
  int n;
} bench_series;

typedef struct bench_summary {
  double median, min, max;
  int n;
} bench_summary;

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keeps the optimiser from deleting a loop whose only effect is 'p'. */
#define bench_keep(p) __asm__ volatile("" : : "g"(p) : "memory")

void bench_add(bench_series *s, double v);
bench_summary bench_summarise(const bench_series *s);

/*
** Prints and records one series. 'workload' and 'kase' name the table row,
** 'impl' the side ("scopelab", "floor", "malloc", "boehm", ...), 'unit' what a
** sample counts ("ns/handle", "ms", ...), 'note' anything a reader needs (may be
** NULL). 'base' (may be NULL) is the comparator's summary for the ratio column.
*/
void bench_emit(bench_ctx *cx, const char *workload, const char *kase,
                const char *impl, const char *unit, const bench_summary *sum,
                const bench_summary *base, const char *note);

/* Records a side that could not run (e.g. Boehm GC not installed). */
void bench_emit_missing(bench_ctx *cx, const char *workload, const char *kase,
                        const char *impl, const char *why);

/* Deepest tree the shared walks take (sl_trees.c). */
#define BENCH_MAX_FRAMES 64
/* Subtrees up to this depth (127 nodes) are built and walked in one scope. */
#define BENCH_FLAT_DEPTH 6
/* A bottom-up tree of 'depth', nodes of 'slots' elements, as a new Local;
** 'scoped': a scope per node instead of one per subtree of BENCH_FLAT_DEPTH. */
void bench_sl_tree(sl_isolate *iso, int depth, size_t slots, int scoped, sl_local *out);
/* The nodes of the tree of 'depth' at 'root', scopes placed as above. */
long bench_sl_count(sl_isolate *iso, sl_local root, int depth, int scoped);

/* Exits with a message naming the failed call; a failure here is a broken
** benchmark (or core), not a slow one. */
void bench_check(sl_isolate *iso, sl_status st, const char *what);
/* The test stays inline: a call per checked operation was a tenth of the
** scopelab side's instructions in binary-trees, a cost no comparator pays. */
#define BENCH_CHECK(iso, call) do {                                  \
    sl_status bench_st_ = (call);                                      \
    if (bench_st_ != SL_OK) bench_check((iso), bench_st_, #call);      \
  } while (0)

/* A new isolate with the given semispace and old sizes (0: defaults), and
** zap_handles as the run asks ('zap' < 0: the library default). */
sl_isolate *bench_isolate_zap(size_t young, size_t old, unsigned promote_after, int zap);
#define bench_isolate(cx, young, old, promote_after) \
  bench_isolate_zap((young), (old), (promote_after), (cx)->zap)

/* Whether workload 'name' is selected for this run. */
int bench_selected(const bench_ctx *cx, const char *name);

/* The workloads. */
void bench_handles(bench_ctx *cx);
void bench_objects(bench_ctx *cx);
void bench_bintrees(bench_ctx *cx);
void bench_gcbench(bench_ctx *cx);
void bench_scavenge(bench_ctx *cx);
void bench_fullgc(bench_ctx *cx);

/* The Boehm GC comparators (cmp_boehm.c). Each returns 0 when Boehm is not
** built in, else 1 with the node count in '*check' (and GCBench's array[1000]
** in '*probe'). */
int boehm_available(void);
void boehm_init(void);
int boehm_bintrees(int max_depth, long *check);
int boehm_gcbench(int stretch, int long_lived, int min_depth, int max_depth,
                  long array_size, long *check, double *probe);

#endif
