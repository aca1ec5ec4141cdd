"""A local Anthropic Messages API that drives a real agent through one scripted turn.

A request whose last user message carries tool results gets a closing text answer; a request
that offers the `Bash` tool and whose prompt holds the `CRUST-E2E` marker gets the tool calls
listed in the file named by the marker's line (`CRUST-E2E <path>`: one JSON command per line);
anything else (titles, quota probes) gets a short text. Streams when asked to. Every request is
appended to the log as one JSON line.
Usage: python3 agent_upstream.py PORT_FILE LOG_FILE
"""
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def texts(content):
    if isinstance(content, str):
        return [content]
    out = []
    for b in content or []:
        if isinstance(b, dict) and b.get("type") == "text":
            out.append(b.get("text", ""))
    return out


def plan(req):
    """The content blocks of the answer."""
    msgs = req.get("messages") or []
    last = msgs[-1] if msgs else {}
    content = last.get("content")
    if isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    ):
        return [{"type": "text", "text": "All done."}]
    tools = {t.get("name") for t in req.get("tools") or [] if isinstance(t, dict)}
    prompt = "\n".join(t for m in msgs if m.get("role") == "user" for t in texts(m.get("content")))
    m = re.search(r"CRUST-E2E (\S+)", prompt)
    if "Bash" in tools and m:
        with open(m.group(1)) as f:
            commands = [json.loads(line) for line in f if line.strip()]
        return [
            {"type": "tool_use", "id": f"toolu_e2e_{i}", "name": "Bash",
             "input": {"command": c, "description": "step"}}
            for i, c in enumerate(commands)
        ]
    return [{"type": "text", "text": "ok"}]


def message(blocks, model):
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": "msg_e2e", "type": "message", "role": "assistant", "model": model,
        "content": blocks, "stop_reason": stop, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


def events(blocks, model):
    msg = message([], model)
    msg["stop_reason"] = None
    yield "message_start", {"type": "message_start", "message": msg}
    for i, b in enumerate(blocks):
        if b["type"] == "text":
            yield "content_block_start", {"type": "content_block_start", "index": i,
                                          "content_block": {"type": "text", "text": ""}}
            yield "content_block_delta", {"type": "content_block_delta", "index": i,
                                          "delta": {"type": "text_delta", "text": b["text"]}}
        else:
            start = dict(b, input={})
            yield "content_block_start", {"type": "content_block_start", "index": i,
                                          "content_block": start}
            yield "content_block_delta", {"type": "content_block_delta", "index": i,
                                          "delta": {"type": "input_json_delta",
                                                    "partial_json": json.dumps(b["input"])}}
        yield "content_block_stop", {"type": "content_block_stop", "index": i}
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                            "usage": {"output_tokens": 10}}
    yield "message_stop", {"type": "message_stop"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, ctype, data):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._reply(200, "application/json", b"{}")

    def do_HEAD(self):
        self._reply(200, "application/json", b"")

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(n)
        with open(self.server.log_file, "a") as f:
            f.write(json.dumps({"path": self.path, "body": body.decode("utf-8", "replace")}) + "\n")
        if not self.path.split("?")[0].endswith("/v1/messages"):
            # Token counting and the like: an answer of the right shape.
            self._reply(200, "application/json", b'{"input_tokens": 10}')
            return
        try:
            req = json.loads(body)
        except ValueError:
            self._reply(400, "application/json", b'{"type":"error","error":{"type":"invalid_request_error","message":"bad json"}}')
            return
        blocks = plan(req)
        model = req.get("model", "claude-e2e")
        if req.get("stream"):
            data = "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events(blocks, model))
            self._reply(200, "text/event-stream", data.encode())
        else:
            self._reply(200, "application/json", json.dumps(message(blocks, model)).encode())


def main():
    port_file, log_file = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.log_file = log_file
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
