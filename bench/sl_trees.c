/*
** sl_trees.c: the tree walks binary-trees and GCBench share on the scopelab side.
**
** Building and walking are iterative with an explicit frame stack (no recursion
** over object graphs); each frame owns a handle scope, escapable for building so
** the new node lands in the parent's scope, so the number of live Locals stays
** bounded by twice the depth.
*/
#include "bench.h"

typedef struct sbuild_frame {
  sl_scope sc;
  int depth;
  int n;            /* children built so far */
  sl_local kid[2];
} sbuild_frame;

/* A bottom-up tree of 'depth' whose nodes are arrays of 'slots' (children in
** elements 0 and 1), as a new Local in the current scope. */
void bench_sl_tree(sl_isolate *iso, int depth, size_t slots, sl_local *out) {
  sbuild_frame fr[BENCH_MAX_FRAMES];
  int top = 0;
  if (depth == 0) {
    BENCH_CHECK(iso, sl_array(iso, slots, out));
    return;
  }
  BENCH_CHECK(iso, sl_escapable_scope_open(iso, &fr[0].sc));
  fr[0].depth = depth;
  fr[0].n = 0;
  for (;;) {
    sbuild_frame *f = &fr[top];
    int bad = 0;
    sl_local node, up;
    if (f->n < 2) {
      if (f->depth == 1) {                    /* leaves live in this frame's scope */
        BENCH_CHECK(iso, sl_array(iso, slots, &f->kid[f->n]));
        f->n++;
      } else {
        sbuild_frame *c = &fr[++top];
        BENCH_CHECK(iso, sl_escapable_scope_open(iso, &c->sc));
        c->depth = f->depth - 1;
        c->n = 0;
      }
      continue;
    }
    bad |= sl_array(iso, slots, &node);          /* may move the kids: they are Locals */
    bad |= sl_array_set(iso, node, 0, f->kid[0]);
    bad |= sl_array_set(iso, node, 1, f->kid[1]);
    bad |= sl_scope_escape(&f->sc, node, &up);
    bad |= sl_scope_close(&f->sc);
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
    if (top == 0) {
      *out = up;
      return;
    }
    top--;
    fr[top].kid[fr[top].n++] = up;
  }
}

typedef struct scheck_frame {
  sl_scope sc;
  sl_local node;
  int child;
} scheck_frame;

/* Counts the nodes of the tree at 'root', a scope per level. */
long bench_sl_count(sl_isolate *iso, sl_local root) {
  scheck_frame fr[BENCH_MAX_FRAMES];
  int top = 0;
  long count = 1;
  BENCH_CHECK(iso, sl_scope_open(iso, &fr[0].sc));
  fr[0].node = root;
  fr[0].child = 0;
  while (top >= 0) {
    scheck_frame *f = &fr[top];
    sl_local c;
    if (f->child == 2) {
      BENCH_CHECK(iso, sl_scope_close(&f->sc));
      top--;
      continue;
    }
    BENCH_CHECK(iso, sl_array_get(iso, f->node, (size_t)f->child++, &c));
    if (sl_local_is_empty(c)) continue;
    if (top + 1 >= BENCH_MAX_FRAMES) BENCH_CHECK(iso, SL_EARG);
    f = &fr[++top];
    BENCH_CHECK(iso, sl_scope_open(iso, &f->sc));
    f->node = c;
    f->child = 0;
    count++;
  }
  return count;
}
