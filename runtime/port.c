/* port.c — hiko_send and ports (SPEC §12.2, §12.3.2): a port is a pid whose
** mailbox is read by C. Ports are not on the message hot path of processes:
** a port keeps its queue of API values under a mutex, and its reader waits
** on a condition variable. A process sending to a port converts the value
** straight from its own heap (no message block). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/rt.h"
#include "runtime/value.h"

enum { KIND_PORT = 1 };

typedef struct qnode {
  struct qnode *next;
  hiko_value_t *v;
} qnode_t;

struct hiko_port {
  hk_pmentry_t e; /* first; kind KIND_PORT */
  hiko_runtime_t *rt;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  qnode_t *head, *tail; /* guarded by lock */
  bool closed;          /* guarded by lock */
};

static void port_release(hk_pmentry_t *e) {
  hiko_port_t *port = (hiko_port_t *)e;
  for (qnode_t *q = port->head, *next; q; q = next) {
    next = q->next;
    hiko_value_free(q->v);
    free(q);
  }
  pthread_mutex_destroy(&port->lock);
  pthread_cond_destroy(&port->cond);
  free(port);
}

int hiko_port_open(hiko_runtime_t *rt, hiko_port_t **out) {
  if (!rt || !out) return -EINVAL;
  hiko_port_t *port = calloc(1, sizeof *port);
  if (!port) return -ENOMEM;
  hk_pidmap_t *map = hk_procs_pidmap(rt->procs);
  hk_pmentry_set_release(KIND_PORT, port_release);
  hk_pmentry_init(&port->e, hk_pidmap_alloc(map), KIND_PORT);
  port->rt = rt;
  pthread_mutex_init(&port->lock, NULL);
  pthread_cond_init(&port->cond, NULL);
  /* Relaxed: read by the deadlock check, which the host enables knowingly. */
  atomic_fetch_add_explicit(&rt->ports_open, 1, memory_order_relaxed);
  hk_pidmap_insert(map, &port->e);
  *out = port;
  return 0;
}

hiko_pid_t hiko_port_pid(const hiko_port_t *port) { return port->e.pid; }

/* Counts a message to a port as a mailbox would (SPEC §10.9): sent when
** [rc] is 0, dropped when the port was closed (-ESRCH, SPEC §6.5.1). */
static void count_send(hiko_runtime_t *rt, int rc) {
  if (rc == 0) hk_procs_count_msgs(rt->procs, 1, 0, 0);
  else if (rc == -ESRCH) hk_procs_count_msgs(rt->procs, 0, 0, 1);
}

/* Queues [v] (taken) unless the port is closed. Returns 0 or -ESRCH. */
static int deliver(hiko_port_t *port, hiko_value_t *v) {
  qnode_t *q = malloc(sizeof *q);
  if (!q) {
    hiko_value_free(v);
    return -ENOMEM;
  }
  q->next = NULL;
  q->v = v;
  pthread_mutex_lock(&port->lock);
  bool closed = port->closed;
  if (!closed) {
    if (port->tail) port->tail->next = q;
    else port->head = q;
    port->tail = q;
    pthread_cond_signal(&port->cond);
  }
  pthread_mutex_unlock(&port->lock);
  if (closed) {
    hiko_value_free(v);
    free(q);
    return -ESRCH;
  }
  return 0;
}

int hk_port_send_value(hiko_runtime_t *rt, hk_pmentry_t *e, hk_vm_t *vm, hk_value_t v) {
  hiko_value_t *a;
  int rc = hk_value_to_api(vm, hk_rt_program_of(hk_vmproc_of(vm)), v, &a);
  if (rc) return rc;
  rc = deliver((hiko_port_t *)e, a);
  count_send(rt, rc);
  return rc;
}

int hiko_port_recv(hiko_port_t *port, hiko_value_t **out, int timeout_ms) {
  if (!out) return -EINVAL;
  *out = NULL;
  if (!port) return -EINVAL;
  /* Not from inside a native (SPEC §12.3.5): a wait there would stall the
  ** worker, or wait forever when the port's sender is a process that
  ** needs this worker (--workers 1). */
  if (hk_rt_on_runtime_thread(port->rt)) return -EBUSY;
  struct timespec dl = hk_rt_deadline_ms(timeout_ms > 0 ? timeout_ms : 0);
  int rc = 0;
  pthread_mutex_lock(&port->lock);
  while (!port->head && rc == 0) {
    if (timeout_ms == 0) rc = -EAGAIN;
    else if (timeout_ms < 0) pthread_cond_wait(&port->cond, &port->lock);
    else if (pthread_cond_timedwait(&port->cond, &port->lock, &dl) == ETIMEDOUT) rc = -ETIMEDOUT;
  }
  qnode_t *q = NULL;
  if (rc == 0) {
    q = port->head;
    port->head = q->next;
    if (!port->head) port->tail = NULL;
  }
  pthread_mutex_unlock(&port->lock);
  if (q) {
    *out = q->v;
    free(q);
    hk_procs_count_msgs(port->rt->procs, 0, 1, 0);
  }
  return rc;
}

int hiko_port_close(hiko_port_t *port) {
  if (!port) return 0;
  hiko_runtime_t *rt = port->rt;
  pthread_mutex_lock(&port->lock);
  port->closed = true;
  uint64_t left = 0; /* never read: dropped (SPEC §6.5.5) */
  for (qnode_t *q = port->head; q; q = q->next) left++;
  pthread_mutex_unlock(&port->lock);
  hk_procs_count_msgs(rt->procs, 0, 0, left);
  hk_pidmap_remove(hk_procs_pidmap(rt->procs), &port->e);
  uint64_t open = atomic_fetch_sub_explicit(&rt->ports_open, 1, memory_order_relaxed) - 1;
  hk_pmentry_unref(&port->e); /* the opener's reference */
  /* The last port closed may complete the deadlock condition while every
  ** worker is already idle (nothing else would run the check, SPEC §6.9). */
  if (open == 0 && rt->sched && hk_sched_all_idle(rt->sched)) hk_rt_check_deadlock(rt);
  return 0;
}

/* ---- hiko_send ------------------------------------------------------------------ */

hiko_program_t *hk_rt_tree_program(hiko_runtime_t *rt, uint64_t root_pid) {
  hiko_program_t *prog = NULL;
  pthread_mutex_lock(&rt->lock);
  for (hk_root_t *r = rt->roots; r; r = r->next)
    if (r->pid == root_pid) {
      if (r->prog) prog = hk_program_retain(r->prog);
      break;
    }
  pthread_mutex_unlock(&rt->lock);
  return prog;
}

int hiko_send(hiko_runtime_t *rt, hiko_pid_t to, const hiko_value_t *msg) {
  if (!rt || !msg) return -EINVAL; /* checked first: any target, live or not */
  hk_pmentry_t *e = hk_pidmap_get(hk_procs_pidmap(rt->procs), to);
  if (!e) {
    hk_pcounters_t *c = hk_procs_shared_counters(rt->procs);
    atomic_fetch_add_explicit(&c->dropped, 1, memory_order_relaxed);
    return 0; /* dropped, as send_message (SPEC §6.5.1) */
  }
  int rc;
  if (e->kind == KIND_PORT) {
    hiko_value_t *copy;
    rc = hk_value_clone(msg, &copy);
    if (!rc) {
      rc = deliver((hiko_port_t *)e, copy);
      count_send(rt, rc);
    }
    if (rc == -ESRCH) rc = 0;
    hk_pmentry_unref(e);
    return rc;
  }
  hiko_program_t *prog = hk_rt_tree_program(rt, ((hk_proc_t *)e)->root_pid);
  hk_pmentry_unref(e);
  if (!prog) return 0; /* its tree is gone: the target has terminated */
  /* Build the value in a scratch instance of the receiver's program, copy
  ** it out as a message block, send the block. */
  hk_vm_t *vm;
  if ((rc = hk_vm_new(&vm, hk_program_image(prog), &rt->host, NULL))) {
    hiko_program_release(prog);
    return rc;
  }
  hk_value_t v;
  hk_msg_t *m = NULL;
  rc = hk_value_from_api(vm, msg, &v);
  if (!rc) rc = hk_value_copy_out(vm, v, rt->cfg.max_heap, &m);
  hk_vm_free(vm);
  hiko_program_release(prog);
  if (rc) return rc == -ENOENT ? -EINVAL : rc;
  hk_proc_send(rt->procs, to, m, NULL);
  return 0;
}

/* ---- value_clone ----------------------------------------------------------------------- */

int hk_value_clone(const hiko_value_t *v, hiko_value_t **out) {
  /* Show the structure through the public accessors: rebuild bottom-up
  ** with an explicit stack of (source, destination slot). */
  typedef struct { const hiko_value_t *src; hiko_value_t **dst; } item_t;
  item_t *st = NULL;
  size_t n = 0, cap = 0;
  hiko_value_t *root = NULL;
  int rc = 0;
#define CPUSH(S, D)                                                    \
  do {                                                                 \
    if (n == cap) {                                                    \
      size_t c2 = cap ? cap * 2 : 64;                                  \
      item_t *s2 = realloc(st, c2 * sizeof *s2);                       \
      if (!s2) { rc = -ENOMEM; break; }                                \
      st = s2;                                                         \
      cap = c2;                                                        \
    }                                                                  \
    st[n++] = (item_t){(S), (D)};                                      \
  } while (0)
  CPUSH(v, &root);
  while (!rc && n) {
    item_t it = st[--n];
    const hiko_value_t *s = it.src;
    hiko_value_t *d = NULL;
    size_t len;
    const char *str;
    switch (hiko_value_kind(s)) {
    case HIKO_INT: rc = hiko_value_int(hiko_value_get_int(s), &d); break;
    case HIKO_FLOAT: rc = hiko_value_float(hiko_value_get_float(s), &d); break;
    case HIKO_BOOL: rc = hiko_value_bool(hiko_value_get_bool(s), &d); break;
    case HIKO_CHAR: rc = hiko_value_char(hiko_value_get_char(s), &d); break;
    case HIKO_UNIT: rc = hiko_value_unit(&d); break;
    case HIKO_PID: rc = hiko_value_pid(hiko_value_get_pid(s), &d); break;
    case HIKO_STRING:
      str = hiko_value_get_string(s, &len);
      rc = hiko_value_string(str, len, &d);
      break;
    case HIKO_BYTES:
      str = hiko_value_get_string(s, &len);
      rc = hiko_value_bytes(str, len, &d);
      break;
    default:
      rc = hk_value_clone_shallow(s, &d);
      if (!rc)
        for (size_t i = 0; i < hiko_value_count(s) && !rc; i++)
          CPUSH(hiko_value_at(s, i), hk_value_slot(d, i));
      break;
    }
    if (!rc) *it.dst = d;
    else hiko_value_free(d);
  }
#undef CPUSH
  free(st);
  if (rc) {
    hiko_value_free(root);
    return rc;
  }
  *out = root;
  return 0;
}
