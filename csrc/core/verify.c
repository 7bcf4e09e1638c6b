/* SPDX-License-Identifier: MIT */
/*
** verify.c: the heap verifier.
**
** Checks what the collectors promise between collections:
** - both spaces parse as a sequence of well-formed objects, none of them
**   forwarded or marked, and to-space is empty;
** - every reference, in objects and in roots (Locals, call frames, persistent
**   nodes, probes, eternals), is empty, a Smi, a read-only root or the start of
**   an object in the current spaces; aligned pointers only in internal fields;
** - a property store holds interned strings as keys, its count fits, and an
**   object's first slot is empty or a property store; the name table lists
**   only interned strings, each of which it lists;
** - an old array that refers to a young object is in the remembered set, and
**   the set holds only old objects flagged as remembered, once each;
** - the handle-scope data is consistent (next/limit inside the last block,
**   levels in range).
** It builds a bitmap of object starts (one bit per 8-byte word) to answer
** "is this the start of an object" in constant time.
*/
#include <inttypes.h>
#include <stdlib.h>

#include "slcore.h"

typedef struct starts {
  uint8_t *young, *old;
} starts;

static void set_bit(uint8_t *map, size_t word) { map[word >> 3] |= (uint8_t)(1u << (word & 7)); }
static int get_bit(const uint8_t *map, size_t word) { return (map[word >> 3] >> (word & 7)) & 1; }

static int is_start(const sl_isolate *iso, const starts *s, const sl_object *o) {
  if (((uintptr_t)o & 7) != 0) return 0;
  for (int i = 0; i < SLI_NROOTS; i++)
    if (o == iso->roots[i]) return 1;
  if (slM_in(&iso->young, o) && (const char *)o < iso->young.top)
    return get_bit(s->young, (size_t)((const char *)o - iso->young.start) / 8);
  if (slM_in(&iso->old, o) && (const char *)o < iso->old.top)
    return get_bit(s->old, (size_t)((const char *)o - iso->old.start) / 8);
  return 0;
}

/* Parses a space; fills its bitmap. */
static sl_status parse_space(sl_isolate *iso, const slM_space *sp, uint8_t *map,
                             const char *name) {
  for (char *p = sp->start; p < sp->top;) {
    sl_object *o = (sl_object *)p;
    sl_kind k = SLO_KIND(o);
    if (k < SL_INTEGER || k > SL_PROPERTIES)
      return slI_error(iso, SL_ECORRUPT, "%s space: bad kind %u at offset %zu", name,
                       (unsigned)k, (size_t)(p - sp->start));
    if (o->meta & (SLO_FORWARDED | SLO_MARKED))
      return slI_error(iso, SL_ECORRUPT, "%s space: %s#%" PRIu64 " is still %s", name,
                       sl_kind_name(k), (o->meta & SLO_MARKED) ? o->id : 0,
                       (o->meta & SLO_MARKED) ? "marked" : "forwarded");
    if (((o->meta & SLO_OLD) != 0) != (sp == &iso->old))
      return slI_error(iso, SL_ECORRUPT, "%s space: %s#%" PRIu64 " has the wrong OLD flag",
                       name, sl_kind_name(k), o->id);
    size_t size = slO_size(o);
    if (size > (size_t)(sp->top - p))
      return slI_error(iso, SL_ECORRUPT, "%s space: %s#%" PRIu64 " runs past the top",
                       name, sl_kind_name(k), o->id);
    if (o->id == 0 || o->id >= iso->next_id)
      return slI_error(iso, SL_ECORRUPT, "%s space: object with impossible id %" PRIu64,
                       name, o->id);
    set_bit(map, (size_t)(p - sp->start) / 8);
    p += size;
  }
  return SL_OK;
}

/* What a kind promises about its slots beyond "each is a value". */
static sl_status check_shape(sl_isolate *iso, const starts *s, sl_object *o) {
  sl_object **f = slO_slots(o);
  if (SLO_KIND(o) == SL_OBJECT && f[0] != NULL &&
      !(slO_is_ref(f[0]) && is_start(iso, s, f[0]) && SLO_KIND(f[0]) == SL_PROPERTIES))
    return slI_error(iso, SL_ECORRUPT, "object#%" PRIu64 " has a bad property store", o->id);
  if (SLO_KIND(o) == SL_PROPERTIES) {
    size_t count;
    if (o->length == 0 || !SL__IS_SMI(f[0]) || (o->length - 1) % 2 != 0 ||
        (count = slO_prop_count(o)) > (o->length - 1) / 2)
      return slI_error(iso, SL_ECORRUPT, "properties#%" PRIu64 " has a bad count", o->id);
    for (size_t k = 0; k < count; k++) {
      sl_object *key = slO_prop_pairs(o)[2 * k];
      if (!slO_is_ref(key) || !is_start(iso, s, key) || SLO_KIND(key) != SL_STRING ||
          !(key->meta & SLO_INTERNED))
        return slI_error(iso, SL_ECORRUPT, "properties#%" PRIu64 " key %zu is not a name",
                         o->id, k + 1);
    }
  }
  if (SLO_KIND(o) == SL_STRING && (o->meta & SLO_INTERNED) &&
      (!slM_is_old(iso, o) || !slP_is_listed(iso, o)))
    return slI_error(iso, SL_ECORRUPT, "name string#%" PRIu64 " is not in the name table",
                     o->id);
  return SL_OK;
}

static sl_status check_refs(sl_isolate *iso, const starts *s, const slM_space *sp,
                            int old) {
  for (char *p = sp->start; p < sp->top; p += slO_size((sl_object *)p)) {
    sl_object *o = (sl_object *)p;
    if (!old && (o->meta & SLO_REMEMBERED))
      return slI_error(iso, SL_ECORRUPT, "young %s#%" PRIu64 " is flagged remembered",
                       sl_kind_name(SLO_KIND(o)), o->id);
    sl_status st = check_shape(iso, s, o);
    if (st != SL_OK) return st;
    size_t n;
    sl_object **f = slO_refs(o, &n);
    for (size_t i = 0; i < n; i++) {
      if (slO_is_pointer(f[i]) && !(SLO_KIND(o) == SL_OBJECT && i > 0))
        return slI_error(iso, SL_ECORRUPT, "%s#%" PRIu64 "[%zu] holds an aligned pointer",
                         sl_kind_name(SLO_KIND(o)), o->id, i + 1);
      if (!slO_is_ref(f[i])) continue;
      if (!is_start(iso, s, f[i]))
        return slI_error(iso, SL_ECORRUPT, "%s#%" PRIu64 "[%zu] points at no object (%p)",
                         sl_kind_name(SLO_KIND(o)), o->id, i + 1, (void *)f[i]);
      if (old && !iso->force_major && slM_is_young(iso, f[i]) &&
          !(o->meta & SLO_REMEMBERED))
        return slI_error(iso, SL_ECORRUPT, "old %s#%" PRIu64 " refers to young %s#%"
                         PRIu64 " but is not remembered", sl_kind_name(SLO_KIND(o)), o->id,
                         sl_kind_name(SLO_KIND(f[i])), f[i]->id);
    }
  }
  return SL_OK;
}

static sl_status check_remembered(sl_isolate *iso, const starts *s) {
  size_t flagged = 0;
  for (char *p = iso->old.start; p < iso->old.top; p += slO_size((sl_object *)p))
    if (((sl_object *)p)->meta & SLO_REMEMBERED) flagged++;
  if (flagged != iso->nremembered)
    return slI_error(iso, SL_ECORRUPT, "%zu objects flagged remembered, %zu in the set",
                     flagged, iso->nremembered);
  for (size_t i = 0; i < iso->nremembered; i++) {
    sl_object *o = iso->remembered[i];
    if (!slM_is_old(iso, o) || !is_start(iso, s, o) || !(o->meta & SLO_REMEMBERED))
      return slI_error(iso, SL_ECORRUPT, "remembered set entry %zu is not a flagged old "
                       "object", i);
  }
  return SL_OK;
}

static sl_status check_root(sl_isolate *iso, const starts *s, sl_object *o,
                            const char *what, size_t i) {
  if (slO_is_ref(o) && !is_start(iso, s, o))
    return slI_error(iso, SL_ECORRUPT, "%s %zu points at no object (%p)", what, i, (void *)o);
  return SL_OK;
}

typedef struct root_check {
  const starts *s;
  sl_status st;
} root_check;

static const char *const root_names[] = {
  "?", "Local slot", "persistent node", "eternal", "remembered", "call frame slot"
};

static int check_one_root(sl_isolate *iso, sl_object **slot, const sl_root_info *r, void *ud) {
  root_check *rc = ud;
  rc->st = check_root(iso, rc->s, *slot, root_names[r->kind <= SL_ROOT_FRAME ? r->kind : 0], r->index);
  return rc->st != SL_OK;
}

/* Every root, then every node (weak ones and probes are no roots but must hold
** an object or nothing, and be on the young list when that object is young). */
static sl_status check_roots(sl_isolate *iso, const starts *s) {
  root_check rc = { s, SL_OK };
  size_t i = 0;
  slR_each(iso, SLR_INFO, check_one_root, &rc);
  if (rc.st != SL_OK) return rc.st;
  SLG_FOREACH_NODE(&iso->gh, n, {
    i++;
    if (n->state == SLG_FREE) continue;
    sl_status st = check_root(iso, s, n->obj, n->state == SLG_PROBE ? "probe" : "persistent node",
                              i - 1);
    if (st != SL_OK) return st;
    if (!slG_young_listed(iso, n))
      return slI_error(iso, SL_ECORRUPT, "node %zu holds a young object but is not on "
                       "the young-node list", i - 1);
  })
  for (i = 0; i < iso->gh.neternals; i++)
    if (*slG_eternal_slot(iso, i) == NULL)
      return slI_error(iso, SL_ECORRUPT, "eternal %zu is empty", i);
  return SL_OK;
}

static sl_status check_names(sl_isolate *iso, const starts *s) {
  size_t live = 0;
  for (size_t i = 0; i < iso->names.cap; i++) {
    sl_object *o = iso->names.slots[i];
    if (o == NULL || o == SLP_TOMBSTONE) continue;
    live++;
    if (!slM_is_old(iso, o) || !is_start(iso, s, o) || SLO_KIND(o) != SL_STRING ||
        !(o->meta & SLO_INTERNED))
      return slI_error(iso, SL_ECORRUPT, "name table entry %zu is not an old interned string",
                       i);
  }
  if (live != iso->names.live)
    return slI_error(iso, SL_ECORRUPT, "name table counts %zu names, holds %zu",
                     iso->names.live, live);
  return SL_OK;
}

static sl_status check_scopes(sl_isolate *iso) {
  const slH_data *hs = &iso->hs;
  uint32_t depth = slH_depth(hs);
  if (depth > hs->cap_scopes || hs->scopes[-1].stamp != 0)
    return slI_error(iso, SL_ECORRUPT, "scope stack corrupt (depth %u of %u)",
                     (unsigned)depth, (unsigned)hs->cap_scopes);
  if (depth > 0 && hs->scopes[depth - 1].stamp != hs->stamp)
    return slI_error(iso, SL_ECORRUPT, "the innermost scope's stamp is not the isolate's");
  /* Each record sits at the depth its stamp names; serials grow inwards. */
  for (uint32_t d = 1; d <= depth; d++) {
    uint64_t st = hs->scopes[d - 1].stamp;
    if ((st & SLH_DEPTH_MASK) != d || (st >> SLH_DEPTH_BITS) > hs->serial ||
        (d > 1 && (st >> SLH_DEPTH_BITS) <= (hs->scopes[d - 2].stamp >> SLH_DEPTH_BITS)))
      return slI_error(iso, SL_ECORRUPT, "scope record at depth %u has a bad stamp", (unsigned)d);
  }
  if (hs->nblocks == 0) {
    if (hs->next != NULL)
      return slI_error(iso, SL_ECORRUPT, "handle 'next' set with no blocks");
    return SL_OK;
  }
  sl_object **b = hs->blocks[hs->nblocks - 1];
  if (hs->next < b || hs->next > b + hs->block_size || hs->limit < hs->next ||
      hs->limit > b + hs->block_size)
    return slI_error(iso, SL_ECORRUPT, "handle 'next'/'limit' outside the last block");
  return SL_OK;
}

sl_status slV_verify(sl_isolate *iso) {
  size_t ywords = (size_t)(iso->young.end - iso->young.start) / 8;
  size_t owords = (size_t)(iso->old.end - iso->old.start) / 8;
  starts s = { calloc(ywords / 8 + 1, 1), calloc(owords / 8 + 1, 1) };
  sl_status st;
  if (s.young == NULL || s.old == NULL) {
    st = slI_error(iso, SL_ENOMEM, "verify: out of memory for the object map");
    goto done;
  }
  if (iso->to.top != iso->to.start) {
    st = slI_error(iso, SL_ECORRUPT, "to-space is not empty between collections");
    goto done;
  }
  st = parse_space(iso, &iso->young, s.young, "young");
  if (st == SL_OK) st = parse_space(iso, &iso->old, s.old, "old");
  if (st == SL_OK) st = check_refs(iso, &s, &iso->young, 0);
  if (st == SL_OK) st = check_refs(iso, &s, &iso->old, 1);
  if (st == SL_OK) st = check_remembered(iso, &s);
  if (st == SL_OK) st = check_roots(iso, &s);
  if (st == SL_OK) st = check_names(iso, &s);
  if (st == SL_OK) st = check_scopes(iso);
done:
  free(s.young);
  free(s.old);
  return st;
}
