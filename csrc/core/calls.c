/* SPDX-License-Identifier: MIT */
/*
** calls.c: functions and calls, V8's FunctionTemplate callbacks and their
** FunctionCallbackInfo.
**
** A function is a heap object holding a native callback, the pointer it was
** made with, a data value and a name. sl_call does what V8 does around every
** call into native code (Builtins::InvokeApiFunction): it refuses to start
** without a handle scope to return into, puts the receiver and the arguments
** where the collectors see them (a call frame: V8 keeps them on the stack),
** opens a HandleScope, runs the callback, closes the scope (every Local the
** callback made dies there) and hands the return value to the caller as one
** new Local in the caller's innermost scope. The receiver and arguments are
** Locals bound to their frame slots under the stamp of that implicit scope:
** they are live exactly while the callback runs.
**
** Frames live in chunks that never move (a Local points into them) and are
** roots (roots.c). A callback that fails, or that leaves scopes of its own
** open, fails the call after the scopes are closed; a callback that closed
** the implicit scope itself is reported too. The isolate stays usable.
*/
#include <stdlib.h>

#include "slcore.h"

void slC_free(sl_isolate *iso) {
  slC_data *c = &iso->calls;
  for (size_t i = 0; i < c->nchunks; i++) free(c->chunks[i].slots);
  free(c->chunks);
  free(c->spare.slots);
  memset(c, 0, sizeof *c);
}

int slC_is_frame_slot(const sl_isolate *iso, sl_object *const *slot) {
  const slC_data *c = &iso->calls;
  for (size_t i = 0; i < c->nchunks; i++)
    if (slot >= c->chunks[i].slots && slot < c->chunks[i].slots + c->chunks[i].used) return 1;
  return 0;
}

/* n slots at the top of the frame stack: the last chunk if it has room, else
** a new one (the spare if it is large enough). */
static sl_object **frame_push(sl_isolate *iso, size_t n) {
  slC_data *c = &iso->calls;
  if (c->nchunks > 0 && c->chunks[c->nchunks - 1].size - c->chunks[c->nchunks - 1].used >= n) {
    slC_chunk *k = &c->chunks[c->nchunks - 1];
    k->used += n;
    return k->slots + k->used - n;
  }
  if (c->nchunks == c->cap_chunks) {
    slC_chunk *nc = slI_grow(c->chunks, &c->cap_chunks, c->nchunks + 1, sizeof *nc, 4);
    if (nc == NULL) return NULL;
    c->chunks = nc;
  }
  slC_chunk k = c->spare;
  if (k.slots == NULL || k.size < n) {
    size_t size = n > SLC_FRAME_CHUNK ? n : SLC_FRAME_CHUNK;
    k.slots = malloc(size * sizeof *k.slots);
    if (k.slots == NULL) return NULL;
    free(c->spare.slots);
    k.size = size;
  }
  c->spare = (slC_chunk){ NULL, 0, 0 };
  k.used = n;
  c->chunks[c->nchunks++] = k;
  return k.slots;
}

/* Pops the frame of n slots at the top; an emptied chunk becomes the spare. */
static void frame_pop(sl_isolate *iso, size_t n) {
  slC_data *c = &iso->calls;
  slC_chunk *k = &c->chunks[c->nchunks - 1];
  k->used -= n;
  if (k->used == 0) {
    free(c->spare.slots);
    c->spare = *k;
    c->nchunks--;
  }
}

/* ------------------------------------------------------------------ functions */

sl_status sl_function_new(sl_isolate *iso, sl_function_callback cb, void *native,
                          sl_local data, sl_local name, sl_local *out) {
  sl_object *d = iso->roots[SLI_UNDEFINED], *nm = NULL, *o = NULL;
  if (cb == NULL) return slI_error(iso, SL_EARG, "function: no callback");
  sl_status st = data.slot != NULL ? slH_check(iso, data, "function") : SL_OK;
  if (st == SL_OK && name.slot != NULL) st = slO_get_kind(iso, name, SL_STRING, "function", &nm);
  if (st != SL_OK) return st;
  st = slO_new(iso, SL_FUNCTION, 0, out, &o);
  if (st != SL_OK) return st;
  if (data.slot != NULL) d = *data.slot;  /* after the allocation: it may have moved */
  if (name.slot != NULL) nm = *name.slot;
  /* A small object is born old when a scavenge left young space full: then
  ** its young data or name must be remembered like any old holder's. */
  if (!slM_barrier(iso, o, d) || !slM_barrier(iso, o, nm)) {
    *out->slot = NULL;  /* the function is garbage; its slot stays empty */
    return slI_error(iso, SL_ENOMEM, "function: out of memory for the remembered set");
  }
  sl_object **s = slO_slots(o);
  s[SLO_FN_DATA] = d;
  s[SLO_FN_NAME] = nm;
  /* raw words, outside the traced run: never followed */
  memcpy(&s[SLO_FN_CALLBACK], &cb, sizeof cb);
  s[SLO_FN_NATIVE] = (sl_object *)native;
  return slO_created(iso, out, "function");
}

sl_status sl_function_name(sl_isolate *iso, sl_local fn, sl_local *out) {
  sl_object *f;
  sl_status st = slO_get_kind(iso, fn, SL_FUNCTION, "function_name", &f);
  if (st != SL_OK) return st;
  sl_object *nm = slO_slots(f)[SLO_FN_NAME];
  if (nm != NULL) return slH_push(iso, nm, out);
  return sl_string(iso, "", 0, out);
}

uint32_t sl_call_depth(const sl_isolate *iso) { return iso->calls.depth; }

/* ------------------------------------------------------------------ call */

/* Every argument of a call checked before anything changes. */
static sl_status check_call(sl_isolate *iso, sl_local fn, sl_local recv, size_t argc,
                            const sl_local *argv, sl_object **f) {
  sl_status st = slI_gate(iso, SLI_ALLOC, "call");
  if (st == SL_OK) st = slO_get_kind(iso, fn, SL_FUNCTION, "call", f);
  if (st == SL_OK && recv.slot != NULL) st = slH_check(iso, recv, "call");
  for (size_t i = 0; st == SL_OK && i < argc; i++)
    if (argv[i].slot != NULL) st = slH_check(iso, argv[i], "call");
  if (st != SL_OK) return st;
  if (argc > SIZE_MAX / sizeof(sl_object *) - 8)
    return slI_error(iso, SL_EARG, "call: too many arguments (%zu)", argc);
  return SL_OK;
}

/* The frame: receiver, arguments, return value, callee, the callee's data
** (empty Locals give undefined). Every slot is a root while the call runs. */
enum { FRAME_EXTRA = 4 };
static void fill_frame(sl_isolate *iso, sl_object **frame, sl_local fn, sl_local recv,
                       size_t argc, const sl_local *argv) {
  sl_object *undef = iso->roots[SLI_UNDEFINED];
  frame[0] = recv.slot != NULL ? *recv.slot : undef;
  for (size_t i = 0; i < argc; i++) frame[1 + i] = argv[i].slot != NULL ? *argv[i].slot : undef;
  frame[1 + argc] = undef;
  frame[2 + argc] = *fn.slot;
  frame[3 + argc] = slO_slots(*fn.slot)[SLO_FN_DATA];
}

/* After the callback: the implicit scope must be the innermost open scope.
** Scopes the callback left open are closed (innermost first) and reported;
** so is an implicit scope the callback closed itself. */
static sl_status close_implicit(sl_isolate *iso, sl_scope *implicit) {
  uint32_t depth = sl_scope_token_depth(implicit), left = 0;
  sl_status st = SL_OK;
  if (!sl_scope_is_open(implicit))
    return slI_error(iso, SL_ESTATE, "call: the callback closed the HandleScope the call "
                     "opened for it");
  while (sl_scope_depth(iso) > depth) {
    sl_scope top;
    sl_scope_at(iso, sl_scope_depth(iso), &top);
    if (sl_scope_close(&top) != SL_OK) break;
    left++;
  }
  if (sl_scope_close(implicit) != SL_OK) return iso->status;
  if (left > 0)
    st = slI_error(iso, SL_EORDER, "call: the callback left %u scope%s open", (unsigned)left,
                   left == 1 ? "" : "s");
  return st;
}

/* Runs the callback inside its implicit scope; the frame is in place. */
static sl_status invoke(sl_isolate *iso, sl_object *f, sl_object **frame, size_t argc) {
  sl_scope implicit;
  sl_function_callback cb;
  memcpy(&cb, &slO_slots(f)[SLO_FN_CALLBACK], sizeof cb);
  sl_call_info ci = { iso, frame, argc, 0, slO_slots(f)[SLO_FN_NATIVE] };
  sl_status st = sl_scope_open(iso, &implicit);
  if (st != SL_OK) return st;
  iso->hs.scopes[sl_scope_token_depth(&implicit) - 1].meta |= SLH_SCOPE_IMPLICIT;
  ci.stamp = implicit.stamp;
  uint64_t errors = iso->errors;
  iso->calls.depth++;
  st = cb(iso, &ci);
  iso->calls.depth--;
  sl_status closed = close_implicit(iso, &implicit);
  if (st == SL_OK) return closed;
  if (iso->errors == errors)  /* the callback failed without saying why */
    slI_error(iso, st, "call: the callback failed (%s)", sl_status_name(st));
  return st;
}

sl_status sl_call(sl_isolate *iso, sl_local fn, sl_local recv, size_t argc,
                  const sl_local *argv, sl_local *result) {
  sl_object *f;
  sl_local res;
  sl_status st = check_call(iso, fn, recv, argc, argv, &f);
  /* The result's slot first: it refuses a call with no scope or a sealed one
  ** before the callback runs, and is rooted while it runs. */
  if (st == SL_OK) st = slH_push(iso, NULL, &res);
  if (st != SL_OK) return st;
  sl_object **frame = frame_push(iso, argc + FRAME_EXTRA);
  if (frame == NULL) {
    if (iso->hs.next == res.slot + 1) iso->hs.next--;
    return slI_error(iso, SL_ENOMEM, "call: out of memory for the call frame");
  }
  fill_frame(iso, frame, fn, recv, argc, argv);
  st = invoke(iso, *fn.slot, frame, argc);
  /* The implicit scope closed in order (else invoke failed), so the caller's
  ** scope, below it, is the innermost again and the result slot still its own. */
  if (st == SL_OK) {
    *res.slot = frame[1 + argc];
    *result = res;
  } else if (res.stamp == iso->hs.stamp && iso->hs.next == res.slot + 1) {
    iso->hs.next--;  /* failed: its result slot back, if nothing was made above it */
  }
  frame_pop(iso, argc + FRAME_EXTRA);
  return st;
}

/* ------------------------------------------------------------------ info */

static sl_local frame_local(const sl_call_info *ci, size_t i) {
  sl_local h;
  h.slot = &ci->frame[i];
  h.stamp = ci->stamp;
  return h;
}

sl_local sl_call_this(const sl_call_info *ci) { return frame_local(ci, 0); }
size_t sl_call_length(const sl_call_info *ci) { return ci->argc; }
sl_isolate *sl_call_isolate(const sl_call_info *ci) { return ci->iso; }
void *sl_call_native(const sl_call_info *ci) { return ci->native; }
sl_local sl_call_callee(const sl_call_info *ci) { return frame_local(ci, ci->argc + 2); }

/* Past the end: undefined, a Local bound to the root slot (no handle made). */
sl_local sl_call_arg(const sl_call_info *ci, size_t i) {
  return i < ci->argc ? frame_local(ci, 1 + i) : sl_undefined(ci->iso);
}

sl_local sl_call_data(const sl_call_info *ci) { return frame_local(ci, ci->argc + 3); }

sl_status sl_call_set_return(const sl_call_info *ci, sl_local v) {
  sl_isolate *iso = ci->iso;
  sl_object *val = iso->roots[SLI_UNDEFINED];
  if (!sl__live(SL__HS(iso), frame_local(ci, 0)))
    return slI_error(iso, SL_ESTATE, "set_return_value: the call has returned");
  if (v.slot != NULL) {
    sl_status st = slH_check(iso, v, "set_return_value");
    if (st != SL_OK) return st;
    val = *v.slot;
  }
  ci->frame[1 + ci->argc] = val;
  return SL_OK;
}
