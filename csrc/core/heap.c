/* SPDX-License-Identifier: MIT */
/*
** heap.c: the spaces, allocation, the write barrier and when to collect.
**
** Young generation: two semispaces of 'young_size' bytes; objects are bumped
** into 'young' (from-space) and the scavenger copies survivors into 'to'.
** Old generation: one region of 'old_size' bytes, bump-allocated; mark-compact
** slides survivors to its start, so its free space is always one block at the
** end. Large objects (over young_size / SLC_PRETENURE_DIV) are born old.
**
** The allocation slow path, in order: the gate (a collection, a first-pass
** weak callback or a thread check may refuse it); a full collection someone
** asked for (external memory or old-generation growth); a due stress
** collection; pretenuring; a scavenge when the young space is full; the old
** space; a full collection when the old space is full; and only then "heap
** exhausted".
**
** When to collect besides "full", as V8 schedules it: after every full
** collection old space may grow to heap_growing_factor times what survived it
** (with a floor), and external memory (sl_adjust_external_memory) by
** external_memory_limit; past either, the next allocation runs a full
** collection, whose stats name the reason.
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
  iso->old_limit = SLC_GROWING_FLOOR;  /* the isolate's start counts as a full collection */
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

static void finish_stats(sl_isolate *iso, int kind, int reason, size_t before, uint64_t t0) {
  sl_gc_stats *g = &iso->last;
  g->kind = kind;
  g->reason = (sl_gc_reason)reason;
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

static size_t old_used(const sl_isolate *iso) {
  return (size_t)(iso->old.top - iso->old.start);
}

/* Old space has grown past what the last full collection allowed: ask for one. */
static void check_growth(sl_isolate *iso) {
  if (old_used(iso) > iso->old_limit && iso->gc_request == 0) {
    iso->gc_request = SL_GC_OLD_GENERATION_GROWTH;
    slI_update_trigger(iso);
  }
}

/* After a full collection: the next limits are measured from what it left. */
static void after_full(sl_isolate *iso) {
  double limit = (double)old_used(iso) * iso->opt.heap_growing_factor;
  iso->old_limit = limit < (double)SLC_GROWING_FLOOR ? SLC_GROWING_FLOOR
                   : limit > (double)SIZE_MAX ? SIZE_MAX : (size_t)limit;
  iso->external_at_full = iso->external;
  iso->gc_request = 0;
}

/* The collection itself, inside the gate: no allocation, handle or scope. */
static sl_status run_collection(sl_isolate *iso, int kind, int reason) {
  size_t before = (size_t)(iso->young.top - iso->young.start) + old_used(iso);
  /* Young bumps are counted here, not on the fast path. */
  iso->bytes_allocated += (size_t)(iso->young.top - iso->young_mark);
  uint64_t t0 = slI_now_ns();
  memset(&iso->last, 0, sizeof iso->last);
  sl_status st = SL_OK;
  if (kind == SL_MINOR && iso->force_major) kind = SL_MAJOR;  /* the set is incomplete */
  if (kind == SL_MINOR) slS_scavenge(iso);
  else st = slK_collect(iso);
  finish_stats(iso, kind, reason, before, t0);
  if (st == SL_OK && kind == SL_MAJOR) after_full(iso);
  else check_growth(iso);
  if (st == SL_OK && iso->opt.verify_heap) {
    st = slV_verify(iso);
    if (st != SL_OK)
      slI_error(iso, SL_ECORRUPT, "BUG: heap corrupt after a %s collection: %.180s",
                kind == SL_MINOR ? "minor" : "major", iso->msg);
  }
  iso->young_mark = iso->young.top;
  if (iso->gc_hook != NULL) iso->gc_hook(iso, &iso->last, iso->gc_ud);
  return st;
}

/* Runs one collection and its first-pass weak callbacks (V8 runs them before
** the allocation that collected goes on); the other callbacks are left
** pending for the caller. A first pass that left its handle set is reported
** by the caller too (gh.not_reset), once the collection is complete. */
sl_status slM_collect(sl_isolate *iso, int kind, int reason) {
  if (iso->in_gc) return slI_error(iso, SL_ESTATE, "collection inside a collection");
  if (!slG_reserve_pending(iso))  /* weak callbacks must never be dropped */
    return slI_error(iso, SL_ENOMEM, "out of memory for the weak-callback queue");
  iso->in_gc = 1;
  slI_gate_on(iso, SLI_GATE_GC);
  sl_status st = run_collection(iso, kind, reason);
  iso->in_gc = 0;
  slI_gate_off(iso, SLI_GATE_GC);
  slG_run_first_passes(iso);
  return st;
}

/* The "Handle not reset in first callback" failure, once per collection. */
static sl_status not_reset(sl_isolate *iso) {
  iso->gh.not_reset = 0;
  return slI_error(iso, SL_ESTATE, "Handle not reset in first callback");
}

/* Weak callbacks queued by the collections so far, now that it is safe. */
sl_status slM_run_callbacks(sl_isolate *iso) {
  if (iso->gh.npending == 0) return SL_OK;
  return slG_run_pending(iso);
}

/* An operation ended with 'st' after collections that queued weak callbacks:
** run them, but a failure keeps its own status and message, whatever the
** callbacks did to the isolate's (a user reads the cause, not a side effect). */
sl_status slM_settle(sl_isolate *iso, sl_status st) {
  if (iso->gh.npending == 0 || iso->in_gc) return st;
  if (st == SL_OK) return slM_run_callbacks(iso);
  char msg[sizeof iso->msg];
  memcpy(msg, iso->msg, sizeof msg);
  slM_run_callbacks(iso);
  memcpy(iso->msg, msg, sizeof msg);
  iso->status = st;
  return st;
}

sl_status sl_collect(sl_isolate *iso, int kinds, sl_gc_stats *out) {
  if ((kinds & ~(SL_MINOR | SL_MAJOR)) != 0 || kinds == 0)
    return slI_error(iso, SL_EARG, "collect: kind must be SL_MINOR, SL_MAJOR or both");
  if (slI_gate(iso, SLI_ALLOC, "collect") != SL_OK) return iso->status;
  sl_status st = SL_OK;
  size_t run = 0;
  if (kinds & SL_MINOR) st = slM_collect(iso, SL_MINOR, SL_GC_REQUESTED);
  if (st == SL_OK && (kinds & SL_MAJOR)) st = slM_collect(iso, SL_MAJOR, SL_GC_REQUESTED);
  /* Taken now: the callbacks below may allocate and collect, and must not be
  ** blamed for (nor swallow) what these collections' first passes did. */
  int kept = iso->gh.not_reset;
  iso->gh.not_reset = 0;
  sl_gc_stats g = iso->last;
  if (st == SL_OK) {
    uint64_t before = iso->st.weak_callbacks_run;
    st = slM_run_callbacks(iso);
    run = (size_t)(iso->st.weak_callbacks_run - before);
    slT_run_second_passes(iso);  /* a forced collection: synchronously, as V8 */
  }
  g.callbacks_run = run;
  if (out != NULL) *out = g;
  if (st == SL_OK && kept) st = not_reset(iso);
  return st;
}

sl_status sl_adjust_external_memory(sl_isolate *iso, int64_t delta, int64_t *total) {
  if (slI_gate(iso, SLI_READ, "adjust_external_memory") != SL_OK) return iso->status;
  if ((delta > 0 && iso->external > INT64_MAX - delta) ||
      (delta < 0 && iso->external < INT64_MIN - delta))
    return slI_error(iso, SL_EARG, "adjust_external_memory: the total would overflow");
  iso->external += delta;
  /* The mark is the lowest total since the last full collection (V8's
  ** low_since_mark_compact): memory freed after it, by the weak callbacks of the
  ** very collection that set it, lowers it, or every cycle would start higher. */
  if (iso->external < iso->external_at_full) iso->external_at_full = iso->external;
  if (iso->external - iso->external_at_full > (int64_t)iso->opt.external_memory_limit &&
      iso->gc_request == 0) {
    iso->gc_request = SL_GC_EXTERNAL_MEMORY;
    slI_update_trigger(iso);
  }
  if (total != NULL) *total = iso->external;
  return SL_OK;
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

/* An old bump: counted for the growth rule. */
static sl_object *bump_old(sl_isolate *iso, size_t size) {
  sl_object *o = bump(&iso->old, size);
  check_growth(iso);
  return o;
}

/* A collection the allocation runs; NULL-worthy (0) when it or a first pass
** failed, the error set. */
static int collect_for(sl_isolate *iso, int kind, int reason) {
  if (slM_collect(iso, kind, reason) != SL_OK) return 0;
  if (iso->gh.not_reset) return not_reset(iso), 0;
  return 1;
}

/* A stress collection is due: run it as configured, then schedule the next. */
static int stress_collect(sl_isolate *iso) {
  int major;
  if (iso->opt.gc_interval_major == 1) major = 1;
  else if (iso->opt.gc_interval_major == -1) major = 0;
  else major = (iso->stress_count & 1) != 0;
  iso->stress_count++;
  int ok = collect_for(iso, major ? SL_MAJOR : SL_MINOR, SL_GC_STRESS);
  slI_schedule(iso, iso->next_id);  /* this allocation is under way */
  return ok;
}

/* What every allocation slow path does first: the gate, a full collection
** that was asked for, a due stress collection. 0 (error set) to fail. */
static int before_allocating(sl_isolate *iso) {
  if (iso->gate != 0 && slI_gate(iso, SLI_ALLOC, "allocate") != SL_OK) return 0;
  if (iso->gc_request != 0 && !collect_for(iso, SL_MAJOR, iso->gc_request)) return 0;
  if (iso->next_id >= iso->stress_trigger && !stress_collect(iso)) return 0;
  return 1;
}

static sl_object *exhausted(sl_isolate *iso, size_t size) {
  return slI_error(iso, SL_ENOMEM, "heap exhausted (%zu bytes requested; young %zu/%zu, "
                   "old %zu/%zu bytes used)", size,
                   (size_t)(iso->young.top - iso->young.start),
                   (size_t)(iso->young.end - iso->young.start), old_used(iso),
                   (size_t)(iso->old.end - iso->old.start)), NULL;
}

/*
** Everything the fast path does not handle. Returns NULL with the isolate's
** error set when the heap is exhausted even after a full collection.
*/
sl_object *slM_allocate_slow(sl_isolate *iso, size_t size) {
  if (!before_allocating(iso)) return NULL;
  if (size <= iso->large_size) {
    if ((size_t)(iso->young.end - iso->young.top) >= size) return bump(&iso->young, size);
    if (!collect_for(iso, SL_MINOR, SL_GC_ALLOCATION_FAILURE)) return NULL;
    if ((size_t)(iso->young.end - iso->young.top) >= size) return bump(&iso->young, size);
  }
  if (old_room(iso, size)) return bump_old(iso, size);
  if (!collect_for(iso, SL_MAJOR, SL_GC_ALLOCATION_FAILURE)) return NULL;
  if (size <= iso->large_size && (size_t)(iso->young.end - iso->young.top) >= size)
    return bump(&iso->young, size);
  if (old_room(iso, size)) return bump_old(iso, size);
  return exhausted(iso, size);
}

sl_object *slM_allocate_old(sl_isolate *iso, size_t size) {
  if (!before_allocating(iso)) return NULL;
  if (old_room(iso, size)) return bump_old(iso, size);
  if (!collect_for(iso, SL_MAJOR, SL_GC_ALLOCATION_FAILURE)) return NULL;
  if (old_room(iso, size)) return bump_old(iso, size);
  return exhausted(iso, size);
}
