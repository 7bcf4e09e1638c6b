/* SPDX-License-Identifier: MIT */
/*
** test_calls.c: functions and sl_call (the implicit HandleScope, frames as
** roots, failures), the task queue, and the isolate's thread check.
*/
#include <pthread.h>
#include <string.h>

#include "t.h"
#include "tests.h"

static int64_t int_of(sl_isolate *iso, sl_local h) {
  int64_t v = -1;
  OK(sl_integer_value(iso, h, &v));
  return v;
}

typedef struct probe_call {
  size_t handles_in;      /* NumberOfHandles when the callback starts */
  size_t made;            /* Locals the callback makes */
  size_t argc;
  int64_t sum;
  int undefined_past_end;
  int this_is_data;
  uint32_t depth;
} probe_call;

/* Sums its integer arguments into a new integer, making 'made' Locals first. */
static sl_status sum_args(sl_isolate *iso, const sl_call_info *ci) {
  probe_call *pc = sl_call_native(ci);
  sl_local r, junk;
  sl_kind k = 0;
  pc->handles_in = sl_number_of_handles(iso);
  pc->argc = sl_call_length(ci);
  pc->sum = 0;
  pc->depth = sl_call_depth(iso);
  for (size_t i = 0; i < pc->made; i++) OK(sl_integer(iso, (int64_t)i, &junk));
  for (size_t i = 0; i < sl_call_length(ci); i++) pc->sum += int_of(iso, sl_call_arg(ci, i));
  OK(sl_kind_of(iso, sl_call_arg(ci, sl_call_length(ci)), &k));
  pc->undefined_past_end = k == SL_UNDEFINED;
  int same = 0;
  OK(sl_same(iso, sl_call_this(ci), sl_call_data(ci), &same));
  pc->this_is_data = same;
  OK(sl_integer(iso, pc->sum, &r));
  return sl_call_set_return(ci, r);
}

void test_a_call_runs_its_callback_inside_an_implicit_scope(void) {
  sl_options o = t_options();
  o.gc_interval = 3;                        /* the frame must be a root: objects move */
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local fn, data, name, args[3], res, nm;
  probe_call pc = { 0, 50, 0, 0, 0, 0, 0 };
  OK(sl_scope_open(iso, &s));
  OK(sl_integer(iso, -1, &data));
  OK(sl_string(iso, "sum", 3, &name));
  OK(sl_function_new(iso, sum_args, &pc, data, name, &fn));
  for (int i = 0; i < 3; i++) OK(sl_integer(iso, (int64_t)10 * (i + 1), &args[i]));
  size_t before = sl_number_of_handles(iso);
  for (int round = 0; round < 100; round++) {
    sl_scope per;
    OK(sl_scope_open(iso, &per));
    OK(sl_call(iso, fn, data, 3, args, &res));
    CHECK(int_of(iso, res) == 60);
    CHECK(sl_number_of_handles(iso) == before + 1);   /* only the result */
    OK(sl_scope_close(&per));
  }
  CHECK(pc.argc == 3 && pc.sum == 60 && pc.undefined_past_end && pc.this_is_data);
  CHECK(pc.handles_in == before + 1 && pc.depth == 1);  /* the caller's result slot */
  CHECK(sl_call_depth(iso) == 0);
  OK(sl_function_name(iso, fn, &nm));
  const char *b;
  size_t n;
  OK(sl_string_value(iso, nm, &b, &n));
  CHECK(n == 3 && memcmp(b, "sum", 3) == 0);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* Calls the function in its data value with one argument, twice nested. */
static sl_status call_inner(sl_isolate *iso, const sl_call_info *ci) {
  sl_local res;
  sl_local arg = sl_call_arg(ci, 0);
  sl_status st = sl_call(iso, sl_call_data(ci), sl_undefined(iso), 1, &arg, &res);
  if (st == SL_OK) st = sl_call_set_return(ci, res);
  return st;
}

void test_calls_nest_and_each_frame_is_a_root(void) {
  sl_options o = t_options();
  o.gc_interval = 1;
  o.gc_interval_major = 0;
  sl_isolate *iso = t_new(&o);
  sl_scope s;
  sl_local inner, outer, arg, res;
  probe_call pc = { 0, 3, 0, 0, 0, 0, 0 };
  OK(sl_scope_open(iso, &s));
  OK(sl_function_new(iso, sum_args, &pc, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, &inner));
  OK(sl_function_new(iso, call_inner, NULL, inner, SL_EMPTY_LOCAL, &outer));
  OK(sl_integer(iso, 7, &arg));
  OK(sl_call(iso, outer, SL_EMPTY_LOCAL, 1, &arg, &res));
  CHECK(int_of(iso, res) == 7 && pc.depth == 2);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

static sl_status fails(sl_isolate *iso, const sl_call_info *ci) {
  sl_local h;
  sl_scope left;
  int *mode = sl_call_native(ci);
  OK(sl_integer(iso, 1, &h));
  if (*mode == 1) return sl_set_error(iso, SL_ECALLBACK, "fails: on purpose");
  OK(sl_scope_open(iso, &left));           /* mode 2: a scope left open */
  OK(sl_integer(iso, 2, &h));
  return SL_OK;
}

void test_a_failing_callback_fails_the_call_and_the_isolate_goes_on(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  sl_local fn, res = SL_EMPTY_LOCAL;
  int mode = 1;
  OK(sl_scope_open(iso, &s));
  OK(sl_function_new(iso, fails, &mode, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, &fn));
  size_t before = sl_number_of_handles(iso);
  FAILS(sl_call(iso, fn, SL_EMPTY_LOCAL, 0, NULL, &res), SL_ECALLBACK);
  CHECK(strcmp(sl_last_error(iso), "fails: on purpose") == 0);
  CHECK(sl_number_of_handles(iso) == before && sl_scope_depth(iso) == 1);
  mode = 2;
  FAILS(sl_call(iso, fn, SL_EMPTY_LOCAL, 0, NULL, &res), SL_EORDER);
  CHECK(strstr(sl_last_error(iso), "left 1 scope open") != NULL);
  CHECK(sl_number_of_handles(iso) == before && sl_scope_depth(iso) == 1);
  t_collect(iso, SL_MAJOR);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

static int ran;
static sl_status count_run(sl_isolate *iso, const sl_call_info *ci) {
  (void)iso, (void)ci;
  ran++;
  return SL_OK;
}

void test_a_call_with_no_scope_or_under_a_seal_is_refused_before_it_runs(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s, seal;
  sl_local fn, res;
  size_t idx = 0;
  OK(sl_scope_open(iso, &s));
  OK(sl_function_new(iso, count_run, NULL, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, &fn));
  OK(sl_eternal_new(iso, fn, &idx));
  OK(sl_seal_scope_open(iso, &seal));
  ran = 0;
  FAILS(sl_call(iso, fn, SL_EMPTY_LOCAL, 0, NULL, &res), SL_ESEALED);
  OK(sl_scope_close(&seal));
  OK(sl_scope_close(&s));
  OK(sl_eternal_get(iso, idx, &fn));        /* a Local with no scope open */
  FAILS(sl_call(iso, fn, SL_EMPTY_LOCAL, 0, NULL, &res), SL_ENOSCOPE);
  CHECK(ran == 0);
  OK(sl_scope_open(iso, &s));
  OK(sl_call(iso, fn, SL_EMPTY_LOCAL, 0, NULL, &res));
  sl_kind k = 0;
  OK(sl_kind_of(iso, res, &k));
  CHECK(ran == 1 && k == SL_UNDEFINED);     /* no return value set: undefined */
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* ------------------------------------------------------------------ tasks */

typedef struct task_log {
  int order[8];
  int n;
} task_log;

static void log_task(sl_isolate *iso, void *ud);

static void log_and_post(sl_isolate *iso, void *ud) {
  task_log *l = ud;
  l->order[l->n++] = 1;
  sl_post_task(iso, log_task, l);          /* waits for the next run */
}

static void log_task(sl_isolate *iso, void *ud) {
  task_log *l = ud;
  (void)iso;
  l->order[l->n++] = 2;
}

void test_tasks_run_in_order_and_new_ones_wait_for_the_next_run(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  task_log l = { { 0 }, 0 };
  size_t ran_now = 0;
  OK(sl_post_task(iso, log_and_post, &l));
  OK(sl_post_task(iso, log_task, &l));
  CHECK(sl_pending_tasks(iso) == 2);
  OK(sl_run_tasks(iso, &ran_now));
  CHECK(ran_now == 2 && l.n == 2 && l.order[0] == 1 && l.order[1] == 2);
  CHECK(sl_pending_tasks(iso) == 1);
  OK(sl_run_tasks(iso, &ran_now));
  CHECK(ran_now == 1 && l.n == 3 && sl_pending_tasks(iso) == 0);
  sl_isolate_dispose(iso);
}

/* ------------------------------------------------------------------ threads */

typedef struct foreign {
  sl_isolate *iso;
  sl_status open, collect;
} foreign;

static void *use_from_another_thread(void *ud) {
  foreign *f = ud;
  sl_scope s;
  f->open = sl_scope_open(f->iso, &s);
  f->collect = sl_collect(f->iso, SL_MINOR, NULL);
  return NULL;
}

void test_check_thread_refuses_a_thread_that_does_not_own_the_isolate(void) {
  sl_options o = t_options();
  o.check_thread = 1;
  sl_isolate *iso = t_new(&o);
  foreign f = { iso, SL_OK, SL_OK };
  pthread_t t;
  sl_scope s;
  sl_local h;
  OK(sl_scope_open(iso, &s));               /* the owner: fine, fast paths diverted */
  for (int i = 0; i < 3000; i++) OK(sl_integer(iso, i, &h));
  CHECK(int_of(iso, h) == 2999);
  CHECK(pthread_create(&t, NULL, use_from_another_thread, &f) == 0);
  pthread_join(t, NULL);
  CHECK(f.open == SL_ETHREAD && f.collect == SL_ETHREAD);
  CHECK(strstr(sl_last_error(iso), "thread that does not own it") != NULL);
  OK(sl_scope_close(&s));
  t_collect(iso, SL_MAJOR);
  sl_isolate_dispose(iso);
}

/* A scavenge that leaves young space full makes the next small object old. */
static void fill_young(sl_isolate *iso) {
  sl_heap_stats st;
  sl_local h;
  sl_heap_stats_of(iso, &st);
  while (st.young_used + 48 <= st.young_size) {  /* less room than a function's 48 bytes */
    OK(sl_integer(iso, 1, &h));
    sl_heap_stats_of(iso, &st);
  }
}

void test_a_small_function_born_old_remembers_its_young_data(void) {
  sl_options o = t_options();
  o.young_size = 4096;
  sl_isolate *iso = t_new(&o);
  sl_scope s, in;
  sl_local data, fn;
  sl_generation g = 0;
  OK(sl_scope_open(iso, &s));
  OK(sl_scope_open(iso, &in));              /* the filler stays alive: young stays full */
  OK(sl_integer(iso, 77, &data));
  fill_young(iso);
  OK(sl_function_new(iso, count_run, NULL, data, SL_EMPTY_LOCAL, &fn));
  OK(sl_generation_of(iso, fn, &g));
  CHECK(g == SL_OLD);
  OK(sl_generation_of(iso, data, &g));
  CHECK(g == SL_YOUNG);
  VERIFY(iso);                              /* old function -> young data: remembered */
  t_collect(iso, SL_MINOR);
  OK(sl_scope_close(&in));
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

static sl_status fails_silently(sl_isolate *iso, const sl_call_info *ci) {
  (void)iso, (void)ci;
  return SL_EARG;
}

void test_a_callback_failing_without_a_message_is_not_blamed_on_an_old_one(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  sl_local fn, obj, h, res;
  OK(sl_scope_open(iso, &s));
  OK(sl_object_new(iso, 0, &obj));
  FAILS(sl_array_get(iso, obj, 0, &h), SL_EARG);   /* leaves "get: array expected ..." */
  OK(sl_function_new(iso, fails_silently, NULL, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, &fn));
  FAILS(sl_call(iso, fn, SL_EMPTY_LOCAL, 0, NULL, &res), SL_EARG);
  CHECK(strcmp(sl_last_error(iso), "call: the callback failed (bad argument)") == 0);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}

/* Closes the implicit scope, then opens a seal scope and leaves it open. */
static sl_status close_implicit_leave_seal(sl_isolate *iso, const sl_call_info *ci) {
  sl_scope implicit, seal;
  (void)ci;
  OK(sl_scope_at(iso, sl_scope_depth(iso), &implicit));
  OK(sl_scope_close(&implicit));
  OK(sl_seal_scope_open(iso, &seal));
  return SL_OK;
}

void test_a_failed_call_takes_its_result_slot_back_only_from_its_own_scope(void) {
  sl_isolate *iso = t_isolate(0, 0, 0);
  sl_scope s;
  sl_local fn, res, h;
  sl_scope_info in;
  OK(sl_scope_open(iso, &s));
  OK(sl_function_new(iso, close_implicit_leave_seal, NULL, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, &fn));
  FAILS(sl_call(iso, fn, SL_EMPTY_LOCAL, 0, NULL, &res), SL_ESTATE);
  CHECK(strstr(sl_last_error(iso), "closed the HandleScope") != NULL);
  /* the seal the callback left is still open, owning nothing, and still seals */
  OK(sl_scope_info_at(iso, sl_scope_depth(iso), &in));
  CHECK(in.kind == SL_SCOPE_SEAL && in.handles == 0);
  FAILS(sl_integer(iso, 7, &h), SL_ESEALED);
  sl_scope top;
  OK(sl_scope_at(iso, sl_scope_depth(iso), &top));
  OK(sl_scope_close(&top));
  VERIFY(iso);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}
