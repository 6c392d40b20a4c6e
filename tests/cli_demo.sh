#!/bin/sh
# cli_demo.sh - `hers demo --quick`: the whole pipeline on a tiny subset
# (Fashion-MNIST if installed, else synthetic data), then --synthetic --json.
# Checks the table, the encrypted == quantised line, the report and the JSON.
# usage: sh cli_demo.sh path/to/hers
set -u
H="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; [ -f "$T/err" ] && tail -5 "$T/err"; exit 1; }

"$H" demo --help | grep -q "usage: hers demo" || fail "--help"
"$H" demo --bogus 2>/dev/null && fail "unknown option accepted"
"$H" demo --probes 0 2>/dev/null && fail "--probes 0 accepted"

# Sanitizer runs (HERS_TEST_QUICK=1) shrink the quick run further.
SMALL=""
[ "${HERS_TEST_QUICK:-0}" = 1 ] && SMALL="--gallery 1500 --probes 40 --steps 10"

# 1. quick run (the data set if present, synthetic otherwise)
# shellcheck disable=SC2086
"$H" demo --quick --threads 2 $SMALL --out "$T/q" > "$T/out" 2> "$T/err" || fail "demo --quick"
grep -q "^encrypted == quantised: yes ([0-9][0-9]* scores)" "$T/out" || fail "no equality line"
for row in "float (input)" "DeepMDS++ float" "PCA float" "DeepMDS++ quantised" \
           "DeepMDS++ encrypted"; do
    grep -q "^$row" "$T/out" || fail "table row '$row' missing"
done
# the encrypted row equals the quantised row on the searched probes
q=$(grep "^DeepMDS++ quantised" "$T/out" | awk '{print $(NF-3), $(NF-2)}')
e=$(grep "^DeepMDS++ encrypted" "$T/out" | awk '{print $(NF-3), $(NF-2)}')
[ -n "$q" ] && [ "$q" = "$e" ] || fail "encrypted row '$e' != quantised row '$q'"
grep -q "bytes per template" "$T/out" || fail "sizes missing"
grep -q "search (server)" "$T/out" || fail "times missing"
[ -s "$T/q/report.html" ] || fail "report.html missing"
[ -s "$T/q/report.json" ] || fail "report.json missing"
grep -q "<svg" "$T/q/report.html" || fail "report has no chart"
if command -v python3 >/dev/null 2>&1; then
    python3 -c "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])" "$T/q/report.html" \
        || fail "report.html is not well-formed"
    python3 -c "import json, sys; json.load(open(sys.argv[1]))" "$T/q/report.json" \
        || fail "report.json is not valid JSON"
fi

# 2. synthetic data, JSON on stdout (table on stderr)
"$H" demo --quick --synthetic --json --probes 40 --gallery 1000 --out "$T/s" \
    > "$T/json" 2> "$T/err" || fail "demo --quick --synthetic --json"
grep -q '"encrypted_equals_quantised": true' "$T/json" || fail "JSON equality flag"
grep -q '"probes_searched": 40' "$T/json" || fail "JSON probe count"
grep -q "encrypted == quantised: yes" "$T/err" || fail "table not on stderr with --json"
if command -v python3 >/dev/null 2>&1; then
    python3 -c "import json, sys; o = json.load(open(sys.argv[1])); assert o['scores_wrong'] == 0 and o['scores_checked'] > 0" "$T/json" \
        || fail "JSON not parseable or wrong"
fi

# 3. a missing data set is one clear error line
"$H" demo --data "$T/nowhere" --probes 5 --gallery 100 > /dev/null 2> "$T/err2" && fail "missing data accepted"
[ "$(wc -l < "$T/err2")" -le 2 ] && grep -q "nowhere" "$T/err2" || fail "missing data error: $(cat "$T/err2")"
echo "cli_demo: ok"
