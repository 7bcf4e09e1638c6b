/* SPDX-License-Identifier: MIT */
/*
** test_misuse.c: misuse the core must refuse, and paths that must stay linear
** on inputs a user can reach (deep scope stacks, tiny handle blocks).
*/
#include <string.h>

#include "t.h"
#include "tests.h"

typedef struct closer {
  int close_caller;   /* close the innermost open scope (the caller's) */
  int reopen_and_fill;/* then open a new one and fill it with integers */
  int ran;
} closer;

/* A weak callback that closes the scope its allocation was made from. */
static void close_callers_scope(sl_isolate *iso, sl_persistent p, void *param) {
  closer *c = param;
  sl_scope inner;
  c->ran++;
  sl_persistent_delete(iso, p);
  if (!c->close_caller || sl_scope_depth(iso) == 0) return;
  if (sl_scope_at(iso, sl_scope_depth(iso), &inner) == SL_OK) sl_scope_close(&inner);
  if (c->reopen_and_fill && sl_scope_open(iso, &inner) == SL_OK)
    for (int i = 0; i < 8; i++) {
      sl_local x;
      sl_integer(iso, 1000 + i, &x);
    }
}

/* One dying weak object whose callback is 'c', and the scope to call from. */
static void arm(sl_isolate *iso, closer *c) {
  sl_scope s;
  sl_local h;
  sl_persistent p;
  OK(sl_scope_open(iso, &s));
  OK(sl_integer(iso, 7, &h));
  OK(sl_persistent_new(iso, h, &p));
  OK(sl_persistent_set_weak(iso, p, close_callers_scope, c));
  OK(sl_scope_close(&s));
}

static void array_from_under_a_closing_callback(int reopen) {
  sl_options o = t_options();
  o.gc_interval = 1;
  o.gc_interval_major = 1;
  sl_isolate *iso = t_new(&o);
  closer c = { 1, reopen, 0 };
  sl_scope outer, s;
  sl_local e[5], a = SL_EMPTY_LOCAL;
  OK(sl_scope_open(iso, &outer));
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 5; i++) OK(sl_integer(iso, i, &e[i]));
  arm(iso, &c);
  /* five elements: the out-of-line path, whose allocation collects and queues
  ** the callback; it must run only after the array is filled, and the Local
  ** it closed must not be handed out */
  FAILS(sl_array_from(iso, 5, e, &a), SL_ESTALE);
  CHECK(c.ran == 1);
  CHECK(strstr(sl_last_error(iso), "weak callback closed the scope") != NULL);
  VERIFY(iso);
  t_collect(iso, SL_MAJOR);
  while (sl_scope_depth(iso) > 0) {
    sl_scope top;
    OK(sl_scope_at(iso, sl_scope_depth(iso), &top));
    OK(sl_scope_close(&top));
  }
  t_collect(iso, SL_MAJOR);
  sl_isolate_dispose(iso);
}

void test_array_from_refuses_a_local_whose_scope_a_callback_closed(void) {
  array_from_under_a_closing_callback(0);
}

void test_array_from_refuses_a_local_whose_scope_a_callback_closed_and_refilled(void) {
  array_from_under_a_closing_callback(1);
}

void test_persistents_and_probes_of_another_isolate_are_refused_unread(void) {
  sl_isolate *a = t_isolate(0, 0, 0), *b = sl_isolate_new(NULL);
  sl_scope sa, sb;
  CHECK(b != NULL);
  if (b == NULL) return;
  sl_local ha = SL_EMPTY_LOCAL, hb = SL_EMPTY_LOCAL;
  sl_persistent pb = { 0 };
  sl_probe wb = { 0 };
  sl_probe_info info;
  OK(sl_scope_open(a, &sa));
  OK(sl_integer(a, 1, &ha));
  CHECK(sl_scope_open(b, &sb) == SL_OK && sl_integer(b, 2, &hb) == SL_OK);
  CHECK(sl_persistent_new(b, hb, &pb) == SL_OK && sl_probe_new(b, hb, &wb) == SL_OK);
  /* both isolates' node serials start near 1 without a per-isolate range */
  FAILS(sl_persistent_reset(a, pb, ha), SL_EISOLATE);
  FAILS(sl_probe_info_of(a, wb, &info), SL_EISOLATE);
  CHECK(strstr(sl_last_error(a), "another isolate") != NULL);
  sl_scope_close(&sb);
  sl_isolate_dispose(b);
  /* b is gone: its handles must be refused without reading its freed nodes */
  FAILS(sl_persistent_get(a, pb, &ha), SL_EISOLATE);
  FAILS(sl_probe_delete(a, wb), SL_EISOLATE);
  OK(sl_scope_close(&sa));
  VERIFY(a);
  sl_isolate_dispose(a);
}

typedef struct scope_walk {
  uint32_t seen, bad;
  uint32_t seal_depth;
} scope_walk;

static int check_scope(const sl_scope_info *in, void *ud) {
  scope_walk *w = ud;
  w->seen++;
  /* one handle per scope; the seal owns none and adds no level */
  uint32_t want_level = in->depth < w->seal_depth ? in->depth : in->depth - 1;
  size_t want_handles = in->kind == SL_SCOPE_SEAL ? 0 : 1;
  if (in->depth != w->seen || in->level != want_level || in->handles != want_handles) w->bad++;
  return 0;
}

/* 10^5 nested scopes: the report walk is one pass (it was O(depth^2): minutes). */
void test_a_report_over_a_hundred_thousand_nested_scopes_is_one_pass(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  enum { N = 100000 };
  scope_walk w = { 0, 0, N / 2 };
  for (uint32_t d = 1; d <= N; d++) {
    sl_scope s;
    sl_local h;
    if (d == w.seal_depth) {
      OK(sl_seal_scope_open(iso, &s));
      continue;
    }
    OK(sl_scope_open(iso, &s));
    OK(sl_integer(iso, d, &h));
  }
  sl_scope_foreach(iso, check_scope, &w);
  CHECK(w.seen == N && w.bad == 0);
  sl_scope_info in;
  OK(sl_scope_info_at(iso, N, &in));
  CHECK(in.level == N - 1 && in.handles == 1);
  sl_heap_stats st;
  sl_heap_stats_of(iso, &st);
  CHECK(st.scope_level == N - 1 && st.scope_depth == N);
  t_collect(iso, SL_MINOR);
  while (sl_scope_depth(iso) > 0) {
    sl_scope top;
    OK(sl_scope_at(iso, sl_scope_depth(iso), &top));
    OK(sl_scope_close(&top));
  }
  sl_heap_stats_of(iso, &st);
  CHECK(st.scope_level == 0 && st.handles == 0);
  sl_isolate_dispose(iso);
}

/* Blocks of two slots: 200,000 handles in a capacity scope, then the refusal
** of one more (the count was recomputed from the first block each time: 7 s). */
void test_a_capacity_scope_over_tiny_blocks_stays_linear(void) {
  sl_isolate *iso = t_isolate(0, 0, 2);
  enum { N = 200000 };
  sl_scope outer, s;
  sl_local h;
  OK(sl_scope_open(iso, &outer));
  OK(sl_integer(iso, -1, &h));
  OK(sl_scope_open_capacity(iso, N, &s));
  for (int i = 0; i < N; i++) OK(sl_local_new(iso, h, &h));
  FAILS(sl_local_new(iso, h, &h), SL_ECAPACITY);
  sl_scope_info in;
  OK(sl_scope_info_at(iso, 2, &in));
  CHECK(in.handles == N && in.capacity == N);
  OK(sl_scope_close(&s));
  CHECK(sl_number_of_handles(iso) == 1);
  OK(sl_scope_close(&outer));
  VERIFY(iso);
  sl_isolate_dispose(iso);
}
