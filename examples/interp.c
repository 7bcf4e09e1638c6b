/* SPDX-License-Identifier: MIT */
/*
** interp.c: a C-only embedder of the scopelab core, shaped like an interpreter.
**
** An interpreter keeps its globals in a heap array held by a persistent handle
** (its "global object"), runs each builtin call in an escapable scope so that only
** the result outlives the call, and opens one handle scope per statement so that a
** long loop uses a constant number of handles. This program runs such a workload on
** a small young generation, so scavenges and promotions happen while it runs, and
** checks what it observes:
**
**   1. the handle count inside a statement is the same in every iteration, and is
**      back to the baseline after each statement (no handle leak);
**   2. every global still holds the record last stored in it after objects moved;
**   3. a Local returned from a plain (non-escapable) scope is refused as stale;
**   4. once the globals persistent is reset, a major collection frees the records.
**
** It prints each observation and exits 1 at the first wrong result.
** Build: cc interp.c $(pkg-config --cflags --libs scopelab)
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scopelab.h"

#define N_GLOBALS 16      /* slots in the global object */
#define N_ROUNDS  5000    /* statements the program runs */
#define PAD_BYTES 200     /* garbage string bytes each call leaves behind */

/* Everything the interpreter knows hangs off this (no globals in C). */
typedef struct vm {
  sl_isolate *iso;
  sl_persistent globals;    /* the global object: an array of N_GLOBALS records */
} vm;

/* Reports a failed API call with the isolate's message and says so to the caller. */
static int failed(vm *v, const char *what, sl_status st) {
  fprintf(stderr, "interp: %s failed: %s (%s)\n", what, sl_status_name(st),
          sl_last_error(v->iso));
  return 0;
}

#define TRY(v, call) do { sl_status st_ = (call); \
    if (st_ != SL_OK) return failed((v), #call, st_); } while (0)

/* A claim about what the program observed: prints it, and fails when it is false. */
#define CLAIM(cond, ...) do { if (!(cond)) { \
    fprintf(stderr, "interp: WRONG: " __VA_ARGS__); fputc('\n', stderr); \
    return 0; } } while (0)

/*
** The builtin 'record(n)': returns the array { n, "r<n>", n / 2 }. It allocates a
** padding string that dies with the call, as a real builtin leaves temporaries.
** Only the array escapes: the escape slot was reserved in the caller's scope.
*/
static int builtin_record(vm *v, int64_t n, sl_local *out) {
  sl_scope s;
  sl_local num, str, half, arr, pad;
  char name[32];
  char padding[PAD_BYTES];
  TRY(v, sl_escapable_scope_open(v->iso, &s));
  snprintf(name, sizeof name, "r%" PRId64, n);
  memset(padding, 'x', sizeof padding);
  TRY(v, sl_string(v->iso, padding, sizeof padding, &pad));
  TRY(v, sl_integer(v->iso, n, &num));
  TRY(v, sl_string(v->iso, name, strlen(name), &str));
  TRY(v, sl_number(v->iso, (double)n / 2.0, &half));
  TRY(v, sl_array(v->iso, 3, &arr));   /* may move num/str/half: the slots follow */
  TRY(v, sl_array_set(v->iso, arr, 0, num));
  TRY(v, sl_array_set(v->iso, arr, 1, str));
  TRY(v, sl_array_set(v->iso, arr, 2, half));
  TRY(v, sl_scope_escape(&s, arr, out));
  TRY(v, sl_scope_close(&s));
  return 1;
}

/* Checks that 'rec' is the record builtin_record(n) made. */
static int record_is(vm *v, sl_local rec, int64_t n) {
  sl_scope s;
  sl_local e;
  int64_t i;
  double d;
  const char *bytes;
  size_t len, alen;
  char name[32];
  int ok;
  TRY(v, sl_scope_open(v->iso, &s));
  TRY(v, sl_array_length(v->iso, rec, &alen));
  CLAIM(alen == 3, "record of %" PRId64 " has %zu elements", n, alen);
  TRY(v, sl_array_get(v->iso, rec, 0, &e));
  TRY(v, sl_integer_value(v->iso, e, &i));
  TRY(v, sl_array_get(v->iso, rec, 2, &e));
  TRY(v, sl_number_value(v->iso, e, &d));
  TRY(v, sl_array_get(v->iso, rec, 1, &e));
  TRY(v, sl_string_value(v->iso, e, &bytes, &len));   /* valid until the next allocation */
  snprintf(name, sizeof name, "r%" PRId64, n);
  ok = i == n && d == (double)n / 2.0 && len == strlen(name) && memcmp(bytes, name, len) == 0;
  CLAIM(ok, "record holds {%" PRId64 ", \"%.*s\", %g}, expected {%" PRId64 ", \"%s\", %g}",
        i, (int)len, bytes, d, n, name, (double)n / 2.0);
  TRY(v, sl_scope_close(&s));
  return 1;
}

/* One statement: 'globals[n % N_GLOBALS] = record(n)', in its own handle scope. */
static int statement(vm *v, int64_t n, size_t *inside) {
  sl_scope s;
  sl_local rec = SL_EMPTY_LOCAL, g;
  TRY(v, sl_scope_open(v->iso, &s));
  if (!builtin_record(v, n, &rec)) return 0;
  TRY(v, sl_persistent_get(v->iso, v->globals, &g));
  TRY(v, sl_array_set(v->iso, g, (size_t)(n % N_GLOBALS), rec));  /* old -> young: barrier */
  *inside = sl_number_of_handles(v->iso);
  TRY(v, sl_scope_close(&s));
  return 1;
}

/* Claim 1 and 2: the loop, then every global checked after a full collection. */
static int run_program(vm *v, sl_probe *first_global) {
  sl_scope s;
  sl_local g, e;
  sl_gc_stats gs;
  sl_heap_stats hs;
  size_t base = sl_number_of_handles(v->iso), inside = 0, first_inside = 0;
  int64_t n;
  for (n = 1; n <= N_ROUNDS; n++) {
    if (!statement(v, n, &inside)) return 0;
    if (n == 1) first_inside = inside;
    CLAIM(inside == first_inside, "statement %" PRId64 " held %zu handles, the first held %zu",
          n, inside, first_inside);
    CLAIM(sl_number_of_handles(v->iso) == base,
          "after statement %" PRId64 " %zu handles are live, expected %zu",
          n, sl_number_of_handles(v->iso), base);
  }
  sl_heap_stats_of(v->iso, &hs);
  printf("ran %d statements: %zu handles inside each, %zu after each; "
         "%" PRIu64 " minor and %" PRIu64 " major collections, %" PRIu64 " objects moved\n",
         N_ROUNDS, first_inside, base, hs.minor_collections, hs.major_collections,
         hs.objects_moved);
  CLAIM(hs.minor_collections > 0, "a %zu-byte young generation never filled", hs.young_size);

  TRY(v, sl_collect(v->iso, SL_MINOR | SL_MAJOR, &gs));
  TRY(v, sl_verify_heap(v->iso));
  printf("full collection #%" PRIu64 ": %zu objects moved, %zu bytes freed, heap verified\n",
         gs.number, gs.moved, gs.freed_bytes);

  TRY(v, sl_scope_open(v->iso, &s));
  TRY(v, sl_persistent_get(v->iso, v->globals, &g));
  for (n = N_ROUNDS - N_GLOBALS + 1; n <= N_ROUNDS; n++) {
    TRY(v, sl_array_get(v->iso, g, (size_t)(n % N_GLOBALS), &e));
    if (!record_is(v, e, n)) return 0;
  }
  TRY(v, sl_array_get(v->iso, g, 0, &e));
  TRY(v, sl_probe_new(v->iso, e, first_global));
  TRY(v, sl_scope_close(&s));
  printf("all %d globals hold the record last stored in them\n", N_GLOBALS);
  return 1;
}

/* Claim 3: the classic bug of returning a Local from a plain handle scope. */
static int stale_local_is_refused(vm *v) {
  sl_scope s;
  sl_local h;
  int64_t i = 0;
  sl_status st;
  TRY(v, sl_scope_open(v->iso, &s));
  TRY(v, sl_integer(v->iso, 42, &h));
  TRY(v, sl_scope_close(&s));
  st = sl_integer_value(v->iso, h, &i);
  CLAIM(st == SL_ESTALE, "reading a Local of a closed scope gave '%s', expected '%s'",
        sl_status_name(st), sl_status_name(SL_ESTALE));
  printf("a Local used after its scope closed is refused: %s\n", sl_last_error(v->iso));
  return 1;
}

/* Claim 4: resetting the global object frees it and every record. */
static int reset_frees_globals(vm *v, sl_probe first_global) {
  sl_probe_info before, after;
  sl_heap_stats hs0, hs1;
  sl_gc_stats gs;
  TRY(v, sl_probe_info_of(v->iso, first_global, &before));
  CLAIM(before.alive, "a record still stored in a global is dead");
  sl_heap_stats_of(v->iso, &hs0);
  TRY(v, sl_persistent_reset(v->iso, v->globals, SL_EMPTY_LOCAL));
  TRY(v, sl_collect(v->iso, SL_MINOR | SL_MAJOR, &gs));
  TRY(v, sl_probe_info_of(v->iso, first_global, &after));
  sl_heap_stats_of(v->iso, &hs1);
  printf("record %" PRIu64 " (%s, moved %" PRIu64 " times) before reset; "
         "after reset and a full collection it is %s\n",
         before.id, before.generation == SL_OLD ? "old" : "young", before.moves,
         after.alive ? "alive" : "dead");
  printf("heap in use: %zu bytes before, %zu bytes after\n",
         hs0.young_used + hs0.old_used, hs1.young_used + hs1.old_used);
  CLAIM(!after.alive, "a record nobody refers to survived a full collection");
  CLAIM(hs1.young_used + hs1.old_used < hs0.young_used + hs0.old_used,
        "the heap did not shrink after the globals were dropped");
  TRY(v, sl_probe_delete(v->iso, first_global));
  return 1;
}

static int run(vm *v) {
  sl_scope s;
  sl_local g;
  sl_probe first_global;
  TRY(v, sl_scope_open(v->iso, &s));
  TRY(v, sl_array(v->iso, N_GLOBALS, &g));
  TRY(v, sl_persistent_new(v->iso, g, &v->globals));
  TRY(v, sl_scope_close(&s));
  if (!run_program(v, &first_global)) return 0;
  if (!stale_local_is_refused(v)) return 0;
  if (!reset_frees_globals(v, first_global)) return 0;
  TRY(v, sl_persistent_delete(v->iso, v->globals));
  return 1;
}

int main(void) {
  sl_options o;
  vm v;
  int ok;
  sl_options_init(&o);
  o.young_size = (size_t)64 * 1024;   /* small, so the loop scavenges and promotes */
  o.verify_heap = 1;
  v.iso = sl_isolate_new(&o);
  if (v.iso == NULL) {
    fprintf(stderr, "interp: cannot create an isolate: %s\n",
            sl_options_check(&o) ? sl_options_check(&o) : "out of memory");
    return 1;
  }
  printf("scopelab %s, interpreter workload\n", SL_VERSION);
  ok = run(&v);
  if (sl_isolate_dispose(v.iso) != SL_OK) ok = 0;
  printf("%s\n", ok ? "interp: all claims hold" : "interp: FAILED");
  return ok ? 0 : 1;
}
