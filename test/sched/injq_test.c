/* Unit tests of sched/injq.c: the global injection queue. */
#include <criterion/criterion.h>

#include "sched/injq.h"

static hk_task_t tasks[300];
static hk_injq_t q;

static void setup(void) { cr_assert_eq(hk_injq_init(&q), 0); }
static void teardown(void) { hk_injq_destroy(&q); }

TestSuite(sched_injq, .init = setup, .fini = teardown);

static void push_range(int from, int to) { /* [from, to) as one batch */
  for (int i = from; i + 1 < to; i++)
    tasks[i].next = &tasks[i + 1];
  hk_injq_push_list(&q, &tasks[from], &tasks[to - 1], (size_t)(to - from));
}

Test(sched_injq, empty) {
  hk_task_t *out[4];
  cr_assert_eq(hk_injq_len(&q), 0);
  cr_assert_eq(hk_injq_pop_batch(&q, out, 4), 0);
}

Test(sched_injq, push_zero_is_noop) {
  hk_injq_push_list(&q, NULL, NULL, 0);
  cr_assert_eq(hk_injq_len(&q), 0);
}

Test(sched_injq, batches_keep_fifo_order) {
  hk_task_t *out[300];
  push_range(0, 1);
  push_range(1, 129);
  push_range(129, 200);
  cr_assert_eq(hk_injq_len(&q), 200);
  cr_assert_eq(hk_injq_pop_batch(&q, out, 50), 50);
  cr_assert_eq(hk_injq_len(&q), 150);
  for (int i = 0; i < 50; i++)
    cr_assert_eq(out[i], &tasks[i]);
  cr_assert_eq(hk_injq_pop_batch(&q, out, 300), 150);
  for (int i = 0; i < 150; i++)
    cr_assert_eq(out[i], &tasks[50 + i]);
  cr_assert_eq(hk_injq_len(&q), 0);
  cr_assert_eq(hk_injq_pop_batch(&q, out, 1), 0);
}

Test(sched_injq, reusable_after_empty) {
  hk_task_t *out[2];
  push_range(0, 2);
  cr_assert_eq(hk_injq_pop_batch(&q, out, 2), 2);
  push_range(5, 6);
  cr_assert_eq(hk_injq_pop_batch(&q, out, 2), 1);
  cr_assert_eq(out[0], &tasks[5]);
}

Test(sched_injq, last_next_is_cleared) {
  tasks[0].next = &tasks[7]; /* garbage in the last task's link */
  hk_injq_push_list(&q, &tasks[0], &tasks[0], 1);
  cr_assert_null(tasks[0].next);
}

Test(sched_injq, pop_zero_max) {
  hk_task_t *out[1];
  push_range(0, 3);
  cr_assert_eq(hk_injq_pop_batch(&q, out, 0), 0);
  cr_assert_eq(hk_injq_len(&q), 3);
}

/* The array wraps around and grows while tasks are queued: FIFO order
** holds across both (a pop between pushes moves the head, so the growth
** copies a wrapped range). */
Test(sched_injq, arrays_keep_fifo_order_across_wrap_and_growth) {
  static hk_task_t many[1200];
  hk_task_t *in[300], *out[1200];
  size_t next_in = 0, next_out = 0;
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 300; i++)
      in[i] = &many[next_in++];
    hk_injq_push_array(&q, in, 300);
    size_t n = hk_injq_pop_batch(&q, out, 100 + 50 * (size_t)round);
    for (size_t i = 0; i < n; i++)
      cr_assert_eq(out[i], &many[next_out++], "round %d, task %zu", round, i);
  }
  cr_assert_eq(hk_injq_len(&q), next_in - next_out);
  size_t n = hk_injq_pop_batch(&q, out, 1200);
  cr_assert_eq(n, next_in - next_out);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(out[i], &many[next_out++]);
  cr_assert_eq(hk_injq_len(&q), 0);
}

/* A list and an array pushed one after the other come out in push order,
** and an array push leaves the tasks' links alone. */
Test(sched_injq, lists_and_arrays_interleave) {
  hk_task_t *out[8], *arr[2] = {&tasks[3], &tasks[4]};
  tasks[3].next = &tasks[9];
  push_range(0, 3);
  hk_injq_push_array(&q, arr, 2);
  push_range(5, 7);
  cr_assert_eq(tasks[3].next, &tasks[9]);
  cr_assert_eq(hk_injq_pop_batch(&q, out, 8), 7);
  const int want[7] = {0, 1, 2, 3, 4, 5, 6};
  for (int i = 0; i < 7; i++)
    cr_assert_eq(out[i], &tasks[want[i]]);
}
