/* io/fallback.c: the backend without io_uring (SPEC §10.7.5). Sockets are
** non-blocking and driven by epoll on the I/O thread; file system calls
** (open, read, write, close) run on two helper threads; standard input is
** waited for with epoll when it can be (pipe, terminal, socket) and read
** on a helper otherwise (regular file). The engine above is the same, so
** the observable behaviour is too.
**
** A primitive finished on the I/O thread goes to a ready list (never a
** direct call, so handlers do not recurse); one finished on a helper goes
** to the done list under done_lock and the helper writes done_fd.
*/
#include "io_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HELPERS 2

typedef struct watch {
  hk_prim_t *in, *out; /* waiting for EPOLLIN / EPOLLOUT */
  uint32_t events;     /* registered with epoll (0: not registered) */
} watch_t;

typedef struct fb_state {
  /* I/O thread only. */
  int epfd;
  watch_t *watch; /* by fd */
  size_t nwatch;
  hk_prim_t *ready, *ready_tail;
  bool stdin_poll; /* stdin works with epoll */
  /* Shared with the helpers, under lock. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  hk_prim_t *jobs, *jobs_tail;
  hk_prim_t *done, *done_tail;
  bool stop;
  int done_fd; /* eventfd: helpers -> I/O thread */
  pthread_t helpers[HELPERS];
  int nhelpers;
} fb_state_t;

static void append(hk_prim_t **head, hk_prim_t **tail, hk_prim_t *p) {
  p->bnext = NULL;
  if (*tail) (*tail)->bnext = p;
  else *head = p;
  *tail = p;
}

static void ready(fb_state_t *st, hk_prim_t *p, int res) {
  p->bres = res;
  append(&st->ready, &st->ready_tail, p);
}

/* ---- Helper threads: blocking file calls ------------------------------ */

static int run_blocking(hk_prim_t *p) {
  long rc;
  switch (p->kind) {
  case HK_PRIM_OPEN:
    rc = syscall(SYS_openat2, p->fd, p->buf, &p->how, sizeof p->how);
    break;
  /* A pipe, FIFO or terminal (read_file "/dev/stdin", write_file
  ** "/dev/stdout") has no offsets: pread/pwrite fail with ESPIPE, while
  ** io_uring reads and writes such a file at its current position whatever
  ** the offset. The fallback does the same (SPEC §10.7.5); our descriptor
  ** is private and used in order, so that position is the offset. */
  case HK_PRIM_READ:
    rc = p->offset >= 0 ? pread(p->fd, p->buf, p->len, p->offset) : -1;
    if (p->offset < 0 || (rc < 0 && errno == ESPIPE)) rc = read(p->fd, p->buf, p->len);
    break;
  case HK_PRIM_WRITE:
    rc = p->offset >= 0 ? pwrite(p->fd, p->buf, p->len, p->offset) : -1;
    if (p->offset < 0 || (rc < 0 && errno == ESPIPE)) rc = write(p->fd, p->buf, p->len);
    break;
  case HK_PRIM_CLOSE: rc = close(p->fd); break;
  default: rc = -1; errno = EINVAL; break;
  }
  return rc < 0 ? -errno : (int)rc;
}

static void *helper_main(void *arg) {
  fb_state_t *st = arg;
  pthread_mutex_lock(&st->lock);
  for (;;) {
    while (!st->stop && !st->jobs) pthread_cond_wait(&st->cond, &st->lock);
    if (!st->jobs) break; /* stopping and nothing left */
    hk_prim_t *p = st->jobs;
    st->jobs = p->bnext;
    if (!st->jobs) st->jobs_tail = NULL;
    pthread_mutex_unlock(&st->lock);
    int res = run_blocking(p);
    pthread_mutex_lock(&st->lock);
    p->bres = res;
    append(&st->done, &st->done_tail, p);
    uint64_t one = 1;
    ssize_t n = write(st->done_fd, &one, sizeof one);
    (void)n; /* EAGAIN: already signalled */
  }
  pthread_mutex_unlock(&st->lock);
  return NULL;
}

static void to_helper(fb_state_t *st, hk_prim_t *p) {
  pthread_mutex_lock(&st->lock);
  append(&st->jobs, &st->jobs_tail, p);
  pthread_cond_signal(&st->cond);
  pthread_mutex_unlock(&st->lock);
}

/* ---- epoll watches ------------------------------------------------------ */

static watch_t *watch_of(fb_state_t *st, int fd) {
  if ((size_t)fd >= st->nwatch) {
    size_t n = st->nwatch ? st->nwatch : 64;
    while (n <= (size_t)fd) n *= 2;
    watch_t *w = realloc(st->watch, n * sizeof *w);
    if (!w) abort();
    memset(w + st->nwatch, 0, (n - st->nwatch) * sizeof *w);
    st->watch = w;
    st->nwatch = n;
  }
  return &st->watch[fd];
}

/* Make epoll's interest in [fd] match its waiting primitives. */
static void rewatch(fb_state_t *st, int fd) {
  watch_t *w = watch_of(st, fd);
  uint32_t ev = (w->in ? EPOLLIN : 0) | (w->out ? EPOLLOUT : 0);
  if (ev == w->events) return;
  struct epoll_event e = {.events = ev, .data.fd = fd};
  int op = ev == 0 ? EPOLL_CTL_DEL : w->events == 0 ? EPOLL_CTL_ADD
                                                    : EPOLL_CTL_MOD;
  if (epoll_ctl(st->epfd, op, fd, &e) < 0 && op != EPOLL_CTL_DEL) abort();
  w->events = ev;
}

/* Try [p] once without blocking. Returns 1 and sets *res when finished,
** 0 when it must wait for readiness. */
static int attempt(hk_prim_t *p, int *res) {
  long rc;
  switch (p->kind) {
  case HK_PRIM_ACCEPT: rc = accept4(p->fd, NULL, NULL, p->flags); break;
  case HK_PRIM_RECV: rc = hk_io_sys_recv(p->fd, p->buf, p->len, p->flags | MSG_DONTWAIT); break;
  case HK_PRIM_SEND: rc = hk_io_sys_send(p->fd, p->buf, p->len, p->flags | MSG_DONTWAIT); break;
  case HK_PRIM_READ: rc = read(p->fd, p->buf, p->len); break; /* ready stdin */
  case HK_PRIM_CONNECT: {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    *res = -err;
    return 1;
  }
  default: rc = -1; errno = EINVAL; break;
  }
  if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  *res = rc < 0 ? -errno : (int)rc;
  return 1;
}

static void wait_for(fb_state_t *st, hk_prim_t *p, bool out) {
  watch_t *w = watch_of(st, p->fd);
  if (out) w->out = p;
  else w->in = p;
  rewatch(st, p->fd);
}

static void fb_start(hk_io_t *io, hk_prim_t *p) {
  fb_state_t *st = io->backend;
  int res;
  switch (p->kind) {
  case HK_PRIM_OPEN:
  case HK_PRIM_WRITE:
  case HK_PRIM_CLOSE: { to_helper(st, p); return; }
  case HK_PRIM_READ:
    if (p->fd == io->stdin_fd && st->stdin_poll) { wait_for(st, p, false); return; }
    { to_helper(st, p); return; }
  case HK_PRIM_CONNECT:
    if (connect(p->fd, (struct sockaddr *)&p->addr, p->addrlen) == 0)
      { ready(st, p, 0); return; }
    if (errno != EINPROGRESS) { ready(st, p, -errno); return; }
    { wait_for(st, p, true); return; }
  default:
    /* A receive that follows a send waits for readiness first, like
    ** IORING_RECVSEND_POLL_FIRST (hk_sockfast_t.sent). */
    if (!(p->kind == HK_PRIM_RECV && p->poll_first) && attempt(p, &res))
      { ready(st, p, res); return; }
    { wait_for(st, p, p->kind == HK_PRIM_SEND); return; }
  }
}

static void fb_cancel(hk_io_t *io, hk_prim_t *p) {
  fb_state_t *st = io->backend;
  if (p->fd < 0 || (size_t)p->fd >= st->nwatch) return;
  watch_t *w = &st->watch[p->fd];
  if (w->in == p) w->in = NULL;
  else if (w->out == p) w->out = NULL;
  else return; /* on a helper or already ready: its result comes */
  rewatch(st, p->fd);
  ready(st, p, -ECANCELED);
}

static void on_event(fb_state_t *st, int fd, uint32_t ev) {
  watch_t *w = watch_of(st, fd);
  int res;
  if (w->in && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && attempt(w->in, &res)) {
    ready(st, w->in, res);
    w->in = NULL;
  }
  if (w->out && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && attempt(w->out, &res)) {
    ready(st, w->out, res);
    w->out = NULL;
  }
  rewatch(st, fd);
}

static void fb_wait(hk_io_t *io, int64_t timeout_ns) {
  fb_state_t *st = io->backend;
  int ms = -1;
  if (st->ready) ms = 0;
  else if (timeout_ns >= 0)
    ms = timeout_ns > 1000000000000ll ? 1000000
                                      : (int)((timeout_ns + 999999) / 1000000);
  struct epoll_event evs[64];
  int n = epoll_wait(st->epfd, evs, 64, ms);
  for (int i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    uint64_t v;
    if (fd == io->wake_fd || fd == st->done_fd) {
      ssize_t r = read(fd, &v, sizeof v);
      (void)r; /* EAGAIN: already reset */
      continue;
    }
    on_event(st, fd, evs[i].events);
  }
  pthread_mutex_lock(&st->lock);
  hk_prim_t *done = st->done;
  st->done = st->done_tail = NULL;
  pthread_mutex_unlock(&st->lock);
  for (hk_prim_t *p = done, *next; p; p = next) {
    next = p->bnext;
    hk_io_prim_done(io, p, p->bres);
  }
  /* Only what is ready now: handlers may add more for the next turn. */
  hk_prim_t *list = st->ready;
  st->ready = st->ready_tail = NULL;
  for (hk_prim_t *p = list, *next; p; p = next) {
    next = p->bnext;
    hk_io_prim_done(io, p, p->bres);
  }
}

static int add_fd(fb_state_t *st, int fd) {
  struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
  return epoll_ctl(st->epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

static void fb_fini(hk_io_t *io) {
  fb_state_t *st = io->backend;
  pthread_mutex_lock(&st->lock);
  st->stop = true;
  pthread_cond_broadcast(&st->cond);
  pthread_mutex_unlock(&st->lock);
  for (int i = 0; i < st->nhelpers; i++) pthread_join(st->helpers[i], NULL);
  pthread_mutex_destroy(&st->lock);
  pthread_cond_destroy(&st->cond);
  if (st->epfd >= 0) close(st->epfd);
  if (st->done_fd >= 0) close(st->done_fd);
  free(st->watch);
  free(st);
  io->backend = NULL;
}

static int fb_init(hk_io_t *io) {
  fb_state_t *st = calloc(1, sizeof *st);
  if (!st) return -ENOMEM;
  io->backend = st;
  pthread_mutex_init(&st->lock, NULL);
  pthread_cond_init(&st->cond, NULL);
  st->epfd = epoll_create1(EPOLL_CLOEXEC);
  st->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int rc = st->epfd < 0 || st->done_fd < 0 ? -errno : 0;
  if (rc == 0) rc = add_fd(st, io->wake_fd);
  if (rc == 0) rc = add_fd(st, st->done_fd);
  /* Can stdin be polled? epoll refuses regular files (EPERM). */
  struct epoll_event e = {.events = EPOLLIN, .data.fd = io->stdin_fd};
  if (rc == 0 && epoll_ctl(st->epfd, EPOLL_CTL_ADD, io->stdin_fd, &e) == 0) {
    st->stdin_poll = true;
    epoll_ctl(st->epfd, EPOLL_CTL_DEL, io->stdin_fd, &e);
  }
  for (int i = 0; rc == 0 && i < HELPERS; i++) {
    rc = -pthread_create(&st->helpers[i], NULL, helper_main, st);
    if (rc == 0) st->nhelpers++;
  }
  if (rc < 0) fb_fini(io);
  return rc;
}

const hk_io_backend_ops_t hk_io_fallback_ops = {
    .name = "fallback",
    .init = fb_init,
    .fini = fb_fini,
    .start = fb_start,
    .cancel = fb_cancel,
    .wait = fb_wait,
};
