"""Request side fails closed: what Crust cannot parse is refused, every endpoint's body is judged,
odd path spellings are judged as the path they mean, a refused secret stays refused in later turns,
bodies that never arrive time out, and a non-loopback listen needs a token."""
import http.client
import json
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import BIN, compile_policy

SECRET = "sk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2"
HDRS = {"content-type": "application/json", "x-test-scenario": "anth_benign", "anthropic-version": "2023-06-01"}


def post(proxy, path, body, headers=HDRS):
    c = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=20)
    c.request("POST", path, body=body, headers=headers)
    r = c.getresponse()
    out = r.status, r.read().decode("utf-8", "replace")
    c.close()
    return out


def refused(status, text):
    return status == 400 or "Blocked by Crust" in text


def msgs(content):
    return [{"role": "user", "content": content}]


def body(content, **extra):
    return json.dumps({"model": "m", "max_tokens": 8, "messages": msgs(content), **extra})


# Each variant is rejected by serde_json but accepted by some client or provider parser.
UNPARSEABLE = {
    "lone surrogate": lambda: ('{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"\\ud800 %s"}]}'
                               % SECRET).encode(),
    "deep nesting": lambda: ('{"model":"m","max_tokens":8,"x":%s1%s,"messages":[{"role":"user","content":"%s"}]}'
                             % ("[" * 200, "]" * 200, SECRET)).encode(),
    "NaN": lambda: ('{"model":"m","max_tokens":8,"temperature":NaN,"messages":[{"role":"user","content":"%s"}]}'
                    % SECRET).encode(),
    "BOM": lambda: b"\xef\xbb\xbf" + body(SECRET).encode(),
    "trailing bytes": lambda: body(SECRET).encode() + b" {}",
    "invalid UTF-8": lambda: body(SECRET + " \x00").encode().replace(b"\\u0000", b"\xff"),
}


@pytest.mark.parametrize("variant", sorted(UNPARSEABLE))
def test_unparseable_body_with_a_secret_is_refused(proxy, up, variant):
    status, text = post(proxy, "/v1/messages", UNPARSEABLE[variant]())
    assert status == 400, text
    assert up.requests() == []


def test_a_well_formed_body_still_passes(proxy, up):
    status, text = post(proxy, "/v1/messages", body("hello"))
    assert status == 200, text
    assert len(up.requests()) == 1


@pytest.mark.parametrize("path,payload", [
    ("/v1/messages/count_tokens", lambda c: body(c)),
    ("/v1/embeddings", lambda c: json.dumps({"model": "e", "input": [c]})),
    ("/v1/complete", lambda c: json.dumps({"model": "m", "prompt": f"\n\nHuman: {c}\n\nAssistant:"})),
    ("/v1/some/new/endpoint", lambda c: json.dumps({"deep": {"list": [{"k": c}]}})),
])
def test_every_endpoint_body_is_judged(proxy, up, path, payload):
    status, text = post(proxy, path, payload(f"use key {SECRET}"))
    assert refused(status, text), text
    assert "Blocked by Crust" in text
    assert up.requests() == []
    # Near miss: the same endpoint with ordinary text is forwarded.
    status, text = post(proxy, path, payload("count the tokens of this sentence"))
    assert not refused(status, text) or "unknown scenario" in text, text
    assert len(up.requests()) == 1


def test_non_json_body_is_judged_as_text(proxy, up):
    status, text = post(proxy, "/v1/files", f"key={SECRET}".encode(),
                        headers={"content-type": "text/plain", "x-test-scenario": "anth_benign"})
    assert refused(status, text), text
    assert up.requests() == []


@pytest.mark.parametrize("path", ["/v1/Messages", "/v1/m%65ssages", "/v1/messages;x", "/v1//messages",
                                  "/v1/x/../messages", "/v1/%2565ssages"])
def test_path_spellings_are_judged(proxy, up, path):
    status, text = post(proxy, path, body(f"use key {SECRET}"))
    assert refused(status, text), text
    assert up.requests() == []


def test_refused_secret_stays_refused_on_the_next_turn(proxy, up):
    status, first = post(proxy, "/v1/messages", body(f"use key {SECRET}"))
    assert "Blocked by Crust" in first
    notice = json.loads(first)["content"][0]["text"]
    assert "start a new session" in notice
    assert "crust:outbound call was not executed" not in notice
    # The agent keeps Crust's refusal as the latest assistant message and sends the next turn.
    history = [
        {"role": "user", "content": f"use key {SECRET}"},
        {"role": "assistant", "content": notice},
        {"role": "user", "content": "ok, go on"},
    ]
    status, text = post(proxy, "/v1/messages", json.dumps({"model": "m", "max_tokens": 8, "messages": history}))
    assert "Blocked by Crust" in text
    assert "start a new session" in text
    assert up.requests() == []
    # Near miss: the user removed the message; the rest of the history passes.
    history[0]["content"] = "use the key from the vault"
    status, text = post(proxy, "/v1/messages", json.dumps({"model": "m", "max_tokens": 8, "messages": history}))
    assert status == 200 and "Blocked by Crust" not in text, text
    assert len(up.requests()) == 1


def test_secret_in_the_system_prompt_or_an_old_tool_result_is_refused(proxy, up):
    history = [
        {"role": "user", "content": "read .env"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read",
                                           "input": {"file_path": "config/settings.txt"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": f"KEY={SECRET}"}]},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "thanks"},
    ]
    status, text = post(proxy, "/v1/messages", json.dumps({"model": "m", "max_tokens": 8, "messages": history}))
    assert "Blocked by Crust" in text
    assert up.requests() == []
    status, text = post(proxy, "/v1/messages", json.dumps({"model": "m", "max_tokens": 8, "system": f"key {SECRET}",
                                                           "messages": msgs("hi")}))
    assert "Blocked by Crust" in text
    assert up.requests() == []


def _start(tmp_path, upstream, args, env_extra=None):
    policy = os.path.join(str(tmp_path), "policy.bin")
    compile_policy(policy)
    log = open(os.path.join(str(tmp_path), "proxy.log"), "w+")
    env = dict(os.environ, HOME="/home/user", CRUST_LOG="info", NO_COLOR="1", **(env_extra or {}))
    proc = subprocess.Popen([os.path.join(BIN, "crust-runtime"), "--policy", policy,
                             "--endpoint", f"http://127.0.0.1:{upstream.port}", *args], stderr=log, env=env)
    return proc, log


def _port(proc, log):
    end = time.time() + 15
    while time.time() < end:
        log.seek(0)
        m = re.search(r"listen=\S+:(\d+)", log.read())
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    raise RuntimeError("proxy did not start: " + log.read())


def test_body_that_never_arrives_times_out(tmp_path, upstream):
    proc, log = _start(tmp_path, upstream, ["--listen", "127.0.0.1:0", "--body-timeout-secs", "1"])
    try:
        port = _port(proc, log)
        upstream.clear()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                  b"content-length: 1000\r\n\r\n{\"model\":")
        started = time.time()
        answer = s.recv(4096).decode("latin-1")
        assert answer.startswith("HTTP/1.1 408"), answer
        assert time.time() - started < 5
        assert upstream.requests() == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_open_listen_address_refuses_to_start(tmp_path, upstream):
    proc, log = _start(tmp_path, upstream, ["--listen", "0.0.0.0:0"])
    assert proc.wait(timeout=15) != 0
    log.seek(0)
    assert "--allow-remote" in log.read()
    proc, log = _start(tmp_path, upstream, ["--listen", "0.0.0.0:0", "--allow-remote"])
    assert proc.wait(timeout=15) != 0
    log.seek(0)
    assert "--client-token" in log.read()


def test_remote_mode_strips_the_token_and_loopback_health_works_on_dual_stack(tmp_path, upstream):
    token = "t0ken-for-the-team-0123456789"
    proc, log = _start(tmp_path, upstream, ["--listen", "[::]:0", "--allow-remote"],
                       {"CRUST_CLIENT_TOKEN": token})
    try:
        port = _port(proc, log)
        upstream.clear()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/crust/health")
        r = c.getresponse()
        assert r.status == 200, r.read()
        r.read()
        c.request("POST", "/v1/messages", body=body("hello"), headers={**HDRS, "x-crust-token": token})
        r = c.getresponse()
        assert r.status == 200, r.read()
        r.read()
        [rec] = upstream.requests()
        assert "x-crust-token" not in {k.lower() for k in rec["headers"]}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_out_of_descriptors_pauses_and_recovers(tmp_path, upstream):
    """With its descriptors used up by idle clients, the proxy neither spins nor floods its log,
    and serves again once they go."""
    import resource

    policy = os.path.join(str(tmp_path), "policy.bin")
    compile_policy(policy)
    log = open(os.path.join(str(tmp_path), "proxy.log"), "w+")
    env = dict(os.environ, HOME="/home/user", CRUST_LOG="info", NO_COLOR="1")
    proc = subprocess.Popen(
        [os.path.join(BIN, "crust-runtime"), "--policy", policy, "--endpoint",
         f"http://127.0.0.1:{upstream.port}", "--listen", "127.0.0.1:0"],
        stderr=log, env=env, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)))
    held = []
    try:
        port = _port(proc, log)
        for _ in range(120):
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        time.sleep(2)
        log.seek(0)
        text = log.read()
        assert proc.poll() is None
        # Logged once per burst, not once per failed accept.
        assert 1 <= text.count("accept failed") <= 2, text[-2000:]
        assert len(text) < 20_000
        for s in held:
            s.close()
        held.clear()
        end = time.time() + 10
        ok = False
        while time.time() < end and not ok:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/crust/health")
                ok = c.getresponse().status == 200
                c.close()
            except OSError:
                time.sleep(0.2)
        assert ok, "the proxy did not serve again after the descriptors were freed"
    finally:
        for s in held:
            s.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_request_bodies_in_flight_are_capped(tmp_path, upstream):
    """Bodies held at once stay under --max-inflight-mib: beyond it a request gets 503 at once
    instead of more memory."""
    proc, log = _start(tmp_path, upstream, ["--listen", "127.0.0.1:0", "--max-inflight-mib", "8",
                                            "--body-timeout-secs", "20"])
    socks = []
    try:
        port = _port(proc, log)
        # Four clients announce 6 MiB bodies and send half of each, so they are held.
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                      b"content-length: %d\r\n\r\n" % (6 << 20) + b" " * (3 << 20))
            socks.append(s)
        time.sleep(1)
        statuses = []
        for s in socks:
            s.settimeout(0.5)
            try:
                statuses.append(s.recv(64).decode("latin-1").split(" ")[1])
            except (socket.timeout, IndexError):
                statuses.append(None)
        assert "503" in statuses, statuses
        assert proc.poll() is None
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait(timeout=10)
