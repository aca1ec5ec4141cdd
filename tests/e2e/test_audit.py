"""The encrypted audit log end to end: decisions taken by crust-runtime for a real SDK client
are sealed with age, `crust logs` decrypts and filters them, a wrong identity is refused, and
the files are private."""
import json
import os
import signal
import stat
import subprocess
import threading
import time

import anthropic

from conftest import BIN, Proxy


def crust_logs(*args, home):
    return subprocess.run([os.path.join(BIN, "crust"), "logs", *args], capture_output=True, text=True,
                          env=dict(os.environ, HOME=home))


def test_decisions_are_logged_encrypted_and_readable(tmp_path, upstream):
    keys = tmp_path / "keys"
    log = tmp_path / "data" / "audit.log"
    p = Proxy(str(tmp_path), upstream.port, extra_args=["--audit-log", str(log), "--audit-key-dir", str(keys)])
    try:
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        m = client.messages.create(model="m", max_tokens=64, extra_headers={"x-test-scenario": "anth_danger", "x-claude-code-session-id": "sess-42"},
                                   messages=[{"role": "user", "content": "hi"}])
        assert "Blocked by Crust" in " ".join(b.text for b in m.content if b.type == "text")
        client.messages.create(model="m", max_tokens=64, extra_headers={"x-test-scenario": "anth_benign"},
                               messages=[{"role": "user", "content": "hi"}])
    finally:
        p.proc.send_signal(signal.SIGTERM)
        assert p.proc.wait(timeout=15) == 0
    ident = keys / "audit-identity.txt"
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(ident).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    raw = log.read_bytes()
    assert raw.startswith(b"CRA1") and b"id_rsa" not in raw and b"Bash" not in raw

    out = crust_logs("--file", str(log), "--identity", str(ident), "--json", home=str(tmp_path))
    assert out.returncode == 0, out.stderr
    recs = [json.loads(l) for l in out.stdout.splitlines()]
    blocks = [r for r in recs if r["decision"] == "block"]
    assert blocks and blocks[0]["session"] == "sess-42" and blocks[0]["api"] == "anthropic-messages"
    assert blocks[0]["rule"] and blocks[0]["bundle_checksum"] and blocks[0]["eval_ns"] > 0
    assert any(r["decision"] == "allow" for r in recs)

    only = crust_logs("--file", str(log), "--identity", str(ident), "--json", "--decision", "block", home=str(tmp_path))
    assert [json.loads(l)["decision"] for l in only.stdout.splitlines()] == ["block"] * len(blocks)
    stats = crust_logs("--file", str(log), "--identity", str(ident), "--stats", home=str(tmp_path))
    assert f"{len(recs)} decisions, {len(blocks)} blocked" in stats.stdout
    assert blocks[0]["rule"] in stats.stdout

    other = tmp_path / "other"
    other.mkdir()
    # Another identity: what a second installation would have created.
    gen = subprocess.Popen([os.path.join(BIN, "crust-runtime"), "--policy", p.policy, "--audit-log", str(other / "x.log"),
                            "--audit-key-dir", str(other), "--listen", "127.0.0.1:0", "--endpoint", "http://127.0.0.1:9"],
                           stderr=subprocess.DEVNULL)
    try:
        end = time.time() + 15
        while not (other / "audit-identity.txt").exists() and time.time() < end:
            time.sleep(0.05)
    finally:
        gen.send_signal(signal.SIGTERM)
        gen.wait(timeout=15)
    wrong = crust_logs("--file", str(log), "--identity", str(other / "audit-identity.txt"), home=str(tmp_path))
    assert wrong.returncode != 0 and "identity does not match" in wrong.stderr, wrong.stderr
    missing = crust_logs("--file", str(log), "--identity", str(tmp_path / "nope.txt"), home=str(tmp_path))
    assert missing.returncode != 0 and "cannot read the audit identity" in missing.stderr


def test_secrets_are_masked_in_the_log(tmp_path, upstream):
    keys = tmp_path / "keys"
    log = tmp_path / "audit.log"
    p = Proxy(str(tmp_path), upstream.port, extra_args=["--audit-log", str(log), "--audit-key-dir", str(keys)])
    secret = "sk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2"
    try:
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        client.messages.create(model="m", max_tokens=8, extra_headers={"x-test-scenario": "anth_benign"},
                               messages=[{"role": "user", "content": f"use key {secret} please"}])
    finally:
        p.proc.send_signal(signal.SIGTERM)
        p.proc.wait(timeout=15)
    out = crust_logs("--file", str(log), "--identity", str(keys / "audit-identity.txt"), "--json", home=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert secret not in out.stdout
    assert "[REDACTED:stripe-secret-key]" in out.stdout


def test_follow_prints_records_as_they_are_sealed(tmp_path, upstream):
    keys = tmp_path / "keys"
    log = tmp_path / "audit.log"
    p = Proxy(str(tmp_path), upstream.port, extra_args=["--audit-log", str(log), "--audit-key-dir", str(keys)])
    follower = None
    try:
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        client.messages.create(model="m", max_tokens=8, extra_headers={"x-test-scenario": "anth_benign"},
                               messages=[{"role": "user", "content": "first"}])
        end = time.time() + 10
        while (not log.exists() or log.stat().st_size == 0) and time.time() < end:
            time.sleep(0.1)
        follower = subprocess.Popen([os.path.join(BIN, "crust"), "logs", "-f", "--json", "--file", str(log),
                                     "--identity", str(keys / "audit-identity.txt")],
                                    stdout=subprocess.PIPE, text=True, env=dict(os.environ, HOME=str(tmp_path)))
        # Never hang the suite: a follower that prints nothing is killed, and the test fails.
        guard = threading.Timer(20, follower.kill)
        guard.daemon = True
        guard.start()
        first = json.loads(follower.stdout.readline())
        assert first["api"] == "anthropic-messages"
        # A decision taken after the follower started shows up without restarting it.
        client.messages.create(model="m", max_tokens=8, extra_headers={"x-test-scenario": "anth_danger"},
                               messages=[{"role": "user", "content": "second"}])
        deadline = time.time() + 15
        seen_block = False
        while time.time() < deadline and not seen_block:
            line = follower.stdout.readline()
            seen_block = bool(line) and json.loads(line)["decision"] == "block"
        assert seen_block
    finally:
        if follower:
            follower.kill()
            follower.wait(timeout=5)
        p.proc.send_signal(signal.SIGTERM)
        p.proc.wait(timeout=15)
