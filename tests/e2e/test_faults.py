"""Faults: an upstream that resets mid-stream, a slow upstream, malformed tool input, an
oversized body, and bundle swaps under load."""
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request

import anthropic
import pytest

from conftest import compile_policy

MSGS = [{"role": "user", "content": "go"}]


def ant(proxy):
    return anthropic.Anthropic(base_url=proxy.url, api_key="sk-ant-test", max_retries=0)


def test_upstream_reset_mid_call_is_refused(proxy, up):
    # The call is never released, and the cut ends the stream with an error the SDK raises.
    size = len(open(os.path.join(os.path.dirname(__file__), "fixtures", "anth_danger_stream.sse"), "rb").read())
    headers = {"x-test-scenario": "anth_danger_stream", "x-test-cut-after": str(size - 300)}
    with pytest.raises(anthropic.APIStatusError, match="crust: the upstream's event stream ended early"):
        with ant(proxy).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers=headers) as s:
            s.get_final_message()


def test_malformed_tool_input_is_blocked(proxy, up):
    with ant(proxy).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers={"x-test-scenario": "anth_badjson_stream"}) as s:
        m = s.get_final_message()
    assert all(b.type != "tool_use" for b in m.content)
    assert "not valid JSON" in " ".join(b.text for b in m.content if b.type == "text")


def test_slow_upstream_text_is_not_held(proxy, up):
    # 0.15 s between events: the first text must arrive long before the stream ends.
    body = json.dumps({"model": "m", "max_tokens": 8, "stream": True, "messages": MSGS})
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
    start = time.time()
    conn.request("POST", "/v1/messages", body=body, headers={
        "content-type": "application/json", "x-test-scenario": "anth_benign_stream", "x-test-delay": "0.15"})
    r = conn.getresponse()
    first_text = None
    while True:
        line = r.readline()
        if not line:
            break
        if first_text is None and b"text_delta" in line:
            first_text = time.time() - start
    total = time.time() - start
    assert first_text is not None and total > 1.0
    assert first_text < total / 2


def test_oversized_request_body(proxy, up):
    big = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * (33 << 20)}]}).encode()
    req = urllib.request.Request(f"{proxy.url}/v1/messages", data=big, method="POST", headers={"content-type": "application/json"})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("expected 413")
    except urllib.error.HTTPError as e:
        assert e.code == 413
        assert json.loads(e.read())["error"]["type"] == "request_too_large"
    except (ConnectionResetError, BrokenPipeError):
        pass  # the proxy may close before the client finishes sending; never a 2xx
    assert up.requests() == []


def test_hot_swap_under_load(proxy, up, tmp_path):
    valid = [str(tmp_path / f"v{i}.bin") for i in range(2)]
    compile_policy(valid[0])
    extra = tmp_path / "extra.yaml"
    extra.write_text("version: 1\nrules:\n  - name: no-deploy\n    match: { command: 'make deploy' }\n    message: CI deploys.\n")
    compile_policy(valid[1], str(extra))
    invalid = tmp_path / "bad.bin"
    blobs = [open(v, "rb").read() for v in valid]
    good = open(valid[0], "rb").read()
    invalid_blobs = [good[: len(good) // 2], b"\0" * 64, good[:-1] + bytes([good[-1] ^ 1])]
    stop = threading.Event()
    failures, results = [], []
    body = json.dumps({"model": "m", "max_tokens": 8, "stream": True, "messages": MSGS})

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)
        while not stop.is_set():
            try:
                conn.request("POST", "/v1/messages", body=body, headers={
                    "content-type": "application/json", "x-test-scenario": "anth_danger_stream"})
                r = conn.getresponse()
                text = r.read().decode()
                if r.status != 200 or "message_stop" not in text:
                    failures.append((r.status, text[:200]))
                # Every answer was decided by a complete bundle: the key read is always blocked.
                results.append("Blocked by Crust: protect-ssh-keys" in text and '"tool_use"' not in text)
            except Exception as e:  # noqa: BLE001 - any failure counts
                failures.append(repr(e))
                conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    swaps = 0
    for i in range(120):
        data = blobs[i % 2] if i % 3 else invalid_blobs[i % len(invalid_blobs)]
        tmp = proxy.policy + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, proxy.policy)
        swaps += 1
        time.sleep(0.02)
    # End on a valid bundle so later tests see the built-in policy.
    with open(proxy.policy + ".tmp", "wb") as f:
        f.write(blobs[0])
    os.replace(proxy.policy + ".tmp", proxy.policy)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert swaps >= 100
    assert failures == []
    assert len(results) > 50 and all(results)
    assert "new bundle refused" in proxy.log()


def test_sigterm_finishes_in_flight_stream(tmp_path, upstream):
    import signal
    import subprocess

    from conftest import Proxy

    p = Proxy(str(tmp_path), upstream.port)
    body = json.dumps({"model": "m", "max_tokens": 8, "stream": True, "messages": MSGS})
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=30)
    conn.request("POST", "/v1/messages", body=body, headers={
        "content-type": "application/json", "x-test-scenario": "anth_benign_stream", "x-test-delay": "0.1"})
    r = conn.getresponse()
    first = r.readline()
    assert first.startswith(b"event:")
    p.proc.send_signal(signal.SIGTERM)
    rest = r.read().decode()
    assert "message_stop" in rest
    assert p.proc.wait(timeout=15) == 0


def test_websocket_upgrade_is_refused_at_once(proxy, up):
    conn = http.client.HTTPConnection("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]), timeout=5)
    conn.request("GET", "/v1/responses", headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "OpenAI-Beta": "responses_websockets=2026-02-06"})
    r = conn.getresponse()
    body = r.read().decode()
    assert r.status == 405
    assert "supports_websockets = false" in body
    assert up.requests() == []


def _post_gzip(proxy, payload, scenario):
    import gzip

    body = gzip.compress(json.dumps(payload).encode())
    req = urllib.request.Request(f"{proxy.url}/v1/messages", data=body, method="POST", headers={
        "content-type": "application/json", "content-encoding": "gzip", "x-test-scenario": scenario})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read()), body


def test_compressed_request_is_judged_then_forwarded_as_sent(proxy, up):
    m, body = _post_gzip(proxy, {"model": "m", "max_tokens": 8, "messages": MSGS}, "anth_benign")
    assert m["stop_reason"] == "tool_use"
    [rec] = up.requests()
    assert rec["headers"]["content-encoding"] == "gzip"


def test_compressed_request_with_a_dangerous_history_is_blocked(proxy, up):
    history = [
        {"role": "user", "content": "read my key"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "Read", "input": {"file_path": "~/.ssh/id_rsa"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "-----BEGIN"}]},
    ]
    m, _ = _post_gzip(proxy, {"model": "m", "max_tokens": 8, "messages": history}, "anth_benign")
    assert "Blocked by Crust: protect-ssh-keys" in m["content"][0]["text"]
    assert up.requests() == []


def test_undecodable_request_is_refused_not_forwarded(proxy, up):
    req = urllib.request.Request(f"{proxy.url}/v1/messages", data=b"\x1f\x8bnot gzip at all", method="POST", headers={
        "content-type": "application/json", "content-encoding": "gzip", "x-test-scenario": "anth_benign"})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("expected 400")
    except urllib.error.HTTPError as e:
        assert e.code == 400
        assert "cannot be inspected" in e.read().decode()
    assert up.requests() == []


@pytest.mark.parametrize("enc", ["gzip", "deflate"])
def test_compressed_stream_is_decoded_and_judged(proxy, up, enc):
    headers = {"x-test-scenario": "anth_mixed_stream", "x-test-encoding": enc}
    with ant(proxy).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers=headers) as s:
        m = s.get_final_message()
    assert [b.name for b in m.content if b.type == "tool_use"] == ["Bash"]
    assert "Blocked by Crust: protect-ssh-keys" in " ".join(b.text for b in m.content if b.type == "text")


@pytest.mark.parametrize("enc", ["gzip", "deflate"])
def test_compressed_json_is_decoded_and_judged(proxy, up, enc):
    m = ant(proxy).messages.create(model="m", max_tokens=64, messages=MSGS,
                                   extra_headers={"x-test-scenario": "anth_danger", "x-test-encoding": enc})
    assert [b for b in m.content if b.type == "tool_use"] == []
    assert m.stop_reason == "end_turn"


def test_compressed_stream_cut_mid_call_is_refused(proxy, up):
    import gzip

    size = len(gzip.compress(open(os.path.join(os.path.dirname(__file__), "fixtures", "anth_danger_stream.sse"), "rb").read()))
    headers = {"x-test-scenario": "anth_danger_stream", "x-test-encoding": "gzip", "x-test-cut-after": str(size // 2)}
    with pytest.raises(anthropic.APIStatusError, match="crust: the upstream's event stream ended early"):
        with ant(proxy).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers=headers) as s:
            s.get_final_message()


def test_outbound_secret_in_request_is_refused(tmp_path, upstream):
    from conftest import Proxy

    # The built-in secret rules judge outbound text; no extra rule is needed.
    p = Proxy(str(tmp_path), upstream.port)
    try:
        upstream.clear()
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        secret = "sk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2"
        m = client.messages.create(model="m", max_tokens=8, extra_headers={"x-test-scenario": "anth_benign"},
                                   messages=[{"role": "user", "content": f"use key {secret} please"}])
        assert "Blocked by Crust: block-secret-payment-and-messaging-keys" in m.content[0].text
        assert upstream.requests() == []
        # The near miss: the key's shape described in ordinary text passes.
        m = client.messages.create(model="m", max_tokens=8, extra_headers={"x-test-scenario": "anth_benign"},
                                   messages=[{"role": "user", "content": "keys look like sk_live_ followed by 24 characters"}])
        assert m.stop_reason == "tool_use"
        assert len(upstream.requests()) == 1
    finally:
        p.proc.terminate()
        p.proc.wait(timeout=10)
