#!/usr/bin/env python3
"""QA of what `hiko run` shows outside the program's own output: --stats
(SPEC §10.9), --trace FILE (§10.10), and standard output and input in odd
states (§8.2 "print: STRERROR", §7.1.3 SIGPIPE ignored, §6.13.3 one print is
one unit), and the issue order of concurrent read_line calls (§7.3.3), which
needs input that arrives only after every reader waits.

Usage: qa_cli_check.py BUILD/hiko

Runs small programs with several worker counts and checks the exact structure
of the statistics (summary line, header, one line per worker, a total that is
the column sums, counts the program determines), that the trace is valid JSON
with the fields and values the SPEC gives, and the output rules. Prints TAP.
"""
import fcntl
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HEADER = "worker slices steals stolen parks sent received dropped spawns io_ops gc_runs"
COLS = HEADER.split()[1:]
SUMMARY = re.compile(r"^hiko stats: workers=(\d+) wall_ms=(\d+) io_backend=(\S+) "
                     r"processes=(\d+) done=(\d+) failed=(\d+) cancelled=(\d+)$")
ENDS = {"yield", "block", "done", "fail", "cancel"}

# Program text -> what the statistics must show (SPEC §10.9, §6.5.1, §6.5.5).
# 'counts': exact values of the summary; 'total': exact values of total columns.
PROGRAMS = {
    "messages": (
        "fun recv n acc = if n = 0 then acc else recv (n - 1) (acc + receive_message ())\n"
        "val c = spawn (fn () => recv 100 0)\n"
        "fun send i = if i > 100 then () else let val _ = send_message (c, i) in send (i + 1) end\n"
        "val _ = send 1\n"
        "val _ = println (await_process c)\n"
        "val dead = spawn (fn () => 0)\n"
        "val _ = await_process dead\n"
        "val _ = send_message (dead, 1)\n"
        "val _ = send_message (dead, 2)\n",
        "5050\n",
        {"processes": 3, "done": 3, "failed": 0, "cancelled": 0},
        # 100 to c plus 2 dropped ones that still count as sent? The SPEC
        # does not say whether a dropped message counts as sent, so only
        # received, dropped and spawns are exact.
        {"received": 100, "dropped": 2, "spawns": 2},
    ),
    "outcomes": (
        "val a = spawn (fn () => 1)\n"
        "val b = spawn (fn () => panic \"x\")\n"
        "val c = spawn (fn () => receive_message () : Int)\n"
        "val d = spawn_detached (fn () => panic \"y\")\n"
        "val _ = await_result a\n"
        "val _ = await_result b\n"
        "val _ = cancel c\n"
        "val _ = await_result c\n"
        "val e = spawn (fn () => receive_message () : Int)\n"
        "val _ = send_message (e, 1)\n"
        "val _ = send_message (e, 2)\n"
        "val _ = send_message (e, 3)\n"
        "val _ = await_process e\n"
        "val _ = sleep 20\n"
        "val _ = println \"end\"\n",
        "end\n",
        # a done, b failed, c cancelled, d failed (detached: counted, §6.4.4),
        # e done (its two unread messages are dropped, §6.5.5), root done.
        {"processes": 6, "done": 3, "failed": 2, "cancelled": 1},
        {"received": 1, "dropped": 2, "spawns": 5},
    ),
    "failed_root": (
        "val c = spawn (fn () => receive_message () : Int)\n"
        "val _ = panic \"boom\"\n",
        "",
        # the root fails; its live child is cancelled (§6.8.1)
        {"processes": 2, "done": 0, "failed": 1, "cancelled": 1},
        {"spawns": 1},
    ),
    "busy": (
        "fun loop n = if n = 0 then 0 else loop (n - 1)\n"
        "val ps = [spawn (fn () => loop 200000), spawn (fn () => loop 200000),\n"
        "          spawn (fn () => loop 200000)]\n"
        "fun all xs = case xs of [] => 0 | p :: r => await_process p + all r\n"
        "val _ = println (all ps)\n",
        "0\n",
        {"processes": 4, "done": 4, "failed": 0, "cancelled": 0},
        {"spawns": 3},
    ),
}


def run(hiko, workers, src, extra, tmp):
    path = os.path.join(tmp, "prog.hml")
    with open(path, "w") as f:
        f.write(src)
    cmd = [hiko, "run", "--workers", str(workers)] + extra + [path]
    return subprocess.run(cmd, capture_output=True, timeout=60, text=True)


def check_stats(err, workers, counts, totals):
    lines = [l for l in err.splitlines() if not l.startswith("error:") and not l.startswith("  ")]
    i = next((k for k, l in enumerate(lines) if l.startswith("hiko stats:")), None)
    if i is None:
        return "no 'hiko stats:' line in %r" % err
    m = SUMMARY.match(lines[i])
    if not m:
        return "summary line %r does not match the SPEC's format" % lines[i]
    got = dict(zip(["workers", "wall_ms", "io_backend", "processes", "done", "failed",
                    "cancelled"], m.groups()))
    if int(got["workers"]) != workers:
        return "workers=%s, expected %d" % (got["workers"], workers)
    for k, v in counts.items():
        if int(got[k]) != v:
            return "%s=%s, expected %d (%s)" % (k, got[k], v, lines[i])
    if lines[i + 1] != HEADER:
        return "header %r, expected %r" % (lines[i + 1], HEADER)
    rows = lines[i + 2:i + 2 + workers]
    total = lines[i + 2 + workers] if len(lines) > i + 2 + workers else ""
    sums = [0] * len(COLS)
    for w, row in enumerate(rows):
        f = row.split(" ")
        if len(f) != len(COLS) + 1 or f[0] != str(w) or not all(x.isdigit() for x in f[1:]):
            return "worker line %d is %r" % (w, row)
        sums = [a + int(b) for a, b in zip(sums, f[1:])]
    f = total.split(" ")
    if len(f) != len(COLS) + 1 or f[0] != "total" or not all(x.isdigit() for x in f[1:]):
        return "total line is %r" % total
    tot = dict(zip(COLS, map(int, f[1:])))
    if [tot[c] for c in COLS] != sums:
        return "total %r is not the sum of the worker lines %r" % (total, sums)
    for k, v in totals.items():
        if tot[k] != v:
            return "total %s=%d, expected %d (%s)" % (k, tot[k], v, total)
    if tot["slices"] < int(got["processes"]):
        return "fewer slices (%d) than processes" % tot["slices"]
    if tot["sent"] < tot["received"]:
        return "sent %d < received %d" % (tot["sent"], tot["received"])
    return None


def check_trace(path, workers, expect_ends):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return "trace is not valid JSON: %s" % e
    if set(doc) != {"traceEvents", "displayTimeUnit"} or doc["displayTimeUnit"] != "ms":
        return "top level keys %r" % sorted(doc)
    names, ends, slices = set(), set(), 0
    for ev in doc["traceEvents"]:
        if ev.get("ph") == "M":
            if ev.get("name") == "thread_name":
                names.add(ev.get("args", {}).get("name"))
            continue
        if ev.get("ph") != "X":
            continue  # instant events MAY be added
        slices += 1
        for k in ("name", "cat", "ts", "dur", "pid", "tid", "args"):
            if k not in ev:
                return "slice event without %r: %r" % (k, ev)
        a = ev["args"]
        if ev["cat"] != "slice" or ev["pid"] != 1:
            return "slice event %r" % ev
        if not isinstance(a.get("pid"), int) or ev["name"] != "pid %d" % a["pid"]:
            return "slice name and args.pid disagree: %r" % ev
        if not isinstance(ev["tid"], int) or not 0 <= ev["tid"] < workers:
            return "tid %r outside 0..%d" % (ev["tid"], workers - 1)
        if not all(isinstance(ev[k], (int, float)) and ev[k] >= 0 for k in ("ts", "dur")):
            return "ts/dur not non-negative numbers: %r" % ev
        if not isinstance(a.get("reductions"), int) or a["reductions"] < 0:
            return "reductions %r" % a.get("reductions")
        if a.get("end") not in ENDS:
            return "end %r not one of %s" % (a.get("end"), sorted(ENDS))
        ends.add(a["end"])
    want = {"worker %d" % i for i in range(workers)} | {"io"}
    if not want <= names:
        return "thread names %r lack %r" % (sorted(n for n in names if n), sorted(want - names))
    if not expect_ends <= ends:
        return "slice ends %r lack %r" % (sorted(ends), sorted(expect_ends - ends))
    if slices == 0:
        return "no slice events"
    return None


TRACE_SRC = (
    "fun loop n = if n = 0 then 0 else loop (n - 1)\n"
    "val a = spawn (fn () => loop 100000)\n"           # yields, then done
    "val b = spawn (fn () => panic \"x\")\n"            # fail
    "val c = spawn (fn () => receive_message () : Int)\n"  # block, then cancel
    "val _ = await_process a\n"                        # the root blocks
    "val _ = await_result b\n"
    "val _ = sleep 10\n"
    "val _ = cancel c\n"
    "val _ = await_result c\n"
)


LINES_SRC = (
    "fun dbl s n = if n = 0 then s else dbl (s ^ s) (n - 1)\n"
    "fun line c = dbl c 14\n"
    "fun many s n = if n = 0 then () else let val _ = println s in many s (n - 1) end\n"
    "val ps = [spawn (fn () => many (line \"a\") 50), spawn (fn () => many (line \"b\") 50),\n"
    "          spawn (fn () => many (line \"c\") 50)]\n"
    "val _ = many (line \"d\") 50\n"
    "fun all xs = case xs of [] => () | p :: r => let val _ = await_process p in all r end\n"
    "val _ = all ps\n"
)


def check_lines(hiko, tmp):
    """§6.13.3: 16,384-character lines from 4 processes never interleave,
    also through a pipe (atomic only up to PIPE_BUF)."""
    out = []
    for workers in (1, 4):
        p = run(hiko, workers, LINES_SRC, [], tmp)
        lines = p.stdout.split("\n")
        why = None
        if p.returncode != 0 or lines[-1] != "":
            why = "exit %d, stderr %r" % (p.returncode, p.stderr[:200])
        else:
            for c in "abcd":
                n = lines.count(c * 16384)
                if n != 50:
                    why = "%d intact lines of %r, expected 50" % (n, c)
            if why is None and len(lines) != 201:
                why = "%d lines" % (len(lines) - 1)
        out.append(("print atomic --workers %d" % workers, why))
    return out


def check_std_streams(hiko, tmp):
    """§8.2: a failed write fails the caller with "println: STRERROR";
    §7.1.3: SIGPIPE is ignored. A closed descriptor must not be confused
    with one the runtime opened itself (no hang, no stray writes)."""
    res = []
    path = os.path.join(tmp, "std.hml")
    with open(path, "w") as f:
        f.write("val _ = sleep 100\nval _ = println \"1234567\"\nval _ = println \"x\"\n")

    def go(name, want_err, **kw):
        try:
            p = subprocess.run([hiko, "run", "--workers", "2", path], timeout=20, **kw)
            err = p.stderr.decode() if p.stderr else ""
            ok = p.returncode == 1 and ("error: " + want_err) in err
            res.append((name, None if ok else "exit %d, stderr %r" % (p.returncode, err)))
        except subprocess.TimeoutExpired:
            res.append((name, "hangs"))

    go("stdout to /dev/full", "println: No space left on device",
       stdout=open("/dev/full", "w"), stderr=subprocess.PIPE)
    # A closed standard output: the runtime's first descriptor must not take its place.
    go("stdout closed", "println: Bad file descriptor", stderr=subprocess.PIPE,
       preexec_fn=lambda: os.close(1))
    # A reader that went away: Broken pipe, not death by SIGPIPE.
    def reader_gone(name, workers, prog):
        p = subprocess.Popen([hiko, "run", "--workers", workers, prog], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdout.close()
        try:
            err = p.stderr.read().decode()
            rc = p.wait(timeout=60)
            ok = rc == 1 and "error: println: Broken pipe" in err
            res.append((name, None if ok else "exit %d, stderr %r" % (rc, err)))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            res.append((name, "hangs"))

    reader_gone("stdout reader gone", "2", path)
    # The same with a program that does no I/O at all, so that nothing but
    # the runtime's creation can have set SIGPIPE aside (before stop 18 only
    # the I/O thread's start did: this program died of SIGPIPE, status 141
    # under a shell). 100,000 lines outgrow any pipe buffer, so the writes
    # fail whenever the reader goes away.
    noio = os.path.join(tmp, "noio.hml")
    with open(noio, "w") as f:
        f.write("fun loop 0 = () | loop n = let val _ = println n in loop (n - 1) end\n"
                "val _ = loop 100000\n")
    for workers in ("1", "4"):
        reader_gone("stdout reader gone, no I/O --workers " + workers, workers, noio)
    # A standard output pipe with O_NONBLOCK set on its file description (a
    # parent may do that) and a reader that is slow to start: a full pipe is
    # EAGAIN, which is not a failed write; every line must arrive (before
    # stop 18: "error: println: Resource temporarily unavailable" after about
    # 64 KiB).
    for workers in ("1", "4"):
        name = "stdout non-blocking, slow reader --workers " + workers
        r, w = os.pipe()
        fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
        p = subprocess.Popen([hiko, "run", "--workers", workers, noio], stdout=w,
                             stderr=subprocess.PIPE)
        os.close(w)
        time.sleep(0.5)
        with os.fdopen(r, "rb") as reader:
            data = reader.read()
        try:
            rc = p.wait(timeout=60)
            err = p.stderr.read().decode()
            ok = rc == 0 and data.count(b"\n") == 100000 and data.endswith(b"\n2\n1\n")
            res.append((name, None if ok else "exit %d, %d lines, stderr %r"
                        % (rc, data.count(b"\n"), err)))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            res.append((name, "hangs"))
    # A closed standard input: read_line must not read the runtime's own
    # descriptors (it hung); end of input or an EBADF failure are both fine.
    rl = os.path.join(tmp, "rl.hml")
    with open(rl, "w") as f:
        f.write("val l = read_line ()\nval _ = println (\"got [\" ^ l ^ \"]\")\n")
    try:
        p = subprocess.run([hiko, "run", "--workers", "2", rl], timeout=20, capture_output=True,
                           preexec_fn=lambda: os.close(0))
        ok = (p.returncode == 0 and p.stdout == b"got []\n") or (
            p.returncode == 1 and b"error: read_line: Bad file descriptor" in p.stderr)
        res.append(("stdin closed", None if ok else "exit %d, %r %r" % (p.returncode, p.stdout, p.stderr)))
    except subprocess.TimeoutExpired:
        res.append(("stdin closed", "read_line hangs"))
    return res


READ_ORDER_SRC = """
val root = self ()
fun reader name = spawn (fn () =>
  let val _ = send_message (root, name) in name ^ "=" ^ read_line () end)
val a = reader "A"
val _ = receive_message ()
val _ = sleep 200
val b = reader "B"
val _ = receive_message ()
val _ = sleep 200
val c = reader "C"
val _ = receive_message ()
val _ = sleep 200
val _ = println "ready"
val mine = read_line ()
val _ = println (await_process a)
val _ = println (await_process b)
val _ = println (await_process c)
val _ = println ("root=" ^ mine)
"""


def check_read_line_order(hiko, tmp):
    """§7.3.3: concurrent read_line calls are served in the order they were
    issued. Three processes block in read_line 200 ms apart (A, B, C), then
    the root prints "ready" (read_line flushes standard output before it
    waits) and reads too; only then does the input arrive, all four lines
    in one write, so the order in which the requests are served is all that
    decides who gets which line."""
    import select
    res = []
    path = os.path.join(tmp, "rlorder.hml")
    with open(path, "w") as f:
        f.write(READ_ORDER_SRC)
    for workers in (1, 4):
        name = "read_line issue order --workers %d" % workers
        p = subprocess.Popen([hiko, "run", "--workers", str(workers), path], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            ready, _, _ = select.select([p.stdout], [], [], 20)
            first = p.stdout.readline() if ready else b""
            if first != b"ready\n":
                p.kill()
                p.wait()
                res.append((name, "no 'ready' line: %r" % first))
                continue
            p.stdin.write(b"1\n2\n3\n4\n")
            p.stdin.close()
            out = p.stdout.read()
            err = p.stderr.read()
            rc = p.wait(timeout=20)
            want = b"A=1\nB=2\nC=3\nroot=4\n"
            res.append((name, None if rc == 0 and out == want else
                        "exit %d, stdout %r, stderr %r" % (rc, out, err[:200])))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            res.append((name, "hangs"))
    return res


END_IO_SRC = """
val l = tcp_listen ("127.0.0.1", 0)
val a = spawn (fn () => read_line ())
val b = spawn (fn () => tcp_accept l)
val c = spawn (fn () => sleep 100000)
val _ = sleep 100
val _ = println "root ends"
"""


def check_end_with_io(hiko, tmp):
    """§6.8.1 / §7.6: when the root ends, children blocked in read_line (on
    standard input that stays open), tcp_accept and a long sleep are
    cancelled and the program exits at once with the root's status."""
    res = []
    path = os.path.join(tmp, "endio.hml")
    with open(path, "w") as f:
        f.write(END_IO_SRC)
    for workers in (1, 4):
        name = "program end cancels pending I/O --workers %d" % workers
        p = subprocess.Popen([hiko, "run", "--workers", str(workers), path], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # Not communicate(): it would close standard input. The output
            # is a few bytes, so waiting with the pipes unread is safe.
            p.wait(timeout=20)
            out, err = p.stdout.read(), p.stderr.read()
            p.stdin.close()
            ok = p.returncode == 0 and out == b"root ends\n"
            res.append((name, None if ok else "exit %d, %r %r" % (p.returncode, out, err[:200])))
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            res.append((name, "does not exit"))
    return res


def check_small_stack(hiko, tmp):
    """§14.2, §2.3: no input crashes the compiler, whatever the caller's
    stack. A program nested to the limit (the 256th level: accepted; the
    257th: "expression nesting limit exceeded") checked under RLIMIT_STACK
    of 256 KiB, where the front end's native recursion on the main thread
    died of SIGSEGV before stop 18; and a program that runs with such a
    stack (the VM and the builtins use no native recursion, §4.3.3)."""
    res = []

    def small():
        resource.setrlimit(resource.RLIMIT_STACK, (256 * 1024, 256 * 1024))

    for depth, rc, want in ((255, 0, b"OK\n"), (256, 1, b"expression nesting limit exceeded")):
        path = os.path.join(tmp, "nest%d.hml" % depth)
        with open(path, "w") as f:
            f.write("val x = " + "(" * depth + "1" + ")" * depth + "\n")
        p = subprocess.run([hiko, "check", path], capture_output=True, timeout=60,
                           preexec_fn=small)
        ok = p.returncode == rc and want in (p.stdout + p.stderr)
        res.append(("check nested %d, 256 KiB stack" % depth,
                    None if ok else "exit %d, %r" % (p.returncode, (p.stdout + p.stderr)[:200])))
    path = os.path.join(tmp, "deep.hml")
    with open(path, "w") as f:
        f.write("datatype n = Z | S of n\n"
                "fun mk (0, a) = a | mk (k, a) = mk (k - 1, S a)\n"
                "fun sum 0 = 0 | sum k = k + sum (k - 1)\n"
                "val d = mk (100000, Z)\n"
                "val c = await_process (spawn (fn () => S d))\n"
                "val _ = println (sum 100000, c = S d)\n")
    p = subprocess.run([hiko, "run", "--workers", "2", path], capture_output=True, timeout=60,
                       preexec_fn=small)
    ok = p.returncode == 0 and p.stdout == b"(5000050000, true)\n"
    res.append(("run deep values, 256 KiB stack",
                None if ok else "exit %d, %r %r" % (p.returncode, p.stdout, p.stderr[:200])))
    return res


def main():
    hiko = sys.argv[1]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (src, out, counts, totals) in PROGRAMS.items():
            for workers in (1, 4):
                p = run(hiko, workers, src, ["--stats"], tmp)
                why = None
                if p.stdout != out:
                    why = "stdout %r, expected %r" % (p.stdout, out)
                elif p.returncode != (1 if counts["done"] == 0 else 0):
                    why = "exit status %d" % p.returncode
                else:
                    why = check_stats(p.stderr, workers, counts, totals)
                results.append(("stats %s --workers %d" % (name, workers), why))
        for workers in (1, 3):
            tpath = os.path.join(tmp, "trace.json")
            p = run(hiko, workers, TRACE_SRC, ["--reductions", "500", "--trace", tpath], tmp)
            why = None
            if p.returncode != 0:
                why = "exit status %d: %s" % (p.returncode, p.stderr)
            else:
                why = check_trace(tpath, workers, {"yield", "block", "done", "fail"})
            results.append(("trace --workers %d" % workers, why))
        results += check_lines(hiko, tmp)
        results += check_std_streams(hiko, tmp)
        results += check_read_line_order(hiko, tmp)
        results += check_end_with_io(hiko, tmp)
        results += check_small_stack(hiko, tmp)
    print("1..%d" % len(results))
    for k, (name, why) in enumerate(results, 1):
        print(("ok %d - %s" % (k, name)) if why is None else ("not ok %d - %s: %s" % (k, name, why)))
    return 0 if all(w is None for _, w in results) else 1


if __name__ == "__main__":
    sys.exit(main())
