/* SPDX-License-Identifier: MIT */
/*
** main.c: the C benchmark driver.
**
**   scopelab-bench [--smoke] [--reps N] [--rows FILE] [--only NAME] [--depth D]
**
** --depth runs binary-trees at depth D only (for profiling under callgrind).
** Isolates run with zap_handles = 0, the release configuration (V8 zaps freed
** handles only in debug builds); --zap keeps the library default instead.
** Runs every C workload (or those whose name contains NAME), printing each series
** as it completes and appending it to FILE for bench/report.lua.
*/
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void usage(void) {
  fprintf(stderr, "usage: scopelab-bench [--smoke] [--reps N] [--rows FILE] [--only NAME] [--depth D] [--zap]\n"
                  "  NAME: handles, objects, bintrees, gcbench, scavenge, fullgc\n");
  exit(2);
}

int main(int argc, char **argv) {
  bench_ctx cx = { 0, 0, NULL, NULL, 0, 0 };
  const char *rows = NULL;
  int i;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--smoke") == 0) cx.smoke = 1;
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) cx.reps = atoi(argv[++i]);
    else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) rows = argv[++i];
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) cx.only = argv[++i];
    else if (strcmp(argv[i], "--zap") == 0) cx.zap = -1;
    else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc) cx.depth = atoi(argv[++i]);
    else usage();
  }
  if (cx.reps <= 0) cx.reps = cx.smoke ? 2 : 5;
  if (cx.reps > BENCH_MAX_REPS) cx.reps = BENCH_MAX_REPS;
  if (rows) {
    cx.rows = fopen(rows, "a");
    if (!cx.rows) {
      perror(rows);
      return 2;
    }
  }
  boehm_init();
  printf("scopelab %s benchmarks (%s, %d repetitions, zap_handles %s, Boehm GC %s)\n",
         SL_VERSION, cx.smoke ? "smoke sizes" : "full sizes", cx.reps,
         cx.zap < 0 ? "default" : "off",
         boehm_available() ? "linked" : "not installed");
  if (bench_selected(&cx, "handles")) bench_handles(&cx);
  if (bench_selected(&cx, "objects")) bench_objects(&cx);
  if (bench_selected(&cx, "bintrees")) bench_bintrees(&cx);
  if (bench_selected(&cx, "gcbench")) bench_gcbench(&cx);
  if (bench_selected(&cx, "scavenge")) bench_scavenge(&cx);
  if (bench_selected(&cx, "fullgc")) bench_fullgc(&cx);
  if (cx.rows) fclose(cx.rows);
  return 0;
}
