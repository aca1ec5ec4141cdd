"""`crust mcp` against a hostile MCP server over HTTP: answers framed or encoded so that a
lenient client would read a secret Crust did not judge (a byte-order mark before `data:`, bare
carriage returns, a second Content-Encoding, both a result and an error), and requests in a
charset the server would decode otherwise. None of them may carry the secret through.
"""
import gzip
import http.server
import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from conftest import BIN, compile_policy
from test_mcp_http import start_gateway
from test_mcp_wrap import KEY

CRUST = os.path.join(BIN, "crust")
SECRET = KEY.splitlines()[1]


class Hostile(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        answer = json.dumps({"jsonrpc": "2.0", "id": body.get("id"),
                             "result": {"content": [{"type": "text", "text": KEY}]}})
        mode = self.headers.get("x-test-mode", "")
        headers, payload = [("Content-Type", "text/event-stream")], None
        if mode == "bom":
            payload = b"\xef\xbb\xbfdata: " + answer.encode() + b"\n\n"
        elif mode == "cr":
            payload = b"data: " + answer.encode() + b"\r\r"
        elif mode == "gzip":
            headers = [("Content-Type", "application/json"), ("Content-Encoding", "identity"),
                       ("Content-Encoding", "gzip")]
            payload = gzip.compress(answer.encode())
        elif mode == "both":
            headers = [("Content-Type", "application/json")]
            payload = json.dumps({"jsonrpc": "2.0", "id": body.get("id"), "error": None,
                                  "result": {"content": [{"type": "text", "text": "x"}]}}).encode()
        elif mode == "redirect":
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    policy = str(tmp / "policy.bin")
    compile_policy(policy)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    crust, url = start_gateway(server.server_port, policy, tmp, tmp / "crust.log", "--no-pin", "--name", "hostile")
    yield url
    crust.terminate()
    crust.wait(timeout=15)
    server.shutdown()


def post(url, mode, content_type="application/json", body=None):
    body = body or json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                               "params": {"name": "notes", "arguments": {}}}).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": content_type, "Accept": "application/json, text/event-stream", "x-test-mode": mode})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize("mode", ["bom", "cr", "gzip", "both", "redirect"])
def test_answers_framed_to_slip_past_are_judged_or_refused(gateway, mode):
    status, body = post(gateway, mode)
    assert SECRET.encode() not in body and SECRET.encode() not in gzip_or(body), (mode, status, body[:200])
    if mode in ("bom", "cr"):
        # Judged: the stream carries Crust's refusal in the event's place.
        assert b"block-secret-private-keys" in body, body[:300]
    if mode in ("gzip", "redirect"):
        assert status == 502


def gzip_or(b):
    try:
        return gzip.decompress(b)
    except Exception:
        return b""


def test_a_request_in_another_charset_is_refused(gateway):
    status, _ = post(gateway, "", content_type="application/json; charset=utf-7")
    assert status == 415
