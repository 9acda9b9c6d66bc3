/* bench/io/io_bench.c: completions per second and submit-to-callback
** latency of the I/O thread, per backend, with a thread wake-up baseline
** measured in the same run (PLATFORM.md: judge wake-ups as ratios).
** Prints one JSON line per measurement. Not a test.
**   io_bench [runs]   (HIKO_IO_BACKEND picks the backend as usual) */
#include "io.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* ---- throughput: timer(0) requests from [threads] submitters --------- */

static _Atomic uint64_t done_count;

static void count_cb(void *user, hk_io_completion_t *c) {
  (void)user;
  (void)c;
  atomic_fetch_add_explicit(&done_count, 1, memory_order_relaxed);
}

typedef struct sub_arg {
  hk_io_t *io;
  uint64_t n;
  uint64_t threads;
} sub_arg_t;

static void *submitter(void *arg) {
  sub_arg_t *a = arg;
  uint64_t tok;
  for (uint64_t i = 0; i < a->n; i++) {
    /* Keep about 2^16 requests in flight in total, so memory stays
    ** bounded (each submitter is assumed to be about as far as this one). */
    while ((int64_t)(i * a->threads) -
               (int64_t)atomic_load_explicit(&done_count, memory_order_relaxed) >
           (int64_t)1 << 16) {
    }
    if (hk_io_timer(a->io, 0, NULL, &tok) < 0) abort();
  }
  return NULL;
}

static double throughput(int threads, uint64_t per_thread) {
  hk_io_t *io;
  hk_io_config_t cfg = {.callback = count_cb};
  if (hk_io_new(&io, &cfg) < 0) abort();
  atomic_store(&done_count, 0);
  pthread_t th[8];
  sub_arg_t arg = {io, per_thread, (uint64_t)threads};
  uint64_t t0 = now_ns();
  for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, submitter, &arg);
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  uint64_t want = per_thread * (uint64_t)threads;
  while (atomic_load(&done_count) < want) {
  }
  uint64_t dt = now_ns() - t0;
  hk_io_free(io);
  return (double)want / ((double)dt / 1e9);
}

/* ---- latency: one request at a time ------------------------------------ */

static _Atomic uint64_t cb_time;

static void lat_cb(void *user, hk_io_completion_t *c) {
  (void)user;
  (void)c;
  atomic_store_explicit(&cb_time, now_ns(), memory_order_release);
}

static void latency(const char *backend, int n, int gap_us) {
  hk_io_t *io;
  hk_io_config_t cfg = {.callback = lat_cb};
  if (hk_io_new(&io, &cfg) < 0) abort();
  uint64_t *lat = malloc((size_t)n * sizeof *lat), tok;
  for (int i = 0; i < n; i++) {
    atomic_store(&cb_time, 0);
    uint64_t t0 = now_ns();
    if (hk_io_timer(io, 0, NULL, &tok) < 0) abort();
    uint64_t t1;
    while ((t1 = atomic_load_explicit(&cb_time, memory_order_acquire)) == 0) {
    }
    lat[i] = t1 - t0;
    if (gap_us) {
      struct timespec ts = {0, gap_us * 1000};
      nanosleep(&ts, NULL); /* the I/O thread goes to sleep meanwhile */
    }
  }
  qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
  printf("{\"bench\":\"io_latency\",\"backend\":\"%s\",\"io_thread\":\"%s\","
         "\"samples\":%d,\"p50_us\":%.2f,\"p99_us\":%.2f}\n",
         backend, gap_us ? "asleep" : "awake", n, (double)lat[n / 2] / 1e3,
         (double)lat[n * 99 / 100] / 1e3);
  free(lat);
  hk_io_free(io);
}

/* ---- baseline: wake a thread blocked on a condition variable ----------- */

static pthread_mutex_t bl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bl_cond = PTHREAD_COND_INITIALIZER;
static uint64_t bl_sent, bl_seen;
static _Atomic uint64_t bl_woke;
static bool bl_stop;

static void *bl_waiter(void *arg) {
  (void)arg;
  pthread_mutex_lock(&bl_lock);
  for (;;) {
    while (bl_sent == bl_seen && !bl_stop) pthread_cond_wait(&bl_cond, &bl_lock);
    if (bl_stop) break;
    bl_seen = bl_sent;
    atomic_store_explicit(&bl_woke, now_ns(), memory_order_release);
  }
  pthread_mutex_unlock(&bl_lock);
  return NULL;
}

static void baseline(int n) {
  bl_stop = false;
  bl_sent = bl_seen = 0;
  pthread_t t;
  pthread_create(&t, NULL, bl_waiter, NULL);
  uint64_t *lat = malloc((size_t)n * sizeof *lat);
  for (int i = 0; i < n; i++) {
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&bl_woke, 0);
    uint64_t t0 = now_ns(), t1;
    pthread_mutex_lock(&bl_lock);
    bl_sent++;
    pthread_cond_signal(&bl_cond);
    pthread_mutex_unlock(&bl_lock);
    while ((t1 = atomic_load_explicit(&bl_woke, memory_order_acquire)) == 0) {
    }
    lat[i] = t1 - t0;
  }
  pthread_mutex_lock(&bl_lock);
  bl_stop = true;
  pthread_cond_signal(&bl_cond);
  pthread_mutex_unlock(&bl_lock);
  pthread_join(t, NULL);
  qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
  printf("{\"bench\":\"condvar_wake_baseline\",\"samples\":%d,\"p50_us\":%.2f,"
         "\"p99_us\":%.2f}\n",
         n, (double)lat[n / 2] / 1e3, (double)lat[n * 99 / 100] / 1e3);
  free(lat);
}

/* ---- 10^5 timers -------------------------------------------------------- */

static void many_timers(const char *backend, int n, int ms) {
  hk_io_t *io;
  hk_io_config_t cfg = {.callback = count_cb};
  if (hk_io_new(&io, &cfg) < 0) abort();
  atomic_store(&done_count, 0);
  uint64_t t0 = now_ns(), tok;
  for (int i = 0; i < n; i++)
    if (hk_io_timer(io, ms, NULL, &tok) < 0) abort();
  uint64_t t1 = now_ns();
  while (atomic_load(&done_count) < (uint64_t)n) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
  uint64_t t2 = now_ns();
  printf("{\"bench\":\"timers\",\"backend\":\"%s\",\"timers\":%d,\"ms\":%d,"
         "\"submit_ms\":%.1f,\"all_done_ms\":%.1f}\n",
         backend, n, ms, (double)(t1 - t0) / 1e6, (double)(t2 - t0) / 1e6);
  hk_io_free(io);
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 3;
  hk_io_t *probe;
  hk_io_config_t cfg = {.callback = count_cb};
  if (hk_io_new(&probe, &cfg) < 0) return 1;
  char backend[16];
  snprintf(backend, sizeof backend, "%s", hk_io_backend_name(probe));
  hk_io_free(probe);
  for (int r = 0; r < runs; r++) {
    for (int t = 1; t <= 2; t++)
      printf("{\"bench\":\"io_throughput\",\"backend\":\"%s\",\"submitters\":%d,"
             "\"completions_per_s\":%.0f}\n",
             backend, t, throughput(t, 1000000 / (uint64_t)t));
    latency(backend, 20000, 0);
    latency(backend, 3000, 200);
    baseline(3000);
    many_timers(backend, 100000, 200);
    fflush(stdout);
  }
  return 0;
}
