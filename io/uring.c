/* io/uring.c: the io_uring backend. The ring is created on the I/O thread
** (SINGLE_ISSUER makes it the only submitter; DEFER_TASKRUN runs
** completions only inside our io_uring_enter). A read stays armed on the
** wake eventfd, so a worker's write ends the wait. Each SQE's user_data is
** its primitive; cancel SQEs carry 0 and their CQEs are ignored, because
** for 0 and -EALREADY the target's own CQE follows, and -ENOENT means it
** was already posted (PLATFORM.md).
*/
#include "io_internal.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define RING_ENTRIES 1024
#define CQE_BATCH 256
/* The provided buffers of multishot receives (HK_PRIM_RECV_MULTI): one
** group shared by all sockets. Bytes are copied out when their CQE is
** handled and the buffer goes back to the ring at once, so the group
** runs out (-ENOBUFS ends a multishot, which the engine re-arms) only
** when one batch of CQEs holds more than BR_N arrivals. The buffers are
** mmap'd: pages never used cost nothing. */
#define BR_BGID 1
#define BR_N 256u
#define BR_SZ 4096u

typedef struct uring_state {
  struct io_uring ring;
  hk_prim_t wake;     /* the read armed on io->wake_fd */
  uint64_t wakebuf;   /* its buffer, owned until its final CQE */
  hk_prim_t *ovf, *ovf_tail; /* waiting for a free SQE */
  struct io_uring_buf_ring *br; /* NULL: no multishot receives */
  char *bufs;                   /* BR_N buffers of BR_SZ bytes */
} uring_state_t;

/* Register the provided-buffer ring by hand (liburing 2.3 has no
** io_uring_setup_buf_ring, PLATFORM.md). On failure multishot receives
** stay off (io->multishot false) and single receives are used. */
static void br_init(hk_io_t *io, uring_state_t *st) {
  size_t rsz = BR_N * sizeof(struct io_uring_buf);
  void *r = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void *b = mmap(NULL, (size_t)BR_N * BR_SZ, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED || b == MAP_FAILED) goto fail;
  struct io_uring_buf_ring *br = r;
  io_uring_buf_ring_init(br);
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)br;
  reg.ring_entries = BR_N;
  reg.bgid = BR_BGID;
  if (io_uring_register_buf_ring(&st->ring, &reg, 0) < 0) goto fail;
  for (unsigned i = 0; i < BR_N; i++)
    io_uring_buf_ring_add(br, (char *)b + (size_t)i * BR_SZ, BR_SZ, (unsigned short)i,
                          io_uring_buf_ring_mask(BR_N), (int)i);
  io_uring_buf_ring_advance(br, (int)BR_N);
  st->br = br;
  st->bufs = b;
  io->multishot = true;
  return;
fail:
  if (r != MAP_FAILED) munmap(r, rsz);
  if (b != MAP_FAILED) munmap(b, (size_t)BR_N * BR_SZ);
}

/* Give buffer [bid] back to the ring. */
static void br_put(uring_state_t *st, unsigned bid) {
  io_uring_buf_ring_add(st->br, st->bufs + (size_t)bid * BR_SZ, BR_SZ,
                        (unsigned short)bid, io_uring_buf_ring_mask(BR_N), 0);
  io_uring_buf_ring_advance(st->br, 1);
}

static void wake_done(hk_io_t *io, hk_prim_t *p, int res) {
  (void)res;
  if (!io->draining) hk_io_prim_start(io, p);
}

static int uring_init(hk_io_t *io) {
  uring_state_t *st = calloc(1, sizeof *st);
  if (!st) return -ENOMEM;
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init_params(RING_ENTRIES, &st->ring, &p);
  if (rc == -EINVAL) { /* older kernel: no SINGLE_ISSUER / DEFER_TASKRUN */
    memset(&p, 0, sizeof p);
    rc = io_uring_queue_init_params(RING_ENTRIES, &st->ring, &p);
  }
  if (rc == 0 && !(p.features & IORING_FEAT_EXT_ARG)) {
    io_uring_queue_exit(&st->ring);
    rc = -ENOSYS; /* we wait with a timeout argument */
  }
  if (rc < 0) {
    free(st);
    return rc;
  }
  io->backend = st;
  st->wake.kind = HK_PRIM_READ;
  st->wake.fd = io->wake_fd;
  st->wake.buf = &st->wakebuf;
  st->wake.len = sizeof st->wakebuf;
  st->wake.offset = -1;
  st->wake.done = wake_done;
  st->wake.owner = io;
  hk_io_prim_start(io, &st->wake);
  br_init(io, st);
  return 0;
}

static void uring_fini(hk_io_t *io) {
  uring_state_t *st = io->backend;
  io_uring_queue_exit(&st->ring); /* also drops the buffer ring */
  if (st->br) {
    munmap(st->br, BR_N * sizeof(struct io_uring_buf));
    munmap(st->bufs, (size_t)BR_N * BR_SZ);
  }
  free(st);
  io->backend = NULL;
}

static void prep(struct io_uring_sqe *sqe, hk_prim_t *p) {
  switch (p->kind) {
  case HK_PRIM_OPEN:
    io_uring_prep_openat2(sqe, p->fd, p->buf, &p->how);
    break;
  case HK_PRIM_READ:
    io_uring_prep_read(sqe, p->fd, p->buf, (unsigned)p->len,
                       (uint64_t)p->offset);
    break;
  case HK_PRIM_WRITE:
    io_uring_prep_write(sqe, p->fd, p->buf, (unsigned)p->len,
                        (uint64_t)p->offset);
    break;
  case HK_PRIM_CLOSE: io_uring_prep_close(sqe, p->fd); break;
  case HK_PRIM_ACCEPT: io_uring_prep_accept(sqe, p->fd, NULL, NULL, p->flags); break;
  case HK_PRIM_CONNECT:
    io_uring_prep_connect(sqe, p->fd, (struct sockaddr *)&p->addr, p->addrlen);
    break;
  case HK_PRIM_SEND: io_uring_prep_send(sqe, p->fd, p->buf, p->len, p->flags); break;
  case HK_PRIM_RECV:
    io_uring_prep_recv(sqe, p->fd, p->buf, p->len, p->flags);
    if (p->poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    break;
  case HK_PRIM_RECV_MULTI:
    io_uring_prep_recv_multishot(sqe, p->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BR_BGID;
    break;
  }
  io_uring_sqe_set_data(sqe, p);
}

/* An SQE, submitting what is queued when the ring is full; NULL if the
** kernel takes nothing right now. */
static struct io_uring_sqe *get_sqe(uring_state_t *st) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
  if (!sqe && io_uring_submit(&st->ring) >= 0)
    sqe = io_uring_get_sqe(&st->ring);
  return sqe;
}

static void uring_start(hk_io_t *io, hk_prim_t *p) {
  uring_state_t *st = io->backend;
  struct io_uring_sqe *sqe = st->ovf ? NULL : get_sqe(st);
  if (sqe) { prep(sqe, p); return; }
  p->bnext = NULL; /* "reap, then retry": flushed by the next wait */
  if (st->ovf_tail) st->ovf_tail->bnext = p;
  else st->ovf = p;
  st->ovf_tail = p;
}

static void uring_cancel(hk_io_t *io, hk_prim_t *p) {
  uring_state_t *st = io->backend;
  for (hk_prim_t **pp = &st->ovf, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->bnext) {
    if (*pp != p) continue; /* never reached the kernel: done at once */
    *pp = p->bnext;
    if (st->ovf_tail == p) st->ovf_tail = prev;
    { hk_io_prim_done(io, p, -ECANCELED); return; }
  }
  struct io_uring_sqe *sqe = get_sqe(st);
  if (!sqe) return; /* cannot cancel now; the CQE will come anyway */
  io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)p, 0);
  io_uring_sqe_set_data(sqe, NULL);
}

static void flush_overflow(uring_state_t *st) {
  while (st->ovf) {
    struct io_uring_sqe *sqe = get_sqe(st);
    if (!sqe) return;
    hk_prim_t *p = st->ovf;
    st->ovf = p->bnext;
    if (!st->ovf) st->ovf_tail = NULL;
    prep(sqe, p);
  }
}

static void uring_wait(hk_io_t *io, int64_t timeout_ns) {
  uring_state_t *st = io->backend;
  if (io->draining && st->wake.busy) hk_io_prim_cancel(io, &st->wake);
  flush_overflow(st);
  struct __kernel_timespec ts, *tsp = NULL;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  struct io_uring_cqe *cqe = NULL;
  int rc = io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, tsp, NULL);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN &&
      rc != -EBUSY)
    abort(); /* a broken ring is a bug, not an I/O error */
  /* Copy a batch out, release the CQ slots, then dispatch: handlers may
  ** queue new SQEs. */
  struct { hk_prim_t *p; int res; unsigned flags; } batch[CQE_BATCH];
  for (;;) {
    unsigned head, n = 0;
    io_uring_for_each_cqe(&st->ring, head, cqe) {
      if (n == CQE_BATCH) break;
      hk_prim_t *p = io_uring_cqe_get_data(cqe);
      if (p) {
        batch[n].p = p;
        batch[n].res = cqe->res;
        batch[n].flags = cqe->flags;
      }
      n += p != NULL;
      io_uring_cq_advance(&st->ring, 1);
    }
    if (n == 0) return;
    for (unsigned i = 0; i < n; i++) {
      hk_prim_t *p = batch[i].p;
      unsigned fl = batch[i].flags;
      if (p->kind != HK_PRIM_RECV_MULTI) {
        hk_io_prim_done(io, p, batch[i].res);
        continue;
      }
      /* A multishot receive: bytes (if any) to the engine, the buffer
      ** back to the ring, and done only at the CQE without F_MORE (the
      ** prim stays alive until then: its socket waits for busy == 0). */
      if (fl & IORING_CQE_F_BUFFER) {
        unsigned bid = fl >> IORING_CQE_BUFFER_SHIFT;
        if (batch[i].res > 0)
          hk_io_prim_more(io, p, st->bufs + (size_t)bid * BR_SZ, (size_t)batch[i].res);
        br_put(st, bid);
      }
      if (!(fl & IORING_CQE_F_MORE)) hk_io_prim_done(io, p, batch[i].res);
    }
  }
}

const hk_io_backend_ops_t hk_io_uring_ops = {
    .name = "uring",
    .init = uring_init,
    .fini = uring_fini,
    .start = uring_start,
    .cancel = uring_cancel,
    .wait = uring_wait,
};
