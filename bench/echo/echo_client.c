/* bench/echo/echo_client.c — the load client of the echo benchmark (issue #6).
 *
 *   echo_client -p PORT [-H HOST] [-c CONNS] [-s SIZE] [-d SECONDS] [-w WARMUP] [-n COUNT]
 *               [-l LABEL]
 *
 * One thread, one epoll instance, CONNS connections (default 64) to HOST:PORT (default
 * 127.0.0.1). Each connection runs closed-loop request/response round trips: it sends SIZE bytes
 * (default 64), waits until all SIZE bytes have come back, checks that they are the bytes it sent
 * (each request has its own content), then sends the next request. Round trips that start during
 * the first WARMUP seconds (default 1) are not counted; after that the client measures for SECONDS
 * (default 5) or until COUNT round trips were counted (-n), then stops sending and waits up to 2 s
 * for the answers in flight.
 *
 * Prints one JSON line:
 *   {"bench":"echo","server":LABEL,"conns":C,"size":S,"seconds":T,"round_trips":N,"rate":R,
 *    "p50_us":..,"p99_us":..,"p999_us":..,"max_us":..,"errors":E}
 * where rate is counted round trips per second of the measuring window and the percentiles are
 * of the round-trip latency (send of the first byte to receipt of the last), nearest rank.
 * Exit status 0 if every connection worked and every answer matched, 1 otherwise (the line is
 * printed anyway), 2 for a usage error. Ends by itself (alarm) at the latest 30 s after its
 * planned end. Not a test. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_SIZE = 65536, MAX_CONNS = 4096 };

struct conn {
  int fd;
  int idx;
  int busy;         /* a request is in flight */
  int counted;      /* this round trip counts (it started inside the window) */
  uint64_t seq;     /* requests sent on this connection */
  uint64_t sent_ns; /* when the current request was sent */
  size_t got;       /* bytes of the answer received so far */
  unsigned char *req;
  unsigned char *resp;
};

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t *lat;
static size_t nlat, caplat;
static long errors;

static void record(uint64_t ns) {
  if (nlat == caplat) {
    size_t cap = caplat ? caplat * 2 : 1u << 16;
    uint64_t *p = realloc(lat, cap * sizeof *p);
    if (!p) {
      fprintf(stderr, "echo_client: out of memory\n");
      exit(1);
    }
    lat = p;
    caplat = cap;
  }
  lat[nlat++] = ns;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile q (0 < q <= 1) of the sorted samples, in microseconds. */
static double pct_us(double q) {
  if (nlat == 0) return 0;
  size_t k = (size_t)(q * (double)nlat + 0.999999);
  if (k < 1) k = 1;
  if (k > nlat) k = nlat;
  return (double)lat[k - 1] / 1000.0;
}

static void fill_request(struct conn *c, size_t size) {
  uint64_t x = ((uint64_t)c->idx << 32) ^ c->seq ^ 0x9e3779b97f4a7c15u;
  for (size_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->req[i] = (unsigned char)x;
  }
}

/* Sends the whole request; the socket buffer of an idle connection always has room for it, but
 * a short write is finished here rather than trusted not to happen. */
static int send_request(struct conn *c, size_t size, int counted) {
  fill_request(c, size);
  c->sent_ns = now_ns();
  c->got = 0;
  c->busy = 1;
  c->counted = counted;
  c->seq++;
  size_t off = 0;
  while (off < size) {
    ssize_t w = send(c->fd, c->req + off, size - off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return -1;
    }
    off += (size_t)w;
  }
  return 0;
}

static int connect_one(const char *host, int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "echo_client: bad IPv4 address '%s'\n", host);
    exit(2);
  }
  uint64_t deadline = now_ns() + 5000000000u;
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    int e = errno;
    close(fd);
    if (e != ECONNREFUSED || now_ns() > deadline) {
      errno = e;
      return -1;
    }
    usleep(20000);
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *label = "unknown";
  int port = -1, nconns = 64, opt;
  long size = 64, count = 0;
  double seconds = 5, warmup = 1;
  while ((opt = getopt(argc, argv, "p:H:c:s:d:w:n:l:")) != -1) {
    switch (opt) {
    case 'p': port = atoi(optarg); break;
    case 'H': host = optarg; break;
    case 'c': nconns = atoi(optarg); break;
    case 's': size = atol(optarg); break;
    case 'd': seconds = atof(optarg); break;
    case 'w': warmup = atof(optarg); break;
    case 'n': count = atol(optarg); break;
    case 'l': label = optarg; break;
    default: goto usage;
    }
  }
  if (port < 1 || port > 65535 || nconns < 1 || nconns > MAX_CONNS || size < 1 ||
      size > MAX_SIZE || seconds <= 0 || seconds > 3600 || warmup < 0 || warmup > 3600 ||
      count < 0)
    goto usage;
  alarm((unsigned)(warmup + seconds) + 30u);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) {
    perror("echo_client: epoll_create1");
    return 1;
  }
  struct conn *conns = calloc((size_t)nconns, sizeof *conns);
  if (!conns) return 1;
  for (int i = 0; i < nconns; i++) {
    struct conn *c = &conns[i];
    c->idx = i;
    c->req = malloc((size_t)size);
    c->resp = malloc((size_t)size);
    if (!c->req || !c->resp) return 1;
    c->fd = connect_one(host, port);
    if (c->fd < 0) {
      fprintf(stderr, "echo_client: connect %s:%d: %s\n", host, port, strerror(errno));
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
      perror("echo_client: epoll_ctl");
      return 1;
    }
  }

  uint64_t t0 = now_ns();
  uint64_t win_start = t0 + (uint64_t)(warmup * 1e9);
  uint64_t win_end = win_start + (uint64_t)(seconds * 1e9);
  uint64_t counted_done = 0, last_done_ns = win_start;
  int stopping = 0, inflight = 0;
  for (int i = 0; i < nconns; i++) {
    if (send_request(&conns[i], (size_t)size, 0) < 0) {
      fprintf(stderr, "echo_client: send: %s\n", strerror(errno));
      errors++;
      conns[i].busy = 0;
    } else {
      inflight++;
    }
  }

  struct epoll_event evs[256];
  uint64_t drain_deadline = 0;
  while (inflight > 0) {
    uint64_t now = now_ns();
    if (!stopping && (now >= win_end || (count > 0 && counted_done >= (uint64_t)count))) {
      stopping = 1;
      drain_deadline = now + 2000000000u;
    }
    if (stopping && now >= drain_deadline) break;
    int n = epoll_wait(ep, evs, 256, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("echo_client: epoll_wait");
      return 1;
    }
    for (int k = 0; k < n; k++) {
      struct conn *c = evs[k].data.ptr;
      if (!c->busy) continue;
      ssize_t r = recv(c->fd, c->resp + c->got, (size_t)size - c->got, 0);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (r <= 0) {
        fprintf(stderr, "echo_client: connection %d: %s\n", c->idx,
                r == 0 ? "closed by the server" : strerror(errno));
        errors++;
        c->busy = 0;
        inflight--;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        continue;
      }
      c->got += (size_t)r;
      if (c->got < (size_t)size) continue;
      uint64_t done = now_ns();
      if (memcmp(c->req, c->resp, (size_t)size) != 0) {
        if (errors < 5) fprintf(stderr, "echo_client: connection %d: answer differs\n", c->idx);
        errors++;
      } else if (c->counted && done <= win_end &&
                 (count == 0 || counted_done < (uint64_t)count)) {
        record(done - c->sent_ns);
        counted_done++;
        last_done_ns = done;
      }
      c->busy = 0;
      inflight--;
      uint64_t now2 = now_ns();
      int in_window = now2 >= win_start && now2 < win_end &&
                      (count == 0 || counted_done < (uint64_t)count);
      if (!stopping && now2 < win_end && !(count > 0 && counted_done >= (uint64_t)count)) {
        if (send_request(c, (size_t)size, in_window) < 0) {
          fprintf(stderr, "echo_client: send: %s\n", strerror(errno));
          errors++;
        } else {
          inflight++;
        }
      }
    }
  }
  if (inflight > 0) {
    fprintf(stderr, "echo_client: %d answers did not arrive\n", inflight);
    errors += inflight;
  }

  /* The window is SECONDS long, or shorter when COUNT ended it early. */
  double window_s = count > 0 && counted_done >= (uint64_t)count
                        ? (double)(last_done_ns - win_start) / 1e9
                        : seconds;
  if (window_s <= 0) window_s = 1e-9;
  qsort(lat, nlat, sizeof *lat, cmp_u64);
  printf("{\"bench\":\"echo\",\"server\":\"%s\",\"conns\":%d,\"size\":%ld,\"seconds\":%.3f,"
         "\"round_trips\":%llu,\"rate\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
         "\"max_us\":%.1f,\"errors\":%ld}\n",
         label, nconns, size, window_s, (unsigned long long)counted_done,
         (double)counted_done / window_s, pct_us(0.50), pct_us(0.99), pct_us(0.999),
         nlat ? (double)lat[nlat - 1] / 1000.0 : 0.0, errors);
  fflush(stdout);
  for (int i = 0; i < nconns; i++) {
    close(conns[i].fd);
    free(conns[i].req);
    free(conns[i].resp);
  }
  free(conns);
  free(lat);
  close(ep);
  return errors ? 1 : 0;

usage:
  fprintf(stderr, "usage: echo_client -p PORT [-H HOST] [-c CONNS] [-s SIZE] [-d SECONDS] "
                  "[-w WARMUP] [-n COUNT] [-l LABEL]\n");
  return 2;
}
