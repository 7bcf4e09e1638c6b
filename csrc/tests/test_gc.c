/* SPDX-License-Identifier: MIT */
/*
** test_gc.c: the collectors: promotion, the write barrier, cycles, deep
** lists, heap exhaustion, strings, stress modes and retaining paths.
*/
#include <pthread.h>
#include <string.h>

#include "t.h"
#include "tests.h"

static sl_isolate *with(unsigned promote_after, size_t young, size_t old) {
  sl_options o = t_options();
  o.promote_after = promote_after;
  if (young) o.young_size = young;
  if (old) o.old_size = old;
  return t_new(&o);
}

static sl_generation gen(sl_isolate *iso, sl_local h) {
  sl_generation g = 0;
  OK(sl_generation_of(iso, h, &g));
  return g;
}

void test_promotion_after_the_configured_number_of_scavenges(void) {
  for (unsigned n = 1; n <= 3; n++) {
    sl_isolate *iso = with(n, 0, 0);
    sl_scope s;
    sl_local h;
    OK(sl_scope_open(iso, &s));
    OK(sl_integer(iso, 9, &h));
    for (unsigned k = 1; k < n; k++) {
      t_collect(iso, SL_MINOR);
      CHECK(gen(iso, h) == SL_YOUNG);
    }
    sl_gc_stats g;
    OK(sl_collect(iso, SL_MINOR, &g));
    VERIFY(iso);
    CHECK(gen(iso, h) == SL_OLD);
    CHECK(g.promoted == 1);
    OK(sl_scope_close(&s));
    sl_isolate_dispose(iso);
  }
}

void test_old_array_keeps_young_object_alive_through_minor_collections(void) {
  sl_isolate *iso = with(1, 0, 0);
  sl_scope s, inner;
  sl_local arr, v;
  sl_probe p;
  OK(sl_scope_open(iso, &s));
  OK(sl_array(iso, 4, &arr));
  t_collect(iso, SL_MINOR);
  CHECK(gen(iso, arr) == SL_OLD);
  OK(sl_scope_open(iso, &inner));
  OK(sl_integer(iso, 31, &v));
  OK(sl_probe_new(iso, v, &p));
  OK(sl_array_set(iso, arr, 2, v));   /* old -> young: the barrier remembers */
  OK(sl_scope_close(&inner));
  sl_heap_stats st;
  sl_heap_stats_of(iso, &st);
  CHECK(st.remembered == 1);
  t_collect(iso, SL_MINOR);
  CHECK(t_alive(iso, p));
  sl_local got;
  int64_t x = 0;
  OK(sl_scope_open(iso, &inner));
  OK(sl_array_get(iso, arr, 2, &got));
  OK(sl_integer_value(iso, got, &x));
  CHECK(x == 31);
  CHECK(gen(iso, got) == SL_OLD);      /* promoted on that scavenge */
  OK(sl_scope_close(&inner));
  sl_heap_stats_of(iso, &st);
  CHECK(st.remembered == 0);           /* nothing young left to remember */
  OK(sl_array_set(iso, arr, 2, SL_EMPTY_LOCAL));
  t_collect(iso, SL_MAJOR);
  CHECK(!t_alive(iso, p));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_unreachable_cycle_is_collected_by_a_major_collection(void) {
  sl_isolate *iso = with(1, 0, 0);
  sl_scope s, inner;
  sl_local a, b;
  sl_probe pa, pb;
  OK(sl_scope_open(iso, &s));
  OK(sl_scope_open(iso, &inner));
  OK(sl_array(iso, 1, &a));
  OK(sl_array(iso, 1, &b));
  OK(sl_array_set(iso, a, 0, b));
  OK(sl_array_set(iso, b, 0, a));
  OK(sl_probe_new(iso, a, &pa));
  OK(sl_probe_new(iso, b, &pb));
  t_collect(iso, SL_MINOR);            /* both old now */
  OK(sl_scope_close(&inner));
  t_collect(iso, SL_MINOR);            /* minor collections do not look at old space */
  CHECK(t_alive(iso, pa) && t_alive(iso, pb));
  t_collect(iso, SL_MAJOR);
  CHECK(!t_alive(iso, pa) && !t_alive(iso, pb));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* Builds a list of 'n' arrays [next] with a persistent head, a scope per node. */
static sl_persistent build_list(sl_isolate *iso, size_t n) {
  sl_scope s;
  sl_local head;
  sl_persistent p;
  OK(sl_scope_open(iso, &s));
  OK(sl_array(iso, 1, &head));
  OK(sl_persistent_new(iso, head, &p));
  OK(sl_scope_close(&s));
  for (size_t i = 1; i < n; i++) {
    sl_local prev, node;
    OK(sl_scope_open(iso, &s));
    OK(sl_persistent_get(iso, p, &prev));
    OK(sl_array(iso, 1, &node));
    OK(sl_array_set(iso, node, 0, prev));
    OK(sl_persistent_reset(iso, p, node));
    OK(sl_scope_close(&s));
  }
  return p;
}

static size_t list_length(sl_isolate *iso, sl_persistent p) {
  sl_scope s;
  sl_local h;
  size_t n = 0;
  OK(sl_scope_open(iso, &s));
  OK(sl_persistent_get(iso, p, &h));
  while (!sl_local_is_empty(h)) {
    sl_scope step;
    sl_local next;
    n++;
    OK(sl_scope_open(iso, &step));     /* keeps the walk at two handles */
    OK(sl_array_get(iso, h, 0, &next));
    sl_local keep = SL_EMPTY_LOCAL;
    OK(sl_scope_close(&step));
    if (!sl_local_is_empty(next)) {
      /* re-fetch in the outer scope: 'next' died with 'step' */
      OK(sl_array_get(iso, h, 0, &keep));
    }
    h = keep;
    if (sl_number_of_handles(iso) > 1000) {  /* start a fresh outer scope */
      sl_persistent cur;
      OK(sl_persistent_new(iso, h, &cur));
      OK(sl_scope_close(&s));
      OK(sl_scope_open(iso, &s));
      OK(sl_persistent_get(iso, cur, &h));
      OK(sl_persistent_delete(iso, cur));
    }
  }
  OK(sl_scope_close(&s));
  return n;
}

void test_million_node_list_survives_both_collections(void) {
  sl_isolate *iso = with(2, 1 << 20, 256u << 20);
  sl_persistent p = build_list(iso, 1000000);
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MAJOR);
  t_collect(iso, SL_MINOR);
  CHECK(list_length(iso, p) == 1000000);
  OK(sl_persistent_reset(iso, p, SL_EMPTY_LOCAL));
  sl_gc_stats g;
  OK(sl_collect(iso, SL_MAJOR, &g));
  VERIFY(iso);
  CHECK(g.survived == 0);
  CHECK(g.freed_bytes >= (size_t)1000000 * 24);
  sl_isolate_dispose(iso);
}

void test_heap_exhaustion_is_an_error_and_the_isolate_recovers(void) {
  sl_isolate *iso = with(2, 16 << 10, 64 << 10);
  sl_scope s;
  sl_local h;
  sl_status st = SL_OK;
  int made = 0;
  OK(sl_scope_open(iso, &s));
  while (made < 100000 && (st = sl_array(iso, 8, &h)) == SL_OK) made++;
  CHECK(st == SL_ENOMEM);
  CHECK(strstr(sl_last_error(iso), "heap exhausted") != NULL);
  CHECK(made > 100);
  VERIFY(iso);
  size_t handles = sl_number_of_handles(iso);
  CHECK(handles == (size_t)made);      /* the failed call left no slot behind */
  OK(sl_scope_close(&s));
  t_collect(iso, SL_MAJOR);
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < made / 2; i++) OK(sl_array(iso, 8, &h));
  VERIFY(iso);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_strings_and_numbers_keep_their_values_when_moved(void) {
  sl_isolate *iso = with(1, 0, 0);
  sl_scope s;
  sl_local str, num, big;
  static const char bytes[] = "a\0b\0c";
  static char large[400000];
  memset(large, 'x', sizeof large);
  OK(sl_scope_open(iso, &s));
  OK(sl_string(iso, bytes, 5, &str));
  OK(sl_number(iso, 2.5, &num));
  OK(sl_string(iso, large, sizeof large, &big));   /* born old: too big for young */
  CHECK(gen(iso, big) == SL_OLD);
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MAJOR);
  const char *b;
  size_t len;
  double d;
  OK(sl_string_value(iso, str, &b, &len));
  CHECK(len == 5 && memcmp(b, bytes, 5) == 0);
  OK(sl_number_value(iso, num, &d));
  CHECK(d == 2.5);
  OK(sl_string_value(iso, big, &b, &len));
  CHECK(len == sizeof large && b[0] == 'x' && b[len - 1] == 'x');
  int64_t i;
  FAILS(sl_integer_value(iso, str, &i), SL_EARG);
  CHECK(strstr(sl_last_error(iso), "integer expected, got string") != NULL);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_stress_compaction_moves_every_live_object(void) {
  sl_options o = t_options();
  o.promote_after = 1;
  o.stress_compaction = 1;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local h[10];
  sl_probe p[10];
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 10; i++) {
    OK(sl_integer(iso, i, &h[i]));
    OK(sl_probe_new(iso, h[i], &p[i]));
  }
  t_collect(iso, SL_MINOR);
  uintptr_t before[10];
  for (int i = 0; i < 10; i++) before[i] = t_addr(iso, p[i]);
  sl_gc_stats g;
  OK(sl_collect(iso, SL_MAJOR, &g));
  VERIFY(iso);
  CHECK(g.moved == 10);
  for (int i = 0; i < 10; i++) {
    int64_t v;
    CHECK(t_addr(iso, p[i]) != before[i]);
    OK(sl_integer_value(iso, h[i], &v));
    CHECK(v == i);
  }
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_gc_interval_collects_every_n_allocations(void) {
  sl_options o = t_options();
  o.gc_interval = 10;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local h;
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 100; i++) OK(sl_integer(iso, i, &h));
  sl_heap_stats st;
  sl_heap_stats_of(iso, &st);
  CHECK(st.minor_collections + st.major_collections == 10);
  CHECK(st.minor_collections == 5 && st.major_collections == 5);  /* alternating */
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_gc_at_collects_at_the_given_allocation_counts(void) {
  static const uint64_t at[] = { 3, 7, 50 };
  sl_options o = t_options();
  o.gc_at = at;
  o.gc_at_count = 3;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local h;
  sl_heap_stats st;
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 2; i++) OK(sl_integer(iso, i, &h));
  sl_heap_stats_of(iso, &st);
  CHECK(st.minor_collections + st.major_collections == 0);
  OK(sl_integer(iso, 2, &h));
  sl_heap_stats_of(iso, &st);
  CHECK(st.minor_collections + st.major_collections == 1);
  for (int i = 0; i < 10; i++) OK(sl_integer(iso, i, &h));
  sl_heap_stats_of(iso, &st);
  CHECK(st.minor_collections + st.major_collections == 2);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_retaining_path_names_root_and_steps(void) {
  sl_isolate *iso = with(2, 0, 0);
  sl_scope s, inner;
  sl_local outer_arr, inner_arr, target;
  uint64_t id;
  OK(sl_scope_open(iso, &s));
  OK(sl_scope_set_site(&s, 14));
  OK(sl_integer(iso, 0, &target));     /* slot 0: something else */
  OK(sl_array(iso, 4, &outer_arr));    /* slot 1 */
  OK(sl_scope_open(iso, &inner));
  OK(sl_array(iso, 2, &inner_arr));
  OK(sl_integer(iso, 57, &target));
  OK(sl_identity(iso, target, &id));
  OK(sl_array_set(iso, inner_arr, 1, target));
  OK(sl_array_set(iso, outer_arr, 3, inner_arr));
  OK(sl_scope_close(&inner));
  sl_path path;
  OK(sl_retaining_path(iso, id, &path));
  CHECK(path.root.kind == SL_ROOT_LOCAL);
  CHECK(path.root.depth == 1 && path.root.level == 1 && path.root.index == 1);
  CHECK(path.root.site == 14);
  CHECK(path.n == 3);
  CHECK(path.n == 3 && path.steps[0].kind == SL_ARRAY && path.index[1] == 3 &&
        path.steps[1].kind == SL_ARRAY && path.index[2] == 1 && path.steps[2].id == id);
  sl_path_free(&path);
  OK(sl_array_set(iso, outer_arr, 3, SL_EMPTY_LOCAL));
  FAILS(sl_retaining_path(iso, id, &path), SL_EARG);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* One isolate per thread: nothing is shared, so both run at once unharmed. */
static void *thread_workload(void *arg) {
  int *ok = arg;
  sl_isolate *iso = sl_isolate_new(NULL);
  sl_persistent p = build_list(iso, 50000);
  *ok = sl_collect(iso, SL_MINOR, NULL) == SL_OK && sl_collect(iso, SL_MAJOR, NULL) == SL_OK &&
        sl_verify_heap(iso) == SL_OK && list_length(iso, p) == 50000;
  sl_isolate_dispose(iso);
  return NULL;
}

void test_isolates_in_two_threads_share_nothing(void) {
  pthread_t a, b;
  int ok_a = 0, ok_b = 0;
  CHECK(pthread_create(&a, NULL, thread_workload, &ok_a) == 0);
  CHECK(pthread_create(&b, NULL, thread_workload, &ok_b) == 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  CHECK(ok_a && ok_b);
}

static sl_status hook_status = SL_OK;
static void allocating_move_hook(sl_isolate *iso, uint64_t id, uintptr_t from, uintptr_t to,
                                 uint64_t collection, void *ud) {
  (void)id; (void)from; (void)to; (void)collection; (void)ud;
  sl_local h;
  if (hook_status == SL_OK) hook_status = sl_integer(iso, 42, &h);  /* misuse */
}

void test_allocation_from_a_hook_is_refused(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  sl_local a;
  hook_status = SL_OK;
  OK(sl_scope_open(iso, &s));
  OK(sl_integer(iso, 1, &a));
  sl_set_move_hook(iso, allocating_move_hook, NULL);
  OK(sl_collect(iso, SL_MINOR, NULL));
  CHECK(hook_status == SL_ESTATE);
  VERIFY(iso);
  CHECK(sl_number_of_handles(iso) == 1);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

static int weak_ran;
static void count_weak(sl_isolate *iso, sl_persistent p, void *ud) {
  (void)iso; (void)p; (void)ud;
  weak_ran++;
}

void test_weak_callbacks_run_after_a_failed_allocation(void) {
  sl_isolate *iso = with(2, 0, 1 << 16);
  sl_scope s, in;
  sl_local x, h;
  sl_persistent p;
  static char big[1 << 19];
  weak_ran = 0;
  OK(sl_scope_open(iso, &s));
  OK(sl_scope_open(iso, &in));
  OK(sl_integer(iso, 1, &x));
  OK(sl_persistent_new(iso, x, &p));
  OK(sl_persistent_set_weak(iso, p, count_weak, NULL));
  OK(sl_scope_close(&in));
  FAILS(sl_string(iso, big, sizeof big, &h), SL_ENOMEM);  /* after a full collection */
  CHECK(strstr(sl_last_error(iso), "heap exhausted") != NULL);  /* not the callback's */
  CHECK(weak_ran == 1);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_a_string_made_from_another_strings_bytes_survives_the_move(void) {
  static const uint64_t at[] = { 2 };   /* a full collection while allocating the copy */
  static char text[3000];
  sl_options o = t_options();
  o.young_size = 4096;                  /* 'text' is born old */
  o.gc_at = at;
  o.gc_at_count = 1;
  o.gc_interval_major = 1;
  o.stress_compaction = 1;              /* and old space is freed under it */
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local a, b;
  const char *bytes;
  size_t len;
  for (size_t i = 0; i < sizeof text; i++) text[i] = (char)('a' + i % 26);
  OK(sl_scope_open(iso, &s));
  OK(sl_string(iso, text, sizeof text, &a));
  OK(sl_string_value(iso, a, &bytes, &len));
  OK(sl_string(iso, bytes, len, &b));    /* 'a' moves during this allocation */
  sl_heap_stats st;
  sl_heap_stats_of(iso, &st);
  CHECK(st.major_collections == 1);
  OK(sl_string_value(iso, b, &bytes, &len));
  CHECK(len == sizeof text && memcmp(bytes, text, sizeof text) == 0);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* The counters the fast path no longer touches: allocations are the identities
** handed out, young bytes are counted from the bump pointer at each collection. */
void test_allocation_counters_survive_collections_and_failures(void) {
  sl_options o = t_options();
  o.young_size = 64 << 10;           /* arrays over 16 KiB are born old */
  o.old_size = 256 << 10;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local h, big;
  sl_heap_stats st;
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < 10; i++) OK(sl_integer(iso, i, &h));   /* 24 bytes each */
  sl_heap_stats_of(iso, &st);
  CHECK(st.allocations == 10 && st.bytes_allocated == 240);
  t_collect(iso, SL_MINOR);          /* survivors copied: not allocations */
  sl_heap_stats_of(iso, &st);
  CHECK(st.allocations == 10 && st.bytes_allocated == 240);
  for (int i = 0; i < 5; i++) OK(sl_integer(iso, i, &h));
  OK(sl_array(iso, 4096, &big));     /* 16 + 4096 * 8 bytes, old */
  t_collect(iso, SL_MAJOR);
  OK(sl_integer(iso, 1, &h));
  sl_heap_stats_of(iso, &st);
  CHECK(st.allocations == 17);
  CHECK(st.bytes_allocated == 240 + 5 * 24 + 16 + 4096 * 8 + 24);
  /* a refused allocation counts nothing */
  FAILS(sl_array(iso, 1 << 20, &big), SL_ENOMEM);
  sl_heap_stats_of(iso, &st);
  CHECK(st.allocations == 17);
  uint64_t id = 0;
  OK(sl_integer(iso, 2, &h));
  OK(sl_identity(iso, h, &id));
  CHECK(id == 18);                   /* identities count allocations */
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}
