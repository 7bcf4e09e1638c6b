/*
** globals.c: persistent (global) handles, weak handles, probes, eternals.
**
** Persistent handles and probes are nodes from one pool: blocks of
** SLC_NODE_BLOCK nodes with a free list (V8's NodeSpace). A node is
**   FREE    on the free list ('serial' 0);
**   STRONG  a root (possibly empty);
**   WEAK    not a root: after marking/copying, a dead object empties the node
**           and queues its callback (V8's phantom handles: no callback can see
**           or resurrect the object); a live one is moved to the new address;
**   PROBE   like WEAK but never with a callback; it keeps the identity and kind
**           after death and counts the object's moves.
** Handles carry the node's serial, so a copy of a deleted node is refused
** instead of silently naming whatever node reuses the memory.
**
** A scavenge visits only the nodes on the young list (V8's young_nodes): a node
** joins it when it is given a young object, and leaves it when a scavenge finds
** its object promoted, dead or gone. A program holding many persistent handles
** to old objects pays nothing for them in minor collections.
**
** Eternal handles are a growable array of root slots, never freed.
*/
#include <stdlib.h>

#include "slcore.h"

/* Node serials start at 'base', like scope serials at a per-isolate offset: a
** handle whose serial is outside this isolate's range is refused before its
** node pointer is followed (the node may be another, even a disposed,
** isolate's). */
void slG_init(sl_isolate *iso, uint64_t base) {
  memset(&iso->gh, 0, sizeof iso->gh);
  iso->gh.serial = iso->gh.serial_base = base;
}

void slG_free(sl_isolate *iso) {
  slG_data *g = &iso->gh;
  while (g->blocks != NULL) {
    slG_block *b = g->blocks;
    g->blocks = b->next;
    free(b);
  }
  free(g->eternals);
  free(g->pending);
  free(g->young);
  memset(g, 0, sizeof *g);
}

/* ------------------------------------------------------------------ nodes */

/* Puts a node that now holds a young object on the young list. */
static void note_young(sl_isolate *iso, slG_node *n) {
  slG_data *g = &iso->gh;
  if (n->obj == NULL || n->in_young || !slM_is_young(iso, n->obj)) return;
  if (g->nyoung == g->cap_young) {
    slG_node **y = slI_grow(g->young, &g->cap_young, g->nyoung + 1, sizeof *y, 64);
    if (y == NULL) {          /* correct, only slower: scavenges walk every node */
      g->young_all = 1;
      return;
    }
    g->young = y;
  }
  g->young[g->nyoung++] = n;
  n->in_young = 1;
}

/* Clears a node, keeping whether it is on the young list (the list still
** points to it; the next scavenge drops it). */
static void node_clear(slG_node *n) {
  uint8_t in_young = n->in_young;
  memset(n, 0, sizeof *n);
  n->in_young = in_young;
}

static slG_node *node_alloc(sl_isolate *iso, uint8_t state, sl_object *o) {
  slG_data *g = &iso->gh;
  if (g->free == NULL) {
    slG_block *b = calloc(1, sizeof *b);
    if (b == NULL) return slI_error(iso, SL_ENOMEM, "out of memory for a node block"), NULL;
    b->next = g->blocks;
    g->blocks = b;
    for (size_t i = SLC_NODE_BLOCK; i-- > 0;) {  /* hand out index 0 first */
      b->nodes[i].next_free = g->free;
      g->free = &b->nodes[i];
    }
  }
  slG_node *n = g->free;
  g->free = n->next_free;
  node_clear(n);
  n->obj = o;
  n->state = state;
  n->serial = ++g->serial;
  g->used++;
  note_young(iso, n);
  return n;
}

static void node_release(sl_isolate *iso, slG_node *n) {
  slG_data *g = &iso->gh;
  if (n->state == SLG_WEAK) g->weak--;
  if (n->state == SLG_PROBE) g->probes--;
  node_clear(n);
  n->next_free = g->free;
  g->free = n;
  g->used--;
}

/* The node of a handle copy, or NULL (error set) if it was deleted or belongs
** to another isolate. Nothing is read through 'n' before both are ruled out. */
static slG_node *node_of(sl_isolate *iso, const sl_isolate *owner, slG_node *n,
                         uint64_t serial, int want_probe, const char *op) {
  const slG_data *g = &iso->gh;
  if (owner != iso || (n != NULL && (serial <= g->serial_base || serial > g->serial)))
    return slI_error(iso, SL_EISOLATE, "%s: %s of another isolate", op,
                     want_probe ? "probe" : "persistent handle"), NULL;
  if (n == NULL || serial == 0 || n->serial != serial || n->state == SLG_FREE)
    return slI_error(iso, SL_EARG, "%s: %s was deleted", op,
                     want_probe ? "probe" : "persistent handle"), NULL;
  if ((n->state == SLG_PROBE) != want_probe)
    return slI_error(iso, SL_EARG, "%s: not a %s", op,
                     want_probe ? "probe" : "persistent handle"), NULL;
  return n;
}

#define PNODE(iso, p, op) node_of((iso), (p).iso, (p).node, (p).serial, 0, (op))
#define PROBE_NODE(iso, p, op) node_of((iso), (p).iso, (p).node, (p).serial, 1, (op))

/* ------------------------------------------------------------------ persistent */

sl_status sl_persistent_new(sl_isolate *iso, sl_local h, sl_persistent *out) {
  sl_object *o = NULL;
  if (h.slot != NULL) {
    sl_status st = slH_check(iso, h, "persistent");
    if (st != SL_OK) return st;
    o = *h.slot;
  }
  slG_node *n = node_alloc(iso, SLG_STRONG, o);
  if (n == NULL) return iso->status;
  *out = (sl_persistent){ iso, n, n->serial };
  return SL_OK;
}

sl_status sl_persistent_reset(sl_isolate *iso, sl_persistent p, sl_local h) {
  slG_node *n = PNODE(iso, p, "reset");
  if (n == NULL) return iso->status;
  sl_object *o = NULL;
  if (h.slot != NULL) {
    sl_status st = slH_check(iso, h, "reset");
    if (st != SL_OK) return st;
    o = *h.slot;
  }
  if (n->state == SLG_WEAK) iso->gh.weak--;
  n->epoch++;             /* a callback still queued for the old object is stale */
  n->state = SLG_STRONG;  /* V8's Reset makes a new, strong node */
  n->cb = NULL;
  n->param = NULL;
  n->obj = o;
  note_young(iso, n);
  return SL_OK;
}

sl_status sl_persistent_delete(sl_isolate *iso, sl_persistent p) {
  slG_node *n = PNODE(iso, p, "delete");
  if (n == NULL) return iso->status;
  node_release(iso, n);
  return SL_OK;
}

sl_status sl_persistent_get(sl_isolate *iso, sl_persistent p, sl_local *out) {
  slG_node *n = PNODE(iso, p, "get");
  if (n == NULL) return iso->status;
  if (n->obj == NULL) {
    *out = SL_EMPTY_LOCAL;
    return SL_OK;
  }
  return slH_push(iso, n->obj, out);
}

sl_status sl_persistent_is_empty(sl_isolate *iso, sl_persistent p, int *out) {
  slG_node *n = PNODE(iso, p, "is_empty");
  if (n == NULL) return iso->status;
  *out = n->obj == NULL;
  return SL_OK;
}

sl_status sl_persistent_set_weak(sl_isolate *iso, sl_persistent p,
                                 sl_weak_callback cb, void *param) {
  slG_node *n = PNODE(iso, p, "set_weak");
  if (n == NULL) return iso->status;
  if (n->obj == NULL) return slI_error(iso, SL_EARG, "set_weak: persistent handle is empty");
  if (n->state != SLG_WEAK) iso->gh.weak++;
  n->epoch++;
  n->state = SLG_WEAK;
  n->cb = cb;
  n->param = param;
  n->weak_order = ++iso->gh.weak_order;
  return SL_OK;
}

sl_status sl_persistent_clear_weak(sl_isolate *iso, sl_persistent p, void **param) {
  slG_node *n = PNODE(iso, p, "clear_weak");
  if (n == NULL) return iso->status;
  if (param != NULL) *param = n->param;
  if (n->state == SLG_WEAK) iso->gh.weak--;
  n->epoch++;
  n->state = SLG_STRONG;
  n->cb = NULL;
  n->param = NULL;
  return SL_OK;
}

sl_status sl_persistent_is_weak(sl_isolate *iso, sl_persistent p, int *out) {
  slG_node *n = PNODE(iso, p, "is_weak");
  if (n == NULL) return iso->status;
  *out = n->state == SLG_WEAK;
  return SL_OK;
}

sl_status sl_persistent_set_site(sl_isolate *iso, sl_persistent p, uint32_t site) {
  slG_node *n = PNODE(iso, p, "set_site");
  if (n == NULL) return iso->status;
  n->site = site;
  return SL_OK;
}

sl_status sl_persistent_site(sl_isolate *iso, sl_persistent p, uint32_t *site) {
  slG_node *n = PNODE(iso, p, "site");
  if (n == NULL) return iso->status;
  *site = n->site;
  return SL_OK;
}

void sl_persistent_foreach(sl_isolate *iso, sl_persistent_visitor cb, void *ud) {
  SLG_FOREACH_NODE(&iso->gh, n, {
    if (n->state != SLG_STRONG && n->state != SLG_WEAK) continue;
    sl_persistent p = { iso, n, n->serial };
    if (cb(p, n->site, n->state == SLG_WEAK, n->obj ? n->obj->id : 0, ud)) return;
  })
}

size_t slG_count_persistent(const sl_isolate *iso) {
  size_t count = 0;
  SLG_FOREACH_NODE(&iso->gh, n, {
    count += (n->state == SLG_STRONG || n->state == SLG_WEAK) && n->obj != NULL;
  })
  return count;
}

/* ------------------------------------------------------------------ probes */

sl_status sl_probe_new(sl_isolate *iso, sl_local h, sl_probe *out) {
  sl_status st = slH_check(iso, h, "probe");
  if (st != SL_OK) return st;
  sl_object *o = *h.slot;
  slG_node *n = node_alloc(iso, SLG_PROBE, o);
  if (n == NULL) return iso->status;
  n->id = o->id;
  n->kind = (uint8_t)SLO_KIND(o);
  iso->gh.probes++;
  *out = (sl_probe){ iso, n, n->serial };
  return SL_OK;
}

sl_status sl_probe_info_of(sl_isolate *iso, sl_probe p, sl_probe_info *out) {
  slG_node *n = PROBE_NODE(iso, p, "probe");
  if (n == NULL) return iso->status;
  out->alive = n->obj != NULL;
  out->address = (uintptr_t)n->obj;
  out->moves = n->moves;
  out->id = n->id;
  out->kind = (sl_kind)n->kind;
  out->generation = n->obj && slM_is_old(iso, n->obj) ? SL_OLD : SL_YOUNG;
  return SL_OK;
}

sl_status sl_probe_get(sl_isolate *iso, sl_probe p, sl_local *out) {
  slG_node *n = PROBE_NODE(iso, p, "probe");
  if (n == NULL) return iso->status;
  if (n->obj == NULL) {
    *out = SL_EMPTY_LOCAL;
    return SL_OK;
  }
  return slH_push(iso, n->obj, out);
}

sl_status sl_probe_delete(sl_isolate *iso, sl_probe p) {
  slG_node *n = PROBE_NODE(iso, p, "probe");
  if (n == NULL) return iso->status;
  node_release(iso, n);
  return SL_OK;
}

/* ------------------------------------------------------------------ eternal */

sl_status sl_eternal_new(sl_isolate *iso, sl_local h, size_t *index) {
  sl_status st = slH_check(iso, h, "eternal");
  if (st != SL_OK) return st;
  slG_data *g = &iso->gh;
  if (g->neternals == g->cap_eternals) {
    sl_object **e = slI_grow(g->eternals, &g->cap_eternals, g->neternals + 1, sizeof *e, 16);
    if (e == NULL) return slI_error(iso, SL_ENOMEM, "out of memory for eternal handles");
    g->eternals = e;
  }
  *index = g->neternals;
  g->eternals[g->neternals++] = *h.slot;
  return SL_OK;
}

sl_status sl_eternal_get(sl_isolate *iso, size_t index, sl_local *out) {
  if (index >= iso->gh.neternals)
    return slI_error(iso, SL_EARG, "eternal_get: no eternal handle %zu (%zu exist)",
                     index, iso->gh.neternals);
  return slH_push(iso, iso->gh.eternals[index], out);
}

size_t sl_eternal_count(const sl_isolate *iso) { return iso->gh.neternals; }

/* ------------------------------------------------------------------ collector */

size_t slG_scanned(const sl_isolate *iso, int young_only) {
  return slG_use_young_list(iso, young_only) ? iso->gh.nyoung : iso->gh.used;
}

void slG_prune_young(sl_isolate *iso) {
  slG_data *g = &iso->gh;
  if (g->young_all) {
    slG_rebuild_young(iso);
    return;
  }
  size_t keep = 0;
  for (size_t i = 0; i < g->nyoung; i++) {
    slG_node *n = g->young[i];
    if (n->state != SLG_FREE && n->obj != NULL && slM_is_young(iso, n->obj))
      g->young[keep++] = n;
    else
      n->in_young = 0;
  }
  g->nyoung = keep;
}

void slG_rebuild_young(sl_isolate *iso) {
  slG_data *g = &iso->gh;
  g->nyoung = 0;
  g->young_all = 0;
  SLG_FOREACH_NODE(g, n, {
    n->in_young = 0;
    if (n->state != SLG_FREE) note_young(iso, n);
  })
}

/* Whether the verifier's invariant holds for 'n': a node holding a young
** object is on the young list (or the list has given up). */
int slG_young_listed(const sl_isolate *iso, const slG_node *n) {
  return iso->gh.young_all || n->state == SLG_FREE || n->obj == NULL ||
         !slM_is_young(iso, n->obj) || n->in_young;
}

/* Room in the callback queue for every weak node, before a collection starts:
** once objects have died there is no way back, so the queue must not fail then. */
int slG_reserve_pending(sl_isolate *iso) {
  slG_data *g = &iso->gh;
  size_t need = g->npending + g->weak;
  if (need <= g->cap_pending) return 1;
  slG_pending *pq = slI_grow(g->pending, &g->cap_pending, need, sizeof *pq, 64);
  if (pq == NULL) return 0;
  g->pending = pq;
  return 1;
}

static void queue_callback(sl_isolate *iso, slG_node *n) {
  slG_data *g = &iso->gh;
  sl_assert(g->npending < g->cap_pending);  /* slG_reserve_pending made room */
  g->pending[g->npending++] =
    (slG_pending){ n, n->serial, n->weak_order, n->epoch, n->cb, n->param };
}

/* A weak node or probe after marking/copying: follows or empties it. */
static void process_node(sl_isolate *iso, slG_node *n, int young_only,
                         int (*is_live)(sl_isolate *, sl_object *),
                         sl_object *(*forward)(sl_isolate *, sl_object *)) {
  if ((n->state != SLG_WEAK && n->state != SLG_PROBE) || n->obj == NULL) return;
  if (young_only && !slM_is_young(iso, n->obj)) return;
  if (is_live(iso, n->obj)) {
    sl_object *to = forward(iso, n->obj);
    if (to != n->obj) n->moves++;
    n->obj = to;
    return;
  }
  n->obj = NULL;  /* emptied before any callback can run */
  if (n->state == SLG_PROBE) return;
  iso->last.weak_cleared++;
  iso->gh.weak--;
  n->state = SLG_STRONG;  /* an empty node is no longer weak (V8: not IsWeak) */
  if (n->cb != NULL) queue_callback(iso, n);
  n->cb = NULL;
}

void slG_process_weak(sl_isolate *iso, int young_only,
                      int (*is_live)(sl_isolate *, sl_object *),
                      sl_object *(*forward)(sl_isolate *, sl_object *)) {
  SLG_FOREACH_SCANNED(iso, young_only, n, { process_node(iso, n, young_only, is_live, forward); })
}

static int by_order(const void *a, const void *b) {
  uint64_t x = ((const slG_pending *)a)->order, y = ((const slG_pending *)b)->order;
  return (x > y) - (x < y);
}

/*
** Runs the queued weak callbacks in the order their nodes were made weak. The
** queue is taken first, so callbacks that collect queue and run their own. A
** callback whose node an earlier callback deleted, reset, or made weak (or
** strong) again is stale and skipped: its parameter may be gone.
*/
sl_status slG_run_pending(sl_isolate *iso) {
  slG_data *g = &iso->gh;
  slG_pending *list = g->pending;
  size_t n = g->npending;
  g->pending = NULL;
  g->npending = g->cap_pending = 0;
  qsort(list, n, sizeof *list, by_order);
  iso->in_callbacks++;
  for (size_t i = 0; i < n; i++) {
    slG_node *node = list[i].node;
    if (node->serial != list[i].serial || node->epoch != list[i].epoch) continue;
    sl_persistent p = { iso, node, list[i].serial };
    iso->st.weak_callbacks_run++;
    list[i].cb(iso, p, list[i].param);
  }
  iso->in_callbacks--;
  free(list);
  return SL_OK;
}
