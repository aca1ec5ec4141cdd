"""`crust mcp --upstream URL`: the official MCP Python SDK's Streamable HTTP client through Crust
to a server written with the SDK, answering with event streams and with JSON. Dangerous calls
are refused and never executed, harmless ones pass, secrets in results are withheld, sessions
work, and requests from other origins (DNS rebinding) are refused.
"""
import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, ROOT, compile_policy

mcp = pytest.importorskip("mcp")
from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from test_mcp_wrap import KEY, refused  # noqa: E402

CRUST = os.path.join(BIN, "crust")
SERVER = os.path.join(ROOT, "tests", "e2e", "mcp_server.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


def start_gateway(port, policy, home, log_path, *extra, cwd=None):
    """`crust mcp` in front of 127.0.0.1:PORT; returns the process and the URL it serves."""
    log = open(log_path, "w+")
    crust = subprocess.Popen(
        [CRUST, "mcp", "--upstream", f"http://127.0.0.1:{port}/mcp", "--listen", "127.0.0.1:0",
         "--policy", policy, "--no-audit", *extra],
        stderr=log, env=dict(os.environ, HOME=str(home)), cwd=cwd,
    )
    end = time.time() + 20
    while time.time() < end:
        log.seek(0)
        m = re.search(r"on (http://127\.0\.0\.1:\d+/mcp)", log.read())
        if m:
            return crust, m.group(1)
        time.sleep(0.05)
    crust.kill()
    raise RuntimeError("crust mcp did not start")


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    p = str(tmp_path_factory.mktemp("policy") / "policy.bin")
    compile_policy(p)
    return p


@pytest.fixture(params=["stream", "json"])
def gateway(request, policy, tmp_path):
    home, proj = tmp_path / "home", tmp_path / "home" / "proj"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(KEY)
    proj.mkdir()
    (proj / "README.md").write_text("# demo project\n")
    env = dict(os.environ, HOME=str(home), CRUST_TEST_NOTES="deploy key:\n" + KEY)
    port = free_port()
    args = [sys.executable, SERVER, "--http", str(port)] + (["--json"] if request.param == "json" else [])
    server = subprocess.Popen(args, cwd=str(proj), env=env, stderr=subprocess.DEVNULL)
    wait_port(port, server)
    crust, url = start_gateway(port, policy, home, tmp_path / "crust.log", "--name", "web", cwd=str(proj))
    yield url, home, proj
    crust.terminate()
    server.terminate()
    crust.wait(timeout=15)
    server.wait(timeout=15)


def session(url, body):
    async def go():
        async with streamable_http_client(url) as (r, w):
            async with ClientSession(r, w) as s:
                await s.initialize()
                return await body(s)

    return asyncio.run(go())


def test_calls_are_judged_and_results_scanned_through_http(gateway):
    url, home, proj = gateway

    async def body(s):
        names = {t.name for t in (await s.list_tools()).tools}
        assert names == {"read_text", "run", "notes"}
        ok = await s.call_tool("read_text", {"path": str(proj / "README.md")})
        assert ok.content[0].text == "# demo project\n"
        with pytest.raises(Exception) as e:
            await s.call_tool("read_text", {"path": "~/.ssh/id_rsa"})
        refused(e, "protect-ssh-keys")
        with pytest.raises(Exception) as e:
            await s.call_tool("run", {"command": "cp ~/.ssh/id_rsa stolen.txt"})
        refused(e, "protect-ssh-keys")
        with pytest.raises(Exception) as e:
            await s.call_tool("notes", {})
        refused(e, "block-secret-private-keys")
        done = await s.call_tool("run", {"command": "echo built > out.txt && cat out.txt"})
        assert "built" in done.content[0].text

    session(url, body)
    assert not (proj / "stolen.txt").exists()
    assert (proj / "out.txt").read_text() == "built\n"


def test_requests_from_other_origins_are_refused(gateway):
    url, _, _ = gateway
    msg = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Host": "rebind.example:80"}):
        req = urllib.request.Request(url, data=msg, method="POST", headers={
            "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 403, headers


EVERYTHING = os.path.join(
    ROOT, "tests", "e2e", "agents", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js"
)


@pytest.mark.skipif(not os.path.exists(EVERYTHING), reason="npm ci --prefix tests/e2e/agents")
def test_the_reference_everything_server_from_npm_over_http(policy, tmp_path):
    """The published reference server over Streamable HTTP: streamed progress passes, a secret
    in its environment dump is withheld, and the session ends cleanly."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = dict(os.environ, PORT=str(port), HOME=str(home), STRIPE_KEY="sk_live_4eC39HqLyjWDarjtT1zdp7dc")
    server = subprocess.Popen(["node", EVERYTHING, "streamableHttp"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    crust = None
    try:
        wait_port(port, server)
        crust, url = start_gateway(port, policy, home, tmp_path / "crust.log", "--name", "everything")

        async def body(s):
            names = {t.name for t in (await s.list_tools()).tools}
            assert {"echo", "get-env", "trigger-long-running-operation"} <= names
            echoed = await s.call_tool("echo", {"message": "hello through crust"})
            assert "hello through crust" in echoed.content[0].text
            done = await s.call_tool("trigger-long-running-operation", {"duration": 1, "steps": 3})
            assert not done.is_error, done
            with pytest.raises(Exception) as e:
                await s.call_tool("get-env", {})
            refused(e, "block-secret-payment-and-messaging")

        session(url, body)
    finally:
        if crust:
            crust.terminate()
            crust.wait(timeout=15)
        server.terminate()
        server.wait(timeout=15)
