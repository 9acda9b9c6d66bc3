#!/usr/bin/env python3
"""Times each bench/vm/NAME.hml against NAME.lua (see run.sh)."""
import math, os, shutil, statistics, subprocess, sys, time

here = os.path.dirname(os.path.abspath(__file__))
hiko, runs = sys.argv[1], int(sys.argv[2])
lua = shutil.which("lua5.4")
names = ["fib", "ack", "tak", "nqueens", "list", "hof", "strings"]

def timed(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
    return dt, p.stdout

print(f"{'program':10} {'hiko s':>8} {'lua s':>8} {'ratio':>6}")
ratios = []
for n in names:
    hs, ls = [], []
    for _ in range(runs):
        dt, out_h = timed([hiko, "run", os.path.join(here, n + ".hml")])
        hs.append(dt)
        if lua:
            dt, out_l = timed([lua, os.path.join(here, n + ".lua")])
            ls.append(dt)
            if out_h != out_l:
                sys.exit(f"{n}: outputs differ: {out_h!r} vs {out_l!r}")
    h = statistics.median(hs)
    if lua:
        l = statistics.median(ls)
        ratios.append(h / l)
        print(f"{n:10} {h:8.3f} {l:8.3f} {h / l:6.2f}")
    else:
        print(f"{n:10} {h:8.3f} {'-':>8} {'-':>6}")
if ratios:
    g = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"geometric mean ratio (hiko/lua): {g:.2f}")
