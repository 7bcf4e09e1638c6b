/* SPDX-License-Identifier: MIT */
/*
** w_objects.c: objects and calls (issue 14) against what they stand beside.
**
** Property access is compared with array element access measured in the same
** run, the same loop shape on both sides: per iteration one store and one
** load, cycling through the P slots (P = 1, 4, 8; the index is n & (P - 1)),
** a scope per 512 iterations because each load makes a Local. The property
** side names its keys with Locals of interned names made once (sl_name), as an
** addon keeps its v8::String keys in eternals; the array side uses the inline
** sl_array_set / sl_array_get. The target: within 2x.
**
** Also: a load by bytes (sl_object_get_named, which compares contents where a
** name compares pointers), object allocation against an array of the same
** size (an object is a header, its property-store slot and its fields, so
** sl_object_new(0) is the size of sl_array(1), and with 2 fields of
** sl_array(3)), and sl_call of a callback that does nothing against a plain C
** call through a function pointer (the floor: V8's FunctionCallbackInfo and
** its implicit HandleScope are what sl_call adds to it).
*/
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_PROPS 8

/* Keys of one length, so a lookup by bytes cannot tell them apart by it. */
static const char *const KEYS[MAX_PROPS] = {
  "field0", "field1", "field2", "field3", "field4", "field5", "field6", "field7"
};

/* ------------------------------------------------------------ property access */

/* One store and one load per iteration, cycling through 'mask' + 1 keys. */
static __attribute__((noinline)) void prop_setget(sl_isolate *iso, sl_local o,
                                                  const sl_local *keys, size_t mask,
                                                  sl_local v, long N) {
  long n = 0;
  while (n < N) {
    sl_scope sc;
    long m;
    int bad = sl_scope_open(iso, &sc);
    for (m = 0; m < 512 && n < N; m++, n++) {
      sl_local got;
      bad |= sl_object_set(iso, o, keys[(size_t)n & mask], v);
      bad |= sl_object_get(iso, o, keys[(size_t)(n + 1) & mask], &got);
      bench_keep(got.slot);
    }
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

/* The same loop over the elements of an array of 'mask' + 1 slots. */
static __attribute__((noinline)) void elem_setget(sl_isolate *iso, sl_local a, size_t mask,
                                                  sl_local v, long N) {
  long n = 0;
  while (n < N) {
    sl_scope sc;
    long m;
    int bad = sl_scope_open(iso, &sc);
    for (m = 0; m < 512 && n < N; m++, n++) {
      sl_local got;
      bad |= sl_array_set(iso, a, (size_t)n & mask, v);
      bad |= sl_array_get(iso, a, (size_t)(n + 1) & mask, &got);
      bench_keep(got.slot);
    }
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

/* Loads only, by name Local ('by_bytes' 0) or by bytes (1), cycling the keys. */
static __attribute__((noinline)) void prop_get(sl_isolate *iso, sl_local o, const sl_local *keys,
                                               size_t mask, int by_bytes, long N) {
  long n = 0;
  while (n < N) {
    sl_scope sc;
    long m;
    int bad = sl_scope_open(iso, &sc);
    for (m = 0; m < 512 && n < N; m++, n++) {
      sl_local got;
      size_t k = (size_t)n & mask;
      if (by_bytes) bad |= sl_object_get_named(iso, o, KEYS[k], 6, &got);
      else bad |= sl_object_get(iso, o, keys[k], &got);
      bench_keep(got.slot);
    }
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

static __attribute__((noinline)) void elem_get(sl_isolate *iso, sl_local a, size_t mask, long N) {
  long n = 0;
  while (n < N) {
    sl_scope sc;
    long m;
    int bad = sl_scope_open(iso, &sc);
    for (m = 0; m < 512 && n < N; m++, n++) {
      sl_local got;
      bad |= sl_array_get(iso, a, (size_t)n & mask, &got);
      bench_keep(got.slot);
    }
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

/* ------------------------------------------------------------ allocation */

/* 'fields' >= 0: sl_object_new with that many internal fields; else sl_array
** of -fields - 1 elements. Scopes of K, scavenges of pure garbage. */
static __attribute__((noinline)) void alloc_loop(sl_isolate *iso, int fields, long S, long K) {
  long s, k;
  for (s = 0; s < S; s++) {
    sl_scope sc;
    int bad = sl_scope_open(iso, &sc);
    for (k = 0; k < K; k++) {
      sl_local out;
      if (fields >= 0) bad |= sl_object_new(iso, fields, &out);
      else bad |= sl_array(iso, (size_t)(-fields - 1), &out);
      bench_keep(out.slot);
    }
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

/* ------------------------------------------------------------ calls */

static sl_status do_nothing(sl_isolate *iso, const sl_call_info *ci) {
  (void)iso, (void)ci;
  return SL_OK;
}

/* Returns its first argument: the frame's slots are read and written. */
static sl_status identity(sl_isolate *iso, const sl_call_info *ci) {
  (void)iso;
  return sl_call_set_return(ci, sl_call_arg(ci, 0));
}

static __attribute__((noinline)) void call_loop(sl_isolate *iso, sl_local fn, size_t argc,
                                                const sl_local *argv, long N) {
  long n = 0;
  while (n < N) {
    sl_scope sc;
    long m;
    int bad = sl_scope_open(iso, &sc);
    for (m = 0; m < 512 && n < N; m++, n++) {
      sl_local res;
      bad |= sl_call(iso, fn, SL_EMPTY_LOCAL, argc, argv, &res);
      bench_keep(res.slot);
    }
    bad |= sl_scope_close(&sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  }
}

/* The floor: a native function called through a pointer the compiler cannot
** see through, with an argument and a result. */
typedef void *(*floor_fn)(void *, void *);
static __attribute__((noinline)) void *floor_callee(void *receiver, void *arg) {
  bench_keep(receiver);
  return arg;
}

static __attribute__((noinline)) void floor_calls(floor_fn volatile *fp, void *arg, long N) {
  long n;
  for (n = 0; n < N; n++) bench_keep((*fp)(NULL, arg));
}

/* ------------------------------------------------------------ the workload */

#define TIME(series, stmt) do { uint64_t t0_ = bench_now_ns(); stmt; \
    bench_add((series), (double)(bench_now_ns() - t0_)); } while (0)

static bench_summary per_op(const bench_series *s, double ops) {
  bench_summary r = bench_summarise(s);
  r.median /= ops; r.min /= ops; r.max /= ops;
  return r;
}

/* The comparator's row, then scopelab's with the ratio to it. */
static void pair(bench_ctx *cx, const char *kase, const char *base_impl, const char *unit,
                 const bench_series *sl, const bench_series *base, double ops,
                 const char *note) {
  bench_summary b = per_op(base, ops), s = per_op(sl, ops);
  bench_emit(cx, "objects", kase, base_impl, unit, &b, NULL, NULL);
  bench_emit(cx, "objects", kase, "scopelab", unit, &s, &b, note);
}

static const int PROPS[] = { 1, 4, 8 };
#define NPROPS ((int)(sizeof PROPS / sizeof PROPS[0]))

void bench_objects(bench_ctx *cx) {
  long NS = cx->smoke ? 20000 : 10000000;     /* set+get pairs per size */
  long NG = cx->smoke ? 20000 : 10000000;     /* loads */
  long NA = cx->smoke ? 200 : 10000, K = 1000;  /* scopes of K allocations */
  long NC = cx->smoke ? 20000 : 10000000;     /* calls */
  sl_isolate *iso = bench_isolate(cx, 0, 0, 0);
  sl_scope top;
  sl_local v, keys[MAX_PROPS], objs[NPROPS], arrs[NPROPS], nop, ident;
  floor_fn volatile fp = floor_callee;
  bench_series s_pr[NPROPS] = {{{0}, 0}}, a_pr[NPROPS] = {{{0}, 0}};
  bench_series s_gn = {0}, s_gl = {0}, a_g = {0};
  bench_series s_o0 = {0}, a_1 = {0}, s_o2 = {0}, a_3 = {0};
  bench_series s_c0 = {0}, s_c1 = {0}, f_c = {0};
  char note[160];
  int r, i, k;

  printf("objects: properties, allocation and calls (issue 14)\n");
  BENCH_CHECK(iso, sl_scope_open(iso, &top));
  BENCH_CHECK(iso, sl_integer(iso, 42, &v));
  for (k = 0; k < MAX_PROPS; k++)
    BENCH_CHECK(iso, sl_name(iso, KEYS[k], strlen(KEYS[k]), &keys[k]));
  for (i = 0; i < NPROPS; i++) {
    BENCH_CHECK(iso, sl_object_new(iso, 0, &objs[i]));
    BENCH_CHECK(iso, sl_array(iso, (size_t)PROPS[i], &arrs[i]));
    for (k = 0; k < PROPS[i]; k++) {
      BENCH_CHECK(iso, sl_object_set(iso, objs[i], keys[k], v));
      BENCH_CHECK(iso, sl_array_set(iso, arrs[i], (size_t)k, v));
    }
  }
  BENCH_CHECK(iso, sl_function_new(iso, do_nothing, NULL, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, &nop));
  BENCH_CHECK(iso, sl_function_new(iso, identity, NULL, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, &ident));

  /* alternate the sides within each repetition, so drift hits both alike */
  for (r = 0; r < cx->reps; r++) {
    for (i = 0; i < NPROPS; i++) {
      size_t mask = (size_t)PROPS[i] - 1;
      TIME(&a_pr[i], elem_setget(iso, arrs[i], mask, v, NS));
      TIME(&s_pr[i], prop_setget(iso, objs[i], keys, mask, v, NS));
    }
    TIME(&a_g, elem_get(iso, arrs[NPROPS - 1], MAX_PROPS - 1, NG));
    TIME(&s_gl, prop_get(iso, objs[NPROPS - 1], keys, MAX_PROPS - 1, 0, NG));
    TIME(&s_gn, prop_get(iso, objs[NPROPS - 1], keys, MAX_PROPS - 1, 1, NG));
    TIME(&a_1, alloc_loop(iso, -2, NA, K));
    TIME(&s_o0, alloc_loop(iso, 0, NA, K));
    TIME(&a_3, alloc_loop(iso, -4, NA, K));
    TIME(&s_o2, alloc_loop(iso, 2, NA, K));
    TIME(&f_c, floor_calls(&fp, &v, NC));
    TIME(&s_c0, call_loop(iso, nop, 0, NULL, NC));
    TIME(&s_c1, call_loop(iso, ident, 1, &v, NC));
  }

  for (i = 0; i < NPROPS; i++) {
    char kase[64];
    snprintf(kase, sizeof kase, "property get+set, %d prop%s", PROPS[i], PROPS[i] == 1 ? "" : "s");
    snprintf(note, sizeof note, "sl_object_set + sl_object_get by interned name vs "
             "sl_array_set + sl_array_get on %d elements; target <= 2x", PROPS[i]);
    pair(cx, kase, "array", "ns/pair", &s_pr[i], &a_pr[i], (double)NS, note);
  }
  {
    bench_summary a = per_op(&a_g, (double)NG), byname = per_op(&s_gl, (double)NG);
    bench_summary bytes = per_op(&s_gn, (double)NG);
    bench_emit(cx, "objects", "property get, 8 props", "array", "ns/get", &a, NULL, NULL);
    bench_emit(cx, "objects", "property get, 8 props", "scopelab", "ns/get", &byname, &a,
               "sl_object_get by interned name (pointer compares) vs sl_array_get");
    bench_emit(cx, "objects", "get by bytes, 8 props", "by-name", "ns/get", &byname, NULL, NULL);
    bench_emit(cx, "objects", "get by bytes, 8 props", "scopelab", "ns/get", &bytes, &byname,
               "sl_object_get_named, 6-byte keys (memcmp per key) vs by interned name");
  }
  pair(cx, "allocate object, 0 fields", "array", "ns/object", &s_o0, &a_1, (double)NA * K,
       "sl_object_new(0) vs sl_array(1), 24 bytes each, incl. scavenges of garbage");
  pair(cx, "allocate object, 2 fields", "array", "ns/object", &s_o2, &a_3, (double)NA * K,
       "sl_object_new(2) vs sl_array(3), 40 bytes each, incl. scavenges of garbage");
  pair(cx, "call, 0 args, empty callback", "floor", "ns/call", &s_c0, &f_c, (double)NC,
       "sl_call: frame, implicit HandleScope, result Local; vs a C call through a pointer");
  pair(cx, "call, 1 arg, returns it", "floor", "ns/call", &s_c1, &f_c, (double)NC,
       "sl_call of a callback doing sl_call_set_return(sl_call_arg(0))");

  BENCH_CHECK(iso, sl_scope_close(&top));
  BENCH_CHECK(iso, sl_isolate_dispose(iso));
}
