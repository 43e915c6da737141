#!/usr/bin/env bash
# The documentation's front door stays as docs/README say it is:
#  1. every relative link of every .md file in the repository resolves: the file exists and, for
#     a link FILE.md#anchor, FILE.md has a heading with that GitHub anchor;
#  2. README.md and the reference pages (docs/*.md; dated results live under docs/results/)
#     name no commit hash and no issue number;
#  3. README.md keeps the two markers between which analysis/paper_claims.py writes the results
#     table, in that order, and names the licence file, which exists.
# usage: docs_test.sh [CROMA MPIRUN]   (neither is used)
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
/usr/bin/python3 - "$src" <<'PY'
import os, re, sys
root = sys.argv[1]
failures = []

def slug(heading):
    h = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return h.replace(" ", "-")

def anchors(path):
    out, seen, fence = set(), {}, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            s = slug(m.group(1)); n = seen.get(s, 0); seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out

mds = []
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if not x.startswith(".") and x not in ("build", "Testing")]
    mds += [os.path.join(d, f) for f in files if f.endswith(".md")]
for f in sorted(mds):
    fence = False
    for no, line in enumerate(open(f, encoding="utf-8"), 1):
        if line.startswith("```"):
            fence = not fence
        if fence:
            continue
        for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", line):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
            rel = os.path.relpath(f, root)
            if not os.path.exists(dest):
                failures.append(f"{rel}:{no}: link to a missing file: {target}")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                failures.append(f"{rel}:{no}: link to a missing heading: {target}")

reference = [os.path.join(root, "README.md")] + sorted(
    os.path.join(root, "docs", f) for f in os.listdir(os.path.join(root, "docs")) if f.endswith(".md"))
hexword = re.compile(r"(?<![\w/.-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}(?![\w…])")
for f in reference:
    for no, line in enumerate(open(f, encoding="utf-8"), 1):
        rel = os.path.relpath(f, root)
        for m in hexword.finditer(line):
            failures.append(f"{rel}:{no}: a commit hash? '{m.group(0)}' (measured history goes to docs/results/)")
        if re.search(r"\bissue\s+#?\d+", line, re.I):
            failures.append(f"{rel}:{no}: an issue number (reference pages say what is, not how it came)")

readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
b, e = readme.find("<!-- results-table:begin -->"), readme.find("<!-- results-table:end -->")
if b < 0 or e < 0 or e < b:
    failures.append("README.md: the results-table markers are missing or out of order")
if "[LICENSE](LICENSE)" not in readme or not os.path.exists(os.path.join(root, "LICENSE")):
    failures.append("README.md: no link to an existing LICENSE")

for x in failures:
    print("FAIL:", x)
print(f"docs_test: {len(mds)} markdown files, {len(failures)} problems")
sys.exit(1 if failures else 0)
PY
