#!/usr/bin/env python3
"""Language test runner: runs every test/lang/<dir>/*.hml and prints TAP.

Usage: run.py --hiko BUILD/hiko --mode check|run DIR [--workers 1,4]

Beside each program X.hml (files starting with '_' and folders named 'lib'
are modules for `use`, not tests):
  X.out    exact expected standard output
  X.err    each non-empty line must occur (as a substring) in standard error
  X.code   expected exit status (default: 1 if X.err exists, else 0)
  X.flags  extra options for `hiko run` (one line, split on spaces)
  X.args   program arguments after FILE (one line, split on spaces)
  X.stdin  standard input (default: empty)
  X.env    extra environment variables, one NAME=VALUE per line (for the
           test-only knobs documented in docs/, e.g. HIKO_TEST_EXEC_LIMIT_MS)
A test needs at least one of X.out, X.err, X.code. The program runs with its
own folder as the working directory and is named by its file name, so
diagnostics read `X.hml:LINE:COL: ...`. In run mode with --workers, each
program runs once per worker count.

Each run gets a fresh empty directory, passed as TMPDIR in the program's
environment and removed with everything in it afterwards: a program that
needs scratch files makes them below `getenv "TMPDIR"` (falling back to
"/tmp" when run by hand), since the language cannot remove a directory
(SPEC §8.6) and the suite must leave nothing behind. `$TMPDIR` in X.flags and
X.args stands for that directory, and in X.out and X.err for its canonical
path as the program prints it (e.g. an --fs-root message, SPEC §7.5).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None

def collect(root):
    tests = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "lib")
        for name in sorted(filenames):
            if name.endswith(".hml") and not name.startswith("_"):
                tests.append(os.path.join(dirpath, name))
    return tests

def check_one(hiko, mode, path, workers, timeout):
    tmp = tempfile.mkdtemp(prefix="hiko-lang-")
    try:
        return run_one(hiko, mode, path, workers, timeout, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

def run_one(hiko, mode, path, workers, timeout, tmp):
    base = path[:-4]
    out, err, code = read(base + ".out"), read(base + ".err"), read(base + ".code")
    if out is None and err is None and code is None:
        return "no expectation file (.out, .err or .code)"
    canon = os.path.realpath(tmp).encode()
    if out is not None:
        out = out.replace(b"$TMPDIR", canon)
    if err is not None:
        err = err.replace(b"$TMPDIR", canon)
    want_code = int(code) if code is not None else (1 if err is not None else 0)
    cmd = [hiko, mode]
    if mode == "run":
        if workers:
            cmd += ["--workers", str(workers)]
        flags = read(base + ".flags")
        if flags:
            cmd += flags.decode().replace("$TMPDIR", tmp).split()
    cmd.append(os.path.basename(path))
    args = read(base + ".args")
    if mode == "run" and args:
        cmd += args.decode().replace("$TMPDIR", tmp).split()
    stdin = read(base + ".stdin") or b""
    env = dict(os.environ, TMPDIR=tmp)
    extra = read(base + ".env")
    if extra:
        for line in extra.decode().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip()
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, env=env,
                           cwd=os.path.dirname(path) or ".", timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout}s"
    problems = []
    if p.returncode != want_code:
        problems.append(f"exit status {p.returncode}, expected {want_code}")
    if out is not None and p.stdout != out:
        problems.append("stdout differs:\n--- expected\n" + out.decode(errors="replace")
                        + "--- got\n" + p.stdout.decode(errors="replace"))
    if err is not None:
        got = p.stderr.decode(errors="replace")
        for line in err.decode(errors="replace").splitlines():
            if line.strip() and line.rstrip("\n") not in got:
                problems.append(f"stderr lacks: {line!r}")
    if problems:
        problems.append("stderr was:\n" + p.stderr.decode(errors="replace")[:2000])
    return "\n".join(problems) if problems else None

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hiko", required=True)
    ap.add_argument("--mode", choices=["check", "run"], required=True)
    ap.add_argument("--workers", default="")
    ap.add_argument("--timeout", type=float,
                    default=float(os.environ.get("HIKO_LANG_TIMEOUT", "60")))
    ap.add_argument("dir")
    a = ap.parse_args()
    hiko = os.path.abspath(a.hiko)
    tests = collect(a.dir)
    workers = [int(w) for w in a.workers.split(",") if w] or [0]
    cases = [(t, w) for t in tests for w in workers]
    print(f"1..{len(cases)}")
    failed = 0
    for i, (t, w) in enumerate(cases, 1):
        name = os.path.relpath(t, a.dir) + (f" --workers {w}" if w else "")
        start = time.monotonic()
        why = check_one(hiko, a.mode, t, w, a.timeout)
        took = time.monotonic() - start
        if why is None:
            print(f"ok {i} - {name}")
        else:
            failed += 1
            print(f"not ok {i} - {name}")
            for line in why.splitlines():
                print("# " + line)
        # A program near its limit is the next timeout of a loaded machine:
        # the log names it (wall time, which the load stretches).
        if took > a.timeout / 4:
            print(f"# slow: {name} took {took:.1f} s of its {a.timeout:g} s")
    sys.stdout.flush()
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
