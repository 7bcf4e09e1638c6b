/* SPDX-License-Identifier: MIT */
/*
** w_bintrees.c: binary-trees, by the Benchmarks Game rules, through the C API.
**
** The published description: with N the maximum depth (at least min_depth+2,
** min_depth 4), build a "stretch" tree of depth N+1 bottom-up, check it and
** drop it; build a long-lived tree of depth N; then for each depth d from 4 to
** N in steps of 2 build and check 2^(N-d+4) trees of depth d; last, check the
** long-lived tree. A tree node holds only its two children; "check" counts the
** nodes. Every side here must produce the same total, computed in closed form,
** or the run stops.
**
** scopelab nodes are arrays of 2 slots, built and walked by sl_trees.c: the
** main row opens a scope per subtree of 127 nodes (handles stay bounded), the
** "scope per node" row one per node, as a recursive addon function would.
*/
#include <stdlib.h>

#include "bench.h"

#define BT_MIN_DEPTH 4
#define BT_MAX_FRAMES 64

/* Nodes of a depth-d tree: 2^(d+1) - 1. */
static long bt_nodes(int d) { return (2L << d) - 1; }

/* The check the whole benchmark must report. */
static long bt_expected(int n) {
  int max_depth = n < BT_MIN_DEPTH + 2 ? BT_MIN_DEPTH + 2 : n;
  long total = bt_nodes(max_depth + 1) + bt_nodes(max_depth);
  int d;
  for (d = BT_MIN_DEPTH; d <= max_depth; d += 2)
    total += (1L << (max_depth - d + BT_MIN_DEPTH)) * bt_nodes(d);
  return total;
}

/* ------------------------------------------------------------ scopelab */

static long sl_binary_trees(sl_isolate *iso, int n, int scoped) {
  int max_depth = n < BT_MIN_DEPTH + 2 ? BT_MIN_DEPTH + 2 : n;
  long total = 0;
  int d;
  sl_scope outer;
  sl_local long_lived;
  BENCH_CHECK(iso, sl_scope_open(iso, &outer));
  {
    sl_scope s;
    sl_local t;
    BENCH_CHECK(iso, sl_scope_open(iso, &s));
    bench_sl_tree(iso, max_depth + 1, 2, scoped, &t);
    total += bench_sl_count(iso, t, max_depth + 1, scoped);
    BENCH_CHECK(iso, sl_scope_close(&s));
  }
  bench_sl_tree(iso, max_depth, 2, scoped, &long_lived);
  for (d = BT_MIN_DEPTH; d <= max_depth; d += 2) {
    long it, iterations = 1L << (max_depth - d + BT_MIN_DEPTH);
    for (it = 0; it < iterations; it++) {
      sl_scope s;
      sl_local t;
      BENCH_CHECK(iso, sl_scope_open(iso, &s));
      bench_sl_tree(iso, d, 2, scoped, &t);
      total += bench_sl_count(iso, t, d, scoped);
      BENCH_CHECK(iso, sl_scope_close(&s));
    }
  }
  total += bench_sl_count(iso, long_lived, max_depth, scoped);
  BENCH_CHECK(iso, sl_scope_close(&outer));
  return total;
}

/* ------------------------------------------------------------ malloc/free */

typedef struct mnode {
  struct mnode *left, *right;
} mnode;

typedef struct mbuild_frame {
  int depth, n;
  mnode *kid[2];
} mbuild_frame;

static mnode *mnode_new(mnode *l, mnode *r) {
  mnode *t = malloc(sizeof *t);
  if (!t) {
    fprintf(stderr, "bench: malloc failed\n");
    exit(2);
  }
  t->left = l;
  t->right = r;
  return t;
}

static mnode *m_bottom_up(int depth) {
  mbuild_frame fr[BT_MAX_FRAMES];
  int top = 0;
  if (depth == 0) return mnode_new(NULL, NULL);
  fr[0].depth = depth;
  fr[0].n = 0;
  for (;;) {
    mbuild_frame *f = &fr[top];
    mnode *t;
    if (f->n < 2) {
      if (f->depth == 1) {
        f->kid[f->n++] = mnode_new(NULL, NULL);
      } else {
        fr[++top].depth = f->depth - 1;
        fr[top].n = 0;
      }
      continue;
    }
    t = mnode_new(f->kid[0], f->kid[1]);
    if (top == 0) return t;
    top--;
    fr[top].kid[fr[top].n++] = t;
  }
}

/* Counts the nodes, then frees the tree, with an explicit stack. */
static long m_check(mnode *root) {
  mnode *stack[BT_MAX_FRAMES * 2];
  int sp = 0;
  long count = 0;
  stack[sp++] = root;
  while (sp > 0) {
    mnode *t = stack[--sp];
    count++;
    if (t->left) stack[sp++] = t->left;
    if (t->right) stack[sp++] = t->right;
  }
  return count;
}

static void m_free(mnode *root) {
  mnode *stack[BT_MAX_FRAMES * 2];
  int sp = 0;
  stack[sp++] = root;
  while (sp > 0) {
    mnode *t = stack[--sp];
    if (t->left) stack[sp++] = t->left;
    if (t->right) stack[sp++] = t->right;
    free(t);
  }
}

static long m_binary_trees(int n) {
  int max_depth = n < BT_MIN_DEPTH + 2 ? BT_MIN_DEPTH + 2 : n;
  long total = 0;
  int d;
  mnode *t = m_bottom_up(max_depth + 1), *long_lived;
  total += m_check(t);
  m_free(t);
  long_lived = m_bottom_up(max_depth);
  for (d = BT_MIN_DEPTH; d <= max_depth; d += 2) {
    long it, iterations = 1L << (max_depth - d + BT_MIN_DEPTH);
    for (it = 0; it < iterations; it++) {
      t = m_bottom_up(d);
      total += m_check(t);
      m_free(t);
    }
  }
  total += m_check(long_lived);
  m_free(long_lived);
  return total;
}

/* ------------------------------------------------------------ the workload */

static void verify(const char *side, int depth, long got) {
  long want = bt_expected(depth);
  if (got != want) {
    fprintf(stderr, "bench: binary-trees %d on %s checked %ld nodes, expected %ld\n",
            depth, side, got, want);
    exit(2);
  }
}

static void to_ms(bench_summary *s) {
  s->median /= 1e6; s->min /= 1e6; s->max /= 1e6;
}

static void run_depth(bench_ctx *cx, int depth, int with_scoped) {
  bench_series ss = {0}, sp = {0}, sm = {0}, sb = {0};
  bench_summary m, b, s, p;
  char kase[48], note[112];
  int r, have_boehm = boehm_available();
  /* 16 MiB semispaces: depth 18 took 1000 ms with 4 MiB (every tree of depth
  ** 17 and more was copied, promoted and compacted), 720 ms with 16; depth 16
  ** is the same with either (140 ms). One isolate for every repetition, as
  ** Boehm's heap and malloc's arenas live on from one to the next. */
  sl_isolate *iso = bench_isolate(cx, (size_t)16 << 20, (size_t)1 << 30, 0);
  for (r = 0; r < cx->reps; r++) {
    uint64_t t0;
    long got;
    t0 = bench_now_ns();
    got = m_binary_trees(depth);
    bench_add(&sm, (double)(bench_now_ns() - t0));
    verify("malloc", depth, got);
    if (have_boehm) {
      t0 = bench_now_ns();
      boehm_bintrees(depth, &got);
      bench_add(&sb, (double)(bench_now_ns() - t0));
      verify("boehm", depth, got);
    }
    t0 = bench_now_ns();
    got = sl_binary_trees(iso, depth, 0);
    bench_add(&ss, (double)(bench_now_ns() - t0));
    verify("scopelab", depth, got);
    if (with_scoped) {
      t0 = bench_now_ns();
      got = sl_binary_trees(iso, depth, 1);
      bench_add(&sp, (double)(bench_now_ns() - t0));
      verify("scopelab, scope per node", depth, got);
    }
  }
  BENCH_CHECK(iso, sl_isolate_dispose(iso));
  snprintf(kase, sizeof kase, "depth %d", depth);
  m = bench_summarise(&sm); to_ms(&m);
  s = bench_summarise(&ss); to_ms(&s);
  bench_emit(cx, "binary-trees", kase, "malloc", "ms", &m, NULL, NULL);
  if (have_boehm) {
    b = bench_summarise(&sb); to_ms(&b);
    bench_emit(cx, "binary-trees", kase, "boehm", "ms", &b, NULL, NULL);
  } else {
    bench_emit_missing(cx, "binary-trees", kase, "boehm", "not installed");
  }
  snprintf(note, sizeof note, "%ld nodes checked, a scope per 127-node subtree; "
           "target <= 0.5x malloc, <= 0.3x Boehm", bt_expected(depth));
  bench_emit(cx, "binary-trees", kase, "scopelab", "ms", &s, &m, note);
  if (have_boehm)
    printf("  %-16s %-28s scopelab / boehm ratio %.2fx\n", "binary-trees", kase,
           s.median / b.median);
  if (with_scoped) {
    p = bench_summarise(&sp); to_ms(&p);
    snprintf(kase, sizeof kase, "depth %d, scope per node", depth);
    bench_emit(cx, "binary-trees", kase, "malloc", "ms", &m, NULL, NULL);
    bench_emit(cx, "binary-trees", kase, "scopelab", "ms", &p, &m,
               "an (escapable) scope per node, as a recursive addon function opens; report");
  }
}

void bench_bintrees(bench_ctx *cx) {
  printf("binary-trees: C API against malloc/free and Boehm GC\n");
  if (cx->depth > 0) {
    run_depth(cx, cx->depth, 1);
  } else if (cx->smoke) {
    run_depth(cx, 8, 1);
  } else {
    run_depth(cx, 16, 1);
    run_depth(cx, 18, 0);
  }
}
