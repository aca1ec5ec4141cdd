"""Signed bundles pulled from a registry: a local HTTP server with ETags, and a real OCI registry
(Debian's docker-registry) pushed to with the PyPI `oras` client. A valid signed bundle swaps in
under load with no failed request; unsigned, wrong-key, tampered and older bundles are refused
with clear messages; with the registry down, Crust starts from the saved copy."""
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import BIN, ROOT, compile_policy

DEPLOY_RULE = ("version: 1\nrules:\n  - name: no-make-deploy\n    match: { command: 'make deploy' }\n"
               "    message: Deploys go through CI.\n")
HISTORY = json.dumps({"model": "m", "max_tokens": 8, "messages": [
    {"role": "user", "content": "go"},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "make deploy"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
]})
HDRS = {"content-type": "application/json", "x-test-scenario": "anth_benign", "anthropic-version": "2023-06-01"}


def crust(*args):
    return subprocess.run([os.path.join(BIN, "crust"), *args], capture_output=True, text=True)


def build(tmp, name, key, serial, extra_rule=False, sign=True, channel=None):
    """A bundle (and its signature) in tmp/name/."""
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    out = os.path.join(d, "policy.bin")
    args = [os.path.join(BIN, "crustc"), os.path.join(ROOT, "rules")]
    if extra_rule:
        rules = os.path.join(d, "extra.yaml")
        with open(rules, "w") as f:
            f.write(DEPLOY_RULE)
        args.append(rules)
    args += ["-o", out]
    if sign:
        args += ["--sign", key, "--serial", str(serial)]
    if channel:
        args += ["--channel", channel]
    subprocess.run(args, check=True, capture_output=True)
    return d


def publish(src_dir, served):
    """What a release job does: the signature first, then the bundle, each by rename."""
    for name in ["policy.bin.minisig", "policy.bin"]:
        src = os.path.join(src_dir, name)
        dst = os.path.join(served, name)
        if os.path.exists(src):
            shutil.copy(src, dst + ".tmp")
            os.replace(dst + ".tmp", dst)
        elif os.path.exists(dst):
            os.remove(dst)


class Files:
    """A static server with ETags (If-None-Match answered with 304)."""

    def __init__(self, root):
        self.gets = 0
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *a, **k):
                super().__init__(*a, directory=root, **k)

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.gets += 1
                if self.path.startswith("/r/"):
                    # A release host that sends the file to its storage, relatively.
                    self.send_response(302)
                    self.send_header("location", "../" + self.path[3:])
                    self.end_headers()
                    return
                path = self.translate_path(self.path)
                if not os.path.isfile(path):
                    self.send_error(404)
                    return
                with open(path, "rb") as f:
                    data = f.read()
                etag = '"%s"' % hashlib.sha256(data).hexdigest()[:16]
                if self.headers.get("if-none-match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("etag", etag)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Runtime:
    def __init__(self, tmp, url, trust, cache, upstream_port, name="rt", extra=()):
        self.stderr = open(os.path.join(tmp, f"{name}.log"), "w+")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "crust-runtime"), "--policy-url", url, "--trust", trust, "--policy-cache", cache,
             "--poll-secs", "1", "--endpoint", f"http://127.0.0.1:{upstream_port}", "--listen", "127.0.0.1:0",
             *extra],
            stderr=self.stderr, env=dict(os.environ, HOME=tmp, CRUST_LOG="info", NO_COLOR="1"))
        self.port = None
        end = time.time() + 20
        while time.time() < end and self.port is None and self.proc.poll() is None:
            m = re.search(r"crust proxy listening listen=127\.0\.0\.1:(\d+)", self.log())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.05)

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read()

    def health(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/crust/health") as r:
            return json.loads(r.read())["bundle"]

    def ask(self):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/messages", data=HISTORY.encode(),
                                     headers=HDRS, method="POST")
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def wait_log(rt, text, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if text in rt.log():
            return True
        time.sleep(0.1)
    return False


def keys(tmp):
    key = os.path.join(tmp, "signing.key")
    out = crust("keygen", key)
    assert out.returncode == 0, out.stderr
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    assert crust("keygen", key).returncode != 0, "never overwrites a key"
    return key, key + ".pub"


def test_signed_bundles_over_https_style_serving(tmp_path, upstream):
    tmp = str(tmp_path)
    key, pub = keys(tmp)
    os.makedirs(os.path.join(tmp, "other"))
    other, _ = keys(os.path.join(tmp, "other"))
    served = os.path.join(tmp, "served")
    os.makedirs(served)
    publish(build(tmp, "v1", key, 100), served)
    files = Files(served)
    cache = os.path.join(tmp, "cache")
    rt = Runtime(tmp, f"http://127.0.0.1:{files.port}/policy.bin", pub, cache, upstream.port)
    try:
        assert rt.port, rt.log()
        first = rt.health()
        status, text = rt.ask()
        assert status == 200 and "no-make-deploy" not in text

        # Under load, a newer signed bundle swaps in with no failed request.
        failures, answers, stop = [], [], threading.Event()

        def load():
            while not stop.is_set():
                try:
                    answers.append(rt.ask()[1])
                except Exception as e:  # noqa: BLE001
                    failures.append(repr(e))

        workers = [threading.Thread(target=load) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(0.5)
        publish(build(tmp, "v2", key, 200, extra_rule=True), served)
        end = time.time() + 15
        while time.time() < end and not (answers and "no-make-deploy" in answers[-1]):
            time.sleep(0.1)
        time.sleep(0.5)
        stop.set()
        for w in workers:
            w.join()
        assert failures == [], failures[:3]
        assert "no-make-deploy" in answers[-1]
        assert len(answers) > 20
        second = rt.health()
        assert second["rules"] == first["rules"] + 1

        # Each bad bundle is refused with its reason, and the good one keeps serving.
        bad = [
            ("unsigned", build(tmp, "v3", key, 300, sign=False), "not signed"),
            ("wrong key", build(tmp, "v4", other, 400), "another key"),
            ("older", build(tmp, "v5", key, 150), "not newer"),
        ]
        tampered = build(tmp, "v6", key, 600)
        with open(os.path.join(tampered, "policy.bin"), "r+b") as f:
            f.seek(-1, 2)
            last = f.read(1)
            f.seek(-1, 2)
            f.write(bytes([last[0] ^ 1]))
        bad.append(("tampered", tampered, "changed after signing"))
        for what, d, reason in bad:
            publish(d, served)
            assert wait_log(rt, reason), (what, rt.log()[-2000:])
            assert rt.health() == second, what
        # ETags: an unchanged bundle is not fetched again (a poll is one conditional GET).
        before = files.gets
        time.sleep(3)
        assert files.gets - before <= 8
    finally:
        rt.stop()
        files.stop()

    # The registry is down: a new runtime starts from the saved copy, verified.
    rt2 = Runtime(tmp, f"http://127.0.0.1:{files.port}/policy.bin", pub, cache, upstream.port, name="rt2")
    try:
        assert rt2.port, rt2.log()
        assert "starting from the saved bundle" in rt2.log()
        assert rt2.health() == second
    finally:
        rt2.stop()
    # With no saved copy either, it does not start.
    rt3 = Runtime(tmp, f"http://127.0.0.1:{files.port}/policy.bin", pub, os.path.join(tmp, "empty"), upstream.port,
                  name="rt3")
    rt3.proc.wait(timeout=40)
    assert rt3.proc.returncode != 0 and "no saved copy" in rt3.log()
    # A saved copy changed on disk is refused at start.
    with open(os.path.join(cache, "policy.bin"), "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    rt4 = Runtime(tmp, f"http://127.0.0.1:{files.port}/policy.bin", pub, cache, upstream.port, name="rt4")
    rt4.proc.wait(timeout=40)
    assert rt4.proc.returncode != 0 and "changed after signing" in rt4.log()


def test_channels_floors_and_redirects(tmp_path, upstream):
    tmp = str(tmp_path)
    key, pub = keys(tmp)
    served = os.path.join(tmp, "served")
    os.makedirs(served)
    publish(build(tmp, "v1", key, 100, channel="stable"), served)
    files = Files(served)
    url = f"http://127.0.0.1:{files.port}/r/policy.bin"
    cache = os.path.join(tmp, "cache")
    try:
        # Through a redirect, for the stable channel.
        rt = Runtime(tmp, url, pub, cache, upstream.port, extra=["--channel", "stable"])
        try:
            assert rt.port, rt.log()
            first = rt.health()
            # Signed by the same key, newer, but for another channel: refused.
            publish(build(tmp, "dev", key, 300, extra_rule=True, channel="dev"), served)
            assert wait_log(rt, "signed for channel `dev`, not `stable`"), rt.log()[-2000:]
            assert rt.health() == first
            # Near miss: the same for the right channel swaps in.
            publish(build(tmp, "v2", key, 200, extra_rule=True, channel="stable"), served)
            end = time.time() + 15
            while time.time() < end and rt.health() == first:
                time.sleep(0.1)
            assert rt.health()["rules"] == first["rules"] + 1
            second = rt.health()
        finally:
            rt.stop()
        # The registry rolled back: a restarting replica keeps its newer saved bundle, loudly.
        publish(build(tmp, "old", key, 150, channel="stable"), served)
        rt = Runtime(tmp, url, pub, cache, upstream.port, name="rt-old", extra=["--channel", "stable"])
        try:
            assert rt.port, rt.log()
            # The first pull runs after the proxy starts listening: wait for its verdict.
            assert wait_log(rt, "not newer"), rt.log()[-2000:]
            assert "the pulled bundle was refused" in rt.log()
            assert rt.health() == second
        finally:
            rt.stop()
        # A new replica with no saved copy still refuses what is below the operator's floor.
        rt = Runtime(tmp, url, pub, os.path.join(tmp, "fresh"), upstream.port, name="rt-floor",
                     extra=["--channel", "stable", "--min-serial", "160"])
        rt.proc.wait(timeout=40)
        assert rt.proc.returncode != 0 and "not newer" in rt.log(), rt.log()
    finally:
        files.stop()


def registry_binary():
    return shutil.which("docker-registry") or shutil.which("registry")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oras_push(port, ref, d):
    import oras.client
    client = oras.client.OrasClient(hostname=f"127.0.0.1:{port}", insecure=True)
    cwd = os.getcwd()
    os.chdir(d)
    try:
        files = ["policy.bin"] + (["policy.bin.minisig"] if os.path.exists("policy.bin.minisig") else [])
        client.push(target=f"127.0.0.1:{port}/{ref}", files=files, disable_path_validation=True)
    finally:
        os.chdir(cwd)


def test_signed_bundles_from_an_oci_registry(tmp_path, upstream):
    binary = registry_binary()
    if not binary:
        if os.environ.get("CRUST_E2E_REQUIRE_AGENTS"):
            pytest.fail("docker-registry is not installed (apt-get install docker-registry)")
        pytest.skip("docker-registry is not installed")
    tmp = str(tmp_path)
    port = free_port()
    cfg = os.path.join(tmp, "registry.yml")
    with open(cfg, "w") as f:
        f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp}/registry\n"
                f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n")
    reg = subprocess.Popen([binary, "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.time() + 15
        while time.time() < end:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/")
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.1)
        key, pub = keys(tmp)
        oras_push(port, "team/policy:stable", build(tmp, "v1", key, 100))
        rt = Runtime(tmp, f"oci://localhost:{port}/team/policy:stable", pub, os.path.join(tmp, "cache"), upstream.port)
        try:
            assert rt.port, rt.log()
            first = rt.health()
            oras_push(port, "team/policy:stable", build(tmp, "v2", key, 200, extra_rule=True))
            end = time.time() + 15
            while time.time() < end and rt.health() == first:
                time.sleep(0.1)
            assert rt.health()["rules"] == first["rules"] + 1
            assert "no-make-deploy" in rt.ask()[1]
            oras_push(port, "team/policy:stable", build(tmp, "v3", key, 300, sign=False))
            assert wait_log(rt, "not signed"), rt.log()[-2000:]
        finally:
            rt.stop()
    finally:
        reg.terminate()
        reg.wait(timeout=10)
