#!/usr/bin/env python3
"""QA of --fs-root with symbolic links and `..` (SPEC §7.5.1, §8.6), and
of tcp_accept when the process is out of descriptors (SPEC §7.4.4).

Usage: qa17_cli.py BUILD/hiko

A fresh tree per run (links cannot live in test/lang portably):

    T/root/a.txt, T/root/sub/          T/outside/secret.txt
    T/root/esc      -> ../outside              (a directory outside)
    T/root/escf     -> ../outside/secret.txt   (a file outside)
    T/root/back     -> ../root/a.txt           (leaves and comes back in)
    T/root/absin    -> T/root/a.txt            (absolute, inside)
    T/root/dang_out -> ../outside/missing.txt  (dangling, points outside)
    T/root/dang_in  -> sub/made.txt            (dangling, points inside)
    T/root/ina      -> a.txt

The program runs with `--fs-root .` from T/root (ROOT in messages must
still be the canonical T/root) and `--fs-root T/root` from T, on 1 and 4
workers. Expected lines follow the SPEC: the path is made canonical
(links resolved, missing trailing components allowed) and must lie inside
the root, else "NAME: path 'PATH' is outside allowed root 'ROOT'" with PATH
the resolved path. A dangling link resolves to where it points, so
dang_out is outside (before stop 17: file_exists named ROOT '.' and both
named PATH T/root/dang_out). remove_file unlinks the entry itself, as
unlink(2) does: removing the link `ina` leaves a.txt (before stop 17 it
removed a.txt under --fs-root and kept the link), and removing escf, a link
inside the root, is allowed and leaves the file outside alone.

EMFILE: hiko runs with RLIMIT_NOFILE 48 and fills its descriptor table with
connections to a listener that never accepts, until tcp_connect fails
("tcp_connect: Too many open files", §7.1.3); meanwhile a process waits in
tcp_accept on another listener. A client connects and sends "hello"; the
accept fails with EMFILE, which must never reach the program: it is retried
about every 10 ms, and once the root closes one filler the acceptor gets
the connection and returns what it received. Both I/O backends, 1 and 4
workers.

Last, `--stats`: without --workers the worker count is the CPUs available
(run with an affinity of one CPU, then of all), and io_backend= names the
backend HIKO_IO_BACKEND forced. And a read_line waiting on an open pipe is
a possible waker (§6.9.1): no deadlock before the line comes. And 450
connection handlers that fail, are cancelled or are detached keep no
descriptor (§7.4.1), under the same descriptor limit. Prints TAP.
"""
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qa14_cli import tap_report  # noqa: E402

PROGRAM = r'''fun try f = println (await_result (spawn f))
val _ = try (fn () => read_file "a.txt")
val _ = try (fn () => read_file "sub/../a.txt")
val _ = try (fn () => read_file "back")
val _ = try (fn () => read_file "absin")
val _ = try (fn () => read_file "esc/secret.txt")
val _ = try (fn () => read_file "escf")
val _ = try (fn () => read_file_bytes "sub/../../outside/secret.txt")
val _ = try (fn () => read_file "..")
val _ = try (fn () => list_dir "esc")
val _ = try (fn () => file_exists "dang_out")
val _ = try (fn () => file_exists "dang_in")
val _ = try (fn () => is_file "dang_out")
val _ = try (fn () => write_file ("dang_out", "x"))
val _ = try (fn () => write_file ("dang_in", "made"))
val _ = try (fn () => read_file "sub/made.txt")
val _ = try (fn () => remove_file "ina")
val _ = try (fn () => read_file "a.txt")
val _ = try (fn () => file_exists "ina")
val _ = try (fn () => remove_file "escf")
val _ = try (fn () => remove_file "../outside/secret.txt")
val _ = try (fn () => remove_file "dang_out")
val _ = try (fn () => list_dir ".")
'''


def expected(root, outside):
    def out(name, path):
        return "Err (RuntimeError %s: path '%s' is outside allowed root '%s')" % (
            name, path, root)
    lines = [
        "Ok in\n", "Ok in\n", "Ok in\n", "Ok in\n",
        out("read_file", outside + "/secret.txt"),
        out("read_file", outside + "/secret.txt"),
        out("read_file_bytes", outside + "/secret.txt"),
        out("read_file", os.path.dirname(root)),
        out("list_dir", outside),
        out("file_exists", outside + "/missing.txt"),
        "Ok false",
        out("is_file", outside + "/missing.txt"),
        out("write_file", outside + "/missing.txt"),
        "Ok ()",
        "Ok made",
        "Ok ()",
        "Ok in\n",
        "Ok false",
        "Ok ()",
        out("remove_file", outside + "/secret.txt"),
        "Ok ()",
        "Ok [a.txt, absin, back, dang_in, esc, sub]",
    ]
    return "".join(line + "\n" for line in lines)


def make_tree(tmp):
    root, outside = os.path.join(tmp, "root"), os.path.join(tmp, "outside")
    os.makedirs(os.path.join(root, "sub"))
    os.makedirs(outside)
    for path, text in ((os.path.join(root, "a.txt"), "in\n"),
                       (os.path.join(outside, "secret.txt"), "secret\n")):
        with open(path, "w") as f:
            f.write(text)
    links = {"esc": "../outside", "escf": "../outside/secret.txt",
             "back": "../root/a.txt", "absin": os.path.join(root, "a.txt"),
             "dang_out": "../outside/missing.txt", "dang_in": "sub/made.txt",
             "ina": "a.txt"}
    for name, target in links.items():
        os.symlink(target, os.path.join(root, name))
    with open(os.path.join(tmp, "links.hml"), "w") as f:
        f.write(PROGRAM)
    return root, outside


def one_run(hiko, workers, relative):
    with tempfile.TemporaryDirectory() as t:
        tmp = os.path.realpath(t)
        root, outside = make_tree(tmp)
        if relative:
            cmd, cwd = [hiko, "run", "--workers", str(workers), "--fs-root", ".",
                        "../links.hml"], root
        else:
            cmd, cwd = [hiko, "run", "--workers", str(workers), "--fs-root", "root",
                        "links.hml"], tmp
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=60)
        want = expected(root, outside)
        got = p.stdout.decode(errors="replace")
        if p.returncode != 0 or got != want:
            return "exit %d, stderr %r\n--- expected\n%s--- got\n%s" % (
                p.returncode, p.stderr[:300], want, got)
        # Nothing was written or removed outside the root.
        left = sorted(os.listdir(outside))
        if left != ["secret.txt"]:
            return "outside now holds %r" % left
        return None


EMFILE_PROGRAM = r'''val l1 = tcp_listen ("127.0.0.1", 0)
val l2 = tcp_listen ("127.0.0.1", 0)
val acceptor = spawn (fn () => socket_recv (tcp_accept l1, 100))
val me = self ()
fun fill acc =
  case await_result (spawn (fn () =>
         let val c = tcp_connect ("127.0.0.1", socket_port l2)
             val _ = socket_give (c, me)
         in c end)) of
    Ok c => fill (c :: acc)
  | Err e => (acc, e)
val (fillers, why) = fill []
val _ = println why
val _ = println (socket_port l1)
val _ = read_line ()
val _ = sleep 50
val _ = case fillers of c :: _ => socket_close c | [] => ()
val _ = println (await_process acceptor)
'''


def accept_out_of_descriptors(hiko, workers, backend):
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "emfile.hml"), "w") as f:
            f.write(EMFILE_PROGRAM)
        env = dict(os.environ, HIKO_IO_BACKEND=backend)
        p = subprocess.Popen([hiko, "run", "--workers", str(workers), "emfile.hml"], cwd=tmp,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=limit, env=env)
        try:
            why = p.stdout.readline()
            port = p.stdout.readline()
            if why != b"RuntimeError tcp_connect: Too many open files\n" or not port.strip():
                p.kill()
                return "first lines %r %r, stderr %r" % (why, port, p.communicate()[1][:300])
            with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
                s.sendall(b"hello")
                p.stdin.write(b"go\n")
                p.stdin.flush()
                out, err = p.communicate(timeout=30)
        except (subprocess.TimeoutExpired, OSError) as e:
            p.kill()
            p.communicate()
            return "no answer: %s" % e
        if p.returncode != 0 or out != b"hello\n":
            return "exit %d, stdout %r, stderr %r" % (p.returncode, out, err[:300])
        return None


def stats_line(hiko, env=None, affinity=None):
    """The `hiko stats:` line of a run of a one-line program."""
    def pin():
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "one.hml"), "w") as f:
            f.write("val _ = println 1\n")
        p = subprocess.run([hiko, "run", "--stats", "one.hml"], cwd=tmp, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, preexec_fn=pin, timeout=60)
    lines = [l for l in p.stderr.decode().splitlines() if l.startswith("hiko stats:")]
    return (p.returncode, lines[0] if lines else p.stderr.decode()[:300])


def stats_cases(hiko):
    """--workers defaults to the CPUs available (§13.1.4: the process's CPU
    affinity, as `taskset` sets it), and io_backend= reports the backend
    HIKO_IO_BACKEND forced (§10.7.5, §10.9, §13.3)."""
    res = []
    cpus = sorted(os.sched_getaffinity(0))
    for aff in ({cpus[0]}, set(cpus)):
        code, line = stats_line(hiko, affinity=aff)
        want = " workers=%d " % len(aff)
        res.append(("default --workers with %d CPU(s) available" % len(aff),
                    None if code == 0 and want in line else "exit %d, %r lacks %r" % (code, line, want)))
    for backend in ("fallback", "uring"):
        code, line = stats_line(hiko, env=dict(os.environ, HIKO_IO_BACKEND=backend))
        want = " io_backend=%s " % backend
        res.append(("HIKO_IO_BACKEND=%s in --stats" % backend,
                    None if code == 0 and want in line else "exit %d, %r lacks %r" % (code, line, want)))
    return res


READ_WAIT_PROGRAM = r'''val me = self ()
val c = spawn (fn () => send_message (me, read_line ()))
val m : String = receive_message ()
val _ = println ("got " ^ m)
'''


def read_line_is_a_waker(hiko, workers, backend):
    """§6.9.1: a read_line waiting on an open pipe is pending I/O, so the
    root blocked in receive_message is not deadlocked while no line has
    come (detection acts within 100 ms: the line comes after 400 ms)."""
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "wait.hml"), "w") as f:
            f.write(READ_WAIT_PROGRAM)
        p = subprocess.Popen([hiko, "run", "--workers", str(workers), "wait.hml"], cwd=tmp,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             env=dict(os.environ, HIKO_IO_BACKEND=backend))
        time.sleep(0.4)
        try:
            out, err = p.communicate(b"hello\n", timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return "no answer"
        if p.returncode != 0 or out != b"got hello\n":
            return "exit %d, stdout %r, stderr %r" % (p.returncode, out, err[:300])
        return None


LEAK_PROGRAM = r'''val l = tcp_listen ("127.0.0.1", 0)
val me = self ()
fun connect () = tcp_connect ("127.0.0.1", socket_port l)
(* a handler that fails after accepting *)
fun failed 0 = ()
  | failed n =
      let val h = spawn (fn () => let val s = tcp_accept l val _ = socket_send (s, "x") in panic "handler failed" end)
          val c = connect ()
          val _ = socket_recv (c, 1)
          val _ = await_result h
          val _ = socket_close c
      in failed (n - 1) end
(* a handler cancelled while it waits in socket_recv *)
fun cancelled 0 = ()
  | cancelled n =
      let val h = spawn (fn () => let val s = tcp_accept l val _ = socket_send (s, "x") in socket_recv (s, 10) end)
          val c = connect ()
          val _ = socket_recv (c, 1)
          val _ = cancel h
          val _ = await_result h
          val _ = socket_close c
      in cancelled (n - 1) end
(* a detached handler that fails; nobody joins it *)
fun detached 0 = ()
  | detached n =
      let val _ = spawn_detached (fn () => let val s = tcp_accept l val _ = socket_send (s, "x") in panic "detached failed" end)
          val c = connect ()
          val _ = socket_recv (c, 1)
          val _ = socket_recv (c, 1) (* "" once the handler's end closed its socket *)
          val _ = socket_close c
      in detached (n - 1) end
val _ = failed 150
val _ = println "failed handlers: no descriptor kept"
val _ = cancelled 150
val _ = println "cancelled handlers: no descriptor kept"
val _ = detached 150
val _ = println "detached handlers: no descriptor kept"
'''


def handlers_keep_no_descriptor(hiko, workers, backend):
    """§7.4.1: a socket closes when its owner ends, "so a failed connection
    handler never leaks a descriptor". 150 handlers that fail, 150 cancelled
    in socket_recv and 150 detached ones that fail, each after accepting,
    with RLIMIT_NOFILE 48: one descriptor kept per handler would run the
    table out within the first 40 (tcp_connect then fails, or tcp_accept
    retries for ever and the run times out)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "leak.hml"), "w") as f:
            f.write(LEAK_PROGRAM)
        try:
            p = subprocess.run([hiko, "run", "--workers", str(workers), "leak.hml"], cwd=tmp,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, preexec_fn=limit, timeout=60,
                               env=dict(os.environ, HIKO_IO_BACKEND=backend))
        except subprocess.TimeoutExpired:
            return "timed out (a descriptor kept per handler?)"
        want = b"".join(b"%s handlers: no descriptor kept\n" % k
                        for k in (b"failed", b"cancelled", b"detached"))
        if p.returncode != 0 or p.stdout != want:
            return "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout, p.stderr[:300])
        return None


def main():
    hiko = os.path.abspath(sys.argv[1])
    res = []
    for w in (1, 4):
        for relative in (True, False):
            res.append(("--fs-root %s with links and .., --workers %d"
                        % ("." if relative else "DIR", w), one_run(hiko, w, relative)))
    res += stats_cases(hiko)
    for backend in ("uring", "fallback"):
        for w in (1, 4):
            res.append(("ended connection handlers keep no descriptor, --workers %d, %s"
                        % (w, backend), handlers_keep_no_descriptor(hiko, w, backend)))
    for backend in ("uring", "fallback"):
        for w in (1, 4):
            res.append(("read_line on an open pipe is no deadlock, --workers %d, %s"
                        % (w, backend), read_line_is_a_waker(hiko, w, backend)))
    for backend in ("uring", "fallback"):
        for w in (1, 4):
            res.append(("tcp_accept retries EMFILE, --workers %d, %s" % (w, backend),
                        accept_out_of_descriptors(hiko, w, backend)))
    return tap_report(res)


if __name__ == "__main__":
    sys.exit(main())
