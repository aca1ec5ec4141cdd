"""A local LLM upstream for end-to-end tests: replays recorded responses and logs requests.

The fixture is chosen by the `x-test-scenario` header (which the proxy must forward):
`fixtures/<scenario>.sse` is sent as an event stream, `fixtures/<scenario>.json` as JSON, and the
streams with framing games of `framing.py` by their names.
Every request (method, path, headers, body) is appended to the log file as one JSON line.
Usage: python3 mock_upstream.py PORT_FILE LOG_FILE
"""
import gzip
import json
import os
import sys
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import framing

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _log(self, body):
        rec = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        with open(self.server.log_file, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def _send(self, status, ctype, data, chunked=False, delay=0.0):
        self.send_response(status)
        self.send_header("content-type", ctype)
        # `x-test-encoding: gzip|deflate`: compress the answer whatever the request accepts,
        # as some servers and gateways do.
        enc = self.headers.get("x-test-encoding", "")
        if enc == "gzip":
            data = gzip.compress(data)
        elif enc == "deflate":
            data = zlib.compress(data)
        if enc:
            self.send_header("content-encoding", enc)
        cut = int(self.headers.get("x-test-cut-after", "0"))
        if chunked and cut:
            # Reset mid-stream: part of the body, then the connection drops.
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            piece = data[:cut]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if chunked and enc:
            # A compressed stream arrives in pieces that cut across events.
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            step = max(1, len(data) // 5)
            for i in range(0, len(data), step):
                piece = data[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif chunked:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            # One event per chunk, as a real server flushes them.
            for part in data.split(b"\n\n"):
                if not part.strip():
                    continue
                piece = part + b"\n\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                if delay:
                    time.sleep(delay)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def _batch(self, batch_id):
        # An ended batch whose results sit on the provider's own host, as the real API says:
        # only the proxy pointing results_url back at itself keeps the SDK on the proxy.
        return json.dumps({
            "id": batch_id, "type": "message_batch", "processing_status": "ended",
            "request_counts": {"processing": 0, "succeeded": 3, "errored": 1, "canceled": 0, "expired": 0},
            "created_at": "2026-11-25T00:00:00Z", "expires_at": "2026-11-26T00:00:00Z",
            "ended_at": "2026-11-25T00:01:00Z", "archived_at": None, "cancel_initiated_at": None,
            "results_url": f"https://api.anthropic.com/v1/messages/batches/{batch_id}/results",
        }).encode()

    def do_HEAD(self):
        self._log(b"")
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self):
        self._log(b"")
        if self.path.startswith("/v1/models"):
            return self._send(200, "application/json", b'{"data":[]}')
        # A stored response or completion fetched again: the scenario's JSON.
        base = os.path.join(FIXTURES, os.path.basename(self.headers.get("x-test-scenario", "")))
        if self.path.startswith(("/v1/responses/", "/v1/chat/completions/")) and os.path.exists(base + ".json"):
            with open(base + ".json", "rb") as f:
                return self._send(200, "application/json", f.read())
        path = self.path.split("?")[0]
        # Batch results and file contents: the scenario's JSON lines.
        if path.endswith(("/results", "/content")) and os.path.exists(base + ".jsonl"):
            with open(base + ".jsonl", "rb") as f:
                return self._send(200, "application/binary", f.read())
        if path == "/v1/messages/batches":
            batch = json.loads(self._batch("msgbatch_1"))
            page = {"data": [batch], "has_more": False, "first_id": "msgbatch_1", "last_id": "msgbatch_1"}
            return self._send(200, "application/json", json.dumps(page).encode())
        if path.startswith("/v1/messages/batches/"):
            return self._send(200, "application/json", self._batch(path.rsplit("/", 1)[-1]))
        self._send(404, "application/json", b'{"error":{"message":"not found"}}')

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n)
        self._log(body)
        if self.path.split("?")[0].endswith("/count_tokens"):
            return self._send(200, "application/json", b'{"input_tokens":7}')
        if self.path.split("?")[0].endswith("/files"):
            obj = {"id": "file-in", "object": "file", "bytes": n, "created_at": 1764028800,
                   "filename": "input.jsonl", "purpose": "batch", "status": "processed"}
            return self._send(200, "application/json", json.dumps(obj).encode())
        if self.path.split("?")[0].endswith("/messages/batches"):
            return self._send(200, "application/json", self._batch("msgbatch_1"))
        scenario = self.headers.get("x-test-scenario", "")
        if scenario in framing.SCENARIOS:
            delay = float(self.headers.get("x-test-delay", "0"))
            data = framing.SCENARIOS[scenario].encode()
            return self._send(200, "text/event-stream", data, chunked=True, delay=delay)
        base = os.path.join(FIXTURES, os.path.basename(scenario))
        if os.path.exists(base + ".sse"):
            with open(base + ".sse", "rb") as f:
                delay = float(self.headers.get("x-test-delay", "0"))
                return self._send(200, "text/event-stream", f.read(), chunked=True, delay=delay)
        if os.path.exists(base + ".json"):
            with open(base + ".json", "rb") as f:
                return self._send(200, "application/json", f.read())
        self._send(400, "application/json", b'{"error":{"message":"unknown scenario"}}')


def main():
    port_file, log_file = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.log_file = log_file
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
