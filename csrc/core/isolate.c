/* SPDX-License-Identifier: MIT */
/*
** isolate.c: isolate lifetime, options, errors and statistics.
**
** Everything the core knows lives in the isolate: two isolates never share
** state, so they may run in two threads at once.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "slcore.h"

const char *sl_version(void) { return SL_VERSION; }
int sl_abi_version(void) { return SL_ABI_VERSION; }

static const char *const status_names[] = {
  "ok", "no scope", "sealed", "stale handle", "escape", "scope order",
  "other isolate", "heap exhausted", "bad argument", "capacity", "state",
  "corrupt heap", "wrong thread", "callback failed"
};

const char *sl_status_name(sl_status st) {
  if ((unsigned)st < sizeof(status_names) / sizeof(status_names[0]))
    return status_names[st];
  return "unknown status";
}

const char *sl_kind_name(sl_kind k) {
  static const char *const names[] = {
    "?", "integer", "number", "string", "array", "object", "function", "external",
    "properties", "undefined", "null", "boolean", "smi"
  };
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

const char *sl_gc_reason_name(sl_gc_reason r) {
  static const char *const names[] = {
    "?", "requested", "allocation failure", "old generation growth", "external memory",
    "stress"
  };
  return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

sl_status slI_error(sl_isolate *iso, sl_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(iso->msg, sizeof iso->msg, fmt, ap);  // NOLINT(clang-analyzer-valist.Uninitialized): va_start above
  va_end(ap);
  iso->status = st;
  iso->errors++;
  return st;
}

const char *sl_last_error(const sl_isolate *iso) { return iso->msg; }

sl_status sl_set_error(sl_isolate *iso, sl_status st, const char *msg) {
  return slI_error(iso, st, "%s", msg != NULL ? msg : "");
}
sl_status sl_last_status(const sl_isolate *iso) { return iso->status; }

uint64_t slI_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *slI_grow(void *arr, size_t *cap, size_t need, size_t elem, size_t first) {
  size_t n = *cap ? *cap : first;
  while (n < need) {
    if (n > SIZE_MAX / 2 / elem) return NULL;  /* the byte count would overflow */
    n *= 2;
  }
  if (n > SIZE_MAX / elem) return NULL;
  void *p = realloc(arr, n * elem);
  if (p != NULL) *cap = n;
  return p;
}

void sl_options_init(sl_options *o) {
  memset(o, 0, sizeof *o);
  o->young_size = SLC_YOUNG_SIZE;
  o->old_size = SLC_OLD_SIZE;
  o->block_size = SLC_BLOCK_SIZE;
  o->promote_after = SLC_PROMOTE_AFTER;
  o->zap_handles = 1;
  o->external_memory_limit = SLC_EXTERNAL_LIMIT;
  o->heap_growing_factor = SLC_GROWING_FACTOR;
}

/* Zero fields mean "the default", so a caller may set only what it cares about. */
static void fill_defaults(sl_options *o) {
  if (o->young_size == 0) o->young_size = SLC_YOUNG_SIZE;
  if (o->old_size == 0) o->old_size = SLC_OLD_SIZE;
  if (o->block_size == 0) o->block_size = SLC_BLOCK_SIZE;
  if (o->promote_after == 0) o->promote_after = SLC_PROMOTE_AFTER;
  if (o->external_memory_limit == 0) o->external_memory_limit = SLC_EXTERNAL_LIMIT;
  if (o->heap_growing_factor == 0) o->heap_growing_factor = SLC_GROWING_FACTOR;
}

const char *sl_options_check(const sl_options *given) {
  sl_options o = *given;
  fill_defaults(&o);
  if (o.young_size < 4096) return "young_size must be at least 4096 bytes";
  if (o.young_size > ((size_t)1 << 34)) return "young_size must be at most 16 GiB";
  if (o.old_size < 4096) return "old_size must be at least 4096 bytes";
  if (o.old_size > ((size_t)1 << 40)) return "old_size must be at most 1 TiB";
  if (o.block_size < 2) return "block_size must be at least 2";
  if (o.block_size > ((size_t)1 << 24)) return "block_size must be at most 16777216";
  if (o.promote_after > 255) return "promote_after must be at most 255";
  if (o.gc_interval_major < -1 || o.gc_interval_major > 1)
    return "gc_interval_major must be -1, 0 or 1";
  if (!(o.heap_growing_factor >= 1.0 && o.heap_growing_factor <= 1000.0))  /* NaN too */
    return "heap_growing_factor must be between 1 and 1000";
  if (o.external_memory_limit > ((size_t)1 << 50))
    return "external_memory_limit must be at most 1 PiB";
  if (o.gc_at_count > 0 && o.gc_at == NULL) return "gc_at is NULL but gc_at_count is not 0";
  for (size_t i = 1; i < o.gc_at_count; i++)
    if (o.gc_at[i] <= o.gc_at[i - 1]) return "gc_at must be strictly ascending";
  return NULL;
}

/* The allocation count at which the next stress collection is due, 'count'
** allocations having happened (the one under way included). */
void slI_schedule(sl_isolate *iso, uint64_t count) {
  uint64_t t = UINT64_MAX;
  if (iso->opt.gc_interval > 0) t = count + iso->opt.gc_interval;
  while (iso->gc_at_next < iso->opt.gc_at_count && iso->gc_at[iso->gc_at_next] <= count)
    iso->gc_at_next++;
  if (iso->gc_at_next < iso->opt.gc_at_count && iso->gc_at[iso->gc_at_next] < t)
    t = iso->gc_at[iso->gc_at_next];
  iso->stress_trigger = t;
  slI_update_trigger(iso);
}

/* ------------------------------------------------------------------ gate */

void slI_update_trigger(sl_isolate *iso) {
  iso->gc_trigger = (iso->gate != 0 || iso->gc_request != 0) ? 0 : iso->stress_trigger;
}

/* Every fast path to its slow path: no allocation bump (gc_trigger), no handle
** bump (limit at next), no inline open (open_limit) or close (zap bit 2). */
static void divert(sl_isolate *iso) {
  slH_data *hs = &iso->hs;
  iso->gate_limit = hs->limit;
  hs->limit = hs->next;
  hs->open_limit = 0;
  hs->zap |= 2;
}

static void undivert(sl_isolate *iso) {
  slH_data *hs = &iso->hs;
  hs->limit = iso->gate_limit;
  hs->open_limit = hs->watch > 0 ? 0 : hs->cap_scopes;
  hs->zap &= 1;
}

void slI_gate_on(sl_isolate *iso, unsigned mode) {
  if (iso->gate == 0) divert(iso);
  iso->gate |= mode;
  slI_update_trigger(iso);
}

void slI_gate_off(sl_isolate *iso, unsigned mode) {
  unsigned was = iso->gate;
  iso->gate &= ~mode;
  if (was != 0 && iso->gate == 0) undivert(iso);
  slI_update_trigger(iso);
}

sl_status slI_gate_(sl_isolate *iso, unsigned what, const char *op) {
  if ((iso->gate & SLI_GATE_THREAD) && !pthread_equal(pthread_self(), iso->owner))
    return slI_error(iso, SL_ETHREAD, "%s: isolate used from a thread that does not own it",
                     op);
  if (what == SLI_READ) return SL_OK;
  if (iso->gate & SLI_GATE_GC)
    return slI_error(iso, SL_ESTATE, "%s: not allowed inside a collection", op);
  if (iso->gate & SLI_GATE_FIRST_PASS)
    return slI_error(iso, SL_ESTATE, "%s: not allowed in a first-pass weak callback", op);
  return SL_OK;
}

sl_status sl_isolate_set_owner(sl_isolate *iso) {
  if (iso->gate & (SLI_GATE_GC | SLI_GATE_FIRST_PASS))
    return slI_error(iso, SL_ESTATE, "set_owner: not allowed now");
  iso->owner = pthread_self();
  return SL_OK;
}

/* ------------------------------------------------------------------ roots */

/* The read-only roots: four objects in a space of their own, never moved. */
static int make_roots(sl_isolate *iso) {
  static const uint8_t kinds[SLI_NROOTS] = { SL_UNDEFINED, SL_NULL, SL_BOOLEAN, SL_BOOLEAN };
  size_t size = SLO_HEADER + 8;
  iso->ro.start = calloc(SLI_NROOTS, size);
  if (iso->ro.start == NULL) return 0;
  iso->ro.top = iso->ro.end = iso->ro.start + SLI_NROOTS * size;
  for (int i = 0; i < SLI_NROOTS; i++) {
    sl_object *o = (sl_object *)(iso->ro.start + (size_t)i * size);
    o->meta = kinds[i] | SLO_OLD | SLO_READONLY;  /* OLD: the barrier never remembers */
    o->id = SLC_ROOT_ID + (uint64_t)i;
    *(int64_t *)(o + 1) = i == SLI_TRUE;
    iso->roots[i] = o;
  }
  return 1;
}

sl_isolate *sl_isolate_new(const sl_options *opts) {
  sl_options o;
  if (opts == NULL) sl_options_init(&o);
  else o = *opts;
  fill_defaults(&o);
  if (sl_options_check(&o) != NULL) return NULL;
  sl_isolate *iso = calloc(1, sizeof *iso);
  if (iso == NULL) return NULL;
  iso->opt = o;
  if (o.gc_at_count > 0) {
    iso->gc_at = malloc(o.gc_at_count * sizeof *iso->gc_at);
    if (iso->gc_at == NULL) { free(iso); return NULL; }
    memcpy(iso->gc_at, o.gc_at, o.gc_at_count * sizeof *iso->gc_at);
  }
  iso->opt.gc_at = iso->gc_at;
  /* Serials start at a value unique to this isolate's address and time, so a
  ** Local of another isolate is all but certain to fail the stamp check. */
  uint64_t seed = (uint64_t)(uintptr_t)iso ^ slI_now_ns() * 0x9e3779b97f4a7c15ULL;
  seed ^= seed >> 31;
  iso->hs.serial = (seed & (((uint64_t)1 << 40) - 1)) << 2;
  iso->next_id = 1;
  iso->hs.root_stamp = ((seed >> 7) | 1) << SLH_DEPTH_BITS;  /* depth 0, never 0 */
  iso->owner = pthread_self();
  if (!slH_init(iso, o.block_size) || !slM_init(iso) || !make_roots(iso)) {
    slH_free(iso);
    slM_free(iso);
    free(iso->ro.start);
    free(iso->gc_at);
    free(iso);
    return NULL;
  }
  slG_init(iso, (seed >> 17 & (((uint64_t)1 << 40) - 1)) << 8);
  iso->young_mark = iso->young.top;
  slI_schedule(iso, 0);
  if (o.check_thread) slI_gate_on(iso, SLI_GATE_THREAD);
  return iso;
}

sl_status sl_isolate_dispose(sl_isolate *iso) {
  if (iso == NULL) return SL_OK;
  if (iso->in_gc || iso->in_callbacks || iso->in_tasks || iso->in_hooks ||
      iso->calls.depth > 0)
    return slI_error(iso, SL_ESTATE, "cannot dispose the isolate inside a %s",
                     iso->in_gc ? "collection" : iso->in_callbacks ? "weak callback"
                     : iso->in_tasks ? "task" : iso->in_hooks ? "hook" : "call");
  sl_status st = slI_gate(iso, SLI_READ, "dispose");
  if (st != SL_OK) return st;
  slT_free(iso);
  slC_free(iso);
  slP_free(iso);
  free(iso->ro.start);
  slG_free(iso);
  slH_free(iso);
  slM_free(iso);
  free(iso->gc_at);
  free(iso);
  return SL_OK;
}

void sl_set_gc_hook(sl_isolate *iso, sl_gc_hook hook, void *ud) {
  iso->gc_hook = hook;
  iso->gc_ud = ud;
}

void sl_set_move_hook(sl_isolate *iso, sl_move_hook hook, void *ud) {
  iso->move_hook = hook;
  iso->move_ud = ud;
}

void sl_heap_stats_of(const sl_isolate *iso, sl_heap_stats *out) {
  *out = iso->st;
  out->handles = sl_number_of_handles(iso);
  out->scope_depth = slH_depth(&iso->hs);
  out->scope_level = slH_level(&iso->hs, out->scope_depth);
  out->blocks = iso->hs.nblocks;
  out->spare_blocks = iso->hs.spare != NULL;
  out->block_size = iso->hs.block_size;
  out->young_used = (size_t)(iso->young.top - iso->young.start);
  out->young_size = (size_t)(iso->young.end - iso->young.start);
  out->old_used = (size_t)(iso->old.top - iso->old.start);
  out->old_size = (size_t)(iso->old.end - iso->old.start);
  out->weak_handles = iso->gh.weak;
  out->probes = iso->gh.probes;
  out->eternal_handles = iso->gh.neternals;
  out->remembered = iso->nremembered;
  out->allocations = iso->next_id - 1;
  out->bytes_allocated = iso->bytes_allocated + (uint64_t)(iso->young.top - iso->young_mark);
  out->persistent_handles = slG_count_persistent(iso);  /* counted: only a stats call */
  out->external_memory = iso->external;
  out->pending_tasks = iso->tasks.n;
  out->names = iso->names.live;
}

sl_status sl_verify_heap(sl_isolate *iso) {
  return slV_verify(iso);
}
