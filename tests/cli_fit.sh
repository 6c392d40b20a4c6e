#!/bin/sh
# cli_fit.sh - `hers fit` / `hers compress`: PCA and DeepMDS++ models on a
# small synthetic set, output shapes, determinism, clear errors.
# usage: sh cli_fit.sh path/to/hers
set -eu
HERS=${1:?usage: cli_fit.sh path/to/hers}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$HERS" gen --out "$T/x.npy" --labels-out "$T/y.npy" --ids 20 --per-id 10 --dim 32 \
    --latent-dim 8 --seed 3 >/dev/null

"$HERS" fit --help | grep -q -- "--method" || fail "fit --help"
"$HERS" compress --help | grep -q -- "--model" || fail "compress --help"

# PCA
"$HERS" fit --in "$T/x.npy" --dim 8 --method pca --out "$T/pca.hmdl" --quiet >"$T/o1" \
    || fail "fit pca"
grep -q "pca 32 -> 8" "$T/o1" || fail "fit pca summary: $(cat "$T/o1")"
"$HERS" compress --model "$T/pca.hmdl" --in "$T/x.npy" --out "$T/z.npy" >"$T/o2" \
    || fail "compress pca"
grep -q "200 x 32 -> 200 x 8" "$T/o2" || fail "compress summary: $(cat "$T/o2")"

# DeepMDS++: tiny run, same seed twice gives the same model id
for i in 1 2; do
    "$HERS" fit --in "$T/x.npy" --labels "$T/y.npy" --dim 4 --method deepmds --steps 20 \
        --seed 7 --threads 1 --out "$T/dm$i.hmdl" --quiet >"$T/dm$i.out" 2>"$T/dm$i.err" \
        || fail "fit deepmds: $(cat "$T/dm$i.err")"
done
id1=$(sed 's/.*id //' "$T/dm1.out")
id2=$(sed 's/.*id //' "$T/dm2.out")
[ -n "$id1" ] && [ "$id1" = "$id2" ] || fail "deepmds not deterministic: $id1 vs $id2"
cmp -s "$T/dm1.hmdl" "$T/dm2.hmdl" || fail "model files differ"
"$HERS" compress --model "$T/dm1.hmdl" --in "$T/x.npy" --out "$T/z4.npy" --quiet \
    || fail "compress deepmds"
[ -s "$T/z4.npy" ] || fail "no output"

# Errors: one line, non-zero status
expect_fail() {
    if "$@" >"$T/e.out" 2>"$T/e.err"; then fail "should fail: $*"; fi
    [ "$(wc -l <"$T/e.err")" -eq 1 ] || fail "error not one line: $(cat "$T/e.err")"
}
expect_fail "$HERS" fit --in "$T/x.npy" --dim 64 --method pca --out "$T/bad.hmdl"
expect_fail "$HERS" fit --in "$T/x.npy" --dim 4 --method deepmds --out "$T/bad.hmdl"
expect_fail "$HERS" fit --in "$T/x.npy" --dim 4 --method magic --out "$T/bad.hmdl"
expect_fail "$HERS" fit --in "$T/missing.npy" --dim 4 --method pca --out "$T/bad.hmdl"
expect_fail "$HERS" compress --model "$T/missing.hmdl" --in "$T/x.npy" --out "$T/z.npy"
head -c 100 "$T/pca.hmdl" >"$T/trunc.hmdl"
expect_fail "$HERS" compress --model "$T/trunc.hmdl" --in "$T/x.npy" --out "$T/z.npy"
grep -q "trunc.hmdl" "$T/e.err" || fail "error does not name the file: $(cat "$T/e.err")"
"$HERS" gen --out "$T/w.npy" --ids 2 --per-id 2 --dim 16 --seed 1 >/dev/null
expect_fail "$HERS" compress --model "$T/pca.hmdl" --in "$T/w.npy" --out "$T/z.npy"
echo "cli_fit: ok"
