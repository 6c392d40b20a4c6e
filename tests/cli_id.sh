#!/bin/sh
# cli_id.sh - `hers id`: text and JSON output, determinism, errors.
# Usage: sh tests/cli_id.sh path/to/hers
set -u
HERS=${1:?usage: cli_id.sh path/to/hers}
T=$(mktemp -d /tmp/hers_cli_id.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
expect_fail() {
    name=$1; pat=$2; shift 2
    if "$@" >"$T/out" 2>"$T/err"; then bad "$name (exit 0)"; return; fi
    if [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -q -- "$pat" "$T/err"; then
        bad "$name (stderr: $(cat "$T/err"))"; return
    fi
    ok "$name"
}

"$HERS" id --help >/dev/null && ok "id --help" || bad "id --help"
"$HERS" gen --out "$T/x.npy" --ids 1 --per-id 400 --dim 64 --latent-dim 5 --spread 1.0 \
    --seed 3 >/dev/null || bad "gen input"

# The specified fit-window floor (the longest kNN edge) is fragile on 400
# points with outliers: the geodesic runs use the 0.9 quantile instead.
for m in geodesic twonn mle; do
    if "$HERS" id --in "$T/x.npy" --method $m --threads 2 --edge-quantile 0.9 >"$T/o.txt" 2>"$T/err" &&
       grep -q "intrinsic dimensionality: [0-9]" "$T/o.txt"; then ok "text $m"
    else bad "text $m ($(cat "$T/err"))"; fi
done
"$HERS" id --in "$T/x.npy" --json --seed 5 --edge-quantile 0.9 >"$T/a.json" &&
grep -q '^{"file": .*"method": "geodesic", "id": [0-9]*,.*"hist": \[.*\], "seconds": .*}$' \
    "$T/a.json" && ok "json" || bad "json ($(cat "$T/a.json"))"
[ "$(wc -l <"$T/a.json")" -eq 1 ] && ok "json one line" || bad "json one line"
"$HERS" id --in "$T/x.npy" --json --seed 5 --edge-quantile 0.9 --threads 1 >"$T/b.json"
sed 's/"seconds": [0-9.]*//' "$T/a.json" >"$T/a2"
sed 's/"seconds": [0-9.]*//' "$T/b.json" >"$T/b2"
cmp -s "$T/a2" "$T/b2" && ok "deterministic" || bad "deterministic"

expect_fail "no --in" "--in FILE is required" "$HERS" id
expect_fail "missing file" "nope.npy" "$HERS" id --in "$T/nope.npy"
expect_fail "bad method" "unknown ID method" "$HERS" id --in "$T/x.npy" --method pca
expect_fail "k >= n" "k = 50" "$HERS" id --in "$T/x.npy" --sample 50 --k 50
expect_fail "unknown option" "unknown option" "$HERS" id --in "$T/x.npy" --frobnicate
expect_fail "bad edge" "--edge must be" "$HERS" id --in "$T/x.npy" --edge manhattan

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
