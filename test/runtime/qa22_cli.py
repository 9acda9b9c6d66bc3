#!/usr/bin/env python3
"""QA of `hiko run`'s option names (SPEC §13.1): an option that needs a
value and is the last argument is "hiko: --NAME expects a value"; any other
name is "hiko: unknown option '--NAME'", also when it is the start of a
real option's name or a piece of one (`--work`, `--f`, `--max`, `--ex`;
before stop 22 those, given last, claimed to expect a value: the name was
looked up as a substring of the option list). Status 2 and the usage text
in every case.

Usage: qa22_cli.py BUILD/hiko
Prints TAP.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qa14_cli import tap_report  # noqa: E402


def check(hiko, args, first_line):
    p = subprocess.run([hiko] + args, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    lines = err.splitlines()
    if p.returncode != 2 or not lines or lines[0] != first_line or "usage:" not in err:
        return "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[:200], err[:300])
    return None


def main():
    hiko = sys.argv[1]
    res = []
    for name in ("--workers", "--reductions", "--fuel", "--max-heap", "--max-processes",
                 "--fs-root", "--allow-exec", "--trace"):
        res.append(("run %s (last)" % name,
                    check(hiko, ["run", name], "hiko: %s expects a value" % name)))
    for name in ("--work", "--f", "--max", "--ex", "--trac", "--fs", "--heap", "--r", "-- workers"):
        res.append(("run %s (last)" % name,
                    check(hiko, ["run", name], "hiko: unknown option '%s'" % name)))
    return tap_report(res)


if __name__ == "__main__":
    sys.exit(main())
