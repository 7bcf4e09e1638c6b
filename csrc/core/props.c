/* SPDX-License-Identifier: MIT */
/*
** props.c: objects with named properties and internal fields (V8's JSObject),
** and the name table behind their keys.
**
** An object is a header, one slot for its property store, then its internal
** fields. The store is a heap object of its own (kind PROPERTIES: a Smi count,
** then key/value pairs in insertion order), replaced by one twice as large
** when full, as V8 grows an object's out-of-object property backing store.
** Keys are internalized strings ("names", V8's string table): one object per
** content, allocated in old space, so a lookup with a name compares pointers
** and a scavenge never has to visit the table. The table is weak: a full
** collection drops the names nothing refers to and follows the moved ones.
**
** Internal fields hold values (traced like elements) or aligned native
** pointers stored with tag 2, which no collector follows, as V8 stores
** embedder pointers so that the GC reads them as Smis.
**
** Every store runs the write barrier: for a property the holder is the store,
** for an internal field the object itself. Nothing here holds a raw pointer
** across an allocation: objects are re-read from their Locals after each one.
*/
#include <stdlib.h>

#include "slcore.h"

/* ------------------------------------------------------------------ names */

static uint32_t hash_bytes(const char *b, size_t n) {
  uint32_t h = 2166136261u;  /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)b[i]) * 16777619u;
  return h;
}

static int same_bytes(sl_object *s, const char *b, size_t n) {
  return s->length == n && (n == 0 || memcmp(slO_bytes(s), b, n) == 0);
}

/* The table index holding this content, or where to put it (*found = 0). */
static size_t find_name(const slP_data *t, const char *b, size_t n, int *found) {
  size_t mask = t->cap - 1, i = hash_bytes(b, n) & mask, free_at = SIZE_MAX;
  for (;; i = (i + 1) & mask) {
    sl_object *o = t->slots[i];
    if (o == NULL) {
      *found = 0;
      return free_at != SIZE_MAX ? free_at : i;
    }
    if (o == SLP_TOMBSTONE) {
      if (free_at == SIZE_MAX) free_at = i;
    } else if (same_bytes(o, b, n)) {
      *found = 1;
      return i;
    }
  }
}

/* The name with this content, or NULL: never allocates. */
static sl_object *lookup_name(const sl_isolate *iso, const char *b, size_t n) {
  int found = 0;
  if (iso->names.cap == 0) return NULL;
  size_t i = find_name(&iso->names, b, n, &found);
  return found ? iso->names.slots[i] : NULL;
}

/* Room for one more entry: rehashed into a table of at least twice the live
** names (tombstones dropped) when three quarters are used. */
static int names_room(sl_isolate *iso) {
  slP_data *t = &iso->names;
  if ((t->used + 1) * 4 < t->cap * 3) return 1;
  size_t cap = 16;
  while (cap < (t->live + 1) * 2) cap *= 2;
  sl_object **slots = calloc(cap, sizeof *slots);
  if (slots == NULL) return 0;
  slP_data nt = { slots, cap, 0, 0 };
  for (size_t i = 0; i < t->cap; i++) {
    sl_object *o = t->slots[i];
    if (o == NULL || o == SLP_TOMBSTONE) continue;
    int found;
    nt.slots[find_name(&nt, slO_bytes(o), o->length, &found)] = o;
    nt.used++;
    nt.live++;
  }
  free(t->slots);
  *t = nt;
  return 1;
}

/* The name for these bytes, made (in old space) if new. 'b' must not point
** into the heap: the allocation may move it. NULL with the error set. */
static sl_object *intern(sl_isolate *iso, const char *b, size_t n) {
  sl_object *o = lookup_name(iso, b, n);
  if (o != NULL) return o;
  if (n >= SLO_MAX_LENGTH) return slI_error(iso, SL_EARG, "name: too long (%zu bytes)", n), NULL;
  size_t size = slO_size_for(SL_STRING, n);
  o = slM_allocate_old(iso, size);
  if (o == NULL) return NULL;
  if (!names_room(iso))  /* after the allocation: a collection may have emptied the table */
    return slI_error(iso, SL_ENOMEM, "out of memory for the name table"), NULL;
  o->meta = SL_STRING | SLO_OLD | SLO_INTERNED;
  o->length = (uint32_t)n;
  o->id = iso->next_id++;
  iso->bytes_allocated += size;
  if (n > 0) memcpy(slO_bytes(o), b, n);
  memset(slO_bytes(o) + n, 0, SLO_ALIGN(n + 1) - n);
  int found;
  size_t i = find_name(&iso->names, b, n, &found);
  if (iso->names.slots[i] == NULL) iso->names.used++;
  iso->names.slots[i] = o;
  iso->names.live++;
  return o;
}

void slP_free(sl_isolate *iso) {
  free(iso->names.slots);
  memset(&iso->names, 0, sizeof iso->names);
}

void slP_process_names(sl_isolate *iso, int (*is_live)(sl_isolate *, sl_object *),
                       sl_object *(*forward)(sl_isolate *, sl_object *)) {
  slP_data *t = &iso->names;
  for (size_t i = 0; i < t->cap; i++) {
    sl_object *o = t->slots[i];
    if (o == NULL || o == SLP_TOMBSTONE) continue;
    if (is_live(iso, o)) {
      t->slots[i] = forward(iso, o);
    } else {
      t->slots[i] = SLP_TOMBSTONE;
      t->live--;
    }
  }
}

int slP_is_listed(const sl_isolate *iso, const sl_object *o) {
  return lookup_name(iso, slO_bytes((sl_object *)o), o->length) == o;
}

/* Bytes of a key that may live in the heap, copied out of it (short ones on
** the caller's stack) so that an allocation cannot move them. */
typedef struct key_copy {
  char small[64];
  char *bytes;
  size_t len;
} key_copy;

static sl_status copy_bytes(sl_isolate *iso, const char *b, size_t n, key_copy *k) {
  k->len = n;
  k->bytes = n <= sizeof k->small ? k->small : malloc(n);
  if (k->bytes == NULL) return slI_error(iso, SL_ENOMEM, "out of memory for a key");
  if (n > 0) memcpy(k->bytes, b, n);
  return SL_OK;
}

/* 'b' itself when it lies outside the heap, else a copy. */
static sl_status outside_heap(sl_isolate *iso, const char *b, size_t n, key_copy *k) {
  if (n == 0 || !(slM_in(&iso->young, b) || slM_in(&iso->old, b))) {
    k->bytes = (char *)b;
    k->len = n;
    return SL_OK;
  }
  return copy_bytes(iso, b, n, k);
}

static void free_key(key_copy *k) {
  if (k->bytes != k->small) free(k->bytes);
}

sl_status sl_name(sl_isolate *iso, const char *bytes, size_t len, sl_local *out) {
  if (bytes == NULL && len > 0) return slI_error(iso, SL_EARG, "name: NULL bytes");
  key_copy k;
  sl_status st = outside_heap(iso, bytes, len, &k);
  if (st == SL_OK) st = slH_push(iso, NULL, out);  /* the slot first: the name may collect */
  if (st != SL_OK) {
    if (k.bytes != bytes) free_key(&k);
    return st;
  }
  sl_object *o = intern(iso, k.bytes, len);
  if (k.bytes != bytes) free_key(&k);
  if (o == NULL) {
    if (iso->hs.next == out->slot + 1) iso->hs.next--;  /* give the slot back */
    *out = SL_EMPTY_LOCAL;
    return iso->status;
  }
  *out->slot = o;
  return slO_created(iso, out, "name");
}

/* ------------------------------------------------------------------ objects */

sl_status sl_object_new(sl_isolate *iso, int internal_fields, sl_local *out) {
  if (internal_fields < 0 || internal_fields > SL_MAX_INTERNAL_FIELDS)
    return slI_error(iso, SL_EARG, "object: %d internal fields (0 to %d allowed)",
                     internal_fields, SL_MAX_INTERNAL_FIELDS);
  sl_object *o = NULL;
  sl_status st = slO_new(iso, SL_OBJECT, (size_t)internal_fields, out, &o);
  if (st != SL_OK) return st;
  sl_object **s = slO_slots(o);
  s[0] = NULL;  /* no property store until the first property */
  for (int i = 0; i < internal_fields; i++) s[1 + i] = iso->roots[SLI_UNDEFINED];
  return slO_created(iso, out, "object");
}

/* The object 'h' holds. */
static sl_status get_object(sl_isolate *iso, sl_local h, const char *op, sl_object **o) {
  return slO_get_kind(iso, h, SL_OBJECT, op, o);
}

/* A value to store: an empty Local stores undefined. */
static sl_status get_stored(sl_isolate *iso, sl_local v, const char *op, sl_object **out) {
  if (v.slot == NULL) {
    *out = iso->roots[SLI_UNDEFINED];
    return SL_OK;
  }
  sl_status st = slH_check(iso, v, op);
  if (st == SL_OK) *out = *v.slot;
  return st;
}

/* A name remembers where it was last found (scopelab_internal.h): the inline
** lookups try that pair first. Names are old, so the age byte is free. */
static void set_hint(sl_object *name, size_t k) {
  SLO_SET_AGE(name, k < 255 ? k : 255);
}

/* The pair index of a key in o's store: by identity for a name, else by
** content; -1 when absent. */
static ptrdiff_t find_key(sl_object *o, const sl_object *name, const char *b, size_t n) {
  sl_object *props = slO_slots(o)[0];
  if (props == NULL) return -1;
  size_t count = slO_prop_count(props);
  sl_object **pairs = slO_prop_pairs(props);
  for (size_t k = 0; k < count; k++) {
    sl_object *key = pairs[2 * k];
    if (name != NULL ? key == name : same_bytes(key, b, n)) {
      set_hint(key, k);
      return (ptrdiff_t)k;
    }
  }
  return -1;
}

/* A raw object with no Local (a property store): the caller stores it at
** once, before anything else allocates. */
static sl_object *alloc_raw(sl_isolate *iso, sl_kind kind, size_t length) {
  size_t size = slO_size_for(kind, length);
  sl_object *o = size <= iso->large_size ? slM_allocate(iso, size)
                                         : slM_allocate_slow(iso, size);
  if (o == NULL) return NULL;
  o->meta = (uint32_t)kind | (slM_is_old(iso, o) ? SLO_OLD : 0u);
  o->length = (uint32_t)length;
  o->id = iso->next_id++;
  if (!slM_is_young(iso, o)) iso->bytes_allocated += size;
  return o;
}

/* Makes room for one more property in the object 'ol' holds: a store twice
** as large, filled with the old pairs. Objects move: re-read after it. */
static sl_status grow_store(sl_isolate *iso, sl_local ol, const char *op) {
  sl_object *props = slO_slots(*ol.slot)[0];
  size_t cap = props == NULL ? 0 : (props->length - 1) / 2;
  if (props != NULL && slO_prop_count(props) < cap) return SL_OK;
  size_t ncap = cap < 2 ? 4 : cap * 2;
  if (ncap > (SLO_MAX_LENGTH - 1) / 2)
    return slI_error(iso, SL_ENOMEM, "%s: too many properties", op);
  sl_object *store = alloc_raw(iso, SL_PROPERTIES, 1 + 2 * ncap);
  if (store == NULL) return iso->status;
  sl_object *o = *ol.slot;  /* the allocation may have moved both */
  props = slO_slots(o)[0];
  size_t count = props == NULL ? 0 : slO_prop_count(props);
  sl_object **to = slO_slots(store);
  to[0] = SL__SMI(count);
  if (count > 0) memcpy(to + 1, slO_prop_pairs(props), 2 * count * sizeof *to);
  memset(to + 1 + 2 * count, 0, 2 * (ncap - count) * sizeof *to);
  /* The pairs may be young: a store born old is remembered like any holder. */
  for (size_t i = 0; i < 2 * count && !(store->meta & SLO_REMEMBERED); i++)
    if (!slM_barrier(iso, store, to[1 + i]))
      return slI_error(iso, SL_ENOMEM, "%s: out of memory for the remembered set", op);
  if (!slM_barrier(iso, o, store))
    return slI_error(iso, SL_ENOMEM, "%s: out of memory for the remembered set", op);
  slO_slots(o)[0] = store;
  return SL_OK;
}

/* Stores v in pair k of o's store. */
static sl_status store_value(sl_isolate *iso, sl_object *o, size_t k, sl_object *v,
                             const char *op) {
  sl_object *props = slO_slots(o)[0];
  if (!slM_barrier(iso, props, v))
    return slI_error(iso, SL_ENOMEM, "%s: out of memory for the remembered set", op);
  slO_prop_pairs(props)[2 * k + 1] = v;
  return SL_OK;
}


/* o[b] := v for a key given by content ('b' outside the heap). */
static sl_status set_bytes(sl_isolate *iso, sl_local ol, const char *b, size_t n,
                           sl_local vl, const char *op) {
  sl_object *o, *v;
  sl_status st = get_object(iso, ol, op, &o);
  if (st == SL_OK) st = get_stored(iso, vl, op, &v);
  if (st != SL_OK) return st;
  ptrdiff_t k = find_key(o, NULL, b, n);
  if (k >= 0) return store_value(iso, o, (size_t)k, v, op);
  if (slI_gate(iso, SLI_ALLOC, op) != SL_OK) return iso->status;
  /* A new key: the store first, then the name (both may collect); the object
  ** keeps the store alive, and nothing allocates between the name and its use.
  ** Weak callbacks those collections queued run once the store is done. */
  st = grow_store(iso, ol, op);
  sl_object *name = st == SL_OK ? intern(iso, b, n) : NULL;
  if (name == NULL) return slM_settle(iso, st != SL_OK ? st : iso->status);
  o = *ol.slot;
  v = vl.slot != NULL ? *vl.slot : iso->roots[SLI_UNDEFINED];
  sl_object *props = slO_slots(o)[0];
  size_t count = slO_prop_count(props);
  if (!slM_barrier(iso, props, name))
    return slM_settle(iso, slI_error(iso, SL_ENOMEM, "%s: out of memory for the remembered set", op));
  slO_prop_pairs(props)[2 * count] = name;
  slO_slots(props)[0] = SL__SMI(count + 1);
  set_hint(name, count);
  return slM_settle(iso, store_value(iso, o, count, v, op));
}

/* The key a Local holds, by identity when it is a name. */
static sl_status get_key(sl_isolate *iso, sl_local key, const char *op, sl_object **k) {
  return slO_get_kind(iso, key, SL_STRING, op, k);
}

static int is_name(const sl_object *s) { return (s->meta & SLO_INTERNED) != 0; }

sl_status sl__object_set_slow(sl_isolate *iso, sl_local o, sl_local key, sl_local v) {
  sl_object *obj, *k, *val;
  sl_status st = get_object(iso, o, "set", &obj);
  if (st == SL_OK) st = get_key(iso, key, "set", &k);
  if (st == SL_OK) st = get_stored(iso, v, "set", &val);
  if (st != SL_OK) return st;
  ptrdiff_t at = is_name(k) ? find_key(obj, k, NULL, 0)
                            : find_key(obj, NULL, slO_bytes(k), k->length);
  if (at >= 0) return store_value(iso, obj, (size_t)at, val, "set");
  key_copy kc;
  if (copy_bytes(iso, slO_bytes(k), k->length, &kc) != SL_OK) return iso->status;
  st = set_bytes(iso, o, kc.bytes, kc.len, v, "set");
  free_key(&kc);
  return st;
}

sl_status sl_object_set_named(sl_isolate *iso, sl_local o, const char *key, size_t len,
                              sl_local v) {
  key_copy kc;
  if (key == NULL && len > 0) return slI_error(iso, SL_EARG, "set: NULL key");
  if (outside_heap(iso, key, len, &kc) != SL_OK) return iso->status;
  sl_status st = set_bytes(iso, o, kc.bytes, kc.len, v, "set");
  if (kc.bytes != key) free_key(&kc);
  return st;
}

/* The pair index of 'key' (a Local of a string) in o, or -1. */
static sl_status find_local_key(sl_isolate *iso, sl_local ol, sl_local key, const char *op,
                                sl_object **o, ptrdiff_t *at) {
  sl_object *k;
  sl_status st = get_object(iso, ol, op, o);
  if (st == SL_OK) st = get_key(iso, key, op, &k);
  if (st == SL_OK)
    *at = is_name(k) ? find_key(*o, k, NULL, 0) : find_key(*o, NULL, slO_bytes(k), k->length);
  return st;
}

static sl_status find_named_key(sl_isolate *iso, sl_local ol, const char *key, size_t len,
                                const char *op, sl_object **o, ptrdiff_t *at) {
  if (key == NULL && len > 0) return slI_error(iso, SL_EARG, "%s: NULL key", op);
  sl_status st = get_object(iso, ol, op, o);
  if (st == SL_OK) *at = find_key(*o, NULL, key, len);
  return st;
}

/* The value of pair 'at' of o as a new Local; undefined when absent. */
static sl_status push_value(sl_isolate *iso, sl_object *o, ptrdiff_t at, sl_local *out) {
  sl_object *v = at < 0 ? iso->roots[SLI_UNDEFINED]
                        : slO_prop_pairs(slO_slots(o)[0])[2 * at + 1];
  return slH_push(iso, v, out);
}

sl_status sl__object_get_slow(sl_isolate *iso, sl_local o, sl_local key, sl_local *out) {
  sl_object *obj = NULL;
  ptrdiff_t at = -1;
  sl_status st = find_local_key(iso, o, key, "get", &obj, &at);
  return st == SL_OK ? push_value(iso, obj, at, out) : st;
}

sl_status sl_object_get_named(sl_isolate *iso, sl_local o, const char *key, size_t len,
                              sl_local *out) {
  sl_object *obj = NULL;
  ptrdiff_t at = -1;
  sl_status st = find_named_key(iso, o, key, len, "get", &obj, &at);
  return st == SL_OK ? push_value(iso, obj, at, out) : st;
}

sl_status sl_object_has(sl_isolate *iso, sl_local o, sl_local key, int *out) {
  sl_object *obj;
  ptrdiff_t at = -1;
  sl_status st = find_local_key(iso, o, key, "has", &obj, &at);
  if (st == SL_OK) *out = at >= 0;
  return st;
}

sl_status sl_object_has_named(sl_isolate *iso, sl_local o, const char *key, size_t len,
                              int *out) {
  sl_object *obj;
  ptrdiff_t at = -1;
  sl_status st = find_named_key(iso, o, key, len, "has", &obj, &at);
  if (st == SL_OK) *out = at >= 0;
  return st;
}

/* Removes pair 'at', keeping the others in insertion order. */
static void remove_pair(sl_object *o, ptrdiff_t at) {
  sl_object *props = slO_slots(o)[0];
  size_t count = slO_prop_count(props);
  sl_object **pairs = slO_prop_pairs(props);
  memmove(pairs + 2 * at, pairs + 2 * at + 2, 2 * (count - 1 - (size_t)at) * sizeof *pairs);
  pairs[2 * (count - 1)] = pairs[2 * (count - 1) + 1] = NULL;
  slO_slots(props)[0] = SL__SMI(count - 1);
}

sl_status sl_object_delete(sl_isolate *iso, sl_local o, sl_local key, int *out) {
  sl_object *obj;
  ptrdiff_t at = -1;
  sl_status st = find_local_key(iso, o, key, "delete", &obj, &at);
  if (st != SL_OK) return st;
  if (at >= 0) remove_pair(obj, at);
  if (out != NULL) *out = 1;  /* V8's Object::Delete: true, present or not */
  return SL_OK;
}

sl_status sl_object_delete_named(sl_isolate *iso, sl_local o, const char *key, size_t len,
                                 int *out) {
  sl_object *obj;
  ptrdiff_t at = -1;
  sl_status st = find_named_key(iso, o, key, len, "delete", &obj, &at);
  if (st != SL_OK) return st;
  if (at >= 0) remove_pair(obj, at);
  if (out != NULL) *out = 1;
  return SL_OK;
}

sl_status sl_object_property_count(sl_isolate *iso, sl_local o, size_t *out) {
  sl_object *obj;
  sl_status st = get_object(iso, o, "property_count", &obj);
  if (st == SL_OK) *out = slO_slots(obj)[0] ? slO_prop_count(slO_slots(obj)[0]) : 0;
  return st;
}

sl_status sl_object_key_at(sl_isolate *iso, sl_local o, size_t i, sl_local *out) {
  sl_object *obj;
  size_t n = 0;
  sl_status st = sl_object_property_count(iso, o, &n);
  if (st != SL_OK) return st;
  if (i >= n) return slI_error(iso, SL_EARG, "key_at: index %zu out of range (%zu keys)", i, n);
  obj = *o.slot;
  return slH_push(iso, slO_prop_pairs(slO_slots(obj)[0])[2 * i], out);
}

sl_status sl_object_keys(sl_isolate *iso, sl_local o, sl_local *out) {
  size_t n = 0;
  sl_local a;
  sl_status st = sl_object_property_count(iso, o, &n);
  if (st == SL_OK) st = sl_array(iso, n, &a);
  if (st != SL_OK) return st;
  sl_object *obj = *o.slot, *arr = *a.slot;  /* after the allocation */
  /* Names are old: an array born young needs no barrier for them, one born
  ** old (large) refers only to old objects. */
  for (size_t i = 0; i < n; i++) slO_slots(arr)[i] = slO_prop_pairs(slO_slots(obj)[0])[2 * i];
  *out = a;
  return SL_OK;
}

/* ------------------------------------------------------------------ fields */

static sl_status get_field(sl_isolate *iso, sl_local h, int i, const char *op,
                           sl_object **o) {
  sl_status st = get_object(iso, h, op, o);
  if (st == SL_OK && (i < 0 || (uint32_t)i >= (*o)->length))
    return slI_error(iso, SL_EARG, "%s: internal field %d out of range (%u fields)", op, i,
                     (unsigned)(*o)->length);
  return st;
}

sl_status sl_object_internal_field_count(sl_isolate *iso, sl_local o, int *out) {
  sl_object *obj;
  sl_status st = get_object(iso, o, "internal_field_count", &obj);
  if (st == SL_OK) *out = (int)obj->length;
  return st;
}

sl_status sl_object_set_internal_field(sl_isolate *iso, sl_local o, int i, sl_local v) {
  sl_object *obj, *val;
  sl_status st = get_field(iso, o, i, "set_internal_field", &obj);
  if (st == SL_OK) st = get_stored(iso, v, "set_internal_field", &val);
  if (st != SL_OK) return st;
  if (!slM_barrier(iso, obj, val))
    return slI_error(iso, SL_ENOMEM, "set_internal_field: out of memory for the remembered set");
  slO_slots(obj)[1 + i] = val;
  return SL_OK;
}

sl_status sl_object_get_internal_field(sl_isolate *iso, sl_local o, int i, sl_local *out) {
  sl_object *obj;
  sl_status st = get_field(iso, o, i, "get_internal_field", &obj);
  if (st != SL_OK) return st;
  sl_object *v = slO_slots(obj)[1 + i];
  if (slO_is_pointer(v))
    return slI_error(iso, SL_EARG, "get_internal_field: field %d holds an aligned pointer", i);
  return slH_push(iso, v, out);
}

sl_status sl_object_set_aligned_pointer(sl_isolate *iso, sl_local o, int i, void *p) {
  sl_object *obj;
  sl_status st = get_field(iso, o, i, "set_aligned_pointer", &obj);
  if (st != SL_OK) return st;
  if (((uintptr_t)p & SL__TAG_MASK) != 0)
    return slI_error(iso, SL_EARG, "set_aligned_pointer: %p is not 4-byte aligned", p);
  slO_slots(obj)[1 + i] = p == NULL ? iso->roots[SLI_UNDEFINED]
                                    : (sl_object *)((uintptr_t)p | SLO_POINTER_TAG);
  return SL_OK;
}

sl_status sl_object_get_aligned_pointer(sl_isolate *iso, sl_local o, int i, void **out) {
  sl_object *obj;
  sl_status st = get_field(iso, o, i, "get_aligned_pointer", &obj);
  if (st != SL_OK) return st;
  sl_object *v = slO_slots(obj)[1 + i];
  if (slO_is_pointer(v)) *out = (void *)((uintptr_t)v & ~SL__TAG_MASK);
  else if (v == iso->roots[SLI_UNDEFINED]) *out = NULL;
  else return slI_error(iso, SL_EARG, "get_aligned_pointer: field %d holds a value", i);
  return SL_OK;
}
