/* SPDX-License-Identifier: MIT */
/*
** test_twopass.c: two-pass weak callbacks (V8's SetWeak with a parameter or
** internal fields), external memory and old-generation growth as reasons
** for a full collection.
*/
#include <string.h>

#include "t.h"
#include "tests.h"

typedef struct wrapper {
  sl_persistent handle;
  int reset_in_first;      /* the first pass resets the handle (as it must) */
  int want_second;
  void *fields[2];
  sl_status refused[5];    /* what the first pass was refused */
  int first_ran, second_ran;
  sl_status second_alloc;  /* what an allocation in the second pass gave */
} wrapper;

static void second_pass(const sl_weak_info *w) {
  wrapper *wr = sl_weak_info_parameter(w);
  sl_isolate *iso = sl_weak_info_isolate(w);
  sl_scope s;
  sl_local h;
  wr->second_ran++;
  CHECK(sl_weak_info_is_second_pass(w));
  FAILS(sl_weak_info_set_second_pass(w, second_pass), SL_ESTATE);
  wr->second_alloc = sl_scope_open(iso, &s);
  if (wr->second_alloc == SL_OK) {
    wr->second_alloc = sl_integer(iso, 5, &h);  /* the whole API again */
    sl_scope_close(&s);
  }
}

static void first_pass(const sl_weak_info *w) {
  wrapper *wr = sl_weak_info_parameter(w);
  sl_isolate *iso = sl_weak_info_isolate(w);
  sl_scope s;
  sl_local h;
  sl_persistent p;
  void *bad;
  wr->first_ran++;
  OK(sl_weak_info_internal_field(w, 0, &wr->fields[0]));
  OK(sl_weak_info_internal_field(w, 1, &wr->fields[1]));
  FAILS(sl_weak_info_internal_field(w, 2, &bad), SL_EARG);
  wr->refused[0] = sl_integer(iso, 1, &h);
  wr->refused[1] = sl_scope_open(iso, &s);
  wr->refused[2] = sl_collect(iso, SL_MINOR, NULL);
  wr->refused[3] = sl_persistent_new(iso, SL_EMPTY_LOCAL, &p);
  wr->refused[4] = sl_run_tasks(iso, NULL);
  OK(sl_adjust_external_memory(iso, -100, NULL));   /* allowed: reading and accounting */
  CHECK(sl_weak_info_handle(w).node == wr->handle.node);
  if (wr->reset_in_first) OK(sl_persistent_reset(iso, wr->handle, SL_EMPTY_LOCAL));
  if (wr->want_second) OK(sl_weak_info_set_second_pass(w, second_pass));
}

/* A wrapper object (two aligned-pointer fields) held only by a weak handle. */
static void make_wrapper(sl_isolate *iso, wrapper *wr, int *natives) {
  sl_scope s;
  sl_local o;
  OK(sl_scope_open(iso, &s));
  OK(sl_object_new(iso, 2, &o));
  OK(sl_object_set_aligned_pointer(iso, o, 0, &natives[0]));
  OK(sl_object_set_aligned_pointer(iso, o, 1, &natives[1]));
  OK(sl_persistent_new(iso, o, &wr->handle));
  OK(sl_persistent_set_weak_two_pass(iso, wr->handle, first_pass, wr,
                                     SL_WEAK_INTERNAL_FIELDS));
  OK(sl_scope_close(&s));
}

void test_a_first_pass_runs_in_the_collection_and_may_only_reset(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  int natives[2];
  wrapper wr;
  memset(&wr, 0, sizeof wr);
  wr.reset_in_first = 1;
  wr.want_second = 1;
  make_wrapper(iso, &wr, natives);
  sl_gc_stats g;
  OK(sl_collect(iso, SL_MAJOR, &g));        /* forced: the second pass runs now */
  VERIFY(iso);
  CHECK(wr.first_ran == 1 && g.first_passes_run == 1);
  CHECK(wr.fields[0] == &natives[0] && wr.fields[1] == &natives[1]);
  for (int i = 0; i < 5; i++) CHECK(wr.refused[i] == SL_ESTATE);
  CHECK(wr.second_ran == 1 && wr.second_alloc == SL_OK);
  CHECK(sl_pending_tasks(iso) == 0);
  sl_heap_stats st;
  sl_heap_stats_of(iso, &st);
  CHECK(st.external_memory == -100 && st.persistent_handles == 0);
  OK(sl_persistent_delete(iso, wr.handle));
  sl_isolate_dispose(iso);
}

void test_a_second_pass_waits_as_a_task_after_an_allocation_collects(void) {
  sl_options o = t_options();
  o.young_size = 1 << 16;
  sl_isolate *iso = t_new(&o);
  int natives[2];
  wrapper wr;
  memset(&wr, 0, sizeof wr);
  wr.reset_in_first = 1;
  wr.want_second = 1;
  make_wrapper(iso, &wr, natives);
  sl_scope s;
  sl_local h;
  OK(sl_scope_open(iso, &s));
  sl_heap_stats st;
  sl_heap_stats_of(iso, &st);
  uint64_t minors = st.minor_collections;
  while (st.minor_collections == minors) {  /* fill young space: a scavenge */
    OK(sl_integer(iso, 1, &h));
    sl_heap_stats_of(iso, &st);
  }
  OK(sl_scope_close(&s));
  CHECK(wr.first_ran == 1 && wr.second_ran == 0);
  CHECK(sl_pending_tasks(iso) == 1 && st.pending_tasks == 1);
  size_t ran = 0;
  OK(sl_run_tasks(iso, &ran));
  CHECK(ran == 1 && wr.second_ran == 1 && wr.second_alloc == SL_OK);
  sl_isolate_dispose(iso);
}

void test_a_first_pass_that_keeps_its_handle_fails_the_collection_after_it(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  int natives[2], earlier[2];
  wrapper wr, before;
  memset(&wr, 0, sizeof wr);
  memset(&before, 0, sizeof before);
  before.reset_in_first = 1;
  before.want_second = 1;
  make_wrapper(iso, &before, earlier);
  /* an allocation-triggered collection first: its second pass waits */
  sl_scope s;
  sl_local h;
  OK(sl_scope_open(iso, &s));
  sl_heap_stats st;
  sl_heap_stats_of(iso, &st);
  uint64_t minors = st.minor_collections;
  while (st.minor_collections == minors) {
    OK(sl_integer(iso, 1, &h));
    sl_heap_stats_of(iso, &st);
  }
  OK(sl_scope_close(&s));
  CHECK(before.second_ran == 0 && sl_pending_tasks(iso) == 1);
  wr.reset_in_first = 0;                    /* misbehaves */
  wr.want_second = 1;
  make_wrapper(iso, &wr, natives);
  FAILS(sl_collect(iso, SL_MAJOR, NULL), SL_ESTATE);
  CHECK(strcmp(sl_last_error(iso), "Handle not reset in first callback") == 0);
  /* the collection completed and ran every second pass, the earlier one too */
  CHECK(wr.first_ran == 1 && wr.second_ran == 1 && before.second_ran == 1);
  int empty = 0, weak = 1;
  OK(sl_persistent_is_empty(iso, wr.handle, &empty));
  OK(sl_persistent_is_weak(iso, wr.handle, &weak));
  CHECK(empty && !weak);                    /* the engine reset it */
  VERIFY(iso);
  OK(sl_persistent_delete(iso, wr.handle));
  OK(sl_collect(iso, SL_MAJOR, NULL));      /* usable, and not reported twice */
  sl_isolate_dispose(iso);
}

/* ------------------------------------------------------------------ reasons */

static sl_gc_reason last_major_reason;
static void note_reason(sl_isolate *iso, const sl_gc_stats *st, void *ud) {
  (void)iso, (void)ud;
  if (st->kind == SL_MAJOR) last_major_reason = st->reason;
}

void test_external_memory_past_its_limit_runs_a_full_collection(void) {
  sl_options o = t_options();
  o.external_memory_limit = 1 << 20;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local h;
  int64_t total = 0;
  sl_heap_stats st;
  sl_set_gc_hook(iso, note_reason, NULL);
  OK(sl_scope_open(iso, &s));
  OK(sl_adjust_external_memory(iso, 1 << 19, &total));
  OK(sl_integer(iso, 1, &h));
  sl_heap_stats_of(iso, &st);
  CHECK(total == 1 << 19 && st.major_collections == 0);
  OK(sl_adjust_external_memory(iso, (1 << 19) + 1, &total));
  OK(sl_integer(iso, 2, &h));              /* this allocation collects first */
  sl_heap_stats_of(iso, &st);
  CHECK(st.major_collections == 1 && last_major_reason == SL_GC_EXTERNAL_MEMORY);
  OK(sl_integer(iso, 3, &h));              /* measured from that collection now */
  sl_heap_stats_of(iso, &st);
  CHECK(st.major_collections == 1 && st.external_memory == (1 << 20) + 1);
  FAILS(sl_adjust_external_memory(iso, INT64_MAX, NULL), SL_EARG);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* A wrapper's native megabyte, reported to the isolate and given back by its
** first pass (an addon's Buffer). */
static void give_back(const sl_weak_info *info) {
  sl_persistent *p = sl_weak_info_parameter(info);
  sl_isolate *iso = sl_weak_info_isolate(info);
  sl_persistent_delete(iso, *p);
  sl_adjust_external_memory(iso, -(1 << 20), NULL);
}

void test_external_memory_freed_after_a_full_collection_lowers_its_mark(void) {
  enum { N = 64 };
  sl_options o = t_options();
  o.external_memory_limit = 4 << 20;
  o.gc_interval = 0;
  sl_isolate *iso = t_new(&o);
  sl_persistent wraps[N];
  sl_scope s;
  int64_t total = 0, peak = 0;
  sl_heap_stats st;
  sl_set_gc_hook(iso, note_reason, NULL);
  OK(sl_scope_open(iso, &s));
  for (int i = 0; i < N; i++) {             /* 64 MiB through wrappers that die at once */
    sl_scope inner;
    sl_local obj;
    OK(sl_scope_open(iso, &inner));
    OK(sl_object_new(iso, 1, &obj));
    OK(sl_persistent_new(iso, obj, &wraps[i]));
    OK(sl_persistent_set_weak_two_pass(iso, wraps[i], give_back, &wraps[i], SL_WEAK_PARAMETER));
    OK(sl_adjust_external_memory(iso, 1 << 20, &total));
    if (total > peak) peak = total;
    OK(sl_scope_close(&inner));
  }
  sl_heap_stats_of(iso, &st);
  /* each cycle starts from what the last one's first passes left, not from its peak */
  CHECK(peak <= (5 << 20) + (1 << 20));
  CHECK(st.major_collections >= N / 6 && last_major_reason == SL_GC_EXTERNAL_MEMORY);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

void test_old_space_growing_past_the_factor_runs_a_full_collection(void) {
  sl_options o = t_options();
  o.young_size = 1 << 16;                   /* 16 KiB arrays are born old */
  o.heap_growing_factor = 2.0;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local h;
  sl_gc_stats g;
  sl_heap_stats st;
  sl_set_gc_hook(iso, note_reason, NULL);
  OK(sl_scope_open(iso, &s));
  OK(sl_collect(iso, SL_MAJOR, &g));
  CHECK(g.reason == SL_GC_REQUESTED);
  for (int i = 0; i < 80; i++) {            /* 80 x 16 KiB of garbage: past the 1 MiB floor */
    sl_scope inner;
    OK(sl_scope_open(iso, &inner));
    OK(sl_array(iso, 2048, &h));
    OK(sl_scope_close(&inner));
  }
  sl_heap_stats_of(iso, &st);
  CHECK(st.major_collections >= 2 && last_major_reason == SL_GC_OLD_GENERATION_GROWTH);
  CHECK(st.old_used < ((size_t)3 << 20) / 2);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* A first pass that keeps its handle. */
static void keeps_handle(const sl_weak_info *w) { (void)w; }

/* A single-pass callback that allocates (and so, with gc_interval 1, collects). */
static sl_status alloc_status;
static void allocates(sl_isolate *iso, sl_persistent p, void *ud) {
  sl_scope s;
  sl_local h;
  (void)p, (void)ud;
  if (sl_scope_open(iso, &s) != SL_OK) return;
  alloc_status = sl_integer(iso, 1, &h);
  sl_scope_close(&s);
}

void test_the_collection_that_ran_a_first_pass_reports_its_kept_handle(void) {
  sl_options o = t_options();
  o.gc_interval = 1;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local a, b;
  sl_persistent pa, pb;
  OK(sl_scope_open(iso, &s));
  OK(sl_object_new(iso, 0, &a));
  OK(sl_integer(iso, 2, &b));
  OK(sl_persistent_new(iso, a, &pa));
  OK(sl_persistent_new(iso, b, &pb));
  OK(sl_persistent_set_weak_two_pass(iso, pa, keeps_handle, NULL, SL_WEAK_PARAMETER));
  OK(sl_persistent_set_weak(iso, pb, allocates, NULL));
  OK(sl_scope_close(&s));
  alloc_status = SL_EARG;
  FAILS(sl_collect(iso, SL_MAJOR, NULL), SL_ESTATE);   /* it ran the first pass */
  CHECK(strcmp(sl_last_error(iso), "Handle not reset in first callback") == 0);
  CHECK(alloc_status == SL_OK);                        /* not blamed on the callback */
  OK(sl_persistent_delete(iso, pa));
  OK(sl_persistent_delete(iso, pb));
  sl_isolate_dispose(iso);
}

/* A single-pass callback whose own call fails, leaving its message. */
static void fails_a_call(sl_isolate *iso, sl_persistent p, void *ud) {
  (void)p, (void)ud;
  FAILS(sl_collect(iso, 0, NULL), SL_EARG);
}

void test_a_failed_set_keeps_its_message_over_a_weak_callbacks(void) {
  sl_options o = t_options();
  o.gc_interval = 1;
  o.gc_interval_major = 1;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local obj, a, b, v;
  sl_persistent pa, pb;
  OK(sl_scope_open(iso, &s));
  OK(sl_object_new(iso, 0, &obj));
  OK(sl_integer(iso, 7, &v));
  {
    sl_scope inner;
    OK(sl_scope_open(iso, &inner));
    OK(sl_object_new(iso, 0, &a));
    OK(sl_integer(iso, 2, &b));
    OK(sl_persistent_new(iso, a, &pa));
    OK(sl_persistent_new(iso, b, &pb));
    OK(sl_persistent_set_weak_two_pass(iso, pa, keeps_handle, NULL, SL_WEAK_PARAMETER));
    OK(sl_persistent_set_weak(iso, pb, fails_a_call, NULL));
    OK(sl_scope_close(&inner));
  }
  /* a new key allocates, the allocation collects: the first pass keeps its
  ** handle, and the other callback's failure runs after the store */
  FAILS(sl_object_set_named(iso, obj, "k", 1, v), SL_ESTATE);
  CHECK(strcmp(sl_last_error(iso), "Handle not reset in first callback") == 0);
  VERIFY(iso);
  OK(sl_scope_close(&s));
  OK(sl_persistent_delete(iso, pa));
  OK(sl_persistent_delete(iso, pb));
  sl_isolate_dispose(iso);
}
