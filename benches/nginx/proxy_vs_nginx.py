#!/usr/bin/env python3
"""CPU per request through Crust against nginx as a plain reverse proxy, same mock, same load.

    python3 benches/nginx/proxy_vs_nginx.py [--rounds 5] [--seconds 3] [--conc 16]
        [--crust NAME=PATH ...] [--crustc PATH]

Needs `nginx` and `wrk` (Debian: `apt-get install nginx wrk`). Everything listens on loopback
ports from 19300 and runs in a temporary directory; only the processes it starts are stopped.

- Mock upstream: nginx, one worker, `return 200 '<fixture>'`: `anth_benign.json` (a message
  with text and one allowed Bash call) and `anth_mixed_stream.sse` (text and two calls, the
  Read of `~/.ssh/id_rsa` blocked and rewritten).
- Anchor: nginx, two workers, `proxy_pass` to a keep-alive pool, HTTP/1.1, buffering off.
- Crust: each `--crust NAME=PATH` binary (default `target/release/crust-runtime`) with the
  built-in policy and `--endpoint` at the mock, tokio's default workers, no audit log.
- Load: `wrk -t1 -cC -dS -s anth.lua` (an Anthropic Messages POST; `stream: true` for SSE).
  Each round runs direct, nginx and every crust in turn, the order rotated per round.
- CPU: utime+stime of the proxy's processes (every thread; nginx's workers) around each wrk
  run, divided by the requests served. The table gives medians over rounds, and each crust's
  ratio to nginx in the same rounds.
- Time to first text byte: a paced upstream (first event after 20 ms, then one per ms) read
  directly and through each crust, one request at a time; medians of the first `text_delta`.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "e2e", "fixtures")
LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "anth.lua")
TICK = os.sysconf("SC_CLK_TCK")
BASE = 19300
BODIES = {"json": "anth_benign.json", "sse": "anth_mixed_stream.sse"}


def nginx_string(path):
    text = open(path).read()
    assert "$" not in text, "nginx would read `$` as a variable"
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cpu(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except OSError:
                pass
    return out


def wait_port(port, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def wrk(port, body, conc, seconds):
    env = dict(os.environ, STREAM="1" if body == "sse" else "0")
    out = subprocess.run(["wrk", "-t1", f"-c{conc}", f"-d{seconds}s", "-s", LUA, f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, env=env, check=True).stdout
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) p50=(\d+) p99=(\d+)", out)
    return {k: int(v) for k, v in zip(("requests", "errors", "p50", "p99"), m.groups())}


def paced_upstream(port, stop):
    """An upstream that streams `anth_mixed_stream.sse` at a provider's pace."""
    events = open(os.path.join(FIXTURES, BODIES["sse"]), "rb").read().split(b"\n\n")
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    srv.settimeout(0.2)

    def serve(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                while len(buf) < n:
                    buf += conn.recv(65536)
                buf = buf[n:]
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                time.sleep(0.020)
                for e in events:
                    if e.strip():
                        piece = e + b"\n\n"
                        conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                        time.sleep(0.001)
                conn.sendall(b"0\r\n\r\n")
                if re.search(rb"(?i)connection: *close", head):
                    return

    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    srv.close()


def first_text(port):
    body = json.dumps({"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.perf_counter()
    s.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\n"
              b"content-length: %d\r\n\r\n%s" % (len(body), body))
    seen, first = b"", None
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        seen += chunk
        if first is None and b"text_delta" in seen:
            first = time.perf_counter() - start
    s.close()
    assert first is not None and b"message_stop" in seen, seen[-300:]
    return first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--conc", type=int, default=16)
    ap.add_argument("--crust", action="append", default=[])
    ap.add_argument("--crustc", default=os.path.join(ROOT, "target", "debug", "crustc"))
    ap.add_argument("--ttft", type=int, default=100, help="paced requests per target")
    args = ap.parse_args()
    crusts = [c.split("=", 1) for c in args.crust] or [["crust", os.path.join(ROOT, "target", "release", "crust-runtime")]]
    tmp = tempfile.mkdtemp(prefix="crust-vs-nginx-")
    procs = []
    try:
        mock_port = {"json": BASE, "sse": BASE + 1}
        conf = f"""worker_processes 1; pid {tmp}/mock.pid; error_log {tmp}/mock.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{mock_port['json']}; location / {{ default_type application/json; return 200 {nginx_string(os.path.join(FIXTURES, BODIES['json']))}; }} }}
  server {{ listen 127.0.0.1:{mock_port['sse']}; location / {{ default_type text/event-stream; return 200 {nginx_string(os.path.join(FIXTURES, BODIES['sse']))}; }} }}
}}"""
        open(f"{tmp}/mock.conf", "w").write(conf)
        anchor = {"json": BASE + 10, "sse": BASE + 11}
        ups = "".join(f"upstream {b} {{ server 127.0.0.1:{mock_port[b]}; keepalive 64; }}\n" for b in BODIES)
        srvs = "".join(f"server {{ listen 127.0.0.1:{anchor[b]}; location / {{ proxy_pass http://{b}; proxy_http_version 1.1; "
                       f"proxy_set_header Connection \"\"; proxy_buffering off; }} }}\n" for b in BODIES)
        open(f"{tmp}/proxy.conf", "w").write(f"""worker_processes 2; pid {tmp}/proxy.pid; error_log {tmp}/proxy.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000; {ups} {srvs} }}""")
        for name in ("mock", "proxy"):
            procs.append(subprocess.Popen(["nginx", "-p", tmp, "-c", f"{tmp}/{name}.conf", "-g", "daemon off;"]))
        nginx_master = procs[-1].pid
        os.makedirs(f"{tmp}/pol")
        subprocess.run([args.crustc, os.path.join(ROOT, "rules"), "-o", f"{tmp}/pol/policy.bin"], check=True, capture_output=True)
        targets = {b: {"direct": (mock_port[b], None), "nginx": (anchor[b], "nginx")} for b in BODIES}
        paced = BASE + 50
        ttft_ports = {"direct": paced}
        for k, (name, path) in enumerate(crusts):
            for j, b in enumerate(BODIES):
                port = BASE + 20 + 10 * k + j
                log = open(f"{tmp}/{name}-{b}.log", "w")
                p = subprocess.Popen([path, "--policy", f"{tmp}/pol/policy.bin", "--endpoint", f"http://127.0.0.1:{mock_port[b]}",
                                      "--listen", f"127.0.0.1:{port}"], stderr=log, env=dict(os.environ, HOME="/home/user"))
                procs.append(p)
                targets[b][name] = (port, p.pid)
            port = BASE + 29 + 10 * k
            p = subprocess.Popen([path, "--policy", f"{tmp}/pol/policy.bin", "--endpoint", f"http://127.0.0.1:{paced}",
                                  "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL, env=dict(os.environ, HOME="/home/user"))
            procs.append(p)
            ttft_ports[name] = port
        for b in BODIES:
            for port, _ in targets[b].values():
                wait_port(port)
        nginx_workers = children(nginx_master)
        results = {b: {t: [] for t in targets[b]} for b in BODIES}
        for r in range(args.rounds):
            for b in BODIES:
                order = list(targets[b])
                order = order[r % len(order):] + order[:r % len(order)]
                for t in order:
                    port, pid = targets[b][t]
                    pids = nginx_workers if pid == "nginx" else ([pid] if pid else [])
                    before = cpu(pids) if pids else 0
                    w = wrk(port, b, args.conc, args.seconds)
                    used = cpu(pids) - before if pids else 0
                    w["cpu_us"] = used * 1e6 / max(w["requests"], 1)
                    results[b][t].append(w)
                    print(f"round {r} {b:4} {t:14} {w['requests'] / args.seconds:9.0f} req/s  errors {w['errors']}  "
                          f"p50 {w['p50']:6} µs  cpu {w['cpu_us']:6.1f} µs/req", flush=True)
        print(f"\nconcurrency {args.conc}, {args.rounds} rounds of {args.seconds} s, medians:")
        print("| body | target | req/s | p50 µs | p99 µs | CPU µs per request | CPU vs nginx (same rounds) |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for b in BODIES:
            ng = [x["cpu_us"] for x in results[b]["nginx"]]
            for t, runs in results[b].items():
                rps = statistics.median(x["requests"] for x in runs) / args.seconds
                c = statistics.median(x["cpu_us"] for x in runs)
                ratio = "" if t in ("direct", "nginx") else f"{statistics.median(x['cpu_us'] / n for x, n in zip(runs, ng)):.2f}×"
                cc = "" if t == "direct" else f"{c:.1f}"
                errors = sum(x["errors"] for x in runs)
                print(f"| {b} | {t} | {rps:,.0f} | {statistics.median(x['p50'] for x in runs):,} | "
                      f"{statistics.median(x['p99'] for x in runs):,} | {cc} | {ratio} |" + (f" errors: {errors}" if errors else ""))
        stop = threading.Event()
        th = threading.Thread(target=paced_upstream, args=(paced, stop), daemon=True)
        th.start()
        wait_port(paced)
        times = {t: [] for t in ttft_ports}
        for _ in range(args.ttft):
            for t, port in ttft_ports.items():
                times[t].append(first_text(port))
        stop.set()
        d = statistics.median(times["direct"])
        print("\ntime to first text byte, paced upstream (20 ms, then 1 ms per event), one request at a time:")
        print("| target | p50 ms | p90 ms | p50 vs direct |")
        print("| --- | --- | --- | --- |")
        for t, xs in times.items():
            xs = sorted(xs)
            print(f"| {t} | {statistics.median(xs) * 1e3:.2f} | {xs[int(len(xs) * 0.9)] * 1e3:.2f} | {statistics.median(xs) / d:.3f}× |")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
