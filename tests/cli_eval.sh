#!/bin/sh
# cli_eval.sh - `hers eval` (table, --json, --row, --split-out, --roc-svg,
# --int-only, errors) and `hers plot` on a small synthetic set.
# Usage: sh cli_eval.sh path/to/hers
set -eu
hers="$1"
fail() { echo "FAIL: $*"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$hers" gen --out "$dir/x.npy" --labels-out "$dir/l.npy" --ids 60 --per-id 5 --dim 32 \
    --spread 0.9 --seed 7 >/dev/null || fail "gen"
"$hers" eval --help | grep -q "usage: hers eval" || fail "--help"

# Table output with quantisation.
out=$("$hers" eval --in "$dir/x.npy" --labels "$dir/l.npy" --gallery-per-id 1 --k 10 \
    --quantize 125) || fail "eval exited with $?"
echo "$out" | grep -q "^rank-1 " || fail "no rank-1 line"
echo "$out" | grep -q "^mAP@10 " || fail "no mAP@10 line"
echo "$out" | grep -q "smallest safe t = " || fail "no modulus line"

# JSON: the same rank-1 from --in split and from the written split files.
j1=$("$hers" eval --in "$dir/x.npy" --labels "$dir/l.npy" --gallery-per-id 1 --k 10 \
    --quantize 125 --json) || fail "eval --json"
echo "$j1" | grep -q '^{"gallery": 60, "probes": 240, "dim": 32, "k": 10, "float": {"rank1": ' ||
    fail "JSON header: $j1"
echo "$j1" | grep -q '"quantized": {"rank1": ' || fail "no quantized object"
echo "$j1" | grep -q '"score_bound": 16340, "min_modulus": 32681' || fail "bound for d=32"
"$hers" eval --in "$dir/x.npy" --labels "$dir/l.npy" --gallery-per-id 1 --split-out "$dir/s" \
    >/dev/null || fail "--split-out"
for f in gallery.npy gallery-labels.npy probe.npy probe-labels.npy; do
    [ -s "$dir/s-$f" ] || fail "--split-out did not write s-$f"
done
j2=$("$hers" eval --gallery "$dir/s-gallery.npy" --gallery-labels "$dir/s-gallery-labels.npy" \
    --probe "$dir/s-probe.npy" --probe-labels "$dir/s-probe-labels.npy" --k 10 \
    --quantize 125 --json --roc-svg "$dir/roc.svg") || fail "eval files"
r1=$(echo "$j1" | sed 's/.*"float": {"rank1": \([0-9.e-]*\),.*/\1/')
r2=$(echo "$j2" | sed 's/.*"float": {"rank1": \([0-9.e-]*\),.*/\1/')
[ "$r1" = "$r2" ] || fail "rank-1 differs: $r1 vs $r2"
grep -q "<polyline" "$dir/roc.svg" || fail "ROC SVG has no curve"

# Rows for scripts; --int-only prints only the integer row.
"$hers" eval --row-header > "$dir/t.tsv"
"$hers" eval --in "$dir/x.npy" --labels "$dir/l.npy" --gallery-per-id 1 --k 10 --quantize 125 \
    --row orig >> "$dir/t.tsv" || fail "--row"
"$hers" eval --in "$dir/x.npy" --labels "$dir/l.npy" --gallery-per-id 1 --k 10 --quantize 50 \
    --int-only --row sweep --max-probes 100 >> "$dir/t.tsv" || fail "--int-only"
[ "$(wc -l < "$dir/t.tsv")" -eq 4 ] || fail "expected header + 3 rows"
grep -q "^orig	32	float	" "$dir/t.tsv" || fail "float row"
grep -q "^orig	32	int125	" "$dir/t.tsv" || fail "int row"
grep -q "^sweep	32	int50	" "$dir/t.tsv" || fail "int-only row"
"$hers" plot --in "$dir/t.tsv" --x dim --y rank1,map --series name --log-x --markers \
    --out "$dir/p.svg" || fail "plot"
grep -q "orig rank1" "$dir/p.svg" || fail "plot legend"

# Errors: one line naming the problem, non-zero status.
err="$dir/err"
"$hers" eval --gallery "$dir/nope.npy" --gallery-labels "$dir/l.npy" --probe "$dir/x.npy" \
    --probe-labels "$dir/l.npy" 2>"$err" && fail "missing file accepted"
[ "$(wc -l <"$err")" -eq 1 ] || fail "error is not one line"
grep -q "nope.npy" "$err" || fail "error does not name the file"
"$hers" eval --gallery "$dir/x.npy" --gallery-labels "$dir/s-probe-labels.npy" \
    --probe "$dir/x.npy" --probe-labels "$dir/l.npy" 2>"$err" && fail "label count accepted"
grep -q "240 labels for 300 vectors" "$err" || fail "label mismatch message: $(cat "$err")"
"$hers" eval --in "$dir/x.npy" --labels "$dir/l.npy" --gallery-per-id 1 --quantize 5000 \
    2>"$err" && fail "inexact scale accepted"
grep -q "exceed 2^24" "$err" || fail "scale message"
"$hers" eval --in "$dir/x.npy" --labels "$dir/l.npy" --gallery-per-id 1 --bogus 2>"$err" &&
    fail "unknown option accepted"
"$hers" plot --in "$dir/t.tsv" --x nope --y rank1 --out "$dir/q.svg" 2>"$err" &&
    fail "plot: unknown column accepted"
grep -q "no column 'nope'" "$err" || fail "plot column message"
echo "cli_eval: ok"
