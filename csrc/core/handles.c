/* SPDX-License-Identifier: MIT */
/*
** handles.c: Local handles in block-allocated scopes, V8's way.
**
** The isolate keeps V8's HandleScopeData {next, limit} and, instead of V8's
** level, the innermost scope's stamp. Handles are slots in blocks of
** 'block_size' slots; creating one stores into '*next' and bumps it, and only
** when 'next' meets 'limit' does the slow path (slH_extend) run: it refuses
** when no scope is open or the innermost is a seal scope (V8's level ==
** sealed_level), enforces capacity-checked scopes and the handle watch, takes
** the rest of the last block, or pushes a new block.
**
** Opening a scope pushes a record with the saved next/limit onto the scope
** stack under a fresh stamp; closing restores them, pops the blocks allocated
** past the restored limit (keeping one spare) and zaps the freed slots.
**
** Our addition to V8: every Local carries a stamp (its scope's serial and
** depth), so a Local whose scope closed is reported as stale even after its
** slot was reused, instead of being silently read. The stamp's depth bits
** are the stack depth, so V8's level is not kept: it is counted when asked.
*/
#include <stdlib.h>

#include "slcore.h"

int slH_init(sl_isolate *iso, size_t block_size) {
  slH_data *hs = &iso->hs;
  hs->block_size = block_size;
  hs->zap = iso->opt.zap_handles != 0;
  hs->cap_scopes = 16;
  hs->scope_base = calloc(hs->cap_scopes + 1, sizeof *hs->scope_base);
  if (hs->scope_base != NULL) {
    /* The sentinel below depth 1: closing the outermost scope restores its
    ** stamp (0, no scope), and it reads as a seal so nothing closes it. */
    hs->scope_base->meta = SL_SCOPE_SEAL;
    hs->scopes = hs->scope_base + 1;
  }
  hs->open_limit = hs->cap_scopes;
  hs->side = malloc(hs->cap_scopes * sizeof *hs->side);
  hs->cap_blocks = 8;
  hs->blocks = malloc(hs->cap_blocks * sizeof *hs->blocks);
  return hs->scopes != NULL && hs->side != NULL && hs->blocks != NULL;
}

void slH_free(sl_isolate *iso) {
  slH_data *hs = &iso->hs;
  for (size_t i = 0; i < hs->nblocks; i++) free(hs->blocks[i]);
  free(hs->spare);
  free(hs->blocks);
  free(hs->scope_base);
  free(hs->side);
  free(hs->seals);
  memset(hs, 0, sizeof *hs);
}

/* With 'zap_handles', freed slots read as SLC_ZAP_VALUE in a debugger. */
static void zap(const slH_data *hs, sl_object **from, sl_object **to) {
  if (hs->zap & 1)
    for (; from < to; from++) *from = (sl_object *)SLC_ZAP_VALUE;
}

/* ------------------------------------------------------------------ blocks */

static sl_object **get_spare_or_new_block(sl_isolate *iso) {
  sl_object **b = iso->hs.spare;
  if (b != NULL) {
    iso->hs.spare = NULL;
    return b;
  }
  return malloc(iso->hs.block_size * sizeof *b);
}

static void return_block(sl_isolate *iso, sl_object **b) {
  zap(&iso->hs, b, b + iso->hs.block_size);
  free(iso->hs.spare);  /* at most one spare is kept */
  iso->hs.spare = b;
}

/*
** Pops every block past the (already restored) 'limit'. A seal or capacity
** scope may leave 'limit' inside the last block, or at its very start (a
** constructor that failed gave its slot back): that block stays.
*/
static void delete_extensions(sl_isolate *iso) {
  slH_data *hs = &iso->hs;
  sl_object **pl = hs->limit;
  while (hs->nblocks > 0) {
    sl_object **b = hs->blocks[hs->nblocks - 1];
    if (pl != NULL && b <= pl && pl <= b + hs->block_size) break;
    hs->nblocks--;
    return_block(iso, b);
  }
  if (hs->nblocks > 0 && hs->next != NULL)
    zap(hs, hs->next, hs->blocks[hs->nblocks - 1] + hs->block_size);
  sl_assert((hs->nblocks == 0) == (pl == NULL));
}

/* The handle count below slot address 'p' (p is 'next' or a saved 'next'). */
size_t slH_position(const slH_data *hs, sl_object **p) {
  if (p == NULL) return 0;
  for (size_t k = hs->nblocks; k-- > 0;) {
    sl_object **b = hs->blocks[k];
    if (p >= b && p <= b + hs->block_size) return k * hs->block_size + (size_t)(p - b);
  }
  sl_assert(0);
  return 0;
}

size_t slH_position_from(const slH_data *hs, size_t *k, sl_object **p) {
  if (p == NULL) return 0;
  for (; *k < hs->nblocks; ++*k) {
    sl_object **b = hs->blocks[*k];
    if (p >= b && p <= b + hs->block_size) return *k * hs->block_size + (size_t)(p - b);
  }
  return slH_position(hs, p);  /* not rising after all: search from the end */
}

/* Slots below the scope at 'depth': cached after the first time for the scopes
** whose count the slow path asks for at every block (capacity, watch). */
static size_t base_of(slH_data *hs, uint32_t depth) {
  slH_record *r = &hs->scopes[depth - 1];
  if (!(r->meta & SLH_SCOPE_BASE)) {
    hs->side[depth - 1].base = slH_position(hs, r->prev_next);
    r->meta |= SLH_SCOPE_BASE;
  }
  return hs->side[depth - 1].base;
}

size_t sl_number_of_handles(const sl_isolate *iso) {
  const slH_data *hs = &iso->hs;
  if (hs->nblocks == 0) return 0;
  return (hs->nblocks - 1) * hs->block_size +
         (size_t)(hs->next - hs->blocks[hs->nblocks - 1]);
}

/* Slots owned by the scope at 'depth' itself, not by the scopes inside it. */
size_t slH_scope_handles(const sl_isolate *iso, uint32_t depth) {
  const slH_data *hs = &iso->hs;
  sl_object **end = depth == slH_depth(hs) ? hs->next : hs->scopes[depth].prev_next;
  return slH_position(hs, end) - slH_position(hs, hs->scopes[depth - 1].prev_next);
}

/* V8's level at 'depth': the handle scopes open up to it (seal scopes own no
** handles and open no level). Seals are few and always opened and closed out
** of line, so their depths are kept, not the level of every record. */
uint32_t slH_level(const slH_data *hs, uint32_t depth) {
  uint32_t below = 0;
  while (below < hs->nseals && hs->seals[below] <= depth) below++;
  return depth - below;
}

/* The info of the scope at 'depth', but its handle count and level. */
static void fill_record_info(const sl_isolate *iso, uint32_t depth, sl_scope_info *out) {
  const slH_record *r = &iso->hs.scopes[depth - 1];
  out->kind = slH_kind(r);
  out->depth = depth;
  out->serial = r->stamp >> SLH_DEPTH_BITS;
  out->capacity = (r->meta & SL__SCOPE_CHECKED) ? iso->hs.side[depth - 1].capacity : 0;
  out->site = (uint32_t)(r->meta >> 32);
  out->escaped = (r->meta & SL__SCOPE_ESCAPED) != 0;
  out->implicit = (r->meta & SLH_SCOPE_IMPLICIT) != 0;
}

static void fill_info(const sl_isolate *iso, uint32_t depth, sl_scope_info *out) {
  fill_record_info(iso, depth, out);
  out->level = slH_level(&iso->hs, depth);
  out->handles = slH_scope_handles(iso, depth);
}

/* The handle watch fired: tell the embedder once for this scope. */
static void fire_watch(sl_isolate *iso, slH_record *r) {
  r->meta |= SL__SCOPE_WATCHED;
  if (iso->hs.watch_hook != NULL) {
    sl_scope_info info;
    fill_info(iso, (uint32_t)(r - iso->hs.scopes) + 1, &info);
    iso->in_hooks++;  /* the hook may not call the API: dispose is refused */
    iso->hs.watch_hook(iso, &info, iso->hs.watch_ud);
    iso->in_hooks--;
  }
}

/*
** The slow path of handle creation: 'next' reached 'limit'. Returns the slot
** to use, or NULL with the isolate's error set.
*/
/* slH_extend's work once the gate let it through. */
static sl_object **extend(sl_isolate *iso) {
  slH_data *hs = &iso->hs;
  uint32_t depth = slH_depth(hs);
  slH_record *r = hs->scopes + ((ptrdiff_t)depth - 1);  /* depth 0: the sentinel, a seal */
  if (slH_kind(r) == SL_SCOPE_SEAL) {
    uint32_t level = slH_level(hs, depth);
    if (level == 0)                             /* V8: level == sealed_level == 0 */
      return slI_error(iso, SL_ENOSCOPE, "handle: no handle scope is open"), NULL;
    return slI_error(iso, SL_ESEALED, "handle: cannot create a handle in a sealed scope "
                     "(level %u)", (unsigned)level), NULL;
  }
  int checked = (r->meta & SL__SCOPE_CHECKED) != 0;
  int watching = hs->watch > 0 && !(r->meta & SL__SCOPE_WATCHED);
  size_t count = 0, bound = SIZE_MAX;
  if (checked || watching) {
    count = sl_number_of_handles(iso) - base_of(hs, depth);
    if (checked && count >= hs->side[depth - 1].capacity)  /* a refused one is never watched */
      return slI_error(iso, SL_ECAPACITY, "handle: scope at level %u is full (capacity %zu)",
                       (unsigned)slH_level(hs, depth), hs->side[depth - 1].capacity), NULL;
    if (watching && count >= hs->watch) {
      fire_watch(iso, r);
      watching = 0;
    }
    if (checked) bound = hs->side[depth - 1].capacity;
    if (watching && hs->watch < bound) bound = hs->watch;
  }
  int bounded = bound != SIZE_MAX;  /* come back at whichever bound is next */
  if (hs->nblocks > 0) {
    /* A seal or bounded scope may have left room in the last block: use it. */
    hs->limit = hs->blocks[hs->nblocks - 1] + hs->block_size;
  }
  if (hs->next == hs->limit) {
    if (hs->nblocks == hs->cap_blocks) {
      sl_object ***nb = slI_grow(hs->blocks, &hs->cap_blocks, hs->nblocks + 1, sizeof *nb, 8);
      if (nb == NULL)
        return slI_error(iso, SL_ENOMEM, "out of memory for the handle block list"), NULL;
      hs->blocks = nb;
    }
    sl_object **b = get_spare_or_new_block(iso);
    if (b == NULL)
      return slI_error(iso, SL_ENOMEM, "out of memory for a handle block"), NULL;
    hs->blocks[hs->nblocks++] = b;
    hs->next = b;
    hs->limit = b + hs->block_size;
  }
  if (bounded && (size_t)(hs->limit - hs->next) > bound - count)
    hs->limit = hs->next + (bound - count);  /* come back here at the bound */
  return hs->next;
}

sl_object **slH_extend(sl_isolate *iso) {
  slH_data *hs = &iso->hs;
  if (slI_gate(iso, SLI_ALLOC, "handle") != SL_OK) return NULL;
  sl_object **slot = extend(iso);
  if (slot != NULL && iso->gate != 0 && hs->limit > slot + 1)
    hs->limit = slot + 1;  /* still gated: the next creation comes back here */
  return slot;
}

/* ------------------------------------------------------------------ checks */

/* A Local bound to a slot that lives as long as the isolate (v8::Undefined,
** Eternal::Get): the isolate's root stamp and one of its root slots. */
static int root_bound(const sl_isolate *iso, sl_local h) {
  return h.stamp == iso->hs.root_stamp &&
         ((h.slot >= iso->roots && h.slot < iso->roots + SLI_NROOTS) ||
          slG_is_eternal_slot(iso, h.slot));
}

/* Why 'h' is not a usable Local of this isolate (SL_OK if it is). */
sl_status slH_check_slow(sl_isolate *iso, sl_local h, const char *op) {
  const slH_data *hs = &iso->hs;
  sl_status st = slI_gate(iso, SLI_READ, op);
  if (st != SL_OK) return st;
  if (h.slot == NULL) return slI_error(iso, SL_EARG, "%s: empty handle", op);
  uint32_t depth = (uint32_t)(h.stamp & SLH_DEPTH_MASK);
  uint64_t serial = h.stamp >> SLH_DEPTH_BITS;
  if (sl__live(SL__HS(iso), h) || root_bound(iso, h)) {
    if (*h.slot == NULL) return slI_error(iso, SL_EARG, "%s: empty handle", op);
    return SL_OK;
  }
  if (serial > hs->serial || depth == 0)
    return slI_error(iso, SL_EISOLATE, "%s: handle from another isolate", op);
  return slI_error(iso, SL_ESTALE, "%s: handle from a closed scope (depth %u)",
                   op, (unsigned)depth);
}

sl_status sl_local_check(sl_isolate *iso, sl_local h) {
  return slH_check(iso, h, "check");
}

void sl_local_scope(sl_local h, uint32_t *depth, uint64_t *serial) {
  if (depth) *depth = (uint32_t)(h.stamp & SLH_DEPTH_MASK);
  if (serial) *serial = h.stamp >> SLH_DEPTH_BITS;
}

/* ------------------------------------------------------------------ scopes */

/* The inline opens run below this depth: never while the watch is on or the
** gate diverts every open. */
static void set_open_limit(sl_isolate *iso) {
  slH_data *hs = &iso->hs;
  hs->open_limit = hs->watch > 0 || iso->gate != 0 ? 0 : hs->cap_scopes;
}

static SL_NOINLINE int grow_scopes(sl_isolate *iso) {
  slH_data *hs = &iso->hs;
  if (hs->cap_scopes >= SLH_DEPTH_MASK)
    return slI_error(iso, SL_ESTATE, "too many nested scopes (%u)",
                     (unsigned)slH_depth(hs)), 0;
  uint32_t cap = hs->cap_scopes * 2;
  if (cap > SLH_DEPTH_MASK) cap = SLH_DEPTH_MASK;  /* a depth must fit in the stamp */
  slH_side *nc = realloc(hs->side, cap * sizeof *nc);
  if (nc == NULL) return slI_error(iso, SL_ENOMEM, "out of memory for the scope stack"), 0;
  hs->side = nc;
  slH_record *ns = realloc(hs->scope_base, (cap + 1) * sizeof *ns);
  if (ns == NULL) return slI_error(iso, SL_ENOMEM, "out of memory for the scope stack"), 0;
  hs->scope_base = ns;
  hs->scopes = ns + 1;
  hs->cap_scopes = cap;
  set_open_limit(iso);
  return 1;
}

/* Pushes a handle scope's record (the inline open's, after growing the stack). */
static inline slH_record *open_handle_scope(sl_isolate *iso, uint8_t kind, sl_scope *out) {
  if (sl_unlikely(slH_depth(&iso->hs) == iso->hs.cap_scopes) && !grow_scopes(iso)) return NULL;
  return sl__push_scope(SL__HS(iso), iso, kind, out);
}

/* Bounds 'limit' so that the slow path runs when the new scope reaches 'n'. */
static void bound_limit(slH_data *hs, size_t n) {
  if (hs->next != NULL && (size_t)(hs->limit - hs->next) > n) hs->limit = hs->next + n;
}

/* What every out-of-line open asks first. */
static sl_status may_open(sl_isolate *iso) {
  return slI_gate(iso, SLI_ALLOC, "open a scope");
}

/* While gated, opening or closing a scope must not give the inline handle
** path back its room. */
static void keep_diverted(sl_isolate *iso) {
  if (iso->gate != 0) iso->hs.limit = iso->hs.next;
}

sl_status sl__scope_open_slow(sl_isolate *iso, sl_scope *out) {
  if (may_open(iso) != SL_OK) return iso->status;
  if (open_handle_scope(iso, SL_SCOPE_HANDLE, out) == NULL) return iso->status;
  if (iso->hs.watch > 0) bound_limit(&iso->hs, iso->hs.watch);  /* arm the watch */
  return SL_OK;
}

sl_status sl_scope_open_capacity(sl_isolate *iso, size_t capacity, sl_scope *out) {
  if (may_open(iso) != SL_OK) return iso->status;
  slH_record *r = open_handle_scope(iso, SL_SCOPE_HANDLE, out);
  if (r == NULL) return iso->status;
  r->meta |= SL__SCOPE_CHECKED | SLH_SCOPE_BASE;
  iso->hs.side[slH_depth(&iso->hs) - 1] = (slH_side){ capacity, sl_number_of_handles(iso) };
  size_t watch = iso->hs.watch;
  /* The (capacity+1)-th handle, or the watched one if that comes first, takes the
  ** slow path. */
  bound_limit(&iso->hs, watch > 0 && watch < capacity ? watch : capacity);
  return SL_OK;
}

sl_status sl__escapable_scope_open_slow(sl_isolate *iso, sl_scope *out) {
  sl_local slot = SL_EMPTY_LOCAL;
  if (may_open(iso) != SL_OK) return iso->status;
  /* Room for the record first, so a refusal leaves no reserved slot behind. */
  if (slH_depth(&iso->hs) == iso->hs.cap_scopes && !grow_scopes(iso)) return iso->status;
  /* The escape slot belongs to the parent: reserve it before opening, so the
  ** record's saved 'next' is just past it. */
  sl_status st = slH_push(iso, NULL, &slot);
  if (st != SL_OK) return st;
  slH_record *r = open_handle_scope(iso, SL_SCOPE_ESCAPABLE, out);
  if (r == NULL) return iso->status;
  sl_assert(r->prev_next == slot.slot + 1 && r[-1].stamp == slot.stamp);
  if (iso->hs.watch > 0) bound_limit(&iso->hs, iso->hs.watch);
  return SL_OK;
}

sl_status sl_seal_scope_open(sl_isolate *iso, sl_scope *out) {
  slH_data *hs = &iso->hs;
  if (may_open(iso) != SL_OK) return iso->status;
  if (hs->nseals == hs->cap_seals) {
    uint32_t *ns = slI_grow(hs->seals, &hs->cap_seals, hs->nseals + 1, sizeof *ns, 4);
    if (ns == NULL) return slI_error(iso, SL_ENOMEM, "out of memory for the scope stack");
    hs->seals = ns;
  }
  slH_record *r = open_handle_scope(iso, SL_SCOPE_SEAL, out);
  if (r == NULL) return iso->status;
  hs->seals[hs->nseals++] = slH_depth(hs);
  /* Every creation now takes the slow path, which refuses while the seal is
  ** the innermost scope. */
  iso->hs.limit = iso->hs.next;
  return SL_OK;
}

/* The record of an open scope token, or NULL. */
static slH_record *record_of(const sl_scope *s) {
  slH_data *hs = &s->iso->hs;
  uint32_t d = sl_scope_token_depth(s);
  if (d - 1u >= slH_depth(hs) || hs->scopes[d - 1].stamp != s->stamp) return NULL;
  return &hs->scopes[d - 1];
}

int sl_scope_is_open(const sl_scope *s) {
  return s != NULL && s->iso != NULL && record_of(s) != NULL;
}

sl_status sl__scope_close_slow(sl_scope *s) {
  sl_isolate *iso = s->iso;
  slH_data *hs = &iso->hs;
  slH_record *r = record_of(s);
  if (r == NULL) return slI_error(iso, SL_ESTATE, "scope is already closed");
  if (slI_gate(iso, SLI_CLOSE, "close a scope") != SL_OK) return iso->status;
  if (s->stamp != hs->stamp)
    return slI_error(iso, SL_EORDER, "scope at depth %u is not the innermost "
                     "(depth %u is still open)", (unsigned)sl_scope_token_depth(s),
                     (unsigned)slH_depth(hs));
  hs->stamp = r[-1].stamp;
  if (slH_kind(r) == SL_SCOPE_SEAL) {
    sl_assert(hs->next == hs->limit || hs->limit == NULL);
    sl_assert(hs->nseals > 0 && hs->seals[hs->nseals - 1] == slH_depth(hs) + 1);
    hs->nseals--;
    hs->limit = r->prev_limit;
    keep_diverted(iso);
    return SL_OK;
  }
  sl_object **old_next = hs->next;
  hs->next = r->prev_next;
  if (hs->limit != r->prev_limit) {
    hs->limit = r->prev_limit;
    delete_extensions(iso);
  } else {
    zap(hs, hs->next, old_next);
  }
  keep_diverted(iso);
  return SL_OK;
}

sl_status sl__scope_escape_slow(sl_scope *s, sl_local h, sl_local *out) {
  sl_isolate *iso = s->iso;
  if (slI_gate(iso, SLI_READ, "escape") != SL_OK) return iso->status;
  slH_record *r = record_of(s);
  if (r == NULL) return slI_error(iso, SL_EESCAPE, "escape from a closed scope");
  if (slH_kind(r) != SL_SCOPE_ESCAPABLE)
    return slI_error(iso, SL_EESCAPE, "escape from a scope that is not escapable");
  if (r->meta & SL__SCOPE_ESCAPED) return slI_error(iso, SL_EESCAPE, "escape called twice");
  if (h.slot == NULL) {  /* an empty handle escapes as empty */
    r->meta |= SL__SCOPE_ESCAPED;
    *out = SL_EMPTY_LOCAL;
    return SL_OK;
  }
  sl_status st = slH_check(iso, h, "escape");
  if (st != SL_OK) return st;
  out->slot = r->prev_next - 1;  /* reserved in the parent just before opening */
  out->stamp = r[-1].stamp;
  *out->slot = *h.slot;
  r->meta |= SL__SCOPE_ESCAPED;
  return SL_OK;
}

sl_status sl_scope_set_site(sl_scope *s, uint32_t site) {
  slH_record *r = record_of(s);
  if (r == NULL) return slI_error(s->iso, SL_ESTATE, "scope is already closed");
  r->meta = (r->meta & 0xffffffffu) | (uint64_t)site << 32;
  return SL_OK;
}

uint32_t sl_scope_depth(const sl_isolate *iso) { return slH_depth(&iso->hs); }

sl_status sl_scope_info_at(const sl_isolate *iso, uint32_t depth, sl_scope_info *out) {
  if (depth == 0 || depth > slH_depth(&iso->hs)) return SL_EARG;
  fill_info(iso, depth, out);
  return SL_OK;
}

/* One pass up the stack: levels counted and positions found as they rise, so
** a report over 10^5 nested scopes is linear, not quadratic. */
void sl_scope_foreach(const sl_isolate *iso, sl_scope_visitor cb, void *ud) {
  const slH_data *hs = &iso->hs;
  uint32_t depth = slH_depth(hs), level = 0;
  size_t k = 0, start = depth > 0 ? slH_position_from(hs, &k, hs->scopes[0].prev_next) : 0;
  for (uint32_t d = 1; d <= depth; d++) {
    sl_scope_info info;
    size_t end = d == depth ? sl_number_of_handles(iso)
                            : slH_position_from(hs, &k, hs->scopes[d].prev_next);
    fill_record_info(iso, d, &info);
    level += info.kind != SL_SCOPE_SEAL;
    info.level = level;
    info.handles = end - start;
    start = end;
    if (cb(&info, ud)) return;
  }
}

sl_status sl_scope_at(sl_isolate *iso, uint32_t depth, sl_scope *out) {
  if (depth == 0 || depth > slH_depth(&iso->hs)) return SL_EARG;
  out->iso = iso;
  out->stamp = iso->hs.scopes[depth - 1].stamp;
  return SL_OK;
}

void sl_watch_handles(sl_isolate *iso, size_t threshold, sl_watch_hook hook, void *ud) {
  slH_data *hs = &iso->hs;
  hs->watch = threshold;
  set_open_limit(iso);
  hs->watch_hook = hook;
  hs->watch_ud = ud;
  if (threshold == 0 || slH_depth(hs) == 0) return;
  /* An outer scope gets back, when the scope above it closes, the limit saved
  ** in that scope's record: bound the saved limit, or the outer scope would
  ** only be checked at the end of its block. */
  for (uint32_t d = 1; d < slH_depth(hs); d++) {
    const slH_record *o = &hs->scopes[d - 1];
    slH_record *above = &hs->scopes[d];
    if (slH_kind(o) == SL_SCOPE_SEAL || (o->meta & SL__SCOPE_WATCHED) ||
        above->prev_next == NULL)
      continue;
    size_t owned = slH_position(hs, above->prev_next) - slH_position(hs, o->prev_next);
    size_t room = owned < threshold ? threshold - owned : 0;
    if ((size_t)(above->prev_limit - above->prev_next) > room)
      above->prev_limit = above->prev_next + room;
  }
  slH_record *r = &hs->scopes[slH_depth(hs) - 1];
  if (slH_kind(r) == SL_SCOPE_SEAL || (r->meta & SL__SCOPE_WATCHED)) return;
  /* The innermost scope is watched from its next handle on. */
  size_t count = sl_number_of_handles(iso) - base_of(hs, slH_depth(hs));
  bound_limit(hs, count < threshold ? threshold - count : 0);
}

sl_status sl__local_new_slow(sl_isolate *iso, sl_local h, sl_local *out) {
  if (h.slot == NULL) {
    *out = SL_EMPTY_LOCAL;
    return SL_OK;
  }
  sl_status st = slH_check(iso, h, "local");
  if (st != SL_OK) return st;
  return slH_push(iso, *h.slot, out);
}
