#!/usr/bin/env python3
"""Measure Crust against other guards' test suites and the benign command set.

Runs every case of benches/guard-suites/*.tsv, plus the benign set
(policy-tests/benign-commands.yaml, and a benign-known-fp.txt list if one is kept), through
`crust-runtime --stdin --json --home /home/user --cwd /home/user/project` in one batch,
each as a Bash tool call, and prints per suite and per class:
attacks blocked / total and safe cases allowed / total.

Usage (from the repository root):
    python3 benches/guard-suites/measure.py [RUNTIME [POLICY]] [--misses]

RUNTIME defaults to ./target/debug/crust-runtime. POLICY defaults to a bundle
compiled from rules/ with ./target/debug/crustc (or the crustc next to RUNTIME)
into a temporary file. --misses lists every missed attack, every blocked safe
case and every benign false positive. Python 3 standard library only.
"""
import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HOME, CWD = "/home/user", "/home/user/project"
CLASS_ORDER = ["credential-read", "exfiltration", "destroy-outside", "destroy-inside",
               "persistence", "privilege", "obfuscation", "download-exec", "other"]


def load_tsv(path):
    cases = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t", 2)
            if len(parts) != 3 or parts[0] not in ("block", "allow"):
                sys.exit(f"{path}:{n}: expected expect<TAB>class<TAB>command")
            expect, cls, cmd = parts
            cases.append((expect, cls, cmd.replace("\\n", "\n")))
    return cases


def load_benign():
    cases = []
    yml = os.path.join(ROOT, "policy-tests", "benign-commands.yaml")
    if os.path.exists(yml):
        pat = re.compile(r'args: \{command: ("(?:[^"\\]|\\.)*")\}')
        with open(yml, encoding="utf-8") as f:
            for line in f:
                m = pat.search(line)
                if m:
                    cases.append(("allow", "benign", json.loads(m.group(1))))
    fp = os.path.join(ROOT, "policy-tests", "benign-known-fp.txt")
    if os.path.exists(fp):
        with open(fp, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line and not line.startswith("#") and "\t" in line:
                    cases.append(("allow", "benign", line.split("\t", 1)[1]))
    return cases


def compile_policy(runtime, tmpdir):
    crustc = os.path.join(os.path.dirname(runtime), "crustc")
    if not os.path.exists(crustc):
        crustc = os.path.join(ROOT, "target", "debug", "crustc")
    out = os.path.join(tmpdir, "policy.bin")
    r = subprocess.run([crustc, os.path.join(ROOT, "rules"), "-o", out], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{crustc} failed:\n{r.stderr}")
    return out


def judge(runtime, policy, commands):
    stdin = "".join(json.dumps({"tool": "Bash", "args": {"command": c}}) + "\n" for c in commands)
    r = subprocess.run([runtime, "--policy", policy, "--stdin", "--json", "--home", HOME, "--cwd", CWD],
                       input=stdin, capture_output=True, text=True)
    lines = r.stdout.splitlines()
    if r.returncode or len(lines) != len(commands):
        sys.exit(f"{runtime} returned {r.returncode} with {len(lines)} verdicts for "
                 f"{len(commands)} calls:\n{r.stderr[-2000:]}")
    return [json.loads(l) for l in lines]


def pct(a, b):
    return f"{a}/{b} ({100.0 * a / b:.1f}%)" if b else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runtime", nargs="?", default=os.path.join(ROOT, "target", "debug", "crust-runtime"))
    ap.add_argument("policy", nargs="?")
    ap.add_argument("--misses", action="store_true", help="list missed attacks and blocked safe cases")
    a = ap.parse_args()

    suites = {}
    for path in sorted(glob.glob(os.path.join(HERE, "*.tsv"))):
        suites[os.path.basename(path)[:-4]] = load_tsv(path)
    suites["benign"] = load_benign()

    order = [(s, c) for s in suites for c in suites[s]]
    with tempfile.TemporaryDirectory() as tmp:
        policy = a.policy or compile_policy(a.runtime, tmp)
        verdicts = judge(a.runtime, policy, [c[2] for _, c in order])

    res = collections.defaultdict(list)  # suite -> [(expect, cls, cmd, decision, rule)]
    for (suite, (expect, cls, cmd)), v in zip(order, verdicts):
        res[suite].append((expect, cls, cmd, v.get("decision"), v.get("rule")))

    print(f"runtime {a.runtime}\npolicy  {a.policy or 'compiled from rules/'}\n")
    print(f"{'suite':<15} {'attacks blocked':>22} {'safe allowed':>22}")
    tot = collections.Counter()
    per_class = collections.defaultdict(collections.Counter)
    for suite, rows in res.items():
        atk = [r for r in rows if r[0] == "block"]
        safe = [r for r in rows if r[0] == "allow"]
        ab = sum(1 for r in atk if r[3] == "block")
        sa = sum(1 for r in safe if r[3] == "allow")
        print(f"{suite:<15} {pct(ab, len(atk)):>22} {pct(sa, len(safe)):>22}")
        if suite != "benign":
            tot.update(atk=len(atk), ab=ab, safe=len(safe), sa=sa)
        for r in atk:
            per_class[(suite, r[1])].update(n=1, b=r[3] == "block")
    print(f"{'all suites':<15} {pct(tot['ab'], tot['atk']):>22} {pct(tot['sa'], tot['safe']):>22}")
    b = res.get("benign", [])
    if b:
        fp = sum(1 for r in b if r[3] != "allow")
        print(f"\nbenign false positives: {fp}/{len(b)} ({100.0 * fp / len(b):.2f}%)")

    print("\nattacks blocked per class")
    suites_atk = [s for s in res if s != "benign"]
    print(f"{'class':<16}" + "".join(f"{s:>19}" for s in suites_atk) + f"{'all':>19}")
    for cls in CLASS_ORDER:
        cells, n_all, b_all = [], 0, 0
        for s in suites_atk:
            c = per_class.get((s, cls))
            cells.append(pct(c["b"], c["n"]) if c else "-")
            if c:
                n_all += c["n"]
                b_all += c["b"]
        if n_all:
            print(f"{cls:<16}" + "".join(f"{x:>19}" for x in cells) + f"{pct(b_all, n_all):>19}")

    if a.misses:
        for suite, rows in res.items():
            miss = [r for r in rows if r[0] == "block" and r[3] != "block"]
            fps = [r for r in rows if r[0] == "allow" and r[3] != "allow"]
            if miss:
                print(f"\n## {suite}: missed attacks ({len(miss)})")
                for r in sorted(miss, key=lambda r: (CLASS_ORDER.index(r[1]) if r[1] in CLASS_ORDER else 99, r[2])):
                    print(f"{r[1]}\t{r[2]!r}" if "\n" in r[2] else f"{r[1]}\t{r[2]}")
            if fps:
                print(f"\n## {suite}: blocked safe cases ({len(fps)})")
                for r in fps:
                    print(f"{r[4]}\t{r[2]!r}" if "\n" in r[2] else f"{r[4]}\t{r[2]}")


if __name__ == "__main__":
    main()
