/* SPDX-License-Identifier: MIT */
/*
** scavenge.c: the young-generation copying collector.
**
** Cheney's algorithm (1970) with two scan pointers: one over to-space and one
** over the objects promoted into old space during this scavenge, so neither
** copying nor scanning ever recurses.
**
** Our choices:
** - Forwarding: a copied object gets SLO_FORWARDED and its 'id' word holds the
**   new address; the copy carries the identity.
** - Promotion: the header's age counts survived scavenges; the one that makes
**   it reach 'promote_after' copies the object to old space instead (so with
**   the default 2, an object is old after its second scavenge, V8's rule).
**   When old space is full the object stays young: a scavenge never fails.
** - Roots: every live Local slot, strong persistent nodes, eternal slots, and
**   the young references of the objects in the remembered set. Weak nodes and
**   probes are not roots; afterwards the dead are emptied, the live follow.
** - After a scavenge: from-space is empty, nothing is forwarded, and the
**   remembered set holds exactly the old objects that refer to young ones.
*/
#include "slcore.h"

/* Survivors are small and 8-byte aligned: a word loop beats a memcpy call. */
static inline void copy_words(uint64_t *dst, const uint64_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = src[i];
}

static sl_object *copy(sl_isolate *iso, sl_object *o) {
  if (o->meta & SLO_FORWARDED) return (sl_object *)(uintptr_t)o->id;
  size_t size = slO_size(o);
  unsigned age = SLO_AGE(o) + 1;
  sl_object *dst;
  if (age >= iso->opt.promote_after && (size_t)(iso->old.end - iso->old.top) >= size) {
    dst = (sl_object *)iso->old.top;
    iso->old.top += size;
    iso->last.promoted++;
    copy_words((uint64_t *)dst, (const uint64_t *)o, size / 8);
    dst->meta |= SLO_OLD;
  } else {
    dst = (sl_object *)iso->to.top;
    iso->to.top += size;
    copy_words((uint64_t *)dst, (const uint64_t *)o, size / 8);
  }
  SLO_SET_AGE(dst, age > 255 ? 255 : age);
  iso->last.moved++;
  if (iso->move_hook != NULL)
    iso->move_hook(iso, o->id, (uintptr_t)o, (uintptr_t)dst,
                   iso->st.minor_collections + iso->st.major_collections + 1, iso->move_ud);
  o->meta |= SLO_FORWARDED;
  o->id = (uint64_t)(uintptr_t)dst;
  return dst;
}

static inline void scavenge_slot(sl_isolate *iso, sl_object **slot) {
  sl_object *o = *slot;
  if (slO_is_ref(o) && slM_is_young(iso, o)) *slot = copy(iso, o);
}

/* Copies the young children of a to-space object. */
static inline void scan_young(sl_isolate *iso, sl_object *o) {
  size_t n;
  sl_object **s = slO_refs(o, &n);
  for (size_t i = 0; i < n; i++) scavenge_slot(iso, &s[i]);
}

/* Whether a slot refers to an object that stays young (in to-space). */
static inline int refers_to_young(const sl_isolate *iso, const sl_object *v) {
  return slO_is_ref(v) && slM_in(&iso->to, v);
}

/* Copies the young children of an old object; 1 if it still refers to young ones.
** Inlined: the promoted objects' scan calls it once per object. */
static inline SL_ALWAYS_INLINE int scan_object(sl_isolate *iso, sl_object *o) {
  size_t n;
  sl_object **s = slO_refs(o, &n);
  int young = 0;
  for (size_t i = 0; i < n; i++) {
    scavenge_slot(iso, &s[i]);
    young |= refers_to_young(iso, s[i]);
  }
  return young;
}

static int root(sl_isolate *iso, sl_object **slot, const sl_root_info *r, void *ud) {
  (void)r, (void)ud;
  scavenge_slot(iso, slot);
  return 0;
}

static void scavenge_roots(sl_isolate *iso) {
  slR_each(iso, SLR_YOUNG | SLR_COUNT, root, NULL);
  for (size_t i = 0; i < iso->nremembered; i++) scan_object(iso, iso->remembered[i]);
}

/* Scans to-space and the newly promoted objects until both are done. */
static void scavenge_transitively(sl_isolate *iso, char *old_scan) {
  char *to_scan = iso->to.start;
  while (to_scan < iso->to.top || old_scan < iso->old.top) {
    while (to_scan < iso->to.top) {
      sl_object *o = (sl_object *)to_scan;
      scan_young(iso, o);
      to_scan += slO_size(o);
    }
    while (old_scan < iso->old.top) {
      sl_object *o = (sl_object *)old_scan;
      /* A promoted array that still refers to young objects joins the set; if
      ** the set cannot grow, the next collection is a full one. */
      if (scan_object(iso, o) && !(o->meta & SLO_REMEMBERED) && !slM_remember(iso, o))
        iso->force_major = 1;
      old_scan += slO_size(o);
    }
  }
}

static int is_forwarded(sl_isolate *iso, sl_object *o) {
  (void)iso;
  return (o->meta & SLO_FORWARDED) != 0;
}

static sl_object *forward(sl_isolate *iso, sl_object *o) {
  (void)iso;
  return (sl_object *)(uintptr_t)o->id;
}

/* Keeps only the remembered objects that still refer to young objects. */
static void prune_remembered(sl_isolate *iso) {
  size_t keep = 0;
  for (size_t i = 0; i < iso->nremembered; i++) {
    sl_object *o = iso->remembered[i];
    size_t n;
    sl_object **s = slO_refs(o, &n);
    int young = 0;
    for (size_t k = 0; k < n && !young; k++) young = refers_to_young(iso, s[k]);
    if (young) iso->remembered[keep++] = o;
    else o->meta &= ~SLO_REMEMBERED;
  }
  iso->nremembered = keep;
}

static void flip(sl_isolate *iso) {
  slM_space from = iso->young;
  iso->young = iso->to;
  from.top = from.start;
#if defined(SLC_DEBUG)
  memset(from.start, 0xdb, (size_t)(from.end - from.start));  /* stale reads show */
#endif
  iso->to = from;
}

void slS_scavenge(sl_isolate *iso) {
  char *old_scan = iso->old.top;
  iso->to.top = iso->to.start;
  scavenge_roots(iso);
  scavenge_transitively(iso, old_scan);
  slG_process_weak(iso, 1, is_forwarded, forward);
  prune_remembered(iso);
  iso->last.survived = iso->last.moved;
  flip(iso);
  slG_prune_young(iso);  /* "young" is the new from-space from here on */
}
