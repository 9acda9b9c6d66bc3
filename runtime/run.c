/* run.c — a minimal single-threaded runtime: hiko_runtime_create/destroy,
** hiko_spawn_main, hiko_run, hiko_join, hiko_result_clear, and
** hiko_program_disasm.
**
** Each root is one VM instance run slice after slice on the calling thread.
** Requests from the VM (vm/host.h) are served inline: self, sleep,
** read_line; the other process and I/O builtins fail with a clear message.
** The process runtime (scheduler, mailboxes, I/O thread) replaces this file
** later; it is kept small on purpose. Thread: one caller at a time. */
#include "hiko.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vm/builtins.h"
#include "vm/disasm.h"
#include "vm/image.h"
#include "vm/vm.h"

/* Defined in runtime/compile.c: the image of a compiled program. */
const hk_image_t *hk_program_image(const hiko_program_t *p);

typedef struct root {
  hiko_pid_t pid;
  hk_vm_t *vm;
  bool ended;
  hiko_result_t res;
} root_t;

struct hiko_runtime {
  hiko_config_t cfg;
  hk_host_t host;
  root_t *roots;
  size_t nroots, cap;
  hiko_pid_t next_pid;
  bool exited;
  int exit_code;
  bool mono_started;
  struct timespec mono_base;
  char *line_buf;
  size_t line_cap;
};

static int host_write(void *ud, int stream, const char *data, size_t len) {
  hiko_runtime_t *rt = ud;
  hiko_write_fn fn = stream == 2 ? rt->cfg.err : rt->cfg.out;
  if (fn) {
    fn(rt->cfg.io_ud, data, len);
    return 0;
  }
  FILE *f = stream == 2 ? stderr : stdout;
  if (len && fwrite(data, 1, len, f) != len) return -errno;
  if (stream == 2) fflush(f);
  return 0;
}

static int64_t host_monotonic_ms(void *ud) {
  hiko_runtime_t *rt = ud;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (!rt->mono_started) {
    rt->mono_started = true;
    rt->mono_base = now;
  }
  return (int64_t)(now.tv_sec - rt->mono_base.tv_sec) * 1000 +
         (now.tv_nsec - rt->mono_base.tv_nsec) / 1000000;
}

int hiko_runtime_create(hiko_runtime_t **out, const hiko_config_t *cfg) {
  *out = NULL;
  hiko_runtime_t *rt = calloc(1, sizeof *rt);
  if (!rt) return -ENOMEM;
  if (cfg) rt->cfg = *cfg;
  else hiko_config_init(&rt->cfg);
  if (rt->cfg.reductions == 0) rt->cfg.reductions = 2000;
  rt->host.ud = rt;
  rt->host.write = host_write;
  rt->host.monotonic_ms = host_monotonic_ms;
  rt->host.argv = rt->cfg.argv;
  rt->host.argc = rt->cfg.argc;
  rt->host.allow_exit = rt->cfg.allow_exit;
  rt->host.allow_net = rt->cfg.allow_net;
  rt->host.fs_root = rt->cfg.fs_root;
  rt->host.allow_exec = rt->cfg.allow_exec;
  rt->host.n_allow_exec = rt->cfg.n_allow_exec;
  rt->next_pid = 1;
  *out = rt;
  return 0;
}

int hiko_runtime_destroy(hiko_runtime_t *rt) {
  if (!rt) return 0;
  for (size_t i = 0; i < rt->nroots; i++) {
    hk_vm_free(rt->roots[i].vm);
    hiko_result_clear(&rt->roots[i].res);
  }
  free(rt->roots);
  free(rt->line_buf);
  free(rt);
  return 0;
}

int hiko_spawn_main(hiko_runtime_t *rt, hiko_program_t *p, hiko_pid_t *root) {
  const hk_image_t *img = hk_program_image(p);
  if (!img) return -EINVAL;
  if (rt->nroots == rt->cap) {
    size_t nc = rt->cap ? rt->cap * 2 : 4;
    root_t *n = realloc(rt->roots, nc * sizeof *n);
    if (!n) return -ENOMEM;
    rt->roots = n;
    rt->cap = nc;
  }
  hk_vm_config_t vc = {
      .max_heap = rt->cfg.max_heap,
      .max_stack_depth = rt->cfg.max_stack_depth,
      .fuel = rt->cfg.fuel,
      .fuel_limited = rt->cfg.fuel_limited || rt->cfg.fuel != 0,
  };
  hk_vm_t *vm;
  int rc = hk_vm_new(&vm, img, &rt->host, &vc);
  if (rc) return rc;
  rc = hk_vm_start_main(vm);
  if (rc) {
    hk_vm_free(vm);
    return rc;
  }
  root_t *r = &rt->roots[rt->nroots++];
  memset(r, 0, sizeof *r);
  r->pid = rt->next_pid++;
  r->vm = vm;
  hk_vm_set_pid(vm, r->pid);
  *root = r->pid;
  return 0;
}

/* Reads one line of standard input into a new String (SPEC §7.3). */
static void serve_read_line(hiko_runtime_t *rt, hk_vm_t *vm) {
  fflush(stdout);
  ssize_t n = getline(&rt->line_buf, &rt->line_cap, stdin);
  size_t len = n > 0 ? (size_t)n : 0;
  if (len && rt->line_buf[len - 1] == '\n') len--;
  hk_value_t s;
  /* Invalid UTF-8 is passed through the builtins' own repair when they
  ** land in the process runtime; here we reject nothing and copy bytes. */
  if (hk_alloc_string(vm, len ? rt->line_buf : "", len, &s)) {
    hk_vm_complete_fail(vm, "out of memory");
    return;
  }
  hk_vm_complete(vm, s);
}

/* Serves a request; returns true when the VM should run on. */
static void serve(hiko_runtime_t *rt, root_t *r) {
  hk_vm_t *vm = r->vm;
  const hk_request_t *q = hk_vm_request(vm);
  uint32_t id = q->builtin;
  const char *name = id < HK_B__COUNT ? hk_builtin_table[id].name : "native";
  switch (id) {
  case HK_B_self: hk_vm_complete(vm, hk_pid(r->pid)); return;
  case HK_B_sleep: {
    if (q->arg.tag != HK_T_INT) {
      hk_vm_complete_fail(vm, "sleep: expected Int");
      return;
    }
    int64_t ms = q->arg.as.i;
    if (ms < 0) {
      hk_vm_complete_fail(vm, "sleep: expected non-negative Int (milliseconds)");
      return;
    }
    if (ms > 0) {
      fflush(stdout);
      struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    hk_vm_complete(vm, hk_unit());
    return;
  }
  case HK_B_read_line: serve_read_line(rt, vm); return;
  default: break;
  }
  if (id < HK_B__COUNT && hk_builtin_table[id].cls == HK_BC_PROC)
    hk_vm_complete_fail(vm, "%s: processes are not available in this build", name);
  else
    hk_vm_complete_fail(vm, "%s: not available in this build", name);
}

static void end_root(root_t *r, int status) {
  r->ended = true;
  r->res.status = status;
  if (status == HIKO_FAILED) {
    const hk_failure_t *f = hk_vm_failure(r->vm);
    r->res.message = strdup(f->message ? f->message : "unknown failure");
  }
}

int hiko_run(hiko_runtime_t *rt) {
  for (size_t i = 0; i < rt->nroots && !rt->exited; i++) {
    root_t *r = &rt->roots[i];
    while (!r->ended) {
      hk_run_t st = hk_vm_run(r->vm, rt->cfg.reductions);
      switch (st) {
      case HK_RUN_YIELD: break;
      case HK_RUN_REQUEST: serve(rt, r); break;
      case HK_RUN_DONE: end_root(r, HIKO_DONE); break;
      case HK_RUN_FAILED: end_root(r, HIKO_FAILED); break;
      case HK_RUN_EXIT:
        rt->exited = true;
        rt->exit_code = hk_vm_exit_code(r->vm);
        end_root(r, HIKO_EXITED);
        break;
      }
    }
  }
  if (rt->exited)
    for (size_t i = 0; i < rt->nroots; i++) {
      rt->roots[i].ended = true;
      free(rt->roots[i].res.message);
      rt->roots[i].res.message = NULL;
      rt->roots[i].res.status = HIKO_EXITED;
      rt->roots[i].res.exit_code = rt->exit_code;
    }
  fflush(stdout);
  return 0;
}

int hiko_join(hiko_runtime_t *rt, hiko_pid_t root, hiko_result_t *out, int timeout_ms) {
  (void)timeout_ms;
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < rt->nroots; i++) {
    root_t *r = &rt->roots[i];
    if (r->pid != root) continue;
    if (!r->ended) return -ETIMEDOUT;
    *out = r->res;
    if (r->res.message) {
      out->message = strdup(r->res.message);
      if (!out->message) return -ENOMEM;
    }
    out->failure = NULL;
    return 0;
  }
  return -ENOENT;
}

void hiko_result_clear(hiko_result_t *r) {
  if (!r) return;
  free(r->message);
  r->message = NULL;
  r->failure = NULL; /* failure values come with the process runtime */
}

int hiko_program_disasm(const hiko_program_t *p, char **out) {
  *out = NULL;
  const hk_image_t *img = hk_program_image(p);
  if (!img) return -EINVAL;
  return hk_disasm(img, out);
}

