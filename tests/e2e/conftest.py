"""Fixtures for end-to-end tests: a mock upstream and the real proxy binary on loopback."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Hook servers started by the tests' hooks exit soon after their test.
os.environ.setdefault("CRUST_HOOK_SERVER_IDLE", "5")
BIN = os.environ.get("CRUST_BIN_DIR", os.path.join(ROOT, "target", "debug"))


def wait_for(path, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return
        time.sleep(0.02)
    raise TimeoutError(path)


class Upstream:
    def __init__(self, tmp):
        self.port_file = os.path.join(tmp, "mock.port")
        self.log = os.path.join(tmp, "mock.log")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "e2e", "mock_upstream.py"), self.port_file, self.log]
        )
        wait_for(self.port_file)
        with open(self.port_file) as f:
            self.port = int(f.read())

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def clear(self):
        if os.path.exists(self.log):
            os.remove(self.log)


class Proxy:
    def __init__(self, tmp, upstream_port, extra_args=(), extra_rules=None, policy=None):
        """`policy`: an existing bundle path to run on (not compiled here)."""
        self.dir = tmp
        self.policy = policy or os.path.join(tmp, "policy.bin")
        if policy is None:
            compile_policy(self.policy, extra_rules)
        self.stderr = open(os.path.join(tmp, "proxy.log"), "w+")
        env = dict(os.environ, HOME="/home/user", CRUST_LOG="info", NO_COLOR="1")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "crust-runtime"), "--policy", self.policy,
             "--endpoint", f"http://127.0.0.1:{upstream_port}", "--listen", "127.0.0.1:0", *extra_args],
            stderr=self.stderr, env=env,
        )
        self.port = None
        end = time.time() + 15
        while time.time() < end and self.port is None:
            self.stderr.seek(0)
            m = re.search(r"listen=127\.0\.0\.1:(\d+)", self.stderr.read())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("proxy did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read()


def compile_policy(out, extra=None):
    args = [os.path.join(BIN, "crustc"), os.path.join(ROOT, "rules")]
    if extra:
        args.append(extra)
    subprocess.run(args + ["-o", out], check=True, capture_output=True)


@pytest.fixture(scope="session")
def upstream(tmp_path_factory):
    u = Upstream(str(tmp_path_factory.mktemp("upstream")))
    yield u
    u.proc.terminate()


@pytest.fixture(scope="session")
def proxy(tmp_path_factory, upstream):
    p = Proxy(str(tmp_path_factory.mktemp("proxy")), upstream.port)
    yield p
    p.proc.terminate()
    p.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def proxy_replace(tmp_path_factory, upstream):
    p = Proxy(str(tmp_path_factory.mktemp("proxy-replace")), upstream.port, ["--block-mode", "replace"])
    yield p
    p.proc.terminate()
    p.proc.wait(timeout=10)


@pytest.fixture
def up(upstream):
    upstream.clear()
    return upstream
