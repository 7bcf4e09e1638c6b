/* SPDX-License-Identifier: MIT */
/*
** scopelab_internal.h: the layout behind scopelab.h's inline calls, and their
** bodies. Included by scopelab.h; never include it on its own.
**
** V8 keeps the same kind of thing in v8-internal.h (its Internals): the fields
** an inline fast path must read to stay a pointer bump and a store. Everything
** here is named sl__ / SL__ and may change with every release: use the calls of
** scopelab.h. The core's own definitions (csrc/core/slcore.h) mirror these
** structs, and _Static_asserts there keep the two equal; a change here is an
** ABI change (bump SL_ABI_VERSION and SL__LAYOUT_FINGERPRINT).
*/
#ifndef SCOPELAB_INTERNAL_H
#define SCOPELAB_INTERNAL_H

#if !defined(SCOPELAB_H)
#error "include scopelab.h, not scopelab_internal.h"
#endif

#if defined(__SSE2__) && defined(__x86_64__) && !defined(SL_NO_SIMD)
#include <emmintrin.h>  /* sl__put_local: a Local in one store */
#endif

#ifdef __cplusplus
extern "C" {
#endif
/* Compiled with -DSL_CHECKED, every inline call takes its out-of-line path,
** where all of the isolate's checks run (check_thread's among them). */
#if defined(SL_CHECKED)
#define SL__FAST 0
#else
#define SL__FAST 1
#endif

/* ------------------------------------------------------------------ layout */

/* One open scope on the isolate's scope stack: what its close restores. */
typedef struct sl__scope_record {
  /* Saved fields are not laid out in the order of their sources: a compiler
  ** would otherwise copy next/limit as one 16-byte load, which stalls on the
  ** 8-byte store of 'next' by the previous close (store forwarding). */
  uint64_t stamp;             /* this scope's serial << 20 | depth: Locals made
                                 in it carry it, and so does its token */
  sl_object **prev_next;      /* restored on close; an escapable scope's slot,
                                 reserved just before, is prev_next[-1] */
  uint64_t meta;              /* kind (bits 0-7), SL__SCOPE_* flags, site << 32 */
  sl_object **prev_limit;
} sl__scope_record;           /* 32 bytes: a shift finds the record of a depth */

#define SL__SCOPE_KIND 0xffu
#define SL__SCOPE_ESCAPED (1u << 8)   /* the escape slot has been filled */
#define SL__SCOPE_CHECKED (1u << 9)   /* capacity-checked */
#define SL__SCOPE_WATCHED (1u << 10)  /* the handle watch fired for it */

/* Everything the inline paths read. The depth is the stamp's low bits, so
** opening a scope writes its record, the serial and the stamp, and closing
** restores next and the stamp: V8's three words plus the stale-Local check. */
#define SL__HANDLE_DATA_FIELDS                                                  \
  sl_object **next, **limit;  /* the live slots end at 'next' */                \
  uint64_t stamp;             /* the innermost scope's stamp (0: none open) */  \
  sl__scope_record *scopes;   /* depth d is scopes[d - 1]; scopes[-1] is a   */ \
                              /* sentinel whose stamp is 0 */                   \
  uint64_t serial;            /* last scope serial handed out */                \
  uint32_t open_limit;        /* scopes open inline while depth < open_limit */ \
  int zap;                    /* zap freed slots: close takes the slow path */

typedef struct sl__handle_data { SL__HANDLE_DATA_FIELDS } sl__handle_data;

/* A semispace: objects are bumped in at 'top'. */
typedef struct sl__space { char *start, *top, *end; } sl__space;

/* The start of every isolate: what the allocation and handle fast paths touch. */
typedef struct sl__isolate_head {
  sl__space young;            /* from-space: where new objects are allocated */
  uint64_t gc_trigger;        /* stress: collect before the object whose
                                 identity reaches it */
  uint64_t next_id;           /* the identity of the next object; identities
                                 count allocations from 1 */
  sl__handle_data hs;         /* last: the isolate's own handle data continues it */
} sl__isolate_head;

#define SL__HS(iso) (&((sl__isolate_head *)(iso))->hs)

#define SL__DEPTH_BITS 20
#define SL__DEPTH_MASK ((((uint64_t)1) << SL__DEPTH_BITS) - 1)

/* An object's header (csrc/core/slcore.h has the same layout). */
typedef struct sl__object_header {
  uint32_t meta;              /* kind (bits 0-7), flags (8-15), age (16-23) */
  uint32_t length;            /* string bytes or array slots */
  uint64_t id;
} sl__object_header;

#define SL__KIND_MASK 0xffu

/* A slot holds a tagged value (V8's tagging, with the tags swapped because our
** object pointers are plain addresses): an object pointer (8-byte aligned, low
** bits 00), a Smi (value << 1 | 1), or, in an internal field only, an aligned
** native pointer (p | 2) that no collector follows. NULL is an empty slot. */
#define SL__TAG_MASK ((uintptr_t)3)
#define SL__IS_SMI(v) (((uintptr_t)(v) & 1u) != 0)
#define SL__IS_OBJECT(v) ((v) != NULL && ((uintptr_t)(v) & SL__TAG_MASK) == 0)
#define SL__SMI(i) ((sl_object *)(((uintptr_t)(intptr_t)(i) << 1) | 1u))
#define SL__SMI_VALUE(v) ((int32_t)((intptr_t)(uintptr_t)(v) >> 1))
#define SL__REMEMBERED (1u << 10)  /* an old array in the remembered set */
#define SL__OLD (1u << 11)         /* lives in the old generation */
#define SL__INTERNED (1u << 12)    /* a string in the name table: a property key */

SL_API sl_status sl__local_new_slow(sl_isolate *iso, sl_local h, sl_local *out);
SL_API sl_status sl__scope_open_slow(sl_isolate *iso, sl_scope *out);
SL_API sl_status sl__scope_close_slow(sl_scope *s);
SL_API sl_status sl__escapable_scope_open_slow(sl_isolate *iso, sl_scope *out);
SL_API sl_status sl__scope_escape_slow(sl_scope *s, sl_local h, sl_local *out);
SL_API sl_status sl__array_get_slow(sl_isolate *iso, sl_local a, size_t i, sl_local *out);
SL_API sl_status sl__array_set_slow(sl_isolate *iso, sl_local a, size_t i, sl_local v);

SL_API sl_status sl__integer_slow(sl_isolate *iso, int64_t v, sl_local *out);
SL_API sl_status sl__smi_slow(sl_isolate *iso, int32_t v, sl_local *out);
SL_API sl_status sl__identity_slow(sl_isolate *iso, sl_local h, uint64_t *out);
SL_API sl_status sl__object_get_slow(sl_isolate *iso, sl_local o, sl_local key, sl_local *out);
SL_API sl_status sl__object_set_slow(sl_isolate *iso, sl_local o, sl_local key, sl_local v);
SL_API sl_status sl__number_slow(sl_isolate *iso, double v, sl_local *out);
SL_API sl_status sl__array_slow(sl_isolate *iso, size_t n, sl_local *out);
SL_API sl_status sl__array_from_slow(sl_isolate *iso, size_t n, const sl_local *elems, sl_local *out);
SL_API sl_status sl__array_unpack_slow(sl_isolate *iso, sl_local a, size_t i, size_t n, sl_local *out);

/* For the fast paths a compiler would otherwise call out of line: inlined, a
** constant 'n' unrolls them and the Locals passed stay in registers. */
#if defined(__GNUC__)
#define SL__ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define SL__ALWAYS_INLINE static inline
#endif

/* Writes a Local as one 16-byte store where the target has one: callers copy
** the struct they just got with a 16-byte load, which cannot be forwarded from
** two 8-byte stores and stalls until they reach the cache (binary-trees lost a
** quarter of its time to that). SL_NO_SIMD selects plain stores (the static
** analysers cannot see fields written by a vector store). */
static inline void sl__put_local(sl_local *out, sl_object **slot, uint64_t stamp) {
#if defined(__SSE2__) && defined(__x86_64__) && !defined(SL_NO_SIMD)
  _mm_storeu_si128((__m128i *)(void *)out,
                   _mm_set_epi64x((long long)stamp, (long long)(uintptr_t)slot));
#else
  out->slot = slot;
  out->stamp = stamp;
#endif
}

/* Allocation fast path: a slot in the innermost scope and a bump in the young
** semispace. NULL (nothing changed) when either is full or a stress
** collection is due: the slow path handles those. */
static inline sl__object_header *sl__bump(sl_isolate *iso, size_t size, uint32_t kind,
                                          uint32_t length, sl_local *out) {
  sl__isolate_head *h = (sl__isolate_head *)iso;
  sl_object **s = h->hs.next;
  char *p = h->young.top;
  if (!SL__FAST || s == h->hs.limit || (size_t)(h->young.end - p) < size ||
      h->next_id >= h->gc_trigger)
    return NULL;
  sl__object_header *o = (sl__object_header *)p;
  h->young.top = p + size;
  o->meta = kind;
  o->length = length;
  o->id = h->next_id++;
  *s = (sl_object *)o;
  h->hs.next = s + 1;
  sl__put_local(out, s, h->hs.stamp);
  return o;
}

static inline sl_status sl_integer(sl_isolate *iso, int64_t v, sl_local *out) {
  sl__object_header *o = sl__bump(iso, sizeof *o + 8, SL_INTEGER, 0, out);
  if (o == NULL) return sl__integer_slow(iso, v, out);
  *(int64_t *)(void *)(o + 1) = v;
  return SL_OK;
}

static inline sl_status sl_number(sl_isolate *iso, double v, sl_local *out) {
  sl__object_header *o = sl__bump(iso, sizeof *o + 8, SL_NUMBER, 0, out);
  if (o == NULL) return sl__number_slow(iso, v, out);
  *(double *)(void *)(o + 1) = v;
  return SL_OK;
}

/* A Smi is a store into the slot: no allocation at all. */
static inline sl_status sl_smi(sl_isolate *iso, int32_t v, sl_local *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (SL__FAST && s != hs->limit && v >= SL_SMI_MIN && v <= SL_SMI_MAX) {
    *s = SL__SMI(v);
    hs->next = s + 1;
    sl__put_local(out, s, hs->stamp);
    return SL_OK;
  }
  return sl__smi_slow(iso, v, out);
}

/* Fills the n <= 4 elements of a new small array. The stores are spelled
** out: a loop here compiles to a memset call. */
static inline void sl__fill_small(sl__object_header *o, size_t n, sl_object *v0,
                                  sl_object *v1, sl_object *v2, sl_object *v3) {
  sl_object **e = (sl_object **)(void *)(o + 1);
  if (n > 0) e[0] = v0;
  if (n > 1) e[1] = v1;
  if (n > 2) e[2] = v2;
  if (n > 3) e[3] = v3;
}

/* Small arrays inline; larger ones (and every failure) out of line. */
static inline sl_status sl_array(sl_isolate *iso, size_t n, sl_local *out) {
  sl__object_header *o = n <= 4 ? sl__bump(iso, sizeof *o + n * sizeof(sl_object *),
                                           SL_ARRAY, (uint32_t)n, out) : NULL;
  if (o == NULL) return sl__array_slow(iso, n, out);
  sl__fill_small(o, n, NULL, NULL, NULL, NULL);
  return SL_OK;
}


#define SL__STAMP_DEPTH(st) ((uint32_t)((st) & SL__DEPTH_MASK))

/* A non-empty Local whose scope is still open (the object is not checked): the
** record at its depth must be open and still carry its stamp. Most Locals
** belong to the innermost scope, whose stamp the isolate holds. With no scope
** open that stamp is 0, which a Local with a zeroed stamp must not match (d). */
static inline int sl__live(const sl__handle_data *hs, sl_local h) {
  uint32_t d = SL__STAMP_DEPTH(h.stamp);
  return h.slot != NULL &&
         ((h.stamp == hs->stamp && d != 0) ||
          (d - 1u < SL__STAMP_DEPTH(hs->stamp) && hs->scopes[d - 1].stamp == h.stamp));
}

/* Creating a Local: check the source's stamp, then a pointer bump and a store. */
static inline sl_status sl_local_new(sl_isolate *iso, sl_local h, sl_local *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (SL__FAST && s != hs->limit && sl__live(hs, h) && *h.slot != NULL) {
    *s = *h.slot;
    hs->next = s + 1;
    sl__put_local(out, s, hs->stamp);
    return SL_OK;
  }
  return sl__local_new_slow(iso, h, out);
}

/* Pushes a scope record saving next/limit under a fresh stamp (no checks). */
static inline sl__scope_record *sl__push_scope(sl__handle_data *hs, sl_isolate *iso,
                                               uint8_t kind, sl_scope *out) {
  uint32_t d = SL__STAMP_DEPTH(hs->stamp);
  sl__scope_record *r = &hs->scopes[d];
  uint64_t stamp = (++hs->serial << SL__DEPTH_BITS) | (d + 1);
  r->stamp = stamp;
  r->prev_next = hs->next;
  r->meta = kind;
  r->prev_limit = hs->limit;
  hs->stamp = stamp;
  out->iso = iso;
  out->stamp = stamp;
  return r;
}

/* Opening a scope: save next/limit on the scope stack under a new stamp. */
static inline sl_status sl_scope_open(sl_isolate *iso, sl_scope *out) {
  sl__handle_data *hs = SL__HS(iso);
  if (!SL__FAST || SL__STAMP_DEPTH(hs->stamp) >= hs->open_limit)
    return sl__scope_open_slow(iso, out);
  sl__push_scope(hs, iso, SL_SCOPE_HANDLE, out);
  return SL_OK;
}

/* Opening an escapable scope: reserve the escape slot in the parent, then open.
** A full block, no open scope or a sealed level (next == limit) take the slow path. */
static inline sl_status sl_escapable_scope_open(sl_isolate *iso, sl_scope *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (!SL__FAST || s == hs->limit || SL__STAMP_DEPTH(hs->stamp) >= hs->open_limit)
    return sl__escapable_scope_open_slow(iso, out);
  *s = NULL;
  hs->next = s + 1;
  sl__push_scope(hs, iso, SL_SCOPE_ESCAPABLE, out);
  return SL_OK;
}

/* Escaping: copy the object into the slot reserved in the parent; the new
** Local carries the parent's stamp. */
static inline sl_status sl_scope_escape(sl_scope *s, sl_local h, sl_local *out) {
  sl__handle_data *hs = SL__HS(s->iso);
  uint32_t d = SL__STAMP_DEPTH(s->stamp);
  if (SL__FAST && d - 1u < SL__STAMP_DEPTH(hs->stamp) && sl__live(hs, h) && *h.slot != NULL) {
    sl__scope_record *r = &hs->scopes[d - 1];
    if (r->stamp == s->stamp &&
        (r->meta & (SL__SCOPE_KIND | SL__SCOPE_ESCAPED)) == SL_SCOPE_ESCAPABLE) {
      sl_object **slot = r->prev_next - 1;
      *slot = *h.slot;
      r->meta |= SL__SCOPE_ESCAPED;
      sl__put_local(out, slot, r[-1].stamp);
      return SL_OK;
    }
  }
  return sl__scope_escape_slow(s, h, out);
}

/* The object a Local that passed sl__live refers to, NULL for an empty one. */
#define SL__DEREF(h) ((h).slot != NULL ? *(h).slot : NULL)

/* An array holding the objects of 'elems' (V8's Array::New with elements):
** one check per element, no barrier (the array is new). Small ones inline. */
SL__ALWAYS_INLINE sl_status sl_array_from(sl_isolate *iso, size_t n, const sl_local *elems,
                                          sl_local *out) {
  const sl__handle_data *hs = SL__HS(iso);
  if (SL__FAST && n <= 4) {
    size_t i;
    for (i = 0; i < n; i++)
      if (elems[i].slot != NULL && (!sl__live(hs, elems[i]) || *elems[i].slot == NULL)) break;
    if (i == n) {
      /* read first: 'out' may be one of 'elems' (the inline bump moves nothing) */
      sl_object *v0 = n > 0 ? SL__DEREF(elems[0]) : NULL, *v1 = n > 1 ? SL__DEREF(elems[1]) : NULL;
      sl_object *v2 = n > 2 ? SL__DEREF(elems[2]) : NULL, *v3 = n > 3 ? SL__DEREF(elems[3]) : NULL;
      sl__object_header *o = sl__bump(iso, sizeof *o + n * sizeof(sl_object *), SL_ARRAY,
                                      (uint32_t)n, out);
      if (o != NULL) {
        sl__fill_small(o, n, v0, v1, v2, v3);
        return SL_OK;
      }
    }
  }
  return sl__array_from_slow(iso, n, elems, out);
}

/* Reading an element: a new Local in the innermost scope (empty for an empty one). */
static inline sl_status sl_array_get(sl_isolate *iso, sl_local a, size_t i, sl_local *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (SL__FAST && s != hs->limit && sl__live(hs, a)) {
    const sl__object_header *o = (const sl__object_header *)*a.slot;
    if (SL__IS_OBJECT(o) && (o->meta & SL__KIND_MASK) == SL_ARRAY && i < o->length) {
      sl_object *v = ((sl_object *const *)(o + 1))[i];
      if (v == NULL) {
        sl__put_local(out, NULL, 0);
        return SL_OK;
      }
      *s = v;
      hs->next = s + 1;
      sl__put_local(out, s, hs->stamp);
      return SL_OK;
    }
  }
  return sl__array_get_slow(iso, a, i, out);
}

/* Reading n <= 4 elements: one check of 'a', then a slot per non-empty element. */
SL__ALWAYS_INLINE sl_status sl_array_unpack(sl_isolate *iso, sl_local a, size_t i, size_t n,
                                            sl_local *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (SL__FAST && n <= 4 && (size_t)(hs->limit - s) >= n && sl__live(hs, a)) {
    const sl__object_header *o = (const sl__object_header *)*a.slot;
    if (SL__IS_OBJECT(o) && (o->meta & SL__KIND_MASK) == SL_ARRAY && n <= o->length &&
        i <= o->length - n) {
      sl_object *const *e = (sl_object *const *)(const void *)(o + 1) + i;
      uint64_t stamp = hs->stamp;
      for (size_t k = 0; k < n; k++) {
        if (e[k] == NULL) {
          sl__put_local(&out[k], NULL, 0);
        } else {
          *s = e[k];
          sl__put_local(&out[k], s, stamp);
          s++;
        }
      }
      hs->next = s;
      return SL_OK;
    }
  }
  return sl__array_unpack_slow(iso, a, i, n, out);
}

/* Writing an element; only an old array that gets a young value and is not yet
** remembered needs the write barrier's slow path (a Smi is no object, and the
** read-only roots carry SL__OLD). */
static inline sl_status sl_array_set(sl_isolate *iso, sl_local a, size_t i, sl_local v) {
  sl__handle_data *hs = SL__HS(iso);
  if (SL__FAST && sl__live(hs, a) && (v.slot == NULL || sl__live(hs, v))) {
    sl__object_header *o = (sl__object_header *)*a.slot;
    const sl__object_header *val = v.slot ? (const sl__object_header *)*v.slot : NULL;
    if (SL__IS_OBJECT(o) && (o->meta & SL__KIND_MASK) == SL_ARRAY && i < o->length &&
        (v.slot == NULL || val != NULL) &&
        (val == NULL || SL__IS_SMI(val) || !(o->meta & SL__OLD) || (val->meta & SL__OLD) ||
         (o->meta & SL__REMEMBERED))) {
      sl_object **elements = (sl_object **)(void *)(o + 1);
      elements[i] = (sl_object *)val;  // cppcheck-suppress unreadVariable ; the heap keeps it
      return SL_OK;
    }
  }
  return sl__array_set_slow(iso, a, i, v);
}

/* Closing the innermost scope that grew no block: restore next and the stamp.
** A closed token no longer matches the stamp: closing it again is an error. */
static inline sl_status sl_scope_close(sl_scope *s) {
  sl__handle_data *hs = SL__HS(s->iso);
  if (SL__FAST && s->stamp == hs->stamp && !hs->zap) {
    /* signed: a zeroed token with no scope open lands on the sentinel */
    sl__scope_record *r = hs->scopes + ((ptrdiff_t)SL__STAMP_DEPTH(s->stamp) - 1);
    if ((r->meta & SL__SCOPE_KIND) != SL_SCOPE_SEAL && hs->limit == r->prev_limit) {
      hs->next = r->prev_next;
      hs->stamp = r[-1].stamp;
      return SL_OK;
    }
  }
  return sl__scope_close_slow(s);
}

static inline uint32_t sl_scope_token_depth(const sl_scope *s) {
  return SL__STAMP_DEPTH(s->stamp);
}

static inline uint64_t sl_scope_token_serial(const sl_scope *s) {
  return s->stamp >> SL__DEPTH_BITS;
}


/* Reading an identity: the header's id word of a live Local's object. */
static inline sl_status sl_identity(sl_isolate *iso, sl_local h, uint64_t *out) {
  if (SL__FAST && sl__live(SL__HS(iso), h)) {
    const sl__object_header *o = (const sl__object_header *)*h.slot;
    if (SL__IS_OBJECT(o)) {
      *out = o->id;
      return SL_OK;
    }
  }
  return sl__identity_slow(iso, h, out);
}

/* An object (SL_OBJECT) keeps its property store in its first slot: a Smi
** count, then key/value pairs. A name (always old, so its age byte is free)
** keeps in that byte the pair index it was last stored at: objects built the
** same way hold their keys in the same order, so the hint usually hits at
** once, as an inline cache does in V8. The value slot of 'k' (a name) in the
** object 'o' holds, or NULL when absent or not simple (the slow path decides). */
#define SL__NAME_HINT(k) (((k)->meta >> 16) & 0xffu)
static inline sl_object **sl__find_property(const sl__object_header *o,
                                            const sl__object_header *k) {
  if (!SL__IS_OBJECT(o) || (o->meta & SL__KIND_MASK) != SL_OBJECT || !SL__IS_OBJECT(k) ||
      !(k->meta & SL__INTERNED))
    return NULL;
  sl_object *store = ((sl_object *const *)(const void *)(o + 1))[0];
  if (store == NULL) return NULL;
  sl_object **slots = (sl_object **)(void *)((sl__object_header *)(void *)store + 1);
  size_t count = (size_t)SL__SMI_VALUE(slots[0]), hint = SL__NAME_HINT(k);
  if (hint < count && slots[1 + 2 * hint] == (const sl_object *)(const void *)k)
    return &slots[2 + 2 * hint];
  for (size_t i = 0; i < count; i++)
    if (slots[1 + 2 * i] == (const sl_object *)(const void *)k) return &slots[2 + 2 * i];
  return NULL;
}

/* Reading a property by name: both Locals checked, the pairs scanned by
** identity, and a pointer bump for the new Local. */
static inline sl_status sl_object_get(sl_isolate *iso, sl_local o, sl_local key,
                                      sl_local *out) {
  sl__handle_data *hs = SL__HS(iso);
  sl_object **s = hs->next;
  if (SL__FAST && s != hs->limit && sl__live(hs, o) && sl__live(hs, key)) {
    sl_object **v = sl__find_property((const sl__object_header *)*o.slot,
                                      (const sl__object_header *)*key.slot);
    if (v != NULL) {
      *s = *v;
      hs->next = s + 1;
      sl__put_local(out, s, hs->stamp);
      return SL_OK;
    }
  }
  return sl__object_get_slow(iso, o, key, out);
}

/* Writing a property that exists, by name: the write barrier's fast test on
** the store (the holder of the value slot), as sl_array_set runs it. */
static inline sl_status sl_object_set(sl_isolate *iso, sl_local o, sl_local key, sl_local v) {
  sl__handle_data *hs = SL__HS(iso);
  if (SL__FAST && sl__live(hs, o) && sl__live(hs, key) && sl__live(hs, v)) {
    sl_object **slot = sl__find_property((const sl__object_header *)*o.slot,
                                         (const sl__object_header *)*key.slot);
    const sl__object_header *val = (const sl__object_header *)*v.slot;
    if (slot != NULL && val != NULL) {
      const sl__object_header *store =
        (const sl__object_header *)((sl_object *const *)(const void *)
                                    ((const sl__object_header *)*o.slot + 1))[0];
      if (SL__IS_SMI(val) || !(store->meta & SL__OLD) || (val->meta & SL__OLD) ||
          (store->meta & SL__REMEMBERED)) {
        *slot = (sl_object *)val;
        return SL_OK;
      }
    }
  }
  return sl__object_set_slow(iso, o, key, v);
}

#ifdef __cplusplus
}
#endif

#endif
