/* io/io_internal.h: the structures shared by the engine (io.c, sock.c)
** and the two backends (uring.c, fallback.c). Not installed.
**
** The engine turns requests into *primitives* (open, read, write, close,
** accept, connect, send, recv) that a backend runs asynchronously and
** reports back with hk_io_prim_done. Everything in this file is touched by
** the I/O thread only unless a field says otherwise.
*/
#ifndef HK_IO_INTERNAL_H
#define HK_IO_INTERNAL_H

#include "io.h"
#include "mpsc.h"

#include <linux/openat2.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct hk_io_req hk_io_req_t;
typedef struct hk_prim hk_prim_t;
typedef struct hk_sockio hk_sockio_t;

/* The fast path of socket_send / socket_recv (io/fast.c, docs/io.md): one
** word per direction of a socket, = 2 * (units) + HK_FAST_DIRECT. A unit
** is a request of that direction counted before its push and uncounted
** by the I/O thread at its completion, the I/O thread's receive state
** (bytes buffered, a receive in flight, a latched error) or a close in
** progress (kept forever). A submitter may run the system call itself
** only after a compare-and-swap from 0 to 2 + HK_FAST_DIRECT (the
** *claim*): then nothing of that direction is queued, in flight or
** buffered, and no close has begun. Allocated with the table entry, never
** moved, freed with the instance. Thread: any (atomics only). */
enum { HK_FAST_SEND = 0, HK_FAST_RECV = 1 };
#define HK_FAST_DIRECT 1u
#define HK_FAST_UNIT 2u
/* [sent] is a hint, not part of the protocol: 1 when the socket's last
** operation to finish was a send. A receive that directly follows a send
** (a request/response exchange: the peer has not answered yet) skips the
** direct attempt, which would almost always find nothing, and its ring
** receive waits for readiness before it tries (IORING_RECVSEND_POLL_FIRST):
** one failed system call less per round trip. Any receive clears it.
** Relaxed: a stale value only costs one attempt more or one hop more.
** [rx_idle] is 1 while the I/O thread's receive state of the socket is a
** multishot receive that is armed with nothing buffered, no end of stream
** and no error latched: a receive queued now can be served only after the
** socket's next arrival, whose completion wakes the I/O thread by itself,
** so its submitter skips the eventfd write (docs/io.md, "A receive that
** waits for an armed multishot"). Written by the I/O thread only,
** seq_cst, cleared before anything that could serve a queued receive. */
typedef struct hk_sockfast {
  _Atomic uint32_t w[2];
  _Atomic uint32_t sent;
  _Atomic uint32_t rx_idle;
} hk_sockfast_t;

typedef enum hk_prim_kind {
  HK_PRIM_OPEN,
  HK_PRIM_READ,
  HK_PRIM_WRITE,
  HK_PRIM_CLOSE,
  HK_PRIM_ACCEPT,
  HK_PRIM_CONNECT,
  HK_PRIM_SEND,
  HK_PRIM_RECV,
  /* A multishot receive into the backend's provided buffers (uring only,
  ** io->multishot): each arrival is handed to [more]; it stays busy
  ** until its final completion. */
  HK_PRIM_RECV_MULTI,
} hk_prim_kind_t;

/* What the engine does with a finished primitive. */
typedef void (*hk_prim_fn)(hk_io_t *io, hk_prim_t *p, int res);
/* Bytes that a multishot primitive received; the backend reuses [data]
** after the call. */
typedef void (*hk_prim_more_fn)(hk_io_t *io, hk_prim_t *p, const char *data,
                                size_t n);

/* One asynchronous system call. Embedded in its owner (a request or a
** socket); the owner never frees it while busy (the kernel may write the
** buffer until the final completion). */
struct hk_prim {
  hk_prim_kind_t kind;
  bool busy;      /* handed to the backend, no final completion yet */
  bool cancelled; /* a cancel was sent for this run */
  int fd;         /* OPEN: the directory fd (AT_FDCWD or the fs root) */
  int flags;      /* ACCEPT: accept4 flags; SEND/RECV: msg flags */
  bool poll_first; /* RECV: wait for readiness before trying (uring) */
  void *buf;      /* READ/WRITE/SEND/RECV buffer; OPEN path */
  size_t len;
  int64_t offset; /* READ/WRITE: file offset, -1 for the current one */
  hk_prim_fn done;
  hk_prim_more_fn more; /* RECV_MULTI */
  void *owner; /* the request or socket the prim belongs to */
  /* Backend links. */
  hk_prim_t *bnext;
  int bres;
  /* Last, and not zeroed when a request record is reused (HK_REQ_ZERO):
  ** written before every use. */
  struct open_how how; /* OPEN */
  struct sockaddr_storage addr; /* CONNECT */
  socklen_t addrlen;
};

typedef enum hk_req_kind {
  /* User requests: the values of hk_io_op_t. */
  HK_REQ_CANCEL = 100, /* target: token */
  HK_REQ_CLOSE_QUIET,  /* close without a completion (close_owner) */
  HK_REQ_RESOLVED,     /* a resolver thread finished a connect's lookup */
  HK_REQ_RELEASE,      /* a claim ended while requests were counted (n: dir) */
} hk_req_kind_t;

/* A request. Allocated by the submitter, passed through the MPSC queue,
** owned by the I/O thread from then on, freed after its completion. */
struct hk_io_req {
  hk_mpsc_node_t qnode; /* MPSC link; first member */
  int kind;             /* hk_io_op_t or hk_req_kind_t */
  uint64_t token;
  void *ctx;
  /* Parameters (written by the submitter before the push). */
  char *path;   /* READ/WRITE_FILE path, CONNECT host */
  char *data;   /* WRITE_FILE, SEND bytes (owned) */
  size_t len;   /* their length */
  int64_t n;    /* RECV limit; CANCEL: the target token; SEND: bytes
                ** already sent on the submitting thread (fast.c) */
  int64_t sock; /* socket number */
  uint64_t owner;
  int port;
  uint64_t deadline; /* TIMER: CLOCK_MONOTONIC ns */
  hk_sockfast_t *fast; /* SEND/RECV*: the unit to uncount at completion */
  int fdir;            /* its direction (HK_FAST_*) */
  bool front;          /* a claim's remainder: goes first, ends the claim;
                       ** RECV*: data/len are bytes already received */
  bool poll_first;     /* RECV*: follows a send (hk_sockfast_t.sent) */
  /* I/O thread state. */
  bool cancelled;      /* cancel seen: complete with -ECANCELED */
  bool finished;       /* counted in counters.finished */
  bool retry_timer;    /* ACCEPT: in the heap, waiting to retry */
  int64_t error;       /* error to report after the cleanup close */
  size_t heap_idx;     /* timer heap position + 1, 0 when not in it */
  hk_io_req_t *link;   /* socket / stdin queue link */
  size_t off;          /* bytes done (SEND, WRITE_FILE) */
  int fd;              /* READ/WRITE_FILE file, CONNECT socket (-1) */
  char *buf;           /* READ_FILE buffer */
  size_t cap;
  hk_sockio_t *sio;    /* socket the request waits on */
  struct sockaddr_storage *addrs; /* CONNECT candidates */
  size_t naddrs, addr_next;
  hk_prim_t prim; /* last: see HK_REQ_ZERO */
};

/* The bytes of a request that a new request must find zeroed: all but
** its primitive's open_how and address (160 of 448 bytes here), which are
** written before each use. */
#define HK_REQ_ZERO (offsetof(hk_io_req_t, prim) + offsetof(hk_prim_t, how))

/* A FIFO of requests linked through ->link. */
typedef struct hk_reqq {
  hk_io_req_t *head, *tail;
} hk_reqq_t;

/* The I/O thread's state of one socket (created on first use). */
struct hk_sockio {
  int64_t id;
  int fd;
  bool closing;
  hk_reqq_t accepts, sends, recvs, closers;
  int spare; /* a connection accepted for an accept given up, kept for the
             ** next accept (SPEC §7.6); -1: none */
  hk_prim_t rx; /* the socket's one receive, into rxbuf */
  char *rxbuf;
  size_t rxoff, rxlen, rxcap;
  bool eof;
  int64_t rxerr; /* error of the last receive, for the next request */
  unsigned busy; /* primitives in flight on fd */
  hk_sockfast_t *fast; /* the table entry's words (fast.c) */
  bool held[2];        /* a claim is active: start nothing of that dir */
  bool direct[2];      /* closing: wait until that claim ends */
  bool rx_unit;        /* the receive state holds a unit of w[RECV] */
  bool rx_poll_first;  /* the next receive waits for readiness first */
  bool rxm_got;        /* the multishot receive delivered bytes */
  bool rx_idle;        /* the value last stored in fast->rx_idle */
};

/* A socket table entry. [sf] packs the state and the descriptor in one
** word ((state << 32) | (uint32_t)fd) so that hk_io_sock_lookup reads
** both without the lock; it is written under io->tab_lock (release) and
** read with acquire loads. [owner] is guarded by tab_lock. [fast] is set
** before the entry is published (io->ntab) and never changes. */
typedef enum { HK_SOCK_OPEN = 0, HK_SOCK_CLOSING, HK_SOCK_CLOSED } hk_sock_state_t;
typedef struct hk_sockent {
  _Atomic uint64_t sf;
  uint64_t owner;
  hk_sockfast_t *fast; /* never moves; freed with the instance */
} hk_sockent_t;

/* The table grows by segments that never move: segment k holds
** HK_SOCKSEG_BASE << k entries, so a lock-free reader never sees an entry
** move under it. 40 segments hold more sockets than any process can make. */
#define HK_SOCKSEG_BASE 64u
#define HK_SOCKSEGS 40

/* Backend operations, all called on the I/O thread. */
typedef struct hk_io_backend_ops {
  const char *name;
  int (*init)(hk_io_t *io);
  void (*fini)(hk_io_t *io);
  void (*start)(hk_io_t *io, hk_prim_t *p);  /* run p; done comes later */
  void (*cancel)(hk_io_t *io, hk_prim_t *p); /* p busy; done follows */
  /* Submit, then wait until a completion, a wake-up or [timeout_ns]
  ** (-1: none) and report completions with hk_io_prim_done. */
  void (*wait)(hk_io_t *io, int64_t timeout_ns);
} hk_io_backend_ops_t;

extern const hk_io_backend_ops_t hk_io_uring_ops;
extern const hk_io_backend_ops_t hk_io_fallback_ops;

struct hk_io {
  /* Immutable after hk_io_new. */
  hk_io_callback_t callback;
  hk_io_batch_end_t batch_end; /* may be NULL */
  bool (*abandoned)(void *user, void *ctx); /* may be NULL */
  void *user;
  const hk_io_backend_ops_t *ops;
  hk_io_backend_t want;
  int stdin_fd;
  const hk_fsroot_t *fsroot;
  int wake_fd; /* eventfd */
  int sock_type_flags; /* SOCK_NONBLOCK for the fallback */
  pthread_t thread;
  sem_t started;
  int start_error;
  void *backend; /* the backend's private state */

  /* Written by submitters (any thread). */
  alignas(HK_CACHELINE) _Atomic uint64_t next_token;
  hk_mpsc_t queue;
  /* 1 while the I/O thread is asleep or about to sleep. */
  alignas(HK_CACHELINE) _Atomic int sleeping;
  _Atomic bool stopping;

  /* Socket table: any thread, under tab_lock. */
  alignas(HK_CACHELINE) pthread_mutex_t tab_lock;
  /* Segments (written under tab_lock, read with acquire loads) and the
  ** number of entries (stored with release under tab_lock after the new
  ** entry is complete). */
  hk_sockent_t *_Atomic tabseg[HK_SOCKSEGS];
  _Atomic size_t ntab;

  /* Resolver boxes: under the resolver lock (sock.c). */
  struct hk_resolve *resolves;

  /* I/O thread only. Counters are written here, read with relaxed loads
  ** from hk_io_counters. */
  alignas(HK_CACHELINE) _Atomic uint64_t c_taken, c_completed, c_finished,
      c_pending, c_retries, c_epoch;
  hk_io_req_t **map; /* token -> request, open addressing */
  size_t mapcap, mapn;
  hk_io_req_t **heap; /* timers, by (deadline, token) */
  size_t heapn, heapcap;
  hk_sockio_t **sio; /* by socket number */
  size_t siocap;
  hk_reqq_t lines; /* read_line requests */
  hk_prim_t in;    /* the stdin read */
  char *inbuf;
  size_t inoff, inlen, incap, inscan;
  bool ineof;
  size_t busy; /* primitives in flight, all owners */
  uint64_t now; /* clock at the start of the current batch (now_ok) */
  /* [now] was read in this batch: by fire_timers when the heap held
  ** timers, else by the first timer request taken (take_timer). An I/O
  ** thread without timers reads no clock per loop turn. */
  bool now_ok;
  bool no_poll_first; /* the kernel refused IORING_RECVSEND_POLL_FIRST */
  bool recv_borrow; /* hk_io_config_t.recv_borrow */
  bool multishot; /* the backend runs HK_PRIM_RECV_MULTI (set by its init;
                  ** cleared when the kernel refuses it) */
  bool draining;
};

/* ---- Engine entry points for the backends ---------------------------- */

/* Hand [p] to the backend (marks it busy, counts it in io->busy).
** Ownership: the backend borrows p until hk_io_prim_done. Thread: io. */
void hk_io_prim_start(hk_io_t *io, hk_prim_t *p);

/* Ask the backend to cancel busy [p] (once per run); its done still
** follows, with -ECANCELED or its real result. Thread: io. */
void hk_io_prim_cancel(hk_io_t *io, hk_prim_t *p);

/* The backend reports [p] finished with [res] (-errno or a count): clears
** busy and runs p->done. Thread: io. */
void hk_io_prim_done(hk_io_t *io, hk_prim_t *p, int res);

/* A busy multishot [p] received [n] bytes at [data] and stays busy.
** Thread: io. */
void hk_io_prim_more(hk_io_t *io, hk_prim_t *p, const char *data, size_t n);

/* send(2) and recv(2) of a socket's bytes, by syscall(2): glibc's
** wrappers are cancellation points and switch asynchronous cancellation on
** and off around the call, ~35 of their ~47 instructions, and no thread
** that runs these is ever cancelled (the I/O thread, workers, helpers).
** Return -1 and set errno as send and recv do. Thread: any. */
static inline ssize_t hk_io_sys_send(int fd, const void *buf, size_t len, int flags) {
  return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}
static inline ssize_t hk_io_sys_recv(int fd, void *buf, size_t len, int flags) {
  return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

/* CLOCK_MONOTONIC in ns. Thread: any. */
uint64_t hk_io_now_ns(void);

/* Write the wake eventfd (no-op if already signalled). Thread: any. */
void hk_io_wake(hk_io_t *io);

/* Length of the first character of [s] if complete (1 for an invalid
** byte), 0 if [s] holds only the valid start of one. Thread: any. */
size_t hk_io_utf8_first(const char *s, size_t len);

/* ---- Socket table (sock.c); every function but hk_io_sock_lookup takes
** tab_lock ---------------------------------------------------------------- */

/* Append [fd] with [owner]. Returns the new number (> 0) or -ENOMEM (fd
** is then closed). Ownership: the table takes fd. Thread: any. */
int64_t hk_io_sock_register(hk_io_t *io, int fd, uint64_t owner);
/* Turn Nagle's algorithm off on a connected socket (accepted or
** connected): request/response traffic must not wait for an ACK. */
void hk_io_sock_nodelay(int fd);

/* State (hk_sock_state_t), descriptor and fast-path words of [id]
** ([fast] may be NULL); CLOSED if unknown. Lock-free (acquire loads): the
** answer may be stale at once, which the callers tolerate (a close adds
** its claim-word unit before the descriptor is closed, fast.c). Thread:
** any. */
int hk_io_sock_lookup(hk_io_t *io, int64_t id, int *fd, hk_sockfast_t **fast);

/* Entry [id] (1-based) in its segment, or NULL if not (yet) in the
** table. Thread: any (lock-free). */
hk_sockent_t *hk_io_sock_entry(hk_io_t *io, int64_t id);

/* Forget [id]'s descriptor before the caller closes it. Thread: io. */
void hk_io_sock_closed(hk_io_t *io, int64_t id);

/* OPEN -> CLOSING: later requests on [id] fail. Thread: any. */
void hk_io_sock_mark_closing(hk_io_t *io, int64_t id);

/* Close every descriptor still in the table (shutdown). Thread: io. */
void hk_io_sock_close_all(hk_io_t *io);

/* ---- Resolver (sock.c) -------------------------------------------------- */

/* Resolve connect request [req]'s host on a new detached thread; the
** answer arrives as an HK_REQ_RESOLVED request. Returns 0 or -errno.
** Ownership: borrows req (copies host, port, token). Thread: io. */
int hk_io_resolve_start(hk_io_t *io, hk_io_req_t *req);

/* Shutdown: no resolver thread touches [io] after this returns.
** Thread: io. */
void hk_io_resolve_abandon_all(hk_io_t *io);

/* Numeric host, "localhost" (connect: 127.0.0.1 then ::1) or, when
** [listen], "" (any IPv4), into addrs[0..1] with [port]. Returns the
** count; 0 means "a name to resolve". Thread: any. */
int hk_io_parse_host(const char *host, int port, bool listen,
                     struct sockaddr_storage *addrs, size_t *n);

/* A zeroed request record (recycled when possible; free with the
** engine's req_free, or free()). Returns NULL when out of memory.
** Thread: any. */
hk_io_req_t *hk_io_req_alloc(void);

/* Token for a new request, or -ESHUTDOWN if the instance is stopping
** (then [r] is freed). Pushes [r] on success. Thread: any. */
int hk_io_submit(hk_io_t *io, hk_io_req_t *r, uint64_t *token);

/* Free a request and what it holds. Thread: any. */
void hk_io_req_free(hk_io_req_t *r);

/* Push an internal request [kind] (HK_REQ_CLOSE_QUIET, HK_REQ_RELEASE)
** for socket [id] with argument [n]; stops the program (status 70) when
** out of memory. Thread: any. */
void hk_io_push_sock(hk_io_t *io, int kind, int64_t id, int64_t n);

/* Push [req] on the request queue and wake the I/O thread if it sleeps.
** Ownership: takes req. Thread: any. */
void hk_io_push(hk_io_t *io, hk_io_req_t *req);

/* hk_io_submit for a receive that follows a send: no wake-up when [f]'s
** socket has an idle armed multishot receive (hk_sockfast_t.rx_idle).
** Thread: any. */
int hk_io_submit_recv(hk_io_t *io, hk_io_req_t *r, hk_sockfast_t *f,
                      uint64_t *token);

#endif
