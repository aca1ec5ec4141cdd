"""The running proxy's control socket: `crust hook` hands its call to `crust start` (and falls back
to judging by itself whenever the proxy cannot: not running, another bundle, killed), and
`crust status` reports the proxy, its decisions, its audit log and the agents wired to it."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from conftest import BIN

CRUST = os.path.join(BIN, "crust")
KEY_READ = {"session_id": "s", "cwd": "/tmp", "hook_event_name": "PreToolUse",
            "tool_name": "Bash", "tool_input": {"command": "cat ~/.ssh/id_rsa"}}
TESTS = dict(KEY_READ, tool_input={"command": "npm test"})


class Start:
    def __init__(self, home, *extra):
        self.home = home
        self.log = open(home / "start.log", "w+")
        self.env = dict(os.environ, HOME=str(home), NO_COLOR="1")
        self.proc = subprocess.Popen(
            [CRUST, "start", "--listen", "127.0.0.1:0", *extra], stderr=self.log, env=self.env)
        self.socket = home / ".local/share/crust/crust.sock"
        end = time.time() + 30
        while not self.answers() and time.time() < end:
            assert self.proc.poll() is None, self.text()
            time.sleep(0.05)
        assert self.answers(), self.text()

    def answers(self):
        with socket.socket(socket.AF_UNIX) as c:
            try:
                c.connect(str(self.socket))
                return True
            except OSError:
                return False

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)


def hook(home, call, *extra):
    r = subprocess.run([CRUST, "hook", "claude-code", *extra], input=json.dumps(call),
                       capture_output=True, text=True, env=dict(os.environ, HOME=str(home)), timeout=60)
    return r


def status(home):
    r = subprocess.run([CRUST, "status", "--json"], capture_output=True, text=True,
                       env=dict(os.environ, HOME=str(home)), timeout=60)
    return r.returncode, json.loads(r.stdout)


def denied(r):
    return r.returncode == 2 and json.loads(r.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_hooks_are_judged_by_the_running_proxy_and_status_counts_them(tmp_path):
    s = Start(tmp_path)
    try:
        assert oct(s.socket.stat().st_mode & 0o777) == "0o600"
        assert denied(hook(tmp_path, KEY_READ))
        ok = hook(tmp_path, TESTS)
        assert ok.returncode == 0 and ok.stdout == "", ok
        code, st = status(tmp_path)
        assert code == 0 and st["running"], st
        p = st["proxy"]
        assert p["hook_calls"] == 2, p
        assert p["blocks"] == 1 and p["blocks_by_rule"] == {"protect-ssh-keys": 1}, p
        assert p["bundle"]["path"].endswith(".local/share/crust/policy.bin")
        assert p["bundle"]["rules"] > 50
        assert p["audit"]["healthy"] is True, p
        assert re.fullmatch(r"127\.0\.0\.1:\d+", p["listen"])
        human = subprocess.run([CRUST, "status"], capture_output=True, text=True,
                               env=s.env, timeout=60).stdout
        assert "proxy: running" in human and "2 hook calls, 1 blocked (protect-ssh-keys 1)" in human
        # The hooks' decisions are in the audit log, as the hook's agent and session.
        records = []
        end = time.time() + 10
        while len(records) < 2 and time.time() < end:
            time.sleep(0.2)
            out = subprocess.run([CRUST, "logs", "--json"], capture_output=True, text=True,
                                 env=s.env, timeout=60).stdout
            records = [json.loads(l) for l in out.splitlines() if '"hook:claude-code"' in l]
        assert [(r["tool"], r["decision"], r.get("rule")) for r in records] == [
            ("Bash", "block", "protect-ssh-keys"), ("Bash", "allow", None)], records
        assert all(r["session"] == "s" and r["api"] == "hook" for r in records), records
        assert "cat ~/.ssh/id_rsa" in records[0]["args"]
    finally:
        s.stop()
    # Stopped: the socket is gone, status says so with exit code 3, hooks judge by themselves.
    assert not s.socket.exists()
    code, st = status(tmp_path)
    assert code == 3 and st["running"] is False
    assert denied(hook(tmp_path, KEY_READ))


def test_a_hook_never_goes_open_when_the_proxy_cannot_answer(tmp_path):
    s = Start(tmp_path, "--no-audit")
    try:
        # Another bundle than the proxy serves: judged here, with that bundle.
        other = tmp_path / "other.bin"
        subprocess.run([os.path.join(BIN, "crustc"), os.path.join(os.path.dirname(BIN), "..", "rules"),
                        "-o", str(other)], check=True, capture_output=True)
        assert denied(hook(tmp_path, KEY_READ, "--policy", str(other)))
        assert status(tmp_path)[1]["proxy"]["hook_calls"] == 0
    finally:
        # Killed: the socket file stays behind, nobody answers on it.
        s.stop(signal.SIGKILL)
    assert s.socket.exists()
    assert denied(hook(tmp_path, KEY_READ))
    assert hook(tmp_path, TESTS).returncode == 0
    # A new proxy replaces the stale socket.
    s2 = Start(tmp_path, "--no-audit")
    try:
        assert denied(hook(tmp_path, KEY_READ))
        assert status(tmp_path)[1]["proxy"]["hook_calls"] == 1
    finally:
        s2.stop()


def test_status_lists_the_agents_and_what_setup_would_add(tmp_path):
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".gemini").mkdir()
    (tmp_path / ".gemini" / "settings.json").write_text("{ not json")
    code, st = status(tmp_path)
    assert code == 3
    agents = {(a["agent"], os.path.basename(a["file"])): a for a in st["agents"]}
    claude = agents[("claude-code", "settings.json")]
    assert claude["state"] == "not wired" and any("PreToolUse" in d for d in claude["detail"])
    assert agents[("gemini", "settings.json")]["state"] == "unreadable"
    r = subprocess.run([CRUST, "setup", "--agent", "claude-code", "--yes"], capture_output=True,
                       text=True, env=dict(os.environ, HOME=str(tmp_path)), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    _, st = status(tmp_path)
    states = {(a["agent"], os.path.basename(a["file"])): a["state"] for a in st["agents"]}
    assert states[("claude-code", "settings.json")] == "wired"
    # A Codex profile with its own provider goes around Crust: partly wired, and why.
    (tmp_path / ".codex").mkdir()
    (tmp_path / ".codex" / "config.toml").write_text('[profiles.work]\nmodel_provider = "azure"\n')
    r = subprocess.run([CRUST, "setup", "--agent", "codex", "--yes"], capture_output=True,
                       text=True, env=dict(os.environ, HOME=str(tmp_path)), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    _, st = status(tmp_path)
    codex = [a for a in st["agents"] if a["agent"] == "codex"][0]
    assert codex["state"] == "partly wired" and any("`work`" in d for d in codex["detail"]), codex


def test_a_copy_of_the_bundle_is_judged_by_the_hook_itself(tmp_path):
    s = Start(tmp_path, "--no-audit")
    try:
        copy = tmp_path / "copy.bin"
        copy.write_bytes((tmp_path / ".local/share/crust/policy.bin").read_bytes())
        # Same bytes, another file: the proxy protects only its own, so it does not judge.
        r = hook(tmp_path, dict(KEY_READ, tool_input={"command": f"cp /tmp/x.bin {copy}"}),
                 "--policy", str(copy))
        assert denied(r), r
        assert status(tmp_path)[1]["proxy"]["hook_calls"] == 0
    finally:
        s.stop()


FAKE = """
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(int(sys.argv[3]))
print("ready", flush=True)
while sys.argv[2] == "allow":
    c, _ = s.accept()
    c.recv(1 << 20)
    c.sendall(b'{"stdout": "", "stderr": "", "exit": 0}\\n')
    c.close()
time.sleep(120)
"""


def test_a_socket_held_by_another_program_is_not_asked(tmp_path):
    sock = tmp_path / ".local/share/crust/crust.sock"
    sock.parent.mkdir(parents=True)
    subprocess.run([os.path.join(BIN, "crustc"), os.path.join(os.path.dirname(BIN), "..", "rules"),
                    "-o", str(sock.parent / "policy.bin")], check=True, capture_output=True)
    for mode, backlog in (("allow", "8"), ("hang", "0")):
        if sock.exists():
            sock.unlink()
        fake = subprocess.Popen([sys.executable, "-c", FAKE, str(sock), mode, backlog],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert fake.stdout.readline().strip() == "ready"
            # A listener that never accepts: fill its backlog so a connect would block.
            held = []
            if mode == "hang":
                for _ in range(4):
                    c = socket.socket(socket.AF_UNIX)
                    c.setblocking(False)
                    try:
                        c.connect(str(sock))
                    except OSError:
                        pass
                    held.append(c)
            started = time.time()
            assert denied(hook(tmp_path, KEY_READ)), mode
            assert time.time() - started < 20, mode
        finally:
            fake.kill()
            fake.wait()


def client(home, call, *args):
    return subprocess.run([os.path.join(BIN, "crust-hook"), *(args or ("claude-code",))],
                          input=json.dumps(call), capture_output=True, text=True,
                          env=dict(os.environ, HOME=str(home)), timeout=60)


def test_the_small_hook_client_asks_the_proxy_and_else_runs_crust_hook(tmp_path):
    # No proxy: `crust hook` beside it judges, with the same input.
    assert denied(client(tmp_path, KEY_READ))
    assert client(tmp_path, TESTS).returncode == 0
    s = Start(tmp_path, "--no-audit")
    try:
        assert denied(client(tmp_path, KEY_READ))
        assert client(tmp_path, TESTS).returncode == 0
        # Both calls went to the proxy.
        assert status(tmp_path)[1]["proxy"]["hook_calls"] == 2
        # Options are `crust hook`'s: another bundle is judged there, not by the proxy.
        other = tmp_path / "other.bin"
        other.write_bytes((tmp_path / ".local/share/crust/policy.bin").read_bytes())
        assert denied(client(tmp_path, KEY_READ, "claude-code", "--policy", str(other)))
        assert status(tmp_path)[1]["proxy"]["hook_calls"] == 2
        # Input that is not a hook call is refused, through the proxy too.
        r = subprocess.run([os.path.join(BIN, "crust-hook"), "claude-code"], input="{ not json",
                           capture_output=True, text=True,
                           env=dict(os.environ, HOME=str(tmp_path)), timeout=60)
        assert r.returncode == 2, r
    finally:
        s.stop()
    # An agent it does not know: `crust hook` says so, and the call is refused.
    r = client(tmp_path, TESTS, "notepad")
    assert r.returncode == 2 and "unknown agent" in r.stderr


def server_status(home):
    """The hook servers' own status answers, by socket."""
    out = []
    for p in (home / ".local/share/crust").glob("hook-*.sock"):
        with socket.socket(socket.AF_UNIX) as c:
            try:
                c.connect(str(p))
            except OSError:
                continue
            c.sendall(b'{"op":"status"}\n')
            out.append(json.loads(c.makefile().readline())["hook_server"])
    return out


def wait_for(pred, what, secs=20):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(what)


def test_without_a_proxy_the_first_hook_starts_a_server_that_judges_the_next_calls(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), CRUST_HOOK_SERVER_IDLE="4")
    data = tmp_path / ".local/share/crust"
    data.mkdir(parents=True)
    bundle = data / "policy.bin"
    subprocess.run([os.path.join(BIN, "crustc"), os.path.join(os.path.dirname(BIN), "..", "rules"),
                    "-o", str(bundle)], check=True, capture_output=True)

    def call(c, *args):
        return subprocess.run([os.path.join(BIN, "crust-hook"), "claude-code", *args],
                              input=json.dumps(c), capture_output=True, text=True, env=env, timeout=60)
    # The first call is judged by `crust hook` itself, which starts a server in the background.
    assert denied(call(KEY_READ))
    wait_for(lambda: server_status(tmp_path), "no hook server started")
    sock = next(data.glob("hook-*.sock"))
    assert oct(sock.stat().st_mode & 0o777) == "0o600"
    # The next calls go to it: it counts them, blocks what the policy blocks.
    assert denied(call(KEY_READ))
    assert call(TESTS).returncode == 0
    st = server_status(tmp_path)
    assert len(st) == 1 and st[0]["hook_calls"] == 2 and st[0]["blocks"] == 1, st
    assert st[0]["bundle"] == str(bundle.resolve())
    human = subprocess.run([CRUST, "status"], capture_output=True, text=True, env=env, timeout=60).stdout
    assert "hook server: running" in human and "2 hook calls, 1 blocked" in human, human
    # Racing hooks start no second server.
    procs = [subprocess.Popen([CRUST, "hook-server", "--policy", str(bundle)], env=env) for _ in range(3)]
    assert all(p.wait(timeout=30) == 0 for p in procs)
    assert len(server_status(tmp_path)) == 1
    # A rebuilt bundle (new rules) is loaded again before the server judges with it.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "extra.yaml").write_text(
        "rules:\n  - name: no-npm-test\n    match:\n      command: \"re:\\\\bnpm test\\\\b\"\n"
        "    message: npm test is off\n    severity: high\n")
    new = tmp_path / "new.bin"
    r = subprocess.run([os.path.join(BIN, "crustc"), os.path.join(os.path.dirname(BIN), "..", "rules"),
                        str(rules), "-o", str(new)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    os.replace(new, bundle)
    r = call(TESTS)
    assert denied(r) and "no-npm-test" in r.stdout, r
    st = server_status(tmp_path)
    assert st[0]["reloads"] == 1 and st[0]["hook_calls"] == 3, st
    # A bundle corrupted on disk is never judged with: the server keeps the validated copy
    # of the checksum the file names; a header that names another checksum is loaded again,
    # refused, and the hook judges by itself (with what it can validate of the file).
    raw = bytearray(bundle.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bundle.write_bytes(bytes(raw))
    r = call(TESTS)
    assert denied(r) and "no-npm-test" in r.stdout, r
    assert server_status(tmp_path)[0]["hook_calls"] == 4
    raw[8:16] = bytes(8)
    bundle.write_bytes(bytes(raw))
    r = call(TESTS)
    assert r.returncode == 2, r
    assert server_status(tmp_path)[0]["hook_calls"] == 4
    # Killed: hooks judge by themselves (and start another).
    pid = server_status(tmp_path)[0]["pid"]
    os.kill(pid, signal.SIGKILL)
    subprocess.run([os.path.join(BIN, "crustc"), os.path.join(os.path.dirname(BIN), "..", "rules"),
                    "-o", str(bundle)], check=True, capture_output=True)
    assert denied(call(KEY_READ))
    assert call(TESTS).returncode == 0
    # A server run from another copy of the program is not asked (a process that took the
    # socket must be the very `crust` hooks start).
    for st in server_status(tmp_path):
        os.kill(st["pid"], signal.SIGKILL)
    for p in data.glob("hook-*"):
        p.unlink()
    copy = tmp_path / "bin" / "crust"
    copy.parent.mkdir()
    copy.write_bytes(open(CRUST, "rb").read())
    copy.chmod(0o755)
    other = subprocess.Popen([str(copy), "hook-server", "--policy", str(bundle)], env=env)
    try:
        wait_for(lambda: server_status(tmp_path), "the copy did not serve")
        env["CRUST_HOOK_SERVER"] = "off"
        assert denied(call(KEY_READ))
        assert call(TESTS).returncode == 0
        assert server_status(tmp_path)[0]["hook_calls"] == 0
    finally:
        other.kill()
        other.wait()
    env.pop("CRUST_HOOK_SERVER")
    for p in data.glob("hook-*"):
        p.unlink()
    assert call(TESTS).returncode == 0
    wait_for(lambda: server_status(tmp_path), "no hook server started again")
    # Quiet for its idle time: it exits and takes its socket away.
    wait_for(lambda: not list(data.glob("hook-*.sock")) and not server_status(tmp_path),
             "the hook server did not exit when idle", secs=30)


def test_hook_servers_can_be_switched_off(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), CRUST_HOOK_SERVER="off")
    data = tmp_path / ".local/share/crust"
    data.mkdir(parents=True)
    subprocess.run([os.path.join(BIN, "crustc"), os.path.join(os.path.dirname(BIN), "..", "rules"),
                    "-o", str(data / "policy.bin")], check=True, capture_output=True)
    r = subprocess.run([os.path.join(BIN, "crust-hook"), "claude-code"], input=json.dumps(KEY_READ),
                       capture_output=True, text=True, env=env, timeout=60)
    assert denied(r)
    time.sleep(1)
    assert not list(data.glob("hook-*.sock"))
