/* SPDX-License-Identifier: MIT */
/*
** test_values.c: Smis, the read-only roots, objects with properties and
** internal fields, externals, eternal Locals, and the retaining paths that
** name properties and fields.
*/
#include <string.h>

#include "t.h"
#include "tests.h"

static sl_local integer(sl_isolate *iso, int64_t v) {
  sl_local h = SL_EMPTY_LOCAL;
  OK(sl_integer(iso, v, &h));
  return h;
}

static int64_t int_of(sl_isolate *iso, sl_local h) {
  int64_t v = -1;
  OK(sl_integer_value(iso, h, &v));
  return v;
}

static sl_kind kind(sl_isolate *iso, sl_local h) {
  sl_kind k = 0;
  OK(sl_kind_of(iso, h, &k));
  return k;
}

static void both(sl_isolate *iso) {
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MAJOR);
}

void test_a_smi_lives_in_its_slot_and_allocates_nothing(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  sl_local a, b, big, arr, got;
  sl_heap_stats st;
  sl_probe p;
  int32_t v = 0;
  OK(sl_scope_open(iso, &s));
  sl_heap_stats_of(iso, &st);
  uint64_t before = st.allocations;
  OK(sl_smi(iso, SL_SMI_MAX, &a));
  OK(sl_smi(iso, SL_SMI_MIN, &b));
  sl_heap_stats_of(iso, &st);
  CHECK(st.allocations == before && sl_number_of_handles(iso) == 2);
  FAILS(sl_smi(iso, SL_SMI_MAX + 1, &big), SL_EARG);
  CHECK(kind(iso, a) == SL_SMI);
  FAILS(sl_probe_new(iso, a, &p), SL_EARG);
  CHECK(strstr(sl_last_error(iso), "a Smi is not a heap object") != NULL);
  FAILS(sl_integer_value(iso, a, &(int64_t){ 0 }), SL_EARG);
  OK(sl_array(iso, 2, &arr));
  OK(sl_array_set(iso, arr, 0, a));
  OK(sl_array_set(iso, arr, 1, b));
  both(iso);
  both(iso);
  OK(sl_smi_value(iso, a, &v));
  CHECK(v == SL_SMI_MAX);
  OK(sl_array_get(iso, arr, 1, &got));
  OK(sl_smi_value(iso, got, &v));
  CHECK(v == SL_SMI_MIN);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_the_read_only_roots_need_no_scope_and_never_move(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_local u = sl_undefined(iso), n = sl_null(iso), t = sl_boolean(iso, 1);
  uint64_t id0 = 0, id1 = 0;
  uintptr_t a0 = 0, a1 = 0;
  int b = 0;
  CHECK(sl_number_of_handles(iso) == 0 && sl_scope_depth(iso) == 0);
  CHECK(kind(iso, u) == SL_UNDEFINED && kind(iso, n) == SL_NULL && kind(iso, t) == SL_BOOLEAN);
  OK(sl_boolean_value(iso, t, &b));
  CHECK(b == 1);
  OK(sl_boolean_value(iso, sl_boolean(iso, 0), &b));
  CHECK(b == 0);
  CHECK(sl_is_nullish(iso, u) && sl_is_nullish(iso, n) && !sl_is_nullish(iso, t));
  OK(sl_identity(iso, u, &id0));
  OK(sl_address(iso, u, &a0));
  sl_scope s;
  sl_local arr, copy;
  sl_persistent keep;
  OK(sl_scope_open(iso, &s));
  OK(sl_array(iso, 1, &arr));
  OK(sl_array_set(iso, arr, 0, u));
  OK(sl_local_new(iso, n, &copy));         /* a real handle holding null */
  OK(sl_persistent_new(iso, u, &keep));
  OK(sl_persistent_set_weak(iso, keep, NULL, NULL));
  for (int i = 0; i < 3; i++) both(iso);
  OK(sl_identity(iso, u, &id1));
  OK(sl_address(iso, u, &a1));
  CHECK(id0 == id1 && a0 == a1);
  int empty = 1, same = 0;
  OK(sl_persistent_is_empty(iso, keep, &empty));
  CHECK(!empty);                           /* a weak handle to a root never empties */
  sl_local back;
  OK(sl_array_get(iso, arr, 0, &back));
  OK(sl_same(iso, back, u, &same));
  CHECK(same);
  CHECK(kind(iso, copy) == SL_NULL);
  OK(sl_persistent_delete(iso, keep));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_an_eternal_local_is_its_own_slot(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s, seal;
  size_t idx = 0;
  sl_local e;
  OK(sl_scope_open(iso, &s));
  OK(sl_eternal_new(iso, integer(iso, 42), &idx));
  OK(sl_scope_close(&s));
  OK(sl_eternal_get(iso, idx, &e));        /* no scope open */
  CHECK(sl_number_of_handles(iso) == 0);
  both(iso);
  CHECK(int_of(iso, e) == 42);
  OK(sl_scope_open(iso, &s));
  OK(sl_seal_scope_open(iso, &seal));
  OK(sl_eternal_get(iso, idx, &e));        /* under a seal too */
  CHECK(int_of(iso, e) == 42);
  OK(sl_scope_close(&seal));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* A property's value as an integer (-1 when absent or not an integer). */
static int64_t prop(sl_isolate *iso, sl_local o, const char *key) {
  sl_local v;
  sl_kind k = 0;
  if (sl_object_get_named(iso, o, key, strlen(key), &v) != SL_OK) return -2;
  if (sl_kind_of(iso, v, &k) != SL_OK || k != SL_INTEGER) return -1;
  return int_of(iso, v);
}

void test_properties_survive_both_collections_in_insertion_order(void) {
  sl_isolate *iso = t_isolate(1 << 16, 0, 0);
  sl_scope s, inner;
  sl_local o, keys, k;
  char name[16];
  size_t n = 0;
  OK(sl_scope_open(iso, &s));
  OK(sl_object_new(iso, 0, &o));
  for (int i = 0; i < 20; i++) {            /* the store grows 4, 8, 16, 32 */
    OK(sl_scope_open(iso, &inner));
    snprintf(name, sizeof name, "p%d", i);
    OK(sl_object_set_named(iso, o, name, strlen(name), integer(iso, 100 + i)));
    OK(sl_scope_close(&inner));
    if (i % 7 == 0) both(iso);
  }
  both(iso);
  OK(sl_object_property_count(iso, o, &n));
  CHECK(n == 20);
  CHECK(prop(iso, o, "p0") == 100 && prop(iso, o, "p19") == 119);
  OK(sl_object_set_named(iso, o, "p3", 2, integer(iso, -3)));  /* overwrite keeps the order */
  int had = 0, has = 1;
  OK(sl_object_delete_named(iso, o, "p1", 2, &had));
  OK(sl_object_delete_named(iso, o, "absent", 6, &had));
  CHECK(had == 1);                          /* V8: true also when absent */
  OK(sl_object_has_named(iso, o, "p1", 2, &has));
  CHECK(!has);
  CHECK(prop(iso, o, "p1") == -1);         /* undefined */
  OK(sl_object_keys(iso, o, &keys));
  OK(sl_array_length(iso, keys, &n));
  CHECK(n == 19);
  const char *b = NULL;
  size_t len = 0;
  OK(sl_array_get(iso, keys, 2, &k));
  OK(sl_string_value(iso, k, &b, &len));
  CHECK(len == 2 && memcmp(b, "p3", 2) == 0);
  CHECK(prop(iso, o, "p3") == -3);
  sl_heap_stats st;
  sl_heap_stats_of(iso, &st);
  CHECK(st.names >= 19);
  OK(sl_scope_close(&s));
  t_collect(iso, SL_MAJOR);                 /* nothing refers to the names now */
  sl_heap_stats_of(iso, &st);
  CHECK(st.names == 0);
  sl_isolate_dispose(iso);
}

void test_an_old_object_keeps_a_young_property_value_through_scavenges(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s, inner;
  sl_local o, key, v;
  sl_generation g = 0;
  sl_probe p;
  OK(sl_scope_open(iso, &s));
  OK(sl_object_new(iso, 1, &o));
  OK(sl_name(iso, "x", 1, &key));
  OK(sl_object_set(iso, o, key, integer(iso, 1)));  /* the store exists, young */
  both(iso);
  OK(sl_generation_of(iso, o, &g));
  CHECK(g == SL_OLD);
  OK(sl_scope_open(iso, &inner));
  v = integer(iso, 77);
  OK(sl_probe_new(iso, v, &p));
  OK(sl_object_set(iso, o, key, v));       /* old store -> young value: the barrier */
  OK(sl_object_set_internal_field(iso, o, 0, integer(iso, 78)));  /* old object -> young */
  OK(sl_scope_close(&inner));
  t_collect(iso, SL_MINOR);
  t_collect(iso, SL_MINOR);
  CHECK(t_alive(iso, p) && t_moves(iso, p) == 2);
  OK(sl_scope_open(iso, &inner));           /* reading makes Locals: let them go */
  CHECK(prop(iso, o, "x") == 77);
  sl_local f;
  OK(sl_object_get_internal_field(iso, o, 0, &f));
  CHECK(int_of(iso, f) == 78);
  OK(sl_scope_close(&inner));
  OK(sl_object_delete(iso, o, key, NULL));
  t_collect(iso, SL_MAJOR);
  CHECK(!t_alive(iso, p));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_internal_fields_hold_values_or_pointers_never_followed(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  sl_local o, f;
  static int native[4];
  void *p = NULL;
  int n = 0;
  OK(sl_scope_open(iso, &s));
  FAILS(sl_object_new(iso, SL_MAX_INTERNAL_FIELDS + 1, &o), SL_EARG);
  OK(sl_object_new(iso, 2, &o));
  OK(sl_object_internal_field_count(iso, o, &n));
  CHECK(n == 2);
  OK(sl_object_get_internal_field(iso, o, 1, &f));
  CHECK(kind(iso, f) == SL_UNDEFINED);
  OK(sl_object_get_aligned_pointer(iso, o, 0, &p));
  CHECK(p == NULL);
  OK(sl_object_set_aligned_pointer(iso, o, 0, &native[1]));
  FAILS(sl_object_set_aligned_pointer(iso, o, 1, (char *)native + 1), SL_EARG);
  FAILS(sl_object_get_internal_field(iso, o, 0, &f), SL_EARG);
  FAILS(sl_object_get_internal_field(iso, o, 2, &f), SL_EARG);
  OK(sl_object_set_internal_field(iso, o, 1, integer(iso, 5)));
  FAILS(sl_object_get_aligned_pointer(iso, o, 1, &p), SL_EARG);
  for (int i = 0; i < 3; i++) both(iso);
  OK(sl_object_get_aligned_pointer(iso, o, 0, &p));
  CHECK(p == &native[1]);
  OK(sl_object_get_internal_field(iso, o, 1, &f));
  CHECK(int_of(iso, f) == 5);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_an_external_holds_its_pointer_through_moves(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  sl_local e;
  int target = 0;
  void *p = NULL;
  sl_probe w;
  OK(sl_scope_open(iso, &s));
  OK(sl_external_new(iso, &target, &e));
  OK(sl_probe_new(iso, e, &w));
  both(iso);
  CHECK(kind(iso, e) == SL_EXTERNAL && t_moves(iso, w) >= 1);
  OK(sl_external_value(iso, e, &p));
  CHECK(p == &target);
  OK(sl_scope_close(&s));
  t_collect(iso, SL_MAJOR);
  CHECK(!t_alive(iso, w));
  sl_isolate_dispose(iso);
}

void test_a_retaining_path_names_properties_and_fields(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s, tmp;
  sl_local o, inner, v;
  uint64_t id = 0;
  sl_path path;
  OK(sl_scope_open(iso, &s));
  OK(sl_object_new(iso, 2, &o));
  OK(sl_scope_open(iso, &tmp));             /* only o's Local outlives it */
  OK(sl_object_new(iso, 0, &inner));
  OK(sl_object_set_internal_field(iso, o, 1, inner));
  OK(sl_object_set_named(iso, inner, "name", 4, integer(iso, 9)));
  OK(sl_object_get_named(iso, inner, "name", 4, &v));
  OK(sl_identity(iso, v, &id));
  OK(sl_scope_close(&tmp));
  both(iso);
  OK(sl_retaining_path(iso, id, &path));
  CHECK(path.n == 3 && path.root.kind == SL_ROOT_LOCAL);
  if (path.n == 3) {
    CHECK(path.steps[0].kind == SL_OBJECT && path.steps[1].kind == SL_OBJECT &&
          path.steps[2].kind == SL_INTEGER && path.steps[2].id == id);
    CHECK(path.edge[1] == SL_EDGE_INTERNAL_FIELD && path.index[1] == 1);
    CHECK(path.edge[2] == SL_EDGE_PROPERTY && path.name[2] != NULL &&
          strcmp(path.name[2], "name") == 0);
  }
  sl_path_free(&path);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}
