/* io/fast.c: socket_send / socket_recv tried on the submitting thread
** (MSG_DONTWAIT) before they go through the I/O thread. docs/io.md, "The
** fast path", has the protocol; io_internal.h (hk_sockfast_t) the word.
**
** In short: each direction of a socket has a word counting the units the
** I/O thread holds for it (queued or running requests, buffered receive
** state, a close). A submitter that CASes the word from 0 to
** DIRECT + UNIT owns the direction: nothing is ahead of it, so it may run
** the system call itself. If the call would block, the rest becomes a
** *front* request (it goes before anything queued meanwhile, which the
** I/O thread holds back while it sees DIRECT). If others were counted
** while it held the claim and it finished by itself, it pushes a RELEASE
** so that the I/O thread starts them. A close adds a unit for ever, so
** no claim starts after it, and waits for a claim that began before.
*/
#include "io_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define DIRECT_SMALL 16384 /* receive buffer on the stack */

/* Look [sock] up and take a unit of direction [d]: the claim when
** [may_claim] and the direction is free, else a plain unit. Returns the
** descriptor (claimed), -1 (a plain unit), or HK_IO_ECLOSED (not open: no
** unit taken). */
static int enter(hk_io_t *io, int64_t sock, int d, bool may_claim,
                 hk_io_claim_t *cl) {
  memset(cl, 0, sizeof *cl);
  cl->sock = sock;
  cl->dir = d;
  int fd;
  hk_sockfast_t *f;
  if (hk_io_sock_lookup(io, sock, &fd, &f) != HK_SOCK_OPEN || !f)
    return HK_IO_ECLOSED;
  cl->fast = f;
  /* A receive right after a send: the peer has not answered yet, so the
  ** direct attempt would fail (hk_sockfast_t.sent). Relaxed: a hint. */
  if (d == HK_FAST_RECV &&
      atomic_load_explicit(&f->sent, memory_order_relaxed) &&
      atomic_exchange_explicit(&f->sent, 0, memory_order_relaxed)) {
    may_claim = false;
    cl->poll_first = true;
  }
  uint32_t zero = 0;
  /* Acquire: pairs with the I/O thread's release when it gave back the
  ** last unit (deliver_full, rx_unit_give): its work on the socket
  ** happens before our system call. The descriptor is still open: a
  ** close adds its unit before it closes anything, and the word was 0. */
  if (may_claim && atomic_compare_exchange_strong_explicit(
                       &f->w[d], &zero, HK_FAST_DIRECT | HK_FAST_UNIT,
                       memory_order_acquire, memory_order_relaxed)) {
    cl->direct = true;
    return fd;
  }
  /* Relaxed: the request's push (release) publishes it to the I/O
  ** thread, which reads the word after taking the request. */
  atomic_fetch_add_explicit(&f->w[d], HK_FAST_UNIT, memory_order_relaxed);
  return -1;
}

/* Give back what enter took, when no request carries it on. */
static void leave(hk_io_t *io, hk_io_claim_t *cl) {
  hk_sockfast_t *f = cl->fast;
  if (!f) return;
  cl->fast = NULL;
  if (!cl->direct) {
    /* Relaxed: nothing was done under this unit. */
    atomic_fetch_sub_explicit(&f->w[cl->dir], HK_FAST_UNIT, memory_order_relaxed);
    return;
  }
  cl->direct = false;
  /* Release: our system calls happen before the next claimer's (its
  ** acquire CAS) and before the I/O thread's work after a RELEASE. */
  uint32_t old = atomic_fetch_sub_explicit(
      &f->w[cl->dir], HK_FAST_DIRECT | HK_FAST_UNIT, memory_order_release);
  if (old != (HK_FAST_DIRECT | HK_FAST_UNIT)) hk_io_push_sock(io, HK_REQ_RELEASE, cl->sock, cl->dir);
}

void hk_io_claim_drop(hk_io_t *io, hk_io_claim_t *cl) {
  free(cl->got);
  cl->got = NULL;
  leave(io, cl);
}

/* Submit [r] carrying [cl]'s unit (a front request if [cl] is a claim). */
static int carry(hk_io_t *io, hk_io_claim_t *cl, hk_io_req_t *r, void *ctx,
                 uint64_t *token) {
  r->ctx = ctx;
  r->fd = -1;
  r->prim.owner = r;
  r->sock = cl->sock;
  r->fast = cl->fast;
  r->fdir = cl->dir;
  r->front = cl->direct;
  r->poll_first = cl->poll_first;
  hk_io_claim_t keep = *cl;
  cl->fast = NULL; /* the request has the unit now */
  /* A receive after a send (no claim was tried) need not wake the I/O
  ** thread while the socket's multishot receive waits for the peer. */
  int rc = keep.poll_first && keep.fast
               ? hk_io_submit_recv(io, r, keep.fast, token)
               : hk_io_submit(io, r, token);
  if (rc < 0) leave(io, &keep); /* stopping: r is freed */
  return rc;
}

/* ---- send ---------------------------------------------------------------- */

int hk_io_send_try(hk_io_t *io, int64_t sock, const void *data, size_t len,
                   hk_io_claim_t *cl) {
  if (len && !data) return -EINVAL;
  int fd = enter(io, sock, HK_FAST_SEND, true, cl);
  if (fd == HK_IO_ECLOSED) return HK_IO_ECLOSED;
  if (fd < 0) return 0;
  const char *p = data;
  while (cl->off < len) {
    ssize_t k = hk_io_sys_send(fd, p + cl->off, len - cl->off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k > 0) {
      cl->off += (size_t)k;
    } else if (k < 0 && errno == EINTR) {
      continue;
    } else if (k == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
      return 0; /* the rest goes through the I/O thread, first in line */
    } else {
      int e = -errno;
      leave(io, cl);
      return e;
    }
  }
  /* Relaxed: a hint (hk_sockfast_t.sent). */
  atomic_store_explicit(&((hk_sockfast_t *)cl->fast)->sent, 1, memory_order_relaxed);
  leave(io, cl);
  return 1;
}

int hk_io_send_finish(hk_io_t *io, hk_io_claim_t *cl, const void *data,
                      size_t len, void *ctx, uint64_t *token) {
  hk_io_req_t *r = hk_io_req_alloc();
  size_t rest = len - cl->off;
  if (r) r->data = malloc(rest + 1);
  if (!r || !r->data) {
    free(r);
    hk_io_claim_drop(io, cl);
    return -ENOMEM;
  }
  if (rest) memcpy(r->data, (const char *)data + cl->off, rest);
  r->kind = HK_IO_SEND;
  r->len = rest;
  r->n = (int64_t)cl->off; /* reported in the completion's total */
  return carry(io, cl, r, ctx, token);
}

int hk_io_send(hk_io_t *io, int64_t sock, const void *data, size_t len,
               void *ctx, uint64_t *token) {
  if (len && !data) return -EINVAL;
  hk_io_claim_t cl;
  enter(io, sock, HK_FAST_SEND, false, &cl); /* closed: the I/O thread says so */
  return hk_io_send_finish(io, &cl, data, len, ctx, token);
}

/* ---- recv ---------------------------------------------------------------- */

/* Bytes [buf, k) received directly: the completion in *out, or false
** when a text receive must hold bytes back (the I/O thread does that). */
static bool recv_result(hk_io_claim_t *cl, char *buf, size_t k,
                        hk_io_completion_t *out) {
  if (cl->text && k > 0) {
    if (hk_io_utf8_complete(buf, k) < k) return false;
    if (!hk_io_utf8_valid(buf, k)) {
      size_t n;
      char *fixed = hk_io_utf8_sanitize(buf, k, &n);
      if (!fixed) return false; /* the I/O thread sanitizes (or stops) */
      free(buf);
      buf = fixed;
      k = n;
    }
  }
  buf[k] = 0;
  memset(out, 0, sizeof *out);
  out->op = cl->text ? HK_IO_RECV_TEXT : HK_IO_RECV;
  out->result = (int64_t)k;
  out->data = buf;
  out->len = k;
  out->flags = k == 0 ? HK_IO_F_EOF : 0;
  return true;
}

int hk_io_recv_try(hk_io_t *io, int64_t sock, int64_t n, bool text,
                   hk_io_claim_t *cl, hk_io_completion_t *out) {
  if (n <= 0) return -EINVAL;
  int fd = enter(io, sock, HK_FAST_RECV, true, cl);
  cl->n = n > HK_IO_RECV_MAX ? HK_IO_RECV_MAX : n;
  cl->text = text;
  if (fd == HK_IO_ECLOSED) return HK_IO_ECLOSED;
  if (fd < 0) return 0;
  /* Into a stack buffer, then a malloc of what came: the common short
  ** message costs no large allocation. If the stack buffer filled up, ask
  ** how much more is queued (SIOCINQ) and read that much too: a receive
  ** that finds data never fails, so no error is taken from the socket
  ** (and lost) after bytes were returned. */
  char small[DIRECT_SMALL];
  size_t want = (size_t)cl->n < sizeof small ? (size_t)cl->n : sizeof small;
  ssize_t k;
  do k = hk_io_sys_recv(fd, small, want, MSG_DONTWAIT);
  while (k < 0 && errno == EINTR);
  if (k < 0) {
    int e = -errno;
    if (e == -EAGAIN || e == -EWOULDBLOCK) return 0;
    leave(io, cl);
    return e;
  }
  size_t got = (size_t)k, more = 0;
  int avail = 0;
  if (got == sizeof small && (size_t)cl->n > got &&
      ioctl(fd, SIOCINQ, &avail) == 0 && avail > 0)
    more = (size_t)avail < (size_t)cl->n - got ? (size_t)avail : (size_t)cl->n - got;
  char *owned = malloc(got + more + 1);
  if (!owned) {
    leave(io, cl); /* the bytes are lost, and so is the process */
    return -ENOMEM;
  }
  memcpy(owned, small, got);
  if (more) {
    do k = hk_io_sys_recv(fd, owned + got, more, MSG_DONTWAIT);
    while (k < 0 && errno == EINTR);
    if (k > 0) got += (size_t)k;
  }
  k = (ssize_t)got;
  if (!recv_result(cl, owned, (size_t)k, out)) {
    cl->got = owned;
    cl->gotlen = (size_t)k;
    return 0;
  }
  leave(io, cl);
  return 1;
}

int hk_io_recv_finish(hk_io_t *io, hk_io_claim_t *cl, void *ctx,
                      uint64_t *token) {
  hk_io_req_t *r = hk_io_req_alloc();
  if (!r) {
    hk_io_claim_drop(io, cl);
    return -ENOMEM;
  }
  r->kind = cl->text ? HK_IO_RECV_TEXT : HK_IO_RECV;
  r->n = cl->n;
  r->data = cl->got;
  r->len = cl->gotlen;
  cl->got = NULL;
  return carry(io, cl, r, ctx, token);
}

int hk_io_recv(hk_io_t *io, int64_t sock, int64_t n, bool text, void *ctx,
               uint64_t *token) {
  if (n <= 0) return -EINVAL;
  hk_io_claim_t cl;
  enter(io, sock, HK_FAST_RECV, false, &cl);
  cl.n = n > HK_IO_RECV_MAX ? HK_IO_RECV_MAX : n;
  cl.text = text;
  return hk_io_recv_finish(io, &cl, ctx, token);
}
