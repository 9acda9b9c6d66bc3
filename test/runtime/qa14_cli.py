#!/usr/bin/env python3
"""QA of the command line of every subcommand (SPEC §13.1): `--help` and
usage errors of `run`, `check` and `disasm`, and that arguments after FILE
go to the program even when they look like options.

Usage: qa14_cli.py BUILD/hiko

SPEC §13.1 lists `hiko --version | --help` and gives `check` and `disasm`
the usage-error status 2. `hiko check --help` used to read a file named
`--help` (status 1) and `hiko run --help` was "unknown option '--help'".
Here `--help` before FILE prints the usage text on standard output
with status 0 for every subcommand, an unknown option of `check`/`disasm` is
a usage error, and `--` lets a file whose name starts with `--` be named.
Prints TAP.
"""
import os
import subprocess
import sys
import tempfile

OK_SRC = "val x = 1 + 2\nval _ = println x\n"
ARGS_SRC = "val _ = println (args ())\n"


def run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=60)


def expect(p, code, out=None, out_prefix=None, err_has=None, err_empty=False):
    """None when the process matched, else why not."""
    if p.returncode != code:
        return "exit %d (expected %d), stdout %r, stderr %r" % (
            p.returncode, code, p.stdout[:120], p.stderr[:200])
    if out is not None and p.stdout != out:
        return "stdout %r, expected %r" % (p.stdout[:200], out)
    if out_prefix is not None and not p.stdout.startswith(out_prefix):
        return "stdout %r does not start with %r" % (p.stdout[:120], out_prefix)
    if err_has is not None and err_has not in p.stderr:
        return "stderr %r lacks %r" % (p.stderr[:300], err_has)
    if err_empty and p.stderr:
        return "stderr not empty: %r" % p.stderr[:200]
    return None


def main():
    hiko = os.path.abspath(sys.argv[1])
    res = []
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "ok.hml"), "w") as f:
            f.write(OK_SRC)
        with open(os.path.join(tmp, "args.hml"), "w") as f:
            f.write(ARGS_SRC)
        # Programs whose file names look like options.
        for name in ("--help", "-h"):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(OK_SRC)
        usage = b"usage: hiko run"
        # The top-level forms (§13.1) stay as they were.
        res.append(("hiko --help", expect(run([hiko, "--help"], tmp), 0, out_prefix=usage,
                                          err_empty=True)))
        # --help / -h of every subcommand: usage on stdout, status 0.
        for sub in ("run", "check", "disasm"):
            p = run([hiko, sub, "--help"], tmp)
            res.append(("hiko %s --help" % sub, expect(p, 0, out_prefix=usage, err_empty=True)))
        # Options are the arguments that start with "--" (as for run, whose
        # parser stops at the first other argument), so "-h" is a FILE.
        res.append(("hiko check -h (a file)", expect(run([hiko, "check", "-h"], tmp), 0,
                                                     out=b"OK\n")))
        res.append(("hiko run -h (a file)", expect(run([hiko, "run", "-h"], tmp), 0,
                                                   out=b"3\n")))
        # --help among run's options (before FILE) still only prints help.
        p = run([hiko, "run", "--workers", "2", "--help", "ok.hml"], tmp)
        res.append(("hiko run --workers 2 --help FILE", expect(p, 0, out_prefix=usage,
                                                                err_empty=True)))
        # After FILE everything is the program's (§13.1 "even if it looks like
        # an option").
        p = run([hiko, "run", "args.hml", "--help", "-h", "--workers"], tmp)
        res.append(("run FILE --help: arguments of the program",
                    expect(p, 0, out=b"[--help, -h, --workers]\n")))
        # An unknown option is a usage error (status 2, "hiko: MESSAGE" and
        # the usage text on stderr), for check and disasm too.
        for sub in ("run", "check", "disasm"):
            p = run([hiko, sub, "--bogus", "ok.hml"] if sub == "run" else
                    [hiko, sub, "--bogus"], tmp)
            res.append(("hiko %s --bogus" % sub,
                        expect(p, 2, out=b"", err_has=b"hiko: unknown option '--bogus'")))
            if p.returncode == 2:
                res.append(("hiko %s --bogus prints the usage" % sub,
                            expect(p, 2, err_has=usage)))
        # Missing or extra FILE.
        for sub in ("check", "disasm"):
            res.append(("hiko %s (no FILE)" % sub,
                        expect(run([hiko, sub], tmp), 2, out=b"", err_has=b"hiko: ")))
            res.append(("hiko %s ok.hml ok.hml" % sub,
                        expect(run([hiko, sub, "ok.hml", "ok.hml"], tmp), 2, out=b"",
                               err_has=b"hiko: ")))
        res.append(("hiko run (no FILE)", expect(run([hiko, "run"], tmp), 2, out=b"",
                                                 err_has=b"hiko: run expects a FILE")))
        # `--` ends the options, so a file named like an option can be used.
        res.append(("hiko check -- --help",
                    expect(run([hiko, "check", "--", "--help"], tmp), 0, out=b"OK\n")))
        res.append(("hiko run -- --help", expect(run([hiko, "run", "--", "--help"], tmp), 0,
                                                 out=b"3\n")))
        p = run([hiko, "disasm", "--", "--help"], tmp)
        res.append(("hiko disasm -- --help", None if p.returncode == 0 and p.stdout and
                    not p.stderr else "exit %d, %r %r" % (p.returncode, p.stdout[:80],
                                                         p.stderr[:200])))
        # The ordinary forms still work.
        res.append(("hiko check ok.hml", expect(run([hiko, "check", "ok.hml"], tmp), 0,
                                                out=b"OK\n")))
        res.append(("hiko check ./--help", expect(run([hiko, "check", "./--help"], tmp), 0,
                                                  out=b"OK\n")))
    return tap_report(res)


def tap_report(res):
    """Prints [(name, why-or-None)] as TAP; returns the exit status."""
    print("1..%d" % len(res))
    for k, (name, why) in enumerate(res, 1):
        print(("ok %d - %s" % (k, name)) if why is None else ("not ok %d - %s: %s" % (k, name, why)))
    return 0 if all(w is None for _, w in res) else 1


if __name__ == "__main__":
    sys.exit(main())
