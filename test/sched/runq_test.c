/* Unit tests of sched/runq.c: every ring operation, with full and empty
** edges and the steal-half counts. Single-threaded: the concurrent cases are
** in test/stress/sched_ring.c. */
#include <criterion/criterion.h>
#include <errno.h>

#include "sched/runq.h"

static hk_task_t tasks[2 * HK_RUNQ_SIZE + 8];
static hk_runq_t q, own;

static void setup(void) {
  hk_runq_init(&q);
  hk_runq_init(&own);
}

TestSuite(sched_runq, .init = setup);

static void fill(hk_runq_t *r, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    cr_assert_eq(hk_runq_push_owner(r, &tasks[i]), 0);
}

static uint32_t left;

Test(sched_runq, empty_pop_returns_null) {
  left = 7;
  cr_assert_null(hk_runq_pop_owner(&q, &left));
  cr_assert_eq(left, 0);
  cr_assert_eq(hk_runq_len(&q), 0);
}

Test(sched_runq, push_pop_is_fifo) {
  fill(&q, 10);
  cr_assert_eq(hk_runq_len(&q), 10);
  for (uint32_t i = 0; i < 10; i++) {
    cr_assert_eq(hk_runq_pop_owner(&q, &left), &tasks[i]);
    cr_assert_eq(left, 9 - i);
  }
  cr_assert_null(hk_runq_pop_owner(&q, &left));
}

Test(sched_runq, full_at_256_then_eagain) {
  fill(&q, HK_RUNQ_SIZE);
  cr_assert_eq(hk_runq_len(&q), HK_RUNQ_SIZE);
  cr_assert_eq(hk_runq_push_owner(&q, &tasks[HK_RUNQ_SIZE]), -EAGAIN);
  cr_assert_eq(hk_runq_pop_owner(&q, &left), &tasks[0]);
  cr_assert_eq(hk_runq_push_owner(&q, &tasks[HK_RUNQ_SIZE]), 0);
  cr_assert_eq(hk_runq_push_owner(&q, &tasks[0]), -EAGAIN);
}

Test(sched_runq, wraps_around_many_times) {
  for (uint32_t round = 0; round < 5000; round++) {
    uint32_t n = 1 + round % 200;
    fill(&q, n);
    for (uint32_t i = 0; i < n; i++)
      cr_assert_eq(hk_runq_pop_owner(&q, &left), &tasks[i]);
  }
  cr_assert_eq(hk_runq_len(&q), 0);
}

Test(sched_runq, grab_half_only_when_full) {
  hk_task_t *out[HK_RUNQ_SIZE / 2];
  fill(&q, HK_RUNQ_SIZE - 1);
  cr_assert_eq(hk_runq_grab_half_owner(&q, out), 0);
  cr_assert_eq(hk_runq_len(&q), HK_RUNQ_SIZE - 1);
}

Test(sched_runq, grab_half_takes_oldest_128) {
  hk_task_t *out[HK_RUNQ_SIZE / 2];
  cr_assert_eq(hk_runq_pop_owner(&q, &left), NULL);
  fill(&q, 3); /* move head off zero so the grab wraps */
  for (int i = 0; i < 3; i++)
    hk_runq_pop_owner(&q, &left);
  fill(&q, HK_RUNQ_SIZE);
  cr_assert_eq(hk_runq_grab_half_owner(&q, out), HK_RUNQ_SIZE / 2);
  for (uint32_t i = 0; i < HK_RUNQ_SIZE / 2; i++)
    cr_assert_eq(out[i], &tasks[i]);
  cr_assert_eq(hk_runq_len(&q), HK_RUNQ_SIZE / 2);
  cr_assert_eq(hk_runq_pop_owner(&q, &left), &tasks[HK_RUNQ_SIZE / 2]);
}

Test(sched_runq, steal_from_empty) {
  uint32_t n = 99;
  cr_assert_null(hk_runq_steal_spmc(&q, &own, &n));
  cr_assert_eq(n, 0);
  cr_assert_eq(hk_runq_len(&own), 0);
}

/* Steal from a victim holding [have]; expect [take] tasks in total. */
static void check_steal(uint32_t have, uint32_t take) {
  hk_runq_init(&q);
  hk_runq_init(&own);
  fill(&q, have);
  uint32_t n = 0;
  hk_task_t *t = hk_runq_steal_spmc(&q, &own, &n);
  cr_assert_eq(n, take, "have %u: stole %u, want %u", have, n, take);
  cr_assert_eq(hk_runq_len(&q), have - take);
  cr_assert_eq(hk_runq_len(&own), take - 1);
  /* The oldest go to our ring in order; the newest stolen is returned. */
  for (uint32_t i = 0; i + 1 < take; i++)
    cr_assert_eq(hk_runq_pop_owner(&own, &left), &tasks[i]);
  cr_assert_eq(t, &tasks[take - 1]);
  cr_assert_eq(hk_runq_pop_owner(&q, &left), have > take ? &tasks[take] : NULL);
}

Test(sched_runq, steal_half_counts) {
  check_steal(1, 1);
  check_steal(2, 1);
  check_steal(3, 2);
  check_steal(5, 3);
  check_steal(100, 50);
  check_steal(255, 128);
  check_steal(HK_RUNQ_SIZE, HK_RUNQ_SIZE / 2);
}

Test(sched_runq, steal_limited_by_own_room) {
  static hk_task_t mine[HK_RUNQ_SIZE];
  for (uint32_t i = 0; i < HK_RUNQ_SIZE - 2; i++)
    hk_runq_push_owner(&own, &mine[i]);
  fill(&q, 100);
  uint32_t n = 0;
  hk_task_t *t = hk_runq_steal_spmc(&q, &own, &n);
  cr_assert_eq(n, 3); /* two fit in our ring, one is returned */
  cr_assert_eq(t, &tasks[2]);
  cr_assert_eq(hk_runq_len(&own), HK_RUNQ_SIZE);
  cr_assert_eq(hk_runq_len(&q), 97);
}

Test(sched_runq, steal_into_full_own_takes_one) {
  static hk_task_t mine[HK_RUNQ_SIZE];
  for (uint32_t i = 0; i < HK_RUNQ_SIZE; i++)
    hk_runq_push_owner(&own, &mine[i]);
  fill(&q, 10);
  uint32_t n = 0;
  cr_assert_eq(hk_runq_steal_spmc(&q, &own, &n), &tasks[0]);
  cr_assert_eq(n, 1);
  cr_assert_eq(hk_runq_len(&q), 9);
}

Test(sched_runq, stolen_ring_can_be_stolen_again) {
  fill(&q, 8);
  uint32_t n;
  hk_runq_steal_spmc(&q, &own, &n); /* own gets 3 (tasks 0..2) */
  hk_runq_t third;
  hk_runq_init(&third);
  hk_task_t *t = hk_runq_steal_spmc(&own, &third, &n);
  cr_assert_eq(n, 2);
  cr_assert_eq(hk_runq_pop_owner(&third, &left), &tasks[0]);
  cr_assert_eq(t, &tasks[1]);
  cr_assert_eq(hk_runq_pop_owner(&own, &left), &tasks[2]);
}
