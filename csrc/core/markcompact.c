/* SPDX-License-Identifier: MIT */
/*
** markcompact.c: the full collector (both generations).
**
** Mark, then Lisp-2 sliding compaction (Jones & Lins, ch. 5): compute every
** live object's new address, update every reference, then move. Live order is
** kept, so old space stays one dense run followed by free space.
**
** Our choices:
** - Marking uses an explicit stack that grows with realloc; if it cannot grow,
**   the object stays marked but unscanned and a heap rescan finds it later
**   ("overflow"), so neither deep lists nor malloc failure break marking.
** - The forwarding address lives in the header's 'id' word from "compute"
**   until "move"; the identities wait in 'ids', one per live object, in heap
**   order, which is exactly the order "move" visits them in.
** - Live young objects are promoted into old space behind the compacted old
**   objects (V8's full collection evacuates the young generation); when old
**   space has no room they are copied to to-space instead and stay young.
** - stress_compaction compacts into a fresh region, so every object moves.
** - Roots: Local slots, strong persistent nodes, eternal slots. The remembered
**   set is not a root here; it is rebuilt while moving.
** - After a collection no object is marked or forwarded, from-space is empty
**   (it was flipped), and weak nodes of dead objects are empty.
*/
#include <stdlib.h>

#include "slcore.h"

/* ------------------------------------------------------------------ mark */

static int grow_mark_stack(sl_isolate *iso) {
  sl_object **s = slI_grow(iso->mark_stack, &iso->cap_mark, iso->nmark + 1, sizeof *s, 1024);
  if (s == NULL) return 0;
  iso->mark_stack = s;
  return 1;
}

static inline void mark(sl_isolate *iso, sl_object *o) {
  if (!slO_is_ref(o) || (o->meta & (SLO_MARKED | SLO_READONLY))) return;
  o->meta |= SLO_MARKED;
  iso->mark_live++;
  size_t n;
  if (slO_refs(o, &n) == NULL || n == 0) return;  /* no children: nothing to scan */
  if (iso->nmark == iso->cap_mark && !grow_mark_stack(iso)) {
    iso->mark_overflow = 1;  /* found again by rescan_for_overflow */
    return;
  }
  iso->mark_stack[iso->nmark++] = o;
}

static int mark_root(sl_isolate *iso, sl_object **slot, const sl_root_info *r, void *ud) {
  (void)r, (void)ud;
  mark(iso, *slot);
  return 0;
}

static void drain(sl_isolate *iso) {
  while (iso->nmark > 0) {
    size_t n;
    sl_object **s = slO_refs(iso->mark_stack[--iso->nmark], &n);
    for (size_t i = 0; i < n; i++) mark(iso, s[i]);
  }
}

/* Marks the unmarked children of marked objects in one space. */
static void rescan_space(sl_isolate *iso, const slM_space *sp) {
  for (char *p = sp->start; p < sp->top; p += slO_size((sl_object *)p)) {
    sl_object *o = (sl_object *)p;
    if (!(o->meta & SLO_MARKED)) continue;
    size_t n;
    sl_object **s = slO_refs(o, &n);
    for (size_t i = 0; i < n; i++) {
      mark(iso, s[i]);
      drain(iso);
    }
  }
}

static void rescan_for_overflow(sl_isolate *iso) {
  while (iso->mark_overflow) {
    iso->mark_overflow = 0;
    rescan_space(iso, &iso->old);
    rescan_space(iso, &iso->young);
  }
}

static void mark_from_roots(sl_isolate *iso) {
  iso->nmark = 0;
  iso->mark_live = 0;
  iso->mark_overflow = 0;
  slR_each(iso, SLR_COUNT, mark_root, NULL);
  drain(iso);
  rescan_for_overflow(iso);
}

static void unmark_space(slM_space *sp) {
  for (char *p = sp->start; p < sp->top; p += slO_size((sl_object *)p))
    ((sl_object *)p)->meta &= ~SLO_MARKED;
}

/* ------------------------------------------------------------------ compact */

typedef struct compact_plan {
  uint64_t *ids;         /* identities of the live objects, in heap order */
  char *base, *end;      /* where old space is compacted to */
  char *old_top;         /* end of the compacted old objects and promoted ones */
  char *to_top;          /* end of the young objects that stay young */
  int fresh;             /* 'base' is a new region (stress_compaction) */
} compact_plan;

static int is_marked(sl_isolate *iso, sl_object *o) {
  (void)iso;
  return (o->meta & SLO_MARKED) != 0;
}

static sl_object *forward(sl_isolate *iso, sl_object *o) {
  (void)iso;
  return (sl_object *)(uintptr_t)o->id;
}

/* New addresses: old objects slide to 'base'; young ones follow or stay young. */
static void compute_forwarding(sl_isolate *iso, compact_plan *pl) {
  size_t n = 0;
  char *dest = pl->base;
  for (char *p = iso->old.start; p < iso->old.top;) {
    sl_object *o = (sl_object *)p;
    size_t size = slO_size(o);
    if (o->meta & SLO_MARKED) {
      pl->ids[n++] = o->id;
      o->id = (uint64_t)(uintptr_t)dest;
      dest += size;
    }
    p += size;
  }
  char *to = iso->to.start;
  for (char *p = iso->young.start; p < iso->young.top;) {
    sl_object *o = (sl_object *)p;
    size_t size = slO_size(o);
    if (o->meta & SLO_MARKED) {
      pl->ids[n++] = o->id;
      if ((size_t)(pl->end - dest) >= size) {
        o->id = (uint64_t)(uintptr_t)dest;
        dest += size;
      } else {
        o->id = (uint64_t)(uintptr_t)to;
        to += size;
      }
    }
    p += size;
  }
  pl->old_top = dest;
  pl->to_top = to;
}

static inline void update_slot(sl_isolate *iso, sl_object **slot) {
  if (slO_is_heap(*slot)) *slot = forward(iso, *slot);
}

static int update_root(sl_isolate *iso, sl_object **slot, const sl_root_info *r, void *ud) {
  (void)r, (void)ud;
  update_slot(iso, slot);
  return 0;
}

static void update_space(sl_isolate *iso, const slM_space *sp) {
  for (char *p = sp->start; p < sp->top; p += slO_size((sl_object *)p)) {
    sl_object *o = (sl_object *)p;
    if (!(o->meta & SLO_MARKED)) continue;
    size_t n;
    sl_object **s = slO_refs(o, &n);
    for (size_t i = 0; i < n; i++) update_slot(iso, &s[i]);
  }
}

static void update_references(sl_isolate *iso) {
  slR_each(iso, 0, update_root, NULL);
  update_space(iso, &iso->old);
  update_space(iso, &iso->young);
}

/* Moves 'o' to its forwarding address and gives it back its identity. */
static inline sl_object *relocate(sl_isolate *iso, sl_object *o, size_t size, uint64_t id) {
  sl_object *dst = forward(iso, o);
  if (dst != o) {
    memmove(dst, o, size);
    iso->last.moved++;
    if (iso->move_hook != NULL)
      iso->move_hook(iso, id, (uintptr_t)o, (uintptr_t)dst,
                     iso->st.minor_collections + iso->st.major_collections + 1,
                     iso->move_ud);
  }
  dst->id = id;
  dst->meta &= ~(SLO_MARKED | SLO_REMEMBERED);
  return dst;
}

/* An old array that refers to a young object (in to-space, soon from-space). */
static void remember_if_young_refs(sl_isolate *iso, sl_object *o) {
  size_t n;
  sl_object **s = slO_refs(o, &n);
  for (size_t i = 0; i < n; i++)
    if (slO_is_ref(s[i]) && slM_in(&iso->to, s[i])) {
      if (!slM_remember(iso, o)) iso->force_major = 1;
      return;
    }
}

static void move_objects(sl_isolate *iso, compact_plan *pl) {
  size_t n = 0;
  /* Only objects that stay young can be referred to from old space. */
  int young_stays = pl->to_top != iso->to.start;
  iso->nremembered = 0;
  /* Old objects first: sliding down never overwrites an object not yet moved. */
  for (char *p = iso->old.start; p < iso->old.top;) {
    sl_object *o = (sl_object *)p;
    size_t size = slO_size(o);
    p += size;
    if (o->meta & SLO_MARKED) {
      /* 'ids' holds one identity per marked object, in this order. */
      sl_object *dst = relocate(iso, o, size, pl->ids[n++]);  // NOLINT(clang-analyzer-core.CallAndMessage)
      if (young_stays) remember_if_young_refs(iso, dst);
    }
  }
  /* Then young ones, into the room behind the old objects or into to-space. */
  for (char *p = iso->young.start; p < iso->young.top;) {
    sl_object *o = (sl_object *)p;
    size_t size = slO_size(o);
    p += size;
    if (o->meta & SLO_MARKED) {
      /* 'ids' holds one identity per marked object, in this order. */
      sl_object *dst = relocate(iso, o, size, pl->ids[n++]);  // NOLINT(clang-analyzer-core.CallAndMessage)
      unsigned age = SLO_AGE(dst) + 1;
      SLO_SET_AGE(dst, age > 255 ? 255 : age);
      if (slM_in(&iso->to, dst)) continue;
      dst->meta |= SLO_OLD;
      iso->last.promoted++;
      if (young_stays) remember_if_young_refs(iso, dst);
    }
  }
}

static void finish(sl_isolate *iso, compact_plan *pl) {
  if (pl->fresh) {
    free(iso->old.start);
    iso->old.end = pl->end;
    iso->old.start = pl->base;
  }
  iso->old.top = pl->old_top;
  iso->to.top = pl->to_top;
  slM_space from = iso->young;  /* flip: survivors that stayed young are in 'to' */
  iso->young = iso->to;
  from.top = from.start;
  iso->to = from;
  iso->last.survived = iso->mark_live;
}

sl_status slK_collect(sl_isolate *iso) {
  compact_plan pl = { 0 };
  iso->to.top = iso->to.start;
  mark_from_roots(iso);
  pl.ids = malloc((iso->mark_live ? iso->mark_live : 1) * sizeof *pl.ids);
  if (pl.ids == NULL) {
    unmark_space(&iso->old);
    unmark_space(&iso->young);
    return slI_error(iso, SL_ENOMEM, "out of memory for a full collection");
  }
  size_t old_size = (size_t)(iso->old.end - iso->old.start);
  pl.base = iso->opt.stress_compaction ? malloc(old_size) : NULL;
  pl.fresh = pl.base != NULL;
  if (!pl.fresh) pl.base = iso->old.start;
  pl.end = pl.base + old_size;
  compute_forwarding(iso, &pl);
  slG_process_weak(iso, 0, is_marked, forward);
  slP_process_names(iso, is_marked, forward);
  update_references(iso);
  move_objects(iso, &pl);
  finish(iso, &pl);
  free(pl.ids);
  slG_rebuild_young(iso);  /* survivors left young stay on the list, the rest leave */
  iso->force_major = 0;  /* the remembered set was rebuilt from scratch */
  return SL_OK;
}
