/* SPDX-License-Identifier: MIT */
/*
** test_globals.c: persistent, weak and eternal handles, and probes.
*/
#include <string.h>

#include "t.h"
#include "tests.h"

static sl_local integer(sl_isolate *iso, int64_t v) {
  sl_local h = SL_EMPTY_LOCAL;
  OK(sl_integer(iso, v, &h));
  return h;
}

/* A persistent for a new integer made in a scope that is closed again. */
static sl_persistent persistent_integer(sl_isolate *iso, int64_t v, sl_probe *p) {
  sl_scope s;
  sl_persistent out = { 0 };
  OK(sl_scope_open(iso, &s));
  sl_local h = integer(iso, v);
  OK(sl_persistent_new(iso, h, &out));
  if (p) OK(sl_probe_new(iso, h, p));
  OK(sl_scope_close(&s));
  return out;
}

void test_persistent_keeps_object_until_reset(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_probe pr;
  sl_persistent p = persistent_integer(iso, 11, &pr);
  CHECK(sl_scope_depth(iso) == 0);
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MAJOR);
  t_collect(iso, SL_MINOR);
  CHECK(t_alive(iso, pr));
  sl_scope s;
  sl_local h;
  int64_t v = 0;
  OK(sl_scope_open(iso, &s));
  OK(sl_persistent_get(iso, p, &h));
  OK(sl_integer_value(iso, h, &v));
  CHECK(v == 11);
  OK(sl_scope_close(&s));
  sl_heap_stats st;
  sl_heap_stats_of(iso, &st);
  CHECK(st.persistent_handles == 1);
  OK(sl_persistent_reset(iso, p, SL_EMPTY_LOCAL));
  int empty = 0;
  OK(sl_persistent_is_empty(iso, p, &empty));
  CHECK(empty);
  t_collect(iso, SL_MAJOR);
  CHECK(!t_alive(iso, pr));
  sl_heap_stats_of(iso, &st);
  CHECK(st.persistent_handles == 0);
  OK(sl_persistent_delete(iso, p));
  sl_isolate_dispose(iso);
}

void test_deleted_persistent_is_refused(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_persistent p = persistent_integer(iso, 1, NULL);
  OK(sl_persistent_delete(iso, p));
  int e;
  FAILS(sl_persistent_is_empty(iso, p, &e), SL_EARG);
  CHECK(strstr(sl_last_error(iso), "deleted") != NULL);
  sl_persistent q = persistent_integer(iso, 2, NULL);  /* may reuse the node */
  CHECK(q.node == p.node);
  FAILS(sl_persistent_delete(iso, p), SL_EARG);       /* the old copy stays invalid */
  OK(sl_persistent_is_empty(iso, q, &e));
  CHECK(!e);
  OK(sl_persistent_delete(iso, q));
  sl_isolate_dispose(iso);
}

typedef struct calls {
  int n;
  int empty_when_called;
  int order[10000];
} calls;

static void on_weak(sl_isolate *iso, sl_persistent p, void *param) {
  calls *c = param;
  int e = 0;
  if (sl_persistent_is_empty(iso, p, &e) == SL_OK && e) c->empty_when_called++;
  c->n++;
}

void test_weak_handle_is_emptied_before_its_callback_runs_once(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  static calls c;
  memset(&c, 0, sizeof c);
  sl_probe pr;
  sl_persistent p = persistent_integer(iso, 5, &pr);
  OK(sl_persistent_set_weak(iso, p, on_weak, &c));
  int weak = 0;
  OK(sl_persistent_is_weak(iso, p, &weak));
  CHECK(weak);
  sl_gc_stats g;
  OK(sl_collect(iso, SL_MAJOR, &g));
  VERIFY(iso);
  CHECK(!t_alive(iso, pr));
  CHECK(c.n == 1 && c.empty_when_called == 1);
  CHECK(g.weak_cleared == 1 && g.callbacks_run == 1);
  OK(sl_persistent_is_weak(iso, p, &weak));
  CHECK(!weak);
  t_collect(iso, SL_MAJOR);
  t_collect(iso, SL_MINOR);
  CHECK(c.n == 1);                      /* exactly once */
  OK(sl_persistent_delete(iso, p));
  sl_isolate_dispose(iso);
}

void test_clear_weak_makes_the_handle_strong_again(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  static calls c;
  memset(&c, 0, sizeof c);
  sl_probe pr;
  sl_persistent p = persistent_integer(iso, 5, &pr);
  OK(sl_persistent_set_weak(iso, p, on_weak, &c));
  void *param = NULL;
  OK(sl_persistent_clear_weak(iso, p, &param));
  CHECK(param == &c);
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MAJOR);
  CHECK(t_alive(iso, pr));
  CHECK(c.n == 0);
  OK(sl_persistent_delete(iso, p));
  t_collect(iso, SL_MAJOR);
  CHECK(!t_alive(iso, pr));
  sl_isolate_dispose(iso);
}

typedef struct busy { sl_persistent made; int ran; } busy;

static void allocate_and_collect(sl_isolate *iso, sl_persistent p, void *param) {
  busy *b = param;
  (void)p;
  sl_scope s;
  sl_local h;
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 1000; i++) OK(sl_integer(iso, i, &h));
  OK(sl_persistent_new(iso, h, &b->made));
  OK(sl_collect(iso, SL_MAJOR, NULL));
  OK(sl_scope_close(&s));
  b->ran++;
}

void test_weak_callback_may_allocate_and_collect(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  busy b = { { 0 }, 0 };
  sl_persistent p = persistent_integer(iso, 1, NULL);
  OK(sl_persistent_set_weak(iso, p, allocate_and_collect, &b));
  t_collect(iso, SL_MINOR);
  CHECK(b.ran == 1);
  sl_scope s;
  sl_local h;
  int64_t v = 0;
  OK(sl_scope_open(iso, &s));
  OK(sl_persistent_get(iso, b.made, &h));
  OK(sl_integer_value(iso, h, &v));
  CHECK(v == 999);
  OK(sl_scope_close(&s));
  VERIFY(iso);
  sl_isolate_dispose(iso);
}

void test_young_weak_object_dies_in_a_minor_collection(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  static calls c;
  memset(&c, 0, sizeof c);
  sl_probe pr;
  sl_persistent p = persistent_integer(iso, 3, &pr);
  OK(sl_persistent_set_weak(iso, p, on_weak, &c));
  sl_gc_stats g;
  OK(sl_collect(iso, SL_MINOR, &g));
  VERIFY(iso);
  CHECK(!t_alive(iso, pr) && c.n == 1 && g.weak_cleared == 1);
  sl_isolate_dispose(iso);
}

void test_weak_handle_follows_its_object_when_it_moves(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  static calls c;
  memset(&c, 0, sizeof c);
  sl_scope s;
  OK(sl_scope_open(iso, &s));
  sl_local h = integer(iso, 8);
  sl_persistent p;
  sl_probe pr;
  OK(sl_persistent_new(iso, h, &p));
  OK(sl_probe_new(iso, h, &pr));
  OK(sl_persistent_set_weak(iso, p, on_weak, &c));
  uintptr_t a0 = t_addr(iso, pr);
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MAJOR);
  CHECK(t_addr(iso, pr) != a0 && t_moves(iso, pr) == 2);
  sl_local got;
  int same = 0;
  OK(sl_persistent_get(iso, p, &got));
  OK(sl_same(iso, got, h, &same));
  CHECK(same && c.n == 0);
  OK(sl_scope_close(&s));
  t_collect(iso, SL_MAJOR);
  CHECK(c.n == 1);
  sl_isolate_dispose(iso);
}

static void record_order(sl_isolate *iso, sl_persistent p, void *param) {
  calls *c = param;
  uint32_t site = 0;
  OK(sl_persistent_site(iso, p, &site));
  c->order[c->n++] = (int)site;
}

void test_ten_thousand_weak_handles_cleared_in_order(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  static calls c;
  static sl_persistent ps[10000];
  memset(&c, 0, sizeof c);
  sl_scope s;
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 10000; i++) {
    OK(sl_persistent_new(iso, integer(iso, i), &ps[i]));
    OK(sl_persistent_set_site(iso, ps[i], (uint32_t)i));
  }
  for (int i = 9999; i >= 0; i -= 2)   /* made weak: odd ones first, from the top */
    OK(sl_persistent_set_weak(iso, ps[i], record_order, &c));
  for (int i = 9998; i >= 0; i -= 2)
    OK(sl_persistent_set_weak(iso, ps[i], record_order, &c));
  OK(sl_scope_close(&s));
  sl_gc_stats g;
  OK(sl_collect(iso, SL_MINOR, &g));
  VERIFY(iso);
  CHECK(g.weak_cleared == 10000 && g.callbacks_run == 10000 && c.n == 10000);
  int in_order = 1;
  for (int k = 0; k < 5000; k++) in_order &= c.order[k] == 9999 - 2 * k;
  for (int k = 0; k < 5000; k++) in_order &= c.order[5000 + k] == 9998 - 2 * k;
  CHECK(in_order);
  sl_isolate_dispose(iso);
}

void test_eternal_handles_live_as_long_as_the_isolate(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  size_t idx = 99;
  sl_probe pr;
  uint64_t id, id2;
  OK(sl_scope_open(iso, &s));
  sl_local h = integer(iso, 4);
  OK(sl_identity(iso, h, &id));
  OK(sl_eternal_new(iso, h, &idx));
  OK(sl_probe_new(iso, h, &pr));
  OK(sl_scope_close(&s));
  CHECK(idx == 0 && sl_eternal_count(iso) == 1);
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MAJOR);
  CHECK(t_alive(iso, pr));
  OK(sl_scope_open(iso, &s));
  OK(sl_eternal_get(iso, 0, &h));
  OK(sl_identity(iso, h, &id2));
  CHECK(id == id2);
  FAILS(sl_eternal_get(iso, 1, &h), SL_EARG);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_probe_of_a_dead_object_stays_dead(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  sl_probe pr;
  uint64_t id;
  OK(sl_scope_open(iso, &s));
  sl_local h = integer(iso, 4);
  OK(sl_identity(iso, h, &id));
  OK(sl_probe_new(iso, h, &pr));
  OK(sl_scope_close(&s));
  t_collect(iso, SL_MINOR);
  sl_probe_info info;
  OK(sl_probe_info_of(iso, pr, &info));
  CHECK(!info.alive && info.address == 0 && info.id == id && info.kind == SL_INTEGER);
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 10000; i++) integer(iso, i);  /* reuse the memory */
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MAJOR);
  CHECK(!t_alive(iso, pr));
  sl_local got;
  OK(sl_probe_get(iso, pr, &got));
  CHECK(sl_local_is_empty(got));
  OK(sl_scope_close(&s));
  OK(sl_probe_delete(iso, pr));
  FAILS(sl_probe_info_of(iso, pr, &info), SL_EARG);
  sl_isolate_dispose(iso);
}

typedef struct resetter { sl_persistent other; int first, second; } resetter;

static void reset_the_other(sl_isolate *iso, sl_persistent p, void *param) {
  (void)p;
  resetter *r = param;
  r->first++;
  OK(sl_persistent_reset(iso, r->other, SL_EMPTY_LOCAL));
}

static void count_second(sl_isolate *iso, sl_persistent p, void *param) {
  (void)iso; (void)p;
  ((resetter *)param)->second++;
}

void test_a_callback_whose_handle_an_earlier_one_reset_is_skipped(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  resetter r = { { 0 }, 0, 0 };
  sl_persistent a = persistent_integer(iso, 1, NULL);
  r.other = persistent_integer(iso, 2, NULL);
  OK(sl_persistent_set_weak(iso, a, reset_the_other, &r));
  OK(sl_persistent_set_weak(iso, r.other, count_second, &r));
  sl_gc_stats g;
  OK(sl_collect(iso, SL_MAJOR, &g));
  VERIFY(iso);
  CHECK(g.weak_cleared == 2);            /* both objects died ... */
  CHECK(r.first == 1 && r.second == 0);  /* ... but the reset handle's callback is stale */
  CHECK(g.callbacks_run == 1);
  OK(sl_persistent_delete(iso, a));
  OK(sl_persistent_delete(iso, r.other));
  sl_isolate_dispose(iso);
}

/* V8's young-node list: a scavenge visits the nodes holding young objects only,
** and every node still gets its object moved, kept or cleared. */
void test_scavenges_visit_only_nodes_holding_young_objects(void) {
  sl_options o = t_options();
  o.promote_after = 1;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local h;
  sl_gc_stats gs;
  sl_persistent old[300], strong, weak, reused;
  sl_probe pr;
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 300; i++) {
    OK(sl_integer(iso, i, &h));
    OK(sl_persistent_new(iso, h, &old[i]));
  }
  t_collect(iso, SL_MINOR);                    /* promoted (promote_after = 1) */
  OK(sl_collect(iso, SL_MINOR, &gs));
  VERIFY(iso);
  CHECK(gs.nodes_scanned == 0);                /* 300 persistents, none young */
  OK(sl_scope_close(&s));

  OK(sl_scope_open(iso, &s));
  OK(sl_integer(iso, 1000, &h));
  OK(sl_persistent_new(iso, h, &strong));
  OK(sl_integer(iso, 1001, &h));
  OK(sl_persistent_new(iso, h, &weak));
  OK(sl_persistent_set_weak(iso, weak, NULL, NULL));
  OK(sl_probe_new(iso, h, &pr));
  OK(sl_integer(iso, 1002, &h));
  OK(sl_persistent_reset(iso, old[0], h));    /* an old node given a young object */
  OK(sl_persistent_delete(iso, old[1]));       /* freed ... */
  OK(sl_persistent_new(iso, h, &reused));      /* ... and taken again: listed once */
  OK(sl_scope_close(&s));                      /* only the persistents hold them now */
  OK(sl_collect(iso, SL_MINOR, &gs));
  VERIFY(iso);
  CHECK(gs.nodes_scanned == 5);                /* strong, weak, probe, reset, reused */
  int empty = 1;
  int64_t v = 0;
  OK(sl_scope_open(iso, &s));
  OK(sl_persistent_get(iso, strong, &h));
  OK(sl_integer_value(iso, h, &v));
  CHECK(v == 1000);
  OK(sl_persistent_get(iso, old[0], &h));
  OK(sl_integer_value(iso, h, &v));
  CHECK(v == 1002);
  OK(sl_persistent_is_empty(iso, weak, &empty));
  CHECK(empty);                                /* the weak one died in the scavenge */
  CHECK(!t_alive(iso, pr));
  OK(sl_scope_close(&s));
  OK(sl_collect(iso, SL_MINOR, &gs));          /* the survivors were promoted: */
  CHECK(gs.nodes_scanned == 0);                /* the list is empty again */
  t_collect(iso, SL_MAJOR);
  for (int i = 2; i < 300; i++) OK(sl_persistent_delete(iso, old[i]));
  sl_isolate_dispose(iso);
}
