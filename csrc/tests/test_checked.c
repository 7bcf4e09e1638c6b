/* SPDX-License-Identifier: MIT */
/*
** test_checked.c: built with SL_CHECKED, so every inline call of scopelab.h
** takes its out-of-line path here; with check_thread even the calls whose
** inline paths no gate diverts (array set, escape) refuse another thread.
*/
#define SL_CHECKED 1
#include <pthread.h>
#include <string.h>

#include "t.h"
#include "tests.h"

typedef struct other {
  sl_isolate *iso;
  sl_local a, v;
  sl_scope esc;
  sl_status set, escape;
} other;

static void *from_another_thread(void *ud) {
  other *o = ud;
  sl_local out;
  o->set = sl_array_set(o->iso, o->a, 0, o->v);
  o->escape = sl_scope_escape(&o->esc, o->v, &out);
  return NULL;
}

void test_sl_checked_sends_every_inline_call_through_the_thread_check(void) {
  sl_options opt = t_options();
  opt.check_thread = 1;
  sl_isolate *iso = t_new(&opt);
  sl_scope s;
  other o;
  pthread_t t;
  memset(&o, 0, sizeof o);
  o.iso = iso;
  OK(sl_scope_open(iso, &s));
  OK(sl_array(iso, 1, &o.a));
  OK(sl_smi(iso, 3, &o.v));
  OK(sl_escapable_scope_open(iso, &o.esc));
  CHECK(pthread_create(&t, NULL, from_another_thread, &o) == 0);
  pthread_join(t, NULL);
  CHECK(o.set == SL_ETHREAD && o.escape == SL_ETHREAD);
  sl_local out, got;
  int32_t v = 0;
  OK(sl_scope_escape(&o.esc, o.v, &out));  /* the owner: fine */
  OK(sl_scope_close(&o.esc));
  OK(sl_array_set(iso, o.a, 0, out));
  OK(sl_array_get(iso, o.a, 0, &got));
  OK(sl_smi_value(iso, got, &v));
  CHECK(v == 3);
  OK(sl_scope_close(&s));
  sl_isolate_dispose(iso);
}
