/* SPDX-License-Identifier: MIT */
/*
** fuzz_api.c: a libFuzzer harness on the public C API (scopelab.h).
**
** The input is a program: the first bytes choose the isolate's options (small
** spaces so exhaustion happens, tiny handle blocks, stress collections as often
** as every allocation), every following byte picks an operation and the bytes
** after it its operands. The operations (the Lua fuzzer's, fuzz/fuzz.lua, and more):
**   - scopes of each kind opened, closed (in or out of order, twice), escaped
**     (twice, from closed scopes);
**   - values of each kind (strings also from another string's bytes, which the
**     allocation may move), arrays from elements on both paths of sl_array_from
**     and sl_array_unpack (n <= 4 inline, n > 4 out of line), array set/get;
**   - persistent new/reset/delete/get, weak with or without a callback, eternal,
**     probes; "arm": a value made weak with a callback in a scope closed at once,
**     so the next collection queues its callback;
**   - minor and major collections, the diagnostic walks (heap, roots, persistent
**     nodes, sl_scope_foreach against sl_scope_info_at) and the handle watch;
**   - sl_call of a new function whose callback may return a value, fail, leave
**     scopes open, close its implicit scope and the caller's, call again,
**     collect; objects with aligned-pointer fields made weak with two-pass
**     callbacks; tasks posted and run;
**   - Locals, persistents and probes of a second, live isolate (B) and of a
**     third one disposed at the start (C), and stale Locals, everywhere.
** Weak callbacks act as a hostile embedder's may, and run wherever the core
** runs them: inside a constructor's allocation (gc_interval 1 puts them in
** nearly every one), after a failed allocation, after sl_collect. One may close
** the caller's innermost scopes, close one and open another filled with new
** objects (arrays of more than four elements included), reset or delete other
** persistents, collect, run more of the program, pass B's and C's persistents
** and probes to the isolate's calls, and every one tries to dispose the isolate.
** Second passes and tasks act the same way. A first pass (run at the end of
** the collection, inside the allocation) tries to close the caller's scope, to
** open one, allocate, make a persistent, collect and run tasks, all of which
** must be refused, reads values, and resets its handle or keeps it. The
** collection and move hooks try to dispose the isolate too.
**
** The harness keeps no model of which Locals and scopes are valid: after every
** call that may run callbacks it asks the core (sl_local_check, sl_scope_is_open,
** the depth), and checks what the core promises. What counts as a crash,
** besides what ASan and UBSan report:
**   - any call returning SL_ECORRUPT, or sl_verify_heap failing after a
**     collection, after a constructor that ran callbacks, or every 16 steps
**     (verify_heap is also on in some option sets, checking every collection);
**   - a constructor that succeeds with a Local that is not live or does not read
**     back what was stored; one that fails with SL_ESTALE though no callback
**     closed its scope and its operands were usable ("<op>: a weak callback
**     closed the scope the new handle was made in" is the only such refusal);
**     one that succeeds though a callback closed the scope of its new Local;
**   - a call that reports other than what its callback left (its failure, else
**     SL_ESTATE for a closed implicit scope, else SL_EORDER for scopes left
**     open, else success with a live result holding the value returned), that
**     leaves the callback's scopes open, or writes a result when it fails;
**   - a first pass allowed any of the above or given other pointers than its
**     object held; SL_ESTATE from an allocation or a collection with no kept
**     first-pass handle left to report, or a report that does not say "Handle
**     not reset in first callback";
**   - an array from elements whose element i is not the object of operand i,
**     an unpack that disagrees with array_get;
**   - a value read back through a live Local that differs from what was stored:
**     every integer, number and string is fingerprinted by identity at creation,
**     so an object that moved wrong or a slot that points at the wrong object shows;
**   - a probe that says dead while a live Local still refers to its object;
**   - a persistent or probe of B or C accepted by the isolate's calls (anything
**     but SL_EISOLATE, and C's must be refused without reading its freed nodes:
**     ASan), a Local of B or C accepted, or B's handles changed by those calls;
**   - a failure status that is not one the operation documents, or a misuse that
**     succeeds (a stale Local accepted, dispose inside a callback or hook allowed,
**     closing the innermost scope refused).
** Misuse itself is expected and must only return a status: the harness never
** hands the API anything the header calls undefined (a freed isolate, a pointer
** it did not get from the API).
**
** Switches (on by default; -D<flag>=0 turns one off), each for a core bug the
** harness found, kept as a regression guard:
**   FZ_DISPOSE_IN_WATCH_HOOK  the watch hook tries to dispose the isolate, which
**     must be refused (it once freed the isolate under slH_extend).
**   FZ_CALL_REOPENS_OVER_ITS_SCOPE  a function callback that closed the implicit
**     scope may leave empty scopes of its own open (a failed sl_call once gave
**     its result slot back from under them); the seed
**     regress_call_reopens_over_its_scope replays it.
**
** Build: make fuzz-c (clang -fsanitize=fuzzer,address,undefined); -DFZ_TRACE=1
** prints what an input does. State lives in one struct per input; there is no
** global mutable state.
*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scopelab.h"

#if !defined(FZ_DISPOSE_IN_WATCH_HOOK)
#define FZ_DISPOSE_IN_WATCH_HOOK 1
#endif
#if !defined(FZ_CALL_REOPENS_OVER_ITS_SCOPE)
#define FZ_CALL_REOPENS_OVER_ITS_SCOPE 1
#endif

/* -DFZ_TRACE=1: every operation, callback and constructor outcome on stderr,
** to read what an input does (a seed written by hand, a crash found). */
#if defined(FZ_TRACE) && FZ_TRACE
#define fz_trace(...) fprintf(stderr, __VA_ARGS__)
#else
#define fz_trace(...) ((void)0)
#endif

#define NLOC   32      /* Local registers */
#define NSCOPE 24      /* scope tokens remembered (open or closed) */
#define NPERS  12
#define NPROBE 8
#define NFP    4096    /* identity -> fingerprint table (open addressing) */
#define MAXCB  3       /* nesting of weak callbacks that act */
#define MAXEL  16      /* elements of an array made from Locals */
#define VERIFY_EVERY 16

typedef struct fz_fp {
  uint64_t id;         /* 0: empty entry */
  uint64_t fp;
  sl_kind kind;
} fz_fp;

typedef struct fz {
  sl_isolate *iso;
  int verify_on;       /* the isolate verifies after every collection itself */
  sl_isolate *other;   /* B: a second, live isolate */
  sl_local other_local;
  sl_persistent other_pers;
  sl_probe other_probe;
  sl_local dead_local; /* C: disposed before the program starts */
  sl_persistent dead_pers;
  sl_probe dead_probe;
  const uint8_t *p, *end;
  sl_local loc[NLOC];
  sl_scope sc[NSCOPE];
  int nsc;             /* tokens ever recorded, ring */
  sl_persistent pers[NPERS];
  sl_probe probe[NPROBE];
  int cb_depth;
  uint64_t cb_runs;    /* weak callbacks, first and second passes, tasks run so far */
  int not_reset;       /* first passes that left their handle set and were not yet
                          reported: each report (by the collection that ran them,
                          or the allocation that collected) covers at least one */
  int call_expect;     /* what the last function callback left sl_call to report */
  int call_closed;     /*   it closed its implicit scope */
  uint64_t call_ret;   /*   the identity of the value it returned (0: undefined) */
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
    case SL_OBJECT: {
      int n;
      if ((st = sl_object_internal_field_count(iso, h, &n)) != SL_OK)
        fz_fail(f, "internal_field_count", st);
      fp = (uint64_t)n;
      break;
    }
    case SL_FUNCTION: case SL_UNDEFINED:
      break;
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

/* After anything that collected or ran callbacks: the heap verifies, every
** register the core calls live still reads what was stored (the others must be
** refused as stale, foreign or empty, never answered), and no probe of an
** object a live Local refers to says dead. */
static void fz_after_gc(fz *f) {
  sl_status st = sl_verify_heap(f->iso);
  if (st != SL_OK) fz_fail(f, "heap does not verify", st);
  for (int i = 0; i < NLOC; i++) {
    uint64_t id;
    st = sl_local_check(f->iso, f->loc[i]);
    if (st != SL_OK) {
      if (st != SL_ESTALE && st != SL_EISOLATE && st != SL_EARG)
        fz_fail(f, "local_check: unexpected refusal", st);
      continue;
    }
    fz_check_local(f, f->loc[i]);
    sl_identity(f->iso, f->loc[i], &id);
    for (int j = 0; j < NPROBE; j++) {
      sl_probe_info in;
      if (sl_probe_info_of(f->iso, f->probe[j], &in) != SL_OK) continue;
      if (in.id == id && !in.alive) fz_fail(f, "probe dead while a Local holds it", SL_OK);
    }
  }
}

/* Statuses every call may legitimately return under this harness (one thread:
** never SL_ETHREAD). */
static void fz_status(fz *f, sl_status st, const char *op) {
  if (st == SL_ECORRUPT || st == SL_ETHREAD) fz_fail(f, op, st);
  if ((int)st < SL_OK || (int)st > SL_ECALLBACK) fz_fail(f, "status out of range", st);
}

/* A handle of B or C passed to the isolate: refused as foreign, nothing else. */
static void fz_foreign(fz *f, sl_status st, const char *op) {
  if (st != SL_EISOLATE) fz_fail(f, op, st);
  if (strstr(sl_last_error(f->iso), "another isolate") == NULL)
    fz_fail(f, "a foreign handle's refusal does not say so", st);
}

/* A Local of B or C: a Local carries no isolate, only its scope's stamp, which
** this isolate never issued (an old-looking serial reads as stale). */
static void fz_foreign_local(fz *f, sl_status st, const char *op) {
  if (st != SL_EISOLATE && st != SL_ESTALE) fz_fail(f, op, st);
}

/* ------------------------------------------------------------------ operands */

static sl_local *fz_reg(fz *f) { return &f->loc[fz_byte(f) % NLOC]; }

/* A Local operand: a register, or now and then a foreign or empty one. */
static sl_local fz_local(fz *f) {
  unsigned b = fz_byte(f);
  if (b == 0xff) return f->other_local;
  if (b == 0xfe) return SL_EMPTY_LOCAL;
  if (b == 0xfd) return f->dead_local;
  return f->loc[b % NLOC];
}

/* A persistent operand: one of ours, or now and then B's or C's. */
static sl_persistent fz_pers(fz *f, int *foreign) {
  unsigned b = fz_byte(f);
  *foreign = b >= 0xfe;
  if (b == 0xff) return f->other_pers;
  if (b == 0xfe) return f->dead_pers;
  return f->pers[b % NPERS];
}

static sl_probe fz_probe_of(const fz *f, unsigned b, int *foreign) {
  *foreign = b >= 0xfe;
  if (b == 0xff) return f->other_probe;
  if (b == 0xfe) return f->dead_probe;
  return f->probe[b % NPROBE];
}

static sl_probe fz_probe(fz *f, int *foreign) { return fz_probe_of(f, fz_byte(f), foreign); }

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

/* Closes the innermost open scope, which must always be allowed. */
static void fz_close_innermost(fz *f) {
  sl_scope s;
  uint32_t d = sl_scope_depth(f->iso);
  sl_status st;
  if (d == 0) return;
  if ((st = sl_scope_at(f->iso, d, &s)) != SL_OK) fz_fail(f, "scope_at the innermost", st);
  if ((st = sl_scope_close(&s)) != SL_OK) fz_fail(f, "closing the innermost scope", st);
  if (sl_scope_is_open(&s) || sl_scope_depth(f->iso) != d - 1)
    fz_fail(f, "the innermost scope is still open after its close", SL_OK);
}

/* Closes a scope the harness opened, if nothing (a callback) closed it or
** opened another inside it meanwhile: then the close must succeed. */
static void fz_close_own(fz *f, sl_scope *s, const char *op) {
  int inner = sl_scope_is_open(s) && sl_scope_token_depth(s) == sl_scope_depth(f->iso);
  sl_status st = sl_scope_close(s);
  fz_status(f, st, op);
  if (inner && st != SL_OK) fz_fail(f, op, st);
  if (!inner && st == SL_OK) fz_fail(f, "closing a closed or outer scope succeeded", st);
}

/* ------------------------------------------------------------------ constructors */

/* SL_ESTATE from an allocation or a collection: only when a first-pass weak
** callback left its handle set since the last such report, and saying so (V8
** CHECK-fails there; the core resets the handle and fails the collection). */
static void fz_not_reset(fz *f, int says_not_reset, const char *op) {
  if (f->not_reset == 0) fz_fail(f, op, SL_ESTATE);
  if (!says_not_reset) fz_fail(f, "a kept first-pass handle reported without saying so", SL_ESTATE);
  f->not_reset--;  /* one report may cover several kept handles: the count only bounds */
}

/* What judging a constructor's outcome needs from before the call. */
typedef struct fz_pre {
  sl_scope top;        /* the innermost scope when the call began */
  int had_top;
  int sealed;          /* it was a seal scope: no handle may be made */
  uint64_t cb_runs;
} fz_pre;

static void fz_begin(fz *f, fz_pre *c) {
  uint32_t d = sl_scope_depth(f->iso);
  sl_scope_info in;
  c->had_top = d > 0 && sl_scope_at(f->iso, d, &c->top) == SL_OK;
  c->sealed = c->had_top && sl_scope_info_at(f->iso, d, &in) == SL_OK && in.kind == SL_SCOPE_SEAL;
  c->cb_runs = f->cb_runs;
}

/*
** A constructor either succeeds with a live Local of the kind asked for, or
** fails with a status it documents and hands out nothing live. Operands that
** are stale, foreign or empty-slotted ('bad') are refused before anything is
** allocated; SL_ESTALE otherwise means a weak callback run by the allocation
** closed the scope of the new Local, and then success would be a lie. After a
** call that ran callbacks, the heap and every register are checked again.
** Returns 1 when 'h' is the new Local.
*/
static int fz_made(fz *f, const fz_pre *c, sl_status st, sl_local h, sl_kind k, int bad,
                   const char *op) {
  sl_isolate *iso = f->iso;
  int closed = c->had_top && !sl_scope_is_open(&c->top);
  /* the reason, before the checks below leave theirs */
  int says_closed = strstr(sl_last_error(iso), "a weak callback closed the scope the new "
                                               "handle was made in") != NULL;
  int says_not_reset = strstr(sl_last_error(iso), "Handle not reset in first callback") != NULL;
  fz_trace("%*s%s: %s%s\n", 2 * f->cb_depth, "", op, sl_status_name(st),
           closed ? " (a callback closed its scope)" : "");
  fz_status(f, st, op);
  if (st == SL_OK) {
    sl_kind got;
    if (bad) fz_fail(f, "a constructor accepted an unusable operand", st);
    if (closed) fz_fail(f, "a constructor succeeded though a callback closed its scope", st);
    if (c->sealed) fz_fail(f, "a constructor made a handle under a seal", st);
    if (sl_local_check(iso, h) != SL_OK) fz_fail(f, "a constructor returned a dead Local", st);
    if (sl_kind_of(iso, h, &got) != SL_OK || got != k)
      fz_fail(f, "a constructor made another kind", st);
  } else {
    if (!sl_local_is_empty(h) && sl_local_check(iso, h) == SL_OK)
      fz_fail(f, "a failed constructor handed out a live Local", st);
    if (bad) {
      if (st != SL_ESTALE && st != SL_EISOLATE && st != SL_EARG)
        fz_fail(f, "an unusable operand refused with an unexpected status", st);
    } else if (st == SL_ESTALE) {
      if (!closed) fz_fail(f, "a constructor refused usable operands as stale", st);
      if (!says_closed) fz_fail(f, "a callback's close refused without saying so", st);
    } else if (st == SL_ESTATE) {
      fz_not_reset(f, says_not_reset, op);
    } else if (st != SL_ENOSCOPE && st != SL_ESEALED && st != SL_ENOMEM && st != SL_ECAPACITY) {
      fz_fail(f, "a constructor failed with an unexpected status", st);
    }
  }
  if (f->cb_runs != c->cb_runs) fz_after_gc(f);
  return st == SL_OK;
}

/* A fresh object: remembered, and read back at once (callbacks ran in between). */
static void fz_fresh(fz *f, sl_local h, sl_kind k, uint64_t fp) {
  fz_remember(f, h, k, fp);
  fz_check_local(f, h);
}

static int fz_new_integer(fz *f, int64_t v, sl_local *out) {
  fz_pre c;
  *out = SL_EMPTY_LOCAL;
  fz_begin(f, &c);
  sl_status st = sl_integer(f->iso, v, out);
  if (!fz_made(f, &c, st, *out, SL_INTEGER, 0, "integer")) return 0;
  fz_fresh(f, *out, SL_INTEGER, (uint64_t)v);
  return 1;
}

static int fz_new_number(fz *f, double d, sl_local *out) {
  fz_pre c;
  uint64_t fp;
  *out = SL_EMPTY_LOCAL;
  fz_begin(f, &c);
  sl_status st = sl_number(f->iso, d, out);
  if (!fz_made(f, &c, st, *out, SL_NUMBER, 0, "number")) return 0;
  memcpy(&fp, &d, sizeof fp);
  fz_fresh(f, *out, SL_NUMBER, fp);
  return 1;
}

/* 'b' may be another string's bytes, which the allocation may move: 'same' is
** a copy that stays put, for the fingerprint. */
static int fz_new_string(fz *f, const char *b, const char *same, size_t n, sl_local *out) {
  fz_pre c;
  *out = SL_EMPTY_LOCAL;
  fz_begin(f, &c);
  sl_status st = sl_string(f->iso, b, n, out);
  if (!fz_made(f, &c, st, *out, SL_STRING, 0, "string")) return 0;
  fz_fresh(f, *out, SL_STRING, fz_hash(same, n, 0xcbf29ce484222325ULL) ^ n);
  return 1;
}

static int fz_new_array(fz *f, size_t n, sl_local *out) {
  fz_pre c;
  *out = SL_EMPTY_LOCAL;
  fz_begin(f, &c);
  sl_status st = sl_array(f->iso, n, out);
  if (!fz_made(f, &c, st, *out, SL_ARRAY, 0, "array")) return 0;
  fz_fresh(f, *out, SL_ARRAY, n);
  return 1;
}

/* sl_array_from over operands that may be stale, foreign or empty: it must
** refuse exactly when one of them is unusable, and element i of the array must
** be operand i's object (identities taken before the call: a callback run by
** the allocation may close the operands' scopes, and objects move). */
static int fz_array_from(fz *f, size_t n, const sl_local *el, sl_local *out) {
  uint64_t id[MAXEL];
  int bad = 0;
  fz_pre c;
  for (size_t i = 0; i < n; i++) {
    id[i] = 0;
    if (sl_local_is_empty(el[i])) continue;
    if (sl_local_check(f->iso, el[i]) != SL_OK) bad = 1;
    else if (sl_identity(f->iso, el[i], &id[i]) != SL_OK) fz_fail(f, "identity", SL_OK);
  }
  *out = SL_EMPTY_LOCAL;
  fz_begin(f, &c);
  sl_status st = sl_array_from(f->iso, n, el, out);
  if (!fz_made(f, &c, st, *out, SL_ARRAY, bad, "array_from")) return 0;
  fz_fresh(f, *out, SL_ARRAY, n);
  for (size_t i = 0; i < n; i++) {
    sl_local g;
    uint64_t gid;
    if (sl_array_get(f->iso, *out, i, &g) != SL_OK) break;   /* no room for the Local */
    if (id[i] == 0) {
      if (!sl_local_is_empty(g)) fz_fail(f, "array_from filled an empty element", SL_OK);
    } else if (sl_local_is_empty(g) || sl_identity(f->iso, g, &gid) != SL_OK || gid != id[i]) {
      fz_fail(f, "array_from holds another object", SL_OK);
    }
  }
  return 1;
}

/* The element operands of an array: 'n' Locals, any of them unusable. */
static void fz_elements(fz *f, size_t n, sl_local *el) {
  for (size_t i = 0; i < n; i++) el[i] = fz_local(f);
}

static void fz_alloc(fz *f, unsigned op) {
  sl_local *dst = fz_reg(f);
  sl_local h = SL_EMPTY_LOCAL;
  int ok;
  switch (op) {
    case 0:
      ok = fz_new_integer(f, (int64_t)(fz_u16(f) * 0x10001ULL) - 77777, &h);
      break;
    case 1:
      ok = fz_new_number(f, (double)fz_u16(f) / 8.0 - 100.0, &h);
      break;
    case 2: {
      unsigned b = fz_byte(f);
      size_t n = (b & 0x80) ? (size_t)(b & 0x7f) << 12 : b;   /* up to 508 KiB */
      const char *src;
      sl_kind k;
      if ((b & 0xf0) == 0x40 && sl_kind_of(f->iso, f->loc[b & 0x0f], &k) == SL_OK &&
          k == SL_STRING && sl_string_value(f->iso, f->loc[b & 0x0f], &src, &n) == SL_OK) {
        /* made from another string's bytes, which the allocation may move */
        char *copy = malloc(n + 1);
        if (copy == NULL) return;
        memcpy(copy, src, n);
        ok = fz_new_string(f, src, copy, n, &h);
        free(copy);
        break;
      }
      char *buf = malloc(n + 1);
      if (buf == NULL) return;
      for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + (i * 7 + b) % 26);
      ok = fz_new_string(f, buf, buf, n, &h);
      free(buf);
      break;
    }
    default: {
      unsigned b = fz_byte(f);
      if (!(b & 0x80) && (b & 0x20)) {   /* small: sometimes with elements */
        sl_local el[MAXEL];
        size_t n = (b % 17) % MAXEL;
        fz_elements(f, n, el);
        ok = fz_array_from(f, n, el, &h);
      } else {
        ok = fz_new_array(f, (b & 0x80) ? (size_t)(b & 0x7f) << 10 : b % 17, &h);
      }
      break;
    }
  }
  /* a Local the callbacks made stale is kept too: stale operands for later */
  if (ok || !sl_local_is_empty(h)) *dst = h;
}

/* ------------------------------------------------------------------ foreign handles */

/*
** B's and C's persistents and probes (and one of B's made just now) passed to
** the isolate's calls: every one refused with SL_EISOLATE, C's without a read
** of its freed nodes (ASan would say), and B's handles left as they were.
** Their Locals: refused as foreign or stale, never followed.
*/
static void fz_foreign_checks(fz *f) {
  sl_isolate *iso = f->iso, *b = f->other;
  sl_persistent ps[3];
  sl_probe ws[2] = { f->other_probe, f->dead_probe };
  sl_local ls[2] = { f->other_local, f->dead_local };
  sl_local h = SL_EMPTY_LOCAL, reg = f->loc[fz_byte(f) % NLOC];
  sl_scope bs;
  sl_probe_info in;
  int flag;
  uint32_t site;
  void *param;
  int64_t v;
  sl_status st;
  if ((st = sl_scope_open(b, &bs)) != SL_OK) fz_fail(f, "B: scope_open", st);
  ps[0] = f->other_pers;
  ps[1] = f->dead_pers;
  if ((st = sl_persistent_new(b, f->other_local, &ps[2])) != SL_OK)
    fz_fail(f, "B: persistent_new", st);
  if (sl_local_check(iso, reg) != SL_OK) reg = SL_EMPTY_LOCAL;
  for (int i = 0; i < 3; i++) {
    fz_foreign(f, sl_persistent_get(iso, ps[i], &h), "persistent_get of a foreign handle");
    fz_foreign(f, sl_persistent_reset(iso, ps[i], reg), "persistent_reset of a foreign handle");
    fz_foreign(f, sl_persistent_is_empty(iso, ps[i], &flag), "persistent_is_empty foreign");
    fz_foreign(f, sl_persistent_set_weak(iso, ps[i], NULL, NULL), "set_weak of a foreign handle");
    fz_foreign(f, sl_persistent_clear_weak(iso, ps[i], &param), "clear_weak of a foreign handle");
    fz_foreign(f, sl_persistent_is_weak(iso, ps[i], &flag), "is_weak of a foreign handle");
    fz_foreign(f, sl_persistent_set_site(iso, ps[i], 7), "set_site of a foreign handle");
    fz_foreign(f, sl_persistent_site(iso, ps[i], &site), "site of a foreign handle");
    fz_foreign(f, sl_persistent_delete(iso, ps[i]), "persistent_delete of a foreign handle");
  }
  for (int i = 0; i < 2; i++) {
    fz_foreign(f, sl_probe_info_of(iso, ws[i], &in), "probe_info_of a foreign probe");
    fz_foreign(f, sl_probe_get(iso, ws[i], &h), "probe_get of a foreign probe");
    fz_foreign(f, sl_probe_delete(iso, ws[i]), "probe_delete of a foreign probe");
  }
  for (int i = 0; i < 2; i++) {
    sl_persistent q;
    sl_probe w;
    size_t idx, eternals = sl_eternal_count(iso);
    uint64_t id;
    fz_foreign_local(f, sl_local_check(iso, ls[i]), "local_check of a foreign Local");
    fz_foreign_local(f, sl_local_new(iso, ls[i], &h), "local_new of a foreign Local");
    fz_foreign_local(f, sl_identity(iso, ls[i], &id), "identity of a foreign Local");
    fz_foreign_local(f, sl_persistent_new(iso, ls[i], &q), "persistent_new of a foreign Local");
    fz_foreign_local(f, sl_probe_new(iso, ls[i], &w), "probe_new of a foreign Local");
    fz_foreign_local(f, sl_eternal_new(iso, ls[i], &idx), "eternal_new of a foreign Local");
    if (sl_eternal_count(iso) != eternals) fz_fail(f, "a refused eternal_new added one", SL_OK);
    h = SL_EMPTY_LOCAL;
    fz_foreign_local(f, sl_array_from(iso, 1, &ls[i], &h), "array_from of a foreign Local");
    if (!sl_local_is_empty(h)) fz_fail(f, "a refused array_from wrote its Local", SL_OK);
  }
  /* B saw none of it: its handles still hold the integer 5 */
  for (int i = 0; i < 3; i += 2) {
    int weak = 1;
    if ((st = sl_persistent_get(b, ps[i], &h)) != SL_OK) fz_fail(f, "B: persistent_get", st);
    if ((st = sl_integer_value(b, h, &v)) != SL_OK || v != 5)
      fz_fail(f, "B's persistent changed by the isolate's calls", st);
    if (sl_persistent_site(b, ps[i], &site) != SL_OK || site == 7 ||
        sl_persistent_is_weak(b, ps[i], &weak) != SL_OK || weak)
      fz_fail(f, "B's persistent tagged or made weak by the isolate's calls", SL_OK);
  }
  if ((st = sl_probe_info_of(b, f->other_probe, &in)) != SL_OK || !in.alive)
    fz_fail(f, "B's probe changed by the isolate's calls", st);
  if ((st = sl_persistent_delete(b, ps[2])) != SL_OK) fz_fail(f, "B: persistent_delete", st);
  if ((st = sl_scope_close(&bs)) != SL_OK) fz_fail(f, "B: scope_close", st);
  if ((st = sl_verify_heap(b)) != SL_OK) fz_fail(f, "B does not verify", st);
}

/* ------------------------------------------------------------------ callbacks */

static void fz_step(fz *f);
static void fz_weak_cb(sl_isolate *iso, sl_persistent p, void *param);

/* sl_collect: it runs the weak callbacks and second passes it queued. */
static void fz_collect(fz *f, int kinds) {
  sl_gc_stats gs;
  sl_status st = sl_collect(f->iso, kinds, &gs);
  fz_status(f, st, "collect");
  if (st == SL_ESTATE)
    fz_not_reset(f, strstr(sl_last_error(f->iso), "Handle not reset in first callback") != NULL,
                 "collect refused");
  else if (st != SL_OK && st != SL_ENOMEM)
    fz_fail(f, "collect failed with an unexpected status", st);
  fz_after_gc(f);
}

/* In a callback: close the caller's innermost scope, open another in its place
** and fill it with new objects, an array of them among them (more than four
** elements take sl_array_from's out-of-line path, whose allocation may run
** more callbacks). The new scope is left open for the program to find. */
static void fz_reopen_and_fill(fz *f) {
  sl_isolate *iso = f->iso;
  unsigned b = fz_byte(f);
  size_t want = 1 + b % MAXEL, n = 0;
  sl_local el[MAXEL], a;
  sl_scope s;
  sl_status st;
  fz_close_innermost(f);
  st = (b & 0x40) ? sl_escapable_scope_open(iso, &s) : sl_scope_open(iso, &s);
  fz_status(f, st, "open in a callback");
  if (st != SL_OK) return;
  fz_record_scope(f, &s);
  while (n < want && fz_new_integer(f, 1000 + (int64_t)n, &el[n])) n++;
  if (n > 0 && fz_array_from(f, n, el, &a)) f->loc[fz_byte(f) % NLOC] = a;
}

/*
** What embedder code the engine runs (a weak callback, a second pass, a task)
** may do, as a hostile embedder's would: close the caller's innermost scopes,
** close one and fill another, reset, delete or re-arm persistents (its own 'p'
** when 'have_p'), collect, run more of the program, pass another isolate's
** handles in. 'kind' names the caller in traces.
*/
static void fz_hostile(fz *f, sl_persistent p, int have_p, const char *kind) {
  sl_isolate *iso = f->iso;
  sl_status st;
  if (f->cb_depth >= MAXCB) return;
  f->cb_depth++;
  unsigned what = fz_byte(f);
  fz_trace("%*s%s %u (depth %u)\n", 2 * f->cb_depth, "", kind, what % 10,
           (unsigned)sl_scope_depth(iso));
  (void)kind;
  switch (what % 10) {
    case 0: break;
    case 1: {                  /* a scope of its own with an allocation */
      sl_scope s;
      sl_local h;
      if (sl_scope_open(iso, &s) == SL_OK) {
        fz_new_integer(f, -7, &h);
        fz_close_own(f, &s, "close in a callback");
      }
      break;
    }
    case 2:                    /* re-target its own node: strong again */
      if (have_p) {
        st = sl_persistent_reset(iso, p, fz_local(f));
        fz_status(f, st, "reset in a callback");
      }
      break;
    case 3:                    /* one more operation of the program, may collect */
      fz_step(f);
      break;
    case 4:                    /* close the caller's scope (and the ones around it) */
      for (unsigned k = 0; k <= (what >> 4) % 3; k++) fz_close_innermost(f);
      break;
    case 5:
      fz_reopen_and_fill(f);
      break;
    case 6: {                  /* reset, delete or re-arm another persistent */
      int foreign;
      sl_persistent q = fz_pers(f, &foreign);
      unsigned how = fz_byte(f) % 3;
      if (how == 0) st = sl_persistent_reset(iso, q, fz_local(f));
      else if (how == 1) st = sl_persistent_delete(iso, q);
      else st = sl_persistent_set_weak(iso, q, fz_weak_cb, f);
      if (foreign) fz_foreign(f, st, "a foreign persistent in a callback");
      fz_status(f, st, "persistent in a callback");
      break;
    }
    case 7:                    /* collect: queues and runs callbacks of its own */
      fz_collect(f, 1 + (int)(fz_byte(f) % 3));
      break;
    case 8:                    /* another isolate's handles */
      fz_foreign_checks(f);
      break;
    default:
      fz_step(f);
      fz_step(f);
  }
  f->cb_depth--;
}

/* A weak callback: the node is already empty; it may use the whole API. */
static void fz_weak_cb(sl_isolate *iso, sl_persistent p, void *param) {
  fz *f = (fz *)param;
  int empty = 0;
  sl_status st;
  f->cb_runs++;
  if (iso != f->iso || p.iso != iso) fz_fail(f, "callback for another isolate", SL_OK);
  st = sl_persistent_is_empty(iso, p, &empty);
  if (st != SL_OK) fz_fail(f, "a weak callback's own node is refused", st);
  if (!empty) fz_fail(f, "weak callback sees a non-empty node", SL_OK);
  if (sl_isolate_dispose(iso) != SL_ESTATE) fz_fail(f, "dispose inside a weak callback", SL_OK);
  fz_hostile(f, p, 1, "weak callback");
}

/* The refusal every forbidden call inside a first pass must meet. */
static void fz_gated(fz *f, sl_status st, const char *op) {
  if (st != SL_ESTATE) fz_fail(f, op, st);
  if (strstr(sl_last_error(f->iso), "not allowed in a first-pass weak callback") == NULL)
    fz_fail(f, "a first pass refused without saying so", st);
}

/* A second pass (after sl_collect, or as a task): the whole API again. */
static void fz_second_pass(const sl_weak_info *w) {
  fz *f = (fz *)sl_weak_info_parameter(w);
  sl_isolate *iso = sl_weak_info_isolate(w);
  f->cb_runs++;
  if (iso != f->iso || !sl_weak_info_is_second_pass(w))
    fz_fail(f, "a second pass for another isolate, or not told it is one", SL_OK);
  if (sl_weak_info_set_second_pass(w, fz_second_pass) != SL_ESTATE)
    fz_fail(f, "a second pass set another", SL_OK);
  if (sl_isolate_dispose(iso) != SL_ESTATE) fz_fail(f, "dispose inside a second pass", SL_OK);
  fz_hostile(f, sl_weak_info_handle(w), 1, "second pass");
}

/*
** A first pass runs at the end of the collection, inside the allocation that
** collected (the new object's slot reserved, not yet filled), under the gate:
** every call that allocates, makes a handle or a persistent, opens or closes a
** scope or collects must be refused, the caller's scope above all. It may read
** values and reset persistents, and must reset its own handle: one that keeps
** it fails the collection. An object's two aligned-pointer fields reach it.
*/
static void fz_first_pass(const sl_weak_info *w) {
  fz *f = (fz *)sl_weak_info_parameter(w);
  sl_isolate *iso = sl_weak_info_isolate(w);
  sl_persistent p = sl_weak_info_handle(w);
  sl_local h, el[5] = { SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL,
                        SL_EMPTY_LOCAL };
  sl_persistent q;
  sl_scope s;
  void *field;
  unsigned what = fz_byte(f);
  sl_status st;
  f->cb_runs++;
  fz_trace("%*sfirst pass %u (depth %u)\n", 2 * f->cb_depth, "", what % 8,
           (unsigned)sl_scope_depth(iso));
  if (iso != f->iso || p.iso != iso || sl_weak_info_is_second_pass(w))
    fz_fail(f, "a first pass for another isolate, or told it is a second", SL_OK);
  if (sl_weak_info_internal_field(w, 0, &field) != SL_OK ||
      (field != NULL && field != (void *)&f->fp[0]) ||
      sl_weak_info_internal_field(w, 1, &field) != SL_OK ||
      (field != NULL && field != (void *)&f->fp[1]) ||
      sl_weak_info_internal_field(w, 2, &field) != SL_EARG)
    fz_fail(f, "a first pass got pointers its object did not hold", SL_OK);
  if (sl_isolate_dispose(iso) != SL_ESTATE) fz_fail(f, "dispose inside a first pass", SL_OK);
  if (sl_scope_depth(iso) > 0) {
    if ((st = sl_scope_at(iso, sl_scope_depth(iso), &s)) != SL_OK) fz_fail(f, "scope_at", st);
    fz_gated(f, sl_scope_close(&s), "a first pass closed the caller's scope");
  }
  fz_gated(f, sl_scope_open(iso, &s), "a first pass opened a scope");
  fz_gated(f, sl_integer(iso, 1, &h), "a first pass allocated");
  fz_gated(f, sl_array_from(iso, 5, el, &h), "a first pass made an array");
  fz_gated(f, sl_collect(iso, SL_MINOR, NULL), "a first pass collected");
  fz_gated(f, sl_persistent_new(iso, SL_EMPTY_LOCAL, &q), "a first pass made a persistent");
  fz_gated(f, sl_run_tasks(iso, NULL), "a first pass ran tasks");
  fz_check_local(f, f->loc[what % NLOC]);          /* reading is allowed */
  switch (what % 4) {
    case 0:                    /* keeps it: the collection must fail, saying why */
      f->not_reset++;
      break;
    case 1: st = sl_persistent_reset(iso, p, SL_EMPTY_LOCAL); break;
    case 2: st = sl_persistent_delete(iso, p); break;
    default: st = sl_persistent_clear_weak(iso, p, NULL);
  }
  if (what % 4 != 0 && st != SL_OK) fz_fail(f, "a first pass could not reset its handle", st);
  if ((what & 4) && sl_weak_info_set_second_pass(w, fz_second_pass) != SL_OK)
    fz_fail(f, "set_second_pass", SL_OK);
}

/* An embedder's task: run by sl_run_tasks, the whole API. */
static void fz_task(sl_isolate *iso, void *ud) {
  fz *f = (fz *)ud;
  f->cb_runs++;
  if (iso != f->iso) fz_fail(f, "a task for another isolate", SL_OK);
  if (sl_isolate_dispose(iso) != SL_ESTATE) fz_fail(f, "dispose inside a task", SL_OK);
  fz_hostile(f, f->pers[0], 0, "task");
}

/* ------------------------------------------------------------------ calls */

static void fz_call(fz *f);

/*
** A function's callback (V8's FunctionCallback): inside the HandleScope the
** engine opened for it, with the receiver and arguments live. It may set a
** return value, fail, leave scopes open, close its implicit scope and the
** caller's, call again, collect. At its end it works out from the core's state
** what sl_call must report: its own failure, else SL_ESTATE when the implicit
** scope is gone, else SL_EORDER when it left scopes open, else success.
*/
static sl_status fz_function(sl_isolate *iso, const sl_call_info *ci) {
  fz *f = (fz *)sl_call_native(ci);
  uint32_t d = sl_scope_depth(iso);
  sl_scope implicit;
  sl_scope_info in;
  sl_kind k;
  sl_local h;
  uint64_t ret = 0;
  sl_status st, result = SL_OK;
  f->cb_runs++;
  if (iso != f->iso || sl_call_isolate(ci) != iso || sl_call_depth(iso) == 0)
    fz_fail(f, "a function callback for another isolate, or outside a call", SL_OK);
  if (d == 0 || sl_scope_info_at(iso, d, &in) != SL_OK || !in.implicit ||
      in.kind != SL_SCOPE_HANDLE || sl_scope_at(iso, d, &implicit) != SL_OK)
    fz_fail(f, "a function callback runs outside the scope the call opened", SL_OK);
  if (sl_local_check(iso, sl_call_this(ci)) != SL_OK ||
      sl_kind_of(iso, sl_call_callee(ci), &k) != SL_OK || k != SL_FUNCTION ||
      sl_kind_of(iso, sl_call_arg(ci, sl_call_length(ci)), &k) != SL_OK || k != SL_UNDEFINED)
    fz_fail(f, "a function callback's receiver, callee or missing argument", SL_OK);
  for (size_t i = 0; i < sl_call_length(ci); i++) {
    if (sl_local_check(iso, sl_call_arg(ci, i)) != SL_OK) fz_fail(f, "an argument is dead", SL_OK);
    fz_check_local(f, sl_call_arg(ci, i));
  }
  if (sl_isolate_dispose(iso) != SL_ESTATE) fz_fail(f, "dispose inside a call", SL_OK);
  f->loc[fz_byte(f) % NLOC] = sl_call_this(ci);    /* a stale Local once the call returns */
  if (f->cb_depth < MAXCB) {
    unsigned what = fz_byte(f);
    f->cb_depth++;
    fz_trace("%*sfunction %u (depth %u)\n", 2 * f->cb_depth, "", what % 10, (unsigned)d);
    switch (what % 10) {
      case 0: break;
      case 1:                  /* return a new integer */
        if (fz_new_integer(f, 4242, &h)) {
          if ((st = sl_call_set_return(ci, h)) != SL_OK) fz_fail(f, "set_return", st);
          sl_identity(iso, h, &ret);
        }
        break;
      case 2:                  /* return an argument, or undefined */
        h = sl_call_arg(ci, 0);
        if ((st = sl_call_set_return(ci, h)) != SL_OK) fz_fail(f, "set_return of an arg", st);
        if (sl_kind_of(iso, h, &k) == SL_OK && k != SL_UNDEFINED) sl_identity(iso, h, &ret);
        break;
      case 3:                  /* fail */
        result = sl_set_error(iso, SL_EARG, "fuzz: the callback failed");
        break;
      case 4: {                /* leave scopes open */
        sl_scope s;
        for (unsigned n = 0; n <= (what >> 4) % 2; n++)
          if (sl_scope_open(iso, &s) == SL_OK) fz_record_scope(f, &s);
        break;
      }
      case 5:                  /* close the implicit scope, and the caller's */
        for (unsigned n = 0; n <= (what >> 4) % 3; n++) fz_close_innermost(f);
        break;
      case 6:                  /* close it and fill another in its place */
        fz_reopen_and_fill(f);
        break;
      case 7:
        fz_call(f);
        break;
      case 8:
        fz_collect(f, 1 + (int)(fz_byte(f) % 3));
        break;
      default:
        fz_step(f);
    }
    f->cb_depth--;
  }
  f->call_closed = !sl_scope_is_open(&implicit);
#if !FZ_CALL_REOPENS_OVER_ITS_SCOPE
  /* The core bug behind the flag: scopes opened over a closed implicit scope,
  ** with no handle in them, and the call's failure takes the slot below them. */
  if (f->call_closed)
    while (sl_scope_depth(iso) >= d) fz_close_innermost(f);
#endif
  f->call_expect = result != SL_OK ? (int)result : f->call_closed ? (int)SL_ESTATE
                   : sl_scope_depth(iso) > d ? (int)SL_EORDER : (int)SL_OK;
  f->call_ret = ret;
  return result;
}

static int fz_new_function(fz *f, sl_local *out) {
  fz_pre c;
  *out = SL_EMPTY_LOCAL;
  fz_begin(f, &c);
  sl_status st = sl_function_new(f->iso, fz_function, f, SL_EMPTY_LOCAL, SL_EMPTY_LOCAL, out);
  if (!fz_made(f, &c, st, *out, SL_FUNCTION, 0, "function")) return 0;
  fz_check_local(f, *out);
  return 1;
}

/*
** sl_call of a new function with operands that may be unusable: refused before
** the callback runs (no scope, a seal, a full capacity scope, a bad operand),
** or it runs and the call reports what the callback left (fz_function). On
** success the result is a live Local of the caller's scope holding the value
** returned; the scopes the callback left are closed unless it closed the
** implicit one, and a failed call writes no result.
*/
static void fz_call(fz *f) {
  sl_isolate *iso = f->iso;
  sl_local fn, recv = fz_local(f), argv[4], res = SL_EMPTY_LOCAL;
  sl_local *dst = fz_reg(f);
  size_t argc = fz_byte(f) % 5;
  uint32_t calls = sl_call_depth(iso), depth;
  uint64_t runs;
  int bad = 0;
  fz_elements(f, argc, argv);
  if (!fz_new_function(f, &fn)) return;
  bad = !sl_local_is_empty(recv) && sl_local_check(iso, recv) != SL_OK;
  for (size_t i = 0; i < argc; i++)
    if (!sl_local_is_empty(argv[i]) && sl_local_check(iso, argv[i]) != SL_OK) bad = 1;
  depth = sl_scope_depth(iso);
  runs = f->cb_runs;
  f->call_expect = -1;
  sl_status st = sl_call(iso, fn, recv, argc, argv, &res);
  fz_trace("%*scall: %s\n", 2 * f->cb_depth, "", sl_status_name(st));
  fz_status(f, st, "call");
  if (f->call_expect == -1) {         /* refused before the callback ran */
    if (st == SL_OK) fz_fail(f, "a call succeeded without running its callback", st);
    if (bad ? st != SL_ESTALE && st != SL_EISOLATE && st != SL_EARG
            : st != SL_ENOSCOPE && st != SL_ESEALED && st != SL_ECAPACITY && st != SL_ENOMEM)
      fz_fail(f, "a call refused with an unexpected status", st);
  } else {
    if (bad) fz_fail(f, "a call ran its callback with an unusable operand", st);
    if ((int)st != f->call_expect) fz_fail(f, "a call reported other than its callback left", st);
    if (!f->call_closed && sl_scope_depth(iso) != depth)
      fz_fail(f, "a call left the callback's scopes open", st);
  }
  if (st == SL_OK) {
    sl_kind k;
    uint64_t id = 0;
    if (sl_local_check(iso, res) != SL_OK || sl_kind_of(iso, res, &k) != SL_OK)
      fz_fail(f, "a call's result is not live", st);
    if (f->call_ret == 0 ? k != SL_UNDEFINED
                         : sl_identity(iso, res, &id) != SL_OK || id != f->call_ret)
      fz_fail(f, "a call's result is not what the callback returned", st);
    fz_check_local(f, res);
    *dst = res;
  } else if (!sl_local_is_empty(res)) {
    fz_fail(f, "a failed call wrote its result", st);
  }
  if (sl_call_depth(iso) != calls) fz_fail(f, "call depth not restored", st);
  if (f->cb_runs != runs) fz_after_gc(f);
}

/* An object with two aligned-pointer fields (or none set), its persistent in
** 'p' made weak with a two-pass callback: the first pass must see them. */
static void fz_arm_two_pass(fz *f, sl_persistent *p, unsigned b) {
  sl_isolate *iso = f->iso;
  sl_local h;
  fz_pre c;
  fz_begin(f, &c);
  sl_status st = sl_object_new(iso, 2, &h);
  if (!fz_made(f, &c, st, h, SL_OBJECT, 0, "object")) return;
  fz_fresh(f, h, SL_OBJECT, 2);
  if ((b & 1) && (sl_object_set_aligned_pointer(iso, h, 0, &f->fp[0]) != SL_OK ||
                  sl_object_set_aligned_pointer(iso, h, 1, &f->fp[1]) != SL_OK))
    fz_fail(f, "set_aligned_pointer", SL_OK);
  st = sl_persistent_new(iso, h, p);
  fz_status(f, st, "persistent_new for arm_two_pass");
  if (st == SL_OK &&
      (st = sl_persistent_set_weak_two_pass(iso, *p, fz_first_pass, f,
                                            (b & 2) ? SL_WEAK_INTERNAL_FIELDS
                                                    : SL_WEAK_PARAMETER)) != SL_OK)
    fz_fail(f, "set_weak_two_pass of a fresh persistent", st);
}

/* Tasks: post one, or run the queue (second passes a collection left too). */
static void fz_tasks(fz *f) {
  sl_status st;
  size_t ran;
  if (fz_byte(f) & 1) {
    st = sl_post_task(f->iso, fz_task, f);
  } else {
    uint64_t runs = f->cb_runs;
    st = sl_run_tasks(f->iso, &ran);
    if (f->cb_runs != runs) fz_after_gc(f);
  }
  fz_status(f, st, "tasks");
  if (st != SL_OK && st != SL_ENOMEM) fz_fail(f, "tasks", st);
}

/* ------------------------------------------------------------------ hooks */

/* Collection and move hooks run with a collection under way: dispose must be
** refused. (The collection hook runs after the verifier: a refusal there would
** overwrite a corruption message, so only isolates that do not verify try.) */
static void fz_gc_hook(sl_isolate *iso, const sl_gc_stats *gs, void *ud) {
  const fz *f = (const fz *)ud;
  (void)gs;
  if (!f->verify_on && sl_isolate_dispose(iso) != SL_ESTATE) {
    fprintf(stderr, "fuzz_api: dispose inside the collection hook was not refused\n");
    abort();
  }
}

static void fz_move_hook(sl_isolate *iso, uint64_t id, uintptr_t from, uintptr_t to,
                         uint64_t collection, void *ud) {
  fz *f = (fz *)ud;
  (void)id; (void)collection;
  if (from == to) fz_fail(f, "move hook for an object that did not move", SL_OK);
  if (f->moves_seen++ % 64 == 0 && sl_isolate_dispose(iso) != SL_ESTATE) {
    fprintf(stderr, "fuzz_api: dispose inside the move hook was not refused\n");
    abort();
  }
}

/* Walk visitors: they may not call the API; they only check what they are shown. */
typedef struct fz_walk {
  size_t n;
  int bad;
  const sl_isolate *iso;
} fz_walk;

/* 'last': the last kind the walk may show (heap walks: no read-only root). */
static int fz_valid_info(const sl_object_info *o, sl_kind last) {
  return o->id != 0 && o->kind >= SL_INTEGER && o->kind <= last && o->size > 0 &&
         (o->generation == SL_YOUNG || o->generation == SL_OLD) && o->address != 0;
}

static int fz_visit_object(const sl_object_info *o, void *ud) {
  fz_walk *w = (fz_walk *)ud;
  w->n++;
  if (!fz_valid_info(o, SL_PROPERTIES)) w->bad = 1;
  return 0;
}

static int fz_visit_root(const sl_root_info *r, const sl_object_info *o, void *ud) {
  fz_walk *w = (fz_walk *)ud;
  w->n++;
  if (r->kind < SL_ROOT_LOCAL || r->kind > SL_ROOT_FRAME || !fz_valid_info(o, SL_BOOLEAN))
    w->bad = 1;
  return 0;
}

static int fz_visit_persistent(sl_persistent p, uint32_t site, int weak, uint64_t id, void *ud) {
  fz_walk *w = (fz_walk *)ud;
  (void)site;
  w->n++;
  if (weak && id == 0) w->bad = 1;      /* an emptied node is never weak */
  if (p.iso != w->iso) w->bad = 1;      /* the walk hands out this isolate's handles */
  return 0;
}

/* sl_scope_foreach's one pass must agree with sl_scope_info_at, scope by scope. */
typedef struct fz_scopes {
  fz *f;
  uint32_t seen;
} fz_scopes;

static int fz_visit_scope(const sl_scope_info *in, void *ud) {
  fz_scopes *w = (fz_scopes *)ud;
  sl_scope_info at;
  w->seen++;
  if (sl_scope_info_at(w->f->iso, w->seen, &at) != SL_OK || in->depth != w->seen ||
      at.kind != in->kind || at.implicit != in->implicit || at.level != in->level ||
      at.serial != in->serial ||
      at.handles != in->handles || at.capacity != in->capacity || at.site != in->site ||
      at.escaped != in->escaped)
    fz_fail(w->f, "scope_foreach disagrees with scope_info_at", SL_OK);
  return 0;
}

static void fz_watch_hook(sl_isolate *iso, const sl_scope_info *scope, void *ud) {
  fz *f = (fz *)ud;
  (void)iso;
  if (scope->handles == 0) fz_fail(f, "watch hook for a scope with no handles", SL_OK);
#if FZ_DISPOSE_IN_WATCH_HOOK
  if (sl_isolate_dispose(iso) != SL_ESTATE) {
    fprintf(stderr, "fuzz_api: dispose inside the watch hook was not refused\n");
    abort();
  }
#endif
}

/* ------------------------------------------------------------------ operations */

/* A value made weak in a scope closed at once, so the next collection that
** reaches it queues its callback: the harness's single-pass callback, or with
** 'two_pass' an object's two-pass one. The allocation itself may run callbacks
** that close the scope first. */
static void fz_arm(fz *f, int two_pass) {
  sl_isolate *iso = f->iso;
  sl_persistent *p = &f->pers[fz_byte(f) % NPERS];
  unsigned b = fz_byte(f);
  sl_scope s;
  sl_local h;
  sl_status st = sl_scope_open(iso, &s);
  fz_status(f, st, "open for arm");
  if (st != SL_OK) return;
  if (two_pass) {
    fz_arm_two_pass(f, p, b);
  } else if ((b & 1) ? fz_new_integer(f, (int64_t)b, &h)
                     : fz_new_string(f, "weak", "weak", 4, &h)) {
    st = sl_persistent_new(iso, h, p);
    fz_status(f, st, "persistent_new for arm");
    if (st == SL_OK) {
      if ((st = sl_persistent_set_weak(iso, *p, fz_weak_cb, f)) != SL_OK)
        fz_fail(f, "set_weak of a fresh persistent", st);
      if (b & 2) {
        st = sl_probe_new(iso, h, &f->probe[(b >> 2) % NPROBE]);
        fz_status(f, st, "probe_new for arm");
      }
    }
  }
  fz_close_own(f, &s, "close after arm");
}

static void fz_step(fz *f) {
  sl_isolate *iso = f->iso;
  sl_status st;
  int foreign;
  unsigned op = fz_byte(f) % 40;
  fz_trace("%*sop %u (depth %u)\n", 2 * f->cb_depth, "", op, (unsigned)sl_scope_depth(iso));
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
      if (s != NULL) fz_close_own(f, s, "close");
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
      sl_persistent p = fz_pers(f, &foreign);
      st = sl_persistent_reset(iso, p, fz_local(f));
      if (foreign) fz_foreign(f, st, "persistent_reset of a foreign handle");
      fz_status(f, st, "persistent_reset");
      break;
    }
    case 18: {
      sl_persistent p = fz_pers(f, &foreign);
      st = sl_persistent_delete(iso, p);
      if (foreign) fz_foreign(f, st, "persistent_delete of a foreign handle");
      fz_status(f, st, "persistent_delete");
      break;
    }
    case 19: {
      sl_persistent p = fz_pers(f, &foreign);
      sl_local out;
      sl_local *dst = fz_reg(f);
      st = sl_persistent_get(iso, p, &out);
      if (foreign) fz_foreign(f, st, "persistent_get of a foreign handle");
      fz_status(f, st, "persistent_get");
      if (st == SL_OK) { *dst = out; fz_check_local(f, out); }
      break;
    }
    case 20: {                          /* weak, with or without callback */
      sl_persistent p = fz_pers(f, &foreign);
      int cb = (fz_byte(f) & 1u) != 0;
      st = sl_persistent_set_weak(iso, p, cb ? fz_weak_cb : NULL, cb ? f : NULL);
      if (foreign) fz_foreign(f, st, "set_weak of a foreign handle");
      fz_status(f, st, "set_weak");
      break;
    }
    case 21: {
      void *param;
      int w;
      sl_persistent p = fz_pers(f, &foreign);
      st = sl_persistent_clear_weak(iso, p, &param);
      if (foreign) fz_foreign(f, st, "clear_weak of a foreign handle");
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
      unsigned slot = fz_byte(f), what = fz_byte(f) % 3;
      if (what == 0) {
        st = sl_probe_new(iso, fz_local(f), &f->probe[slot % NPROBE]);
        fz_status(f, st, "probe_new");
        break;
      }
      sl_probe pr = fz_probe_of(f, slot, &foreign);
      if (what == 1) {
        sl_local out;
        sl_local *dst = fz_reg(f);
        st = sl_probe_get(iso, pr, &out);
        if (foreign) fz_foreign(f, st, "probe_get of a foreign probe");
        fz_status(f, st, "probe_get");
        if (st == SL_OK && !sl_local_is_empty(out)) { *dst = out; fz_check_local(f, out); }
      } else {
        st = sl_probe_delete(iso, pr);
        if (foreign) fz_foreign(f, st, "probe_delete of a foreign probe");
        fz_status(f, st, "probe_delete");
      }
      break;
    }
    case 25: case 26: case 27:          /* collections */
      fz_collect(f, op == 25 ? SL_MINOR : op == 26 ? SL_MAJOR : SL_MINOR | SL_MAJOR);
      break;
    case 28: {                          /* retaining path of a probe's object */
      sl_probe_info in;
      sl_path path;
      sl_probe pr = fz_probe(f, &foreign);
      st = sl_probe_info_of(iso, pr, &in);
      if (foreign) fz_foreign(f, st, "probe_info_of a foreign probe");
      if (st == SL_OK) {
        st = sl_retaining_path(iso, in.id, &path);
        fz_status(f, st, "retaining_path");
        if (st == SL_OK) sl_path_free(&path);
      }
      break;
    }
    case 29: {                          /* the diagnostic walks see sane objects */
      fz_walk w = { 0, 0, iso };
      sl_heap_foreach(iso, fz_visit_object, &w);
      sl_roots_foreach(iso, fz_visit_root, &w);
      sl_persistent_foreach(iso, fz_visit_persistent, &w);
      if (w.bad) fz_fail(f, "a walk showed an invalid object or node", SL_OK);
      break;
    }
    case 30:                            /* the soft handle watch, on or off */
      sl_watch_handles(iso, fz_byte(f) % 8, fz_watch_hook, f);
      break;
    case 31: {                          /* counts agree with the scope records */
      size_t sum = 0;
      uint32_t d = sl_scope_depth(iso);
      sl_heap_stats hs;
      fz_scopes w = { f, 0 };
      for (uint32_t i = 1; i <= d; i++) {
        sl_scope_info in;
        if ((st = sl_scope_info_at(iso, i, &in)) != SL_OK) fz_fail(f, "scope_info_at", st);
        if (in.handles > sl_number_of_handles(iso))
          fz_fail(f, "a scope owns more handles than there are", SL_OK);
        sum += in.handles;
      }
      if (sum != sl_number_of_handles(iso)) fz_fail(f, "handle count disagrees", SL_OK);
      sl_heap_stats_of(iso, &hs);
      if (hs.handles != sum || hs.scope_depth != d) fz_fail(f, "stats disagree", SL_OK);
      sl_scope_foreach(iso, fz_visit_scope, &w);
      if (w.seen != d) fz_fail(f, "scope_foreach missed scopes", SL_OK);
      break;
    }
    case 32:
      fz_arm(f, 0);
      break;
    case 33:
      fz_foreign_checks(f);
      break;
    case 34: {                          /* an array from 5..16 elements: out of line */
      sl_local el[MAXEL], h;
      sl_local *dst = fz_reg(f);
      size_t n = 5 + fz_byte(f) % (MAXEL - 4);
      fz_elements(f, n, el);
      if (fz_array_from(f, n, el, &h) || !sl_local_is_empty(h)) *dst = h;
      break;
    }
    case 35:                            /* verify; every register reads right */
      fz_after_gc(f);
      break;
    case 37:
      fz_call(f);
      break;
    case 38:
      fz_arm(f, 1);
      break;
    case 39:
      fz_tasks(f);
      break;
    default: {                          /* unpack n elements (n > 4: out of line) */
      sl_local a = fz_local(f), out[8];
      size_t i = fz_byte(f) % 12, n = fz_byte(f) % 8, k;
      st = sl_array_unpack(iso, a, i, n, out);
      fz_status(f, st, "array_unpack");
      if (st != SL_OK) break;
      for (k = 0; k < n; k++) {
        sl_local g;
        int same = 0;
        if (sl_array_get(iso, a, i + k, &g) != SL_OK) break;   /* no room for the Local */
        if (sl_same(iso, g, out[k], &same) != SL_OK || !same)
          fz_fail(f, "array_unpack and array_get disagree", SL_OK);
        fz_check_local(f, out[k]);
      }
      for (k = 0; k < n && k < 4; k++) f->loc[(i + k) % NLOC] = out[k];
      break;
    }
  }
}

static sl_isolate *fz_isolate(fz *f) {
  /* small spaces: exhaustion is reachable, and each input stays fast */
  static const size_t young[] = { 4096, 16384, 65536, 8192 };
  static const size_t old[] = { 65536, 262144, 1 << 20, 16384 };
  static const size_t block[] = { 2, 3, 16, 0 };
  /* gc_interval 1: a collection, and so callbacks, inside every slow allocation */
  static const unsigned interval[] = { 0, 1, 1, 3, 17, 64, 0, 5 };
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
  f->verify_on = o.verify_heap;
  return sl_isolate_new(&o);
}

/* B, live for the whole input, and C, disposed at once: sources of foreign
** Locals, persistents and probes. C is made after the isolate under test, so
** its freed memory can never be that isolate's. */
static void fz_foreigners(fz *f, sl_scope *bs) {
  sl_options o;
  sl_scope cs;
  sl_isolate *c;
  sl_options_init(&o);
  o.young_size = o.old_size = 4096;
  f->other = sl_isolate_new(&o);
  c = sl_isolate_new(&o);
  if (f->other == NULL || c == NULL) abort();
  if (sl_scope_open(f->other, bs) != SL_OK || sl_integer(f->other, 5, &f->other_local) != SL_OK ||
      sl_persistent_new(f->other, f->other_local, &f->other_pers) != SL_OK ||
      sl_probe_new(f->other, f->other_local, &f->other_probe) != SL_OK)
    abort();
  if (sl_scope_open(c, &cs) != SL_OK || sl_integer(c, 6, &f->dead_local) != SL_OK ||
      sl_persistent_new(c, f->dead_local, &f->dead_pers) != SL_OK ||
      sl_probe_new(c, f->dead_local, &f->dead_probe) != SL_OK)
    abort();
  if (sl_isolate_dispose(c) != SL_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz *f = calloc(1, sizeof *f);
  sl_scope bs;
  if (f == NULL) return 0;
  f->p = data;
  f->end = data + size;
  f->iso = fz_isolate(f);
  if (f->iso == NULL) abort();
  fz_foreigners(f, &bs);
  sl_set_move_hook(f->iso, fz_move_hook, f);
  sl_set_gc_hook(f->iso, fz_gc_hook, f);
  for (int steps = 0; fz_more(f) && steps < 20000; steps++) {
    fz_step(f);
    if (steps % VERIFY_EVERY == VERIFY_EVERY - 1 && sl_verify_heap(f->iso) != SL_OK)
      fz_fail(f, "heap does not verify", SL_ECORRUPT);
  }
  /* the end: close everything, collect, verify, dispose with scopes left open
  ** half the time (dispose frees them) */
  if (size & 1) {
    while (sl_scope_depth(f->iso) > 0) fz_close_innermost(f);
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
