/* SPDX-License-Identifier: MIT */
/*
** cmp_boehm.c: the Boehm GC comparators for binary-trees and GCBench.
**
** Built with -DBENCH_HAVE_BOEHM and -lgc when mk/bench.mk finds libgc-dev;
** otherwise boehm_available() says 0 and the tables print "not installed".
** The algorithms are the same iterative ones as the malloc sides in
** w_bintrees.c and w_gcbench.c, with GC_MALLOC and no frees: the collector
** finds the garbage, which is what these benchmarks measure.
*/
#include <stdlib.h>

#include "bench.h"

#if defined(BENCH_HAVE_BOEHM)

#include <gc.h>

#define BO_MAX_FRAMES 64

int boehm_available(void) { return 1; }

void boehm_init(void) { GC_INIT(); }

typedef struct bnode {
  struct bnode *left, *right;
  /* GCBench's two integer fields, never read: they give the node its published
  ** size. binary-trees leaves them 0. */
  int i, j;           // cppcheck-suppress unusedStructMember
} bnode;

static bnode *bnode_new(bnode *l, bnode *r) {
  bnode *t = GC_MALLOC(sizeof *t);
  if (!t) {
    fprintf(stderr, "bench: GC_MALLOC failed\n");
    exit(2);
  }
  t->left = l;        /* GC_MALLOC clears the node; i and j stay 0 */
  t->right = r;
  return t;
}

static bnode *b_bottom_up(int depth) {
  struct { int depth, n; bnode *kid[2]; } fr[BO_MAX_FRAMES];
  int top = 0;
  if (depth <= 0) return bnode_new(NULL, NULL);
  fr[0].depth = depth;
  fr[0].n = 0;
  for (;;) {
    bnode *t;
    if (fr[top].n < 2) {
      if (fr[top].depth == 1) {
        fr[top].kid[fr[top].n++] = bnode_new(NULL, NULL);
      } else {
        fr[top + 1].depth = fr[top].depth - 1;
        fr[++top].n = 0;
      }
      continue;
    }
    t = bnode_new(fr[top].kid[0], fr[top].kid[1]);
    if (top == 0) return t;
    top--;
    fr[top].kid[fr[top].n++] = t;
  }
}

static long b_count(bnode *root) {
  bnode *st[BO_MAX_FRAMES * 2];
  int sp = 0;
  long count = 0;
  st[sp++] = root;
  while (sp > 0) {
    bnode *t = st[--sp];
    count++;
    if (t->left) st[sp++] = t->left;
    if (t->right) st[sp++] = t->right;
  }
  return count;
}

static void b_populate(int depth, bnode *root) {
  struct { bnode *n; int d; } st[BO_MAX_FRAMES * 2];
  int sp = 0;
  st[sp].n = root; st[sp++].d = depth;
  while (sp > 0) {
    bnode *n = st[--sp].n;
    int d = st[sp].d;
    if (d <= 0) continue;
    n->left = bnode_new(NULL, NULL);
    n->right = bnode_new(NULL, NULL);
    st[sp].n = n->right; st[sp++].d = d - 1;
    st[sp].n = n->left; st[sp++].d = d - 1;
  }
}

int boehm_bintrees(int n, long *check) {
  int min_depth = 4, max_depth = n < min_depth + 2 ? min_depth + 2 : n, d;
  long total = 0;
  bnode *long_lived;
  total += b_count(b_bottom_up(max_depth + 1));
  long_lived = b_bottom_up(max_depth);
  for (d = min_depth; d <= max_depth; d += 2) {
    long it, iterations = 1L << (max_depth - d + min_depth);
    for (it = 0; it < iterations; it++) total += b_count(b_bottom_up(d));
  }
  total += b_count(long_lived);
  *check = total;
  return 1;
}

int boehm_gcbench(int stretch, int long_lived_depth, int min_depth, int max_depth,
                  long array_size, long *check, double *probe) {
  long i, stretch_size = (2L << stretch) - 1;
  bnode *long_lived;
  double *array;
  int d;
  b_bottom_up(stretch);
  long_lived = bnode_new(NULL, NULL);
  b_populate(long_lived_depth, long_lived);
  array = GC_MALLOC_ATOMIC(sizeof(double) * (size_t)array_size);
  if (!array) exit(2);
  for (i = 0; i < array_size / 2; i++) array[i] = 1.0 / (double)i;
  for (d = min_depth; d <= max_depth; d += 2) {
    long it, iters = 2 * stretch_size / ((2L << d) - 1);
    for (it = 0; it < iters; it++) b_populate(d, bnode_new(NULL, NULL));
    for (it = 0; it < iters; it++) b_bottom_up(d);
  }
  *check = b_count(long_lived);
  *probe = array[1000];
  return 1;
}

#else

int boehm_available(void) { return 0; }
void boehm_init(void) {}
int boehm_bintrees(int n, long *check) {
  (void)n;
  *check = 0;
  return 0;
}
int boehm_gcbench(int stretch, int long_lived_depth, int min_depth, int max_depth,
                  long array_size, long *check, double *probe) {
  (void)stretch; (void)long_lived_depth; (void)min_depth; (void)max_depth;
  (void)array_size;
  *check = 0;
  *probe = 0;
  return 0;
}

#endif
