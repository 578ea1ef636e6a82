#!/usr/bin/env bash
# Real-browser check of `tck merge`'s output: opens MATRIX/matrix.html and MATRIX/report/index.html
# (the merged Allure report) from file:// in headless Chromium and saves
#   matrix.png         the matrix page (disagreeing rows on top)
#   merged-suites.png  the merged report's Suites tab: one parent suite per run
#   merged-test.png    a failing test of the merged report with its run's parameters
#   merged-overview.png the merged report's overview
# and checks, in the DOM Chromium rendered, that the matrix's first rule row is a disagreeing one,
# that every disagreeing row precedes every agreeing one, and that the merged report's Suites tab
# lists every run of matrix.json.
#
# Usage: scripts/check-matrix.sh MATRIX_DIR [--out DIR]
#   MATRIX_DIR  written by `tck merge ... --out MATRIX_DIR`
#   --out DIR   where the screenshots go (default: MATRIX_DIR/browser-check)
# Needs chromium (installed with apt-get when absent) and python3. Temporary files are removed.
set -euo pipefail
[ $# -ge 1 ] || { echo "check-matrix: usage: scripts/check-matrix.sh MATRIX_DIR [--out DIR]" >&2; exit 2; }
case "$1" in -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
matrix="$(cd "$1" && pwd)"; shift
out="$matrix/browser-check"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    *) echo "check-matrix: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for f in matrix.html matrix.json report/index.html; do
  [ -f "$matrix/$f" ] || { echo "check-matrix: no $matrix/$f" >&2; exit 1; }
done
if ! command -v chromium >/dev/null 2>&1; then
  echo "check-matrix: installing chromium (apt-get)..." >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v python3 >/dev/null || { echo "check-matrix: python3 is needed" >&2; exit 2; }
work="$(mktemp -d -t tck-matrix-check.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
out="$(cd "$out" && pwd)"

chrome() { # ARGS... (a private profile each time)
  local profile; profile="$(mktemp -d -p "$work" chromium.XXXXXX)"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --virtual-time-budget=10000 "$@" 2>"$work/chromium.log"
  rm -rf "$profile"
}
shot() { # PNG URL WIDTH,HEIGHT
  chrome --window-size="$3" --screenshot="$1" "$2" >/dev/null || { cat "$work/chromium.log" >&2; exit 1; }
  [ "$(stat -c %s "$1")" -gt 20000 ] || { echo "check-matrix: $1 looks empty" >&2; exit 1; }
  echo "  $1"
}

# the matrix as Chromium rendered it
chrome --dump-dom "file://$matrix/matrix.html" >"$work/matrix.dom" || { cat "$work/chromium.log" >&2; exit 1; }
python3 - "$work/matrix.dom" "$matrix/matrix.json" <<'PY'
import json, re, sys
dom, m = open(sys.argv[1], encoding="utf-8").read(), json.load(open(sys.argv[2], encoding="utf-8"))
rows = re.findall(r'<tr class="(disagree|agree)" data-rule="([^"]+)"', dom)
if not rows:
    sys.exit("check-matrix: the rendered matrix has no rule rows")
if len(rows) != len(m["rows"]):
    sys.exit("check-matrix: the page shows %d rule rows, matrix.json has %d" % (len(rows), len(m["rows"])))
kinds = [k for k, _ in rows]
if "disagree" in kinds and kinds[0] != "disagree":
    sys.exit("check-matrix: the first row %s agrees although %d rows disagree" % (rows[0][1], kinds.count("disagree")))
if "agree" in kinds and "disagree" in kinds[kinds.index("agree"):]:
    sys.exit("check-matrix: a disagreeing row comes after an agreeing one")
runs = re.findall(r'<th class="run">', dom)
if len(runs) != len(m["runs"]):
    sys.exit("check-matrix: %d run columns on the page, %d runs in matrix.json" % (len(runs), len(m["runs"])))
print("check-matrix: the page shows %d runs and %d rules, the %d disagreeing ones first (first: %s)"
      % (len(runs), len(rows), kinds.count("disagree"), rows[0][1]))
PY

# routes into the merged single-file report
index="$matrix/report/index.html"
route() { # MODE -> URL fragment
  python3 - "$index" "$1" <<'PY'
import base64, json, re, sys
index, mode = sys.argv[1], sys.argv[2]
html = open(index, encoding="utf-8").read()
data = {k: v for k, v in re.findall(r"d\('([^']*)','([^']*)'\)", html)}
tree = json.loads(base64.b64decode(data["data/suites.json"]))
def leaves(node):
    if "children" not in node:
        yield node
        return
    for c in node["children"]:
        yield from leaves(c)
failing = [l for l in leaves(tree) if l.get("status") in ("failed", "broken")]
leaf = (failing or list(leaves(tree)))[0]
print("suites/%s/%s" % (leaf["parentUid"], leaf["uid"]) if mode == "test" else "suites")
PY
}
chrome --dump-dom "file://$index#suites" >"$work/suites.dom" || { cat "$work/chromium.log" >&2; exit 1; }
python3 - "$work/suites.dom" "$matrix/matrix.json" <<'PY'
import json, sys
dom, m = open(sys.argv[1], encoding="utf-8").read(), json.load(open(sys.argv[2], encoding="utf-8"))
missing = [r["name"] for r in m["runs"] if r["name"] not in dom]
if missing:
    sys.exit("check-matrix: the merged report's Suites tab does not show the runs %s" % missing)
print("check-matrix: the merged report's Suites tab shows all %d runs" % len(m["runs"]))
PY
echo "check-matrix: screenshots"
shot "$out/matrix.png" "file://$matrix/matrix.html" 1600,2600
shot "$out/merged-suites.png" "file://$index#$(route suites)" 1400,900
shot "$out/merged-test.png" "file://$index#$(route test)" 1400,1400
shot "$out/merged-overview.png" "file://$index" 1400,900
