/*
** fuzz_api.c: a libFuzzer harness on the public C API (scopelab.h).
**
** The input is a program: the first bytes choose the isolate's options (small
** spaces so exhaustion happens, tiny handle blocks, stress collections), every
** following byte picks an operation and the bytes after it its operands. The
** operation set is the Lua fuzzer's (fuzz/fuzz.lua): scopes of each kind opened,
** closed (in or out of order, twice), escaped (twice, from closed scopes);
** values of each kind; array set/get; persistent new/reset/delete/get and weak
** with callbacks that themselves use the API (allocate in their own scope,
** re-target their node, run more of the program, collect, try to dispose);
** eternal; probes; minor and major collections; the diagnostic walks and the
** handle watch; Locals of a second isolate and stale Locals everywhere.
**
** What counts as a crash, besides what ASan and UBSan report:
**   - any call returning SL_ECORRUPT, or sl_verify_heap failing after a collection
**     (verify_heap is also on in some option sets, checking every stress collection);
**   - a value read back through a live Local that differs from what was stored:
**     every integer, number and string is fingerprinted by identity at creation,
**     so an object that moved wrong or a slot that points at the wrong object shows;
**   - a probe that says dead while a live Local still refers to its object;
**   - a failure status that is not one the operation documents, or a misuse that
**     succeeds (a stale Local accepted, dispose inside a callback allowed).
** Misuse itself is expected and must only return a status: the harness never
** hands the API anything the header calls undefined (a freed isolate, a pointer
** it did not get from the API).
**
** Build: make fuzz-c (clang -fsanitize=fuzzer,address,undefined). State lives in
** one struct per input; there is no global mutable state.
*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scopelab.h"

#define NLOC   32      /* Local registers */
#define NSCOPE 24      /* scope tokens remembered (open or closed) */
#define NPERS  12
#define NPROBE 8
#define NFP    4096    /* identity -> fingerprint table (open addressing) */
#define MAXCB  3       /* nesting of weak callbacks that collect */

typedef struct fz_fp {
  uint64_t id;         /* 0: empty entry */
  uint64_t fp;
  sl_kind kind;
} fz_fp;

typedef struct fz {
  sl_isolate *iso;
  sl_isolate *other;   /* a second isolate: source of foreign Locals */
  sl_local other_local;
  const uint8_t *p, *end;
  sl_local loc[NLOC];
  sl_scope sc[NSCOPE];
  int nsc;             /* tokens ever recorded, ring */
  sl_persistent pers[NPERS];
  sl_probe probe[NPROBE];
  int cb_depth;
  uint64_t moves_seen;
  fz_fp fp[NFP];
  size_t nfp;
} fz;

static void fz_fail(const fz *f, const char *what, sl_status st) {
  fprintf(stderr, "fuzz_api: %s (status %d '%s', last error '%s')\n", what, (int)st,
          sl_status_name(st), f->iso ? sl_last_error(f->iso) : "");
  abort();
}

/* ------------------------------------------------------------------ input */

static unsigned fz_byte(fz *f) {
  return f->p < f->end ? *f->p++ : 0;
}

static unsigned fz_u16(fz *f) {
  unsigned a = fz_byte(f);
  return a | (fz_byte(f) << 8);
}

static int fz_more(const fz *f) { return f->p < f->end; }

/* ------------------------------------------------------------------ oracle */

static uint64_t fz_hash(const void *b, size_t n, uint64_t h) {
  const unsigned char *s = (const unsigned char *)b;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
  return h;
}

static fz_fp *fz_slot(fz *f, uint64_t id) {
  size_t i = (size_t)(id * 0x9e3779b97f4a7c15ULL >> 52) & (NFP - 1);
  while (f->fp[i].id != 0 && f->fp[i].id != id) i = (i + 1) & (NFP - 1);
  return &f->fp[i];
}

/* Remembers what a fresh object holds, by its identity (never reused). */
static void fz_remember(fz *f, sl_local h, sl_kind k, uint64_t fp) {
  uint64_t id;
  sl_status st = sl_identity(f->iso, h, &id);
  if (st != SL_OK) fz_fail(f, "identity of a fresh Local failed", st);
  if (id == 0) fz_fail(f, "identity 0", st);
  if (f->nfp >= NFP * 3 / 4) return;            /* full: stop recording */
  fz_fp *e = fz_slot(f, id);
  if (e->id == id) fz_fail(f, "identity reused", SL_OK);
  e->id = id;
  e->fp = fp;
  e->kind = k;
  f->nfp++;
}

/* Reads everything about a live Local and compares with what was stored. */
static void fz_check_local(fz *f, sl_local h) {
  sl_isolate *iso = f->iso;
  sl_kind k;
  uint64_t id, fp = 0;
  sl_status st;
  if (sl_local_check(iso, h) != SL_OK) return;
  if ((st = sl_kind_of(iso, h, &k)) != SL_OK) fz_fail(f, "kind_of a live Local", st);
  if ((st = sl_identity(iso, h, &id)) != SL_OK) fz_fail(f, "identity of a live Local", st);
  switch (k) {
    case SL_INTEGER: {
      int64_t v;
      if ((st = sl_integer_value(iso, h, &v)) != SL_OK) fz_fail(f, "integer_value", st);
      fp = (uint64_t)v;
      break;
    }
    case SL_NUMBER: {
      double d;
      if ((st = sl_number_value(iso, h, &d)) != SL_OK) fz_fail(f, "number_value", st);
      memcpy(&fp, &d, sizeof fp);
      break;
    }
    case SL_STRING: {
      const char *b;
      size_t n;
      if ((st = sl_string_value(iso, h, &b, &n)) != SL_OK) fz_fail(f, "string_value", st);
      fp = fz_hash(b, n, 0xcbf29ce484222325ULL) ^ n;
      break;
    }
    case SL_ARRAY: {
      size_t n;
      if ((st = sl_array_length(iso, h, &n)) != SL_OK) fz_fail(f, "array_length", st);
      fp = n;
      break;
    }
    default:
      fz_fail(f, "unknown kind", SL_OK);
  }
  fz_fp *e = fz_slot(f, id);
  if (e->id == id && (e->kind != k || e->fp != fp)) fz_fail(f, "value changed", SL_OK);
  /* a wrong-kind read must be refused, not answered */
  if (k != SL_INTEGER) {
    int64_t v;
    if (sl_integer_value(iso, h, &v) != SL_EARG) fz_fail(f, "integer_value of a non-integer", SL_OK);
  }
  if (k != SL_ARRAY) {
    size_t n;
    if (sl_array_length(iso, h, &n) != SL_EARG) fz_fail(f, "array_length of a non-array", SL_OK);
  }
}

/* After a collection: the heap verifies, every live Local still reads what was
** stored, and no probe of an object a live Local refers to says dead. */
static void fz_after_gc(fz *f) {
  sl_status st = sl_verify_heap(f->iso);
  if (st != SL_OK) fz_fail(f, "heap does not verify after a collection", st);
  for (int i = 0; i < NLOC; i++) {
    uint64_t id;
    if (sl_local_check(f->iso, f->loc[i]) != SL_OK) continue;
    fz_check_local(f, f->loc[i]);
    sl_identity(f->iso, f->loc[i], &id);
    for (int j = 0; j < NPROBE; j++) {
      sl_probe_info in;
      if (sl_probe_info_of(f->iso, f->probe[j], &in) != SL_OK) continue;
      if (in.id == id && !in.alive) fz_fail(f, "probe dead while a Local holds it", SL_OK);
    }
  }
}

/* Statuses every call may legitimately return under this harness. */
static void fz_status(fz *f, sl_status st, const char *op) {
  if (st == SL_ECORRUPT) fz_fail(f, op, st);
  if ((int)st < SL_OK || (int)st > SL_ECORRUPT) fz_fail(f, "status out of range", st);
}

/* ------------------------------------------------------------------ operands */

static sl_local *fz_reg(fz *f) { return &f->loc[fz_byte(f) % NLOC]; }

/* A Local operand: a register, or now and then a foreign or empty one. */
static sl_local fz_local(fz *f) {
  unsigned b = fz_byte(f);
  if (b == 0xff) return f->other_local;
  if (b == 0xfe) return SL_EMPTY_LOCAL;
  return f->loc[b % NLOC];
}

static sl_scope *fz_token(fz *f) {
  int n = f->nsc < NSCOPE ? f->nsc : NSCOPE;
  unsigned b = fz_byte(f);
  if (n == 0) return NULL;
  if (b & 0x80) {   /* mostly the most recent tokens: the innermost scopes */
    int back = (int)(b & 3);
    if (back >= n) back = n - 1;
    return &f->sc[(f->nsc - 1 - back) % NSCOPE];
  }
  return &f->sc[(int)(b % (unsigned)n)];
}

static void fz_record_scope(fz *f, const sl_scope *s) {
  f->sc[f->nsc % NSCOPE] = *s;
  f->nsc++;
}

/* ------------------------------------------------------------------ operations */

static void fz_step(fz *f);

/* A weak callback: the node is already empty; it may use the whole API. */
static void fz_weak_cb(sl_isolate *iso, sl_persistent p, void *param) {
  fz *f = (fz *)param;
  int empty = 0;
  sl_status st;
  if (iso != f->iso) fz_fail(f, "callback for another isolate", SL_OK);
  st = sl_persistent_is_empty(iso, p, &empty);
  if (st == SL_OK && !empty) fz_fail(f, "weak callback sees a non-empty node", SL_OK);
  if (sl_isolate_dispose(iso) != SL_ESTATE) fz_fail(f, "dispose inside a weak callback", SL_OK);
  if (f->cb_depth >= MAXCB) return;
  f->cb_depth++;
  switch (fz_byte(f) % 4) {
    case 0: break;
    case 1: {                  /* a scope of its own with an allocation */
      sl_scope s;
      sl_local h;
      if (sl_scope_open(iso, &s) == SL_OK) {
        if (sl_integer(iso, -7, &h) == SL_OK) fz_remember(f, h, SL_INTEGER, (uint64_t)-7);
        if ((st = sl_scope_close(&s)) != SL_OK) fz_fail(f, "close in a callback", st);
      }
      break;
    }
    case 2:                    /* re-target the emptied node: strong again */
      st = sl_persistent_reset(iso, p, f->loc[0]);
      fz_status(f, st, "reset in a callback");
      break;
    default:                   /* one more operation of the program, may collect */
      fz_step(f);
  }
  f->cb_depth--;
}

static void fz_move_hook(sl_isolate *iso, uint64_t id, uintptr_t from, uintptr_t to,
                         uint64_t collection, void *ud) {
  fz *f = (fz *)ud;
  (void)iso; (void)id; (void)collection;
  if (from == to) fz_fail(f, "move hook for an object that did not move", SL_OK);
  f->moves_seen++;
}

/* sl_array_from over operands that may be stale, foreign or empty: it must
** refuse exactly when one of them is unusable, and hold their objects. */
static sl_status fz_array_from(fz *f, size_t n, sl_local *out) {
  sl_local el[16];
  int usable = 1;
  for (size_t i = 0; i < n; i++) {
    el[i] = fz_local(f);
    if (!sl_local_is_empty(el[i]) && sl_local_check(f->iso, el[i]) != SL_OK) usable = 0;
  }
  sl_status st = sl_array_from(f->iso, n, el, out);
  if (st == SL_ESTALE || st == SL_EISOLATE || st == SL_EARG) {
    if (usable) fz_fail(f, "array_from refused usable elements", st);
    return st;
  }
  fz_status(f, st, "array_from");
  if (st != SL_OK) return st;
  if (!usable) fz_fail(f, "array_from accepted an unusable element", st);
  for (size_t i = 0; i < n; i++) {
    sl_local g;
    int same = 0;
    sl_status s2 = sl_array_get(f->iso, *out, i, &g);
    if (s2 == SL_OK) s2 = sl_same(f->iso, g, el[i], &same);
    if (s2 != SL_OK) break;            /* no room for the Local: not this check's business */
    if (!same) fz_fail(f, "array_from holds another object", SL_OK);
  }
  return st;
}

static void fz_alloc(fz *f, unsigned op) {
  sl_local *dst = fz_reg(f);
  sl_local h;
  sl_status st;
  switch (op) {
    case 0: {
      int64_t v = (int64_t)(fz_u16(f) * 0x10001ULL) - 77777;
      st = sl_integer(f->iso, v, &h);
      fz_status(f, st, "integer");
      if (st == SL_OK) fz_remember(f, h, SL_INTEGER, (uint64_t)v);
      break;
    }
    case 1: {
      double d = (double)fz_u16(f) / 8.0 - 100.0;
      uint64_t fp;
      st = sl_number(f->iso, d, &h);
      fz_status(f, st, "number");
      memcpy(&fp, &d, sizeof fp);
      if (st == SL_OK) fz_remember(f, h, SL_NUMBER, fp);
      break;
    }
    case 2: {
      unsigned b = fz_byte(f);
      size_t n = (b & 0x80) ? (size_t)(b & 0x7f) << 12 : b;   /* up to 508 KiB */
      char *buf = malloc(n + 1);
      if (buf == NULL) return;
      for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + (i * 7 + b) % 26);
      st = sl_string(f->iso, buf, n, &h);
      fz_status(f, st, "string");
      if (st == SL_OK)
        fz_remember(f, h, SL_STRING, fz_hash(buf, n, 0xcbf29ce484222325ULL) ^ n);
      free(buf);
      break;
    }
    default: {
      unsigned b = fz_byte(f);
      size_t n = (b & 0x80) ? (size_t)(b & 0x7f) << 10 : b % 17;
      if (!(b & 0x80) && (b & 0x20)) {   /* small: sometimes with elements */
        st = fz_array_from(f, n % 16, &h);
        if (st == SL_ESTALE || st == SL_EISOLATE || st == SL_EARG) return;
        n %= 16;
      } else {
        st = sl_array(f->iso, n, &h);
      }
      fz_status(f, st, "array");
      if (st == SL_OK) fz_remember(f, h, SL_ARRAY, n);
      break;
    }
  }
  if (st == SL_OK) *dst = h;
  else if (st != SL_ENOSCOPE && st != SL_ESEALED && st != SL_ENOMEM && st != SL_ECAPACITY)
    fz_fail(f, "allocation failed with an unexpected status", st);
}

/* Walk visitors: they may not call the API; they only check what they are shown. */
typedef struct fz_walk {
  size_t n;
  int bad;
} fz_walk;

static int fz_valid_info(const sl_object_info *o) {
  return o->id != 0 && o->kind >= SL_INTEGER && o->kind <= SL_ARRAY && o->size > 0 &&
         (o->generation == SL_YOUNG || o->generation == SL_OLD) && o->address != 0;
}

static int fz_visit_object(const sl_object_info *o, void *ud) {
  fz_walk *w = (fz_walk *)ud;
  w->n++;
  if (!fz_valid_info(o)) w->bad = 1;
  return 0;
}

static int fz_visit_root(const sl_root_info *r, const sl_object_info *o, void *ud) {
  fz_walk *w = (fz_walk *)ud;
  w->n++;
  if (r->kind < SL_ROOT_LOCAL || r->kind > SL_ROOT_REMEMBERED || !fz_valid_info(o)) w->bad = 1;
  return 0;
}

static int fz_visit_persistent(sl_persistent p, uint32_t site, int weak, uint64_t id, void *ud) {
  fz_walk *w = (fz_walk *)ud;
  (void)p; (void)site;
  w->n++;
  if (weak && id == 0) w->bad = 1;      /* an emptied node is never weak */
  return 0;
}

static void fz_watch_hook(sl_isolate *iso, const sl_scope_info *scope, void *ud) {
  fz *f = (fz *)ud;
  (void)iso;
  if (scope->handles == 0) fz_fail(f, "watch hook for a scope with no handles", SL_OK);
}

static void fz_step(fz *f) {
  sl_isolate *iso = f->iso;
  sl_status st;
  unsigned op = fz_byte(f) % 32;
  switch (op) {
    case 0: case 1: case 2: case 3: {   /* open a scope of each kind */
      sl_scope s;
      if (op == 0) st = sl_scope_open(iso, &s);
      else if (op == 1) st = sl_escapable_scope_open(iso, &s);
      else if (op == 2) st = sl_seal_scope_open(iso, &s);
      else st = sl_scope_open_capacity(iso, 1 + fz_byte(f) % 5, &s);
      fz_status(f, st, "open");
      if (st == SL_OK) fz_record_scope(f, &s);
      break;
    }
    case 4: case 5: {                   /* close: innermost, out of order, twice */
      sl_scope *s = fz_token(f);
      if (s == NULL) break;
      int open = sl_scope_is_open(s);
      int inner = open && sl_scope_token_depth(s) == sl_scope_depth(iso);
      st = sl_scope_close(s);
      fz_status(f, st, "close");
      if (inner && st != SL_OK) fz_fail(f, "closing the innermost scope failed", st);
      if (!inner && st == SL_OK) fz_fail(f, "closing a closed or outer scope succeeded", st);
      break;
    }
    case 6: {                           /* escape */
      sl_scope *s = fz_token(f);
      sl_local v = fz_local(f), out;
      sl_local *dst = fz_reg(f);
      if (s == NULL) break;
      st = sl_scope_escape(s, v, &out);
      fz_status(f, st, "escape");
      if (st == SL_OK) {
        *dst = out;
        if (!sl_local_is_empty(out)) fz_check_local(f, out);
      }
      break;
    }
    case 7: case 8: case 9: case 10: case 11:
      fz_alloc(f, op == 11 ? fz_byte(f) % 4 : op - 7);
      break;
    case 12: {                          /* array set */
      sl_local a = fz_local(f), v = fz_local(f);
      size_t i = fz_byte(f) % 20;
      st = sl_array_set(iso, a, i, v);
      fz_status(f, st, "array_set");
      break;
    }
    case 13: {                          /* array get */
      sl_local a = fz_local(f), out;
      sl_local *dst = fz_reg(f);
      size_t i = fz_byte(f) % 20;
      st = sl_array_get(iso, a, i, &out);
      fz_status(f, st, "array_get");
      if (st == SL_OK) { *dst = out; fz_check_local(f, out); }
      break;
    }
    case 14: {                          /* read and compare; same; generation */
      sl_local a = fz_local(f), b = fz_local(f);
      int same;
      sl_generation g;
      uintptr_t addr;
      fz_check_local(f, a);
      st = sl_same(iso, a, b, &same);
      fz_status(f, st, "same");
      st = sl_generation_of(iso, a, &g);
      fz_status(f, st, "generation");
      st = sl_address(iso, a, &addr);
      fz_status(f, st, "address");
      break;
    }
    case 15: {                          /* local_new */
      sl_local a = fz_local(f), out;
      sl_local *dst = fz_reg(f);
      st = sl_local_new(iso, a, &out);
      fz_status(f, st, "local_new");
      if (st == SL_OK) *dst = out;
      break;
    }
    case 16: {                          /* persistent new */
      sl_persistent *p = &f->pers[fz_byte(f) % NPERS];
      st = sl_persistent_new(iso, fz_local(f), p);
      fz_status(f, st, "persistent_new");
      break;
    }
    case 17: {
      st = sl_persistent_reset(iso, f->pers[fz_byte(f) % NPERS], fz_local(f));
      fz_status(f, st, "persistent_reset");
      break;
    }
    case 18: {
      st = sl_persistent_delete(iso, f->pers[fz_byte(f) % NPERS]);
      fz_status(f, st, "persistent_delete");
      break;
    }
    case 19: {
      sl_persistent p = f->pers[fz_byte(f) % NPERS];
      sl_local out;
      sl_local *dst = fz_reg(f);
      st = sl_persistent_get(iso, p, &out);
      fz_status(f, st, "persistent_get");
      if (st == SL_OK) { *dst = out; fz_check_local(f, out); }
      break;
    }
    case 20: {                          /* weak, with or without callback */
      sl_persistent p = f->pers[fz_byte(f) % NPERS];
      int cb = (fz_byte(f) & 1u) != 0;
      st = sl_persistent_set_weak(iso, p, cb ? fz_weak_cb : NULL, cb ? f : NULL);
      fz_status(f, st, "set_weak");
      break;
    }
    case 21: {
      void *param;
      int w;
      sl_persistent p = f->pers[fz_byte(f) % NPERS];
      st = sl_persistent_clear_weak(iso, p, &param);
      fz_status(f, st, "clear_weak");
      if (st == SL_OK && sl_persistent_is_weak(iso, p, &w) == SL_OK && w)
        fz_fail(f, "still weak after clear_weak", SL_OK);
      break;
    }
    case 22: {                          /* eternal */
      size_t idx;
      if (sl_eternal_count(iso) < 64) {
        st = sl_eternal_new(iso, fz_local(f), &idx);
        fz_status(f, st, "eternal_new");
      }
      break;
    }
    case 23: {
      sl_local out;
      sl_local *dst = fz_reg(f);
      size_t n = sl_eternal_count(iso);
      size_t idx = fz_byte(f) % (n + 2);        /* sometimes out of range */
      st = sl_eternal_get(iso, idx, &out);
      fz_status(f, st, "eternal_get");
      if (idx >= n && st == SL_OK) fz_fail(f, "eternal_get out of range succeeded", st);
      if (st == SL_OK) { *dst = out; fz_check_local(f, out); }
      break;
    }
    case 24: {                          /* probes */
      sl_probe *pr = &f->probe[fz_byte(f) % NPROBE];
      unsigned what = fz_byte(f) % 3;
      if (what == 0) {
        st = sl_probe_new(iso, fz_local(f), pr);
        fz_status(f, st, "probe_new");
      } else if (what == 1) {
        sl_local out;
        sl_local *dst = fz_reg(f);
        st = sl_probe_get(iso, *pr, &out);
        fz_status(f, st, "probe_get");
        if (st == SL_OK && !sl_local_is_empty(out)) { *dst = out; fz_check_local(f, out); }
      } else {
        st = sl_probe_delete(iso, *pr);
        fz_status(f, st, "probe_delete");
      }
      break;
    }
    case 25: case 26: case 27: {        /* collections */
      sl_gc_stats gs;
      int kinds = op == 25 ? SL_MINOR : op == 26 ? SL_MAJOR : SL_MINOR | SL_MAJOR;
      st = sl_collect(iso, kinds, &gs);
      fz_status(f, st, "collect");
      if (st == SL_OK || st == SL_ENOMEM) fz_after_gc(f);
      break;
    }
    case 28: {                          /* retaining path of a probe's object */
      sl_probe_info in;
      sl_path path;
      if (sl_probe_info_of(iso, f->probe[fz_byte(f) % NPROBE], &in) == SL_OK) {
        st = sl_retaining_path(iso, in.id, &path);
        fz_status(f, st, "retaining_path");
        if (st == SL_OK) sl_path_free(&path);
      }
      break;
    }
    case 29: {                          /* the diagnostic walks see sane objects */
      fz_walk w = { 0, 0 };
      sl_heap_foreach(iso, fz_visit_object, &w);
      sl_roots_foreach(iso, fz_visit_root, &w);
      sl_persistent_foreach(iso, fz_visit_persistent, &w);
      if (w.bad) fz_fail(f, "a walk showed an invalid object or node", SL_OK);
      break;
    }
    case 30:                            /* the soft handle watch, on or off */
      sl_watch_handles(iso, fz_byte(f) % 8, fz_watch_hook, f);
      break;
    default: {                          /* counts agree with the scope records */
      size_t sum = 0;
      uint32_t d = sl_scope_depth(iso);
      sl_heap_stats hs;
      for (uint32_t i = 1; i <= d; i++) {
        sl_scope_info in;
        if ((st = sl_scope_info_at(iso, i, &in)) != SL_OK) fz_fail(f, "scope_info_at", st);
        sum += in.handles;
      }
      if (sum != sl_number_of_handles(iso)) fz_fail(f, "handle count disagrees", SL_OK);
      sl_heap_stats_of(iso, &hs);
      if (hs.handles != sum || hs.scope_depth != d) fz_fail(f, "stats disagree", SL_OK);
      break;
    }
  }
}

static sl_isolate *fz_isolate(fz *f) {
  /* small spaces: exhaustion is reachable, and each input stays fast */
  static const size_t young[] = { 4096, 16384, 65536, 8192 };
  static const size_t old[] = { 65536, 262144, 1 << 20, 16384 };
  static const size_t block[] = { 2, 3, 16, 0 };
  static const unsigned interval[] = { 0, 0, 1, 3, 17, 64, 0, 5 };
  sl_options o;
  unsigned a = fz_byte(f), b = fz_byte(f);
  sl_options_init(&o);
  o.young_size = young[a & 3];
  o.old_size = old[(a >> 2) & 3];
  o.block_size = block[(a >> 4) & 3];
  o.promote_after = 1 + ((a >> 6) & 3);
  o.gc_interval = interval[b & 7];
  o.gc_interval_major = (int)((b >> 3) % 3) - 1;
  o.stress_compaction = ((b >> 5) & 1u) != 0;
  o.verify_heap = ((b >> 6) & 1u) != 0;
  o.zap_handles = ((b >> 7) & 1u) != 0;  /* off: the inline close runs */
  if (sl_options_check(&o) != NULL) fz_fail(f, sl_options_check(&o), SL_OK);
  return sl_isolate_new(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz *f = calloc(1, sizeof *f);
  sl_scope os;
  if (f == NULL) return 0;
  f->p = data;
  f->end = data + size;
  f->iso = fz_isolate(f);
  {
    sl_options oo;
    sl_options_init(&oo);
    oo.young_size = oo.old_size = 4096;
    f->other = sl_isolate_new(&oo);
  }
  if (f->iso == NULL || f->other == NULL) abort();
  sl_set_move_hook(f->iso, fz_move_hook, f);
  if (sl_scope_open(f->other, &os) != SL_OK || sl_integer(f->other, 5, &f->other_local) != SL_OK)
    abort();
  for (int steps = 0; fz_more(f) && steps < 20000; steps++) fz_step(f);
  /* the end: close everything, collect, verify, dispose with scopes left open
  ** half the time (dispose frees them) */
  if (size & 1) {
    uint32_t d;
    while ((d = sl_scope_depth(f->iso)) > 0) {
      sl_scope s;
      if (sl_scope_at(f->iso, d, &s) != SL_OK) abort();
      if (sl_scope_close(&s) != SL_OK) fz_fail(f, "closing the innermost at the end", SL_OK);
    }
    if (sl_number_of_handles(f->iso) != 0) fz_fail(f, "handles left with no scope open", SL_OK);
  }
  {
    sl_gc_stats gs;
    sl_status st = sl_collect(f->iso, SL_MINOR | SL_MAJOR, &gs);
    fz_status(f, st, "final collect");
    if (sl_verify_heap(f->iso) != SL_OK) fz_fail(f, "final verify", SL_ECORRUPT);
  }
  if (sl_isolate_dispose(f->iso) != SL_OK) abort();
  sl_isolate_dispose(f->other);
  free(f);
  return 0;
}
