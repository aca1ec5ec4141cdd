"""`crust start`: built-in policy plus the user's rules, recompiled when a rule file changes; a
rule file with errors leaves the running policy as it was."""
import json
import os
import re
import subprocess
import time
import urllib.request

from conftest import BIN


def health(url):
    with urllib.request.urlopen(f"{url}/crust/health") as r:
        return json.loads(r.read())["bundle"]


def wait_change(url, before, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        now = health(url)
        if now != before:
            return now
        time.sleep(0.05)
    return health(url)


def test_start_recompiles_on_change_and_keeps_policy_on_error(tmp_path, upstream):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "team.yaml").write_text("version: 1\nrules:\n  - name: no-deploy\n    match: { command: 'make deploy' }\n    message: Deploys go through CI.\n")
    log = open(tmp_path / "start.log", "w+")
    env = dict(os.environ, HOME=str(tmp_path), NO_COLOR="1")
    p = subprocess.Popen(
        [os.path.join(BIN, "crust"), "start", "--listen", "127.0.0.1:0", "--rules", str(rules),
         "--endpoint", f"http://127.0.0.1:{upstream.port}"],
        stderr=log, env=env,
    )
    try:
        port = None
        end = time.time() + 20
        while port is None and time.time() < end:
            log.seek(0)
            m = re.search(r"listen=127\.0\.0\.1:(\d+)", log.read())
            port = m and int(m.group(1))
            time.sleep(0.05)
        assert port, "crust start did not come up"
        url = f"http://127.0.0.1:{port}"
        assert (tmp_path / ".local/share/crust/policy.bin").exists()
        first = health(url)
        # A new rule: recompiled and swapped in.
        (rules / "more.yaml").write_text("version: 1\nrules:\n  - name: no-prod-db\n    match: { command: 'psql prod' }\n    message: Ask the user.\n")
        second = wait_change(url, first)
        assert second["rules"] == first["rules"] + 1
        # A broken rule file: reported, the running policy unchanged.
        (rules / "broken.yaml").write_text("version: 1\nrules:\n  - name: [oops\n")
        time.sleep(1.0)
        assert health(url) == second
        log.seek(0)
        text = log.read()
        assert "broken.yaml:" in text and "running policy is unchanged" in text
    finally:
        p.terminate()
        p.wait(timeout=10)
