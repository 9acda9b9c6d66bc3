#!/usr/bin/env python3
"""QA of the command line's output and option values (SPEC §13.1), and of
directory listings with odd entries (SPEC §8.6).

Usage: qa19_cli.py BUILD/hiko

1. Standard output that cannot be written. `hiko check` prints OK,
   `hiko disasm` the listing, `--version` and `--help` their text; when
   that text cannot be written (standard output on /dev/full: ENOSPC) the
   command failed, so its status is 1 with "hiko: cannot write standard
   output: STRERROR" on standard error (before stop 19: status 0, nothing
   said). So is a reader that went away (stop 20): standard output a pipe
   whose read end is closed before the command starts, or `hiko disasm
   big.hml | head -1`; SPEC §13.1 gives check and disasm the statuses 0, 1
   and 2 only, so "...: Broken pipe" and status 1, not death by SIGPIPE
   (141 in a shell; before stop 20). `hiko run` into a closed pipe fails its
   println (§7.1.3, §8.2): "error: println: Broken pipe", status 1.
2. `--trace FILE` where FILE cannot be written (a missing directory, a
   directory): a bad option value, so status 2, "hiko: --trace: cannot
   write 'FILE': STRERROR" and the usage text, and the program does not run
   (before stop 19 it ran, the trace was lost at exit and the status was 0).
3. list_dir, walk_dir and glob over a directory holding a dangling link, a
   link to a file, a file whose name is not UTF-8 and a subdirectory:
   list_dir names every entry (sorted by bytes); walk_dir gives every
   regular file, links followed, so the dangling link (not a regular file)
   and the directory are left out; a name that is not UTF-8 comes back with U+FFFD for the bad
   byte (strings stay valid UTF-8, SPEC §4.6; docs/builtins.md), and since
   that name is not the file's, file_exists of it is false.
Prints TAP.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qa14_cli import tap_report  # noqa: E402

ENOSPC = "hiko: cannot write standard output: No space left on device"
EPIPE = "hiko: cannot write standard output: Broken pipe"


def run(cmd, cwd=None, stdout=subprocess.PIPE):
    return subprocess.run(cmd, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, timeout=60)


def full_stdout(hiko, args, cwd):
    with open("/dev/full", "wb") as full:
        p = run([hiko] + args, cwd=cwd, stdout=full)
    err = p.stderr.decode(errors="replace")
    if p.returncode != 1 or ENOSPC not in err:
        return "exit %d, stderr %r" % (p.returncode, err[:300])
    return None


def closed_reader(hiko, args, cwd, want_err):
    r, w = os.pipe()
    os.close(r)
    try:
        p = run([hiko] + args, cwd=cwd, stdout=w)
    finally:
        os.close(w)
    err = p.stderr.decode(errors="replace")
    if p.returncode != 1 or want_err not in err:
        return "exit %d, stderr %r" % (p.returncode, err[:300])
    return None


def head_one_line(hiko, args, cwd):
    p = subprocess.Popen([hiko] + args, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode(errors="replace")
    rc = p.wait(timeout=60)
    if not first or rc != 1 or EPIPE not in err:
        return "first line %r, exit %d, stderr %r" % (first, rc, err[:300])
    return None


def trace_unwritable(hiko, tmp, path, why):
    p = run([hiko, "run", "--trace", path, "p.hml"], cwd=tmp)
    err = p.stderr.decode(errors="replace")
    want = "hiko: --trace: cannot write '%s': %s" % (path, why)
    if p.returncode != 2 or not err.startswith(want + "\n") or "usage: hiko run" not in err \
            or p.stdout != b"":
        return "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout, err[:300])
    return None


LISTING = r'''val _ = println (list_dir "d")
val _ = println (walk_dir "d")
val _ = println (glob "d/*")
val _ = println (map (fn n => file_exists (path_join ("d", n))) (list_dir "d"))
val _ = println (is_file "d/ln", is_file "d/dang", file_exists "d/dang")
'''


def listings(hiko, tmp, workers):
    d = os.path.join(tmp, "d")
    if not os.path.isdir(d):
        os.makedirs(os.path.join(d, "sub"))
        for name in (b"b.txt", b"sub/c.txt", b"x\xffy"):
            with open(os.path.join(d.encode(), name), "wb") as f:
                f.write(b"1")
        os.symlink("b.txt", os.path.join(d, "ln"))
        os.symlink("missing.txt", os.path.join(d, "dang"))
        with open(os.path.join(tmp, "list.hml"), "w") as f:
            f.write('use "stdlib/list.hml"\n' + LISTING)
    p = run([hiko, "run", "--workers", str(workers), "list.hml"], cwd=tmp)
    bad = "x\ufffdy"
    want = ("[b.txt, dang, ln, sub, %s]\n" % bad
            + "[d/b.txt, d/ln, d/sub/c.txt, d/%s]\n" % bad
            + "[d/b.txt, d/dang, d/ln, d/sub, d/%s]\n" % bad
            + "[true, false, true, true, false]\n"
            + "(true, false, false)\n").encode()
    if p.returncode != 0 or p.stdout != want:
        return "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout, p.stderr[:300])
    return None


def main():
    hiko = os.path.abspath(sys.argv[1])
    res = []
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "p.hml"), "w") as f:
            f.write('val _ = println "ran"\n')
        for args in (["check", "p.hml"], ["disasm", "p.hml"], ["--version"], ["--help"],
                     ["run", "--help"], ["check", "--help"], ["disasm", "--help"]):
            res.append(("hiko %s with standard output full: status 1" % " ".join(args),
                        full_stdout(hiko, args, tmp)))
            res.append(("hiko %s into a closed pipe: status 1, not SIGPIPE" % " ".join(args),
                        closed_reader(hiko, args, tmp, EPIPE)))
        # a listing far larger than a pipe's buffer (64 KiB)
        with open(os.path.join(tmp, "big.hml"), "w") as f:
            f.write("".join("val x%d = %d + 1\n" % (i, i) for i in range(4000)))
        res.append(("hiko disasm big.hml into a closed pipe: status 1",
                    closed_reader(hiko, ["disasm", "big.hml"], tmp, EPIPE)))
        res.append(("hiko disasm big.hml | head -1: status 1, not SIGPIPE",
                    head_one_line(hiko, ["disasm", "big.hml"], tmp)))
        res.append(("hiko run into a closed pipe: status 1, println: Broken pipe",
                    closed_reader(hiko, ["run", "p.hml"], tmp, "error: println: Broken pipe")))
        res.append(("--trace into a missing directory: status 2",
                    trace_unwritable(hiko, tmp, os.path.join(tmp, "no", "t.json"),
                                     "No such file or directory")))
        res.append(("--trace naming a directory: status 2",
                    trace_unwritable(hiko, tmp, tmp, "Is a directory")))
        for w in (1, 4):
            res.append(("list_dir, walk_dir, glob with links and a non-UTF-8 name, --workers %d" % w,
                        listings(hiko, tmp, w)))
    return tap_report(res)


if __name__ == "__main__":
    sys.exit(main())
