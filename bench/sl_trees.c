/* SPDX-License-Identifier: MIT */
/*
** sl_trees.c: the tree walks binary-trees and GCBench share on the scopelab side.
**
** Building and walking are iterative with explicit stacks (no recursion over
** object graphs). Two ways to place the handle scopes:
**
** - chunked (the default): a subtree of depth <= BENCH_FLAT_DEPTH is built or
**   walked inside one scope, every node a Local of it (at most 2^(d+1) - 1 of
**   them); the levels above it open a scope each, escapable for building, so
**   live Locals stay bounded by about 2^(BENCH_FLAT_DEPTH+2) plus the depth. This
**   is how an embedder keeps a loop's handles bounded without paying a scope
**   per object.
** - per level ('scoped'): every node gets its own scope, the way a recursive
**   addon function with a HandleScope in its body works.
*/
#include "bench.h"

/* ------------------------------------------------------------ flat subtrees */

/* A bottom-up tree of 'depth' built in the current scope, as a new Local (nodes
** of 'slots' <= 4 elements, the children in the first two). The
** stack holds the finished subtrees; whenever the top two have the same height
** they become the children of a new node, which yields the nodes in post-order. */
static inline __attribute__((always_inline))
void flat_tree_of(sl_isolate *iso, int depth, size_t slots, sl_local *out) {
  sl_local kid[BENCH_MAX_FRAMES + 1];
  int height[BENCH_MAX_FRAMES + 1];
  int sp = 0, bad = 0;
  for (;;) {
    bad |= sl_array(iso, slots, &kid[sp]);
    height[sp++] = 0;
    while (sp >= 2 && height[sp - 1] == height[sp - 2]) {
      sl_local e[4] = { kid[sp - 2], kid[sp - 1], SL_EMPTY_LOCAL, SL_EMPTY_LOCAL };
      sp -= 2;
      bad |= sl_array_from(iso, slots, e, &kid[sp]);
      height[sp] = height[sp + 1] + 1;
      sp++;
    }
    if (bad) BENCH_CHECK(iso, sl_last_status(iso));
    if (height[sp - 1] == depth) {
      *out = kid[sp - 1];
      return;
    }
  }
}

/* The node sizes the benchmarks use get their own copy, as the comparators'
** structs have a constant size: the compiler unrolls sl_array_from for them. */
static void flat_tree2(sl_isolate *iso, int depth, sl_local *out) {
  flat_tree_of(iso, depth, 2, out);
}
static void flat_tree4(sl_isolate *iso, int depth, sl_local *out) {
  flat_tree_of(iso, depth, 4, out);
}
static void flat_tree(sl_isolate *iso, int depth, size_t slots, sl_local *out) {
  if (slots == 2) flat_tree2(iso, depth, out);
  else if (slots == 4) flat_tree4(iso, depth, out);
  else flat_tree_of(iso, depth, slots, out);
}

/* Counts the nodes under 'root' in one scope: a Local per node reached. */
static long flat_count(sl_isolate *iso, sl_local root) {
  sl_local stack[2 * BENCH_MAX_FRAMES + 2];
  sl_scope sc;
  int sp = 0, bad = 0;
  long count = 0;
  BENCH_CHECK(iso, sl_scope_open(iso, &sc));
  stack[sp++] = root;
  while (sp > 0) {
    sl_local t = stack[--sp], c[2];
    count++;
    bad |= sl_array_unpack(iso, t, 0, 2, c);   /* both children, one check of t */
    if (!sl_local_is_empty(c[0])) stack[sp++] = c[0];
    if (!sl_local_is_empty(c[1])) stack[sp++] = c[1];
  }
  if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  BENCH_CHECK(iso, sl_scope_close(&sc));
  return count;
}

/* ------------------------------------------------------------ scoped levels */

typedef struct sbuild_frame {
  sl_scope sc;
  int depth;
  int n;            /* children built so far */
  sl_local kid[2];
} sbuild_frame;

/* Builds with an escapable scope per level down to 'flat' (subtrees of depth
** 'flat' are built flat in their parent's scope). */
static void scoped_tree(sl_isolate *iso, int depth, size_t slots, int flat, sl_local *out) {
  sbuild_frame fr[BENCH_MAX_FRAMES];
  int top = 0;
  if (depth <= flat) {
    flat_tree(iso, depth, slots, out);
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
      if (f->depth - 1 <= flat) {             /* the children live in this frame's scope */
        flat_tree(iso, f->depth - 1, slots, &f->kid[f->n]);
        f->n++;
      } else {
        sbuild_frame *c = &fr[++top];
        BENCH_CHECK(iso, sl_escapable_scope_open(iso, &c->sc));
        c->depth = f->depth - 1;
        c->n = 0;
      }
      continue;
    }
    {
      sl_local e[4] = { f->kid[0], f->kid[1], SL_EMPTY_LOCAL, SL_EMPTY_LOCAL };
      bad |= sl_array_from(iso, slots, e, &node);
    }
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
  int child, depth;
} scheck_frame;

/* Counts with a scope per level; subtrees of depth <= 'flat' are counted flat. */
static long scoped_count(sl_isolate *iso, sl_local root, int depth, int flat) {
  scheck_frame fr[BENCH_MAX_FRAMES];
  int top = 0;
  long count = 1;
  if (depth <= flat) return flat_count(iso, root);
  BENCH_CHECK(iso, sl_scope_open(iso, &fr[0].sc));
  fr[0].node = root;
  fr[0].child = 0;
  fr[0].depth = depth;
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
    if (f->depth - 1 <= flat) {
      count += flat_count(iso, c);
      continue;
    }
    if (top + 1 >= BENCH_MAX_FRAMES) BENCH_CHECK(iso, SL_EARG);
    f = &fr[++top];
    BENCH_CHECK(iso, sl_scope_open(iso, &f->sc));
    f->node = c;
    f->child = 0;
    f->depth = fr[top - 1].depth - 1;
    count++;
  }
  return count;
}

/* ------------------------------------------------------------ the entry points */

void bench_sl_tree(sl_isolate *iso, int depth, size_t slots, int scoped, sl_local *out) {
  if (depth > BENCH_MAX_FRAMES - 1) BENCH_CHECK(iso, SL_EARG);
  scoped_tree(iso, depth, slots, scoped ? 0 : BENCH_FLAT_DEPTH, out);
}

long bench_sl_count(sl_isolate *iso, sl_local root, int depth, int scoped) {
  if (depth > BENCH_MAX_FRAMES - 1) BENCH_CHECK(iso, SL_EARG);
  return scoped_count(iso, root, depth, scoped ? -1 : BENCH_FLAT_DEPTH);
}
