/* io/sock.c: the runtime-wide socket table (SPEC §7.4.1), the synchronous
** socket helpers (listen, port, owner) and the host-name resolver threads
** of tcp_connect (SPEC §7.4.5).
**
** The table is a list of segments that never move (io_internal.h): socket
** N is entry N-1, numbers are never reused. Changes happen under
** io->tab_lock; hk_io_sock_lookup (every direct send and receive) reads
** without it: an entry's state and descriptor are one atomic word, and
** the count of entries is stored (release) after the entry is complete.
** Only the I/O thread closes a table descriptor, and it clears the entry
** (under the lock) before close(2), so a thread holding the lock never
** sees a descriptor number that was closed and reused; a lock-free reader
** may (its answer is stale at once), which is why the fast path claims
** its socket's word, which a close takes first, before it uses the
** descriptor (fast.c).
*/
#include "io_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Table ----------------------------------------------------------- */

void hk_io_sock_nodelay(int fd) {
  int one = 1;
  /* Best effort: a socket that refuses it still works, only slower. */
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static uint64_t sf_make(int state, int fd) {
  return ((uint64_t)(uint32_t)state << 32) | (uint32_t)fd;
}
static int sf_state(uint64_t sf) { return (int)(sf >> 32); }
static int sf_fd(uint64_t sf) { return (int)(int32_t)(uint32_t)sf; }

/* Under tab_lock (the lock orders the writers; relaxed loads suffice). */
static int ent_state(hk_sockent_t *e) {
  return sf_state(atomic_load_explicit(&e->sf, memory_order_relaxed));
}
static int ent_fd(hk_sockent_t *e) {
  return sf_fd(atomic_load_explicit(&e->sf, memory_order_relaxed));
}
/* Release: pairs with hk_io_sock_lookup's acquire load. */
static void ent_set(hk_sockent_t *e, int state, int fd) {
  atomic_store_explicit(&e->sf, sf_make(state, fd), memory_order_release);
}

/* Segment and offset of entry index [i] (0-based). */
static unsigned seg_of(size_t i, size_t *off) {
  size_t b = i / HK_SOCKSEG_BASE + 1;
  unsigned k = (unsigned)(63 - __builtin_clzll((unsigned long long)b));
  *off = i - HK_SOCKSEG_BASE * (((size_t)1 << k) - 1);
  return k;
}

int64_t hk_io_sock_register(hk_io_t *io, int fd, uint64_t owner) {
  hk_sockfast_t *fast = calloc(1, sizeof *fast);
  pthread_mutex_lock(&io->tab_lock);
  size_t n = atomic_load_explicit(&io->ntab, memory_order_relaxed), off;
  unsigned k = seg_of(n, &off);
  hk_sockent_t *seg = k < HK_SOCKSEGS
      ? atomic_load_explicit(&io->tabseg[k], memory_order_relaxed) : NULL;
  if (fast && !seg && k < HK_SOCKSEGS) {
    seg = calloc(HK_SOCKSEG_BASE << k, sizeof *seg);
    /* Release: a reader that loads the pointer sees the zeroed segment
    ** (it only looks at entries below ntab anyway). */
    if (seg) atomic_store_explicit(&io->tabseg[k], seg, memory_order_release);
  }
  if (!fast || !seg) {
    pthread_mutex_unlock(&io->tab_lock);
    free(fast);
    close(fd);
    return -ENOMEM;
  }
  hk_sockent_t *e = &seg[off];
  e->owner = owner;
  e->fast = fast;
  atomic_store_explicit(&e->sf, sf_make(HK_SOCK_OPEN, fd), memory_order_relaxed);
  /* Release: publishes the entry to lock-free readers (hk_io_sock_entry). */
  atomic_store_explicit(&io->ntab, n + 1, memory_order_release);
  pthread_mutex_unlock(&io->tab_lock);
  return (int64_t)n + 1;
}

hk_sockent_t *hk_io_sock_entry(hk_io_t *io, int64_t id) {
  /* Acquire: pairs with the release store of ntab in register. */
  if (id <= 0 || (uint64_t)id > atomic_load_explicit(&io->ntab, memory_order_acquire))
    return NULL;
  size_t off;
  unsigned k = seg_of((size_t)id - 1, &off);
  return &atomic_load_explicit(&io->tabseg[k], memory_order_acquire)[off];
}

/* The entry of [id], or NULL. Caller holds tab_lock. */
static hk_sockent_t *entry(hk_io_t *io, int64_t id) { return hk_io_sock_entry(io, id); }

int hk_io_sock_lookup(hk_io_t *io, int64_t id, int *fd, hk_sockfast_t **fast) {
  hk_sockent_t *e = hk_io_sock_entry(io, id);
  /* Acquire: pairs with ent_set (a state change made under the lock). */
  uint64_t sf = e ? atomic_load_explicit(&e->sf, memory_order_acquire)
                  : sf_make(HK_SOCK_CLOSED, -1);
  *fd = sf_fd(sf);
  if (fast) *fast = e ? e->fast : NULL;
  return sf_state(sf);
}

void hk_io_sock_closed(hk_io_t *io, int64_t id) {
  pthread_mutex_lock(&io->tab_lock);
  hk_sockent_t *e = entry(io, id);
  if (e) {
    ent_set(e, HK_SOCK_CLOSED, -1);
    e->owner = 0;
  }
  pthread_mutex_unlock(&io->tab_lock);
}

/* OPEN -> CLOSING of [e], under tab_lock. A listening socket stops
** listening at once (shutdown(SHUT_RD) of a listener is the kernel's
** listen-stop: later connects are refused, the backlog is reset), so the
** close is visible before its owner's parent joins it (SPEC §7.4.1,
** §6.13.1); the descriptor itself is closed by the I/O thread once no
** primitive uses it. The fd is valid here: only the I/O thread closes it,
** after clearing the entry under the same lock. */
static void begin_close(hk_sockent_t *e) {
  int fd = ent_fd(e);
  ent_set(e, HK_SOCK_CLOSING, fd);
  int acc = 0;
  socklen_t len = sizeof acc;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == 0 && acc)
    shutdown(fd, SHUT_RD);
}

void hk_io_sock_mark_closing(hk_io_t *io, int64_t id) {
  pthread_mutex_lock(&io->tab_lock);
  hk_sockent_t *e = entry(io, id);
  if (e && ent_state(e) == HK_SOCK_OPEN) begin_close(e);
  pthread_mutex_unlock(&io->tab_lock);
}

void hk_io_sock_close_all(hk_io_t *io) {
  pthread_mutex_lock(&io->tab_lock);
  size_t n = atomic_load_explicit(&io->ntab, memory_order_relaxed);
  for (size_t i = 0; i < n; i++) {
    hk_sockent_t *e = entry(io, (int64_t)i + 1);
    if (ent_state(e) != HK_SOCK_CLOSED && ent_fd(e) >= 0) close(ent_fd(e));
    ent_set(e, HK_SOCK_CLOSED, -1);
  }
  pthread_mutex_unlock(&io->tab_lock);
}

/* ---- Synchronous helpers --------------------------------------------- */

static void set_port(struct sockaddr_storage *a, int port) {
  if (a->ss_family == AF_INET)
    ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
}

static bool parse_numeric(const char *host, struct sockaddr_storage *a) {
  memset(a, 0, sizeof *a);
  struct sockaddr_in *v4 = (struct sockaddr_in *)a;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)a;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    return true;
  }
  char tmp[64];
  size_t n = strlen(host);
  if (n >= 2 && n < sizeof tmp && host[0] == '[' && host[n - 1] == ']') {
    memcpy(tmp, host + 1, n - 2);
    tmp[n - 2] = 0;
    host = tmp;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    return true;
  }
  return false;
}

int hk_io_parse_host(const char *host, int port, bool listen,
                     struct sockaddr_storage *addrs, size_t *n) {
  *n = 0;
  if (listen && host[0] == 0) {
    memset(&addrs[0], 0, sizeof addrs[0]);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addrs[0];
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    *n = 1;
  } else if (strcmp(host, "localhost") == 0) {
    parse_numeric("127.0.0.1", &addrs[0]);
    *n = 1;
    if (!listen) parse_numeric("::1", &addrs[(*n)++]);
  } else if (parse_numeric(host, &addrs[0])) {
    *n = 1;
  }
  for (size_t i = 0; i < *n; i++) set_port(&addrs[i], port);
  return (int)*n;
}

static socklen_t addr_len(const struct sockaddr_storage *a) {
  return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                  : sizeof(struct sockaddr_in);
}

int64_t hk_io_listen(hk_io_t *io, const char *host, int64_t port,
                     uint64_t owner) {
  if (!host || port < 0 || port > 65535) return -EINVAL;
  struct sockaddr_storage a[2];
  size_t n;
  if (hk_io_parse_host(host, (int)port, true, a, &n) <= 0) return -EINVAL;
  int fd = socket(a[0].ss_family,
                  SOCK_STREAM | SOCK_CLOEXEC | io->sock_type_flags, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fd, (struct sockaddr *)&a[0], addr_len(&a[0])) < 0 ||
      listen(fd, 128) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return hk_io_sock_register(io, fd, owner);
}

int64_t hk_io_socket_port(hk_io_t *io, int64_t sock) {
  int64_t rc = HK_IO_ECLOSED;
  pthread_mutex_lock(&io->tab_lock);
  hk_sockent_t *e = entry(io, sock);
  if (e && ent_state(e) == HK_SOCK_OPEN) {
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    if (getsockname(ent_fd(e), (struct sockaddr *)&a, &len) < 0) rc = -errno;
    else if (a.ss_family == AF_INET)
      rc = ntohs(((struct sockaddr_in *)&a)->sin_port);
    else
      rc = ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
  }
  pthread_mutex_unlock(&io->tab_lock);
  return rc;
}

uint64_t hk_io_socket_owner(hk_io_t *io, int64_t sock) {
  pthread_mutex_lock(&io->tab_lock);
  hk_sockent_t *e = entry(io, sock);
  uint64_t o = e && ent_state(e) == HK_SOCK_OPEN ? e->owner : 0;
  pthread_mutex_unlock(&io->tab_lock);
  return o;
}

int hk_io_socket_give(hk_io_t *io, int64_t sock, uint64_t from, uint64_t to) {
  int rc = HK_IO_ECLOSED;
  pthread_mutex_lock(&io->tab_lock);
  hk_sockent_t *e = entry(io, sock);
  if (e && ent_state(e) == HK_SOCK_OPEN) {
    rc = e->owner == from ? 0 : -EPERM;
    if (rc == 0) e->owner = to;
  }
  pthread_mutex_unlock(&io->tab_lock);
  return rc;
}

void hk_io_push_sock(hk_io_t *io, int kind, int64_t id, int64_t n) {
  hk_io_req_t *r = hk_io_req_alloc();
  if (!r) {
    fputs("hiko: out of memory in socket bookkeeping\n", stderr);
    exit(70);
  }
  r->kind = kind;
  r->sock = id;
  r->n = n;
  r->fd = -1;
  hk_io_push(io, r);
}

/* Queue the I/O thread's part of closing [id] (already marked closing). */
static void push_close_quiet(hk_io_t *io, int64_t id) {
  hk_io_push_sock(io, HK_REQ_CLOSE_QUIET, id, 0);
}

int hk_io_close_quiet(hk_io_t *io, int64_t sock) {
  pthread_mutex_lock(&io->tab_lock);
  hk_sockent_t *e = entry(io, sock);
  bool open = e && ent_state(e) == HK_SOCK_OPEN;
  if (open) begin_close(e);
  pthread_mutex_unlock(&io->tab_lock);
  if (!open) return HK_IO_ECLOSED;
  push_close_quiet(io, sock);
  return 0;
}

int hk_io_close_owner(hk_io_t *io, uint64_t owner) {
  int64_t *ids = NULL;
  size_t n = 0, cap = 0;
  pthread_mutex_lock(&io->tab_lock);
  size_t ntab = atomic_load_explicit(&io->ntab, memory_order_relaxed);
  for (size_t i = 0; i < ntab; i++) {
    hk_sockent_t *e = entry(io, (int64_t)i + 1);
    if (ent_state(e) != HK_SOCK_OPEN || e->owner != owner) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      int64_t *t = realloc(ids, cap * sizeof *ids);
      if (!t) break;
      ids = t;
    }
    begin_close(e);
    ids[n++] = (int64_t)i + 1;
  }
  pthread_mutex_unlock(&io->tab_lock);
  for (size_t i = 0; i < n; i++) push_close_quiet(io, ids[i]);
  free(ids);
  return (int)n;
}

/* ---- Resolver threads ------------------------------------------------
** One detached thread per lookup (getaddrinfo may take seconds). Its box
** is linked into io->resolves under res_lock; shutdown marks every box
** abandoned under the same lock, after which its thread never touches
** the instance again and frees the box itself. */

struct hk_resolve {
  struct hk_resolve *next, *prev;
  hk_io_t *io;
  bool abandoned;
  char *host;
  int port;
  uint64_t token;
};

static pthread_mutex_t res_lock = PTHREAD_MUTEX_INITIALIZER;

static void unlink_box(hk_io_t *io, struct hk_resolve *b) {
  if (b->prev) b->prev->next = b->next;
  else io->resolves = b->next;
  if (b->next) b->next->prev = b->prev;
}

/* The RESOLVED request for box [b]: addresses or the resolver's text. */
static hk_io_req_t *lookup(struct hk_resolve *b) {
  hk_io_req_t *r = hk_io_req_alloc();
  if (!r) return NULL;
  r->kind = HK_REQ_RESOLVED;
  r->n = (int64_t)b->token;
  r->fd = -1;
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM}, *res = NULL;
  int rc = getaddrinfo(b->host, NULL, &hints, &res);
  size_t n = 0;
  for (struct addrinfo *a = rc == 0 ? res : NULL; a; a = a->ai_next) n++;
  if (rc == 0 && n > 0) r->addrs = calloc(n, sizeof *r->addrs);
  if (rc != 0 || n == 0 || !r->addrs) {
    r->error = HK_IO_ERESOLVE;
    const char *msg = rc == EAI_SYSTEM ? strerror(errno)
                      : rc != 0 ? gai_strerror(rc)
                                : "no address";
    r->path = strdup(msg);
  }
  for (struct addrinfo *a = r->addrs ? res : NULL; a; a = a->ai_next) {
    if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
    memcpy(&r->addrs[r->naddrs], a->ai_addr, a->ai_addrlen);
    set_port(&r->addrs[r->naddrs++], b->port);
  }
  if (res) freeaddrinfo(res);
  return r;
}

static void *resolve_main(void *arg) {
  struct hk_resolve *b = arg;
  hk_io_req_t *r = lookup(b);
  pthread_mutex_lock(&res_lock);
  if (!b->abandoned) {
    unlink_box(b->io, b);
    if (r) hk_io_push(b->io, r);
    r = NULL;
  }
  pthread_mutex_unlock(&res_lock);
  if (r) {
    free(r->path);
    free(r->addrs);
    free(r);
  }
  free(b->host);
  free(b);
  return NULL;
}

int hk_io_resolve_start(hk_io_t *io, hk_io_req_t *req) {
  struct hk_resolve *b = calloc(1, sizeof *b);
  if (!b || !(b->host = strdup(req->path))) {
    free(b);
    return -ENOMEM;
  }
  b->io = io;
  b->port = req->port;
  b->token = req->token;
  pthread_mutex_lock(&res_lock);
  b->next = io->resolves;
  if (b->next) b->next->prev = b;
  io->resolves = b;
  pthread_mutex_unlock(&res_lock);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int rc = pthread_create(&t, &attr, resolve_main, b);
  pthread_attr_destroy(&attr);
  if (rc == 0) return 0;
  pthread_mutex_lock(&res_lock);
  unlink_box(io, b);
  pthread_mutex_unlock(&res_lock);
  free(b->host);
  free(b);
  return -rc;
}

void hk_io_resolve_abandon_all(hk_io_t *io) {
  pthread_mutex_lock(&res_lock);
  for (struct hk_resolve *b = io->resolves; b; b = b->next) b->abandoned = true;
  io->resolves = NULL;
  pthread_mutex_unlock(&res_lock);
}
