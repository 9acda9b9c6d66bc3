/* rt.c — the multi-threaded runtime behind include/hiko.h: creation and
** destruction, roots, run/start/join/shutdown, `exit`, deadlock detection
** (SPEC §6.9, §10.8), statistics (§10.9) and the trace file (§10.10).
** Processes are hk_proc_t records (proc.c) running VM instances (vmproc.c)
** as tasks of the work-stealing scheduler (sched/). */
#include <errno.h>
#include <unistd.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/native.h"
#include "runtime/rt.h"
#include "runtime/value.h"
#include "vm/disasm.h"
#include "vm/image.h"
#include "runtime/rtio.h"


hiko_runtime_t *hk_rt_from_procs_ud(void *ud) { return ud; }

/* ---- Host services (vm/host.h) ------------------------------------------ */

/* Writes all of [data] to [fd], retrying short writes and EINTR, and
** waiting for room when the descriptor is non-blocking (a parent may hand
** us a pipe with O_NONBLOCK set on the shared file description: a full pipe
** is then EAGAIN, not a failed write, SPEC §8.2). Returns 0 or -errno. */
static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
      }
      return -errno;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* One print is one unit (SPEC §6.13.3) written before the call returns
** (SPEC §8.2): straight to the descriptor, no stdio buffer, so a prompt
** shows before read_line and nothing is lost if the process is killed. */
static int host_write(void *ud, int stream, const char *data, size_t len) {
  hiko_runtime_t *rt = ud;
  hiko_write_fn fn = stream == 2 ? rt->cfg.err : rt->cfg.out;
  int rc = 0;
  pthread_mutex_lock(&rt->out_lock);
  if (fn) {
    fn(rt->cfg.io_ud, data, len);
  } else {
    rc = write_all(stream == 2 ? 2 : 1, data, len);
  }
  pthread_mutex_unlock(&rt->out_lock);
  return rc;
}

/* Milliseconds since the runtime's first call (which returns 0, SPEC §8.11). */
static int64_t host_monotonic_ms(void *ud) {
  hiko_runtime_t *rt = ud;
  uint64_t now = hk_sched_now_ns();
  /* Relaxed is enough: the base is a plain number, published once by the
  ** CAS below; every reader either sees 0 and races to set it, or sees the
  ** winner's value. */
  uint64_t base = atomic_load_explicit(&rt->mono_base_ns, memory_order_relaxed);
  if (base == 0 &&
      atomic_compare_exchange_strong_explicit(&rt->mono_base_ns, &base, now,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
    return 0; /* this was the first call; a lost CAS loaded the winner's base */
  return now > base ? (int64_t)((now - base) / 1000000u) : 0;
}

/* ---- Process-layer callbacks ---------------------------------------------- */

static void ops_ready(void *ud, hk_proc_t *p, hk_worker_t *w) {
  hiko_runtime_t *rt = ud;
  if (w) hk_sched_ready_next_owner(w, &p->task);
  else hk_sched_ready(rt->sched, &p->task);
}

/* The record of root [pid] that has not been joined yet (lock held). */
static hk_root_t *find_root(hiko_runtime_t *rt, hiko_pid_t pid) {
  for (hk_root_t *r = rt->roots; r; r = r->next)
    if (r->pid == pid && !r->joined) return r;
  return NULL;
}

/* Frees a root record that is no longer in rt->roots (or the whole list is
** being freed), with whatever tree state it still holds. */
static void root_free(hk_root_t *r) {
  hk_globals_free(r->globals);
  hiko_result_clear(&r->res);
  hiko_program_release(r->prog);
  free(r);
}

/* Removes [r] from rt->roots (lock held). */
static void root_unlink(hiko_runtime_t *rt, hk_root_t *r) {
  for (hk_root_t **pp = &rt->roots; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      return;
    }
}

_Thread_local hk_tree_credit_t hk_tree_credit;

/* Subtracts [n] ended processes from [r]'s count; the last frees the tree. */
static void tree_sub(hiko_runtime_t *rt, hk_root_t *r, uint32_t n) {
  /* Release: the ended processes' reads of the store and the image happen
  ** before the free (a credit's are this thread's, before this call);
  ** acquire (on the last) sees every other's. */
  if (atomic_fetch_sub_explicit(&r->live, n, memory_order_acq_rel) != n) return;
  /* The last process of the tree is gone: no one reads the store or the
  ** image any more, and no process of the tree can be created (only a live
  ** one spawns). A sender from another tree looks the program up under the
  ** lock (hk_rt_tree_program) and finds none: its target has terminated. */
  pthread_mutex_lock(&rt->lock);
  r->gone = true;
  hk_globals_t *g = r->globals;
  hiko_program_t *prog = r->prog;
  r->globals = NULL;
  r->prog = NULL;
  r->img = NULL;
  bool last = r->joined;
  if (last) root_unlink(rt, r);
  pthread_mutex_unlock(&rt->lock);
  hk_globals_free(g);
  hiko_program_release(prog);
  if (last) root_free(r);
}

void hk_rt_tree_flush(void) {
  hk_tree_credit_t *c = &hk_tree_credit;
  uint32_t n = c->n;
  if (!n) return;
  c->n = 0;
  tree_sub(c->rt, c->r, n);
}

/* The ends are counted per worker (hk_tree_credit): the tree's count was
** one line written by every spawn and every end of the tree, on whichever
** worker, a cross-core transfer whenever the last writer was the other
** worker (bench/README.md, "Tree count per worker, stop 21"). */
void hk_rt_tree_leave_slow(hiko_runtime_t *rt, hk_root_t *r) {
  hk_tree_credit_t *c = &hk_tree_credit;
  if (c->rt != rt) {
    tree_sub(rt, r, 1); /* not a worker of this runtime */
    return;
  }
  if (c->n && c->r != r) hk_rt_tree_flush();
  c->r = r;
  if (++c->n >= HK_TREE_CREDIT_MAX) hk_rt_tree_flush();
}

void hk_rt_root_failed(hiko_runtime_t *rt, hiko_pid_t pid, const char *message,
                       hiko_value_t *failure) {
  pthread_mutex_lock(&rt->lock);
  hk_root_t *r = find_root(rt, pid);
  if (r && !r->res.message) {
    r->res.message = strdup(message);
    r->res.failure = failure;
    failure = NULL;
  }
  pthread_mutex_unlock(&rt->lock);
  hiko_value_free(failure);
}

static void ops_root_done(void *ud, hk_proc_t *p, hk_outcome_t out, void *payload) {
  hiko_runtime_t *rt = ud;
  if (payload) hk_msg_free(payload);
  pthread_mutex_lock(&rt->lock);
  hk_root_t *r = find_root(rt, hk_proc_pid(p));
  if (r) {
    r->ended = true;
    r->res.status = out == HK_OUT_DONE ? HIKO_DONE : HIKO_FAILED;
    if (out == HK_OUT_CANCELLED && !r->res.message) r->res.message = strdup("cancelled");
    if (out == HK_OUT_DONE) {
      free(r->res.message);
      r->res.message = NULL;
      hiko_value_free(r->res.failure);
      r->res.failure = NULL;
    }
  }
  pthread_cond_broadcast(&rt->cond);
  pthread_mutex_unlock(&rt->lock);
}

/* ---- Scheduler callbacks ---------------------------------------------------- */

static void worker_start(hk_worker_t *w, void *arg) {
  hiko_runtime_t *rt = arg;
  hk_wstate_t *ws = &rt->ws[hk_sched_worker_index(w)];
  hk_sched_worker_set_user(w, ws);
  hk_procs_bind_thread(&ws->c);
  hk_globals_thread(true);
  hk_tree_credit = (hk_tree_credit_t){.rt = rt};
}

/* The worker found no work of its own: it may now search, spin and park
** for a long time, so its credit goes to the tree's count. */
static void worker_idle(hk_worker_t *w, void *arg) {
  (void)w;
  (void)arg;
  hk_rt_tree_flush();
}

static void worker_stop(hk_worker_t *w, void *arg) {
  (void)w;
  (void)arg;
  hk_rt_tree_flush();
  hk_tree_credit = (hk_tree_credit_t){0};
  hk_globals_thread(false);
  hk_procs_bind_thread(NULL);
}

/* SPEC §6.9 / §10.8: every worker is about to park. Confirm with the
** sharded counts (two agreeing passes): nothing runnable or running, and
** some process blocked in a receive or a join. Then every such process
** fails with the deadlock message: all are marked first, then woken, so
** none observes another's failure. */
static void all_idle(hk_sched_t *s, void *arg) {
  (void)s;
  hk_rt_check_deadlock(arg);
}

void hk_rt_check_deadlock(hiko_runtime_t *rt) {
  if (!rt->cfg.detect_deadlock) return;
  /* Pending I/O and timers are possible wakers (SPEC §6.9.1). Read before
  ** the process counts: a completion's wake precedes its count's end. */
  if (!hk_rtio_quiet(rt->rio) || !hk_native_quiet(rt)) return;
  /* Relaxed: ports are opened by the host, which turns detection on only
  ** if it knows what it does (SPEC §6.9.2). */
  if (atomic_load_explicit(&rt->ports_open, memory_order_relaxed) != 0) return;
  uint64_t runnable, waiting;
  if (!hk_procs_quiescence(rt->procs, rt->shards, rt->nworkers, &runnable, &waiting)) return;
  if (runnable != 0 || waiting == 0) return;
  if (!hk_rtio_quiet(rt->rio)) return;
  hk_pmentry_t **all;
  long n = hk_pidmap_snapshot(hk_procs_pidmap(rt->procs), &all);
  if (n < 0) return;
  /* Mark all, then wake all: a woken process that fails first (say the
  ** root, whose end cancels the others) cannot turn another's deadlock
  ** failure into a cancellation, since the mark survives a cancel. */
  const uint32_t reasons = HK_WAIT_RECV | HK_WAIT_CHILD;
  for (long i = 0; i < n; i++)
    if (all[i]->kind == 0) hk_proc_doom((hk_proc_t *)all[i], reasons);
  for (long i = 0; i < n; i++) {
    if (all[i]->kind == 0) hk_proc_wake((hk_proc_t *)all[i], reasons, NULL);
    hk_pmentry_unref(all[i]);
  }
  free(all);
  /* The I/O thread checks after its batch's flush (on_batch_end), and its
  ** wakes above were only collected (hk_sched_defer_begin): inject them
  ** now, or the doomed processes wait in its list while it sleeps with no
  ** timer and every worker parked, and the program hangs. A no-op on
  ** other threads. */
  hk_sched_defer_flush(rt->sched);
  atomic_fetch_add_explicit(&rt->deadlocks, 1, memory_order_relaxed);
}

/* ---- Creation and destruction ------------------------------------------------ */

static const char *host_native_name(void *ud, uint32_t id) { return hk_native_name(ud, id); }

static int setup(hiko_runtime_t *rt) {
  rt->host.ud = rt;
  rt->host.write = host_write;
  rt->host.monotonic_ms = host_monotonic_ms;
  rt->host.serve_now = hk_vmproc_serve_now;
  rt->host.send_now = hk_vmproc_send_now;
  rt->host.send_tuple_now = hk_vmproc_send_tuple_now;
  rt->host.receive_now = hk_vmproc_receive_now;
  rt->host.native_name = host_native_name;
  rt->host.argv = rt->cfg.argv;
  rt->host.argc = rt->cfg.argc;
  rt->host.allow_exit = rt->cfg.allow_exit;
  rt->host.allow_net = rt->cfg.allow_net;
  rt->host.fs_root = rt->cfg.fs_root;
  rt->host.allow_exec = rt->cfg.allow_exec;
  rt->host.n_allow_exec = rt->cfg.n_allow_exec;
  rt->ops = (hk_procs_ops_t){
      .run = hk_vmproc_run,
      .free_body = hk_vmproc_free_body,
      .drop_payload = hk_vmproc_drop_payload,
      .ready = ops_ready,
      .root_done = ops_root_done,
      .ud = rt,
  };
  hk_procs_config_t pc = {.max_processes = rt->cfg.max_processes};
  int rc = hk_procs_new(&rt->procs, &rt->ops, &pc);
  if (rc) return rc;
  hk_sched_config_t sc = {
      .workers = rt->cfg.workers,
      .slice_budget = (int32_t)(rt->cfg.reductions > INT32_MAX ? INT32_MAX : rt->cfg.reductions),
      .worker_start = worker_start,
      .worker_stop = worker_stop,
      .worker_idle = worker_idle,
      .all_idle = all_idle,
      .arg = rt,
  };
  if ((rc = hk_sched_new(&rt->sched, &sc))) return rc;
  rt->nworkers = hk_sched_workers(rt->sched);
  /* Each worker's shard on its own cache lines (hk_wstate_t is aligned):
  ** a worker's counter writes never invalidate another's. */
  rt->ws = aligned_alloc(_Alignof(hk_wstate_t), rt->nworkers * sizeof *rt->ws);
  if (rt->ws) memset(rt->ws, 0, rt->nworkers * sizeof *rt->ws);
  rt->shards = calloc(rt->nworkers, sizeof *rt->shards);
  if (!rt->ws || !rt->shards) return -ENOMEM;
  for (uint32_t i = 0; i < rt->nworkers; i++) {
    rt->ws[i].index = i;
    rt->shards[i] = &rt->ws[i].c;
    if (rt->cfg.trace_path && (rc = hk_trace_new(&rt->ws[i].trace))) return rc;
  }
  if (rt->cfg.trace_path) rt->trace_all = rt->ws[0].trace;
  return hk_rtio_new(rt, rt->cfg.stats, &rt->rio);
}

static void teardown(hiko_runtime_t *rt);

/* hiko.h: the runtime borrows cfg and copies its strings, so a host may free
** them after hiko_runtime_create. Copies fs_root, lib_dir, trace_path and
** the argv / allow_exec arrays (pointers and strings) into one block,
** rt->owned, and points rt->cfg at the copies. Returns 0, -EINVAL (a count
** without its array), -ENOMEM. */
static int own_strings(hiko_runtime_t *rt) {
  hiko_config_t *c = &rt->cfg;
  if ((c->argc && !c->argv) || (c->n_allow_exec && !c->allow_exec)) return -EINVAL;
  const char *one[3] = {c->fs_root, c->lib_dir, c->trace_path};
  size_t nptr = c->argc + c->n_allow_exec, bytes = 0;
  for (size_t i = 0; i < 3; i++) bytes += one[i] ? strlen(one[i]) + 1 : 0;
  for (size_t i = 0; i < c->argc; i++) {
    if (!c->argv[i]) return -EINVAL;
    bytes += strlen(c->argv[i]) + 1;
  }
  for (size_t i = 0; i < c->n_allow_exec; i++) {
    if (!c->allow_exec[i]) return -EINVAL;
    bytes += strlen(c->allow_exec[i]) + 1;
  }
  char *block = malloc(nptr * sizeof(char *) + bytes + 1);
  if (!block) return -ENOMEM;
  const char **ptrs = (const char **)(void *)block;
  char *text = block + nptr * sizeof(char *);
#define HK_COPY(dst, src)                     \
  do {                                        \
    size_t n_ = strlen(src) + 1;              \
    memcpy(text, (src), n_);                  \
    (dst) = text;                             \
    text += n_;                               \
  } while (0)
  for (size_t i = 0; i < c->argc; i++) HK_COPY(ptrs[i], c->argv[i]);
  for (size_t i = 0; i < c->n_allow_exec; i++) HK_COPY(ptrs[c->argc + i], c->allow_exec[i]);
  if (c->fs_root) HK_COPY(c->fs_root, c->fs_root);
  if (c->lib_dir) HK_COPY(c->lib_dir, c->lib_dir);
  if (c->trace_path) HK_COPY(c->trace_path, c->trace_path);
#undef HK_COPY
  c->argv = c->argc ? ptrs : NULL;
  c->allow_exec = c->n_allow_exec ? ptrs + c->argc : NULL;
  rt->owned = block;
  return 0;
}

int hiko_runtime_create(hiko_runtime_t **out, const hiko_config_t *cfg) {
  if (!out) return -EINVAL;
  *out = NULL;
  /* size: a configuration from another version of hiko.h (or garbage) is
  ** -EINVAL. A size of 0 is a zero-initialised struct (hiko_config_t c =
  ** {0}): accepted, every field as written (0 means the default where the
  ** header says so; the booleans are false). */
  if (cfg && ((cfg->size != 0 && cfg->size != sizeof *cfg) || cfg->workers > 1024))
    return -EINVAL;
  hiko_runtime_t *rt = calloc(1, sizeof *rt);
  if (!rt) return -ENOMEM;
  if (cfg) rt->cfg = *cfg;
  else hiko_config_init(&rt->cfg);
  int orc = own_strings(rt);
  if (orc) {
    free(rt);
    return orc;
  }
  if (rt->cfg.reductions == 0) rt->cfg.reductions = 2000;
  /* SPEC §7.1.3: SIGPIPE is ignored, so a print to a reader that went away
  ** fails the caller with "print: Broken pipe" (§8.2) instead of killing
  ** the OS process. Set here, not only when the I/O thread starts (it does
  ** too): a program that never does I/O prints as well. */
  signal(SIGPIPE, SIG_IGN);
  rt->t0_ns = hk_sched_now_ns();
  pthread_mutex_init(&rt->lock, NULL);
  pthread_mutex_init(&rt->out_lock, NULL);
  pthread_cond_init(&rt->cond, NULL);
  int rc = setup(rt);
  if (rc) {
    teardown(rt);
    return rc;
  }
  *out = rt;
  return 0;
}

static void print_stats(hiko_runtime_t *rt);

static void teardown(hiko_runtime_t *rt) {
  /* Every process has ended (hiko_shutdown): nothing submits any more.
  ** Late completions may still run the deadlock check, so the scheduler
  ** outlives the I/O thread; idle workers read the I/O counts, so those
  ** outlive the workers. Running blocking natives finish first. */
  hk_native_stop(rt);
  hk_rtio_stop(rt->rio);
  hk_sched_free(rt->sched); /* stops and joins the workers */
  rt->sched = NULL;
  hk_native_free(rt);
  hk_rtio_free(rt->rio);
  rt->rio = NULL;
  if (rt->cfg.trace_path && rt->ws) {
    hk_trace_t **t = calloc(rt->nworkers, sizeof *t);
    if (t) {
      for (uint32_t i = 0; i < rt->nworkers; i++) t[i] = rt->ws[i].trace;
      int rc = hk_trace_write(rt->cfg.trace_path, t, rt->nworkers, rt->t0_ns);
      if (rc) { /* to cfg.err, like the statistics */
        char msg[512];
        snprintf(msg, sizeof msg, "hiko: cannot write trace %s: %s\n", rt->cfg.trace_path,
                 strerror(-rc));
        host_write(rt, 2, msg, strlen(msg));
      }
      free(t);
    }
  }
  if (rt->procs) hk_procs_free(rt->procs);
  for (hk_root_t *r = rt->roots, *next; r; r = next) {
    next = r->next;
    root_free(r);
  }
  if (rt->ws)
    for (uint32_t i = 0; i < rt->nworkers; i++) hk_trace_free(rt->ws[i].trace);
  free(rt->ws);
  free(rt->shards);
  pthread_mutex_destroy(&rt->lock);
  pthread_mutex_destroy(&rt->out_lock);
  pthread_cond_destroy(&rt->cond);
  free(rt->owned);
  free(rt);
}

/* A thread of [rt] that runs host code: a worker (natives, the write
** callbacks) or a helper running a blocking native (SPEC §12.2: -EBUSY on
** a runtime thread; destroying or waiting for the runtime from there would
** free or wait for the thread itself). */
bool hk_rt_on_runtime_thread(const hiko_runtime_t *rt) {
  hk_worker_t *w = hk_sched_self();
  return (w && hk_sched_worker_sched(w) == rt->sched) || hk_native_on_helper(rt);
}

int hiko_runtime_destroy(hiko_runtime_t *rt) {
  if (!rt) return 0;
  if (hk_rt_on_runtime_thread(rt)) return -EBUSY;
  hiko_shutdown(rt);
  if (rt->cfg.stats) print_stats(rt);
  teardown(rt);
  return 0;
}

/* ---- Roots, running, joining ---------------------------------------------------- */

int hiko_spawn_main(hiko_runtime_t *rt, hiko_program_t *prog, hiko_pid_t *out) {
  const hk_image_t *img = hk_program_image(prog);
  if (!img) return -EINVAL;
  hk_root_t *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  r->img = img;
  r->rt = rt;
  pthread_mutex_lock(&rt->lock);
  if (rt->stopped) {
    pthread_mutex_unlock(&rt->lock);
    free(r);
    return HIKO_ESTATE;
  }
  hk_proc_t *p;
  int rc = hk_vmproc_new_root(rt, r, &p);
  if (rc) {
    pthread_mutex_unlock(&rt->lock);
    free(r);
    return rc;
  }
  r->pid = hk_proc_pid(p);
  r->prog = hk_program_retain(prog);
  r->next = rt->roots;
  rt->roots = r;
  pthread_mutex_unlock(&rt->lock);
  *out = r->pid;
  hk_proc_start(p, NULL); /* injection queue */
  return 0;
}

int hiko_start(hiko_runtime_t *rt) {
  if (!rt) return -EINVAL;
  pthread_mutex_lock(&rt->lock);
  int rc = 0;
  if (rt->started || rt->stopped) rc = HIKO_ESTATE;
  else if ((rc = hk_sched_start(rt->sched)) == 0) rt->started = true;
  pthread_mutex_unlock(&rt->lock);
  return rc;
}

struct timespec hk_rt_deadline_ms(int ms) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += (long)(ms % 1000) * 1000000;
  if (t.tv_nsec >= 1000000000) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000;
  }
  return t;
}

static bool all_roots_ended(hiko_runtime_t *rt) {
  for (hk_root_t *r = rt->roots; r; r = r->next)
    if (!r->ended) return false;
  return true;
}

/* Waits (lock held) until every root ended and every process terminated. */
static void wait_quiet(hiko_runtime_t *rt) {
  while (!all_roots_ended(rt)) pthread_cond_wait(&rt->cond, &rt->lock);
  /* Descendants are being cancelled (SPEC §6.8.2); they end promptly. */
  while (hk_procs_live(rt->procs, rt->shards, rt->nworkers) != 0) {
    struct timespec ts = hk_rt_deadline_ms(1);
    pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
  }
}

int hiko_run(hiko_runtime_t *rt) {
  if (!rt) return -EINVAL;
  if (hk_rt_on_runtime_thread(rt)) return -EBUSY;
  pthread_mutex_lock(&rt->lock);
  if (!rt->started && !rt->stopped) {
    int rc = hk_sched_start(rt->sched);
    if (rc) {
      pthread_mutex_unlock(&rt->lock);
      return rc;
    }
    rt->started = true;
  }
  wait_quiet(rt);
  pthread_mutex_unlock(&rt->lock);
  fflush(stdout);
  return 0;
}

static void fill_result(hiko_runtime_t *rt, const hk_root_t *r, hiko_result_t *out) {
  memset(out, 0, sizeof *out);
  /* Acquire: pairs with hk_rt_exit's release (exit_code is written first). */
  if (atomic_load_explicit(&rt->exited, memory_order_acquire) == 1) {
    out->status = HIKO_EXITED;
    out->exit_code = atomic_load_explicit(&rt->exit_code, memory_order_relaxed);
    return;
  }
  out->status = r->res.status;
  if (r->res.message) {
    out->message = strdup(r->res.message);
    if (r->res.failure) hk_value_clone(r->res.failure, &out->failure);
    else hk_value_failure_api(r->res.message, &out->failure);
  }
}

int hiko_join(hiko_runtime_t *rt, hiko_pid_t root, hiko_result_t *out, int timeout_ms) {
  if (!rt || !out) return -EINVAL;
  memset(out, 0, sizeof *out);
  /* From a native builtin (SPEC §12.3.5): a join of the caller's own root
  ** would wait for the caller, and any join stalls a worker or a helper. */
  if (hk_rt_on_runtime_thread(rt)) return -EBUSY;
  struct timespec dl = hk_rt_deadline_ms(timeout_ms > 0 ? timeout_ms : 0);
  pthread_mutex_lock(&rt->lock);
  hk_root_t *r;
  int rc = 0;
  /* Looked up again after each wait: a concurrent join of the same root
  ** may have released it (we then report -ENOENT). */
  while ((r = find_root(rt, root)) && !r->ended) {
    if (timeout_ms == 0) rc = -ETIMEDOUT;
    else if (timeout_ms < 0) pthread_cond_wait(&rt->cond, &rt->lock);
    else if (pthread_cond_timedwait(&rt->cond, &rt->lock, &dl) == ETIMEDOUT) rc = -ETIMEDOUT;
    if (rc) break;
  }
  if (!rc && !r) rc = -ENOENT;
  /* A join releases the root (docs/embedding.md): its record goes now if
  ** its tree is gone, else with the tree's last process (hk_rt_tree_leave). */
  bool release = false;
  if (!rc) {
    fill_result(rt, r, out);
    r->joined = true;
    if ((release = r->gone)) root_unlink(rt, r);
  }
  pthread_mutex_unlock(&rt->lock);
  if (release) root_free(r);
  return rc;
}

void hiko_result_clear(hiko_result_t *r) {
  if (!r) return;
  free(r->message);
  r->message = NULL;
  hiko_value_free(r->failure);
  r->failure = NULL;
}

static void cancel_pid(hiko_runtime_t *rt, hiko_pid_t pid) {
  hk_proc_t *p = hk_proc_get(rt->procs, pid);
  if (p) {
    hk_proc_cancel(p, NULL);
    hk_proc_unref(p);
  }
}

void hk_rt_exit(hiko_runtime_t *rt, int code) {
  int zero = 0;
  /* The first exit wins (0 -> 2 claims; 1 publishes the code below).
  ** Relaxed: the claim publishes nothing. */
  if (!atomic_compare_exchange_strong_explicit(&rt->exited, &zero, 2, memory_order_relaxed,
                                               memory_order_relaxed))
    return;
  atomic_store_explicit(&rt->exit_code, code, memory_order_relaxed);
  /* Release: pairs with fill_result's acquire of the flag. */
  atomic_store_explicit(&rt->exited, 1, memory_order_release);
  pthread_mutex_lock(&rt->lock);
  for (hk_root_t *r = rt->roots; r; r = r->next)
    if (!r->ended) cancel_pid(rt, r->pid);
  pthread_mutex_unlock(&rt->lock);
}

int hiko_shutdown(hiko_runtime_t *rt) {
  if (!rt) return -EINVAL;
  if (hk_rt_on_runtime_thread(rt)) return -EBUSY;
  pthread_mutex_lock(&rt->lock);
  for (hk_root_t *r = rt->roots; r; r = r->next)
    if (!r->ended) cancel_pid(rt, r->pid);
  if (!rt->started && !rt->stopped && hk_procs_live(rt->procs, rt->shards, rt->nworkers) != 0) {
    /* Roots spawned but never run: run them to their cancellation. */
    if (hk_sched_start(rt->sched) == 0) rt->started = true;
  }
  if (rt->started) wait_quiet(rt);
  rt->stopped = true;
  pthread_mutex_unlock(&rt->lock);
  fflush(stdout);
  return 0;
}

/* ---- Statistics ---------------------------------------------------------------------- */

static uint64_t ld(const _Atomic uint64_t *f) {
  /* Relaxed: statistics (SPEC §10.9). */
  return atomic_load_explicit(f, memory_order_relaxed);
}

static void counters_of(hiko_runtime_t *rt, uint32_t i, hiko_counters_t *c) {
  hk_sched_counters_t sc;
  hk_sched_counters(rt->sched, i, &sc);
  const hk_pcounters_t *p = &rt->ws[i].c;
  *c = (hiko_counters_t){
      .slices = sc.slices, .steals = sc.steals, .stolen = sc.stolen, .parks = sc.parks,
      .sent = ld(&p->sent), .received = ld(&p->received), .dropped = ld(&p->dropped),
      .spawns = ld(&p->spawns), .io_ops = hk_rtio_io_ops(rt->rio, i), .gc_runs = ld(&p->gc_runs),
  };
}

static void add(hiko_counters_t *t, const hiko_counters_t *c) {
  t->slices += c->slices; t->steals += c->steals; t->stolen += c->stolen;
  t->parks += c->parks; t->sent += c->sent; t->received += c->received;
  t->dropped += c->dropped; t->spawns += c->spawns; t->io_ops += c->io_ops;
  t->gc_runs += c->gc_runs;
}

int hiko_stats_get(hiko_runtime_t *rt, hiko_stats_t *out) {
  if (!out) return -EINVAL;
  memset(out, 0, sizeof *out);
  if (!rt) return -EINVAL;
  out->workers = rt->nworkers;
  out->per_worker = calloc(rt->nworkers, sizeof *out->per_worker);
  if (!out->per_worker) return -ENOMEM;
  const hk_pcounters_t *sh = hk_procs_shared_counters(rt->procs);
  for (uint32_t i = 0; i <= rt->nworkers; i++) {
    const hk_pcounters_t *p = i < rt->nworkers ? &rt->ws[i].c : sh;
    if (i < rt->nworkers) {
      counters_of(rt, i, &out->per_worker[i]);
      add(&out->total, &out->per_worker[i]);
    } else {
      /* Work done by non-worker threads (API calls): in the total only. */
      hiko_counters_t c = {.sent = ld(&p->sent), .received = ld(&p->received),
                           .dropped = ld(&p->dropped), .spawns = ld(&p->spawns),
                           .gc_runs = ld(&p->gc_runs)};
      add(&out->total, &c);
    }
    out->processes += ld(&p->created);
    out->done += ld(&p->done);
    out->failed += ld(&p->failed);
    out->cancelled += ld(&p->cancelled);
    if (ld(&p->mailbox_high) > out->mailbox_high_water) out->mailbox_high_water = ld(&p->mailbox_high);
  }
  out->io_backend = hk_rtio_backend(rt->rio);
  return 0;
}

void hiko_stats_clear(hiko_stats_t *s) {
  if (!s) return;
  free(s->per_worker);
  s->per_worker = NULL;
}

static void print_counters(FILE *f, const char *label, const hiko_counters_t *c) {
  fprintf(f, "%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
             " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
          label, c->slices, c->steals, c->stolen, c->parks, c->sent, c->received, c->dropped,
          c->spawns, c->io_ops, c->gc_runs);
}

static void print_stats(hiko_runtime_t *rt) {
  hiko_stats_t s;
  if (hiko_stats_get(rt, &s) != 0) return;
  uint64_t wall_ms = (hk_sched_now_ns() - rt->t0_ns) / 1000000u;
  char buf[4096];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  FILE *out = f ? f : stderr;
  fprintf(out,
          "hiko stats: workers=%u wall_ms=%" PRIu64 " io_backend=%s processes=%" PRIu64
          " done=%" PRIu64 " failed=%" PRIu64 " cancelled=%" PRIu64 "\n",
          s.workers, wall_ms, s.io_backend, s.processes, s.done, s.failed, s.cancelled);
  fputs("worker slices steals stolen parks sent received dropped spawns io_ops gc_runs\n", out);
  if (f) {
    fflush(f);
    host_write(rt, 2, buf, strlen(buf));
    fclose(f);
  }
  for (uint32_t i = 0; i < s.workers; i++) {
    char label[16];
    snprintf(label, sizeof label, "%u", i);
    char line[512];
    FILE *lf = fmemopen(line, sizeof line, "w");
    if (!lf) continue;
    print_counters(lf, label, &s.per_worker[i]);
    fflush(lf);
    host_write(rt, 2, line, strlen(line));
    fclose(lf);
  }
  char line[512];
  FILE *lf = fmemopen(line, sizeof line, "w");
  if (lf) {
    print_counters(lf, "total", &s.total);
    fflush(lf);
    host_write(rt, 2, line, strlen(line));
    fclose(lf);
  }
  hiko_stats_clear(&s);
}

/* ---- Disassembly (kept with the runner: run.c had it) ----------------------------- */

int hiko_program_disasm(const hiko_program_t *p, char **out) {
  if (!out) return -EINVAL;
  *out = NULL;
  const hk_image_t *img = hk_program_image(p);
  return img ? hk_disasm(img, out) : -EINVAL;
}
