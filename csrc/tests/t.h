/* SPDX-License-Identifier: MIT */
/*
** t.h: a minimal unit-test harness for the core. Each test is a function; a
** failed CHECK reports file:line and the expression and fails the test, which
** keeps running so one run shows every broken check.
*/
#ifndef T_H
#define T_H

#include <stdio.h>
#include "scopelab.h"

extern int t_failed;
extern sl_isolate *t_iso;   /* the isolate a failed OK() asks for its message */

#define CHECK(c) do { if (!(c)) { t_failed = 1; \
  fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); } } while (0)
#define OK(e) do { sl_status st_ = (e); if (st_ != SL_OK) { t_failed = 1; \
  fprintf(stderr, "  %s:%d: %s gave %s: %s\n", __FILE__, __LINE__, #e, \
          sl_status_name(st_), t_iso ? sl_last_error(t_iso) : ""); } } while (0)
#define FAILS(e, code) do { sl_status st_ = (e); if (st_ != (code)) { t_failed = 1; \
  fprintf(stderr, "  %s:%d: %s gave %s, expected %s\n", __FILE__, __LINE__, #e, \
          sl_status_name(st_), sl_status_name(code)); } } while (0)
/* Verify the heap; every test calls it after each collection. */
#define VERIFY(iso) OK(sl_verify_heap(iso))

/* The default options with the heap verifier on after every collection. */
sl_options t_options(void);
/* A new isolate with options 'o' (it becomes t_iso); exits if none can be made. */
sl_isolate *t_new(const sl_options *o);
/* A new isolate with the given young/old sizes and block size (0: default). */
sl_isolate *t_isolate(size_t young, size_t old, size_t block);
/* Collect and verify. */
void t_collect(sl_isolate *iso, int kind);
/* alive/moves/address of a probe */
int t_alive(sl_isolate *iso, sl_probe p);
uintptr_t t_addr(sl_isolate *iso, sl_probe p);
uint64_t t_moves(sl_isolate *iso, sl_probe p);

#endif
