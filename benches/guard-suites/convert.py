#!/usr/bin/env python3
"""Convert other command guards' public test suites into Crust's TSV case lists.

Reads each suite straight from a git checkout (no work tree needed: files are read
with `git show <commit>:<path>`) and writes benches/guard-suites/<suite>.tsv:

    # header: source repo, commit, paths
    expect<TAB>class<TAB>command

expect is `block` for a case the suite says must be blocked, denied, flagged or
warned about, and `allow` for a case it says must pass. class says what an attack
would do (see CLASSES); allow cases get class `safe`.

Usage:
    convert.py --dcg DIR --shellfirm DIR --cc-safety-net DIR --claude-bash-guard DIR [--out DIR]

DIR is a git directory (bare or not) of the upstream repository. Suites not given
are left as they are. codex.tsv is written by hand (see its header).
Python 3.11+ standard library only.
"""
import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tomllib

CLASSES = [
    "credential-read", "exfiltration", "destroy-outside", "destroy-inside",
    "persistence", "privilege", "obfuscation", "download-exec", "other",
]

HERE = os.path.dirname(os.path.abspath(__file__))


def git(gitdir, *args):
    r = subprocess.run(["git", "--git-dir", gitdir, *args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"git {' '.join(args)} failed in {gitdir}: {r.stderr.strip()}")
    return r.stdout


def gitdir_of(path):
    for cand in (os.path.join(path, ".git"), os.path.join(path, "repo"), path):
        if os.path.exists(os.path.join(cand, "HEAD")):
            return cand
    sys.exit(f"no git directory at {path}")


# ---------------------------------------------------------------- classify
SECRET_PATH = (r"(\.ssh/|id_rsa|id_ed25519|id_ecdsa|\.aws/credentials|\.aws/config|\.env\b|\.netrc|"
               r"\.npmrc|\.pypirc|\.docker/config|\.kube/config|\.gnupg|/etc/shadow|/etc/sudoers|"
               r"\.git-credentials|credentials\.json|\.config/gcloud|\.azure/|\.vault-token|\.pgpass|"
               r"\.bash_history|\.zsh_history|keychain|secrets?\.(ya?ml|json|txt)|\.pem\b|\.key\b)")
NET = r"\b(curl|wget|nc|ncat|netcat|scp|rsync|sftp|ftp|socat|telnet)\b"


def outside(cmd):
    """Does the command name a path outside the project (absolute, home or parent)?"""
    for m in re.finditer(r"(?:^|[\s\"'(=:,\[])(/[^\s\"';|&),\]]*|~[^\s\"';|&)]*|\$\{?HOME\}?\S*|\$\{?TMPDIR\}?\S*|\.\.(?:/\S*)?)", cmd):
        if m.group(1).startswith("/dev/null"):
            continue
        return True
    return bool(re.search(r"(^|\s)(\*|/\*)(\s|$)|/\.\./", cmd))


DESTROY = re.compile(
    r"\brm\b|\brmdir\b|\bshred\b|\bunlink\b|\bsrm\b|\bwipe\b|\bdd\b.*\bof=|\bmkfs|\bwipefs\b|\bfdisk\b|\bparted\b|"
    r"\bsgdisk\b|\btruncate\b|\bblkdiscard\b|\bblockdev\b|-delete\b|shutil\.rmtree|os\.remove|os\.unlink|"
    r"os\.rmdir|fs\.rm|rmSync|unlinkSync|rimraf|FileUtils\.rm|File\.delete|\bdel\b|Remove-Item|rd /s|"
    r">\s*/dev/sd|\bmv\b.*\s/dev/null|(^|[^>&0-9<])>\s*[^\s&>(]|:\s*>\s*\S|^\s*>\s*\S|\bfind\b.*-exec\s+rm")
GIT_DESTROY = re.compile(
    r"\bgit\b.*\b(reset\s+--(hard|merge|keep)|clean\s+-[a-zA-Z]*f|push\b.*(--force|\s-f\b|--delete|\s:\S|--mirror|\+\S)|"
    r"branch\s+-[a-zA-Z]*D|stash\s+(drop|clear)|checkout\s+(--\s|-f|\.)|restore\b|rebase\b|"
    r"filter-branch|filter-repo|reflog\s+(expire|delete)|gc\b.*--prune|update-ref\s+-d|worktree\s+remove|"
    r"tag\s+-d|rm\b|switch\s+(-f|--discard))")
INFRA = re.compile(
    r"\b(aws|gcloud|gsutil|az|kubectl|helm|terraform|tofu|pulumi|heroku|flyctl|fly|vercel|netlify|"
    r"docker|podman|psql|mysql|mysqladmin|mongo|mongosh|redis-cli|vault|gh|doctl|firebase|ansible|"
    r"nomad|consul|oc|eksctl|supabase|wrangler|npm|yarn|pnpm|cargo|pip|s3cmd|rclone|virsh|vagrant|"
    r"sqlite3|clickhouse|cqlsh|kafka|rabbitmqctl|etcdctl|elasticsearch|curl\s+-X\s*DELETE)\b|"
    r"(?i:\b(DROP|TRUNCATE|DELETE\s+FROM|FLUSHALL|FLUSHDB|dropDatabase)\b)")


DISK = re.compile(r"/dev/(sd|nvme|hd|vd|xvd|disk|mmcblk|md)\w*|\b(gdisk|sgdisk|sfdisk|cfdisk|fdisk|parted|"
                  r"pvremove|vgremove|lvremove|mdadm|zpool\s+destroy|diskutil\s+erase\w*)\b")


def classify(cmd, hint=""):
    """Class of an attack case: what the command would do, not how it is written."""
    bare = re.sub(r"^\s*(sudo|doas)\s+(-\S+\s+)*", "", cmd)
    cls = _classify(bare, hint)
    if cls == "other" and bare != cmd:
        return "privilege"
    return cls


def _classify(cmd, hint=""):
    c = cmd
    h = hint.lower()
    if re.search(r"\b(curl|wget|fetch|iwr|Invoke-WebRequest)\b[^|;]*\|\s*(sudo\s+)?(env\s+)?(ba|z|da|k|fi)?sh\b|"
                 r"\b(curl|wget)\b[^|;]*\|\s*(sudo\s+)?(python\d?|perl|ruby|node|php)\b|"
                 r"(ba|z)?sh\s+<\(\s*(curl|wget)|(source|\.)\s+<\(\s*(curl|wget)|"
                 r"eval\s+\"?\$\((curl|wget)|(python\d?|node|perl)\s+-c\s+.*(urlopen|requests\.get|fetch\().*(exec|eval)", c):
        return "download-exec"
    if re.search(r"base64\s+(-d|--decode|-D)|\\x[0-9a-fA-F]{2}|\$'\\[0-9x]|xxd\s+-r|\|\s*rev\s*\||"
                 r"eval\s+[\"']?\$\(|\bprintf\b.*\\\\[0-9]{3}|fromCharCode|b64decode|atob\(", c):
        return "obfuscation"
    if re.search(NET + r".*(\s-d\s*@|--data(-binary|-raw)?\s*@|-F\s*\S*=@|--upload-file|\s-T\s)", c) or \
       re.search(r"/dev/(tcp|udp)/|\|\s*(nc|ncat|netcat)\b|\bscp\b\s+\S*(" + SECRET_PATH[1:-1] + r")", c) or \
       (re.search(SECRET_PATH, c) and re.search(NET, c)):
        return "exfiltration"
    if re.search(r"(\.bashrc|\.zshrc|\.bash_profile|\.profile|\.zprofile|\.config/fish|crontab\b|/etc/cron|"
                 r"authorized_keys|systemctl\s+(enable|edit)|launchctl\s+load|LaunchAgents|/etc/rc\.local|"
                 r"\.git/hooks|ld\.so\.preload|/etc/profile|autostart)", c) and \
            not re.search(r"crontab\s+-r|\bcrontab\s+-l\b", c):
        return "persistence"
    if re.search(r"\b(cat|less|more|head|tail|cp|grep|rg|strings|base64|xxd|od|tar|zip|gpg|openssl|"
                 r"sqlite3|security|printenv|vault\s+(kv\s+)?(get|read)|aws\s+(secretsmanager\s+get|"
                 r"ssm\s+get)|gcloud\s+auth\s+print|kubectl\s+get\s+secret)\b", c) and \
            (re.search(SECRET_PATH, c) or re.search(r"\bprintenv\b|^\s*env\s*$|^\s*set\s*$|print-access-token|"
                                                      r"get-secret-value|get\s+secret|find-generic-password", c)):
        return "credential-read"
    if re.search(r"crontab\s+-r", c):
        return "destroy-outside"
    if DISK.search(c) and not re.search(r"\b(lsblk|df|mount)\b", c):
        return "destroy-outside"
    if (GIT_DESTROY.search(c) or re.match(r"^\s*git\b", c)) and not re.search(r"\brm\s+-[a-zA-Z]*r[a-zA-Z]*\s+/", c):
        return "destroy-inside"
    if INFRA.search(c) and not re.search(r"^\s*(sudo\s+)?rm\b", c):
        return "other"
    if DESTROY.search(c) or h.startswith(("fs", "core.filesystem", "rm")):
        if DESTROY.search(c):
            return "destroy-outside" if outside(c) else "destroy-inside"
    if re.search(r"^\s*sudo\b|\bsu\s+(-|root)|\bchmod\b.*(\+s|[0-7]?[4-7][0-7]{3}\b|777\s+/|-R\s+777)|"
                 r"\bchown\b.*\broot\b|/etc/sudoers|visudo|usermod|\bpasswd\b|setcap|doas\b|pkexec", c):
        return "privilege"
    if re.search(r"\bchmod\b|\bchown\b|\bchgrp\b|\bsetfacl\b", c):
        return "destroy-outside" if outside(c) else "destroy-inside"
    return "other"


# ---------------------------------------------------------------- writers
def clean(cmd):
    return cmd.replace("\t", " ").replace("\r", "").strip()


def write(out, suite, repo, commit, paths, rows, notes=""):
    seen = set()
    uniq = []
    for expect, cls, cmd in rows:
        cmd = clean(cmd)
        if not cmd or (expect, cmd) in seen:
            continue
        seen.add((expect, cmd))
        uniq.append((expect, cls, cmd))
    path = os.path.join(out, f"{suite}.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# suite: {suite}\n# source: https://github.com/{repo} commit {commit}\n")
        for p in paths:
            f.write(f"# path: {p}\n")
        if notes:
            for line in notes.strip().splitlines():
                f.write(f"# {line}\n")
        f.write("# Generated by convert.py; columns: expect<TAB>class<TAB>command "
                "(newlines inside a command are written as \\n).\n")
        for expect, cls, cmd in uniq:
            f.write(f"{expect}\t{cls}\t{cmd.replace(chr(10), chr(92) + 'n')}\n")
    b = sum(1 for r in uniq if r[0] == "block")
    print(f"{suite}: {len(uniq)} cases ({b} block, {len(uniq) - b} allow) -> {path}")


def row(expect, cmd, hint=""):
    return (expect, classify(cmd, hint) if expect == "block" else "safe", cmd)


# ---------------------------------------------------------------- dcg
def conv_dcg(gitdir, out):
    commit = git(gitdir, "rev-parse", "HEAD").strip()
    files = git(gitdir, "ls-tree", "-r", "--name-only", commit).split("\n")
    rows, used = [], []
    last_from = None
    for p in sorted(f for f in files if f.startswith("tests/corpus/") and f.endswith(".toml")):
        data = tomllib.loads(git(gitdir, "show", f"{commit}:{p}"))
        for case in data.get("case", []):
            exp = case.get("expected") or case.get("expected_decision")
            cmd = case.get("command")
            if not cmd or exp not in ("deny", "allow", "warn"):
                continue
            rows.append(row("allow" if exp == "allow" else "block", cmd, case.get("rule_id", "")))
        used.append(p)
    for p in sorted(f for f in files if f.startswith("tests/e2e/fixtures/commands/") and f.endswith(".txt")):
        text = git(gitdir, "show", f"{commit}:{p}")
        base = os.path.basename(p)
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.match(r"^(BLOCK|ALLOW|WARN):(.*)$", line)
            if m:
                exp, cmd = m.group(1), m.group(2).replace("\\n", "\n")
            elif base == "dangerous.txt":
                exp, cmd = "BLOCK", line
            elif base == "safe.txt":
                exp, cmd = "ALLOW", line
            elif rows and last_from == p:
                # continuation line of a multi-line (heredoc) case
                e, _c, prev = rows.pop()
                rows.append(row(e, prev + "\n" + line))
                continue
            else:
                continue
            last_from = p
            rows.append(row("allow" if exp == "ALLOW" else "block", cmd))
        used.append(p)
    for p, exp in (("tests/fixtures/destructive_commands.yaml", "block"),
                   ("tests/fixtures/safe_commands.yaml", "allow")):
        if p not in files:
            continue
        pack = ""
        for line in git(gitdir, "show", f"{commit}:{p}").splitlines():
            m = re.match(r"^([A-Za-z0-9_.-]+):\s*$", line)
            if m:
                pack = m.group(1)
                continue
            m = re.match(r'^\s*-\s*command:\s*(".*"|\'.*\'|.*)\s*$', line)
            if m:
                v = m.group(1)
                if v.startswith('"'):
                    v, end = json.JSONDecoder().raw_decode(v)
                    if m.group(1)[end:].strip():
                        continue   # not one well-formed scalar upstream; skip
                elif v.startswith("'"):
                    v = v[1:-1].replace("''", "'")
                rows.append(row(exp, v, pack))
        used.append(p)
    write(out, "dcg", "Dicklesworthstone/destructive_command_guard", commit, used, rows,
          "deny and warn cases are `block`; allow cases are `allow`.")


# ---------------------------------------------------------------- shellfirm
def yaml_scalar(v):
    v = v.strip()
    if v.startswith('"'):
        return json.JSONDecoder().raw_decode(v)[0]
    if v.startswith("'"):
        return v[1:-1].replace("''", "'")
    return v


def conv_shellfirm(gitdir, out):
    commit = git(gitdir, "rev-parse", "HEAD").strip()
    files = git(gitdir, "ls-tree", "-r", "--name-only", commit).split("\n")
    rows, used = [], []
    for p in sorted(f for f in files if re.match(r"shellfirm/tests/checks/[^/]+\.yaml$", f)):
        cur = pending = None
        for line in git(gitdir, "show", f"{commit}:{p}").splitlines():
            m = re.match(r"^-\s+test:\s*(.*)$", line)
            if m:
                cur = yaml_scalar(m.group(1))
                continue
            if re.match(r"^\s+expect_ids:\s*$", line) and cur is not None:
                pending = cur          # block-style list follows
                cur = None
                continue
            m = re.match(r"^\s+(?:-\s+(\S+)|\[\s*(\S[^\]]*)\])\s*$", line)
            if m and pending is not None:
                first = (m.group(1) or m.group(2)).split(",")[0]
                rows.append(row("block", pending, first.strip().strip("\"'")))
                pending = None
                continue
            m = re.match(r"^\s+expect_ids:\s*\[(.*)\]\s*$", line)
            if m and cur is not None:
                ids = [i.strip().strip("\"'") for i in m.group(1).split(",") if i.strip()]
                rows.append(row("block" if ids else "allow", cur, ids[0] if ids else ""))
                cur = None
        used.append(p)
    write(out, "shellfirm", "kaplanelad/shellfirm", commit, used, rows,
          "A case with a non-empty expect_ids (shellfirm challenges or denies it) is `block`;\n"
          "expect_ids: [] is `allow`.")


# ---------------------------------------------------------------- cc-safety-net
JS_STR = r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\$]|\\.)*`"""


def js_unquote(s):
    q, body = s[0], s[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            n = body[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(n, n))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def conv_ccsn(gitdir, out):
    commit = git(gitdir, "rev-parse", "HEAD").strip()
    paths = ["tests/core/rules-rm.test.ts", "tests/core/rules-git.test.ts",
             "tests/core/analyze/edge-cases.test.ts", "tests/core/analyze/find.test.ts"]
    rows, used = [], []
    pat = re.compile(r"assert(Blocked|Allowed)\(\s*(" + JS_STR + r")\s*(,\s*([^)]*))?\)", re.S)
    for p in paths:
        text = git(gitdir, "show", f"{commit}:{p}")
        for m in pat.finditer(text):
            # Skip cases run under a non-default mode (strict, paranoid, worktree ...).
            start = text.rfind("test(", 0, m.start())
            if "withEnv(" in text[start:m.start()]:
                continue
            lit = m.group(2)
            extra = (m.group(4) or "").strip()
            # Cases that depend on a per-test cwd or temp directory are not portable.
            if m.group(1) == "Allowed" and extra:
                continue
            if m.group(1) == "Blocked" and extra.count(",") >= 1:
                continue
            cmd = js_unquote(lit)
            rows.append(row("block" if m.group(1) == "Blocked" else "allow", cmd))
        used.append(p)
    write(out, "cc-safety-net", "kenryu42/claude-code-safety-net", commit, used, rows,
          "assertBlocked(...) is `block`, assertAllowed(...) is `allow`; cases whose verdict\n"
          "depends on a test-specific cwd or temp directory are left out.")


# ---------------------------------------------------------------- claude-bash-guard
def conv_cbg(gitdir, out):
    """tani-shi/claude-bash-guard: pytest asserts on match_deny / match_allow /
    match_sensitive_path / evaluate_command. Read with ast, literals only."""
    commit = git(gitdir, "rev-parse", "HEAD").strip()
    path = "tests/test_rules.py"
    tree = ast.parse(git(gitdir, "show", f"{commit}:{path}"))
    rows = []

    def lit(node, env):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in env:
            return env[node.id]
        return None

    def call_of(node, env):
        """(function name, literal first argument) of a call, or None."""
        if isinstance(node, ast.Subscript):
            node = node.value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            v = lit(node.args[0], env)
            if v is not None:
                return node.func.id, v
        return None

    def verdict(fn, arg, op, other):
        """Map one assertion to (expect, command) or None."""
        if fn == "match_deny":
            return ("block" if op == "isnot" else "allow"), arg
        if fn == "match_allow" and op == "isnot":
            return "allow", arg
        if fn == "match_sensitive_path":
            if re.match(r"^[A-Za-z]:\\", arg):
                return None    # Windows paths: not meaningful for a POSIX shell
            return ("block" if op == "isnot" else "allow"), f"cat {arg}", "credential-read"
        if fn == "evaluate_command" and op == "eq" and other in ("deny", "allow"):
            return ("block" if other == "deny" else "allow"), arg
        return None

    def visit(stmts, env, last):
        for st in stmts:
            if isinstance(st, ast.For) and isinstance(st.target, ast.Name) and \
                    isinstance(st.iter, (ast.List, ast.Tuple)):
                for elt in st.iter.elts:
                    v = lit(elt, env)
                    if v is not None:
                        visit(st.body, {**env, st.target.id: v}, {})
                continue
            if isinstance(st, ast.Assign) and isinstance(st.value, ast.Call):
                c = call_of(st.value, env)
                tgt = st.targets[0]
                names = [e.id for e in tgt.elts if isinstance(e, ast.Name)] if isinstance(tgt, ast.Tuple) else \
                    ([tgt.id] if isinstance(tgt, ast.Name) else [])
                if c and c[0] == "evaluate_command" and names:
                    last[names[0]] = c[1]
                continue
            if isinstance(st, ast.Assert) and isinstance(st.test, ast.Compare) and len(st.test.ops) == 1:
                t = st.test
                op = {ast.IsNot: "isnot", ast.Is: "is", ast.Eq: "eq"}.get(type(t.ops[0]))
                rhs = t.comparators[0]
                other = rhs.value if isinstance(rhs, ast.Constant) else None
                c = call_of(t.left, env)
                if c is None and isinstance(t.left, ast.Name) and t.left.id in last:
                    c = ("evaluate_command", last[t.left.id])
                if c and op:
                    if op in ("is", "isnot") and other is not None:
                        continue
                    v = verdict(c[0], c[1], op, other)
                    if v and len(v) == 3 and v[0] == "block":
                        rows.append((v[0], v[2], v[1]))
                    elif v:
                        rows.append(row(v[0], v[1]))
                continue
            for field in ("body", "orelse"):
                if hasattr(st, field) and isinstance(getattr(st, field), list):
                    visit(getattr(st, field), env, last)

    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            visit(node.body, {}, {})
    write(out, "claude-bash-guard", "tani-shi/claude-bash-guard", commit, [path], rows,
          "match_deny(..) is not None and evaluate_command(..) == 'deny' are `block`;\n"
          "match_allow(..) is not None, match_deny(..) is None and evaluate_command(..) == 'allow'\n"
          "are `allow`. 'ask' verdicts are left out (the guard asks, it does not call them\n"
          "dangerous). match_sensitive_path(P) cases become `cat P` (credential-read).")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dcg")
    ap.add_argument("--shellfirm")
    ap.add_argument("--cc-safety-net", dest="ccsn")
    ap.add_argument("--claude-bash-guard", dest="cbg")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--classify", help="print the class of one command and exit")
    a = ap.parse_args()
    if a.classify:
        print(classify(a.classify))
        return
    if a.dcg:
        conv_dcg(gitdir_of(a.dcg), a.out)
    if a.shellfirm:
        conv_shellfirm(gitdir_of(a.shellfirm), a.out)
    if a.ccsn:
        conv_ccsn(gitdir_of(a.ccsn), a.out)
    if a.cbg:
        conv_cbg(gitdir_of(a.cbg), a.out)


if __name__ == "__main__":
    main()
