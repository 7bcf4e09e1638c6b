/* SPDX-License-Identifier: MIT */
/*
** test_main.c: runs every core test and prints "C tests: N passed, M failed".
*/
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tests.h"

int t_failed;
sl_isolate *t_iso;

sl_options t_options(void) {
  sl_options o;
  sl_options_init(&o);
  o.verify_heap = 1;
  return o;
}

sl_isolate *t_new(const sl_options *o) {
  t_iso = sl_isolate_new(o);
  if (t_iso == NULL) {
    fprintf(stderr, "cannot create an isolate\n");
    exit(2);
  }
  return t_iso;
}

sl_isolate *t_isolate(size_t young, size_t old, size_t block) {
  sl_options o = t_options();
  if (young) o.young_size = young;
  if (old) o.old_size = old;
  if (block) o.block_size = block;
  return t_new(&o);
}

void t_collect(sl_isolate *iso, int kind) {
  sl_gc_stats g;
  OK(sl_collect(iso, kind, &g));
  VERIFY(iso);
}

int t_alive(sl_isolate *iso, sl_probe p) {
  sl_probe_info i;
  OK(sl_probe_info_of(iso, p, &i));
  return i.alive;
}

uintptr_t t_addr(sl_isolate *iso, sl_probe p) {
  sl_probe_info i;
  OK(sl_probe_info_of(iso, p, &i));
  return i.address;
}

uint64_t t_moves(sl_isolate *iso, sl_probe p) {
  sl_probe_info i;
  OK(sl_probe_info_of(iso, p, &i));
  return i.moves;
}

#define T(name) { #name, name },
static const struct { const char *name; void (*fn)(void); } tests[] = { TESTS(T) };

int main(int argc, char **argv) {
  int passed = 0, failed = 0;
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    if (argc > 1 && strstr(tests[i].name, argv[1]) == NULL) continue;
    t_failed = 0;
    t_iso = NULL;
    tests[i].fn();
    printf("%s %s\n", t_failed ? "FAIL" : "ok  ", tests[i].name);
    if (t_failed) failed++;
    else passed++;
  }
  printf("C tests: %d passed, %d failed\n", passed, failed);
  return failed != 0;
}
