/* io/io.c: the I/O thread's engine. Requests arrive on an MPSC queue, are
** turned into primitives that a backend (uring.c, fallback.c) runs, and
** finish with exactly one callback each. Timers live in a heap; the
** thread's wait uses the earliest deadline as its timeout. docs/io.md.
*/
#include "io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define RETRY_NS 10000000ull /* EMFILE & co.: retry accept after 10 ms */
#define CHUNK_MAX (1u << 30) /* largest single read/write */
#define RXM_MAX (64u * 1024) /* a multishot receive stops at this many buffered bytes */
#define TAKE_BATCH 4096      /* requests taken per loop turn */

/* ---- Small helpers ---------------------------------------------------- */

uint64_t hk_io_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Relaxed increments of counters only the I/O thread writes: readers only
** need each value to be untorn. */
static void bump(_Atomic uint64_t *c, int64_t d) {
  uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
  atomic_store_explicit(c, v + (uint64_t)d, memory_order_relaxed);
}

static void oom(void) {
  fputs("hiko: out of memory in the I/O thread\n", stderr);
  exit(70);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == NULL && n != 0) oom();
  return q;
}

static void reqq_push(hk_reqq_t *q, hk_io_req_t *r) {
  r->link = NULL;
  if (q->tail) q->tail->link = r;
  else q->head = r;
  q->tail = r;
}

static void reqq_push_front(hk_reqq_t *q, hk_io_req_t *r) {
  r->link = q->head;
  q->head = r;
  if (!q->tail) q->tail = r;
}

static hk_io_req_t *reqq_pop(hk_reqq_t *q) {
  hk_io_req_t *r = q->head;
  if (r) {
    q->head = r->link;
    if (!q->head) q->tail = NULL;
    r->link = NULL;
  }
  return r;
}

static bool reqq_remove(hk_reqq_t *q, hk_io_req_t *r) {
  hk_io_req_t *prev = NULL;
  for (hk_io_req_t *x = q->head; x; prev = x, x = x->link) {
    if (x != r) continue;
    if (prev) prev->link = x->link;
    else q->head = x->link;
    if (q->tail == x) q->tail = prev;
    x->link = NULL;
    return true;
  }
  return false;
}

/* ---- Request recycling ------------------------------------------------
** Requests are allocated by submitters and freed by the I/O thread. With
** plain malloc/free that cross-thread traffic made glibc trim and regrow
** its heap all the time (page faults were most of the cost at ~0.4 M
** requests/s). So freed requests go to a process-wide stack, up to
** POOL_CAP of them: pushed one by one by I/O threads (CAS), taken all at
** once by a submitter (exchange with NULL) into its thread-local cache.
** Push plus take-all has no ABA problem: no one pops a single node.
** Disabled under AddressSanitizer so it still sees use-after-free. */

#define POOL_CAP 16384

#if !defined(__SANITIZE_ADDRESS__)

typedef struct req_cache {
  hk_io_req_t *head;
  bool registered;
} req_cache_t;

static _Atomic(hk_io_req_t *) pool_head;
static _Atomic size_t pool_count; /* approximate: bounds the stack only */
static _Thread_local req_cache_t cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_release(void *arg) {
  req_cache_t *c = arg;
  for (hk_io_req_t *r = c->head, *next; r; r = next) {
    next = r->link;
    free(r);
  }
  c->head = NULL;
}

static void cache_key_init(void) { pthread_key_create(&cache_key, cache_release); }

static hk_io_req_t *req_alloc(void) {
  if (!cache.head) {
    /* Acquire: pairs with the release CAS in req_recycle, so the I/O
    ** thread's last writes to these requests happen before our reuse. */
    cache.head = atomic_exchange_explicit(&pool_head, NULL, memory_order_acquire);
    size_t n = 0;
    for (hk_io_req_t *r = cache.head; r; r = r->link) n++;
    /* Relaxed: the count only bounds the stack, nothing is published. */
    if (n) atomic_fetch_sub_explicit(&pool_count, n, memory_order_relaxed);
    if (cache.head && !cache.registered) {
      pthread_once(&cache_once, cache_key_init);
      pthread_setspecific(cache_key, &cache);
      cache.registered = true;
    }
  }
  hk_io_req_t *r = cache.head;
  if (r) {
    cache.head = r->link;
    memset(r, 0, HK_REQ_ZERO); /* the rest is written before use */
    return r;
  }
  return calloc(1, sizeof(hk_io_req_t));
}

static void req_recycle(hk_io_req_t *r) {
  if (atomic_load_explicit(&pool_count, memory_order_relaxed) < POOL_CAP) {
    atomic_fetch_add_explicit(&pool_count, 1, memory_order_relaxed);
    hk_io_req_t *h = atomic_load_explicit(&pool_head, memory_order_relaxed);
    do {
      r->link = h;
      /* Release: publishes r's contents to the submitter that takes it
      ** (acquire exchange in req_alloc). */
    } while (!atomic_compare_exchange_weak_explicit(
        &pool_head, &h, r, memory_order_release, memory_order_relaxed));
    return;
  }
  free(r);
}
#else
static hk_io_req_t *req_alloc(void) { return calloc(1, sizeof(hk_io_req_t)); }
static void req_recycle(hk_io_req_t *r) { free(r); }
#endif

static void req_free(hk_io_req_t *r) {
  /* Tested first: a socket request has none of them, and each free(NULL)
  ** is still a call into libc (bench/README.md, "Echo hand-offs, stop
  ** 18"). */
  if (r->path) free(r->path);
  if (r->data) free(r->data);
  if (r->buf) free(r->buf);
  if (r->addrs) free(r->addrs);
  req_recycle(r);
}

void hk_io_req_free(hk_io_req_t *r) { req_free(r); }

hk_io_req_t *hk_io_req_alloc(void) { return req_alloc(); }

/* ---- Token map: open addressing, linear probing, backward shift ------ */

static size_t slot_of(uint64_t token, size_t cap) {
  return (size_t)((token * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static void map_put(hk_io_t *io, hk_io_req_t *r);

static void map_grow(hk_io_t *io) {
  hk_io_req_t **old = io->map;
  size_t oldcap = io->mapcap;
  io->mapcap = oldcap ? oldcap * 2 : 1024;
  io->map = calloc(io->mapcap, sizeof *io->map);
  if (!io->map) oom();
  io->mapn = 0;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i]) map_put(io, old[i]);
  free(old);
}

static void map_put(hk_io_t *io, hk_io_req_t *r) {
  if ((io->mapn + 1) * 2 > io->mapcap) map_grow(io);
  size_t i = slot_of(r->token, io->mapcap);
  while (io->map[i]) i = (i + 1) & (io->mapcap - 1);
  io->map[i] = r;
  io->mapn++;
}

static size_t map_find(hk_io_t *io, uint64_t token) {
  if (io->mapcap == 0) return SIZE_MAX;
  size_t i = slot_of(token, io->mapcap);
  while (io->map[i]) {
    if (io->map[i]->token == token) return i;
    i = (i + 1) & (io->mapcap - 1);
  }
  return SIZE_MAX;
}

static hk_io_req_t *map_get(hk_io_t *io, uint64_t token) {
  size_t i = map_find(io, token);
  return i == SIZE_MAX ? NULL : io->map[i];
}

static void map_del(hk_io_t *io, uint64_t token) {
  size_t i = map_find(io, token), mask = io->mapcap - 1;
  if (i == SIZE_MAX) return;
  io->map[i] = NULL;
  io->mapn--;
  for (size_t j = (i + 1) & mask; io->map[j]; j = (j + 1) & mask) {
    size_t k = slot_of(io->map[j]->token, io->mapcap);
    /* Move j into the hole at i unless its home k lies cyclically in
    ** (i, j]. */
    bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
    if (stays) continue;
    io->map[i] = io->map[j];
    io->map[j] = NULL;
    i = j;
  }
}

/* ---- Timer heap, ordered by (deadline, token) ------------------------- */

static bool heap_less(const hk_io_req_t *a, const hk_io_req_t *b) {
  return a->deadline < b->deadline ||
         (a->deadline == b->deadline && a->token < b->token);
}

static void heap_set(hk_io_t *io, size_t i, hk_io_req_t *r) {
  io->heap[i] = r;
  r->heap_idx = i + 1;
}

static void heap_up(hk_io_t *io, size_t i) {
  hk_io_req_t *r = io->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(r, io->heap[p])) break;
    heap_set(io, i, io->heap[p]);
    i = p;
  }
  heap_set(io, i, r);
}

static void heap_down(hk_io_t *io, size_t i) {
  hk_io_req_t *r = io->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= io->heapn) break;
    if (c + 1 < io->heapn && heap_less(io->heap[c + 1], io->heap[c])) c++;
    if (!heap_less(io->heap[c], r)) break;
    heap_set(io, i, io->heap[c]);
    i = c;
  }
  heap_set(io, i, r);
}

static void heap_push(hk_io_t *io, hk_io_req_t *r) {
  if (io->heapn == io->heapcap) {
    io->heapcap = io->heapcap ? io->heapcap * 2 : 256;
    io->heap = xrealloc(io->heap, io->heapcap * sizeof *io->heap);
  }
  io->heap[io->heapn++] = r;
  heap_up(io, io->heapn - 1);
}

static void heap_remove(hk_io_t *io, hk_io_req_t *r) {
  size_t i = r->heap_idx - 1;
  r->heap_idx = 0;
  hk_io_req_t *last = io->heap[--io->heapn];
  if (i == io->heapn) return;
  heap_set(io, i, last);
  heap_up(io, i);
  heap_down(io, last->heap_idx - 1);
}

/* ---- Primitives and completions -------------------------------------- */

void hk_io_prim_start(hk_io_t *io, hk_prim_t *p) {
  p->busy = true;
  p->cancelled = false;
  io->busy++;
  io->ops->start(io, p);
}

void hk_io_prim_cancel(hk_io_t *io, hk_prim_t *p) {
  if (!p->busy || p->cancelled) return;
  p->cancelled = true;
  io->ops->cancel(io, p);
}

void hk_io_prim_done(hk_io_t *io, hk_prim_t *p, int res) {
  p->busy = false;
  io->busy--;
  p->done(io, p, res);
}

void hk_io_prim_more(hk_io_t *io, hk_prim_t *p, const char *data, size_t n) {
  p->more(io, p, data, n);
}

/* The request stops counting as pending (SPEC §10.8). */
static void finish(hk_io_t *io, hk_io_req_t *r) {
  if (r->finished) return;
  r->finished = true;
  bump(&io->c_finished, 1);
  bump(&io->c_pending, -1);
}

/* Report [r]'s one completion and free it. Takes [data]. */
static void deliver_full(hk_io_t *io, hk_io_req_t *r, int64_t res,
                         char *data, size_t len, uint32_t flags,
                         const char *msg) {
  finish(io, r);
  map_del(io, r->token);
  if (r->cancelled && res >= 0 && r->kind != HK_IO_CLOSE) res = -ECANCELED;
  if (res < 0) {
    if (!(flags & HK_IO_F_BORROWED)) free(data);
    data = NULL;
    len = 0;
    flags &= ~HK_IO_F_BORROWED;
  }
  hk_io_completion_t c = {.token = r->token, .ctx = r->ctx,
                          .op = (hk_io_op_t)r->kind, .flags = flags,
                          .result = res, .data = data, .len = len,
                          .msg = msg};
  /* Uncount before the callback, so the process it wakes finds the
  ** socket free for its next operation. Release: pairs with a claim's
  ** acquire CAS; everything this thread did on the socket for [r]
  ** happens before the claimer's system call. */
  if (r->fast)
    atomic_fetch_sub_explicit(&r->fast->w[r->fdir], HK_FAST_UNIT,
                              memory_order_release);
  io->callback(io->user, &c);
  bump(&io->c_completed, 1);
  bump(&io->c_epoch, 1);
  req_free(r);
}

static void deliver(hk_io_t *io, hk_io_req_t *r, int64_t res) {
  deliver_full(io, r, res, NULL, 0, 0, NULL);
}

/* A copy of [len] bytes of [s] plus a NUL. */
static char *dup_bytes(const char *s, size_t len) {
  char *d = malloc(len + 1);
  if (!d) oom();
  if (len) memcpy(d, s, len);
  d[len] = 0;
  return d;
}

static bool transient(int res) { return res == -EINTR || res == -EAGAIN; }

/* ---- Files: read whole, write whole ----------------------------------- */

static void file_read_next(hk_io_t *io, hk_io_req_t *r);
static void file_write_next(hk_io_t *io, hk_io_req_t *r);

static void file_closed(hk_io_t *io, hk_prim_t *p, int res) {
  hk_io_req_t *r = p->owner;
  if (r->error < 0) res = (int)r->error;
  if (res < 0 || r->kind == HK_IO_WRITE_FILE) {
    deliver(io, r, res < 0 ? res : 0);
    return;
  }
  char *buf = r->buf;
  size_t len = r->off;
  r->buf = NULL;
  if (!buf) buf = dup_bytes("", 0);
  buf[len] = 0;
  deliver_full(io, r, (int64_t)len, buf, len, 0, NULL);
}

/* Close the file through the backend, then report [err] (or success). */
static void file_close_then(hk_io_t *io, hk_io_req_t *r, int64_t err) {
  r->error = err;
  hk_prim_t *p = &r->prim;
  p->kind = HK_PRIM_CLOSE;
  p->fd = r->fd;
  p->done = file_closed;
  r->fd = -1;
  hk_io_prim_start(io, p);
}

/* After a cancel: close synchronously (no one waits) and report. */
static void file_abort(hk_io_t *io, hk_io_req_t *r) {
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
  deliver(io, r, -ECANCELED);
}

static void file_data(hk_io_t *io, hk_prim_t *p, int res) {
  hk_io_req_t *r = p->owner;
  if (r->cancelled) { file_abort(io, r); return; }
  if (res < 0 && !transient(res)) { file_close_then(io, r, res); return; }
  if (r->kind == HK_IO_READ_FILE) {
    if (res == 0) { file_close_then(io, r, 0); return; }
    if (res > 0) r->off += (size_t)res;
    { file_read_next(io, r); return; }
  }
  if (res == 0) { file_close_then(io, r, -EIO); return; }
  if (res > 0) r->off += (size_t)res;
  file_write_next(io, r);
}

static void file_read_next(hk_io_t *io, hk_io_req_t *r) {
  if (r->off > HK_IO_FILE_MAX) { file_close_then(io, r, -EFBIG); return; }
  if (r->cap - r->off < 2) {
    size_t cap = r->cap ? r->cap * 2 : 64 * 1024;
    r->buf = realloc(r->buf, cap + 1);
    if (!r->buf) { file_close_then(io, r, -ENOMEM); return; }
    r->cap = cap;
  }
  hk_prim_t *p = &r->prim;
  size_t room = r->cap - r->off;
  p->kind = HK_PRIM_READ;
  p->fd = r->fd;
  p->buf = r->buf + r->off;
  p->len = room > CHUNK_MAX ? CHUNK_MAX : room;
  p->offset = (int64_t)r->off;
  p->done = file_data;
  hk_io_prim_start(io, p);
}

static void file_write_next(hk_io_t *io, hk_io_req_t *r) {
  if (r->off >= r->len) { file_close_then(io, r, 0); return; }
  hk_prim_t *p = &r->prim;
  size_t left = r->len - r->off;
  p->kind = HK_PRIM_WRITE;
  p->fd = r->fd;
  p->buf = r->data + r->off;
  p->len = left > CHUNK_MAX ? CHUNK_MAX : left;
  p->offset = (int64_t)r->off;
  p->done = file_data;
  hk_io_prim_start(io, p);
}

static void file_opened(hk_io_t *io, hk_prim_t *p, int res) {
  hk_io_req_t *r = p->owner;
  if (r->cancelled) {
    if (res >= 0) close(res);
    { deliver(io, r, -ECANCELED); return; }
  }
  if (res == -EXDEV && io->fsroot) res = HK_IO_EOUTSIDE;
  if (res < 0) { deliver(io, r, res); return; }
  r->fd = res;
  if (r->kind == HK_IO_READ_FILE) file_read_next(io, r);
  else file_write_next(io, r);
}

static void file_begin(hk_io_t *io, hk_io_req_t *r) {
  hk_prim_t *p = &r->prim;
  memset(&p->how, 0, sizeof p->how);
  p->how.flags = O_CLOEXEC | (r->kind == HK_IO_READ_FILE
                                  ? O_RDONLY
                                  : O_WRONLY | O_CREAT | O_TRUNC);
  p->how.mode = r->kind == HK_IO_READ_FILE ? 0 : 0666;
  p->kind = HK_PRIM_OPEN;
  p->fd = AT_FDCWD;
  p->buf = r->path;
  if (io->fsroot) {
    const char *rel = hk_fsroot_relative(io->fsroot, r->path);
    if (!rel) { deliver(io, r, HK_IO_EOUTSIDE); return; }
    p->fd = hk_fsroot_fd(io->fsroot);
    p->buf = (void *)rel;
    p->how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  }
  p->done = file_opened;
  hk_io_prim_start(io, p);
}

/* The runtime gave [r] up: its cancel may still wait in the request queue
** (hk_io_config_t.abandoned). */
static bool abandoned(hk_io_t *io, hk_io_req_t *r) {
  return io->abandoned && !r->cancelled && io->abandoned(io->user, r->ctx);
}

/* ---- Standard input: one buffer, requests served in order ------------- */

static void stdin_pump(hk_io_t *io);

static void stdin_done(hk_io_t *io, hk_prim_t *p, int res) {
  (void)p;
  if (res > 0) io->inlen += (size_t)res;
  else if (res == 0) io->ineof = true;
  else if (!transient(res) && res != -ECANCELED && io->lines.head)
    deliver(io, reqq_pop(&io->lines), res);
  if (!io->draining) stdin_pump(io);
}

/* Hand the first line (or EOF) to the oldest request; false if neither is
** buffered yet. Unread input is inbuf[inoff, inlen); inscan marks how far
** it is known to hold no newline. */
static bool stdin_serve(hk_io_t *io) {
  size_t from = io->inscan > io->inoff ? io->inscan : io->inoff;
  char *start = io->inbuf + io->inoff;
  char *nl = io->inlen > from
                 ? memchr(io->inbuf + from, '\n', io->inlen - from)
                 : NULL;
  size_t take, len;
  uint32_t flags = 0;
  if (nl) {
    len = (size_t)(nl - start);
    take = len + 1;
  } else if (io->ineof) {
    len = take = io->inlen - io->inoff;
    io->ineof = len > 0; /* a last unterminated line, then EOF */
    if (len == 0) flags = HK_IO_F_EOF;
  } else {
    io->inscan = io->inlen;
    return false;
  }
  char *line = dup_bytes(start, len);
  io->inoff += take;
  /* A read in flight writes at inlen: rewind only when none is. */
  if (io->inoff == io->inlen && !io->in.busy) io->inoff = io->inlen = 0;
  io->inscan = io->inoff;
  deliver_full(io, reqq_pop(&io->lines), (int64_t)len, line, len, flags, NULL);
  return true;
}

/* Completes the oldest line requests whose requesters gave them up: a
** cancel pushed before a line arrived may still wait in the queue behind
** the read's completion, and the line must not go to it. */
static void stdin_skip_abandoned(hk_io_t *io) {
  hk_io_req_t *r;
  while ((r = io->lines.head) && abandoned(io, r)) {
    reqq_pop(&io->lines);
    r->cancelled = true;
    deliver(io, r, -ECANCELED);
  }
}

static void stdin_pump(hk_io_t *io) {
  for (;;) {
    stdin_skip_abandoned(io);
    if (!io->lines.head) return;
    if (stdin_serve(io)) continue;
    if (io->in.busy) return;
    /* Compact: only a partial line is left, moved once per read. */
    if (io->inoff > 0) {
      memmove(io->inbuf, io->inbuf + io->inoff, io->inlen - io->inoff);
      io->inlen -= io->inoff;
      io->inscan -= io->inoff;
      io->inoff = 0;
    }
    if (io->incap - io->inlen < 4096) {
      io->incap = io->incap ? io->incap * 2 : 64 * 1024;
      io->inbuf = xrealloc(io->inbuf, io->incap);
    }
    hk_prim_t *p = &io->in;
    p->kind = HK_PRIM_READ;
    p->fd = io->stdin_fd;
    p->buf = io->inbuf + io->inlen;
    p->len = io->incap - io->inlen;
    p->offset = -1;
    p->done = stdin_done;
    hk_io_prim_start(io, p);
    return;
  }
}

/* ---- Sockets ---------------------------------------------------------- */

static void close_maybe_finish(hk_io_t *io, hk_sockio_t *s);
static void recv_pump(hk_io_t *io, hk_sockio_t *s);
static void send_pump(hk_io_t *io, hk_sockio_t *s);
static void accept_pump(hk_io_t *io, hk_sockio_t *s);

/* The I/O thread's state of socket [id], created from the table on first
** use; NULL if unknown or closed ([closing] also accepts a socket whose
** close was requested). */
static hk_sockio_t *sio_get(hk_io_t *io, int64_t id, bool closing) {
  if (id <= 0) return NULL;
  if ((size_t)id < io->siocap && io->sio[id]) return io->sio[id];
  int fd;
  hk_sockfast_t *fast;
  int st = hk_io_sock_lookup(io, id, &fd, &fast);
  if (st == HK_SOCK_CLOSED || (st == HK_SOCK_CLOSING && !closing))
    return NULL;
  if ((size_t)id >= io->siocap) {
    size_t cap = io->siocap ? io->siocap : 64;
    while (cap <= (size_t)id) cap *= 2;
    io->sio = xrealloc(io->sio, cap * sizeof *io->sio);
    memset(io->sio + io->siocap, 0, (cap - io->siocap) * sizeof *io->sio);
    io->siocap = cap;
  }
  hk_sockio_t *s = calloc(1, sizeof *s);
  if (!s) oom();
  s->id = id;
  s->fd = fd;
  s->spare = -1;
  s->fast = fast;
  s->rx.owner = s;
  io->sio[id] = s;
  return s;
}

/* After a primitive on [s] finished: finish a close, or serve more. */
static void sock_after(hk_io_t *io, hk_sockio_t *s) {
  if (s->closing) { close_maybe_finish(io, s); return; }
  accept_pump(io, s);
  send_pump(io, s);
  recv_pump(io, s);
}

/* accept */

/* [fd] accepted for [r]: a socket of r's owner. */
static void accept_give(hk_io_t *io, hk_sockio_t *s, hk_io_req_t *r, int fd) {
  hk_io_sock_nodelay(fd);
  int64_t id = hk_io_sock_register(io, fd, r->owner);
  reqq_remove(&s->accepts, r);
  deliver(io, r, id);
}

static void accept_done(hk_io_t *io, hk_prim_t *p, int res) {
  hk_io_req_t *r = p->owner;
  hk_sockio_t *s = r->sio;
  s->busy--;
  if (res >= 0 && !s->closing && (r->cancelled || abandoned(io, r))) {
    /* Accepted for a request given up (cancelled while in flight, or its
    ** cancel still queued): it takes no connection (SPEC §7.6); the
    ** connection waits for the next accept, served by the pump below. */
    s->spare = res;
    r->cancelled = true;
    reqq_remove(&s->accepts, r);
    deliver(io, r, -ECANCELED);
  } else if (r->cancelled || s->closing) {
    if (res >= 0) close(res);
    reqq_remove(&s->accepts, r);
    deliver(io, r, r->cancelled ? -ECANCELED : HK_IO_ECLOSED);
  } else if (res >= 0) {
    accept_give(io, s, r, res);
  } else if (res == -ECONNABORTED || res == -EPROTO || transient(res)) {
    /* retried at once by the pump below */
  } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS ||
             res == -ENOMEM) {
    bump(&io->c_retries, 1);
    r->retry_timer = true;
    r->deadline = hk_io_now_ns() + RETRY_NS;
    heap_push(io, r);
  } else {
    /* A listener being closed stopped listening at once (sock.c,
    ** begin_close): its accepts fail with EINVAL before our part of the
    ** close arrives. */
    int fd;
    if (res == -EINVAL && hk_io_sock_lookup(io, s->id, &fd, NULL) != HK_SOCK_OPEN)
      res = HK_IO_ECLOSED;
    reqq_remove(&s->accepts, r);
    deliver(io, r, res);
  }
  sock_after(io, s);
}

/* Serve the oldest accept: skip those given up, hand it the spare
** connection if there is one, else start its accept. Only the head's
** accept is ever in flight, so the spare is taken before the next. */
static void accept_pump(hk_io_t *io, hk_sockio_t *s) {
  hk_io_req_t *r;
  while ((r = s->accepts.head) && !r->prim.busy && !s->closing) {
    bool gone = abandoned(io, r);
    if (!gone && s->spare < 0) break;
    if (r->heap_idx) heap_remove(io, r); /* a retry timer */
    r->retry_timer = false;
    if (gone) {
      r->cancelled = true;
      reqq_remove(&s->accepts, r);
      deliver(io, r, -ECANCELED);
      continue;
    }
    int fd = s->spare;
    s->spare = -1;
    accept_give(io, s, r, fd);
  }
  if (!r || r->prim.busy || r->retry_timer || s->closing) return;
  hk_prim_t *p = &r->prim;
  p->kind = HK_PRIM_ACCEPT;
  p->fd = s->fd;
  p->flags = SOCK_CLOEXEC | io->sock_type_flags;
  p->done = accept_done;
  s->busy++;
  hk_io_prim_start(io, p);
}

/* send */

static void send_done(hk_io_t *io, hk_prim_t *p, int res) {
  hk_io_req_t *r = p->owner;
  hk_sockio_t *s = r->sio;
  s->busy--;
  if (r->cancelled || s->closing || (res < 0 && !transient(res))) {
    reqq_remove(&s->sends, r);
    deliver(io, r, r->cancelled ? -ECANCELED
                   : s->closing ? HK_IO_ECLOSED : res);
  } else if (res > 0) {
    r->off += (size_t)res;
  }
  sock_after(io, s);
}

static void send_pump(hk_io_t *io, hk_sockio_t *s) {
  hk_io_req_t *r;
  if (s->held[HK_FAST_SEND]) return;
  while ((r = s->sends.head) && !r->prim.busy && !s->closing) {
    if (r->off >= r->len) {
      reqq_pop(&s->sends);
      /* Relaxed: a hint (hk_sockfast_t.sent). */
      if (s->fast) atomic_store_explicit(&s->fast->sent, 1, memory_order_relaxed);
      deliver(io, r, (int64_t)r->len + r->n); /* n: sent on the worker */
      continue;
    }
    hk_prim_t *p = &r->prim;
    size_t left = r->len - r->off;
    p->kind = HK_PRIM_SEND;
    p->fd = s->fd;
    p->buf = r->data + r->off;
    p->len = left > CHUNK_MAX ? CHUNK_MAX : left;
    p->flags = MSG_NOSIGNAL;
    p->done = send_done;
    s->busy++;
    hk_io_prim_start(io, p);
    return;
  }
}

/* recv */

/* The receive state (bytes buffered, a receive in flight, a latched
** error) holds a unit of w[RECV] while it is not empty, so no claim reads
** the socket past it. Taken only while a request is counted (so never
** concurrently with a claim); given back when the state empties. */
static void rx_unit_take(hk_sockio_t *s) {
  if (s->rx_unit || !s->fast) return;
  s->rx_unit = true;
  /* Relaxed: the count is already non-zero (a request's unit). */
  atomic_fetch_add_explicit(&s->fast->w[HK_FAST_RECV], HK_FAST_UNIT,
                            memory_order_relaxed);
}

static void rx_unit_give(hk_sockio_t *s) {
  if (!s->rx_unit || s->closing || s->rx.busy || s->rxlen || s->rxerr) return;
  s->rx_unit = false;
  /* Release: pairs with a claim's acquire CAS (see deliver_full). */
  atomic_fetch_sub_explicit(&s->fast->w[HK_FAST_RECV], HK_FAST_UNIT,
                            memory_order_release);
}

/* hk_sockfast_t.rx_idle: 1 while [s]'s receive state is an armed
** multishot receive with nothing buffered, latched or cancelled, so that
** only its next completion (which wakes this thread by itself) can serve a
** receive. Stored only when it changes; seq_cst, and a clear is followed
** by a full fence: a submitter pushes its receive, then (full fence) loads
** the flag, and skips the wake-up only if it reads 1. If that 1 was
** overwritten by a clear later in the total order, this thread's next look
** at the queue (take_requests, the sleep check: seq_cst, always before it
** waits again) comes after the push and finds the receive; otherwise the
** state is still idle and the arrival's completion wakes us. */
static void rx_idle_store(hk_sockio_t *s, bool idle) {
  if (s->rx_idle == idle || !s->fast) return;
  s->rx_idle = idle;
  atomic_store_explicit(&s->fast->rx_idle, idle, memory_order_seq_cst);
  if (!idle) HK_IO_FULL_FENCE();
}

static void rx_idle_update(hk_sockio_t *s) {
  rx_idle_store(s, !s->closing && s->rx.busy &&
                       s->rx.kind == HK_PRIM_RECV_MULTI && !s->rx.cancelled &&
                       s->rxlen == 0 && !s->eof && !s->rxerr &&
                       !s->held[HK_FAST_RECV]);
}

/* Append [n] received bytes to [s]'s buffer (no single receive is in
** flight into it: only a multishot's bytes are appended). */
static void rx_append(hk_sockio_t *s, const char *d, size_t n) {
  if (s->rxoff > 0 && s->rxcap - s->rxoff - s->rxlen < n) {
    memmove(s->rxbuf, s->rxbuf + s->rxoff, s->rxlen);
    s->rxoff = 0;
  }
  if (s->rxcap - s->rxoff - s->rxlen < n) {
    s->rxcap = s->rxoff + s->rxlen + (n < 256 ? 256 : n);
    s->rxbuf = xrealloc(s->rxbuf, s->rxcap);
  }
  memcpy(s->rxbuf + s->rxoff + s->rxlen, d, n);
  s->rxlen += n;
}

/* Bytes of the socket's multishot receive: buffered, then served. A
** socket whose buffer reached RXM_MAX stops its multishot (the peer is
** then held back by the kernel's buffers, as with single receives). */
static void rxm_more(hk_io_t *io, hk_prim_t *p, const char *d, size_t n) {
  hk_sockio_t *s = p->owner;
  rx_idle_store(s, false); /* before anything can serve a receive */
  if (s->closing || n == 0) return; /* a closing socket's bytes are dropped */
  s->rxm_got = true;
  rx_append(s, d, n);
  if (s->rxlen >= RXM_MAX) hk_io_prim_cancel(io, p);
  recv_pump(io, s);
}

static void rxm_done(hk_io_t *io, hk_prim_t *p, int res) {
  hk_sockio_t *s = p->owner;
  rx_idle_store(s, false);
  s->busy--;
  if (res == -EINVAL && !s->rxm_got) {
    io->multishot = false; /* the kernel refused it: single receives */
  } else if (res == 0) {
    s->eof = true;
  } else if (res < 0 && !transient(res) && res != -ECANCELED && res != -ENOBUFS) {
    s->rxerr = res;
  }
  /* res > 0: the final completion carried bytes (given to rxm_more);
  ** -ENOBUFS: the provided buffers ran out; the pump starts anew. */
  s->rxm_got = false;
  sock_after(io, s);
}

static void rx_done(hk_io_t *io, hk_prim_t *p, int res) {
  hk_sockio_t *s = p->owner;
  s->busy--;
  if (res == -EINVAL && p->poll_first && !io->no_poll_first) {
    io->no_poll_first = true; /* a kernel before 5.19: plain receives */
    res = -EAGAIN;            /* started again by the pump below */
  }
  if (res > 0) s->rxlen += (size_t)res;
  else if (res == 0) s->eof = true;
  else if (!transient(res) && res != -ECANCELED) s->rxerr = res;
  sock_after(io, s);
}

/* Unread received bytes are rxbuf[rxoff, rxoff + rxlen); a receive in
** flight writes at rxoff + rxlen, so rxoff moves back to 0 only when none
** is (consuming keeps rxoff + rxlen fixed). */
static void rx_consume(hk_sockio_t *s, size_t k) {
  s->rxoff += k;
  s->rxlen -= k;
  if (s->rxlen == 0 && (!s->rx.busy || s->rx.kind == HK_PRIM_RECV_MULTI))
    s->rxoff = 0;
}

/* Serve [r] from the buffered bytes; false if it needs more data. */
static bool recv_serve(hk_io_t *io, hk_sockio_t *s, hk_io_req_t *r) {
  if (s->rxlen == 0) {
    if (!s->eof) return false;
    reqq_pop(&s->recvs);
    rx_unit_give(s);
    deliver_full(io, r, 0, dup_bytes("", 0), 0, HK_IO_F_EOF, NULL);
    return true;
  }
  const char *d = s->rxbuf + s->rxoff;
  size_t k = (size_t)r->n < s->rxlen ? (size_t)r->n : s->rxlen;
  char *out;
  size_t outlen;
  uint32_t flags = 0;
  if (r->kind == HK_IO_RECV && io->recv_borrow) {
    /* The bytes stay in rxbuf until this thread appends again, which it
    ** cannot do during the callback. */
    out = (char *)d;
    outlen = k;
    flags = HK_IO_F_BORROWED;
  } else if (r->kind == HK_IO_RECV) {
    out = dup_bytes(d, k);
    outlen = k;
  } else {
    k = hk_io_utf8_complete(d, k);
    if (k == 0) k = hk_io_utf8_first(d, s->rxlen);
    if (k == 0 && !s->eof && !s->rxerr) return false;
    if (k == 0) k = s->rxlen;
    out = hk_io_utf8_sanitize(d, k, &outlen);
    if (!out) oom();
  }
  rx_consume(s, k);
  reqq_pop(&s->recvs);
  rx_unit_give(s);
  deliver_full(io, r, (int64_t)outlen, out, outlen, flags, NULL);
  return true;
}

/* Start [s]'s receive primitive (it holds a unit of w[RECV] while busy). */
static void rx_start(hk_io_t *io, hk_sockio_t *s, hk_prim_kind_t kind, void *buf,
                     size_t len, bool poll_first, hk_prim_fn done) {
  hk_prim_t *p = &s->rx;
  p->kind = kind;
  p->fd = s->fd;
  p->buf = buf;
  p->len = len;
  p->flags = 0;
  p->poll_first = poll_first;
  p->done = done;
  s->busy++;
  rx_unit_take(s);
  hk_io_prim_start(io, p);
}

static void recv_pump_(hk_io_t *io, hk_sockio_t *s);

static void recv_pump(hk_io_t *io, hk_sockio_t *s) {
  recv_pump_(io, s);
  rx_idle_update(s);
}

static void recv_pump_(hk_io_t *io, hk_sockio_t *s) {
  hk_io_req_t *r;
  if (s->held[HK_FAST_RECV]) return;
  while ((r = s->recvs.head) && !s->closing) {
    if (abandoned(io, r)) {
      /* Given up (its cancel is still queued): the bytes go to the next
      ** receive (as stdin_skip_abandoned). */
      reqq_pop(&s->recvs);
      r->cancelled = true;
      deliver(io, r, -ECANCELED);
      continue;
    }
    if (recv_serve(io, s, r)) continue;
    if (s->rx.busy) return;
    if (s->rxerr) {
      int64_t e = s->rxerr;
      s->rxerr = 0;
      reqq_pop(&s->recvs);
      rx_unit_give(s);
      deliver(io, r, e);
      continue;
    }
    hk_prim_t *p = &s->rx;
    if (s->rx_poll_first && io->multishot) {
      /* A receive after a send (request/response traffic): one
      ** multishot receive stays armed for the following ones, so they
      ** cost no submission and no new poll arming (docs/io.md). */
      s->rx_poll_first = false;
      p->more = rxm_more;
      rx_start(io, s, HK_PRIM_RECV_MULTI, NULL, 0, false, rxm_done);
      return;
    }
    size_t want = (size_t)r->n < 16 ? 16 : (size_t)r->n;
    if (s->rxoff > 0) { /* only a short remainder is ever moved */
      memmove(s->rxbuf, s->rxbuf + s->rxoff, s->rxlen);
      s->rxoff = 0;
    }
    if (s->rxcap - s->rxlen < want) {
      s->rxcap = s->rxlen + want;
      s->rxbuf = xrealloc(s->rxbuf, s->rxcap);
    }
    bool pf = s->rx_poll_first && !io->no_poll_first;
    s->rx_poll_first = false;
    rx_start(io, s, HK_PRIM_RECV, s->rxbuf + s->rxlen, s->rxcap - s->rxlen, pf, rx_done);
    return;
  }
  rx_unit_give(s);
}

/* close */

static void fail_queue(hk_io_t *io, hk_reqq_t *q) {
  hk_io_req_t *keep = NULL, *r;
  while ((r = reqq_pop(q))) {
    if (r->prim.busy) {
      keep = r; /* its done handler reports it */
      hk_io_prim_cancel(io, &r->prim);
      continue;
    }
    if (r->heap_idx) heap_remove(io, r);
    deliver(io, r, HK_IO_ECLOSED);
  }
  if (keep) reqq_push(q, keep);
}

static void close_begin(hk_io_t *io, hk_sockio_t *s) {
  if (!s->closing) {
    s->closing = true;
    rx_idle_store(s, false);
    for (int d = 0; d < 2 && s->fast; d++) {
      /* A unit kept forever: no claim after this. Acquire: pairs with
      ** the release of a claim that ended before; one still active
      ** (DIRECT) is waited for: its end pushes a RELEASE (it sees our
      ** unit) or a front request. */
      uint32_t old = atomic_fetch_add_explicit(&s->fast->w[d], HK_FAST_UNIT,
                                               memory_order_acquire);
      s->direct[d] = (old & HK_FAST_DIRECT) != 0;
    }
    fail_queue(io, &s->accepts);
    fail_queue(io, &s->sends);
    fail_queue(io, &s->recvs);
    hk_io_prim_cancel(io, &s->rx);
  }
  close_maybe_finish(io, s);
}

static void close_maybe_finish(hk_io_t *io, hk_sockio_t *s) {
  if (!s->closing || s->busy > 0 || s->direct[0] || s->direct[1]) return;
  hk_io_sock_closed(io, s->id); /* the table forgets fd first */
  close(s->fd);
  if (s->spare >= 0) close(s->spare); /* nobody accepted it */
  io->sio[s->id] = NULL;
  hk_io_req_t *r;
  while ((r = reqq_pop(&s->closers))) deliver(io, r, 0);
  free(s->rxbuf);
  free(s);
}

/* A claim of direction [d] ended (front request or RELEASE): start what
** waited for it. */
static void claim_ended(hk_io_t *io, hk_sockio_t *s, int d) {
  s->held[d] = false;
  s->direct[d] = false;
  sock_after(io, s);
}

/* A counted send/recv [r] reaches its socket [s] (fast.c's protocol). */
static void fast_arrive(hk_sockio_t *s, hk_io_req_t *r) {
  int d = r->fdir;
  if (r->front) {
    /* The claim's remainder: nothing of d was started since the claim
    ** (held), so it goes first. The claim ends here; our unit (r's)
    ** keeps others from claiming. Relaxed: only the bit changes. */
    atomic_fetch_and_explicit(&r->fast->w[d], ~HK_FAST_DIRECT,
                              memory_order_relaxed);
    s->held[d] = false;
    s->direct[d] = false;
    if (r->kind == HK_IO_SEND) return;
    if (r->len && !s->closing) { /* bytes the claimer already received */
      if (s->rxcap < r->len) {
        s->rxbuf = xrealloc(s->rxbuf, r->len);
        s->rxcap = r->len;
      }
      memcpy(s->rxbuf, r->data, r->len);
      s->rxoff = 0;
      s->rxlen = r->len;
      rx_unit_take(s);
    }
    free(r->data);
    r->data = NULL;
    r->len = 0;
    return;
  }
  /* Acquire: pairs with the claim's CAS; a DIRECT seen here belongs to a
  ** claim that ends with a RELEASE or a front request (it sees r's unit). */
  if (atomic_load_explicit(&r->fast->w[d], memory_order_acquire) & HK_FAST_DIRECT)
    s->held[d] = true;
}

/* HK_REQ_RELEASE for direction [d] of socket [id]: the bit says whether a
** claim is still active (a RELEASE may arrive after a later claim began;
** that one ends with its own RELEASE or front request). */
static void fast_release(hk_io_t *io, int64_t id, int d) {
  hk_sockio_t *s = id > 0 && (size_t)id < io->siocap ? io->sio[id] : NULL;
  if (!s || !s->fast) return;
  /* Acquire: pairs with the claimer's release fetch_sub. */
  if (atomic_load_explicit(&s->fast->w[d], memory_order_acquire) & HK_FAST_DIRECT)
    return;
  claim_ended(io, s, d);
}

/* Route a socket request to its socket. */
static void sock_request(hk_io_t *io, hk_io_req_t *r) {
  bool closing = r->kind == HK_IO_CLOSE || r->kind == HK_REQ_CLOSE_QUIET;
  hk_sockio_t *s = sio_get(io, r->sock, closing);
  if (s && r->fast && r->front && s->closing) {
    fast_arrive(s, r); /* ends the claim the close waits for */
    deliver(io, r, HK_IO_ECLOSED);
    close_maybe_finish(io, s);
    return;
  }
  if (!s && r->fast && r->front)
    atomic_fetch_and_explicit(&r->fast->w[r->fdir], ~HK_FAST_DIRECT,
                              memory_order_relaxed);
  if (!s || (s->closing && !closing)) {
    if (r->kind == HK_REQ_CLOSE_QUIET) { req_free(r); return; }
    { deliver(io, r, r->kind == HK_IO_CLOSE ? 0 : HK_IO_ECLOSED); return; }
  }
  r->sio = s;
  r->prim.owner = r;
  if (r->fast) fast_arrive(s, r);
  switch (r->kind) {
  case HK_IO_ACCEPT: reqq_push(&s->accepts, r); { accept_pump(io, s); return; }
  case HK_IO_SEND:
    if (r->front) reqq_push_front(&s->sends, r);
    else reqq_push(&s->sends, r);
    { send_pump(io, s); return; }
  case HK_IO_RECV:
  case HK_IO_RECV_TEXT:
    if (r->poll_first) s->rx_poll_first = true;
    else if (s->rx.busy && s->rx.kind == HK_PRIM_RECV_MULTI)
      hk_io_prim_cancel(io, &s->rx); /* no longer request/response */
    if (r->front) reqq_push_front(&s->recvs, r);
    else reqq_push(&s->recvs, r);
    { recv_pump(io, s); return; }
  case HK_IO_CLOSE: reqq_push(&s->closers, r); { close_begin(io, s); return; }
  default: req_free(r); { close_begin(io, s); return; }
  }
}

/* connect */

static void connect_try(hk_io_t *io, hk_io_req_t *r);

static void connect_done(hk_io_t *io, hk_prim_t *p, int res) {
  hk_io_req_t *r = p->owner;
  if (r->cancelled || io->draining) {
    close(r->fd);
    r->fd = -1;
    { deliver(io, r, -ECANCELED); return; }
  }
  if (res == 0) {
    hk_io_sock_nodelay(r->fd);
    int64_t id = hk_io_sock_register(io, r->fd, r->owner);
    r->fd = -1;
    { deliver(io, r, id); return; }
  }
  close(r->fd);
  r->fd = -1;
  r->error = res;
  connect_try(io, r);
}

static void connect_try(hk_io_t *io, hk_io_req_t *r) {
  while (r->addr_next < r->naddrs) {
    struct sockaddr_storage *a = &r->addrs[r->addr_next++];
    int fd = socket(a->ss_family,
                    SOCK_STREAM | SOCK_CLOEXEC | io->sock_type_flags, 0);
    if (fd < 0) {
      r->error = -errno;
      continue;
    }
    hk_prim_t *p = &r->prim;
    r->fd = fd;
    p->kind = HK_PRIM_CONNECT;
    p->fd = fd;
    p->addr = *a;
    p->addrlen = a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                          : sizeof(struct sockaddr_in);
    p->done = connect_done;
    { hk_io_prim_start(io, p); return; }
  }
  deliver(io, r, r->error < 0 ? r->error : -ECONNREFUSED);
}

static void connect_begin(hk_io_t *io, hk_io_req_t *r) {
  r->prim.owner = r;
  r->addrs = malloc(2 * sizeof *r->addrs);
  if (!r->addrs) oom();
  int n = hk_io_parse_host(r->path, r->port, false, r->addrs, &r->naddrs);
  if (n > 0) { connect_try(io, r); return; }
  int rc = hk_io_resolve_start(io, r);
  if (rc < 0) deliver(io, r, rc);
}

/* A resolver thread's answer for connect request [res->n]. */
static void resolved(hk_io_t *io, hk_io_req_t *res) {
  hk_io_req_t *r = map_get(io, (uint64_t)res->n);
  if (r && !r->cancelled && r->kind == HK_IO_CONNECT) {
    if (res->error < 0) {
      deliver_full(io, r, res->error, NULL, 0, 0, res->path);
    } else {
      free(r->addrs);
      r->addrs = res->addrs;
      r->naddrs = res->naddrs;
      res->addrs = NULL;
      connect_try(io, r);
    }
  }
  req_free(res);
}

/* ---- Cancel ------------------------------------------------------------ */

static void cancel_token(hk_io_t *io, uint64_t token) {
  hk_io_req_t *r = map_get(io, token);
  if (!r || r->cancelled) return;
  r->cancelled = true;
  finish(io, r); /* stops counting at the cancel (SPEC §10.8) */
  hk_sockio_t *s = r->sio;
  switch (r->kind) {
  case HK_IO_TIMER:
    heap_remove(io, r);
    { deliver(io, r, -ECANCELED); return; }
  case HK_IO_READ_LINE:
    reqq_remove(&io->lines, r);
    { deliver(io, r, -ECANCELED); return; }
  case HK_IO_CLOSE:
    reqq_remove(&s->closers, r);
    { deliver(io, r, -ECANCELED); return; }
  case HK_IO_RECV:
  case HK_IO_RECV_TEXT:
    reqq_remove(&s->recvs, r);
    deliver(io, r, -ECANCELED);
    { sock_after(io, s); return; }
  default: break;
  }
  if (r->prim.busy) { hk_io_prim_cancel(io, &r->prim); return; }
  /* Not in flight: queued behind another, resolving, or a retry timer. */
  if (r->heap_idx) heap_remove(io, r);
  if (s) reqq_remove(r->kind == HK_IO_SEND ? &s->sends : &s->accepts, r);
  r->retry_timer = false;
  deliver(io, r, -ECANCELED);
  if (s) sock_after(io, s);
}

/* ---- The loop ---------------------------------------------------------- */

static void handle(hk_io_t *io, hk_io_req_t *r) {
  if (r->kind >= HK_REQ_CANCEL) {
    if (r->kind == HK_REQ_CANCEL) {
      cancel_token(io, (uint64_t)r->n);
      req_free(r);
    } else if (r->kind == HK_REQ_RESOLVED) {
      resolved(io, r);
    } else if (r->kind == HK_REQ_RELEASE) {
      fast_release(io, r->sock, (int)r->n);
      req_free(r);
    } else {
      sock_request(io, r);
    }
    return;
  }
  bump(&io->c_taken, 1);
  bump(&io->c_pending, 1);
  map_put(io, r);
  r->prim.owner = r;
  if (io->draining) { deliver(io, r, -ECANCELED); return; }
  switch (r->kind) {
  case HK_IO_TIMER:
    /* Already due when taken (sleep 0-like): no heap round trip. Timers
    ** due earlier were fired at the start of this batch. */
    if (!io->now_ok) { /* the heap was empty when the batch began */
      io->now = hk_io_now_ns();
      io->now_ok = true;
    }
    if (r->deadline <= io->now) { deliver(io, r, 0); return; }
    heap_push(io, r);
    return;
  case HK_IO_READ_FILE:
  case HK_IO_WRITE_FILE: { file_begin(io, r); return; }
  case HK_IO_READ_LINE: reqq_push(&io->lines, r); { stdin_pump(io); return; }
  case HK_IO_CONNECT: { connect_begin(io, r); return; }
  default: { sock_request(io, r); return; }
  }
}

static void fire_timers(hk_io_t *io);

/* Take queued requests; true if the queue may still hold some. */
static bool take_requests(hk_io_t *io) {
  fire_timers(io); /* sets io->now */
  for (int i = 0; i < TAKE_BATCH; i++) {
    hk_mpsc_node_t *n = hk_mpsc_pop_consumer(&io->queue);
    if (n) {
      handle(io, (hk_io_req_t *)n);
      continue;
    }
    if (hk_mpsc_empty_consumer(&io->queue)) return false;
    sched_yield(); /* a producer is between its exchange and its link */
  }
  return true;
}

static void fire_timers(hk_io_t *io) {
  /* No timer, nothing to fire: no clock read (two per loop turn cost ~30
  ** instructions per echo round trip; bench/README.md, "Echo hand-offs,
  ** stop 18"). A timer taken in this batch reads it then (handle). */
  if (io->heapn == 0) {
    io->now_ok = false;
    return;
  }
  uint64_t now = io->now = hk_io_now_ns();
  io->now_ok = true;
  while (io->heapn && io->heap[0]->deadline <= now) {
    hk_io_req_t *r = io->heap[0];
    heap_remove(io, r);
    if (r->kind == HK_IO_ACCEPT) {
      r->retry_timer = false;
      accept_pump(io, r->sio);
    } else {
      deliver(io, r, 0);
    }
  }
}

static void begin_drain(hk_io_t *io) {
  io->draining = true;
  hk_io_resolve_abandon_all(io);
  size_t n = 0;
  uint64_t *tokens = malloc((io->mapn + 1) * sizeof *tokens);
  if (!tokens) oom();
  for (size_t i = 0; i < io->mapcap; i++)
    if (io->map[i]) tokens[n++] = io->map[i]->token;
  for (size_t i = 0; i < n; i++) cancel_token(io, tokens[i]);
  free(tokens);
  for (size_t id = 0; id < io->siocap; id++)
    if (io->sio[id]) close_begin(io, io->sio[id]);
  hk_io_prim_cancel(io, &io->in);
}

static int64_t next_timeout(hk_io_t *io) {
  if (io->heapn == 0) return -1;
  uint64_t now = hk_io_now_ns(), d = io->heap[0]->deadline;
  return d <= now ? 0 : (int64_t)(d - now);
}

static void batch_end(hk_io_t *io) {
  if (io->batch_end) io->batch_end(io->user);
}

static void loop(hk_io_t *io) {
  for (;;) {
    bool more = take_requests(io);
    fire_timers(io);
    /* Acquire: pairs with the seq_cst store in hk_io_free. */
    if (!io->draining &&
        atomic_load_explicit(&io->stopping, memory_order_acquire))
      begin_drain(io);
    batch_end(io); /* the completions of this round before we may sleep */
    if (io->draining && io->busy == 0) return;
    int64_t timeout = more ? 0 : next_timeout(io);
    /* Sleep hand-off, consumer side: store sleeping, full fence, load the
    ** queue head (seq_cst, in hk_mpsc_empty_consumer). Pairs with the
    ** producer's exchange, fence, load of sleeping in hk_io_push: at
    ** least one of the two sees the other's store, so either we see the
    ** request here or the producer sees sleeping == 1 and writes the
    ** eventfd. */
    atomic_store_explicit(&io->sleeping, 1, memory_order_seq_cst);
    HK_IO_FULL_FENCE();
    if (!hk_mpsc_empty_consumer(&io->queue) ||
        (!io->draining &&
         atomic_load_explicit(&io->stopping, memory_order_seq_cst)))
      timeout = 0;
    io->ops->wait(io, timeout);
    /* Relaxed: only this thread relies on its own value; a producer that
    ** reads a stale 1 merely writes the eventfd once too often. */
    atomic_store_explicit(&io->sleeping, 0, memory_order_relaxed);
    batch_end(io); /* the completions the wait dispatched */
  }
}

static void *io_main(void *arg) {
  hk_io_t *io = arg;
  int rc = -EINVAL;
  if (io->want != HK_IO_BACKEND_FALLBACK) {
    io->ops = &hk_io_uring_ops;
    rc = io->ops->init(io);
  }
  if (rc < 0 && io->want != HK_IO_BACKEND_URING) {
    io->ops = &hk_io_fallback_ops;
    io->sock_type_flags = SOCK_NONBLOCK;
    rc = io->ops->init(io);
  }
  io->start_error = rc;
  sem_post(&io->started);
  if (rc < 0) return NULL;
  loop(io);
  hk_io_sock_close_all(io);
  io->ops->fini(io);
  return NULL;
}

/* ---- Submission -------------------------------------------------------- */

void hk_io_wake(hk_io_t *io) {
  uint64_t one = 1;
  ssize_t n = write(io->wake_fd, &one, sizeof one);
  (void)n; /* EAGAIN: the counter is already non-zero, a wake is due */
}

/* Push [r]; then, unless [idle] (a socket's hk_sockfast_t) says its
** armed multishot receive will wake the I/O thread anyway, wake it if it
** sleeps. [r] may be gone once pushed. */
static void push_maybe_wake(hk_io_t *io, hk_io_req_t *r, hk_sockfast_t *idle) {
  hk_mpsc_push_mpsc(&io->queue, &r->qnode);
  /* Sleep hand-off, producer side: the seq_cst exchange in the push, a
  ** full fence, then load sleeping. Pairs with the store-fence-load in
  ** loop(). The exchange on sleeping makes one producer per sleep write
  ** the eventfd. The load of rx_idle is the same pattern against the
  ** I/O thread's clear of it (rx_idle_store). */
  HK_IO_FULL_FENCE();
  if (idle && atomic_load_explicit(&idle->rx_idle, memory_order_seq_cst))
    return;
  if (atomic_load_explicit(&io->sleeping, memory_order_seq_cst) &&
      atomic_exchange_explicit(&io->sleeping, 0, memory_order_seq_cst))
    hk_io_wake(io);
}

void hk_io_push(hk_io_t *io, hk_io_req_t *r) { push_maybe_wake(io, r, NULL); }

static hk_io_req_t *req_new(int kind, void *ctx) {
  hk_io_req_t *r = req_alloc();
  if (!r) return NULL;
  r->kind = kind;
  r->ctx = ctx;
  r->fd = -1;
  r->prim.owner = r;
  return r;
}

static int submit(hk_io_t *io, hk_io_req_t *r, hk_sockfast_t *idle,
                  uint64_t *token) {
  /* Acquire: pairs with the seq_cst store in hk_io_free. */
  if (atomic_load_explicit(&io->stopping, memory_order_acquire)) {
    req_free(r);
    return -ESHUTDOWN;
  }
  /* Relaxed: uniqueness needs only the atomicity of the increment. */
  r->token =
      atomic_fetch_add_explicit(&io->next_token, 1, memory_order_relaxed) + 1;
  if (token) *token = r->token;
  push_maybe_wake(io, r, idle);
  return 0;
}

int hk_io_submit(hk_io_t *io, hk_io_req_t *r, uint64_t *token) {
  return submit(io, r, NULL, token);
}

int hk_io_submit_recv(hk_io_t *io, hk_io_req_t *r, hk_sockfast_t *f,
                      uint64_t *token) {
  return submit(io, r, f, token);
}

int hk_io_timer(hk_io_t *io, int64_t ms, void *ctx, uint64_t *token) {
  if (ms < 0) return -EINVAL;
  hk_io_req_t *r = req_new(HK_IO_TIMER, ctx);
  if (!r) return -ENOMEM;
  uint64_t now = hk_io_now_ns();
  uint64_t span = (uint64_t)ms > (UINT64_MAX - now) / 1000000u
                      ? UINT64_MAX - now
                      : (uint64_t)ms * 1000000u;
  r->deadline = now + span;
  return hk_io_submit(io, r, token);
}

static int file_request(hk_io_t *io, int kind, const char *path,
                        const void *data, size_t len, void *ctx,
                        uint64_t *token) {
  if (!path) return -EINVAL;
  hk_io_req_t *r = req_new(kind, ctx);
  if (!r) return -ENOMEM;
  r->path = strdup(path);
  r->len = len;
  r->data = data || kind == HK_IO_WRITE_FILE ? malloc(len + 1) : NULL;
  if (!r->path || (kind == HK_IO_WRITE_FILE && !r->data)) {
    req_free(r);
    return -ENOMEM;
  }
  if (len) memcpy(r->data, data, len);
  return hk_io_submit(io, r, token);
}

int hk_io_read_file(hk_io_t *io, const char *path, void *ctx,
                    uint64_t *token) {
  return file_request(io, HK_IO_READ_FILE, path, NULL, 0, ctx, token);
}

int hk_io_write_file(hk_io_t *io, const char *path, const void *data,
                     size_t len, void *ctx, uint64_t *token) {
  if (len && !data) return -EINVAL;
  return file_request(io, HK_IO_WRITE_FILE, path, data, len, ctx, token);
}

int hk_io_read_line(hk_io_t *io, void *ctx, uint64_t *token) {
  hk_io_req_t *r = req_new(HK_IO_READ_LINE, ctx);
  if (!r) return -ENOMEM;
  return hk_io_submit(io, r, token);
}

int hk_io_accept(hk_io_t *io, int64_t sock, uint64_t owner, void *ctx,
                 uint64_t *token) {
  hk_io_req_t *r = req_new(HK_IO_ACCEPT, ctx);
  if (!r) return -ENOMEM;
  r->sock = sock;
  r->owner = owner;
  return hk_io_submit(io, r, token);
}

int hk_io_connect(hk_io_t *io, const char *host, int64_t port,
                  uint64_t owner, void *ctx, uint64_t *token) {
  if (!host || port < 0 || port > 65535) return -EINVAL;
  hk_io_req_t *r = req_new(HK_IO_CONNECT, ctx);
  if (!r) return -ENOMEM;
  r->path = strdup(host);
  if (!r->path) {
    req_free(r);
    return -ENOMEM;
  }
  r->port = (int)port;
  r->owner = owner;
  return hk_io_submit(io, r, token);
}

int hk_io_close(hk_io_t *io, int64_t sock, void *ctx, uint64_t *token) {
  hk_io_req_t *r = req_new(HK_IO_CLOSE, ctx);
  if (!r) return -ENOMEM;
  r->sock = sock;
  hk_io_sock_mark_closing(io, sock);
  return hk_io_submit(io, r, token);
}

int hk_io_cancel(hk_io_t *io, uint64_t token) {
  /* Acquire: pairs with the seq_cst store in hk_io_free. */
  if (atomic_load_explicit(&io->stopping, memory_order_acquire))
    return -ESHUTDOWN;
  hk_io_req_t *r = req_new(HK_REQ_CANCEL, NULL);
  if (!r) return -ENOMEM;
  r->n = (int64_t)token; /* no token of its own: no completion */
  hk_io_push(io, r);
  return 0;
}

/* ---- Lifecycle --------------------------------------------------------- */

static int backend_from_env(hk_io_backend_t *b) {
  const char *e = getenv("HIKO_IO_BACKEND");
  if (!e || !*e) return 0;
  if (strcmp(e, "uring") == 0) *b = HK_IO_BACKEND_URING;
  else if (strcmp(e, "fallback") == 0) *b = HK_IO_BACKEND_FALLBACK;
  else return -EINVAL;
  return 0;
}

static void io_destroy(hk_io_t *io) {
  if (io->wake_fd >= 0) close(io->wake_fd);
  size_t ntab = atomic_load_explicit(&io->ntab, memory_order_relaxed);
  for (size_t i = 0; i < ntab; i++) free(hk_io_sock_entry(io, (int64_t)i + 1)->fast);
  for (unsigned k = 0; k < HK_SOCKSEGS; k++) free(io->tabseg[k]);
  pthread_mutex_destroy(&io->tab_lock);
  sem_destroy(&io->started);
  free(io->map);
  free(io->heap);
  free(io->sio);
  free(io->inbuf);
  free(io);
}

int hk_io_new(hk_io_t **out, const hk_io_config_t *cfg) {
  *out = NULL;
  if (!cfg || !cfg->callback) return -EINVAL;
  hk_io_t *io = calloc(1, sizeof *io);
  if (!io) return -ENOMEM;
  io->callback = cfg->callback;
  io->batch_end = cfg->batch_end;
  io->abandoned = cfg->abandoned;
  io->user = cfg->user;
  io->want = cfg->backend;
  io->stdin_fd = cfg->stdin_fd_set ? cfg->stdin_fd : 0;
  io->fsroot = cfg->fsroot;
  io->recv_borrow = cfg->recv_borrow;
  io->in.owner = io;
  hk_mpsc_init(&io->queue);
  pthread_mutex_init(&io->tab_lock, NULL);
  sem_init(&io->started, 0, 0);
  io->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int rc = io->wake_fd < 0 ? -errno : 0;
  if (rc == 0 && io->want == HK_IO_BACKEND_AUTO) rc = backend_from_env(&io->want);
  if (rc == 0) rc = -pthread_create(&io->thread, NULL, io_main, io);
  if (rc < 0) {
    io_destroy(io);
    return rc;
  }
  pthread_setname_np(io->thread, "hiko-io");
  signal(SIGPIPE, SIG_IGN);
  sem_wait(&io->started);
  if (io->start_error < 0) {
    rc = io->start_error;
    pthread_join(io->thread, NULL);
    io_destroy(io);
    return rc;
  }
  *out = io;
  return 0;
}

int hk_io_thread_batch(hk_io_t *io) {
  struct sched_param sp = {0};
  return -pthread_setschedparam(io->thread, SCHED_BATCH, &sp);
}

void hk_io_free(hk_io_t *io) {
  if (!io) return;
  /* seq_cst: pairs with the acquire loads in submit() and loop(). */
  atomic_store_explicit(&io->stopping, true, memory_order_seq_cst);
  hk_io_wake(io);
  pthread_join(io->thread, NULL);
  /* Requests that raced the stop: complete them here. */
  hk_mpsc_node_t *n;
  while ((n = hk_mpsc_pop_consumer(&io->queue)) ||
         !hk_mpsc_empty_consumer(&io->queue)) {
    if (!n) continue;
    hk_io_req_t *r = (hk_io_req_t *)n;
    if (r->kind < HK_REQ_CANCEL) {
      hk_io_completion_t c = {.token = r->token, .ctx = r->ctx,
                              .op = (hk_io_op_t)r->kind,
                              .result = -ECANCELED};
      io->callback(io->user, &c);
    }
    req_free(r);
  }
  io_destroy(io);
}

const char *hk_io_backend_name(const hk_io_t *io) { return io->ops->name; }

void hk_io_counters(const hk_io_t *io, hk_io_counters_t *o) {
  o->taken = atomic_load_explicit(&io->c_taken, memory_order_relaxed);
  o->completed = atomic_load_explicit(&io->c_completed, memory_order_relaxed);
  o->finished = atomic_load_explicit(&io->c_finished, memory_order_relaxed);
  o->pending = atomic_load_explicit(&io->c_pending, memory_order_relaxed);
  o->accept_retries = atomic_load_explicit(&io->c_retries, memory_order_relaxed);
  o->epoch = atomic_load_explicit(&io->c_epoch, memory_order_relaxed);
}

const char *hk_io_strerror(int64_t code) {
  switch (code) {
  case HK_IO_ECLOSED: return "socket is closed";
  case HK_IO_ERESOLVE: return "host name lookup failed";
  case HK_IO_EOUTSIDE: return "path is outside the allowed root";
  default: break;
  }
  if (code >= 0 || code < -4095) return "Unknown error";
  static _Thread_local char buf[128];
  return strerror_r((int)-code, buf, sizeof buf);
}
