"""Decisions as OpenTelemetry logs: a small OTLP/HTTP receiver collects exactly one log record per
decision (the same decisions the audit log holds); with the receiver gone, requests do not wait
and the records that could not be sent are counted."""
import json
import os
import signal
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anthropic

from test_audit import crust_logs
from conftest import Proxy


class Receiver:
    def __init__(self):
        self.records = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                assert self.path == "/v1/logs" and self.headers.get("content-type") == "application/json"
                req = json.loads(body)
                for rl in req["resourceLogs"]:
                    for sl in rl["scopeLogs"]:
                        outer.records.extend(sl["logRecords"])
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def attrs(rec):
    return {a["key"]: next(iter(a["value"].values())) for a in rec["attributes"]}


def metric(p, name):
    with urllib.request.urlopen(f"{p.url}/crust/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(line.split()[-1])
    return None


def test_one_log_record_per_decision_and_drops_counted_without_waiting(tmp_path, upstream):
    rx = Receiver()
    keys, log = tmp_path / "keys", tmp_path / "audit.log"
    p = Proxy(str(tmp_path), upstream.port, extra_args=[
        "--otlp", f"http://127.0.0.1:{rx.port}", "--audit-log", str(log), "--audit-key-dir", str(keys)])
    try:
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        for scenario in ["anth_danger", "anth_benign", "anth_mixed"]:
            client.messages.create(model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"x-test-scenario": scenario, "x-claude-code-session-id": "sess-7"})
        deadline = time.time() + 10
        while time.time() < deadline and metric(p, "crust_otlp_exported_total") != len(rx.records) or not rx.records:
            time.sleep(0.1)
        time.sleep(1)
        exported = list(rx.records)
        blocks = [r for r in exported if attrs(r)["crust.decision"] == "block"]
        assert blocks and all(attrs(r)["crust.rule"] and r["severityText"] == "WARN" for r in blocks)
        # A call the model asked for carries its id.
        assert any(attrs(r).get("crust.call_id", "").startswith("toolu_") for r in blocks), blocks
        assert all(attrs(r)["crust.conversation"] == "sess-7" and attrs(r)["crust.bundle_checksum"] for r in exported)
        assert any(attrs(r)["crust.decision"] == "allow" and "crust.rule" not in attrs(r) for r in exported)
        assert not any("BEGIN" in attrs(r).get("crust.args", "") for r in exported)

        # The collector is gone: requests still answer at once, and what could not be sent is counted.
        rx.stop()
        started = time.time()
        for _ in range(3):
            client.messages.create(model="m", max_tokens=64, messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"x-test-scenario": "anth_danger"})
        assert time.time() - started < 5
        deadline = time.time() + 10
        dropped = 0
        while time.time() < deadline:
            time.sleep(1)
            now = metric(p, "crust_otlp_dropped_total")
            if now and now == dropped:
                break
            dropped = now
        assert dropped > 0
    finally:
        p.proc.send_signal(signal.SIGTERM)
        assert p.proc.wait(timeout=15) == 0
    # Exactly one record per decision: every decision of the audit log of the same run was
    # exported once, in order, or (after the collector stopped) counted as dropped.
    out = crust_logs("--file", str(log), "--identity", str(keys / "audit-identity.txt"), "--json", home=str(tmp_path))
    audited = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(audited) == len(exported) + dropped
    assert [(a["tool"], a["decision"], a.get("rule")) for a in audited[:len(exported)]] == \
        [(attrs(r)["crust.tool"], attrs(r)["crust.decision"], attrs(r).get("crust.rule")) for r in exported]
