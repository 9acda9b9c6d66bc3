#!/usr/bin/env python3
"""QA of the command line on odd program files (SPEC §1.1, §2.7.5, §13.1,
§13.2) and of examples/http_hello.hml driven by a client (SPEC §7.4).

Usage: qa16_cli.py BUILD/hiko EXAMPLES/http_hello.hml

Odd files: an empty file, only a comment, a UTF-8 byte order mark (outside
strings only ASCII is allowed, §1.1.4, so U+FEFF is "unexpected character"
at 1:1), CRLF line endings (CR is whitespace, §1.1.2; a raw CR LF inside a
string is kept), a directory and a missing file as FILE (a whole-file
error without a position, §2.7.5 / §13.2), invalid and truncated UTF-8
(§1.1.1, reported at the first invalid byte). Expected texts come from the
SPEC. The HTTP part starts the example with PORT 0 and CONNECTIONS 3 and
talks to it over three connections: pipelined keep-alive requests, an
HTTP/1.0 request, a method other than GET; the server then stops by itself
(what its header comment promises). Last, read_line, socket_recv and
tcp_accept: a reader cancelled while two others wait takes no data (SPEC
§7.3.3, §7.4.4, §7.4.7, §7.6). Prints TAP.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qa14_cli import tap_report  # noqa: E402


def run(cmd, cwd, timeout=60):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def expect(p, code, out=None, err=None, err_first=None):
    """None when the process matched, else why not. [err] must equal the
    whole of standard error, [err_first] its first line."""
    if p.returncode != code:
        return "exit %d (expected %d), stdout %r, stderr %r" % (
            p.returncode, code, p.stdout[:120], p.stderr[:200])
    if out is not None and p.stdout != out:
        return "stdout %r, expected %r" % (p.stdout[:200], out)
    if err is not None and p.stderr != err:
        return "stderr %r, expected %r" % (p.stderr[:300], err)
    if err_first is not None and p.stderr.split(b"\n")[0] != err_first:
        return "stderr's first line %r, expected %r" % (p.stderr[:300], err_first)
    return None


FILES = {
    "empty.hml": b"",
    "comment.hml": b"(* only a comment *)\n\n  \t\n",
    "bom.hml": b"\xef\xbb\xbfval _ = println 1\n",
    "crlf.hml": b"val s = \"a\r\nb\"\r\nval _ = println (string_length s)\r\n"
                b"val _ = println (1 + 2)\r\n",
    "crlf_error.hml": b"val x = 1\r\nval y = z\r\n",
    "bad_utf8.hml": b"val _ = println \"a\xff\"\n",
    "bad_utf8_comment.hml": b"val _ = println 5 (* \xc3 *)\n",
    "truncated_utf8.hml": b"val _ = println 1\n\xe2\x82",
}


def odd_inputs(hiko, tmp):
    res = []
    for name, data in FILES.items():
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(data)
    os.mkdir(os.path.join(tmp, "dir.hml"))
    # (label, file, exit status, whole stderr or None, first line of stderr or None)
    cases = [
        ("empty file", "empty.hml", 0, b"", None),
        ("only a comment", "comment.hml", 0, b"", None),
        ("byte order mark", "bom.hml", 1, None,
         b"bom.hml:1:1: error: unexpected character: '\xef\xbb\xbf'"),
        ("directory", "dir.hml", 1, b"dir.hml: error: cannot read 'dir.hml': Is a directory\n",
         None),
        ("missing file", "missing.hml", 1,
         b"missing.hml: error: cannot read 'missing.hml': No such file or directory\n", None),
        ("invalid UTF-8 in a string", "bad_utf8.hml", 1, None,
         b"bad_utf8.hml:1:19: error: invalid UTF-8 in source"),
        ("invalid UTF-8 in a comment", "bad_utf8_comment.hml", 1, None,
         b"bad_utf8_comment.hml:1:22: error: invalid UTF-8 in source"),
        ("truncated UTF-8 at the end", "truncated_utf8.hml", 1, None,
         b"truncated_utf8.hml:2:1: error: invalid UTF-8 in source"),
        ("CRLF error position", "crlf_error.hml", 1, None,
         b"crlf_error.hml:2:9: error: unbound variable: z"),
    ]
    for sub in ("run", "check"):
        for label, name, code, err, err_first in cases:
            out = b"OK\n" if sub == "check" and code == 0 else b""
            res.append(("%s %s" % (sub, label), expect(run([hiko, sub, name], tmp), code,
                                                        out=out, err=err, err_first=err_first)))
    res.append(("run CRLF", expect(run([hiko, "run", "crlf.hml"], tmp), 0, out=b"4\n3\n",
                                   err=b"")))
    res.append(("disasm missing file", expect(run([hiko, "disasm", "missing.hml"], tmp), 1,
                                              out=b"")))
    res.append(("disasm directory", expect(run([hiko, "disasm", "dir.hml"], tmp), 1, out=b"")))
    return res


def recv_until_eof(s, limit=1 << 20):
    data = b""
    while len(data) < limit:
        d = s.recv(65536)
        if not d:
            break
        data += d
    return data


def parse_responses(data):
    """Splits a byte stream into (status line, headers dict, body) triples."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            out.append((b"<incomplete " + head[:60] + b">", {}, b""))
            break
        lines = head.split(b"\r\n")
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get(b"content-length", b"0"))
        out.append((lines[0], hdrs, rest[:n]))
        data = rest[n:]
    return out


def http_hello(hiko, example, workers):
    """Returns a list of (name, why) results."""
    res = []
    tag = "http_hello --workers %d" % workers
    p = subprocess.Popen([hiko, "run", "--workers", str(workers), example, "0", "3"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    try:
        first = p.stdout.readline()
        prefix = b"http server listening on 127.0.0.1:"
        if not first.startswith(prefix):
            p.kill()
            p.wait()
            return [(tag + " starts", "first line %r" % first)]
        port = int(first[len(prefix):])
        # 1: three pipelined HTTP/1.1 requests in one write; the last closes.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                      b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
                      b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            rs = parse_responses(recv_until_eof(s))
        got = [(r[0], r[1].get(b"connection"), r[2]) for r in rs]
        want = [(b"HTTP/1.1 200 OK", b"keep-alive", b"Hello, world!\n"),
                (b"HTTP/1.1 404 Not Found", b"keep-alive", b"Not found\n"),
                (b"HTTP/1.1 200 OK", b"close", b"Hello, world!\n")]
        res.append((tag + " pipelined keep-alive", None if got == want else "got %r" % got))
        # 2: HTTP/1.0 without keep-alive: one answer, then the server closes,
        # the request head arriving in two pieces.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHo")
            time.sleep(0.02)
            s.sendall(b"st: a\r\n\r\n")
            rs = parse_responses(recv_until_eof(s))
        got = [(r[0], r[1].get(b"connection"), r[2]) for r in rs]
        want = [(b"HTTP/1.1 200 OK", b"close", b"Hello, world!\n")]
        res.append((tag + " HTTP/1.0", None if got == want else "got %r" % got))
        # 3: another method: 405 and the connection is closed.
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            rs = parse_responses(recv_until_eof(s))
        got = [(r[0], r[1].get(b"connection"), r[2]) for r in rs]
        want = [(b"HTTP/1.1 405 Method Not Allowed", b"close", b"Only GET\n")]
        res.append((tag + " POST", None if got == want else "got %r" % got))
        out, err = p.communicate(timeout=20)
        res.append((tag + " stops after 3 connections",
                    None if p.returncode == 0 and out == b"served 3 connections\n" and not err
                    else "exit %r, stdout %r, stderr %r" % (p.returncode, out, err[:300])))
    except (OSError, subprocess.TimeoutExpired, ValueError) as e:
        res.append((tag, "exception %r" % (e,)))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return res


# Three readers issued 100 ms apart, the middle one cancelled, then "ready".
READERS_COMMON = b"""fun reader name () = let val d = READ in send_message (me, name ^ ":" ^ d) end
val a = spawn (reader "a")
val _ = sleep 100
val b = spawn (reader "b")
val _ = sleep 100
val c = spawn (reader "c")
val _ = sleep 100
val _ = cancel b
val _ = println (await_result b)
val _ = println "ready"
val r1 : String = receive_message ()
val r2 : String = receive_message ()
val _ = println (if starts_with (r1, "a") then [r1, r2] else [r2, r1])
"""
READERS_SRC = (b'use "stdlib/list.hml"\nval me = self ()\n'
               + READERS_COMMON.replace(b"READ", b"read_line ()")
               + b'val _ = println (read_line ())\nval _ = println (read_line () = "")\n')
RECEIVERS_SRC = (b'use "stdlib/list.hml"\nval me = self ()\n'
                 b'val l = tcp_listen ("127.0.0.1", 0)\nval _ = println (socket_port l)\n'
                 b'val s = tcp_accept l\n'
                 + READERS_COMMON.replace(b"READ", b"socket_recv (s, 4)")
                 + b'val _ = println (socket_recv (s, 4))\n')
ACCEPTORS_SRC = (b'use "stdlib/list.hml"\nval me = self ()\n'
                 b'val l = tcp_listen ("127.0.0.1", 0)\nval _ = println (socket_port l)\n'
                 b'fun accept_one name = let val c = tcp_accept l val _ = socket_send (c, name)\n'
                 b'  val _ = socket_close c in "ok" end\n'
                 # a's accept is the one in flight: cancel that one
                 + READERS_COMMON.replace(b"READ", b"accept_one name")
                 .replace(b"cancel b", b"cancel a").replace(b"await_result b", b"await_result a")
                 .replace(b'starts_with (r1, "a")', b'starts_with (r1, "b")')
                 + b'val _ = accept_one "root"\n')


def cancelled_reader(hiko, tmp, workers, backend, kind):
    """Three processes wait to read (read_line; socket_recv of 4 bytes on
    one socket; tcp_accept on one listener), issued a, b, c, 100 ms apart;
    b is cancelled (a, whose accept is in flight, for tcp_accept); only then
    does input arrive. The data (or connection)
    goes to a and c in the order the reads were issued, the cancelled read
    takes none (SPEC §7.3.3, §7.4.4, §7.4.7, §6.7.2, §7.6), and the root
    reads the rest. Before the fix, b's cancel could still sit in the I/O
    thread's queue when the input's completion came, and b's read took the
    second piece (c got the third, the root waited)."""
    name = kind + ".hml"
    src = {"read_line": READERS_SRC, "socket_recv": RECEIVERS_SRC,
           "tcp_accept": ACCEPTORS_SRC}[kind]
    with open(os.path.join(tmp, name), "wb") as f:
        f.write(src)
    env = dict(os.environ)
    env["HIKO_IO_BACKEND"] = backend
    p = subprocess.Popen([hiko, "run", "--workers", str(workers), name], cwd=tmp,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env)
    peers = []
    try:
        port = int(p.stdout.readline()) if kind != "read_line" else 0
        if kind == "socket_recv":
            peers.append(socket.create_connection(("127.0.0.1", port), timeout=15))
        head = b""
        while not head.endswith(b"ready\n"):
            line = p.stdout.readline()
            if not line:
                break
            head += line
        try:
            if kind == "socket_recv":
                peers[0].sendall(b"one two thre")
            elif kind == "tcp_accept":
                peers = [socket.create_connection(("127.0.0.1", port), timeout=15)
                         for _ in range(3)]
            else:
                p.stdin.write(b"one\ntwo\nthree\n")
            p.stdin.close()
        except BrokenPipeError:
            pass
        p.stdin = None  # closed: communicate must not flush it
        got_peers = [recv_until_eof(c) for c in peers] if kind == "tcp_accept" else []
        out, err = p.communicate(timeout=15)
    except (subprocess.TimeoutExpired, OSError, ValueError) as e:
        p.kill()
        out, err = p.communicate()
        return "%r; stdout %r" % (e, out)
    finally:
        for c in peers:
            c.close()
    want = {"read_line": b"Err Cancelled\nready\n[a:one, c:two]\nthree\ntrue\n",
            "socket_recv": b"Err Cancelled\nready\n[a:one , c:two ]\nthre\n",
            "tcp_accept": b"Err Cancelled\nready\n[b:ok, c:ok]\n"}[kind]
    got = head + out
    if p.returncode != 0 or got != want or err:
        return "exit %d, stdout %r, stderr %r" % (p.returncode, got, err[:300])
    if kind == "tcp_accept" and got_peers != [b"b", b"c", b"root"]:
        return "the connections got %r" % got_peers
    return None


def main():
    hiko = os.path.abspath(sys.argv[1])
    example = os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        res = odd_inputs(hiko, tmp)
        for kind in ("read_line", "socket_recv", "tcp_accept"):
            for w in (1, 2, 4):
                for backend in ("uring", "fallback"):
                    for k in range(3):
                        res.append(("%s cancelled among readers, --workers %d, %s, run %d"
                                    % (kind, w, backend, k + 1),
                                    cancelled_reader(hiko, tmp, w, backend, kind)))
    for w in (1, 2, 4):
        res += http_hello(hiko, example, w)
    return tap_report(res)


if __name__ == "__main__":
    sys.exit(main())
