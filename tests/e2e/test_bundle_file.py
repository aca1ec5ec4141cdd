"""The bundle file under the ways people deploy it: overwritten in place under load (`cp`,
`rsync --inplace`, `dd conv=notrunc`), flipped by symlink (the Kubernetes ConfigMap pattern),
its directory removed and made again, a directory given instead of a file."""
import http.client
import json
import os
import shutil
import subprocess
import threading
import time

from conftest import BIN, Proxy, compile_policy

MSGS = [{"role": "user", "content": "hi"}]
BODY = json.dumps({"model": "m", "max_tokens": 8, "stream": True, "messages": MSGS})
BLOCKED = "Blocked by Crust: protect-ssh-keys"


def ask(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/v1/messages", body=BODY, headers={
        "content-type": "application/json", "x-test-scenario": "anth_danger_stream"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    return r.status, text


def lenient_policy(out, tmp):
    """A bundle that does not protect SSH keys: only a rule about deploys."""
    rules = os.path.join(tmp, "lenient.yaml")
    with open(rules, "w") as f:
        f.write("version: 1\nrules:\n  - name: no-deploy\n    match: { command: 'make deploy' }\n    message: CI deploys.\n")
    subprocess.run([os.path.join(BIN, "crustc"), rules, "-o", out], check=True, capture_output=True)


def start(tmp, upstream_port, policy):
    """A proxy on an existing bundle path (the fixture compiles its own)."""
    return Proxy(tmp, upstream_port, policy=policy)


def wait_until(pred, timeout=8.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_in_place_overwrites_under_load_never_serve_a_torn_policy(tmp_path, upstream):
    policy = str(tmp_path / "policy.bin")
    compile_policy(policy)
    extra = tmp_path / "extra.yaml"
    extra.write_text("version: 1\nrules:\n  - name: no-deploy\n    match: { command: 'make deploy' }\n    message: CI deploys.\n")
    other = str(tmp_path / "other.bin")
    compile_policy(other, str(extra))
    blobs = [open(policy, "rb").read(), open(other, "rb").read()]
    p = start(str(tmp_path), upstream.port, policy)
    stop = threading.Event()
    failures, results = [], []

    def client():
        while not stop.is_set():
            try:
                status, text = ask(p.port)
                if status != 200:
                    failures.append((status, text[:200]))
                results.append(BLOCKED in text and '"tool_use"' not in text)
            except Exception as e:  # noqa: BLE001 - any failure counts
                failures.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(60):
            data = blobs[i % 2]
            if i % 3 == 0:
                # `cp new.bin policy.bin`: truncate, then write in pieces.
                with open(policy, "wb") as f:
                    for k in range(0, len(data), 4096):
                        f.write(data[k:k + 4096])
                        f.flush()
                        if k == 4096:
                            time.sleep(0.01)
            elif i % 3 == 1:
                # `dd conv=notrunc` / `rsync --inplace`: half of another bundle over the file.
                with open(policy, "r+b") as f:
                    f.write(blobs[(i + 1) % 2][: len(data) // 2])
                time.sleep(0.02)
                with open(policy, "r+b") as f:
                    f.write(data)
                    f.truncate(len(data))
            else:
                # A writer that stops early, then finishes.
                with open(policy, "wb") as f:
                    f.write(data[:100])
                time.sleep(0.02)
                with open(policy, "wb") as f:
                    f.write(data)
            time.sleep(0.02)
        with open(policy, "wb") as f:
            f.write(blobs[0])
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    alive = p.proc.poll() is None
    log = p.log()
    p.proc.terminate()
    p.proc.wait(timeout=10)
    assert alive, log[-2000:]
    assert failures == [], failures[:3]
    assert len(results) > 20 and all(results)
    assert "bundle reloaded" in log


def test_symlink_flip_is_followed(tmp_path, upstream):
    d = tmp_path
    os.mkdir(d / "..v1")
    os.mkdir(d / "..v2")
    lenient_policy(str(d / "..v1" / "policy.bin"), str(d))
    compile_policy(str(d / "..v2" / "policy.bin"))
    os.symlink("..v1", d / "..data")
    os.symlink("..data/policy.bin", d / "policy.bin")
    p = start(str(d), upstream.port, str(d / "policy.bin"))
    try:
        status, text = ask(p.port)
        assert status == 200 and BLOCKED not in text and '"tool_use"' in text
        os.symlink("..v2", d / "..data_tmp")
        os.replace(d / "..data_tmp", d / "..data")
        assert wait_until(lambda: BLOCKED in ask(p.port)[1]), p.log()[-2000:]
    finally:
        p.proc.terminate()
        p.proc.wait(timeout=10)


def test_directory_removed_and_made_again_is_followed(tmp_path, upstream):
    sub = tmp_path / "policy"
    os.mkdir(sub)
    lenient_policy(str(sub / "policy.bin"), str(tmp_path))
    p = start(str(tmp_path), upstream.port, str(sub / "policy.bin"))
    try:
        assert BLOCKED not in ask(p.port)[1]
        shutil.rmtree(sub)
        time.sleep(1.5)
        # The loaded policy keeps serving while the path does not resolve.
        assert ask(p.port)[0] == 200
        os.mkdir(sub)
        compile_policy(str(sub / "policy.bin"))
        assert wait_until(lambda: BLOCKED in ask(p.port)[1]), p.log()[-2000:]
        assert "does not resolve" in p.log()
    finally:
        p.proc.terminate()
        p.proc.wait(timeout=10)


def test_a_directory_as_the_bundle_is_refused_with_a_reason(tmp_path):
    r = subprocess.run([os.path.join(BIN, "crust-runtime"), "--policy", str(tmp_path), "--stdin", "--json"],
                       input=b"", capture_output=True, timeout=20)
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "directory" in err and "os error 19" not in err, err


def test_the_policy_alone_serves_the_proxy_and_stdin_judging_is_asked_for(tmp_path):
    """`crust-runtime --policy policy.bin` is the proxy (routing by request), as a service
    manager would run it; judging JSON lines from stdin needs `--stdin`."""
    import re
    policy = str(tmp_path / "policy.bin")
    compile_policy(policy)
    log = open(tmp_path / "proxy.log", "w+")
    proc = subprocess.Popen([os.path.join(BIN, "crust-runtime"), "--policy", policy, "--listen", "127.0.0.1:0"],
                            stdin=subprocess.DEVNULL, stderr=log, env=dict(os.environ, NO_COLOR="1"))
    try:
        port = None
        end = time.time() + 15
        while port is None and time.time() < end:
            assert proc.poll() is None, "the proxy exited"
            log.seek(0)
            text = log.read()
            m = re.search(r"listen=127\.0\.0\.1:(\d+) upstream=auto", text)
            port = int(m.group(1)) if m else time.sleep(0.05)
        assert port, text
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/crust/health")
        r = c.getresponse()
        assert r.status == 200 and json.loads(r.read())["status"] == "ok"
        time.sleep(0.3)
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    call = json.dumps({"tool": "Read", "args": {"file_path": "~/.ssh/id_rsa"}}) + "\n"
    r = subprocess.run([os.path.join(BIN, "crust-runtime"), "--policy", policy, "--stdin", "--json"],
                       input=call.encode(), capture_output=True, timeout=20)
    assert r.returncode == 0 and json.loads(r.stdout)["decision"] == "block", r
    r = subprocess.run([os.path.join(BIN, "crust-runtime"), "--policy", policy, "--json"],
                       input=call.encode(), capture_output=True, timeout=20)
    assert r.returncode == 2 and b"--stdin" in r.stderr, r
