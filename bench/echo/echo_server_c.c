/* bench/echo/echo_server_c.c — a plain epoll TCP echo server: the reference for what this
 * machine can do, beside hiko's examples/echo_server.hml and the Go server in bench/peers/go/.
 *
 *   echo_server_c [-p PORT] [-t THREADS] [-T SECONDS]
 *
 * Listens on 127.0.0.1:PORT (0, the default, picks a free port) and prints "port N" on standard
 * output once it accepts connections. THREADS event loops (default 1), each with its own epoll
 * instance and its own SO_REUSEPORT listener on the same port; every connection stays on the loop
 * that accepted it. Level-triggered: read what is there, write it back; a short write parks the
 * rest and waits for EPOLLOUT before reading that connection again. The process ends by itself
 * after SECONDS (default 600) so that a forgotten server never lingers. Not a test. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUF_SIZE = 16384, MAX_EVENTS = 128 };

struct conn {
  int fd;
  size_t off; /* bytes of buf already written back */
  size_t len; /* bytes of buf to write back */
  char buf[BUF_SIZE];
};

struct loop {
  int listen_fd;
  int ep;
  pthread_t thread;
};

static void die(const char *what) {
  fprintf(stderr, "echo_server_c: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int make_listener(int port, int reuseport) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) die("SO_REUSEADDR");
  if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
    die("SO_REUSEPORT");
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 1024) < 0) die("listen");
  return fd;
}

static int local_port(int fd) {
  struct sockaddr_in a;
  socklen_t n = sizeof a;
  if (getsockname(fd, (struct sockaddr *)&a, &n) < 0) die("getsockname");
  return ntohs(a.sin_port);
}

static void close_conn(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c);
}

/* Writes the parked bytes of c; returns 1 when all are written, 0 when the socket is full,
 * -1 on error. */
static int flush_conn(struct conn *c) {
  while (c->off < c->len) {
    ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
    c->off += (size_t)w;
  }
  c->off = c->len = 0;
  return 1;
}

static void set_events(int ep, struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl MOD");
}

static void accept_all(struct loop *l) {
  for (;;) {
    int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return; /* EAGAIN, or a transient shortage: try again on the next event */
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = malloc(sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    c->off = c->len = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
      close(fd);
      free(c);
    }
  }
}

static void *run_loop(void *arg) {
  struct loop *l = arg;
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(l->ep, evs, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) {
        accept_all(l);
        continue;
      }
      struct conn *c = evs[i].data.ptr;
      if (c->len > 0) { /* waiting to finish a write */
        int r = flush_conn(c);
        if (r < 0) close_conn(l->ep, c);
        else if (r > 0) set_events(l->ep, c, EPOLLIN);
        continue;
      }
      ssize_t got = recv(c->fd, c->buf, sizeof c->buf, 0);
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (got <= 0) {
        close_conn(l->ep, c);
        continue;
      }
      c->off = 0;
      c->len = (size_t)got;
      int r = flush_conn(c);
      if (r < 0) close_conn(l->ep, c);
      else if (r == 0) set_events(l->ep, c, EPOLLOUT);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  int port = 0, threads = 1, seconds = 600, opt;
  while ((opt = getopt(argc, argv, "p:t:T:")) != -1) {
    switch (opt) {
    case 'p': port = atoi(optarg); break;
    case 't': threads = atoi(optarg); break;
    case 'T': seconds = atoi(optarg); break;
    default:
      fprintf(stderr, "usage: echo_server_c [-p PORT] [-t THREADS] [-T SECONDS]\n");
      return 2;
    }
  }
  if (port < 0 || port > 65535 || threads < 1 || threads > 64 || seconds < 1) {
    fprintf(stderr, "echo_server_c: bad arguments\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  alarm((unsigned)seconds); /* default action: the process ends */

  struct loop *loops = calloc((size_t)threads, sizeof *loops);
  if (!loops) die("calloc");
  for (int i = 0; i < threads; i++) {
    loops[i].listen_fd = make_listener(port, threads > 1);
    if (i == 0) port = local_port(loops[0].listen_fd);
    loops[i].ep = epoll_create1(EPOLL_CLOEXEC);
    if (loops[i].ep < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(loops[i].ep, EPOLL_CTL_ADD, loops[i].listen_fd, &ev) < 0) die("epoll_ctl ADD");
  }
  printf("port %d\n", port);
  fflush(stdout);
  for (int i = 1; i < threads; i++)
    if (pthread_create(&loops[i].thread, NULL, run_loop, &loops[i]) != 0) die("pthread_create");
  run_loop(&loops[0]);
  return 0;
}
