/* SPDX-License-Identifier: MIT */
/*
** roots.c: the one enumeration of the roots.
**
** Both collectors, the verifier and the diagnostics ask here for the slots the
** heap is reached from, in one order: the Local slots of every open scope
** (outermost first, V8's handle blocks), then the call frames of the calls in
** progress (receivers, arguments, return values: V8 keeps them on the stack),
** then the strong persistent nodes, then the eternal slots. Only slots that
** hold an object are visited (not Smis); the read-only roots are objects that
** no collector moves. Weak nodes and probes are not roots; globals.c processes
** them after marking or copying. A scavenge passes SLR_YOUNG and gets only the
** nodes on the young-node list (V8's young_nodes): a node holding an old object
** cannot lead to a young one.
**
** With SLR_INFO every root comes with its sl_root_info: for a Local, the scope
** that owns the slot, found by walking the scope records alongside the slots
** (both are in stack order, so the walk is linear).
*/
#include "slcore.h"

/* The Locals, each with the scope that owns it when 'info' is wanted. */
static int each_local(sl_isolate *iso, unsigned flags, slR_fn fn, void *ud, size_t *seen) {
  const slH_data *hs = &iso->hs;
  sl_root_info r = { 0 };
  uint32_t depth = 0;
  size_t pos = 0, start = 0, k = 0;
  r.kind = SL_ROOT_LOCAL;
  for (size_t b = 0; b < hs->nblocks; b++) {
    sl_object **end = b + 1 == hs->nblocks ? hs->next : hs->blocks[b] + hs->block_size;
    for (sl_object **slot = hs->blocks[b]; slot < end; slot++, pos++) {
      if (flags & SLR_INFO) {
        /* The owner is the innermost scope that started at or below 'pos'. */
        size_t at;
        while (depth < slH_depth(hs) &&
               (at = slH_position_from(hs, &k, hs->scopes[depth].prev_next)) <= pos) {
          start = at;
          if (slH_kind(&hs->scopes[depth]) != SL_SCOPE_SEAL) r.level++;
          depth++;
        }
        r.depth = depth;
        r.site = depth ? (uint32_t)(hs->scopes[depth - 1].meta >> 32) : 0;
        r.index = pos - start;
      }
      if (slO_is_ref(*slot) && fn(iso, slot, &r, ud)) return 1;
    }
  }
  *seen = pos;
  return 0;
}

static int each_frame_slot(sl_isolate *iso, slR_fn fn, void *ud) {
  sl_root_info r = { 0 };
  r.kind = SL_ROOT_FRAME;
  SLC_FOREACH_FRAME_SLOT(iso, slot, {
    if (slO_is_ref(*slot) && fn(iso, slot, &r, ud)) return 1;
    r.index++;
  })
  return 0;
}

/* Strong, non-empty nodes: every one, or those on the young list. */
static int each_node(sl_isolate *iso, unsigned flags, slR_fn fn, void *ud, size_t *seen) {
  sl_root_info r = { 0 };
  r.kind = SL_ROOT_PERSISTENT;
  *seen = slG_scanned(iso, (flags & SLR_YOUNG) != 0);
  SLG_FOREACH_SCANNED(iso, (flags & SLR_YOUNG) != 0, n, {
    if (n->state != SLG_STRONG || !slO_is_ref(n->obj)) continue;
    r.index = (size_t)n->serial;
    r.site = n->site;
    if (fn(iso, &n->obj, &r, ud)) return 1;
  });
  return 0;
}

static int each_eternal(sl_isolate *iso, slR_fn fn, void *ud) {
  sl_root_info r = { 0 };
  r.kind = SL_ROOT_ETERNAL;
  for (size_t i = 0; i < iso->gh.neternals; i++) {
    sl_object **slot = slG_eternal_slot(iso, i);
    r.index = i;
    if (slO_is_ref(*slot) && fn(iso, slot, &r, ud)) return 1;
  }
  return 0;
}

void slR_each(sl_isolate *iso, unsigned flags, slR_fn fn, void *ud) {
  size_t locals = 0, nodes = 0;
  if (each_local(iso, flags, fn, ud, &locals) || each_frame_slot(iso, fn, ud) ||
      each_node(iso, flags, fn, ud, &nodes) || each_eternal(iso, fn, ud))
    return;
  if (flags & SLR_COUNT) {  /* what a collection reports it visited */
    iso->last.handles_scanned = locals;
    iso->last.nodes_scanned = nodes;
  }
}
