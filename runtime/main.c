/* main.c — the `hiko` command-line tool (SPEC §13). Uses only hiko.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hiko.h"

static const char usage_text[] =
    "usage: hiko run [OPTIONS] FILE [ARGS...]   compile FILE and run it\n"
    "       hiko check FILE                     type-check FILE, print OK or errors\n"
    "       hiko disasm FILE                    print the bytecode listing of FILE\n"
    "       hiko --version | --help\n"
    "\n"
    "options of run (they come before FILE; `--` ends them):\n"
    "  --workers N          worker threads, 1-1024 (default: CPUs available)\n"
    "  --reductions N       slice budget in reductions, >= 1 (default 2000)\n"
    "  --fuel N             instruction budget of the root process, >= 0\n"
    "  --max-heap N         live heap objects per process, >= 1\n"
    "  --max-processes N    live processes, >= 1\n"
    "  --fs-root DIR        confine filesystem builtins to DIR\n"
    "  --allow-exec CMD     allow exec of exactly CMD (repeatable)\n"
    "  --no-net             deny sockets and HTTP\n"
    "  --stats              print runtime statistics to stderr at exit\n"
    "  --trace FILE         write a Chrome/Perfetto trace to FILE at exit\n"
    "\n"
    "environment: HIKO_LIB (library directory), HIKO_IO_BACKEND=uring|fallback\n";

static int usage_error(const char *fmt, const char *arg) {
  fputs("hiko: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\n", stderr);
  fputs(usage_text, stderr);
  return 2;
}

/* Parses a decimal integer of at least [lo]. One above [hi] is -1, or [hi]
** itself when [saturate]: the options whose SPEC range has no upper bound
** (--fuel N >= 0, ...) take any integer, and one past what the runtime can
** count (2^64 - 1 objects, 2^32 - 1 reductions) is a limit never reached.
** Returns 0 or -1. */
static int parse_uint(const char *s, uint64_t lo, uint64_t hi, bool saturate, uint64_t *out) {
  if (!s || !*s) return -1;
  uint64_t v = 0;
  bool over = false;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    uint64_t d = (uint64_t)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) over = true;
    else v = v * 10 + d;
  }
  if (over || v > hi) {
    if (!saturate) return -1;
    v = hi;
  }
  if (v < lo) return -1;
  *out = v;
  return 0;
}

/* The end of a command that printed its result on standard output (check's
** OK, disasm's listing, --help, --version): output that could not be
** written (a full disk, a closed descriptor, a non-blocking pipe's EAGAIN)
** is a failure, status 1, never a silent 0. A reader that went away
** (`hiko disasm F | head -1`) is such a failure too, "Broken pipe": main
** ignores SIGPIPE for every command, since SPEC §13.1 gives check and
** disasm the statuses 0, 1 and 2 only, and `run` ignores it anyway (the
** runtime does, §7.1.3). */
static int flush_stdout(int status) {
  if (fflush(stdout) == 0 && !ferror(stdout)) return status;
  fprintf(stderr, "hiko: cannot write standard output: %s\n", strerror(errno));
  return 1;
}

static void print_diags(const hiko_diags_t *d) {
  if (!d || hiko_diags_count(d) == 0) return;
  char *text = NULL;
  if (hiko_diags_render(d, &text) == 0 && text) {
    fputs(text, stderr);
    hiko_free(text);
  }
}

/* Compiles [path]; prints diagnostics. Returns the program or NULL. */
static hiko_program_t *compile(hiko_runtime_t *rt, const char *path) {
  hiko_program_t *prog = NULL;
  hiko_diags_t *diags = NULL;
  int rc = hiko_compile_file(rt, path, &prog, &diags);
  print_diags(diags);
  hiko_diags_free(diags);
  if (rc != 0) {
    if (rc != HIKO_ECOMPILE) fprintf(stderr, "hiko: %s: %s\n", path, hiko_strerror(rc));
    return NULL;
  }
  return prog;
}

/* The arguments of `check` and `disasm`: `--help` or `[--] FILE`. As for
** `run`, an argument that starts with "--" is an option (here only --help)
** and `--` ends the options, so a file named "--x" is `-- --x`. Returns the
** index of FILE in argv, or -1 with the exit status in [*status] after
** --help (0) or a usage error (2). */
static int parse_file_arg(int argc, char **argv, const char *cmd, int *status) {
  int i = 0;
  if (argc > 0 && strcmp(argv[0], "--help") == 0) {
    fputs(usage_text, stdout);
    *status = flush_stdout(0);
    return -1;
  }
  if (argc > 0 && strcmp(argv[0], "--") == 0) {
    i = 1;
  } else if (argc > 0 && argv[0][0] == '-' && argv[0][1] == '-') {
    *status = usage_error("unknown option '%s'", argv[0]);
    return -1;
  }
  if (argc - i != 1) {
    *status = usage_error("%s expects exactly one FILE", cmd);
    return -1;
  }
  return i;
}

static int cmd_check(int argc, char **argv) {
  int status;
  int fi = parse_file_arg(argc, argv, "check", &status);
  if (fi < 0) return status;
  hiko_program_t *prog = compile(NULL, argv[fi]);
  if (!prog) return 1;
  hiko_program_release(prog);
  puts("OK");
  return flush_stdout(0);
}

static int cmd_disasm(int argc, char **argv) {
  int status;
  int fi = parse_file_arg(argc, argv, "disasm", &status);
  if (fi < 0) return status;
  hiko_program_t *prog = compile(NULL, argv[fi]);
  if (!prog) return 1;
  char *text = NULL;
  int rc = hiko_program_disasm(prog, &text);
  hiko_program_release(prog);
  if (rc != 0) {
    fprintf(stderr, "hiko: disasm: %s\n", hiko_strerror(rc));
    return 1;
  }
  fputs(text, stdout);
  hiko_free(text);
  return flush_stdout(0);
}

typedef struct run_opts {
  hiko_config_t cfg;
  const char **allow_exec;
  size_t n_allow_exec;
  bool help; /* --help was given: the usage text is printed, status 0 */
} run_opts_t;

/* Whether [name] is exactly one of the options of run that take a value
** (not a piece of one: "--work" is an unknown option). */
static bool is_value_option(const char *name) {
  static const char *const names[] = {"--workers", "--reductions", "--fuel", "--max-heap",
                                      "--max-processes", "--fs-root", "--allow-exec", "--trace"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
    if (strcmp(name, names[k]) == 0) return true;
  return false;
}

/* Returns the index of FILE in argv, or -(exit status) on a usage error or
** after --help (o->help set; the status is then 0). */
static int parse_run_options(int argc, char **argv, run_opts_t *o) {
  int i = 0;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) { i++; break; }
    if (a[0] != '-' || a[1] != '-') break;
    if (strcmp(a, "--help") == 0) {
      fputs(usage_text, stdout);
      o->help = true;
      return -1;
    }
    const char *val = NULL;
    char name[64];
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    if (nlen >= sizeof name) return -usage_error("unknown option '%s'", a);
    memcpy(name, a, nlen);
    name[nlen] = '\0';
    bool takes = strcmp(name, "--no-net") != 0 && strcmp(name, "--stats") != 0;
    if (takes) {
      if (eq) val = eq + 1;
      else if (i + 1 < argc) val = argv[++i];
      else if (is_value_option(name))
        return -usage_error("%s expects a value", name);
    } else if (eq) {
      return -usage_error("%s takes no value", name);
    }
    uint64_t v;
    if (strcmp(name, "--workers") == 0) {
      if (parse_uint(val, 1, 1024, false, &v)) return -usage_error("--workers expects an integer between 1 and 1024%s", "");
      o->cfg.workers = (unsigned)v;
    } else if (strcmp(name, "--reductions") == 0) {
      if (parse_uint(val, 1, UINT32_MAX, true, &v)) return -usage_error("--reductions expects an integer of at least 1%s", "");
      o->cfg.reductions = (uint32_t)v;
    } else if (strcmp(name, "--fuel") == 0) {
      if (parse_uint(val, 0, UINT64_MAX, true, &v)) return -usage_error("--fuel expects a non-negative integer%s", "");
      o->cfg.fuel = v;
      o->cfg.fuel_limited = true; /* --fuel 0 is a budget of zero */
    } else if (strcmp(name, "--max-heap") == 0) {
      if (parse_uint(val, 1, UINT64_MAX, true, &v)) return -usage_error("--max-heap expects an integer of at least 1%s", "");
      o->cfg.max_heap = v;
    } else if (strcmp(name, "--max-processes") == 0) {
      if (parse_uint(val, 1, UINT64_MAX, true, &v)) return -usage_error("--max-processes expects an integer of at least 1%s", "");
      o->cfg.max_processes = v;
    } else if (strcmp(name, "--fs-root") == 0) {
      struct stat st;
      if (stat(val, &st) != 0 || !S_ISDIR(st.st_mode))
        return -usage_error("--fs-root: '%s' is not a directory", val);
      o->cfg.fs_root = val;
    } else if (strcmp(name, "--allow-exec") == 0) {
      const char **n = realloc(o->allow_exec, (o->n_allow_exec + 1) * sizeof *n);
      if (!n) return -70;
      o->allow_exec = n;
      o->allow_exec[o->n_allow_exec++] = val;
    } else if (strcmp(name, "--no-net") == 0) {
      o->cfg.allow_net = false;
    } else if (strcmp(name, "--stats") == 0) {
      o->cfg.stats = true;
    } else if (strcmp(name, "--trace") == 0) {
      /* The trace is written at exit (SPEC §10.10); a path that cannot be
      ** written is a bad value, found before the program runs rather than
      ** after it (created as the write at exit would; not truncated). */
      int fd = open(val, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
      if (fd < 0) {
        char msg[4200];
        snprintf(msg, sizeof msg, "--trace: cannot write '%.4000s': %s", val, strerror(errno));
        return -usage_error("%s", msg);
      }
      close(fd);
      o->cfg.trace_path = val;
    } else {
      return -usage_error("unknown option '%s'", name);
    }
  }
  if (i >= argc) return -usage_error("run expects a FILE%s", "");
  /* SPEC §13.3/§10.7.5: the variable names one of two backends. Any other
  ** value would leave the program without I/O (every read_file, sleep, ...
  ** failing with "I/O thread unavailable"), so it is refused up front. */
  const char *be = getenv("HIKO_IO_BACKEND");
  if (be && *be && strcmp(be, "uring") != 0 && strcmp(be, "fallback") != 0)
    return -usage_error("HIKO_IO_BACKEND expects uring or fallback, not '%s'", be);
  return i;
}

static int cmd_run(int argc, char **argv) {
  run_opts_t o;
  memset(&o, 0, sizeof o);
  hiko_config_init(&o.cfg);
  /* Test-only knob (docs/vm.md): HIKO_TEST_MAX_DEPTH=N, 0 < N < 1,000,000,
  ** lowers the call-depth limit of SPEC §4.3.3 so that a test of constant
  ** stack space can exceed it in a tenth of the iterations. */
  const char *md = getenv("HIKO_TEST_MAX_DEPTH");
  long mdv = md && *md ? strtol(md, NULL, 10) : 0;
  if (mdv > 0 && mdv < 1000000) o.cfg.max_stack_depth = (uint32_t)mdv;
  o.cfg.detect_deadlock = true;
  o.cfg.allow_exit = true;
  int fi = parse_run_options(argc, argv, &o);
  if (fi < 0) { free(o.allow_exec); return o.help ? flush_stdout(0) : -fi; }
  const char *file = argv[fi];
  o.cfg.argv = (const char *const *)(argv + fi + 1);
  o.cfg.argc = (size_t)(argc - fi - 1);
  o.cfg.allow_exec = o.allow_exec;
  o.cfg.n_allow_exec = o.n_allow_exec;

  hiko_runtime_t *rt = NULL;
  int rc = hiko_runtime_create(&rt, &o.cfg);
  if (rc != 0) {
    fprintf(stderr, "hiko: cannot create the runtime: %s\n", hiko_strerror(rc));
    free(o.allow_exec);
    return 70;
  }
  int status = 1;
  hiko_program_t *prog = compile(rt, file);
  if (prog) {
    hiko_pid_t root = 0;
    hiko_result_t res;
    memset(&res, 0, sizeof res);
    rc = hiko_spawn_main(rt, prog, &root);
    if (rc == 0) rc = hiko_run(rt);
    if (rc == 0) rc = hiko_join(rt, root, &res, -1);
    if (rc != 0) {
      fprintf(stderr, "hiko: %s\n", hiko_strerror(rc));
      status = 70;
    } else if (res.status == HIKO_DONE) {
      status = 0;
    } else if (res.status == HIKO_EXITED) {
      status = res.exit_code & 255;
    } else {
      fflush(stdout);
      fprintf(stderr, "error: %s\n", res.message ? res.message : "unknown failure");
      status = 1;
    }
    hiko_result_clear(&res);
    hiko_program_release(prog);
  }
  fflush(stdout);
  hiko_runtime_destroy(rt);
  free(o.allow_exec);
  return status;
}

/* A standard descriptor left closed by our caller would be taken by the
** runtime's own descriptors (eventfd, io_uring, files, sockets): print would
** write into them and read_line read from them (a hang). Hold each closed
** one with /dev/null opened the other way round, so that using it fails with
** EBADF as before (SPEC §8.2 "print: STRERROR", §7.1.3). */
static void hold_closed_std_fds(void) {
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int n = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
    if (n >= 0 && n != fd) {
      dup2(n, fd);
      close(n);
    }
  }
}

/* glibc returns the free top of an arena to the kernel once it exceeds the
** trim threshold, and serves a block above the mmap threshold with its own
** mapping. Both start low (128 KiB) and rise only when a mapped block is
** freed (to its size, and the trim threshold to twice that: mallopt(3)). A
** collection frees its from-space chunks and its adopted message blocks
** (malloc's above 2 KiB, vm/bcache.h) at once, so a process that receives
** large messages gave memory back every cycle and faulted it in again on the
** next: bigmsg (1,000-element lists) 1.04 page faults per round trip, 4.5
** with 3,000-element ones. Freeing one mapped block of PRIME_MAPPED bytes at
** the start raises the thresholds as glibc would after the first such block
** (2 MiB and 4 MiB): bigmsg has no fault left at 300 to 30,000 elements, and
** glibc still raises them further for larger blocks (fixed thresholds, with
** mallopt, cost bench/vm list 8 % more faults; bench/README.md, "Page faults
** of large messages, stop 19"). An embedding host chooses for itself
** (docs/embedding.md); so does a user who sets glibc's malloc tunables. */
#define PRIME_MAPPED ((size_t)2 << 20)
static void tune_malloc(void) {
#ifdef __GLIBC__
  const char *t = getenv("GLIBC_TUNABLES");
  if (t && strstr(t, "glibc.malloc.")) return;
  void *volatile p = malloc(PRIME_MAPPED); /* volatile: not elided with the free */
  free(p);
#endif
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  hold_closed_std_fds();
  tune_malloc();
  if (argc < 2) return usage_error("missing command%s", "");
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-v") == 0) {
    printf("hiko %s\n", hiko_version());
    return flush_stdout(0);
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage_text, stdout);
    return flush_stdout(0);
  }
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "check") == 0) return cmd_check(argc - 2, argv + 2);
  if (strcmp(cmd, "disasm") == 0) return cmd_disasm(argc - 2, argv + 2);
  return usage_error("unknown command '%s'", cmd);
}
