/* SPDX-License-Identifier: MIT */
/*
** test_handles.c: Local handles, scopes, escape, seal, blocks, capacity, watch.
*/
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tests.h"

static sl_local integer(sl_isolate *iso, int64_t v) {
  sl_local h = SL_EMPTY_LOCAL;
  OK(sl_integer(iso, v, &h));
  return h;
}

static sl_probe probe(sl_isolate *iso, sl_local h) {
  sl_probe p = { 0 };
  OK(sl_probe_new(iso, h, &p));
  return p;
}

void test_locals_die_with_their_scope(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope outer, inner;
  OK(sl_scope_open(iso, &outer));
  OK(sl_scope_open(iso, &inner));
  sl_probe young = probe(iso, integer(iso, 1));
  OK(sl_scope_close(&inner));
  CHECK(t_alive(iso, young));          /* nothing collected yet */
  t_collect(iso, SL_MINOR);
  CHECK(!t_alive(iso, young));

  OK(sl_scope_open(iso, &inner));
  sl_probe later = probe(iso, integer(iso, 2));
  OK(sl_scope_close(&inner));
  t_collect(iso, SL_MAJOR);
  CHECK(!t_alive(iso, later));
  t_collect(iso, SL_MAJOR);
  CHECK(!t_alive(iso, young) && !t_alive(iso, later));  /* dead stays dead */
  OK(sl_scope_close(&outer));
  sl_isolate_dispose(iso);
}

void test_open_scope_keeps_object_through_both_collections(void) {
  sl_options o = t_options();
  o.promote_after = 1;
  sl_isolate *iso = t_new(&o);
  sl_scope s, inner;
  OK(sl_scope_open(iso, &s));
  OK(sl_scope_open(iso, &inner));
  integer(iso, 7);
  t_collect(iso, SL_MINOR);            /* the 7 is promoted first ... */
  OK(sl_scope_close(&inner));          /* ... and dies, still in old space */
  sl_local h = integer(iso, 42);
  uint64_t id = 0, id2 = 0;
  int64_t v = 0;
  OK(sl_identity(iso, h, &id));
  sl_probe p = probe(iso, h);
  uintptr_t a0 = t_addr(iso, p);
  t_collect(iso, SL_MINOR);            /* both promoted (promote_after = 1) */
  uintptr_t a1 = t_addr(iso, p);
  CHECK(t_alive(iso, p));
  CHECK(a1 != a0);                     /* copied */
  OK(sl_integer_value(iso, h, &v));
  OK(sl_identity(iso, h, &id2));
  CHECK(v == 42 && id2 == id);
  sl_generation g = SL_YOUNG;
  OK(sl_generation_of(iso, h, &g));
  CHECK(g == SL_OLD);
  t_collect(iso, SL_MAJOR);            /* compacts past the dead 7 */
  CHECK(t_alive(iso, p));
  CHECK(t_addr(iso, p) < a1);
  CHECK(t_moves(iso, p) == 2);
  OK(sl_integer_value(iso, h, &v));
  OK(sl_identity(iso, h, &id2));
  CHECK(v == 42 && id2 == id);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* Returns a new integer 1 through an escapable scope; 0 is left behind. */
static sl_local returning_function(sl_isolate *iso, sl_probe *zero, sl_probe *one) {
  sl_scope s;
  sl_local out = SL_EMPTY_LOCAL;
  size_t before = sl_number_of_handles(iso);
  OK(sl_escapable_scope_open(iso, &s));
  CHECK(sl_number_of_handles(iso) == before + 1);  /* the reserved escape slot */
  sl_local z = integer(iso, 0), o = integer(iso, 1);
  *zero = probe(iso, z);
  *one = probe(iso, o);
  OK(sl_scope_escape(&s, o, &out));
  FAILS(sl_scope_escape(&s, o, &out), SL_EESCAPE);  /* escaping twice */
  CHECK(strstr(sl_last_error(iso), "twice") != NULL);
  OK(sl_scope_close(&s));
  return out;
}

void test_escaped_value_outlives_its_scope(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  OK(sl_scope_open(iso, &s));
  sl_probe zero, one;
  sl_local r = returning_function(iso, &zero, &one);
  CHECK(sl_number_of_handles(iso) == 1);
  t_collect(iso, SL_MINOR);
  CHECK(t_alive(iso, one));
  CHECK(!t_alive(iso, zero));
  t_collect(iso, SL_MAJOR);
  int64_t v = -1;
  OK(sl_integer_value(iso, r, &v));
  CHECK(v == 1 && t_alive(iso, one));
  /* An empty handle escapes as empty; escaping from a plain or closed scope fails. */
  sl_scope e, plain;
  sl_local out;
  OK(sl_escapable_scope_open(iso, &e));
  OK(sl_scope_escape(&e, SL_EMPTY_LOCAL, &out));
  CHECK(sl_local_is_empty(out));
  OK(sl_scope_close(&e));
  FAILS(sl_scope_escape(&e, r, &out), SL_EESCAPE);
  OK(sl_scope_open(iso, &plain));
  FAILS(sl_scope_escape(&plain, r, &out), SL_EESCAPE);
  OK(sl_scope_close(&plain));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_seal_scope_refuses_handles_but_not_inside_a_nested_scope(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s, seal, inner;
  sl_local h;
  OK(sl_scope_open(iso, &s));
  integer(iso, 1);
  OK(sl_seal_scope_open(iso, &seal));
  FAILS(sl_integer(iso, 2, &h), SL_ESEALED);
  FAILS(sl_escapable_scope_open(iso, &inner), SL_ESEALED);
  OK(sl_scope_open(iso, &inner));
  sl_local in = integer(iso, 3);
  CHECK(sl_number_of_handles(iso) == 2);
  OK(sl_scope_close(&inner));
  FAILS(sl_integer_value(iso, in, &(int64_t){ 0 }), SL_ESTALE);
  FAILS(sl_integer(iso, 4, &h), SL_ESEALED);
  OK(sl_scope_close(&seal));
  OK(sl_integer(iso, 5, &h));
  CHECK(sl_number_of_handles(iso) == 2);
  OK(sl_scope_close(&s));
  FAILS(sl_integer(iso, 6, &h), SL_ENOSCOPE);
  CHECK(strstr(sl_last_error(iso), "no handle scope") != NULL);
  sl_isolate_dispose(iso);
}

void test_blocks_grow_and_all_but_one_spare_are_freed(void) {
  sl_isolate *iso = t_isolate(0, 0, 8);
  sl_scope s;
  sl_heap_stats st;
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 1000; i++) {
    integer(iso, i);
    CHECK(sl_number_of_handles(iso) == (size_t)i + 1);
  }
  sl_heap_stats_of(iso, &st);
  CHECK(st.blocks == 125);
  CHECK(st.spare_blocks == 0);
  CHECK(st.handles == 1000);
  OK(sl_scope_close(&s));
  sl_heap_stats_of(iso, &st);
  CHECK(st.blocks == 0);
  CHECK(st.spare_blocks == 1);
  CHECK(st.handles == 0);
  CHECK(st.scope_level == 0);
  /* A nested scope restores next/limit/level and frees only its own blocks. */
  sl_scope a, b;
  OK(sl_scope_open(iso, &a));
  for (int i = 0; i < 5; i++) integer(iso, i);
  OK(sl_scope_open(iso, &b));
  sl_heap_stats_of(iso, &st);
  CHECK(st.scope_level == 2);
  for (int i = 0; i < 20; i++) integer(iso, i);
  sl_heap_stats_of(iso, &st);
  CHECK(st.blocks == 4 && st.handles == 25);
  OK(sl_scope_close(&b));
  sl_heap_stats_of(iso, &st);
  CHECK(st.blocks == 1 && st.handles == 5 && st.scope_level == 1 && st.spare_blocks == 1);
  OK(sl_scope_close(&a));
  sl_isolate_dispose(iso);
}

void test_stale_locals_are_detected_even_after_slot_reuse(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s, inner;
  int64_t v;
  OK(sl_scope_open(iso, &s));
  OK(sl_scope_open(iso, &inner));
  sl_local old = integer(iso, 1);
  OK(sl_scope_close(&inner));
  CHECK((uintptr_t)*old.slot == (uintptr_t)0x1baddead0baddeafULL);  /* zapped */
  FAILS(sl_integer_value(iso, old, &v), SL_ESTALE);
  CHECK(strstr(sl_last_error(iso), "closed scope") != NULL);
  OK(sl_scope_open(iso, &inner));
  sl_local fresh = integer(iso, 2);
  CHECK(fresh.slot == old.slot);        /* the same slot, reused */
  FAILS(sl_integer_value(iso, old, &v), SL_ESTALE);
  OK(sl_integer_value(iso, fresh, &v));
  CHECK(v == 2);
  OK(sl_scope_close(&inner));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_scopes_close_innermost_first(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope a, b;
  OK(sl_scope_open(iso, &a));
  OK(sl_scope_open(iso, &b));
  FAILS(sl_scope_close(&a), SL_EORDER);
  CHECK(strstr(sl_last_error(iso), "not the innermost") != NULL);
  CHECK(sl_scope_is_open(&a) && sl_scope_is_open(&b));
  OK(sl_scope_close(&b));
  FAILS(sl_scope_close(&b), SL_ESTATE);  /* twice */
  OK(sl_scope_close(&a));
  CHECK(sl_scope_depth(iso) == 0);
  sl_isolate_dispose(iso);
}

void test_handle_of_another_isolate_is_refused(void) {
  sl_isolate *one = t_isolate(0, 0, 0);
  sl_isolate *two = t_isolate(0, 0, 0);
  sl_scope s1, s2;
  OK(sl_scope_open(one, &s1));
  OK(sl_scope_open(two, &s2));
  sl_local h = integer(two, 5);
  int64_t v;
  sl_status st = sl_integer_value(one, h, &v);
  CHECK(st == SL_EISOLATE || st == SL_ESTALE);
  CHECK(st != SL_OK);
  OK(sl_scope_close(&s1));
  OK(sl_scope_close(&s2));
  sl_isolate_dispose(one);
  sl_isolate_dispose(two);
}

void test_capacity_scope_refuses_the_extra_handle(void) {
  sl_isolate *iso = t_isolate(0, 0, 8);
  sl_scope s, cap, inner;
  sl_local h;
  OK(sl_scope_open(iso, &s));
  integer(iso, 0);
  OK(sl_scope_open_capacity(iso, 10, &cap));
  for (int i = 0; i < 10; i++) OK(sl_integer(iso, i, &h));
  FAILS(sl_integer(iso, 10, &h), SL_ECAPACITY);
  CHECK(strstr(sl_last_error(iso), "capacity 10") != NULL);
  OK(sl_scope_open(iso, &inner));       /* an inner scope has its own room */
  for (int i = 0; i < 20; i++) OK(sl_integer(iso, i, &h));
  OK(sl_scope_close(&inner));
  FAILS(sl_integer(iso, 11, &h), SL_ECAPACITY);
  sl_scope_info info;
  OK(sl_scope_info_at(iso, 2, &info));
  CHECK(info.handles == 10 && info.capacity == 10);
  OK(sl_scope_close(&cap));
  OK(sl_integer(iso, 12, &h));
  CHECK(sl_number_of_handles(iso) == 2);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

static void on_watch(sl_isolate *iso, const sl_scope_info *scope, void *ud) {
  (void)iso;
  int *fired = ud;
  fired[0]++;
  fired[1] = (int)scope->handles;
  fired[2] = (int)scope->site;
}

void test_handle_watch_fires_once_per_scope(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  int fired[3] = { 0, 0, 0 };
  sl_watch_handles(iso, 5, on_watch, fired);
  sl_scope s;
  OK(sl_scope_open(iso, &s));
  OK(sl_scope_set_site(&s, 77));
  for (int i = 0; i < 5; i++) integer(iso, i);
  CHECK(fired[0] == 0);
  integer(iso, 5);
  CHECK(fired[0] == 1 && fired[1] == 5 && fired[2] == 77);
  for (int i = 0; i < 3000; i++) integer(iso, i);
  CHECK(fired[0] == 1);
  CHECK(sl_number_of_handles(iso) == 3006);
  OK(sl_scope_close(&s));
  /* A later scope, opened in the middle of a block, is watched as closely. */
  OK(sl_scope_open(iso, &s));
  integer(iso, 0);
  sl_scope later;
  OK(sl_scope_open(iso, &later));
  OK(sl_scope_set_site(&later, 78));
  for (int i = 0; i < 5; i++) integer(iso, i);
  CHECK(fired[0] == 1);
  integer(iso, 5);
  CHECK(fired[0] == 2 && fired[1] == 5 && fired[2] == 78);
  OK(sl_scope_close(&later));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* A watch turned on while scopes are open watches the outer ones too: each
** gets the watched limit back when the scope inside it closes, whatever kind. */
void test_handle_watch_turned_on_inside_nested_scopes_watches_the_outer_ones(void) {
  sl_options o = t_options();
  o.zap_handles = 0;                   /* the inline close too */
  sl_isolate *iso = t_new(&o);
  int fired[3] = { 0, 0, 0 };
  sl_scope p, e, c, seal;
  sl_local out;
  OK(sl_scope_open(iso, &p));
  OK(sl_scope_set_site(&p, 11));
  integer(iso, 1);                     /* 'p' owns a handle in a block of 1022 */
  OK(sl_escapable_scope_open(iso, &e)); /* ... and the escape slot: 2 */
  OK(sl_scope_set_site(&e, 12));
  integer(iso, 2);
  OK(sl_scope_open(iso, &c));          /* innermost, empty, opened before the watch */
  OK(sl_seal_scope_open(iso, &seal));
  sl_watch_handles(iso, 3, on_watch, fired);
  OK(sl_scope_close(&seal));           /* seal and 'c' close on their fast paths */
  OK(sl_scope_close(&c));
  integer(iso, 3);
  integer(iso, 4);
  CHECK(fired[0] == 0);                /* 'e' owns 3 */
  integer(iso, 5);
  CHECK(fired[0] == 1 && fired[1] == 3 && fired[2] == 12);
  OK(sl_scope_escape(&e, integer(iso, 6), &out));
  OK(sl_scope_close(&e));
  integer(iso, 7);                     /* 'p' owns 1 + the escape slot + 1 = 3 */
  CHECK(fired[0] == 1);
  integer(iso, 8);
  CHECK(fired[0] == 2 && fired[1] == 3 && fired[2] == 11);
  for (int i = 0; i < 10; i++) integer(iso, i);
  CHECK(fired[0] == 2);                /* once per scope */
  OK(sl_scope_close(&p));
  VERIFY(iso);
  sl_isolate_dispose(iso);
}

void test_failed_allocation_at_a_block_start_keeps_the_block(void) {
  sl_options o = t_options();
  o.young_size = 4096;
  o.old_size = 65536;
  o.block_size = 2;
  sl_isolate *iso = t_new(&o);
  static char big[100000];
  sl_scope s, seal, inner;
  sl_local h;
  OK(sl_scope_open(iso, &s));
  FAILS(sl_string(iso, big, sizeof big, &h), SL_ENOMEM);  /* its slot is given back */
  OK(sl_seal_scope_open(iso, &seal));
  OK(sl_scope_open(iso, &inner));
  integer(iso, 1);
  OK(sl_scope_close(&inner));           /* must not free the block 'next' points into */
  OK(sl_scope_close(&seal));
  h = integer(iso, 42);
  CHECK(sl_number_of_handles(iso) == 1);
  t_collect(iso, SL_MAJOR);
  for (int i = 0; i < 10; i++) integer(iso, 1000 + i);
  int64_t v = 0;
  OK(sl_integer_value(iso, h, &v));
  CHECK(v == 42);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_scope_depth_limit_is_an_error_not_a_broken_stamp(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  size_t max = ((size_t)1 << 20) - 1, opened = 0;
  sl_scope *s = malloc((max + 1) * sizeof *s);
  sl_status st = SL_OK;
  while (opened <= max && (st = sl_scope_open(iso, &s[opened])) == SL_OK) opened++;
  CHECK(st == SL_ESTATE && opened == max);
  CHECK(strstr(sl_last_error(iso), "too many nested scopes") != NULL);
  sl_local h;
  int64_t v = 0;
  OK(sl_integer(iso, 7, &h));            /* the deepest scope still works */
  OK(sl_integer_value(iso, h, &v));
  CHECK(v == 7);
  size_t before = sl_number_of_handles(iso);
  sl_scope e;
  FAILS(sl_escapable_scope_open(iso, &e), SL_ESTATE);
  CHECK(sl_number_of_handles(iso) == before);  /* no reserved slot left behind */
  while (opened > 0) OK(sl_scope_close(&s[--opened]));
  free(s);
  sl_isolate_dispose(iso);
}

static void count_watch(sl_isolate *iso, const sl_scope_info *scope, void *ud) {
  (void)iso;
  int *fired = ud;
  fired[0]++;
  fired[1] = (int)scope->handles;
}

void test_handle_watch_fires_inside_capacity_scopes(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  int fired[2] = { 0, 0 };
  sl_scope c;
  sl_local h;
  sl_watch_handles(iso, 3, count_watch, fired);
  OK(sl_scope_open_capacity(iso, 10, &c));
  for (int i = 0; i < 10; i++) OK(sl_integer(iso, i, &h));
  CHECK(fired[0] == 1 && fired[1] == 3);
  FAILS(sl_integer(iso, 10, &h), SL_ECAPACITY);
  CHECK(fired[0] == 1);
  OK(sl_scope_close(&c));
  sl_isolate_dispose(iso);
}

/* The array's elements are the objects the Locals referred to, at every size. */
static void check_array_of(sl_isolate *iso, sl_local a, const sl_local *elems, size_t n) {
  size_t len = 0;
  OK(sl_array_length(iso, a, &len));
  CHECK(len == n);
  for (size_t i = 0; i < n; i++) {
    sl_local e;
    int same = 0;
    OK(sl_array_get(iso, a, i, &e));
    OK(sl_same(iso, e, elems[i], &same));
    CHECK(same);
  }
}

void test_array_from_holds_its_elements_through_collections(void) {
  sl_options o = t_options();
  o.gc_interval = 3;                 /* the slow path, with objects moving under it */
  o.young_size = 64 << 10;           /* arrays over 16 KiB are born old */
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local elems[6], a, b, big;
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 6; i++) elems[i] = i == 2 ? SL_EMPTY_LOCAL : integer(iso, 10 + i);
  for (size_t n = 0; n <= 6; n++) {  /* inline (n <= 4) and out of line */
    OK(sl_array_from(iso, n, elems, &a));
    check_array_of(iso, a, elems, n);
  }
  sl_probe p = probe(iso, a);
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MAJOR);
  CHECK(t_moves(iso, p) >= 2);
  check_array_of(iso, a, elems, 6);
  /* 'out' may be one of the elements: it is written after they are read */
  b = elems[0];
  OK(sl_array_from(iso, 1, &b, &b));
  OK(sl_array_get(iso, b, 0, &a));
  int same = 0;
  OK(sl_same(iso, a, elems[0], &same));
  CHECK(same);
  /* a large array is born old: a young element must be remembered (the
  ** verifier after the scavenge checks the barrier's invariant) */
  sl_local many[2048];
  sl_local young = integer(iso, 99);
  for (int i = 0; i < 2048; i++) many[i] = i == 7 ? young : elems[i % 2];
  OK(sl_array_from(iso, 2048, many, &big));
  sl_generation g = SL_YOUNG;
  OK(sl_generation_of(iso, big, &g));
  CHECK(g == SL_OLD);
  t_collect(iso, SL_MINOR);
  check_array_of(iso, big, many, 2048);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_array_from_a_stale_element_fails_before_allocating(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s, inner;
  sl_heap_stats before, after;
  OK(sl_scope_open(iso, &s));
  OK(sl_scope_open(iso, &inner));
  sl_local elems[2] = { integer(iso, 1), SL_EMPTY_LOCAL };
  OK(sl_scope_close(&inner));
  elems[1] = integer(iso, 2);
  sl_local a = SL_EMPTY_LOCAL;
  sl_heap_stats_of(iso, &before);
  FAILS(sl_array_from(iso, 2, elems, &a), SL_ESTALE);
  CHECK(strstr(sl_last_error(iso), "closed scope") != NULL);
  sl_heap_stats_of(iso, &after);
  CHECK(after.allocations == before.allocations);
  CHECK(after.handles == before.handles);
  CHECK(sl_local_is_empty(a));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_scope_tokens_copy_and_sl_scope_at_closes_leaked_scopes(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope outer, a, b, copy, t;
  OK(sl_scope_open(iso, &outer));
  OK(sl_scope_open(iso, &a));
  OK(sl_escapable_scope_open(iso, &b));
  copy = b;                           /* a token is a value */
  CHECK(sl_scope_token_depth(&copy) == 3);
  OK(sl_scope_close(&copy));
  CHECK(!sl_scope_is_open(&b));       /* every copy sees the close */
  FAILS(sl_scope_close(&b), SL_ESTATE);
  OK(sl_scope_open(iso, &b));         /* the same depth, a new serial */
  CHECK(sl_scope_token_depth(&b) == 3 && b.stamp != copy.stamp);
  FAILS(sl_scope_close(&copy), SL_ESTATE);
  FAILS(sl_scope_at(iso, 4, &t), SL_EARG);
  FAILS(sl_scope_at(iso, 0, &t), SL_EARG);
  /* unwinding: close everything inside 'outer', innermost first */
  while (sl_scope_depth(iso) > sl_scope_token_depth(&outer)) {
    OK(sl_scope_at(iso, sl_scope_depth(iso), &t));
    OK(sl_scope_close(&t));
  }
  CHECK(!sl_scope_is_open(&a) && !sl_scope_is_open(&b) && sl_scope_is_open(&outer));
  OK(sl_scope_close(&outer));
  CHECK(sl_scope_depth(iso) == 0);
  VERIFY(iso);
  sl_isolate_dispose(iso);
}

void test_a_zeroed_scope_token_is_refused_not_followed(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope z = { iso, 0 }, s;
  sl_local h = SL_EMPTY_LOCAL, out;
  CHECK(!sl_scope_is_open(&z));
  FAILS(sl_scope_close(&z), SL_ESTATE);        /* no scope open: the sentinel */
  FAILS(sl_scope_escape(&z, h, &out), SL_EESCAPE);
  FAILS(sl_integer(iso, 1, &out), SL_ENOSCOPE);
  OK(sl_seal_scope_open(iso, &s));             /* a seal with no handle scope */
  FAILS(sl_integer(iso, 1, &out), SL_ENOSCOPE);
  FAILS(sl_scope_close(&z), SL_ESTATE);
  OK(sl_scope_close(&s));
  VERIFY(iso);
  sl_isolate_dispose(iso);
}

/* With no scope open the isolate's stamp is 0: a Local whose stamp was zeroed
** (its slot kept, pointing into a freed or zapped block) must not match it. */
void test_a_local_with_a_zeroed_stamp_is_refused_with_no_scope_open(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  sl_local h, z, out;
  int64_t v = 0;
  OK(sl_scope_open(iso, &s));
  OK(sl_integer(iso, 7, &h));
  OK(sl_scope_close(&s));
  z = h;
  z.stamp = 0;
  CHECK(sl_scope_depth(iso) == 0);
  FAILS(sl_local_check(iso, z), SL_EISOLATE);
  FAILS(sl_integer_value(iso, z, &v), SL_EISOLATE);
  FAILS(sl_persistent_new(iso, z, &(sl_persistent){ 0 }), SL_EISOLATE);
  OK(sl_scope_open(iso, &s));                  /* and with a scope open, as before */
  FAILS(sl_local_new(iso, z, &out), SL_EISOLATE);
  OK(sl_scope_close(&s));
  VERIFY(iso);
  sl_isolate_dispose(iso);
}

/* sl_array_unpack reads like n sl_array_get calls, one check of the array. */
void test_array_unpack_reads_elements_into_new_locals(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s, seal, inner;
  sl_local el[8], a, out[8], stale;
  int same = 0;
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 8; i++) el[i] = i == 1 ? SL_EMPTY_LOCAL : integer(iso, 100 + i);
  OK(sl_array_from(iso, 8, el, &a));
  size_t before = sl_number_of_handles(iso);
  OK(sl_array_unpack(iso, a, 0, 4, out));             /* inline: 3 Locals, one empty */
  CHECK(sl_number_of_handles(iso) == before + 3);
  CHECK(sl_local_is_empty(out[1]));
  for (int i = 0; i < 4; i++) {
    if (i == 1) continue;
    OK(sl_same(iso, out[i], el[i], &same));
    CHECK(same);
  }
  OK(sl_array_unpack(iso, a, 2, 6, out));             /* out of line: n > 4 */
  for (int i = 0; i < 6; i++) {
    OK(sl_same(iso, out[i], el[i + 2], &same));
    CHECK(same);
  }
  OK(sl_array_unpack(iso, a, 8, 0, out));             /* an empty range at the end */
  FAILS(sl_array_unpack(iso, a, 6, 3, out), SL_EARG);
  CHECK(strstr(sl_last_error(iso), "unpack: elements 6..8 out of range (length 8)") != NULL);
  FAILS(sl_array_unpack(iso, a, (size_t)-1, 2, out), SL_EARG);   /* no wrap-around */
  FAILS(sl_array_unpack(iso, el[0], 0, 1, out), SL_EARG);        /* not an array */
  OK(sl_scope_open(iso, &inner));
  OK(sl_array_from(iso, 2, el, &stale));
  OK(sl_scope_close(&inner));
  FAILS(sl_array_unpack(iso, stale, 0, 2, out), SL_ESTALE);
  OK(sl_seal_scope_open(iso, &seal));
  FAILS(sl_array_unpack(iso, a, 0, 2, out), SL_ESEALED);         /* no Local may be made */
  OK(sl_array_unpack(iso, a, 1, 1, out));             /* an empty element needs no slot */
  CHECK(sl_local_is_empty(out[0]));
  OK(sl_scope_close(&seal));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

static void dispose_from_hook(sl_isolate *iso, const sl_scope_info *scope, void *ud) {
  (void)scope;
  *(sl_status *)ud = sl_isolate_dispose(iso);
}

void test_the_watch_hook_cannot_dispose_the_isolate(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_status st = SL_OK;
  sl_scope s;
  sl_local h;
  OK(sl_scope_open(iso, &s));
  sl_watch_handles(iso, 2, dispose_from_hook, &st);
  for (int i = 0; i < 3; i++) OK(sl_integer(iso, i, &h));
  CHECK(st == SL_ESTATE);
  CHECK(strstr(sl_last_error(iso), "inside a hook") != NULL);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}
