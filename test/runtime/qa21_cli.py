#!/usr/bin/env python3
"""QA of --fs-root with symbolic links (SPEC §7.5.1), beyond qa17_cli.py
(reads, writes, remove_file and file_exists through escaping and dangling
links): physical `..`, link loops, a root named through a link, and
walk_dir and glob over dangling links.

Usage: qa21_cli.py BUILD/hiko

A temporary tree: DIR/root (the root, named on the command line through a
link DIR/rootlink, so ROOT in messages is the canonical DIR/root), and
DIR/outside beside it. Inside the root: in -> sub, sub/back -> .. (the
root), abs_in -> DIR/root/sub (absolute), out -> ../outside, dangling_out
-> /nonexistent_qa21/x, dang_in -> missing.txt, loop -> loop; sub2 holds
a file and links esc -> /nonexistent_qa21/y (dangling, outside), a loop and
a dangling link inside; sub3 the same without esc. Each call runs in its
own process and prints its result or failure, compared with the SPEC:
- paths are made canonical physically (links first, then `..`), so
  "in/../f.txt" is DIR/root/f.txt and "in/back/../f.txt" is DIR/f.txt,
  outside, though read as text it would stay inside;
- walk_dir checks every entry and glob every match: a dangling link that
  points outside fails them with its resolved target as PATH (walk_dir
  skipped dangling links before stop 21, unchecked, since it lists only
  regular files; glob already failed); a dangling link inside or a link
  loop is passed over by walk_dir, and glob gives its canonical path (the
  link's target for a dangling link);
- a write through a link to a directory inside lands in its target; a
  write through an escaping link fails and leaves the file outside alone;
- a path through the root's own link, given absolute, is inside;
- a link to itself is "NAME: Too many levels of symbolic links" (ELOOP).

Fuel (SPEC 6.11.1: "exact and deterministic for a given program and
build"): a root that spawns three children, receives, sleeps 0, sends,
waits in wait_any, await_process, await_result and receive_timeout (each
of which blocks or not depending on scheduling) needs the same minimal
--fuel F on every worker count and slice budget: found by bisection on 1
worker with --reductions 2000, then F passes and F - 1 fails with "error: fuel
exhausted" (the root's: its children need far less than it has left, and
its last work comes after every blocking call) on 1 worker with --reductions 1 and 7, 4 workers with 2000
and 1, 2 workers with 13. A blocked call charged again when it resumes
would make F depend on the schedule.
Prints TAP.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qa14_cli import tap_report  # noqa: E402

PROGRAM = r'''
fun try f = println (await_result (spawn f))
val _ = try (fn () => read_file "sub/back/f.txt")
val _ = try (fn () => read_file "in/../f.txt")
val _ = try (fn () => read_file "in/back/../f.txt")
val _ = try (fn () => read_file "abs_in/g.txt")
val _ = try (fn () => read_file "loop")
val _ = try (fn () => write_file ("sub/back/w.txt", "w"))
val _ = try (fn () => write_file ("out/secret.txt", "overwritten"))
val _ = try (fn () => list_dir "in")
val _ = try (fn () => walk_dir ".")
val _ = try (fn () => walk_dir "in")
val _ = try (fn () => walk_dir "sub2")
val _ = try (fn () => walk_dir "sub3")
val _ = try (fn () => glob "sub2/*")
val _ = try (fn () => glob "sub3/*")
val _ = try (fn () => read_file (path_join (case args () of [d] => d | _ => "", "f.txt")))
'''


def build_tree(tmp):
    root = os.path.join(tmp, "root")
    outside = os.path.join(tmp, "outside")
    for d in ("sub", "sub2", "sub3"):
        os.makedirs(os.path.join(root, d))
    os.makedirs(outside)
    for path, text in ((os.path.join(root, "f.txt"), "inside"),
                       (os.path.join(root, "sub", "g.txt"), "g"),
                       (os.path.join(root, "sub2", "g2.txt"), "g2"),
                       (os.path.join(root, "sub3", "h.txt"), "h"),
                       (os.path.join(outside, "secret.txt"), "secret"),
                       (os.path.join(tmp, "f.txt"), "top")):
        with open(path, "w") as f:
            f.write(text)
    links = {"sub/back": "..", "in": "sub", "out": "../outside",
             "abs_in": os.path.join(root, "sub"), "dangling_out": "/nonexistent_qa21/x",
             "dang_in": "missing.txt", "loop": "loop",
             "sub2/esc": "/nonexistent_qa21/y", "sub2/loop2": "loop2", "sub2/dang2": "nothing2",
             "sub3/loop3": "loop3", "sub3/dang3": "nothing3"}
    for name, target in links.items():
        os.symlink(target, os.path.join(root, name))
    os.symlink("root", os.path.join(tmp, "rootlink"))
    return root, outside


def expected(root, outside, tmp):
    def out(name, path):
        return "Err (RuntimeError %s: path '%s' is outside allowed root '%s')" % (name, path, root)
    sec = os.path.join(outside, "secret.txt")
    return [
        "Ok inside", "Ok inside",
        out("read_file", os.path.join(tmp, "f.txt")),
        "Ok g",
        "Err (RuntimeError read_file: Too many levels of symbolic links)",
        "Ok ()",
        out("write_file", sec),
        "Ok [back, g.txt]",
        out("walk_dir", "/nonexistent_qa21/x"),
        out("walk_dir", "/nonexistent_qa21/x"),
        out("walk_dir", "/nonexistent_qa21/y"),
        "Ok [%s]" % os.path.join(root, "sub3", "h.txt"),
        out("glob", "/nonexistent_qa21/y"),
        "Ok [%s]" % ", ".join(os.path.join(root, "sub3", n) for n in ("h.txt", "loop3", "nothing3")),
        "Ok inside",
    ]


def check(hiko, tmp):
    root, outside = build_tree(tmp)
    root = os.path.realpath(root)
    outside = os.path.realpath(outside)
    rtmp = os.path.realpath(tmp)
    with open(os.path.join(tmp, "p.hml"), "w") as f:
        f.write(PROGRAM)
    p = subprocess.run([hiko, "run", "--fs-root", "rootlink", "p.hml",
                        os.path.join(tmp, "rootlink")],
                       cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        return "exit %d, stderr %r" % (p.returncode, p.stderr.decode(errors="replace")[:300])
    got = p.stdout.decode(errors="replace").splitlines()
    want = expected(root, outside, rtmp)
    for k, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return "line %d: got %r, expected %r" % (k + 1, g, w)
    if len(got) != len(want):
        return "%d lines, expected %d" % (len(got), len(want))
    with open(os.path.join(outside, "secret.txt")) as f:
        if f.read() != "secret":
            return "the file outside was overwritten"
    if sorted(os.listdir(outside)) != ["secret.txt"]:
        return "a file was created outside: %r" % sorted(os.listdir(outside))
    if os.path.exists("/nonexistent_qa21"):
        return "/nonexistent_qa21 was created"
    for name, text in (("w.txt", "w"),):
        try:
            with open(os.path.join(root, name)) as f:
                if f.read() != text:
                    return "root/%s does not hold %r" % (name, text)
        except OSError as e:
            return "root/%s: %s" % (name, e)
    return None


FUEL_PROGRAM = r'''
fun loop (0, acc) = acc | loop (n, acc) = loop (n - 1, acc + n)
val me = self ()
val k1 = spawn (fn () => loop (300, 0))
val k2 = spawn (fn () => let val _ = send_message (me, loop (200, 0)) in 1 end)
val k3 = spawn (fn () => let val m : Int = receive_message () in m + 1 end)
val a : Int = receive_message ()
val _ = sleep 0
val _ = send_message (k3, a)
val w = wait_any [k3, k1]
val r1 = await_process k1
val r3 = await_process k3
val r2 = await_result k2
val t = receive_timeout (1, 0)
val _ = println (a, r1, r3, (w = k3) <> (w = k1), t, loop (3000, 0))
'''
FUEL_OUT = b"(20100, 45150, 20101, true, 0, 4501500)\n"


def fuel_run(hiko, tmp, fuel, workers, reductions):
    p = subprocess.run([hiko, "run", "--workers", str(workers), "--reductions", str(reductions),
                        "--fuel", str(fuel), "fuel.hml"],
                       cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode == 0 and p.stdout == FUEL_OUT:
        return True
    if p.returncode == 1 and p.stderr.startswith(b"error: fuel exhausted"):
        return False  # the root out of fuel (the children need far less than it has left)
    return "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[:200], p.stderr[:200])


def fuel_check(hiko, tmp):
    with open(os.path.join(tmp, "fuel.hml"), "w") as f:
        f.write(FUEL_PROGRAM)
    lo, hi = 0, 1 << 17
    while lo < hi:
        mid = (lo + hi) // 2
        r = fuel_run(hiko, tmp, mid, 1, 2000)
        if isinstance(r, str):
            return "--fuel %d: %s" % (mid, r)
        lo, hi = (lo, mid) if r else (mid + 1, hi)
    if lo == 1 << 17:
        return "no fuel up to 2^17 is enough"
    for w, red in ((1, 1), (1, 7), (4, 2000), (4, 1), (2, 13)):
        for fuel, want in ((lo, True), (lo - 1, False)):
            r = fuel_run(hiko, tmp, fuel, w, red)
            if r is not want:
                return "minimal fuel %d on 1 worker; --fuel %d --workers %d --reductions %d: %s" % (
                    lo, fuel, w, red, r)
    return None


def main():
    hiko = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        res = [("--fs-root through symbolic links: inside, escaping, dangling, looping",
                check(hiko, tmp)),
               ("the fuel a program needs does not depend on --workers or --reductions",
                fuel_check(hiko, tmp))]
    return tap_report(res)


if __name__ == "__main__":
    sys.exit(main())
