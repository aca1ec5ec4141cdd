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
    assert raw.startswith(b"\x89CRA2\r\n\x1a") and b"id_rsa" not in raw and b"Bash" not in raw

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


def _decide(client, scenario="anth_danger", text="hi"):
    client.messages.create(model="m", max_tokens=8, extra_headers={"x-test-scenario": scenario},
                           messages=[{"role": "user", "content": text}])


def _wait_growth(log, size, timeout=10):
    """Waits until the writer has sealed a chunk past `size` bytes (chunks are sealed each second)."""
    end = time.time() + timeout
    while time.time() < end:
        if log.exists() and log.stat().st_size > size:
            return log.stat().st_size
        time.sleep(0.05)
    raise TimeoutError(f"{log} did not grow past {size} bytes")


def _stop(p):
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(timeout=15) == 0


def test_a_torn_chunk_and_a_restart_keep_every_intact_chunk(tmp_path, upstream):
    """A crash while sealing leaves a cut chunk at the end; the restarted proxy appends after it.
    `crust logs` reads the chunks before and after, and says on stderr that it skipped one."""
    keys = tmp_path / "keys"
    log = tmp_path / "audit.log"
    args = ["--audit-log", str(log), "--audit-key-dir", str(keys)]
    p = Proxy(str(tmp_path), upstream.port, extra_args=args)
    try:
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        _decide(client, "anth_danger", "first")
        first_end = _wait_growth(log, 0)
        _decide(client, "anth_benign", "second")
        _wait_growth(log, first_end)
    finally:
        _stop(p)
    # The second chunk loses its last bytes, as a full disk or a crash mid-write leaves it.
    size = log.stat().st_size
    with open(log, "r+b") as f:
        f.truncate(first_end + (size - first_end) // 2)
    p = Proxy(str(tmp_path), upstream.port, extra_args=args)
    try:
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        _decide(client, "anth_danger", "third")
        _decide(client, "anth_benign", "fourth")
    finally:
        _stop(p)
    out = crust_logs("--file", str(log), "--identity", str(keys / "audit-identity.txt"), "--json", home=str(tmp_path))
    assert out.returncode == 0, out.stderr
    recs = [json.loads(l) for l in out.stdout.splitlines()]
    # First chunk: the user's text and the blocked Read; after the restart: a block and an allow.
    assert [json.loads(r["args"])["text"].strip() for r in recs if r["side"] == "request"] == ["first", "third", "fourth"]
    assert [r["decision"] for r in recs if r["side"] == "response"] == ["block", "block", "allow"], recs
    assert "skipped" in out.stderr and "damaged" in out.stderr, out.stderr


def test_a_flipped_byte_loses_only_its_chunk(tmp_path, upstream):
    keys = tmp_path / "keys"
    log = tmp_path / "audit.log"
    p = Proxy(str(tmp_path), upstream.port, extra_args=["--audit-log", str(log), "--audit-key-dir", str(keys)])
    try:
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        ends = [0]
        for scenario in ["anth_danger", "anth_benign", "anth_danger"]:
            _decide(client, scenario)
            ends.append(_wait_growth(log, ends[-1]))
    finally:
        _stop(p)
    ident = str(keys / "audit-identity.txt")
    raw = bytearray(log.read_bytes())
    for where, want in [(ends[1] + (ends[2] - ends[1]) // 2, ["block", "block"]),  # ciphertext of chunk 2
                        (ends[1] + 9, ["block", "block"])]:  # the length field of chunk 2
        bad = bytearray(raw)
        bad[where] ^= 0x40
        log.write_bytes(bytes(bad))
        out = crust_logs("--file", str(log), "--identity", ident, "--json", home=str(tmp_path))
        assert out.returncode == 0, out.stderr
        recs = [json.loads(l) for l in out.stdout.splitlines()]
        assert [r["decision"] for r in recs if r["side"] == "response"] == want
        assert "damaged" in out.stderr


def test_logs_into_a_closed_pipe_exit_quietly(tmp_path, upstream):
    keys = tmp_path / "keys"
    log = tmp_path / "audit.log"
    p = Proxy(str(tmp_path), upstream.port, extra_args=["--audit-log", str(log), "--audit-key-dir", str(keys)])
    try:
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        for i in range(4):
            _decide(client, "anth_danger" if i % 2 else "anth_benign", f"n{i}")
    finally:
        _stop(p)
    ident = str(keys / "audit-identity.txt")
    env = dict(os.environ, HOME=str(tmp_path))
    crust = os.path.join(BIN, "crust")
    # `head -1`: the reader goes away after one line.
    piped = subprocess.run(f"'{crust}' logs --json --file '{log}' --identity '{ident}' | head -1; "
                           "echo \"status ${PIPESTATUS[0]}\"", shell=True, executable="/bin/bash",
                           capture_output=True, text=True, env=env)
    first, status = piped.stdout.splitlines()
    assert json.loads(first)["tool"] and status == "status 0", piped
    assert "panicked" not in piped.stderr, piped.stderr
    # A pipe closed before the first write, for every way of printing.
    for mode in [["--json"], [], ["--stats"]]:
        proc = subprocess.Popen([crust, "logs", *mode, "--file", str(log), "--identity", ident],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=15) == 0, (mode, err)
        assert "panicked" not in err and "Broken pipe" not in err, (mode, err)


def _rsa_pem():
    """A real 2048-bit RSA key in PEM (PKCS#1, 25 lines), made by openssl or `cryptography`."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption()).decode()
    except ImportError:
        out = subprocess.run(["openssl", "genrsa", "-traditional", "2048"], capture_output=True, text=True, check=True)
        return out.stdout


def test_a_private_key_in_arguments_is_masked_whole(tmp_path, upstream):
    """Every line of a real key's body stays out of the log: in a tool call's arguments (whole,
    and cut before its END line), and as a tool result sent back."""
    keys = tmp_path / "keys"
    log = tmp_path / "audit.log"
    pem = _rsa_pem()
    body = [l for l in pem.splitlines() if l and not l.startswith("-----")]
    assert len(body) >= 20
    cut = "\n".join(pem.splitlines()[:12])  # no END line
    p = Proxy(str(tmp_path), upstream.port, extra_args=["--audit-log", str(log), "--audit-key-dir", str(keys)])
    try:
        client = anthropic.Anthropic(base_url=p.url, api_key="sk-ant-test", max_retries=0)
        for i, content in enumerate([pem, cut, "see:\n" + pem + "\nand more"]):
            history = [
                {"role": "user", "content": "save the key"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": f"toolu_{i}", "name": "Write",
                     "input": {"file_path": "/home/user/project/notes.txt", "content": content}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": content}]},
            ]
            try:
                client.messages.create(model="m", max_tokens=8, extra_headers={"x-test-scenario": "anth_benign"},
                                       messages=history)
            except anthropic.APIStatusError:
                pass  # refused on the request side: still recorded
    finally:
        _stop(p)
    out = crust_logs("--file", str(log), "--identity", str(keys / "audit-identity.txt"), "--json", home=str(tmp_path))
    assert out.returncode == 0, out.stderr
    recs = [json.loads(l) for l in out.stdout.splitlines()]
    assert any(r["tool"] == "Write" for r in recs), recs
    assert "[REDACTED:private-key]" in out.stdout
    leaked = [l for l in body if l in out.stdout or l in out.stdout.replace("\\n", "\n")]
    # Any 16 characters of the body count as a leak, not only whole lines.
    pieces = [l[k:k + 16] for l in body for k in range(0, len(l) - 16, 8)]
    assert not leaked and not [s for s in pieces if s in out.stdout], (len(leaked), len(body))
