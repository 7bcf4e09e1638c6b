/* SPDX-License-Identifier: MIT */
/*
** lslnative.c: native blocks ("scopelab.NativeBlock"): iso:native_alloc(bytes
** [, label]), nb:size(), nb:pointer(), nb:free(), nb:is_freed(), and
** iso:native_report(); and the native pointers other files take and give back
** (aligned pointers in internal fields, externals, weak callback fields).
**
** A native block is what an addon gets from malloc: memory the collector knows
** nothing of, unless the program reports it (iso:adjust_external_memory). The
** binding only keeps the books. A block is one malloc (its header, its bytes,
** its label) on a list of the isolate, counted in stats().native_bytes and
** native_blocks. Its userdata is kept by the isolate's UV_NATIVE map until
** nb:free(): Lua dropping it frees nothing, as an addon that loses a pointer
** leaks its memory; that is the leak experiments show. Disposing the isolate
** frees what is left. A pointer handed back from the heap (an aligned pointer,
** an external's value) is the block's userdata again while the block lives,
** found in UV_NATIVE; any other pointer is a light userdata.
**
** Blocks are no part of the heap: a worker (lslweak.c) may allocate and free
** them, so their checks accept an isolate whose 'iso' a worker took away.
*/

#include <stdlib.h>
#include <string.h>

#include "lsltypes.h"

typedef struct lsl_block {
  struct lsl_block *prev, *next;  /* the isolate's list, newest first */
  size_t size;
  size_t labellen;                /* the label follows the bytes, NUL-terminated */
  uint32_t site;                  /* the line that allocated it */
  int haslabel;
} lsl_block;

/* The bytes begin after the header, rounded up to 16 (malloc's alignment),
** so that a block is a valid aligned pointer for an internal field. */
#define L_HDR ((sizeof(lsl_block) + 15) & ~(size_t)15)
#define l_bytes(b) ((char *)(b) + L_HDR)
#define l_label(b) (l_bytes(b) + (b)->size)

/* The isolate of 'li' may keep books on native memory: alive, or lent to a
** worker. */
static lsl_isolate *l_checkisonative(lua_State *L, int arg, const char *op) {
  lsl_isolate *li = (lsl_isolate *)lsl_testud(L, arg, UP_ISOLATE);
  if (li == NULL) { lsl_typeerror(L, arg, op, ISOLATE_MT); return NULL; }  /* not reached */
  if (lsl_disposed(li)) lsl_argerror(L, arg, op, "isolate is disposed");
  return li;
}

/* A NativeBlock at 'arg' whose isolate is not disposed (it may be freed). */
lsl_native *lsl_checknative(lua_State *L, int arg, const char *op) {
  lsl_native *nb = (lsl_native *)lsl_testud(L, arg, UP_NATIVE);
  if (nb == NULL) { lsl_typeerror(L, arg, op, NATIVE_MT); return NULL; }  /* not reached */
  if (lsl_disposed(nb->li)) lsl_argerror(L, arg, op, "native block of a disposed isolate");
  return nb;
}

/* A NativeBlock at 1 that is not freed. */
static lsl_block *l_checklive(lua_State *L, const char *op) {
  lsl_native *nb = lsl_checknative(L, 1, op);
  if (nb->b == NULL) lsl_argerror(L, 1, op, "native block is freed");
  return nb->b;
}

static void l_unlink(lsl_isolate *li, lsl_block *b) {
  if (b->prev) b->prev->next = b->next; else li->blocks = b->next;
  if (b->next) b->next->prev = b->prev;
  li->native_bytes -= b->size;
  li->native_blocks--;
}

/* What disposing the isolate frees: every block not freed yet. */
void lsl_native_freeall(lsl_isolate *li) {
  lsl_block *b = li->blocks;
  while (b != NULL) {
    lsl_block *next = b->next;
    free(b);
    b = next;
  }
  li->blocks = NULL;
  li->native_bytes = li->native_blocks = 0;
}

/* iso:native_alloc(bytes [, label]): zeroed memory, as calloc gives. */
int lsl_iso_native_alloc(lua_State *L) {
  lsl_isolate *li = l_checkisonative(L, 1, "native_alloc");
  lua_Integer n = lsl_checkint(L, 2, "native_alloc");
  size_t lablen = 0;
  const char *label = NULL;
  lsl_native *nb;
  lsl_block *b;
  if (!lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) != LUA_TSTRING) return lsl_typeerror(L, 3, "native_alloc", "string");
    label = lua_tolstring(L, 3, &lablen);
  }
  if (n < 0)
    return lsl_argerror(L, 2, "native_alloc", lua_pushfstring(L, "size must be non-negative, "
                        "got %I", n));
  if ((lua_Unsigned)n > ((size_t)-1 >> 2) - lablen)
    return lsl_argerror(L, 2, "native_alloc", lua_pushfstring(L, "%I bytes is too large", n));
  lua_settop(L, 3);
  nb = (lsl_native *)lua_newuserdatauv(L, sizeof *nb, 1);       /* 4 */
  nb->tag = lsl_tag(UP_NATIVE);
  nb->li = li;
  nb->b = NULL;
  lua_pushvalue(L, lua_upvalueindex(UP_NATIVE));
  lua_setmetatable(L, 4);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 4, UV_ISO);
  lsl_getuvtable(L, 1, UV_NATIVE);                              /* 5 */
  b = (lsl_block *)calloc(1, L_HDR + (size_t)n + lablen + 1);
  if (b == NULL)
    return luaL_error(L, "cannot allocate a native block of %I bytes (out of memory)", n);
  b->size = (size_t)n;
  b->labellen = lablen;
  b->haslabel = label != NULL;
  if (label != NULL) memcpy(l_label(b), label, lablen);
  b->next = li->blocks;
  if (li->blocks) li->blocks->prev = b;
  li->blocks = b;
  li->native_bytes += b->size;
  li->native_blocks++;
  nb->b = b;
  b->site = lsl_callsite(L, li, 1);    /* may raise (memory): the block is on the list */
  lua_pushvalue(L, 4);
  lua_rawsetp(L, 5, l_bytes(b));       /* kept until freed */
  lua_settop(L, 4);
  return 1;
}

int lsl_native_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)l_checklive(L, "size")->size);
  return 1;
}

int lsl_native_pointer(lua_State *L) {
  lua_pushlightuserdata(L, l_bytes(l_checklive(L, "pointer")));
  return 1;
}

/* nb:free(): freeing twice is an error, as a double free is. */
int lsl_native_free(lua_State *L) {
  lsl_native *nb = lsl_checknative(L, 1, "free");
  lsl_block *b = nb->b;
  if (b == NULL) return lsl_argerror(L, 1, "free", "native block is freed");
  lua_getiuservalue(L, 1, UV_ISO);
  if (lsl_isiso(L, -1, nb->li) && lua_getiuservalue(L, -1, UV_NATIVE) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_rawsetp(L, -2, l_bytes(b));
  }
  nb->b = NULL;
  l_unlink(nb->li, b);
  free(b);
  return 0;
}

int lsl_native_is_freed(lua_State *L) {
  lsl_native *nb = (lsl_native *)lsl_testud(L, 1, UP_NATIVE);
  if (nb == NULL) return lsl_typeerror(L, 1, "is_freed", NATIVE_MT);
  lua_pushboolean(L, nb->b == NULL || lsl_disposed(nb->li));
  return 1;
}

int lsl_native_eq(lua_State *L) {
  lsl_native *a = (lsl_native *)lsl_testud(L, 1, UP_NATIVE);
  lsl_native *b = (lsl_native *)lsl_testud(L, 2, UP_NATIVE);
  lua_pushboolean(L, a != NULL && a == b);
  return 1;
}

int lsl_native_tostring(lua_State *L) {
  lsl_native *nb = (lsl_native *)lsl_testud(L, 1, UP_NATIVE);
  if (nb == NULL) return lsl_typeerror(L, 1, "__tostring", NATIVE_MT);
  if (lsl_disposed(nb->li))
    lua_pushliteral(L, NATIVE_MT ": (isolate disposed)");
  else if (nb->b == NULL)
    lua_pushliteral(L, NATIVE_MT ": (freed)");
  else if (nb->b->haslabel)
    lua_pushfstring(L, NATIVE_MT ": %I bytes '%s' at %p", (lua_Integer)nb->b->size,
                    l_label(nb->b), (void *)l_bytes(nb->b));
  else
    lua_pushfstring(L, NATIVE_MT ": %I bytes at %p", (lua_Integer)nb->b->size,
                    (void *)l_bytes(nb->b));
  return 1;
}


/* ================================================================ pointers */

/* Pushes the NativeBlock whose bytes are at 'p' if it is a live block of 'li'
** (1), else nothing (0). */
int lsl_pushblock(lua_State *L, lsl_isolate *li, void *p) {
  lsl_native *nb;
  if (p == NULL || !lsl_pushiso(L, li)) { lua_pop(L, 1); return 0; }
  if (lua_getiuservalue(L, -1, UV_NATIVE) != LUA_TTABLE) { lua_pop(L, 2); return 0; }
  lua_rawgetp(L, -1, p);
  nb = (lsl_native *)lsl_testud(L, -1, UP_NATIVE);
  if (nb == NULL || nb->li != li || nb->b == NULL || l_bytes(nb->b) != (char *)p) {
    lua_pop(L, 3);
    return 0;
  }
  lua_replace(L, -3);
  lua_pop(L, 1);
  return 1;
}

/* Pushes a native pointer read from the heap: nil for NULL, the block it is
** one of 'li', else a light userdata. */
void lsl_pushpointer(lua_State *L, lsl_isolate *li, void *p) {
  if (p == NULL) lua_pushnil(L);
  else if (!lsl_pushblock(L, li, p)) lua_pushlightuserdata(L, p);
}

/* The native pointer at 'arg': nil (NULL), a light userdata, or a live
** NativeBlock of 'li' (its bytes). */
void *lsl_topointer(lua_State *L, const lsl_isolate *li, int arg, const char *op) {
  lsl_native *nb;
  if (lua_isnoneornil(L, arg)) return NULL;
  if (lua_type(L, arg) == LUA_TLIGHTUSERDATA) return lua_touserdata(L, arg);
  nb = (lsl_native *)lsl_testud(L, arg, UP_NATIVE);
  if (nb == NULL) {
    lsl_typeerror(L, arg, op, "light userdata or " NATIVE_MT);
    return NULL;                                /* not reached */
  }
  if (nb->li != li) lsl_argerror(L, arg, op, "native block of another isolate");
  if (nb->b == NULL) {
    lsl_argerror(L, arg, op, "native block is freed");
    return NULL;                                /* not reached */
  }
  return l_bytes(nb->b);
}


/* ================================================================ report */

typedef struct l_entry {
  const char *label;      /* into the snapshot's buffer */
  size_t size;
  uint32_t site;
  int haslabel;
} l_entry;

typedef struct l_group { size_t first, count, bytes; } l_group;

/* Copies the list into Lua-owned memory first (the tables built next may run
** finalizers, which may free blocks), with room for the groups after it. */
static l_entry *l_snapshot(lua_State *L, lsl_isolate *li, size_t *n, l_group **groups) {
  size_t count = 0, bytes = 0, k = 0;
  const lsl_block *b;
  l_entry *e;
  char *labels;
  for (b = li->blocks; b; b = b->next) { count++; bytes += b->labellen + 1; }
  e = (l_entry *)lua_newuserdatauv(L, count * (sizeof *e + sizeof **groups) + bytes + 1, 0);
  *groups = (l_group *)(e + count);
  labels = (char *)(*groups + count);
  for (b = li->blocks; b && k < count; b = b->next, k++) {   /* no Lua call in between */
    e[k].size = b->size;
    e[k].site = b->site;
    e[k].haslabel = b->haslabel;
    e[k].label = labels;
    memcpy(labels, l_label(b), b->labellen + 1);
    labels += b->labellen + 1;
  }
  *n = k;
  return e;
}

/* Entries of one group (same line, same label) next to each other. */
static int l_cmpentry(const void *pa, const void *pb) {
  const l_entry *a = (const l_entry *)pa, *b = (const l_entry *)pb;
  if (a->site != b->site) return a->site < b->site ? -1 : 1;
  if (a->haslabel != b->haslabel) return a->haslabel - b->haslabel;
  return strcmp(a->label, b->label);
}

/* Most bytes first; then most blocks; then by line. */
static int l_cmpgroup(const void *pa, const void *pb) {
  const l_group *a = (const l_group *)pa, *b = (const l_group *)pb;
  if (a->bytes != b->bytes) return a->bytes > b->bytes ? -1 : 1;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  return a->first < b->first ? -1 : a->first > b->first;
}

/* iso:native_report(): the blocks not freed, grouped by creation line and
** label, most bytes first: { {site =, label =, count =, bytes =}, ...,
** blocks = n, bytes = n }. */
int lsl_iso_native_report(lua_State *L) {
  lsl_isolate *li = l_checkisonative(L, 1, "native_report");
  size_t i, n, ng = 0, total = 0;
  l_group *g;
  l_entry *e = l_snapshot(L, li, &n, &g);
  qsort(e, n, sizeof *e, l_cmpentry);
  for (i = 0; i < n; i++) {
    if (i == 0 || l_cmpentry(&e[i - 1], &e[i]) != 0) {
      g[ng].first = i;
      g[ng].count = g[ng].bytes = 0;
      ng++;
    }
    g[ng - 1].count++;
    g[ng - 1].bytes += e[i].size;
    total += e[i].size;
  }
  qsort(g, ng, sizeof *g, l_cmpgroup);
  lua_createtable(L, (int)ng, 2);
  for (i = 0; i < ng; i++) {
    const l_entry *first = &e[g[i].first];
    lua_createtable(L, 0, 4);
    lsl_pushsite(L, 1, first->site);
    lua_setfield(L, -2, "site");
    if (first->haslabel) { lua_pushstring(L, first->label); lua_setfield(L, -2, "label"); }
    lsl_setint(L, "count", g[i].count);
    lsl_setint(L, "bytes", g[i].bytes);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lsl_setint(L, "blocks", n);
  lsl_setint(L, "bytes", total);
  return 1;
}
