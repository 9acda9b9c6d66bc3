#!/usr/bin/env python3
"""bench/echo/run.py — the TCP echo benchmark of issue #6 in one invocation.

The C load client (bench/echo/echo_client: 64 connections to 127.0.0.1, 64-byte request/response
round trips) runs against each server in turn, RUNS times, alternating: hiko's
examples/echo_server.hml on 2 workers (skipped, with the reason, when it does not exist or does
not start), the plain C epoll server (bench/echo/echo_server_c) and the Go server
(bench/peers/go/echoserver, GOMAXPROCS=2). One JSON line per run, then the table of medians with
ratios to Go and to C and the targets. Every server is started for one run and killed after it;
every step has a timeout. See bench/README.md.
"""
import argparse
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
PORT_RE = re.compile(r'(?:port\s+|127\.0\.0\.1:|localhost:)(\d{1,5})\b', re.I)

live = []  # process groups to kill on the way out


def kill_group(proc):
    if proc.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except OSError:
                pass
            try:
                proc.wait(timeout=2)
                break
            except subprocess.TimeoutExpired:
                continue
    if proc in live:
        live.remove(proc)


def kill_all():
    for p in list(live):
        kill_group(p)


def on_signal(signum, frame):
    kill_all()
    sys.exit(128 + signum)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def can_connect(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.2):
            return True
    except OSError:
        return False


def start_server(cmd, env, port_hint, wait_s=8.0):
    """Starts a server in its own process group with stdout on a pty (so a stdio that buffers
    pipes still shows its lines). Returns (proc, port, None) once the server accepts
    connections, or (None, None, reason)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    errf = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(cmd, stdout=slave, stderr=errf, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    except OSError as e:
        os.close(master)
        os.close(slave)
        return None, None, 'cannot start: %s' % e
    os.close(slave)
    live.append(proc)
    deadline = time.monotonic() + wait_s
    out = b''
    port = None
    reason = None
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                chunk = b''
            out += chunk
            m = PORT_RE.search(out.decode('utf-8', 'replace'))
            if m and can_connect(int(m.group(1))):
                port = int(m.group(1))
                break
        if port_hint and can_connect(port_hint):
            port = port_hint
            break
        if proc.poll() is not None:
            errf.seek(0)
            err = errf.read().decode('utf-8', 'replace').strip()
            reason = 'exited with status %d: %s' % (proc.returncode,
                                                    (err.splitlines() or ['no message'])[-1])
            break
    if port is None:
        os.close(master)
        kill_group(proc)
        return None, None, reason or 'did not accept connections within %gs' % wait_s
    # Go on reading (and dropping) whatever the server prints, so that its writes never fail
    # or block; the thread ends when the server is gone.
    threading.Thread(target=drain, args=(master,), daemon=True).start()
    return proc, port, None


def drain(fd):
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def pinned(cpus, cmd):
    """cmd run under taskset -c CPUS when CPUS is given (--server-cpus, --client-cpus)."""
    return ['taskset', '-c', cpus] + cmd if cpus else cmd


def run_client(client, port, label, a):
    cmd = pinned(a.client_cpus, [client, '-p', str(port), '-c', str(a.conns), '-s', str(a.size), '-d', str(a.duration),
           '-w', str(a.warmup), '-l', label])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=a.warmup + a.duration + 40)
    except subprocess.TimeoutExpired:
        return None, 'client timed out'
    res = None
    for line in p.stdout.splitlines():
        if line.startswith('{'):
            try:
                res = json.loads(line)
            except ValueError:
                pass
    if res is None:
        return None, 'client: ' + ((p.stderr.strip().splitlines() or ['no result'])[-1])
    if p.returncode != 0:
        res['client_error'] = (p.stderr.strip().splitlines() or ['exit %d' % p.returncode])[-1]
    return res, None


def build_c(build_dir):
    if not os.path.exists(os.path.join(build_dir, 'build.ninja')):
        p = subprocess.run(['meson', 'setup', build_dir, ROOT], capture_output=True, text=True,
                           timeout=600)
        if p.returncode != 0:
            sys.exit('run.py: meson setup %s failed:\n%s' % (build_dir, p.stdout[-2000:]))
    p = subprocess.run(['ninja', '-C', build_dir, 'bench/echo/echo_client',
                        'bench/echo/echo_server_c'], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        sys.exit('run.py: building the echo programs failed:\n%s' % p.stdout[-2000:])
    return (os.path.join(build_dir, 'bench', 'echo', 'echo_client'),
            os.path.join(build_dir, 'bench', 'echo', 'echo_server_c'))


def med(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'),
                    help='meson build folder for the C programs (set up when missing)')
    ap.add_argument('--hiko', default=os.environ.get('HIKO', ''),
                    help='hiko binary (default: BUILD/hiko)')
    ap.add_argument('--example', default=os.path.join(ROOT, 'examples', 'echo_server.hml'))
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--duration', type=float, default=5.0, help='measured seconds per run')
    ap.add_argument('--warmup', type=float, default=1.0)
    ap.add_argument('--conns', type=int, default=64)
    ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--c-threads', type=int, default=1, help='event loops of the C server')
    ap.add_argument('--only', default='', help='comma-separated servers: hiko,c,go')
    ap.add_argument('--hiko-opt', action='append', default=[],
                    help='extra option for hiko run, e.g. --hiko-opt=--reductions=4000 (repeatable)')
    ap.add_argument('--server-cpus', default='',
                    help='run every server under taskset -c LIST (e.g. 1): an experiment on '
                    'placement, see bench/README.md "Echo, stop 16"; default: not pinned')
    ap.add_argument('--client-cpus', default='', help='run the client under taskset -c LIST')
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    build_dir = os.path.abspath(a.build)
    client, c_server = build_c(build_dir)
    hiko = os.path.abspath(a.hiko) if a.hiko else os.path.join(build_dir, 'hiko')
    only = set(x for x in a.only.split(',') if x)
    tmp = tempfile.mkdtemp(prefix='hiko-bench-echo-')
    try:
        go_server, go_note = None, None
        if not only or 'go' in only:
            out = os.path.join(tmp, 'go')
            p = subprocess.run(['sh', os.path.join(ROOT, 'bench', 'peers', 'go', 'build.sh'), out],
                               capture_output=True, text=True, timeout=600)
            if p.returncode == 0 and os.path.exists(os.path.join(out, 'echoserver')):
                go_server = os.path.join(out, 'echoserver')
            else:
                go_note = (p.stderr.strip().splitlines() or ['build failed'])[-1]

        life = str(int(a.warmup + a.duration + 60))
        hiko_note = None
        if not os.path.exists(a.example):
            hiko_note = '%s does not exist yet' % os.path.relpath(a.example, ROOT)
        elif not os.path.exists(hiko):
            hiko_note = 'no binary at %s' % hiko

        servers = []
        if not only or 'hiko' in only:
            opts = []
            for o in a.hiko_opt:
                opts += o.split('=', 1) if o.startswith('--') and '=' in o else [o]
            servers.append(('hiko', lambda port: [hiko, 'run', '--workers', str(a.workers)] + opts +
                            [a.example, str(port)], dict(os.environ)))
        if not only or 'c' in only:
            servers.append(('c', lambda port: [c_server, '-p', str(port), '-t', str(a.c_threads),
                                               '-T', life], dict(os.environ)))
        if go_server:
            servers.append(('go', lambda port: [go_server, '-port', str(port), '-max-seconds',
                                                life], dict(os.environ, GOMAXPROCS=str(a.workers))))

        load = os.getloadavg()
        print('# echo: %d run(s) x %gs (+%gs warm-up), %d connections, %d-byte messages, hiko %s '
              '--workers %d, C server %d thread(s), Go GOMAXPROCS=%d, %d CPUs, load %.2f %.2f %.2f'
              % (a.runs, a.duration, a.warmup, a.conns, a.size, hiko, a.workers, a.c_threads,
                 a.workers, os.cpu_count() or 0, *load), file=sys.stderr)
        if a.server_cpus or a.client_cpus:
            print('# pinned: servers on CPUs %s, client on CPUs %s'
                  % (a.server_cpus or 'any', a.client_cpus or 'any'), file=sys.stderr)
        if hiko_note:
            print('# hiko: skipped (%s)' % hiko_note, file=sys.stderr)
        if go_note:
            print('# go: skipped (%s)' % go_note, file=sys.stderr)

        results = {}
        errors = {}
        for run in range(1, a.runs + 1):
            for label, mk, env in servers:
                if label == 'hiko' and hiko_note:
                    continue
                if label in errors:
                    continue
                port = free_port()
                proc, port, why = start_server(pinned(a.server_cpus, mk(port)), env, port)
                line = {'bench': 'echo', 'server': label, 'run': run}
                if proc is None:
                    line['error'] = 'server: ' + why
                    errors[label] = line['error']
                    if label == 'hiko':
                        hiko_note = why
                else:
                    try:
                        res, err = run_client(client, port, label, a)
                    finally:
                        kill_group(proc)
                    if err:
                        line['error'] = err
                        errors[label] = err
                    else:
                        line.update({k: v for k, v in res.items() if k not in ('bench',)})
                        results.setdefault(label, []).append(res)
                print(json.dumps(line), flush=True)

        def summary(label):
            rs = results.get(label)
            if not rs:
                return None
            return {k: med([r[k] for r in rs]) for k in ('rate', 'p50_us', 'p99_us', 'p999_us')}

        sm = {label: summary(label) for label, _, _ in servers}
        go, cref = sm.get('go'), sm.get('c')
        rows = [('server', 'round trips/s', 'p50 us', 'p99 us', 'p999 us', 'vs Go', 'vs C')]
        for label, _, _ in servers:
            s = sm[label]
            if s is None:
                note = hiko_note if label == 'hiko' and hiko_note else errors.get(label, 'not run')
                rows.append((label, '%s: not available (%s)' % (label, note[:60]), '', '', '',
                             '', ''))
                continue
            rows.append((label, '{:,}'.format(int(s['rate'])), '%.0f' % s['p50_us'],
                         '%.0f' % s['p99_us'], '%.0f' % s['p999_us'],
                         '%.2f' % (s['rate'] / go['rate']) if go and go['rate'] else '-',
                         '%.2f' % (s['rate'] / cref['rate']) if cref and cref['rate'] else '-'))
        widths = [max(len(r[i]) for r in rows if r[1] and not r[1].startswith(r[0] + ':'))
                  for i in range(len(rows[0]))]
        print()
        for i, r in enumerate(rows):
            if r[1].startswith(r[0] + ':'):
                print(r[0].ljust(widths[0]) + '  ' + r[1])
            else:
                print('  '.join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j])
                                for j, c in enumerate(r)))
            if i == 0:
                print('  '.join('-' * w for w in widths))
        h = sm.get('hiko')
        print()
        print('targets for hiko: round trips/s >= 1.2x Go, >= 0.8x C; p99 <= Go p99')
        if h and go and cref:
            print('  vs Go %.2f (%s), vs C %.2f (%s), p99 %.0f vs %.0f us (%s)' % (
                h['rate'] / go['rate'], 'met' if h['rate'] >= 1.2 * go['rate'] else 'not met',
                h['rate'] / cref['rate'], 'met' if h['rate'] >= 0.8 * cref['rate'] else 'not met',
                h['p99_us'], go['p99_us'], 'met' if h['p99_us'] <= go['p99_us'] else 'not met'))
        else:
            print('  not measured' + (' (hiko: %s)' % hiko_note if hiko_note else ''))
        sys.stdout.flush()
        return 1 if any(k != 'hiko' for k in errors) else 0
    finally:
        kill_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
