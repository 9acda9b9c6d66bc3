/* io/io.h: the I/O thread (SPEC §7, §10.7). One instance owns one thread
** and one backend: io_uring ("uring") or an epoll thread with helper
** threads ("fallback", SPEC §10.7.5), with identical observable behaviour.
** It knows nothing of processes: any thread submits requests, each gets a
** 64-bit token, and exactly one completion per token is reported through
** the instance's callback, on the I/O thread. docs/io.md has the design
** and the memory-ordering argument.
**
** Error codes: negative errno (io_uring's cqe->res passes through), plus
** the HK_IO_E* codes below; hk_io_strerror renders any of them.
*/
#ifndef HK_IO_H
#define HK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hk_io hk_io_t;
typedef struct hk_fsroot hk_fsroot_t;

/* Our own error codes (below -4095, so never a negative errno). */
#define HK_IO_ECLOSED (-10001)  /* "socket is closed" (SPEC §7.4.8) */
#define HK_IO_ERESOLVE (-10002) /* resolver failure; text in c->msg */
#define HK_IO_EOUTSIDE (-10003) /* openat2 refused to leave the fs root */

/* Largest read of one socket_recv (SPEC §7.4.7 allows capping). */
#define HK_IO_RECV_MAX (1u << 20)
/* Largest file read_file accepts; larger is -EFBIG. */
#define HK_IO_FILE_MAX ((size_t)1 << 30)

typedef enum hk_io_op {
  HK_IO_TIMER = 0,
  HK_IO_READ_FILE,
  HK_IO_WRITE_FILE,
  HK_IO_READ_LINE,
  HK_IO_ACCEPT,
  HK_IO_CONNECT,
  HK_IO_SEND,
  HK_IO_RECV,      /* raw bytes (socket_recv_bytes) */
  HK_IO_RECV_TEXT, /* UTF-8 with hold-back (socket_recv) */
  HK_IO_CLOSE,
} hk_io_op_t;

/* Completion flags. */
#define HK_IO_F_EOF 1u /* read_line / recv: end of input, data is "" */
/* RECV with hk_io_config_t.recv_borrow: data points into the I/O thread's
** receive buffer, valid only during the callback and not NUL-terminated;
** the callback copies what it keeps and frees nothing. */
#define HK_IO_F_BORROWED 2u

/* One completion, passed to the callback.
** result: negative error, or per op: TIMER 0; READ_FILE, READ_LINE, RECV*
** the byte length of data; WRITE_FILE 0; ACCEPT, CONNECT the new socket's
** number (>= 1); SEND the bytes sent (all of them); CLOSE 0. A cancelled
** operation completes with -ECANCELED; an operation on a socket closed
** before or while it ran completes with HK_IO_ECLOSED. */
typedef struct hk_io_completion {
  uint64_t token;
  void *ctx; /* the submitter's pointer, as given */
  hk_io_op_t op;
  uint32_t flags;
  int64_t result;
  /* READ_FILE, READ_LINE, RECV*: a malloc'd buffer of len bytes plus a
  ** terminating NUL. The callback takes it (free with free()); NULL on
  ** error. READ_LINE has no final "\n"; RECV_TEXT is valid UTF-8. With
  ** HK_IO_F_BORROWED in flags: borrowed for the call instead (above). */
  char *data;
  size_t len;
  /* HK_IO_ERESOLVE: the resolver's message; borrowed for the call. */
  const char *msg;
} hk_io_completion_t;

/* The completion callback. It must not block; it may submit and cancel.
** Thread: io (and, for requests that raced hk_io_free, the freeing
** thread, with result -ECANCELED). */
typedef void (*hk_io_callback_t)(void *user, hk_io_completion_t *c);
/* Optional: called on the I/O thread after each run of callbacks, before
** the thread may sleep and right after it wakes, so that a user can act on
** a whole batch of completions at once (the runtime wakes the processes
** they made runnable there, docs/io.md). Thread: io. */
typedef void (*hk_io_batch_end_t)(void *user);

typedef enum hk_io_backend {
  HK_IO_BACKEND_AUTO = 0, /* HIKO_IO_BACKEND, else uring if it works */
  HK_IO_BACKEND_URING,
  HK_IO_BACKEND_FALLBACK,
} hk_io_backend_t;

typedef struct hk_io_config {
  hk_io_callback_t callback; /* required */
  void *user;                /* passed to the callback */
  hk_io_batch_end_t batch_end; /* may be NULL */
  hk_io_backend_t backend;
  int stdin_fd;              /* read_line's input; default 0 (see below) */
  bool stdin_fd_set;         /* false: use 0 */
  const hk_fsroot_t *fsroot; /* borrowed, may be NULL; outlives the io */
  /* true: a RECV served from the socket's receive buffer lends its bytes
  ** to the callback (HK_IO_F_BORROWED) instead of a malloc'd copy, which
  ** the callback would free on another thread. */
  bool recv_borrow;
  /* May be NULL. True when the requester of [ctx] gave the request up (its
  ** cancel is on its way through the queue). Asked before a standard input
  ** line, a socket's received bytes or an accepted connection, which only
  ** one request can take, are handed to the oldest request: an abandoned
  ** one is completed with -ECANCELED instead, so the data goes to the next
  ** request (SPEC §7.3.3, §7.4.4, §7.4.7, §7.6). Thread: io. */
  bool (*abandoned)(void *user, void *ctx);
} hk_io_config_t;

/* Counters (SPEC §10.8, §10.9). All are written by the I/O thread only
** and read with relaxed loads: each field is exact, fields may be from
** slightly different moments. */
typedef struct hk_io_counters {
  uint64_t taken;     /* requests the I/O thread took from the queue */
  uint64_t completed; /* callbacks made */
  /* Requests that stopped counting as pending: completed, or cancelled
  ** (a cancelled one stops at the cancel, before its final completion).
  ** The I/O thread's shard of the pending count is -finished; the
  ** submitters count +1 per submission in their own shards. */
  uint64_t finished;
  uint64_t pending;        /* taken - finished, at the I/O thread's view */
  uint64_t accept_retries; /* EMFILE/ENFILE/ENOBUFS/ENOMEM retries */
  uint64_t epoch;          /* bumped at every callback (activity) */
} hk_io_counters_t;

/* Create an instance and start its thread. Backend choice: cfg->backend,
** else HIKO_IO_BACKEND=uring|fallback, else uring with fallback when the
** ring cannot be set up. Ignores SIGPIPE process-wide.
** Returns 0, -EINVAL (no callback, bad HIKO_IO_BACKEND), -ENOMEM, or the
** error of the forced backend's set-up. Ownership: returns owned *out
** (free with hk_io_free). Thread: any. */
int hk_io_new(hk_io_t **out, const hk_io_config_t *cfg);

/* Cancel everything outstanding (each completes with -ECANCELED), close
** every socket, wait for the kernel's final completions, join the
** thread, free. NULL is a no-op. Thread: any but io. */
void hk_io_free(hk_io_t *io);

/* Switches the I/O thread to SCHED_BATCH (its wake-ups then no longer
** preempt the thread running on its CPU). Returns 0 or -errno. Thread:
** any, while the instance lives. */
int hk_io_thread_batch(hk_io_t *io);

/* "uring" or "fallback". Returns borrowed (static). Thread: any. */
const char *hk_io_backend_name(const hk_io_t *io);

/* Snapshot of the counters. Thread: any. */
void hk_io_counters(const hk_io_t *io, hk_io_counters_t *out);

/* Message for an error code: strerror(-code) or ours. Returns borrowed
** (static or thread-local). Thread: any. */
const char *hk_io_strerror(int64_t code);

/* ---- Requests ---------------------------------------------------------
** Every submit function returns 0 and stores the request's token in
** *token (unique within the instance, never 0), or returns a negative
** error synchronously and then no completion follows: -EINVAL (bad
** argument, as documented), -ENOMEM, -ESHUTDOWN (instance being freed).
** Inputs are copied: the caller keeps its buffers. Thread: any. */

/* Complete after at least [ms] milliseconds of CLOCK_MONOTONIC, counted
** from this call. -EINVAL if ms < 0. */
int hk_io_timer(hk_io_t *io, int64_t ms, void *ctx, uint64_t *token);

/* Read the whole file at [path] (open, read to EOF, close). With an fs
** root, [path] must be absolute and is opened beneath the root
** (openat2 RESOLVE_BENEATH); an escape gives HK_IO_EOUTSIDE. */
int hk_io_read_file(hk_io_t *io, const char *path, void *ctx,
                    uint64_t *token);

/* Create or truncate [path] (0666 minus the umask) and write [len] bytes.
** The fs root applies as for hk_io_read_file. */
int hk_io_write_file(hk_io_t *io, const char *path, const void *data,
                     size_t len, void *ctx, uint64_t *token);

/* The next line of the instance's standard input. Concurrent requests are
** served in the order the I/O thread takes them (for one submitting
** thread: submission order). At end of input: data "", HK_IO_F_EOF. */
int hk_io_read_line(hk_io_t *io, void *ctx, uint64_t *token);

/* Accept the next connection on listening socket [sock]; the new socket
** gets [owner]. ECONNABORTED/EPROTO/EINTR are retried at once,
** EMFILE/ENFILE/ENOBUFS/ENOMEM after 10 ms. */
int hk_io_accept(hk_io_t *io, int64_t sock, uint64_t owner, void *ctx,
                 uint64_t *token);

/* Connect to [host]:[port]. Numeric IPv4/IPv6 and "localhost" are used
** directly, other names are resolved on a helper thread and the
** addresses tried in order. -EINVAL if port is outside 0..65535. */
int hk_io_connect(hk_io_t *io, const char *host, int64_t port,
                  uint64_t owner, void *ctx, uint64_t *token);

/* Send all [len] bytes (MSG_NOSIGNAL). Sends on one socket are served one
** after the other, each call's bytes contiguous. */
int hk_io_send(hk_io_t *io, int64_t sock, const void *data, size_t len,
               void *ctx, uint64_t *token);

/* Receive at most [n] bytes (n capped at HK_IO_RECV_MAX); "" with
** HK_IO_F_EOF only at end of stream. Receives on one socket are served in
** order. [text]: socket_recv semantics (SPEC §7.4.7): an incomplete UTF-8
** sequence at the end is held back for the next call (which returns it
** first, raw, if it is a bytes call), invalid sequences and bytes held at
** end of stream become U+FFFD; when the first character is longer than n,
** that one character is returned whole. -EINVAL if n <= 0. */
int hk_io_recv(hk_io_t *io, int64_t sock, int64_t n, bool text, void *ctx,
               uint64_t *token);

/* ---- Fast path: try on the calling thread first (docs/io.md) ----------
** socket_send / socket_recv on a socket with nothing of that direction
** queued, in flight or buffered at the I/O thread run the non-blocking
** system call directly (MSG_DONTWAIT). Two steps, so the caller allocates
** its completion context only when the I/O thread is needed:
**   rc = hk_io_send_try(io, sock, data, len, &cl);
**   rc == 1: done, no completion follows. rc < 0: failed at once (no
**   completion): HK_IO_ECLOSED, the system call's -errno (-EPIPE,
**   -ECONNRESET, ...), -EINVAL, -ENOMEM. rc == 0: the caller MUST call
**   hk_io_send_finish(io, &cl, ctx, &token) next (same thread, soon: a
**   claim may be held that makes other operations of that direction
**   wait), which submits the rest like hk_io_send and returns as hk_io_send
**   does. The recv pair is the same; on 1, *out holds data (malloc'd,
**   NUL-terminated, the caller frees it), len and flags (HK_IO_F_EOF).
** Ordering (SPEC §7.4.6-7) and close are as for the queued operations.
** Thread: any. */
typedef struct hk_io_claim {
  void *fast;    /* the socket's fast-path words, NULL if none */
  int64_t sock;
  int dir;
  bool direct;   /* we hold the claim */
  bool text;
  bool poll_first; /* recv: skipped the direct attempt (io_internal.h,
                   ** hk_sockfast_t.sent): the ring waits before trying */
  int64_t n;     /* recv limit */
  size_t off;    /* send: bytes already sent */
  char *got;     /* recv: bytes received but not returned (owned) */
  size_t gotlen;
} hk_io_claim_t;

int hk_io_send_try(hk_io_t *io, int64_t sock, const void *data, size_t len,
                   hk_io_claim_t *cl);
int hk_io_send_finish(hk_io_t *io, hk_io_claim_t *cl, const void *data,
                      size_t len, void *ctx, uint64_t *token);
int hk_io_recv_try(hk_io_t *io, int64_t sock, int64_t n, bool text,
                   hk_io_claim_t *cl, hk_io_completion_t *out);
int hk_io_recv_finish(hk_io_t *io, hk_io_claim_t *cl, void *ctx,
                      uint64_t *token);
/* Instead of a finish: give the claim up (the caller cannot go on, e.g.
** out of memory). A partly sent message stays partly sent. */
void hk_io_claim_drop(hk_io_t *io, hk_io_claim_t *cl);

/* Close [sock]: pending and later operations on it fail with
** HK_IO_ECLOSED; completes (result 0) once the descriptor is closed.
** Closing a closed socket completes with 0. */
int hk_io_close(hk_io_t *io, int64_t sock, void *ctx, uint64_t *token);

/* Cancel the request [token]. Returns 0 if the request was still pending
** when the I/O thread saw the cancel (it then completes once, with
** -ECANCELED, after the kernel has finished with its buffers), nothing
** otherwise; the return value only says the cancel was queued.
** Returns 0, -ENOMEM, -ESHUTDOWN. */
int hk_io_cancel(hk_io_t *io, uint64_t token);

/* ---- Sockets (synchronous) --------------------------------------------
** A runtime-wide table: numbers from 1, never reused. Each socket has an
** owner (an opaque 64-bit id, e.g. a pid; 0 = none). Thread: any. */

/* Bind and listen (backlog 128, SO_REUSEADDR). [host]: numeric IPv4 or
** IPv6, "" (any IPv4) or "localhost" (127.0.0.1). Port 0 is ephemeral.
** Returns the new socket number (> 0), -EINVAL for a port outside
** 0..65535 or a host that is none of those, or the -errno of
** socket/bind/listen. */
int64_t hk_io_listen(hk_io_t *io, const char *host, int64_t port,
                     uint64_t owner);

/* The local port of [sock]. Returns it, HK_IO_ECLOSED, or -errno. */
int64_t hk_io_socket_port(hk_io_t *io, int64_t sock);

/* The owner of [sock] (0 if unknown or closed). */
uint64_t hk_io_socket_owner(hk_io_t *io, int64_t sock);

/* Make [to] the owner if [from] is the current owner. Returns 0, -EPERM
** (not the owner), HK_IO_ECLOSED (closed or unknown). */
int hk_io_socket_give(hk_io_t *io, int64_t sock, uint64_t from, uint64_t to);

/* Close every open socket owned by [owner], without completions (the
** process terminated). Returns the number of sockets closed. Cost: a scan
** of the table. */
int hk_io_close_owner(hk_io_t *io, uint64_t owner);

/* Close [sock] without a completion (e.g. socket_give to a terminated
** pid). Pending operations fail with HK_IO_ECLOSED as for hk_io_close.
** Returns 0, or HK_IO_ECLOSED if it was not open. */
int hk_io_close_quiet(hk_io_t *io, int64_t sock);

/* ---- UTF-8 helpers (used by the text receive; exported for tests) ---- */

/* Length of the longest prefix of [s] that ends on a character boundary,
** treating an incomplete but so-far-valid sequence at the very end as
** not yet complete (invalid bytes count as complete one-byte units).
** Thread: any. */
size_t hk_io_utf8_complete(const char *s, size_t len);

/* True if [s] is entirely valid UTF-8 (read_file's check, SPEC §7.3.1).
** Thread: any. */
bool hk_io_utf8_valid(const char *s, size_t len);

/* Copy [s] to a new buffer, every invalid byte or incomplete sequence
** replaced by U+FFFD. Returns the buffer (NUL-terminated, *out_len bytes)
** or NULL (out of memory). Ownership: returns owned (free()). */
char *hk_io_utf8_sanitize(const char *s, size_t len, size_t *out_len);

/* ---- fs root (SPEC §7.5.1) ------------------------------------------- */

/* Canonicalise [dir] and open it (O_PATH). Returns 0, or -errno (the
** directory does not exist, is not a directory, ...). Ownership: returns
** owned *out (free with hk_fsroot_free). Thread: init. */
int hk_fsroot_new(hk_fsroot_t **out, const char *dir);
void hk_fsroot_free(hk_fsroot_t *r);

/* The canonical root directory. Returns borrowed. Thread: any. */
const char *hk_fsroot_dir(const hk_fsroot_t *r);

/* Resolve [path] for builtin [name]: relative paths are taken relative to
** the root, then the result is made canonical (missing trailing
** components allowed). Returns 0 with *resolved (owned, free()) inside or
** equal to the root; -EACCES with *errmsg (owned, free()) set to
** "NAME: path 'PATH' is outside allowed root 'ROOT'"; -ENOMEM; or the
** -errno of a failed lookup (e.g. -ELOOP). [r] NULL: no confinement,
** *resolved is a copy of path. Thread: any. */
int hk_fsroot_resolve(const hk_fsroot_t *r, const char *name,
                      const char *path, char **resolved, char **errmsg);

/* Open [resolved] (from hk_fsroot_resolve) beneath the root with
** openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): a link swapped in
** since the check cannot escape. Returns an fd, HK_IO_EOUTSIDE (the
** kernel saw an escape), or -errno. [r] NULL: plain open. Thread: any. */
int hk_fsroot_open(const hk_fsroot_t *r, const char *resolved, int flags,
                   unsigned mode);

/* The path of [resolved] relative to the root ("." for the root itself),
** pointing into [resolved]. Returns borrowed. Thread: any. */
const char *hk_fsroot_relative(const hk_fsroot_t *r, const char *resolved);

/* The descriptor of the root directory (O_PATH). Thread: any. */
int hk_fsroot_fd(const hk_fsroot_t *r);

#endif
