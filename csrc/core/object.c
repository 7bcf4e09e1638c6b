/* SPDX-License-Identifier: MIT */
/*
** object.c: values: the primitive heap objects (integers, numbers, strings,
** arrays, externals), Smis and the read-only roots; their constructors and
** accessors. Objects with properties live in props.c, functions in calls.c.
**
** A slot holds a tagged value: an object, a Smi (no object: the value is in
** the slot, so nothing is allocated, collected or moved), or NULL (empty).
** The read-only roots (undefined, null, true, false) are objects outside every
** space; Locals of them are bound to the isolate's root slots, as V8 hands out
** v8::Undefined without creating a handle.
**
** A constructor reserves the Local slot before it allocates: the allocation
** may collect (and run nothing else), and the empty reserved slot is simply
** skipped by the collectors. Weak callbacks queued by such a collection run
** only once the new object is safely in its slot.
*/
#include <stdlib.h>

#include "slcore.h"

void slO_info(sl_isolate *iso, sl_object *o, sl_object_info *out) {
  sl_kind k = SLO_KIND(o);
  out->id = o->id;
  out->kind = k;
  out->generation = slM_is_young(iso, o) ? SL_YOUNG : SL_OLD;  /* read-only: old */
  out->size = slO_size(o);
  out->length = (k == SL_STRING || k == SL_ARRAY || k == SL_OBJECT || k == SL_PROPERTIES)
                ? o->length : 0;
  out->address = (uintptr_t)o;
}

/* The kind of a slot value (a Smi has no header to read). */
static sl_kind kind_of(const sl_object *v) {
  return SL__IS_SMI(v) ? SL_SMI : SLO_KIND(v);
}

/* ------------------------------------------------------------------ create */

/* An allocation failed, possibly after collections that queued weak callbacks
** (the inline allocators cannot run them): run them, keep the failure. */
static SL_NOINLINE sl_status failed(sl_isolate *iso) {
  sl_status st = iso->status != SL_OK ? iso->status : SL_ENOMEM;
  slM_settle(iso, st);  /* a failure stays the failure it was */
  return st;
}

/* Inlined into each constructor: a call here cost a third of an allocation. */
static inline SL_ALWAYS_INLINE sl_status new_object(sl_isolate *iso, sl_kind kind,
                                                           size_t length, sl_local *out,
                                                           sl_object **obj) {
  *obj = NULL;
  sl_status st = slH_push(iso, NULL, out);
  if (st != SL_OK) return st;
  size_t size = slO_size_for(kind, length);
  sl_object *o = size <= iso->large_size ? slM_allocate(iso, size)
                                         : slM_allocate_slow(iso, size);
  if (o == NULL) {
    if (iso->hs.next == out->slot + 1) iso->hs.next--;  /* give the slot back */
    *out = SL_EMPTY_LOCAL;
    return failed(iso);
  }
  o->meta = (uint32_t)kind | (slM_is_old(iso, o) ? SLO_OLD : 0u);  /* large: born old */
  o->length = (uint32_t)length;
  o->id = iso->next_id++;
  if (!slM_is_young(iso, o)) iso->bytes_allocated += size;  /* young: counted by 'top' */
  *out->slot = o;
  *obj = o;
  return SL_OK;
}

sl_status slO_new(sl_isolate *iso, sl_kind kind, size_t length, sl_local *out,
                  sl_object **obj) {
  return new_object(iso, kind, length, out, obj);
}

/* The object is initialised and rooted: queued weak callbacks may run now. A
** callback may close the scope that owns the new Local (or close it and open
** another): the caller must not get a Local that no longer names the object. */
sl_status slO_created(sl_isolate *iso, const sl_local *out, const char *op) {
  if (sl_likely(iso->gh.npending == 0)) return SL_OK;
  sl_status st = slM_run_callbacks(iso);
  if (st == SL_OK && !sl__live(SL__HS(iso), *out))
    return slI_error(iso, SL_ESTALE, "%s: a weak callback closed the scope the new "
                     "handle was made in", op);
  return st;
}

sl_status sl__integer_slow(sl_isolate *iso, int64_t v, sl_local *out) {
  sl_object *o = NULL;
  sl_status st = new_object(iso, SL_INTEGER, 0, out, &o);
  if (st != SL_OK) return st;
  *slO_integer(o) = v;
  return slO_created(iso, out, "integer");
}

sl_status sl__number_slow(sl_isolate *iso, double v, sl_local *out) {
  sl_object *o = NULL;
  sl_status st = new_object(iso, SL_NUMBER, 0, out, &o);
  if (st != SL_OK) return st;
  *slO_number(o) = v;
  return slO_created(iso, out, "number");
}

sl_status sl_string(sl_isolate *iso, const char *bytes, size_t len, sl_local *out) {
  if (len >= SLO_MAX_LENGTH)
    return slI_error(iso, SL_EARG, "string: too long (%zu bytes)", len);
  if (bytes == NULL && len > 0) return slI_error(iso, SL_EARG, "string: NULL bytes");
  /* Bytes of another string (sl_string_value) may move with the allocation:
  ** copy them out of the heap first. */
  char *tmp = NULL;
  if (len > 0 && (slM_in(&iso->young, bytes) || slM_in(&iso->old, bytes))) {
    tmp = malloc(len);
    if (tmp == NULL) return slI_error(iso, SL_ENOMEM, "string: out of memory");
    bytes = memcpy(tmp, bytes, len);
  }
  sl_object *o = NULL;
  sl_status st = new_object(iso, SL_STRING, len, out, &o);
  if (st == SL_OK) {
    char *b = slO_bytes(o);
    if (len > 0) memcpy(b, bytes, len);
    memset(b + len, 0, SLO_ALIGN(len + 1) - len);  /* NUL and padding */
  }
  free(tmp);
  return st == SL_OK ? slO_created(iso, out, "string") : st;
}

/* An array of n empty elements; queued weak callbacks are left to the caller. */
static sl_status new_array(sl_isolate *iso, size_t n, sl_local *out) {
  if (sl_unlikely(n > iso->max_array))
    return slI_error(iso, SL_ENOMEM, "array: %zu elements cannot fit in the heap", n);
  sl_object *o = NULL;
  sl_status st = new_object(iso, SL_ARRAY, n, out, &o);
  if (st != SL_OK) return st;
  sl_object **s = slO_slots(o);
  if (n <= 4) {  /* the common tiny arrays: stores, not a memset call */
    if (n > 0) s[0] = NULL;
    if (n > 1) s[1] = NULL;
    if (n > 2) s[2] = NULL;
    if (n > 3) s[3] = NULL;
  } else {
    memset(s, 0, n * sizeof *s);
  }
  return SL_OK;
}

sl_status sl__array_slow(sl_isolate *iso, size_t n, sl_local *out) {
  sl_status st = new_array(iso, n, out);
  return st == SL_OK ? slO_created(iso, out, "array") : st;
}

/* The elements are checked before anything changes and read after the
** allocation, which may move them; the new Local is written last, as 'out'
** may be one of 'elems'. An array born old (large) runs the barrier. Weak
** callbacks queued by the allocation run only once the array is filled: one
** could close the scope of 'a' or of the elements. */
sl_status sl__array_from_slow(sl_isolate *iso, size_t n, const sl_local *elems, sl_local *out) {
  sl_object *o;
  sl_local a = SL_EMPTY_LOCAL;
  for (size_t i = 0; i < n; i++) {
    sl_status st = elems[i].slot == NULL ? SL_OK : slH_check(iso, elems[i], "array");
    if (st != SL_OK) return st;
  }
  sl_status st = new_array(iso, n, &a);
  if (st != SL_OK || a.slot == NULL) return st;  /* a failure leaves 'a' empty */
  o = *a.slot;
  for (size_t i = 0; i < n; i++) {
    sl_object *v = elems[i].slot != NULL ? *elems[i].slot : NULL;
    if (!slM_barrier(iso, o, v)) {
      *a.slot = NULL;  /* the new array's slot is emptied (garbage now); *out untouched */
      return slI_error(iso, SL_ENOMEM, "array: out of memory for the remembered set");
    }
    slO_slots(o)[i] = v;
  }
  *out = a;
  return slO_created(iso, out, "array");
}

/* ------------------------------------------------------------------ access */

/* The value a live Local holds: an object, a Smi or a read-only root. */
static inline sl_status get_value(sl_isolate *iso, sl_local h, const char *op, sl_object **o) {
  sl_status st = slH_check(iso, h, op);
  if (sl_likely(st == SL_OK)) *o = *h.slot;
  return st;
}

/* The object a live Local holds; a Smi is refused. */
static inline sl_status get(sl_isolate *iso, sl_local h, const char *op, sl_object **o) {
  sl_status st = get_value(iso, h, op, o);
  if (sl_likely(st == SL_OK) && sl_unlikely(SL__IS_SMI(*o)))
    return slI_error(iso, SL_EARG, "%s: a Smi is not a heap object", op);
  return st;
}

static SL_NOINLINE sl_status kind_error(sl_isolate *iso, const sl_object *v, sl_kind k,
                                        const char *op) {
  return slI_error(iso, SL_EARG, "%s: %s expected, got %s", op, sl_kind_name(k),
                   sl_kind_name(kind_of(v)));
}

sl_status slO_get_kind(sl_isolate *iso, sl_local h, sl_kind k, const char *op,
                       sl_object **o) {
  sl_status st = get_value(iso, h, op, o);
  if (sl_likely(st == SL_OK) && sl_unlikely(kind_of(*o) != k))
    return kind_error(iso, *o, k, op);
  return st;
}

sl_status sl_kind_of(sl_isolate *iso, sl_local h, sl_kind *out) {
  sl_object *o;
  sl_status st = get_value(iso, h, "kind", &o);
  if (st == SL_OK) *out = kind_of(o);
  return st;
}

/* ------------------------------------------------------------------ smis, roots */

sl_status sl__smi_slow(sl_isolate *iso, int32_t v, sl_local *out) {
  if (v < SL_SMI_MIN || v > SL_SMI_MAX)
    return slI_error(iso, SL_EARG, "smi: %ld is out of range (%d .. %d)", (long)v,
                     SL_SMI_MIN, SL_SMI_MAX);
  return slH_push(iso, SL__SMI(v), out);
}

sl_status sl_smi_value(sl_isolate *iso, sl_local h, int32_t *out) {
  sl_object *o;
  sl_status st = slO_get_kind(iso, h, SL_SMI, "smi_value", &o);
  if (st == SL_OK) *out = SL__SMI_VALUE(o);
  return st;
}

static sl_local root_local(sl_isolate *iso, int k) {
  sl_local h;
  h.slot = &iso->roots[k];
  h.stamp = iso->hs.root_stamp;
  return h;
}

sl_local sl_undefined(sl_isolate *iso) { return root_local(iso, SLI_UNDEFINED); }
sl_local sl_null(sl_isolate *iso) { return root_local(iso, SLI_NULL); }
sl_local sl_boolean(sl_isolate *iso, int b) { return root_local(iso, b ? SLI_TRUE : SLI_FALSE); }

sl_status sl_boolean_value(sl_isolate *iso, sl_local h, int *out) {
  sl_object *o;
  sl_status st = slO_get_kind(iso, h, SL_BOOLEAN, "boolean_value", &o);
  if (st == SL_OK) *out = o == iso->roots[SLI_TRUE];
  return st;
}

int sl_is_nullish(sl_isolate *iso, sl_local h) {
  sl_object *o;
  if (get_value(iso, h, "is_nullish", &o) != SL_OK) return 0;
  return o == iso->roots[SLI_UNDEFINED] || o == iso->roots[SLI_NULL];
}

/* ------------------------------------------------------------------ externals */

sl_status sl_external_new(sl_isolate *iso, void *p, sl_local *out) {
  sl_object *o = NULL;
  sl_status st = new_object(iso, SL_EXTERNAL, 0, out, &o);
  if (st != SL_OK) return st;
  *(void **)(void *)(o + 1) = p;  /* a raw word: never followed */
  return slO_created(iso, out, "external");
}

sl_status sl_external_value(sl_isolate *iso, sl_local h, void **out) {
  sl_object *o;
  sl_status st = slO_get_kind(iso, h, SL_EXTERNAL, "external_value", &o);
  if (st == SL_OK) *out = *(void **)(void *)(o + 1);
  return st;
}

sl_status sl_integer_value(sl_isolate *iso, sl_local h, int64_t *out) {
  sl_object *o;
  sl_status st = slO_get_kind(iso, h, SL_INTEGER, "integer_value", &o);
  if (st == SL_OK) *out = *slO_integer(o);
  return st;
}

sl_status sl_number_value(sl_isolate *iso, sl_local h, double *out) {
  sl_object *o;
  sl_status st = slO_get_kind(iso, h, SL_NUMBER, "number_value", &o);
  if (st == SL_OK) *out = *slO_number(o);
  return st;
}

sl_status sl_string_value(sl_isolate *iso, sl_local h, const char **bytes, size_t *len) {
  sl_object *o;
  sl_status st = slO_get_kind(iso, h, SL_STRING, "string_value", &o);
  if (st == SL_OK) {
    *bytes = slO_bytes(o);
    *len = o->length;
  }
  return st;
}

sl_status sl_array_length(sl_isolate *iso, sl_local h, size_t *out) {
  sl_object *o;
  sl_status st = slO_get_kind(iso, h, SL_ARRAY, "array_length", &o);
  if (st == SL_OK) *out = o->length;
  return st;
}

static sl_status in_range(sl_isolate *iso, sl_object *a, size_t i, const char *op) {
  if (i >= a->length)
    return slI_error(iso, SL_EARG, "%s: index %zu out of range (length %u)", op, i,
                     (unsigned)a->length);
  return SL_OK;
}

sl_status sl__array_get_slow(sl_isolate *iso, sl_local a, size_t i, sl_local *out) {
  sl_object *o;
  sl_status st = slO_get_kind(iso, a, SL_ARRAY, "get", &o);
  if (st == SL_OK) st = in_range(iso, o, i, "get");
  if (st != SL_OK) return st;
  sl_object *v = slO_slots(o)[i];
  if (v == NULL) {
    *out = SL_EMPTY_LOCAL;
    return SL_OK;
  }
  return slH_push(iso, v, out);
}

/* Every check first; then the Locals one by one, so a handle-creation failure
** (no scope, sealed, capacity) leaves the ones made so far and the rest empty. */
sl_status sl__array_unpack_slow(sl_isolate *iso, sl_local a, size_t i, size_t n,
                                sl_local *out) {
  sl_object *o;
  sl_status st = slO_get_kind(iso, a, SL_ARRAY, "unpack", &o);
  if (st == SL_OK && (n > o->length || i > o->length - n))
    st = slI_error(iso, SL_EARG, "unpack: elements %zu..%zu out of range (length %u)", i,
                   i + n - 1, (unsigned)o->length);
  if (st != SL_OK) return st;
  for (size_t k = 0; k < n; k++) out[k] = SL_EMPTY_LOCAL;
  for (size_t k = 0; k < n; k++) {
    sl_object *v = slO_slots(o)[i + k];
    if (v != NULL && (st = slH_push(iso, v, &out[k])) != SL_OK) return st;
  }
  return SL_OK;
}

sl_status sl__array_set_slow(sl_isolate *iso, sl_local a, size_t i, sl_local v) {
  sl_object *o, *val = NULL;
  sl_status st = slO_get_kind(iso, a, SL_ARRAY, "set", &o);
  if (st == SL_OK) st = in_range(iso, o, i, "set");
  if (st == SL_OK && v.slot != NULL) st = get_value(iso, v, "set", &val);
  if (st != SL_OK) return st;
  if (!slM_barrier(iso, o, val))
    return slI_error(iso, SL_ENOMEM, "set: out of memory for the remembered set");
  slO_slots(o)[i] = val;
  return SL_OK;
}

sl_status sl__identity_slow(sl_isolate *iso, sl_local h, uint64_t *out) {
  sl_object *o;
  sl_status st = get(iso, h, "id", &o);
  if (st == SL_OK) *out = o->id;
  return st;
}

sl_status sl_address(sl_isolate *iso, sl_local h, uintptr_t *out) {
  sl_object *o;
  sl_status st = get(iso, h, "address", &o);
  if (st == SL_OK) *out = (uintptr_t)o;
  return st;
}

sl_status sl_generation_of(sl_isolate *iso, sl_local h, sl_generation *out) {
  sl_object *o;
  sl_status st = get(iso, h, "generation", &o);
  if (st == SL_OK) *out = slM_is_young(iso, o) ? SL_YOUNG : SL_OLD;  /* read-only: old */
  return st;
}

sl_status sl_same(sl_isolate *iso, sl_local a, sl_local b, int *out) {
  sl_object *x = NULL, *y = NULL;
  sl_status st = SL_OK;
  if (a.slot != NULL) st = get_value(iso, a, "same", &x);
  if (st == SL_OK && b.slot != NULL) st = get_value(iso, b, "same", &y);
  if (st == SL_OK) *out = x == y;
  return st;
}
