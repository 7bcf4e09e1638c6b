/* SPDX-License-Identifier: MIT */
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
  for (size_t b = 0; b * SLG_ETERNAL_BLOCK < g->neternals; b++) free(g->eternals[b]);
  free(g->eternals);
  free(g->pending);
  free(g->young);
  memset(g, 0, sizeof *g);
}

/* ------------------------------------------------------------------ nodes */

/* Puts a node that now holds a young object on the young list. */
static void note_young(sl_isolate *iso, slG_node *n) {
  slG_data *g = &iso->gh;
  if (!slO_is_ref(n->obj) || n->in_young || !slM_is_young(iso, n->obj)) return;
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
  const slG_data *g;
  /* Every made handle records its isolate, so no owner means a zeroed one. */
  if (owner == NULL)
    return slI_error(iso, SL_EARG, "%s: %s was never made", op,
                     want_probe ? "probe" : "persistent handle"), NULL;
  g = &owner->gh;
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
  if (slI_gate(iso, SLI_ALLOC, "persistent") != SL_OK) return iso->status;
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
  /* V8's Reset(isolate, value) makes a new node: not in a first pass */
  if (slI_gate(iso, h.slot != NULL ? SLI_ALLOC : SLI_READ, "reset") != SL_OK)
    return iso->status;
  if (h.slot != NULL) {
    sl_status st = slH_check(iso, h, "reset");
    if (st != SL_OK) return st;
    o = *h.slot;
  }
  if (n->state == SLG_WEAK) iso->gh.weak--;
  n->epoch++;             /* a callback still queued for the old object is stale */
  n->state = SLG_STRONG;  /* V8's Reset makes a new, strong node */
  n->cb = NULL;
  n->first_pass = NULL;
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

/* Makes 'n' weak with either kind of callback. */
static sl_status make_weak(sl_isolate *iso, slG_node *n, const char *op) {
  if (n->obj == NULL) return slI_error(iso, SL_EARG, "%s: persistent handle is empty", op);
  if (!slO_is_ref(n->obj))
    return slI_error(iso, SL_EARG, "%s: a Smi is not a heap object", op);
  if (n->state != SLG_WEAK) iso->gh.weak++;
  n->epoch++;
  n->state = SLG_WEAK;
  n->weak_order = ++iso->gh.weak_order;
  return SL_OK;
}

sl_status sl_persistent_set_weak(sl_isolate *iso, sl_persistent p,
                                 sl_weak_callback cb, void *param) {
  slG_node *n = PNODE(iso, p, "set_weak");
  if (n == NULL || make_weak(iso, n, "set_weak") != SL_OK) return iso->status;
  n->cb = cb;
  n->first_pass = NULL;
  n->param = param;
  return SL_OK;
}

sl_status sl_persistent_set_weak_two_pass(sl_isolate *iso, sl_persistent p,
                                          sl_weak_pass first_pass, void *param,
                                          sl_weak_type type) {
  slG_node *n = PNODE(iso, p, "set_weak");
  if (n == NULL) return iso->status;
  if (first_pass == NULL) return slI_error(iso, SL_EARG, "set_weak: no first-pass callback");
  if (type != SL_WEAK_PARAMETER && type != SL_WEAK_INTERNAL_FIELDS)
    return slI_error(iso, SL_EARG, "set_weak: unknown weak callback type %d", (int)type);
  if (make_weak(iso, n, "set_weak") != SL_OK) return iso->status;
  n->cb = NULL;
  n->first_pass = first_pass;
  n->weak_type = (uint8_t)type;
  n->param = param;
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
  n->first_pass = NULL;
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
    if (n->state != SLG_STRONG && n->state != SLG_WEAK && n->state != SLG_NEAR_DEATH) continue;
    sl_persistent p = { iso, n, n->serial };
    if (cb(p, n->site, n->state == SLG_WEAK, slO_is_ref(n->obj) ? n->obj->id : 0, ud)) return;
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
  if (slI_gate(iso, SLI_ALLOC, "probe") != SL_OK) return iso->status;
  sl_status st = slH_check(iso, h, "probe");
  if (st != SL_OK) return st;
  sl_object *o = *h.slot;
  if (!slO_is_ref(o)) return slI_error(iso, SL_EARG, "probe: a Smi is not a heap object");
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
  out->generation = n->obj && !slM_is_young(iso, n->obj) ? SL_OLD : SL_YOUNG;
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

/* Room for one more eternal slot: a new block when the last one is full. */
static sl_status eternal_room(sl_isolate *iso) {
  slG_data *g = &iso->gh;
  size_t b = g->neternals / SLG_ETERNAL_BLOCK;
  if (g->neternals % SLG_ETERNAL_BLOCK != 0) return SL_OK;
  if (b == g->cap_eternal_blocks) {
    sl_object ***e = slI_grow(g->eternals, &g->cap_eternal_blocks, b + 1, sizeof *e, 4);
    if (e == NULL) return slI_error(iso, SL_ENOMEM, "out of memory for eternal handles");
    g->eternals = e;
  }
  g->eternals[b] = malloc(SLG_ETERNAL_BLOCK * sizeof **g->eternals);
  if (g->eternals[b] == NULL) return slI_error(iso, SL_ENOMEM, "out of memory for eternal handles");
  return SL_OK;
}

sl_status sl_eternal_new(sl_isolate *iso, sl_local h, size_t *index) {
  if (slI_gate(iso, SLI_ALLOC, "eternal") != SL_OK) return iso->status;
  sl_status st = slH_check(iso, h, "eternal");
  if (st == SL_OK) st = eternal_room(iso);
  if (st != SL_OK) return st;
  *index = iso->gh.neternals;
  *slG_eternal_slot(iso, iso->gh.neternals++) = *h.slot;
  return SL_OK;
}

/* V8's Eternal::Get returns Local::FromSlot: the slot itself, no new handle. */
sl_status sl_eternal_get(sl_isolate *iso, size_t index, sl_local *out) {
  if (slI_gate(iso, SLI_READ, "eternal_get") != SL_OK) return iso->status;
  if (index >= iso->gh.neternals)
    return slI_error(iso, SL_EARG, "eternal_get: no eternal handle %zu (%zu exist)",
                     index, iso->gh.neternals);
  out->slot = slG_eternal_slot(iso, index);
  out->stamp = iso->hs.root_stamp;
  return SL_OK;
}

int slG_is_eternal_slot(const sl_isolate *iso, sl_object *const *slot) {
  const slG_data *g = &iso->gh;
  for (size_t b = 0; b * SLG_ETERNAL_BLOCK < g->neternals; b++) {
    sl_object *const *start = g->eternals[b];
    size_t used = g->neternals - b * SLG_ETERNAL_BLOCK;
    if (slot >= start && slot < start + (used < SLG_ETERNAL_BLOCK ? used : SLG_ETERNAL_BLOCK))
      return 1;
  }
  return 0;
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
  return iso->gh.young_all || n->state == SLG_FREE || !slO_is_ref(n->obj) ||
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

/* Queues n's callback. 'dead' is its object, still intact (neither collector
** has reused its memory yet): a two-pass callback of the internal-fields type
** gets the aligned pointers of its first two fields, read now (V8's
** CollectPhantomCallbackData). */
static void queue_callback(sl_isolate *iso, slG_node *n, sl_object *dead) {
  slG_data *g = &iso->gh;
  sl_assert(g->npending < g->cap_pending);  /* slG_reserve_pending made room */
  slG_pending *e = &g->pending[g->npending++];
  *e = (slG_pending){ n, n->serial, n->weak_order, n->epoch, n->cb, n->first_pass,
                      n->param, { NULL, NULL } };
  if (n->first_pass != NULL && n->weak_type == SL_WEAK_INTERNAL_FIELDS &&
      SLO_KIND(dead) == SL_OBJECT)
    for (uint32_t i = 0; i < 2 && i < dead->length; i++) {
      sl_object *f = slO_slots(dead)[1 + i];
      if (slO_is_pointer(f)) e->fields[i] = (void *)((uintptr_t)f & ~SL__TAG_MASK);
    }
}

/* A weak node or probe after marking/copying: follows or empties it. The
** read-only roots and Smis never die. */
static void process_node(sl_isolate *iso, slG_node *n, int young_only,
                         int (*is_live)(sl_isolate *, sl_object *),
                         sl_object *(*forward)(sl_isolate *, sl_object *)) {
  if ((n->state != SLG_WEAK && n->state != SLG_PROBE) || !slO_is_ref(n->obj)) return;
  if (young_only && !slM_is_young(iso, n->obj)) return;
  if (slO_is_readonly(n->obj)) return;
  if (is_live(iso, n->obj)) {
    sl_object *to = forward(iso, n->obj);
    if (to != n->obj) n->moves++;
    n->obj = to;
    return;
  }
  sl_object *dead = n->obj;
  n->obj = NULL;  /* emptied before any callback can run (V8's phantom handles) */
  if (n->state == SLG_PROBE) return;
  iso->last.weak_cleared++;
  iso->gh.weak--;
  /* an empty node is no longer weak (V8: not IsWeak); a two-pass one waits
  ** for its first pass to reset it */
  n->state = n->first_pass != NULL ? SLG_NEAR_DEATH : SLG_STRONG;
  if (n->cb != NULL || n->first_pass != NULL) queue_callback(iso, n, dead);
  n->cb = NULL;
  n->first_pass = NULL;
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

/* ------------------------------------------------------------------ two-pass */

/*
** The first passes a collection queued, run at its end under the gate (V8's
** InvokeFirstPassWeakCallbacks: "not supposed to allocate and trigger nested
** GCs"), in the order their nodes were made weak. Each must reset its node
** (reset, delete or clear_weak); one that does not is reset by the engine and
** recorded in 'not_reset' for the caller to report once the collection is
** complete. The single-pass callbacks stay queued, still in order.
*/
void slG_run_first_passes(sl_isolate *iso) {
  slG_data *g = &iso->gh;
  size_t keep = 0, n = g->npending;
  int any = 0;
  for (size_t i = 0; i < n && !any; i++) any = g->pending[i].first_pass != NULL;
  if (!any) return;
  qsort(g->pending, n, sizeof *g->pending, by_order);
  slI_gate_on(iso, SLI_GATE_FIRST_PASS);
  iso->in_callbacks++;
  for (size_t i = 0; i < n; i++) {
    slG_pending e = g->pending[i];
    if (e.first_pass == NULL) {
      g->pending[keep++] = e;
      continue;
    }
    slG_node *node = e.node;
    if (node->serial != e.serial || node->epoch != e.epoch || node->state != SLG_NEAR_DEATH)
      continue;  /* an earlier first pass reset or deleted it */
    sl_weak_info w = { iso, e.param, { iso, node, e.serial }, { e.fields[0], e.fields[1] },
                       0, NULL };
    iso->st.weak_callbacks_run++;
    iso->last.first_passes_run++;
    e.first_pass(&w);
    if (node->serial == e.serial && node->state == SLG_NEAR_DEATH) {
      node->state = SLG_STRONG;  /* V8 CHECK-fails here; we reset it and report */
      node->epoch++;
      g->not_reset = 1;
    }
    if (w.next != NULL) {
      sl_weak_info *copy = malloc(sizeof *copy);
      if (copy != NULL) {
        *copy = w;
        copy->second = 1;
      }
      if (copy == NULL || !slT_post_second_pass(iso, copy)) {
        free(copy);
        slI_error(iso, SL_ENOMEM, "out of memory for a second-pass weak callback");
      }
    }
  }
  g->npending = keep;
  iso->in_callbacks--;
  slI_gate_off(iso, SLI_GATE_FIRST_PASS);
}

sl_isolate *sl_weak_info_isolate(const sl_weak_info *w) { return w->iso; }
void *sl_weak_info_parameter(const sl_weak_info *w) { return w->param; }
sl_persistent sl_weak_info_handle(const sl_weak_info *w) { return w->handle; }
int sl_weak_info_is_second_pass(const sl_weak_info *w) { return w->second; }

sl_status sl_weak_info_internal_field(const sl_weak_info *w, int i, void **out) {
  if (i < 0 || i > 1)
    return slI_error(w->iso, SL_EARG, "internal_field: internal field out of bounds (%d)", i);
  *out = w->fields[i];
  return SL_OK;
}

sl_status sl_weak_info_set_second_pass(const sl_weak_info *w, sl_weak_pass second) {
  if (w->second)
    return slI_error(w->iso, SL_ESTATE, "set_second_pass_callback: already in the second pass");
  ((sl_weak_info *)w)->next = second;  /* V8 writes through a pointer the same way */
  return SL_OK;
}
