#!/usr/bin/env python3
"""bench/actors/run.py — the actor workloads of bench/actors/ in hiko (2 workers) beside the
same workloads in Go (GOMAXPROCS=2), alternating, RUNS times each, in one invocation.

Prints one JSON line per measurement as it goes, then a table: the median rate of each side,
the ratio hiko/Go and the target of issue #5. Every run has a timeout; a hiko without processes
is reported as "hiko: not available" and the Go side still runs. See bench/README.md.
"""
import argparse
import json
import os
import pty
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))

# name -> (full-size args, small args, target kind, target value)
#   kind 'rate': hiko rate >= value x Go rate;  kind 'bytes': hiko bytes/process <= value.
WORKLOADS = [
    ('pingpong', ['1000000'], ['10000'], 'rate', 1.5),
    ('ring', ['1000000', '1000'], ['10000', '100'], 'rate', 1.5),
    ('skynet', ['6'], ['3'], 'rate', 1.5),
    ('spawn', ['1000000'], ['10000'], 'rate', 1.5),
    ('fanin', ['1000000'], ['10000'], 'rate', 1.0),
    ('counting', ['1000000'], ['10000'], 'rate', 1.0),
    ('bigmsg', ['100000'], ['1000'], 'rate', 3.0),
    ('hold', ['100000'], ['10000'], 'bytes', 512),
]

PROBE = """val me = self ()
val p = spawn (fn () => send_message (me, 41))
val _ = println (receive_message () + 1)
val _ = await_process p
"""


def page_size():
    try:
        return os.sysconf('SC_PAGE_SIZE')
    except (ValueError, OSError):
        return 4096


def rss_of(pid):
    try:
        with open('/proc/%d/statm' % pid) as f:
            return int(f.read().split()[1]) * page_size()
    except (OSError, ValueError, IndexError):
        return -1


current = []  # the process running now, killed (with its group) if we are interrupted


def on_signal(signum, frame):
    for proc in current:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    sys.exit(128 + signum)


def run_one(cmd, env, timeout, use_pty=False):
    """Runs cmd; returns (result dict or None, error text or None, wall seconds).

    Reads stdout line by line so that the hold fallback markers ("#hold baseline",
    "#hold ready") can be answered by reading the child's /proc/PID/statm at that moment.
    With use_pty, stdout is a pseudo-terminal, so a C stdio that fully buffers a pipe
    still writes each line when it is printed."""
    start = time.monotonic()
    errf = tempfile.TemporaryFile()
    master = slave = None
    if use_pty:
        master, slave = pty.openpty()
        tty.setraw(slave)
    try:
        proc = subprocess.Popen(cmd, stdout=slave if use_pty else subprocess.PIPE, stderr=errf,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    except OSError as e:
        if use_pty:
            os.close(master)
            os.close(slave)
        return None, 'cannot start: %s' % e, 0.0
    if use_pty:
        os.close(slave)
    current[:] = [proc]
    buf = b''
    lines = []
    marks = {}
    timed_out = False
    fd = master if use_pty else proc.stdout.fileno()
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            timed_out = True
            break
        r, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not r:
            if proc.poll() is not None:
                # exited; drain what is left below
                pass
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the pty's other side is closed
            chunk = b''
        if not chunk:
            break
        buf += chunk
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            text = line.decode('utf-8', 'replace').rstrip('\r')
            if text.startswith('#hold '):
                marks[text[6:].strip()] = rss_of(proc.pid)
            lines.append(text)
    if timed_out:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
    current[:] = []
    wall = time.monotonic() - start
    if use_pty:
        os.close(master)
    else:
        proc.stdout.close()
    errf.seek(0)
    err = errf.read().decode('utf-8', 'replace').strip()
    errf.close()
    if buf:
        lines.append(buf.decode('utf-8', 'replace'))
    if timed_out:
        return None, 'timeout after %gs' % timeout, wall
    if proc.returncode != 0:
        last = err.splitlines()[-1] if err else 'no message'
        return None, 'exit status %d: %s' % (proc.returncode, last), wall
    for text in lines:
        if text.startswith('{'):
            try:
                res = json.loads(text)
            except ValueError:
                continue
            if res.get('bytes_per_proc') == -1 and 'baseline' in marks and 'ready' in marks:
                b, a = marks['baseline'], marks['ready']
                if b >= 0 and a >= 0 and res.get('n'):
                    res['bytes_per_proc'] = (a - b) // res['n']
                    res['rss_by'] = 'runner'
            return res, None, wall
    return None, 'no result line in output', wall


def probe_hiko(path, workers, timeout=20):
    if not path or not os.path.exists(path):
        return 'no binary at %s' % path
    with tempfile.NamedTemporaryFile('w', suffix='.hml', delete=False) as f:
        f.write(PROBE)
        name = f.name
    try:
        p = subprocess.run([path, 'run', '--workers', str(workers), name], capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if p.returncode == 0 and p.stdout.strip() == '42':
            return None
        msg = (p.stderr.strip().splitlines() or ['exit status %d' % p.returncode])[-1]
        return msg
    except subprocess.TimeoutExpired:
        return 'probe timed out'
    finally:
        os.unlink(name)


def fmt_num(v):
    if v is None:
        return '-'
    if v >= 100:
        return '{:,}'.format(int(round(v)))
    return '%.3g' % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--hiko', default=os.environ.get('HIKO', os.path.join(ROOT, 'build', 'hiko')))
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--timeout', type=float, default=180.0, help='seconds per run')
    ap.add_argument('--small', action='store_true', help='tiny sizes (smoke test)')
    ap.add_argument('--only', default='', help='comma-separated workloads')
    ap.add_argument('--no-go', action='store_true', help='skip the Go peers')
    ap.add_argument('--hiko-opt', action='append', default=[],
                    help='extra option for hiko run, e.g. --hiko-opt=--reductions=4000 (repeatable)')
    ap.add_argument('--go-out', default='', help='where to build the Go peers (default: a temp dir)')
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    only = set(x for x in a.only.split(',') if x)
    unknown = only - set(w[0] for w in WORKLOADS)
    if unknown:
        sys.exit('run.py: unknown workload(s): %s' % ', '.join(sorted(unknown)))
    workloads = [w for w in WORKLOADS if not only or w[0] in only]

    tmp = tempfile.mkdtemp(prefix='hiko-bench-actors-')
    try:
        # Go peers.
        go_bin = None
        go_note = None
        if not a.no_go:
            out = a.go_out or os.path.join(tmp, 'go')
            p = subprocess.run(['sh', os.path.join(ROOT, 'bench', 'peers', 'go', 'build.sh'), out],
                               capture_output=True, text=True, timeout=600)
            if p.returncode == 0 and os.path.exists(os.path.join(out, 'actors')):
                go_bin = os.path.join(out, 'actors')
            else:
                go_note = (p.stderr.strip().splitlines() or ['build failed'])[-1]
        go_version = ''
        if go_bin:
            try:
                go_version = subprocess.run(['go', 'version'], capture_output=True, text=True,
                                            timeout=30).stdout.strip()
            except (OSError, subprocess.TimeoutExpired):
                pass

        hiko = os.path.abspath(a.hiko)
        hiko_note = probe_hiko(hiko, a.workers)
        if hiko_note:
            print('# hiko: not available (%s)' % hiko_note, file=sys.stderr)

        load = os.getloadavg()
        print('# actors: %d run(s) each, hiko %s --workers %d, %s GOMAXPROCS=%d, %d CPUs, '
              'load %.2f %.2f %.2f' % (a.runs, hiko, a.workers, go_version or 'go: none',
                                       a.workers, os.cpu_count() or 0, *load), file=sys.stderr)

        go_env = dict(os.environ, GOMAXPROCS=str(a.workers))
        results = {}  # (workload, impl) -> list of values
        errors = {}
        for name, full, small, kind, target in workloads:
            args = small if a.small else full
            src = os.path.join(HERE, name + '.hml')
            sides = []
            if not hiko_note:
                opts = []
                for o in a.hiko_opt:
                    opts += o.split('=', 1) if o.startswith('--') and '=' in o else [o]
                sides.append(('hiko', [hiko, 'run', '--workers', str(a.workers)] + opts + [src] + args,
                              os.environ.copy()))
            if go_bin:
                sides.append(('go', [go_bin, name] + args, go_env))
            for run in range(1, a.runs + 1):
                for impl, cmd, env in sides:
                    if (name, impl) in errors:
                        continue
                    res, err, wall = run_one(cmd, env, a.timeout,
                                             use_pty=(impl == 'hiko' and name == 'hold'))
                    line = {'bench': name, 'impl': impl, 'run': run, 'args': args,
                            'wall_s': round(wall, 3)}
                    if err:
                        line['error'] = err
                        errors[(name, impl)] = err
                    else:
                        line.update({k: v for k, v in res.items() if k not in ('bench', 'impl')})
                        val = res.get('bytes_per_proc') if kind == 'bytes' else res.get('rate')
                        if val is not None and val >= 0:
                            results.setdefault((name, impl), []).append(val)
                    print(json.dumps(line), flush=True)

        # The table.
        rows = [('workload', 'unit', 'hiko median', 'Go median', 'hiko/Go', 'target', 'met')]
        for name, full, small, kind, target in workloads:
            unit = 'bytes/process' if kind == 'bytes' else {
                'pingpong': 'round trips/s', 'ring': 'hops/s', 'skynet': 'processes/s',
                'spawn': 'processes/s', 'fanin': 'messages/s', 'counting': 'increments/s',
                'bigmsg': 'round trips/s'}[name]
            hv = results.get((name, 'hiko'))
            gv = results.get((name, 'go'))
            hm = statistics.median(hv) if hv else None
            gm = statistics.median(gv) if gv else None
            if hiko_note:
                hcell = 'hiko: not available'
            elif hm is None:
                hcell = 'error: ' + errors.get((name, 'hiko'), 'no result')[:40]
            else:
                hcell = fmt_num(hm)
            if gm is None:
                gcell = 'go: ' + (errors.get((name, 'go')) or go_note or 'not run')[:40]
            else:
                gcell = fmt_num(gm)
            ratio = '%.2f' % (hm / gm) if hm is not None and gm else '-'
            if kind == 'bytes':
                tcell = '<= %d B' % target
                met = '-' if hm is None else ('yes' if hm <= target else 'no')
            else:
                tcell = '>= %gx Go' % target
                met = '-' if hm is None or not gm else ('yes' if hm >= target * gm else 'no')
            rows.append((name, unit, hcell, gcell, ratio, tcell, met))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        print()
        for i, r in enumerate(rows):
            print('  '.join(c.ljust(widths[j]) if j < 2 else c.rjust(widths[j])
                            for j, c in enumerate(r)).rstrip())
            if i == 0:
                print('  '.join('-' * w for w in widths))
        sys.stdout.flush()
        return 1 if (not hiko_note and any(k[1] == 'hiko' for k in errors)) else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
