/* SPDX-License-Identifier: MIT */
/*
** tasks.c: the isolate's foreground task queue.
**
** V8 posts work it cannot do inside a collection to the platform's foreground
** task runner: second-pass weak callbacks after a collection that was not
** forced, among others. An embedder runs them between its own work (Node runs
** them from its event loop). Here the queue holds the second passes the
** collections queued and the embedder's own tasks (sl_post_task), in the
** order they were posted; sl_run_tasks runs the ones pending when it starts,
** so a task that posts another cannot keep it running forever. A forced
** collection (sl_collect) runs the queued second passes at once, as V8 does
** with kGCCallbackFlagForced, and leaves the other tasks queued.
*/
#include <stdlib.h>

#include "slcore.h"

void slT_free(sl_isolate *iso) {
  slT_data *t = &iso->tasks;
  for (size_t i = 0; i < t->n; i++) free(t->q[t->head + i].second);
  free(t->q);
  memset(t, 0, sizeof *t);
}

/* Appends a task; the queue slides back to the start of its array first
** when its head has run far ahead. */
static int push(sl_isolate *iso, slT_task task) {
  slT_data *t = &iso->tasks;
  if (t->head > 0 && t->head + t->n == t->cap) {
    memmove(t->q, t->q + t->head, t->n * sizeof *t->q);
    t->head = 0;
  }
  if (t->head + t->n == t->cap) {
    slT_task *q = slI_grow(t->q, &t->cap, t->n + 1, sizeof *q, 16);
    if (q == NULL) return 0;
    t->q = q;
  }
  t->q[t->head + t->n++] = task;
  if (task.second != NULL) t->second_passes++;
  return 1;
}

/* Takes the task at index i of the pending ones out of the queue. */
static slT_task take(slT_data *t, size_t i) {
  slT_task task = t->q[t->head + i];
  if (i == 0) {
    t->head++;
  } else {
    memmove(t->q + t->head + i, t->q + t->head + i + 1, (t->n - i - 1) * sizeof *t->q);
  }
  t->n--;
  if (t->n == 0) t->head = 0;
  if (task.second != NULL) t->second_passes--;
  return task;
}

int slT_post_second_pass(sl_isolate *iso, sl_weak_info *w) {
  return push(iso, (slT_task){ NULL, NULL, w });
}

sl_status sl_post_task(sl_isolate *iso, sl_task_fn fn, void *ud) {
  if (slI_gate(iso, SLI_READ, "post_task") != SL_OK) return iso->status;
  if (fn == NULL) return slI_error(iso, SL_EARG, "post_task: no function");
  if (!push(iso, (slT_task){ fn, ud, NULL }))
    return slI_error(iso, SL_ENOMEM, "post_task: out of memory for the task queue");
  return SL_OK;
}

/* Runs one task taken off the queue; a second pass's info is freed after. */
static void run(sl_isolate *iso, slT_task task) {
  iso->in_tasks++;  /* the isolate must outlive the task: no dispose */
  if (task.second != NULL) {
    sl_weak_pass second = task.second->next;
    task.second->next = NULL;
    iso->st.weak_callbacks_run++;
    second(task.second);
    free(task.second);
  } else {
    task.fn(iso, task.ud);
  }
  iso->in_tasks--;
  iso->st.tasks_run++;
}

sl_status sl_run_tasks(sl_isolate *iso, size_t *ran) {
  if (ran != NULL) *ran = 0;
  if (slI_gate(iso, SLI_ALLOC, "run_tasks") != SL_OK) return iso->status;
  size_t due = iso->tasks.n;  /* what a task posts waits for the next call */
  for (size_t i = 0; i < due && iso->tasks.n > 0; i++) {
    run(iso, take(&iso->tasks, 0));
    if (ran != NULL) ++*ran;
  }
  return SL_OK;
}

size_t sl_pending_tasks(const sl_isolate *iso) { return iso->tasks.n; }

void slT_run_second_passes(sl_isolate *iso) {
  slT_data *t = &iso->tasks;
  size_t due = t->second_passes;  /* second passes they queue wait, as tasks do */
  for (size_t i = 0, done = 0; done < due && i < t->n;) {
    if (t->q[t->head + i].second == NULL) {
      i++;
      continue;
    }
    run(iso, take(t, i));
    done++;
  }
}
