#!/usr/bin/env bash
# Real-browser check of the TCK's HTML report: opens DIR/report/index.html from file:// in headless
# Chromium and saves screenshots of
#   behaviors.png           the Behaviors tree (epic -> feature -> story) of a run against the reference
#   failure.png             a failing rule's test (faulty provider) with its failure message and hex dump
#   failure-attachment.png  the hex-dump attachment of that test, opened
#   overview.png            the faulty run's overview page
# and checks that the faulty run's conformance.md lists the failing rule under its level.
#
# Usage: scripts/check-report.sh [--out DIR] [--pass-run RUN_DIR] [--fail-run RUN_DIR] [--rule ID]
#   --out DIR        where the screenshots go (default: tck-out/report-check)
#   --pass-run DIR   an existing `tck run --out DIR` to show the tree of (default: run the reference now)
#   --fail-run DIR   an existing run with a failing rule (default: build the faulty example provider
#                    from tck-runner/src/it/vendor-gate-fail and run the TCK against it now)
#   --rule ID        the failing rule to show (default: X86-FLAGS-ZERO, the example's defect)
# Needs chromium (installed with apt-get when absent) and python3. Temporary files are removed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$here/tck-out/report-check"
pass_run=""
fail_run=""
rule="X86-FLAGS-ZERO"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --pass-run) pass_run="$2"; shift 2 ;;
    --fail-run) fail_run="$2"; shift 2 ;;
    --rule) rule="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-report: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

work="$(mktemp -d -t tck-report-check.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if ! command -v chromium >/dev/null 2>&1; then
  echo "check-report: installing chromium (apt-get)..." >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v python3 >/dev/null || { echo "check-report: python3 is needed" >&2; exit 2; }

if [ -z "$pass_run" ]; then
  echo "check-report: running the TCK against the reference..."
  pass_run="$work/pass"
  "$here/tck" run --suite all --out "$pass_run" -q >"$work/pass.log" 2>&1 || {
    rc=$?; [ $rc -eq 1 ] || { cat "$work/pass.log" >&2; exit $rc; }; }
fi

if [ -z "$fail_run" ]; then
  echo "check-report: building the faulty example provider (tck-runner/src/it/vendor-gate-fail)..."
  "$here/tck" --version >/dev/null    # builds and installs the TCK (into ~/.m2) when sources changed
  cp -r "$here/tck-runner/src/it/vendor-gate-fail" "$work/vendor"
  (cd "$work/vendor" && "$here/mvnw" -B -q package -DskipTests) >"$work/vendor.log" 2>&1 || {
    cat "$work/vendor.log" >&2; exit 3; }
  jar="$(ls "$work"/vendor/target/acme-hypervisor-faulty-*.jar | head -1)"
  echo "check-report: running the TCK against it ($(basename "$jar"))..."
  fail_run="$work/fail"
  rc=0
  "$here/tck" run --provider-jar "$jar" --provider acme-faulty --suite all --out "$fail_run" -q >"$work/fail.log" 2>&1 || rc=$?
  if [ $rc -ne 1 ]; then
    cat "$work/fail.log" >&2
    echo "check-report: expected exit code 1 (a gating rule failed) from the faulty provider, got $rc" >&2
    exit 1
  fi
fi

for run in "$pass_run" "$fail_run"; do
  [ -f "$run/report/index.html" ] || { echo "check-report: no $run/report/index.html" >&2; exit 1; }
done

# Routes into a single-file report: the data is embedded as d('data/...json','<base64>').
route() { # INDEX_HTML MODE [RULE]  ->  prints a URL fragment
  python3 - "$@" <<'PY'
import base64, json, re, sys
index, mode = sys.argv[1], sys.argv[2]
rule = sys.argv[3] if len(sys.argv) > 3 else None
html = open(index, encoding="utf-8").read()
data = {m.group(1): m.group(2) for m in re.finditer(r"d\('([^']*)','([^']*)'\)", html)}
tree = json.loads(base64.b64decode(data["data/behaviors.json"]))
def leaves(node, path):
    if "children" not in node:
        yield path, node
        return
    for c in node["children"]:
        yield from leaves(c, path + [c["name"]])
found = None
for path, leaf in leaves(tree, []):
    story = path[-2] if len(path) >= 2 else ""
    if mode == "tree" and len(path) == 4:              # epic / feature / story / test
        found = (leaf, None); break
    if mode in ("failure", "attachment") and story.startswith(rule + ":") and leaf.get("status") in ("failed", "broken"):
        found = (leaf, story); break
if not found:
    sys.exit("no %s test found in %s" % (rule or "labelled", index))
leaf = found[0]
frag = "behaviors/%s/%s" % (leaf["parentUid"], leaf["uid"])
if mode == "attachment":
    case = json.loads(base64.b64decode(data["data/test-cases/%s.json" % leaf["uid"]]))
    atts = []
    def collect(stage):
        atts.extend(stage.get("attachments", []))
        for s in stage.get("steps", []):
            collect(s)
    for stage in [case.get("testStage", {})] + case.get("afterStages", []):
        collect(stage)
    dumps = [a for a in atts if "hex dump" in a["name"]] or atts
    if not dumps:
        sys.exit("the failing %s test has no attachment" % rule)
    frag += "/?attachment=" + dumps[0]["uid"]
print(frag)
PY
}

shot() { # PNG URL [WIDTH,HEIGHT]
  local profile; profile="$(mktemp -d -p "$work" chromium.XXXXXX)"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-size="${3:-1400,900}" --virtual-time-budget=10000 \
    --screenshot="$1" "$2" >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log" >&2; exit 1; }
  rm -rf "$profile"
  [ "$(stat -c %s "$1")" -gt 20000 ] || { echo "check-report: $1 looks empty" >&2; exit 1; }
  echo "  $1"
}

pass_index="$(cd "$pass_run/report" && pwd)/index.html"
fail_index="$(cd "$fail_run/report" && pwd)/index.html"
echo "check-report: screenshots"
shot "$out/behaviors.png" "file://$pass_index#$(route "$pass_index" tree)"
shot "$out/failure.png" "file://$fail_index#$(route "$fail_index" failure "$rule")" 1400,1400
shot "$out/failure-attachment.png" "file://$fail_index#$(route "$fail_index" attachment "$rule")"
shot "$out/overview.png" "file://$fail_index"

# conformance.md lists the failing rule, as FAIL, in its level's section
python3 - "$fail_run/conformance.md" "$rule" <<'PY'
import sys
md, rule = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2]
section = None
for line in md.splitlines():
    if line.startswith("## "):
        section = line[3:].split(" ")[0]
    if line.startswith("| `%s` |" % rule):
        if "**FAIL**" not in line:
            sys.exit("conformance.md lists %s but not as FAIL: %s" % (rule, line))
        print("check-report: conformance.md lists %s as FAIL under '%s'" % (rule, section))
        break
else:
    sys.exit("conformance.md does not list %s" % rule)
PY
cp "$fail_run/conformance.md" "$out/conformance-faulty.md"
echo "check-report: OK (screenshots and the faulty run's conformance.md in $out)"
