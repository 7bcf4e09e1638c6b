/* SPDX-License-Identifier: MIT */
/*
** diag.c: diagnostics over the heap and the roots.
**
** "Why is this alive?": sl_retaining_path runs one breadth-first search from
** every root at once (in roots.c's order: Locals from the outermost scope in,
** then persistent nodes, then eternals), so the path it finds is a shortest one and, among
** equals, starts at the outermost root. If no root reaches the object, the
** remembered set is tried next: such an object survives minor collections
** only because an unreachable old array still refers to it.
**
** Objects are numbered by their position in a heap walk (old space, then
** young space, each in address order), so "object -> number" is a binary
** search and the search needs no hash table.
*/
#include <stdlib.h>

#include "slcore.h"

typedef struct root_walk {
  sl_root_visitor cb;
  void *ud;
} root_walk;

static int visit_root(sl_isolate *iso, sl_object **slot, const sl_root_info *r, void *ud) {
  root_walk *w = ud;
  sl_object_info info;
  slO_info(iso, *slot, &info);
  return w->cb(r, &info, w->ud);
}

void sl_roots_foreach(sl_isolate *iso, sl_root_visitor cb, void *ud) {
  root_walk w = { cb, ud };
  slR_each(iso, SLR_INFO, visit_root, &w);
}

static int walk_space(sl_isolate *iso, const slM_space *sp, sl_object_visitor cb, void *ud) {
  for (char *p = sp->start; p < sp->top; p += slO_size((sl_object *)p)) {
    sl_object_info info;
    slO_info(iso, (sl_object *)p, &info);
    if (cb(&info, ud)) return 1;
  }
  return 0;
}

void sl_heap_foreach(sl_isolate *iso, sl_object_visitor cb, void *ud) {
  if (!walk_space(iso, &iso->old, cb, ud)) walk_space(iso, &iso->young, cb, ud);
}

/* ------------------------------------------------------------------ path */

#define UNSEEN (-1)

typedef struct search {
  sl_object **objs;     /* every object, old then young, in address order */
  size_t n, nold;
  int64_t *parent;      /* object number, or -2 - k for root k, or UNSEEN */
  size_t *elem;         /* element of the parent that refers to it */
  size_t *queue, qhead, qtail;
  sl_root_info *roots;
  size_t nroots, cap_roots;
  uint64_t target;
  int64_t found;
  int nomem;
} search;

static int64_t number_of(const search *s, const sl_isolate *iso, sl_object *o) {
  size_t lo = slM_is_old(iso, o) ? 0 : s->nold, hi = slM_is_old(iso, o) ? s->nold : s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->objs[mid] < o) lo = mid + 1;
    else hi = mid;
  }
  return (lo < s->n && s->objs[lo] == o) ? (int64_t)lo : UNSEEN;
}

static int add_root(search *s, const sl_root_info *r) {
  if (s->nroots == s->cap_roots) {
    sl_root_info *nr = slI_grow(s->roots, &s->cap_roots, s->nroots + 1, sizeof *nr, 64);
    if (nr == NULL) return 0;
    s->roots = nr;
  }
  s->roots[s->nroots++] = *r;
  return 1;
}

static int seed_object(sl_isolate *iso, const sl_root_info *r, sl_object *o, search *s) {
  int64_t k = number_of(s, iso, o);
  if (k == UNSEEN || s->parent[k] != UNSEEN) return 0;
  if (!add_root(s, r)) return s->nomem = 1;
  s->parent[k] = -2 - (int64_t)(s->nroots - 1);
  s->queue[s->qtail++] = (size_t)k;
  return 0;
}

static int seed(sl_isolate *iso, sl_object **slot, const sl_root_info *r, void *ud) {
  return seed_object(iso, r, *slot, ud);
}

static void breadth_first(sl_isolate *iso, search *s) {
  while (s->qhead < s->qtail && s->found == UNSEEN) {
    size_t k = s->queue[s->qhead++];
    sl_object *o = s->objs[k];
    if (o->id == s->target) {
      s->found = (int64_t)k;
      return;
    }
    size_t n;
    sl_object **f = slO_refs(o, &n);
    for (size_t i = 0; i < n; i++) {
      if (!slO_is_ref(f[i])) continue;
      int64_t c = number_of(s, iso, f[i]);
      if (c == UNSEEN || s->parent[c] != UNSEEN) continue;
      s->parent[c] = (int64_t)k;
      s->elem[c] = i;
      s->queue[s->qtail++] = (size_t)c;
    }
  }
}

static int collect_object(const sl_object_info *o, void *ud) {
  search *s = ud;
  s->objs[s->n++] = (sl_object *)o->address;
  return 0;
}

static size_t count_objects(const slM_space *sp) {
  size_t n = 0;
  for (char *p = sp->start; p < sp->top; p += slO_size((sl_object *)p)) n++;
  return n;
}

/* How object P refers to its child through ref slot e: the edge of a path.
** For a property store, P is the store and the name is its key. */
static void name_edge(sl_object *p, size_t e, sl_path *path, size_t i) {
  path->edge[i] = SL_EDGE_ELEMENT;
  path->index[i] = e;
  switch (SLO_KIND(p)) {
    case SL_OBJECT:
      path->edge[i] = SL_EDGE_INTERNAL_FIELD;  /* slot 0, the store, is never a step */
      path->index[i] = e - 1;
      break;
    case SL_FUNCTION:
      path->edge[i] = e == SLO_FN_DATA ? SL_EDGE_DATA : SL_EDGE_NAME;
      break;
    case SL_PROPERTIES: {
      sl_object *key = slO_prop_pairs(p)[2 * ((e - 1) / 2)];
      path->edge[i] = SL_EDGE_PROPERTY;
      path->index[i] = (e - 1) % 2 == 0;  /* 1: the path goes through the key itself */
      path->name[i] = malloc((size_t)key->length + 1);
      if (path->name[i] != NULL) memcpy(path->name[i], slO_bytes(key), (size_t)key->length + 1);
      break;
    }
    default:
      break;
  }
}

/* Whether object number j is a step of the path: property stores are not
** (the edge through one names the property instead). */
static int is_step(const search *s, int64_t j) {
  return SLO_KIND(s->objs[j]) != SL_PROPERTIES;
}

/* Writes the path ending at object number 'k' into 'path'. */
static sl_status build_path(sl_isolate *iso, search *s, int64_t k, sl_path *path) {
  size_t len = 0;
  int64_t j;
  for (j = k;; j = s->parent[j]) {
    len += is_step(s, j);
    if (s->parent[j] < 0) break;
  }
  path->steps = malloc(len * sizeof *path->steps);
  path->index = calloc(len, sizeof *path->index);
  path->edge = calloc(len, sizeof *path->edge);
  path->name = calloc(len, sizeof *path->name);
  path->n = len;
  if (!path->steps || !path->index || !path->edge || !path->name) {
    sl_path_free(path);
    return slI_error(iso, SL_ENOMEM, "retainers: out of memory for the path");
  }
  size_t i = len;
  for (j = k;; j = s->parent[j]) {
    if (is_step(s, j)) slO_info(iso, s->objs[j], &path->steps[--i]);
    if (s->parent[j] < 0) break;
    if (is_step(s, j)) name_edge(s->objs[s->parent[j]], s->elem[j], path, i);
  }
  path->root = s->roots[-2 - s->parent[j]];
  return SL_OK;
}

sl_status sl_retaining_path(sl_isolate *iso, uint64_t id, sl_path *path) {
  memset(path, 0, sizeof *path);
  if (iso->in_gc) return slI_error(iso, SL_ESTATE, "retainers: inside a collection");
  search s = { 0 };
  s.nold = count_objects(&iso->old);
  size_t total = s.nold + count_objects(&iso->young) + 1;
  s.objs = malloc(total * sizeof *s.objs);
  s.parent = malloc(total * sizeof *s.parent);
  s.elem = malloc(total * sizeof *s.elem);
  s.queue = malloc(total * sizeof *s.queue);
  sl_status st = SL_OK;
  if (!s.objs || !s.parent || !s.elem || !s.queue) {
    st = slI_error(iso, SL_ENOMEM, "retainers: out of memory for the search");
    goto done;
  }
  sl_heap_foreach(iso, collect_object, &s);
  for (size_t i = 0; i < s.n; i++) s.parent[i] = UNSEEN;
  s.target = id;
  s.found = UNSEEN;
  slR_each(iso, SLR_INFO, seed, &s);
  breadth_first(iso, &s);
  for (size_t i = 0; i < iso->nremembered && s.found == UNSEEN && !s.nomem; i++) {
    sl_root_info r = { 0 };
    r.kind = SL_ROOT_REMEMBERED;
    r.index = i;
    seed_object(iso, &r, iso->remembered[i], &s);
    breadth_first(iso, &s);
  }
  if (s.nomem) st = slI_error(iso, SL_ENOMEM, "retainers: out of memory for the roots");
  else if (s.found == UNSEEN)
    st = slI_error(iso, SL_EARG, "retainers: no root reaches an object with id %llu",
                   (unsigned long long)id);
  else st = build_path(iso, &s, s.found, path);
done:
  free(s.objs);
  free(s.parent);
  free(s.elem);
  free(s.queue);
  free(s.roots);
  return st;
}

void sl_path_free(sl_path *path) {
  for (size_t i = 0; path->name != NULL && i < path->n; i++) free(path->name[i]);
  free(path->name);
  free(path->edge);
  path->name = NULL;
  path->edge = NULL;
  free(path->steps);
  free(path->index);
  path->steps = NULL;
  path->index = NULL;
  path->n = 0;
}
