/* SPDX-License-Identifier: MIT */
/*
** w_gcbench.c: GCBench (Ellis, Kovac, Boehm) through the C API.
**
** From the published description: a node has a left and a right child and two
** integer fields. TreeSize(d) = 2^(d+1) - 1; NumIters(d) = 2 * TreeSize(stretch)
** / TreeSize(d). The program builds and drops a stretch tree (depth 18)
** bottom-up; builds a long-lived tree (depth 16) top-down and a long-lived
** array of 500000 doubles whose first half holds 1/i; then for d = 4, 6, ... 16
** builds NumIters(d) trees of depth d top-down ("Populate": allocate a node, then
** give it two new children and populate those) and as many bottom-up
** ("MakeTree": build the children first, then the node); finally it checks that
** the long-lived tree and array survived (array[1000] == 1/1000).
**
** Top-down construction is the write-barrier test: a parent that has been
** promoted gets young children. scopelab nodes are arrays of 4 slots (left,
** right, and two empty slots standing for the integer fields, so a node has the
** published size); the double array is an array of number objects, scopelab
** having no unboxed double array. Construction and walks are iterative.
*/
#include <stdlib.h>

#include "bench.h"

#define GB_MAX_FRAMES 64

typedef struct gb_params {
  int stretch, long_lived, min_depth, max_depth;
  long array_size;
} gb_params;

static long gb_tree_size(int d) { return (2L << d) - 1; }
static long gb_num_iters(const gb_params *p, int d) {
  return 2 * gb_tree_size(p->stretch) / gb_tree_size(d);
}

/* ------------------------------------------------------------ scopelab */

/* Populate, as published: give a node two new children, then populate the
** left and then the right one. Subtrees of depth <= BENCH_FLAT_DEPTH are done
** in one scope (a Local per node, an explicit stack); above, a scope per level. */
static void flat_populate(sl_isolate *iso, int depth, sl_local root) {
  sl_local node[2 * GB_MAX_FRAMES];
  int left[2 * GB_MAX_FRAMES];
  int sp = 0, bad = 0;
  sl_scope sc;
  BENCH_CHECK(iso, sl_scope_open(iso, &sc));
  node[sp] = root;
  left[sp++] = depth;
  while (sp > 0) {
    sl_local n = node[--sp], l, r;
    int d = left[sp];
    if (d <= 0) continue;
    bad |= sl_array(iso, 4, &l);
    bad |= sl_array(iso, 4, &r);
    bad |= sl_array_set(iso, n, 0, l);   /* the write-barrier test: 'n' may be old */
    bad |= sl_array_set(iso, n, 1, r);
    node[sp] = r;
    left[sp++] = d - 1;
    node[sp] = l;                        /* popped first: the left subtree first */
    left[sp++] = d - 1;
  }
  if (bad) BENCH_CHECK(iso, sl_last_status(iso));
  BENCH_CHECK(iso, sl_scope_close(&sc));
}

typedef struct spop_frame {
  sl_scope sc;
  sl_local kid[2];
  int depth, next;  /* children of depth 'depth' - 1; 'next' to populate */
} spop_frame;

/* Populate: gives 'root' (a Local in an open scope) children down to 'depth'. */
static void sl_populate(sl_isolate *iso, int depth, sl_local root) {
  spop_frame fr[GB_MAX_FRAMES];
  int top = -1;
  sl_local n = root;
  if (depth <= BENCH_FLAT_DEPTH) {
    flat_populate(iso, depth, root);
    return;
  }
  for (;;) {
    if (n.slot != NULL) {                /* enter a node of depth 'depth' */
      spop_frame *f = &fr[++top];
      int bad;
      BENCH_CHECK(iso, sl_scope_open(iso, &f->sc));
      bad = sl_array(iso, 4, &f->kid[0]);
      bad |= sl_array(iso, 4, &f->kid[1]);
      bad |= sl_array_set(iso, n, 0, f->kid[0]);
      bad |= sl_array_set(iso, n, 1, f->kid[1]);
      if (bad) BENCH_CHECK(iso, sl_last_status(iso));
      f->depth = depth;
      f->next = 0;
    }
    spop_frame *f = &fr[top];
    if (f->next == 2) {
      BENCH_CHECK(iso, sl_scope_close(&f->sc));
      if (--top < 0) return;
      n = SL_EMPTY_LOCAL;
      continue;
    }
    n = f->kid[f->next++];
    depth = f->depth - 1;
    if (depth <= BENCH_FLAT_DEPTH) {
      flat_populate(iso, depth, n);
      n = SL_EMPTY_LOCAL;
    }
  }
}

/* Returns the long-lived tree's node count; '*probe' gets array[1000]. */
static long sl_gcbench(sl_isolate *iso, const gb_params *p, double *probe) {
  sl_scope outer;
  sl_local long_lived, array, x;
  long i, count;
  int d;
  BENCH_CHECK(iso, sl_scope_open(iso, &outer));
  {
    sl_scope s;
    sl_local t;
    BENCH_CHECK(iso, sl_scope_open(iso, &s));
    bench_sl_tree(iso, p->stretch, 4, 0, &t);
    BENCH_CHECK(iso, sl_scope_close(&s));
  }
  BENCH_CHECK(iso, sl_array(iso, 4, &long_lived));
  sl_populate(iso, p->long_lived, long_lived);
  BENCH_CHECK(iso, sl_array(iso, (size_t)p->array_size, &array));
  for (i = 0; i < p->array_size / 2; i += 256) {
    sl_scope s;
    long j;
    BENCH_CHECK(iso, sl_scope_open(iso, &s));
    for (j = i; j < i + 256 && j < p->array_size / 2; j++) {
      sl_local v;
      int bad = sl_number(iso, 1.0 / (double)j, &v);
      bad |= sl_array_set(iso, array, (size_t)j, v);
      if (bad) BENCH_CHECK(iso, sl_last_status(iso));
    }
    BENCH_CHECK(iso, sl_scope_close(&s));
  }
  for (d = p->min_depth; d <= p->max_depth; d += 2) {
    long it, iters = gb_num_iters(p, d);
    for (it = 0; it < iters; it++) {           /* top-down */
      sl_scope s;
      sl_local t;
      BENCH_CHECK(iso, sl_scope_open(iso, &s));
      BENCH_CHECK(iso, sl_array(iso, 4, &t));
      sl_populate(iso, d, t);
      BENCH_CHECK(iso, sl_scope_close(&s));
    }
    for (it = 0; it < iters; it++) {           /* bottom-up */
      sl_scope s;
      sl_local t;
      BENCH_CHECK(iso, sl_scope_open(iso, &s));
      bench_sl_tree(iso, d, 4, 0, &t);
      BENCH_CHECK(iso, sl_scope_close(&s));
    }
  }
  count = bench_sl_count(iso, long_lived, p->long_lived, 0);
  BENCH_CHECK(iso, sl_array_get(iso, array, 1000, &x));
  BENCH_CHECK(iso, sl_number_value(iso, x, probe));
  BENCH_CHECK(iso, sl_scope_close(&outer));
  return count;
}

/* ------------------------------------------------------------ malloc/free */

typedef struct gnode {
  struct gnode *left, *right;
  int i, j;
} gnode;

static gnode *gnode_new(gnode *l, gnode *r) {
  gnode *t = malloc(sizeof *t);
  if (!t) {
    fprintf(stderr, "bench: malloc failed\n");
    exit(2);
  }
  t->left = l;
  t->right = r;
  t->i = t->j = 0;
  return t;
}

static void m_populate(int depth, gnode *root) {
  struct { gnode *n; int d; } st[GB_MAX_FRAMES * 2];
  int sp = 0;
  st[sp].n = root; st[sp++].d = depth;
  while (sp > 0) {
    gnode *n = st[--sp].n;
    int d = st[sp].d;
    if (d <= 0) continue;
    n->left = gnode_new(NULL, NULL);
    n->right = gnode_new(NULL, NULL);
    st[sp].n = n->right; st[sp++].d = d - 1;
    st[sp].n = n->left; st[sp++].d = d - 1;
  }
}

static gnode *m_make_tree(int depth) {
  struct { int depth, n; gnode *kid[2]; } fr[GB_MAX_FRAMES];
  int top = 0;
  if (depth <= 0) return gnode_new(NULL, NULL);
  fr[0].depth = depth;
  fr[0].n = 0;
  for (;;) {
    gnode *t;
    if (fr[top].n < 2) {
      if (fr[top].depth == 1) {
        fr[top].kid[fr[top].n++] = gnode_new(NULL, NULL);
      } else {
        fr[top + 1].depth = fr[top].depth - 1;
        fr[++top].n = 0;
      }
      continue;
    }
    t = gnode_new(fr[top].kid[0], fr[top].kid[1]);
    if (top == 0) return t;
    top--;
    fr[top].kid[fr[top].n++] = t;
  }
}

static long m_count_free(gnode *root, int do_free) {
  gnode *st[GB_MAX_FRAMES * 2];
  int sp = 0;
  long count = 0;
  st[sp++] = root;
  while (sp > 0) {
    gnode *t = st[--sp];
    count++;
    if (t->left) st[sp++] = t->left;
    if (t->right) st[sp++] = t->right;
    if (do_free) free(t);
  }
  return count;
}

static long m_gcbench(const gb_params *p, double *probe) {
  gnode *t, *long_lived;
  double *array;
  long i, count;
  int d;
  t = m_make_tree(p->stretch);
  m_count_free(t, 1);
  long_lived = gnode_new(NULL, NULL);
  m_populate(p->long_lived, long_lived);
  array = malloc(sizeof(double) * (size_t)p->array_size);
  if (!array) exit(2);
  for (i = 0; i < p->array_size / 2; i++) array[i] = 1.0 / (double)i;
  for (d = p->min_depth; d <= p->max_depth; d += 2) {
    long it, iters = gb_num_iters(p, d);
    for (it = 0; it < iters; it++) {
      t = gnode_new(NULL, NULL);
      m_populate(d, t);
      m_count_free(t, 1);
    }
    for (it = 0; it < iters; it++) {
      t = m_make_tree(d);
      m_count_free(t, 1);
    }
  }
  count = m_count_free(long_lived, 0);
  *probe = array[1000];
  m_count_free(long_lived, 1);
  free(array);
  return count;
}

/* ------------------------------------------------------------ the workload */

static void verify(const char *side, const gb_params *p, long count, double probe) {
  if (count != gb_tree_size(p->long_lived) || probe != 1.0 / 1000) {
    fprintf(stderr, "bench: GCBench on %s: long-lived tree has %ld nodes (want %ld), "
            "array[1000] = %g (want %g)\n", side, count, gb_tree_size(p->long_lived),
            probe, 1.0 / 1000);
    exit(2);
  }
}

static void to_ms(bench_summary *s) {
  s->median /= 1e6; s->min /= 1e6; s->max /= 1e6;
}

void bench_gcbench(bench_ctx *cx) {
  gb_params full = { 18, 16, 4, 16, 500000 }, smoke = { 10, 8, 4, 8, 4000 };
  const gb_params *p = cx->smoke ? &smoke : &full;
  bench_series ss = {0}, sm = {0}, sb = {0};
  bench_summary s, m, b;
  int r, have_boehm = boehm_available();
  char kase[48];
  /* 16 MiB semispaces, as binary-trees: a depth-16 tree under construction
  ** (6 MiB of 48-byte nodes) dies young instead of being promoted and
  ** compacted. Measured: 190 ms with 4 MiB, 114-143 with 8, 122-146 with 16.
  ** One isolate for every repetition, as Boehm's heap and malloc's arenas
  ** live on from one to the next (a fresh one paid ~20k first-touch faults). */
  sl_isolate *iso = bench_isolate(cx, (size_t)16 << 20, (size_t)1 << 30, 0);
  printf("gcbench: Ellis-Kovac-Boehm GCBench against Boehm GC and malloc/free\n");
  for (r = 0; r < cx->reps; r++) {
    uint64_t t0;
    long count;
    double probe;
    t0 = bench_now_ns();
    count = m_gcbench(p, &probe);
    bench_add(&sm, (double)(bench_now_ns() - t0));
    verify("malloc", p, count, probe);
    if (have_boehm) {
      t0 = bench_now_ns();
      boehm_gcbench(p->stretch, p->long_lived, p->min_depth, p->max_depth,
                    p->array_size, &count, &probe);
      bench_add(&sb, (double)(bench_now_ns() - t0));
      verify("boehm", p, count, probe);
    }
    t0 = bench_now_ns();
    count = sl_gcbench(iso, p, &probe);
    bench_add(&ss, (double)(bench_now_ns() - t0));
    verify("scopelab", p, count, probe);
  }
  BENCH_CHECK(iso, sl_isolate_dispose(iso));
  snprintf(kase, sizeof kase, "stretch %d, long-lived %d", p->stretch, p->long_lived);
  m = bench_summarise(&sm); to_ms(&m);
  s = bench_summarise(&ss); to_ms(&s);
  if (have_boehm) {
    b = bench_summarise(&sb); to_ms(&b);
    bench_emit(cx, "gcbench", kase, "boehm", "ms", &b, NULL, NULL);
  } else {
    bench_emit_missing(cx, "gcbench", kase, "boehm", "not installed");
  }
  bench_emit(cx, "gcbench", kase, "malloc", "ms", &m, NULL, NULL);
  bench_emit(cx, "gcbench", kase, "scopelab", "ms", &s, have_boehm ? &b : &m,
             have_boehm ? "ratio vs Boehm; target <= 0.5x Boehm"
                        : "ratio vs malloc (Boehm not installed)");
}
