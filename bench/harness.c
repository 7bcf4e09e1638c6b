/* SPDX-License-Identifier: MIT */
/*
** harness.c: statistics, printing and the rows file for the benchmarks.
*/
#include <stdlib.h>
#include <string.h>

#include "bench.h"

void bench_add(bench_series *s, double v) {
  if (s->n < BENCH_MAX_REPS) s->sample[s->n++] = v;
}

static int cmpdouble(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

bench_summary bench_summarise(const bench_series *s) {
  bench_summary r = { 0, 0, 0, s->n };
  double v[BENCH_MAX_REPS];
  if (s->n == 0) return r;
  memcpy(v, s->sample, sizeof(double) * (size_t)s->n);
  qsort(v, (size_t)s->n, sizeof(double), cmpdouble);
  r.min = v[0];
  r.max = v[s->n - 1];
  /* the lower median for an even count: a sample that really happened */
  r.median = v[(s->n - 1) / 2];
  return r;
}

/* Tabs and newlines would break the rows file; notes are short prose. */
static void puttsv(FILE *f, const char *s) {
  for (; s && *s; s++) fputc((*s == '\t' || *s == '\n') ? ' ' : *s, f);
}

void bench_emit(bench_ctx *cx, const char *workload, const char *kase,
                const char *impl, const char *unit, const bench_summary *sum,
                const bench_summary *base, const char *note) {
  printf("  %-16s %-28s %-10s median %12.3f  min %12.3f  max %12.3f %-10s",
         workload, kase, impl, sum->median, sum->min, sum->max, unit);
  if (base && base->median > 0)
    printf("  ratio %.2fx", sum->median / base->median);
  if (note) printf("  (%s)", note);
  printf("\n");
  fflush(stdout);
  if (cx->rows) {
    FILE *f = cx->rows;
    puttsv(f, workload); fputc('\t', f);
    puttsv(f, kase); fputc('\t', f);
    puttsv(f, impl); fputc('\t', f);
    puttsv(f, unit); fputc('\t', f);
    fprintf(f, "%.6g\t%.6g\t%.6g\t%d\t", sum->median, sum->min, sum->max, sum->n);
    puttsv(f, note ? note : ""); fputc('\n', f);
    fflush(f);
  }
}

void bench_emit_missing(bench_ctx *cx, const char *workload, const char *kase,
                        const char *impl, const char *why) {
  printf("  %-16s %-28s %-10s %s\n", workload, kase, impl, why);
  if (cx->rows) {
    FILE *f = cx->rows;
    puttsv(f, workload); fputc('\t', f);
    puttsv(f, kase); fputc('\t', f);
    puttsv(f, impl); fputs("\t-\t-\t-\t-\t0\t", f);
    puttsv(f, why); fputc('\n', f);
    fflush(f);
  }
}

void bench_check(sl_isolate *iso, sl_status st, const char *what) {
  if (st == SL_OK) return;
  fprintf(stderr, "bench: %s failed: %s (%s)\n", what, sl_status_name(st),
          iso ? sl_last_error(iso) : "no isolate");
  exit(2);
}

sl_isolate *bench_isolate_zap(size_t young, size_t old, unsigned promote_after, int zap) {
  sl_options o;
  sl_isolate *iso;
  const char *bad;
  sl_options_init(&o);
  if (young) o.young_size = young;
  if (old) o.old_size = old;
  if (promote_after) o.promote_after = promote_after;
  if (zap >= 0) o.zap_handles = zap;
  bad = sl_options_check(&o);
  if (bad) {
    fprintf(stderr, "bench: bad isolate options: %s\n", bad);
    exit(2);
  }
  iso = sl_isolate_new(&o);
  if (!iso) {
    fprintf(stderr, "bench: sl_isolate_new failed (young %zu, old %zu)\n", young, old);
    exit(2);
  }
  return iso;
}

int bench_selected(const bench_ctx *cx, const char *name) {
  return cx->only == NULL || strstr(name, cx->only) != NULL;
}
