/* SPDX-License-Identifier: MIT */
/*
** lslweak.c: two-pass weak callbacks (V8's SetWeak(parameter, callback,
** type)), the isolate's task queue, and the worker switch:
**   p:set_weak{first_pass = f, parameter = x, type = "parameter" | "internal_fields"}
**   info:parameter() info:internal_field(i) info:set_second_pass_callback(g)
**                                            ("scopelab.WeakCallbackInfo")
**   iso:post_task(fn)  iso:run_tasks()  iso:_run_as_worker(fn, ...)
**
** Two passes. A persistent made weak with a table is registered in UV_WEAK as
** for a single-pass callback (lslglobal.c), its user value 2 holding {f, x}.
** The core calls l_first_pass at the end of the collection that found the
** object dead, under its gate: every call that allocates, makes a handle,
** opens a scope or collects is refused there, and lsl_fail names the method
** ("cannot 'integer' now (not allowed in a first-pass weak callback)"). A
** second pass asked for by the first is kept in UV_SECOND under the
** persistent's serial until the core runs it (right after a forced
** collection, else as a task). Errors in either pass are counted and warned
** as any weak callback's, never raised through the core.
**
** Tasks. iso:post_task(fn) queues the C task l_task with the isolate as its
** data; the Lua functions wait in UV_TASKS, a queue in the order they were
** posted, which is the order the core runs its tasks in.
**
** The worker switch. iso:_run_as_worker(fn, ...) runs fn as a worker thread of
** the event loop would (the hook scopelab.loop needs): the isolate's 'iso' is
** moved to 'worker_iso' for the time, so every check of the binding, which
** reads 'iso', refuses the call with "isolate used from a worker thread"
** (lsl_gone): no function needs a check of its own. Native blocks keep their
** books apart from the heap and stay usable.
*/

#include <string.h>

#include "lsltypes.h"

/* ================================================================ two passes */

/* The second passes asked for on one persistent wait in UV_SECOND[serial], a
** list in the order the first passes asked (the order the core runs them in):
** a handle made weak again, whose object died again before the first second
** pass ran, has two. With the isolate at 1, takes the oldest off its list and
** leaves 2 the list, 3 the persistent, 4 {g, x, p}; 0 if none waits. */
static int l_take_second(lua_State *L, uint64_t serial) {
  lua_Integer n;
  lsl_getuvtable(L, 1, UV_SECOND);
  if (lua_rawgeti(L, 2, (lua_Integer)serial) != LUA_TTABLE) return 0;
  n = (lua_Integer)lua_rawlen(L, 3);
  if (n == 0 || lua_rawgeti(L, 3, 1) != LUA_TTABLE) return 0;   /* 4 */
  for (lua_Integer i = 1; i < n; i++) {       /* shift: the lists are short */
    lua_rawgeti(L, 3, i + 1);
    lua_rawseti(L, 3, i);
  }
  lua_pushnil(L);
  lua_rawseti(L, 3, n);
  if (n == 1) {
    lua_pushnil(L);
    lua_rawseti(L, 2, (lua_Integer)serial);
  }
  lua_remove(L, 2);                           /* 2 the list, 3 {g, x, p} */
  lua_rawgeti(L, 3, 3);
  lua_insert(L, 3);                           /* 3 the persistent, 4 {g, x, p} */
  return 1;
}

/* Under lua_pcall: runs pass 'f' (or g) of weak info 'w'. 1 is 'w', 2 whether
** it is the second pass. */
static int l_pass_body(lua_State *L) {
  const sl_weak_info *w = (const sl_weak_info *)lua_touserdata(L, 1);
  int second = lua_toboolean(L, 2), iso, rc;
  lsl_isolate *li = (lsl_isolate *)sl_weak_info_parameter(w);
  sl_persistent h = sl_weak_info_handle(w);
  lsl_weakinfo *info;
  const char *err = NULL;
  lua_settop(L, 0);
  if (!second) {                  /* 1 iso, 2 UV_WEAK, 3 the Persistent, 4 {f, x} */
    if (lsl_takeweak(L, li, h.node, h.serial, &iso) == NULL) return 0;
    if (lua_getiuservalue(L, 3, UV_CALLBACK) != LUA_TTABLE) return 0;
  } else {                        /* 1 iso, 2 the queue, 3 the Persistent, 4 {g, x, p} */
    if (!lsl_pushiso(L, li)) return luaL_error(L, "its isolate is not in the registry map");
    iso = 1;
    if (!l_take_second(L, h.serial)) return 0;
  }
  info = (lsl_weakinfo *)lua_newuserdatauv(L, sizeof *info, 4);   /* 5 */
  info->tag = lsl_tag(UP_WEAKINFO);
  info->li = li;
  info->w = w;
  info->serial = h.serial;
  luaL_setmetatable(L, WEAKINFO_MT);
  lua_pushvalue(L, iso);
  lua_setiuservalue(L, 5, UV_ISO);
  lua_rawgeti(L, 4, 2);
  lua_setiuservalue(L, 5, 2);                 /* the parameter */
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, 5, 3);                 /* the persistent, for the second pass */
  lsl_weakran(li);
  lua_rawgeti(L, 4, 1);
  lua_pushvalue(L, 5);
  rc = lua_pcall(L, 1, 0, 0);
  info->w = NULL;                             /* refused from now on */
  li->L = L;
  if (rc != LUA_OK) err = lsl_weakerror(L, li, "weak callback");
  if (li->record_weak) lsl_logweak(L, li, iso, 3, err, second ? "second" : "first");
  return 0;
}

/* The core's side of both passes: everything Lua runs under lua_pcall, on the
** thread of the call that collected or ran the tasks ('li->L'). */
static void l_runpass(const sl_weak_info *w, int second) {
  lsl_isolate *li = (lsl_isolate *)sl_weak_info_parameter(w);
  lua_State *L = li->L;
  int top;
  if (L == NULL) return;
  if (!lua_checkstack(L, 8)) { lsl_weakdropped(L, li, "Lua stack overflow"); return; }
  top = lua_gettop(L);
  lua_pushcfunction(L, l_pass_body);
  lua_pushlightuserdata(L, (void *)w);
  lua_pushboolean(L, second);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK)
    lsl_weakdropped(L, li, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
  li->L = L;
  lua_settop(L, top);
}

static void l_first_pass(const sl_weak_info *w) { l_runpass(w, 0); }
static void l_second_pass(const sl_weak_info *w) { l_runpass(w, 1); }

/* p:set_weak{first_pass = f, parameter = x, type = ...} */
int lsl_pers_set_weak_two_pass(lua_State *L, lsl_persistent *lp) {
  static const char *const fields[] = { "first_pass", "parameter", "type", NULL };
  lsl_isolate *li = lp->li;
  sl_weak_type type = SL_WEAK_PARAMETER;
  sl_status st;
  const char *t;
  int i, was;
  lua_settop(L, 2);
  lua_pushnil(L);
  while (lua_next(L, 2)) {                    /* a typo must not mean "default" */
    lua_pop(L, 1);
    for (i = 0; fields[i]; i++)
      if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), fields[i]) == 0) break;
    if (fields[i] == NULL)
      return lsl_argerror(L, 2, "set_weak", lua_pushfstring(L, "unknown field '%s'",
                          luaL_tolstring(L, -1, NULL)));
  }
  if (lua_getfield(L, 2, "first_pass") != LUA_TFUNCTION)
    return lsl_argerror(L, 2, "set_weak", "field 'first_pass' must be a function");
  t = lua_getfield(L, 2, "type") == LUA_TNIL ? "parameter"
    : lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  if (strcmp(t, "internal_fields") == 0)
    type = SL_WEAK_INTERNAL_FIELDS;
  else if (strcmp(t, "parameter") != 0)
    return lsl_argerror(L, 2, "set_weak", "field 'type' must be 'parameter' or "
                        "'internal_fields'");
  lua_pop(L, 1);
  lua_createtable(L, 2, 0);                   /* {f, x}: the table given stays the user's */
  lua_insert(L, -2);
  lua_rawseti(L, -2, 1);
  lua_getfield(L, 2, "parameter");
  lua_rawseti(L, -2, 2);
  was = lsl_register(L, lp);                  /* the callback it replaces stays until accepted */
  lsl_stilllive(L, li, "set_weak");
  st = sl_persistent_set_weak_two_pass(li->iso, lp->p, l_first_pass, li, type);
  if (st != SL_OK) {
    if (!was) lsl_unregister(L, lp);
    return lsl_fail(L, li, st, 1, "set_weak", NULL);
  }
  lua_setiuservalue(L, 1, UV_CALLBACK);       /* {f, x}, on top */
  return 0;
}

/* The weak info at 1, while its pass runs. */
static lsl_weakinfo *l_checkinfo(lua_State *L, const char *op) {
  lsl_weakinfo *info = (lsl_weakinfo *)lsl_testud(L, 1, UP_WEAKINFO);
  if (info == NULL) { lsl_typeerror(L, 1, op, WEAKINFO_MT); return NULL; }  /* not reached */
  if (info->li->iso == NULL)
    lsl_argerror(L, 1, op, lsl_gone(info->li, "weak callback info of a disposed isolate"));
  if (info->w == NULL) lsl_argerror(L, 1, op, "weak callback info used after its callback "
                                    "returned");
  return info;
}

int lsl_winfo_parameter(lua_State *L) {
  l_checkinfo(L, "parameter");
  lua_getiuservalue(L, 1, 2);
  return 1;
}

/* info:internal_field(i), i = 1 or 2: what the dying object's field held. */
int lsl_winfo_internal_field(lua_State *L) {
  lsl_weakinfo *info = l_checkinfo(L, "internal_field");
  lua_Integer i = lsl_checkint(L, 2, "internal_field");
  void *p = NULL;
  if (i != 1 && i != 2) return lsl_argerror(L, 2, "internal_field", "internal field out of bounds");
  sl_weak_info_internal_field(info->w, (int)i - 1, &p);
  lsl_pushpointer(L, info->li, p);
  return 1;
}

/* info:set_second_pass_callback(g): from a first pass only (the core says
** so); asking again replaces g. The entry {g, x, p} joins the persistent's
** list in UV_SECOND (see l_take_second); the info keeps it (user value 4) so
** that asking again replaces it in place instead of queueing another. */
int lsl_winfo_set_second_pass_callback(lua_State *L) {
  lsl_weakinfo *info = l_checkinfo(L, "set_second_pass_callback");
  sl_status st;
  if (lua_type(L, 2) != LUA_TFUNCTION)
    return lsl_typeerror(L, 2, "set_second_pass_callback", "function");
  lua_settop(L, 2);
  st = sl_weak_info_set_second_pass(info->w, l_second_pass);
  if (st != SL_OK) return lsl_fail(L, info->li, st, 1, "set_second_pass_callback", NULL);
  if (lua_getiuservalue(L, 1, 4) == LUA_TTABLE) {                 /* 3: asked before */
    lua_pushvalue(L, 2);
    lua_rawseti(L, 3, 1);
    return 0;
  }
  lua_pop(L, 1);
  lua_createtable(L, 3, 0);                   /* 3: {g, x, p} */
  lua_pushvalue(L, 2);
  lua_rawseti(L, 3, 1);
  lua_getiuservalue(L, 1, 2);
  lua_rawseti(L, 3, 2);
  lua_getiuservalue(L, 1, 3);
  lua_rawseti(L, 3, 3);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, 1, 4);
  lua_getiuservalue(L, 1, UV_ISO);                                 /* 4 */
  lsl_getuvtable(L, 4, UV_SECOND);                                 /* 5 */
  if (lua_rawgeti(L, 5, (lua_Integer)info->serial) != LUA_TTABLE) {   /* 6: the list */
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawseti(L, 5, (lua_Integer)info->serial);
  }
  lua_pushvalue(L, 3);
  lua_rawseti(L, 6, (lua_Integer)lua_rawlen(L, 6) + 1);
  return 0;
}

int lsl_winfo_tostring(lua_State *L) {
  lsl_weakinfo *info = (lsl_weakinfo *)lsl_testud(L, 1, UP_WEAKINFO);
  if (info == NULL) return lsl_typeerror(L, 1, "__tostring", WEAKINFO_MT);
  if (info->w == NULL || info->li->iso == NULL)
    lua_pushliteral(L, WEAKINFO_MT ": (returned)");
  else
    lua_pushfstring(L, WEAKINFO_MT ": %s pass (running)",
                    sl_weak_info_is_second_pass(info->w) ? "second" : "first");
  return 1;
}


/* ================================================================ tasks */

/* Under lua_pcall: the Lua task at index 2 of UV_TASKS, taken off the queue, then
** run. First the entries of tasks dropped before their body could run (no Lua stack,
** the C stack limit) are let go: l_task took each off the queue already. */
static int l_task_body(lua_State *L) {
  lsl_isolate *li = (lsl_isolate *)lua_touserdata(L, 1);
  lua_Integer idx = lua_tointeger(L, 2);
  int t;
  if (!lsl_pushiso(L, li)) return luaL_error(L, "its isolate is not in the registry map");
  lsl_getuvtable(L, lua_gettop(L), UV_TASKS);
  for (; li->task_swept < idx; li->task_swept++) {
    lua_pushnil(L);
    lua_rawseti(L, -2, li->task_swept);
  }
  t = lua_rawgeti(L, -1, idx);
  lua_pushnil(L);
  lua_rawseti(L, -3, idx);
  li->task_swept = idx + 1;
  if (t != LUA_TFUNCTION) return 0;           /* the table was replaced */
  li->cb_total++;                             /* a task may close scopes, as callbacks do */
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) lsl_weakerror(L, li, "task");
  li->L = L;
  return 0;
}

/* Each C task the core runs stands for the oldest Lua task: it takes it off the queue
** here, before anything can fail, so that a task dropped (counted and warned) never
** leaves its function at the head for the next C task to run in its place. */
static void l_task(sl_isolate *iso, void *ud) {
  lsl_isolate *li = (lsl_isolate *)ud;
  lua_State *L = li->L;
  lua_Integer idx;
  int top;
  (void)iso;
  if (li->task_head >= li->task_tail) return;
  idx = li->task_head++;
  if (L == NULL) return;
  if (!lua_checkstack(L, 6)) { lsl_weakdropped(L, li, "Lua stack overflow"); return; }
  top = lua_gettop(L);
  lua_pushcfunction(L, l_task_body);
  lua_pushlightuserdata(L, li);
  lua_pushinteger(L, idx);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK)
    lsl_weakdropped(L, li, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
  li->L = L;
  lua_settop(L, top);
}

/* iso:post_task(fn): fn() at the next iso:run_tasks(), after the tasks
** already pending. */
int lsl_iso_post_task(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "post_task");
  sl_status st;
  if (lua_type(L, 2) != LUA_TFUNCTION) return lsl_typeerror(L, 2, "post_task", "function");
  lua_settop(L, 2);
  lsl_getuvtable(L, 1, UV_TASKS);
  lua_pushvalue(L, 2);
  lua_rawseti(L, 3, li->task_tail);
  lsl_stilllive(L, li, "post_task");
  st = sl_post_task(li->iso, l_task, li);
  if (st != SL_OK) {
    lua_pushnil(L);
    lua_rawseti(L, 3, li->task_tail);
    return lsl_fail(L, li, st, 1, "post_task", NULL);
  }
  li->task_tail++;
  return 0;
}

/* iso:run_tasks() -> how many ran (second passes included). */
int lsl_iso_run_tasks(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "run_tasks");
  size_t ran = 0;
  sl_status st;
  li->L = L;
  st = sl_run_tasks(li->iso, &ran);
  li->L = L;
  lsl_func_sweep(L, li);
  if (st != SL_OK) return lsl_fail(L, li, st, 1, "run_tasks", NULL);
  lua_pushinteger(L, (lua_Integer)ran);
  return 1;
}


/* ================================================================ the worker switch */

/* iso:_run_as_worker(fn, ...) -> what fn returns; an error in fn is raised
** again once the isolate is back. */
int lsl_iso_run_as_worker(lua_State *L) {
  lsl_isolate *li = lsl_checkiso(L, 1, "_run_as_worker");
  int rc;
  if (lua_type(L, 2) != LUA_TFUNCTION) return lsl_typeerror(L, 2, "_run_as_worker", "function");
  li->worker_iso = li->iso;
  li->iso = NULL;
  rc = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  li->iso = li->worker_iso;
  li->worker_iso = NULL;
  if (rc != LUA_OK) return lua_error(L);
  return lua_gettop(L) - 1;
}
