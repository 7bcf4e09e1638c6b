/*
** heap.c: the spaces, allocation, the write barrier and when to collect.
**
** Young generation: two semispaces of 'young_size' bytes; objects are bumped
** into 'young' (from-space) and the scavenger copies survivors into 'to'.
** Old generation: one region of 'old_size' bytes, bump-allocated; mark-compact
** slides survivors to its start, so its free space is always one block at the
** end. Large objects (over young_size / SLC_PRETENURE_DIV) are born old.
**
** The allocation slow path, in order: a due stress collection; pretenuring;
** a scavenge when the young space is full; the old space; a full collection
** when the old space is full; and only then "heap exhausted".
*/
#include <stdlib.h>

#include "slcore.h"

static int space_init(slM_space *s, size_t size) {
  s->start = malloc(size);
  s->top = s->start;
  s->end = s->start ? s->start + size : NULL;
  return s->start != NULL;
}

int slM_init(sl_isolate *iso) {
  iso->large_size = iso->opt.young_size / SLC_PRETENURE_DIV;
  iso->max_array = (iso->opt.old_size - SLO_HEADER) / sizeof(sl_object *);
  if (iso->max_array > SLO_MAX_LENGTH) iso->max_array = SLO_MAX_LENGTH;
  return space_init(&iso->young, iso->opt.young_size) &&
         space_init(&iso->to, iso->opt.young_size) &&
         space_init(&iso->old, iso->opt.old_size);
}

void slM_free(sl_isolate *iso) {
  free(iso->young.start);
  free(iso->to.start);
  free(iso->old.start);
  free(iso->remembered);
  free(iso->mark_stack);
  iso->young.start = iso->to.start = iso->old.start = NULL;
  iso->remembered = iso->mark_stack = NULL;
}

/* ------------------------------------------------------------------ barrier */

int slM_remember(sl_isolate *iso, sl_object *o) {
  if (iso->nremembered == iso->cap_remembered) {
    sl_object **r = slI_grow(iso->remembered, &iso->cap_remembered, iso->nremembered + 1,
                             sizeof *r, 64);
    if (r == NULL) return 0;
    iso->remembered = r;
  }
  iso->remembered[iso->nremembered++] = o;
  o->meta |= SLO_REMEMBERED;
  return 1;
}

/* ------------------------------------------------------------------ collect */

static void finish_stats(sl_isolate *iso, int kind, size_t before, uint64_t t0) {
  sl_gc_stats *g = &iso->last;
  g->kind = kind;
  g->duration_ns = slI_now_ns() - t0;
  g->bytes_before = before;
  g->bytes_after = (size_t)(iso->young.top - iso->young.start) +
                   (size_t)(iso->old.top - iso->old.start);
  g->freed_bytes = before > g->bytes_after ? before - g->bytes_after : 0;
  if (kind == SL_MINOR) iso->st.minor_collections++;
  else iso->st.major_collections++;
  g->number = iso->st.minor_collections + iso->st.major_collections;
  iso->st.objects_moved += g->moved;
}

/* Runs one collection; weak callbacks are left pending for the caller. */
sl_status slM_collect(sl_isolate *iso, int kind) {
  if (iso->in_gc) return slI_error(iso, SL_ESTATE, "collection inside a collection");
  if (!slG_reserve_pending(iso))  /* weak callbacks must never be dropped */
    return slI_error(iso, SL_ENOMEM, "out of memory for the weak-callback queue");
  iso->in_gc = 1;
  /* A hook that allocates must meet the slow path's refusal, not the inline bump. */
  uint64_t trigger = iso->gc_trigger;
  iso->gc_trigger = 0;
  size_t before = (size_t)(iso->young.top - iso->young.start) +
                  (size_t)(iso->old.top - iso->old.start);
  /* Young bumps are counted here, not on the fast path. */
  iso->bytes_allocated += (size_t)(iso->young.top - iso->young_mark);
  uint64_t t0 = slI_now_ns();
  memset(&iso->last, 0, sizeof iso->last);
  sl_status st = SL_OK;
  if (kind == SL_MINOR && iso->force_major) kind = SL_MAJOR;  /* the set is incomplete */
  if (kind == SL_MINOR) slS_scavenge(iso);
  else st = slK_collect(iso);
  finish_stats(iso, kind, before, t0);
  if (st == SL_OK && iso->opt.verify_heap) {
    st = slV_verify(iso);
    if (st != SL_OK)
      slI_error(iso, SL_ECORRUPT, "BUG: heap corrupt after a %s collection: %.180s",
                kind == SL_MINOR ? "minor" : "major", iso->msg);
  }
  iso->young_mark = iso->young.top;
  if (iso->gc_hook != NULL) iso->gc_hook(iso, &iso->last, iso->gc_ud);
  iso->in_gc = 0;
  iso->gc_trigger = trigger;
  return st;
}

/* Weak callbacks queued by the collections so far, now that it is safe. */
sl_status slM_run_callbacks(sl_isolate *iso) {
  if (iso->gh.npending == 0) return SL_OK;
  return slG_run_pending(iso);
}

sl_status sl_collect(sl_isolate *iso, int kinds, sl_gc_stats *out) {
  if ((kinds & ~(SL_MINOR | SL_MAJOR)) != 0 || kinds == 0)
    return slI_error(iso, SL_EARG, "collect: kind must be SL_MINOR, SL_MAJOR or both");
  sl_status st = SL_OK;
  size_t run = 0;
  if (kinds & SL_MINOR) st = slM_collect(iso, SL_MINOR);
  if (st == SL_OK && (kinds & SL_MAJOR)) st = slM_collect(iso, SL_MAJOR);
  sl_gc_stats g = iso->last;
  if (st == SL_OK) {
    uint64_t before = iso->st.weak_callbacks_run;
    st = slM_run_callbacks(iso);
    run = (size_t)(iso->st.weak_callbacks_run - before);
  }
  g.callbacks_run = run;
  if (out != NULL) *out = g;
  return st;
}

/* ------------------------------------------------------------------ allocate */

static int old_room(const sl_isolate *iso, size_t size) {
  return (size_t)(iso->old.end - iso->old.top) >= size;
}

static sl_object *bump(slM_space *s, size_t size) {
  char *p = s->top;
  s->top = p + size;
  return (sl_object *)p;
}

/* A stress collection is due: run it as configured, then schedule the next. */
static sl_status stress_collect(sl_isolate *iso) {
  int major;
  if (iso->opt.gc_interval_major == 1) major = 1;
  else if (iso->opt.gc_interval_major == -1) major = 0;
  else major = (iso->stress_count & 1) != 0;
  iso->stress_count++;
  sl_status st = slM_collect(iso, major ? SL_MAJOR : SL_MINOR);
  slI_schedule(iso, iso->next_id);  /* this allocation is under way */
  return st;
}

/*
** Everything the fast path does not handle. Returns NULL with the isolate's
** error set when the heap is exhausted even after a full collection.
*/
sl_object *slM_allocate_slow(sl_isolate *iso, size_t size) {
  if (iso->in_gc)  /* a hook allocated: refuse rather than corrupt the heap */
    return slI_error(iso, SL_ESTATE, "allocation inside a collection"), NULL;
  if (iso->next_id >= iso->gc_trigger && stress_collect(iso) != SL_OK) return NULL;
  size_t ysize = (size_t)(iso->young.end - iso->young.start);
  if (size <= iso->large_size) {
    if ((size_t)(iso->young.end - iso->young.top) >= size) return bump(&iso->young, size);
    if (slM_collect(iso, SL_MINOR) != SL_OK) return NULL;
    if ((size_t)(iso->young.end - iso->young.top) >= size) return bump(&iso->young, size);
  }
  if (old_room(iso, size)) return bump(&iso->old, size);
  if (slM_collect(iso, SL_MAJOR) != SL_OK) return NULL;
  if (size <= iso->large_size && (size_t)(iso->young.end - iso->young.top) >= size)
    return bump(&iso->young, size);
  if (old_room(iso, size)) return bump(&iso->old, size);
  return slI_error(iso, SL_ENOMEM, "heap exhausted (%zu bytes requested; young %zu/%zu, "
                   "old %zu/%zu bytes used)", size,
                   (size_t)(iso->young.top - iso->young.start), ysize,
                   (size_t)(iso->old.top - iso->old.start),
                   (size_t)(iso->old.end - iso->old.start)), NULL;
}
