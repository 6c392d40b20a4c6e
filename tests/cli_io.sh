#!/bin/sh
# cli_io.sh - `hers gen` and `hers convert`: outputs, determinism, errors.
# Usage: sh tests/cli_io.sh path/to/hers
set -u
HERS=${1:?usage: cli_io.sh path/to/hers}
T=$(mktemp -d /tmp/hers_cli_io.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
# expect_fail NAME PATTERN CMD... : non-zero exit, one stderr line matching PATTERN
expect_fail() {
    name=$1; pat=$2; shift 2
    if "$@" >"$T/out" 2>"$T/err"; then bad "$name (exit 0)"; return; fi
    if [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -q -- "$pat" "$T/err"; then
        bad "$name (stderr: $(cat "$T/err"))"; return
    fi
    ok "$name"
}

"$HERS" gen --help >/dev/null && ok "gen --help" || bad "gen --help"
"$HERS" convert --help >/dev/null && ok "convert --help" || bad "convert --help"

"$HERS" gen --out "$T/x.npy" --labels-out "$T/y.npy" --ids 20 --per-id 4 --dim 32 \
    --spread 0.5 --seed 7 >/dev/null && ok "gen" || bad "gen"
"$HERS" gen --out "$T/x2.npy" --ids 20 --per-id 4 --dim 32 --spread 0.5 --seed 7 >/dev/null
cmp -s "$T/x.npy" "$T/x2.npy" && ok "gen deterministic" || bad "gen deterministic"
"$HERS" gen --out "$T/t1.npy" --ids 300 --per-id 3 --dim 128 --threads 1 >/dev/null &&
"$HERS" gen --out "$T/t3.npy" --ids 300 --per-id 3 --dim 128 --threads 3 >/dev/null &&
cmp -s "$T/t1.npy" "$T/t3.npy" && ok "gen threads" || bad "gen threads"
"$HERS" gen --out "$T/x3.npy" --ids 20 --per-id 4 --dim 32 --spread 0.5 --seed 8 >/dev/null
cmp -s "$T/x.npy" "$T/x3.npy" && bad "seeds differ" || ok "seeds differ"
# 128-byte header + 80 rows x 32 floats
[ "$(wc -c <"$T/x.npy")" -eq $((128 + 80 * 32 * 4)) ] && ok "gen size" || bad "gen size"
"$HERS" gen --out "$T/m.fvecs" --labels-out "$T/m.txt" --ids 5 --per-id 3 --dim 16 \
    --latent-dim 4 --nonlinear --seed 1 >/dev/null && ok "gen manifold" || bad "gen manifold"
[ "$(wc -l <"$T/m.txt")" -eq 15 ] && ok "text labels" || bad "text labels"

# npy -> fvecs -> npy is byte-identical; labels npy -> text -> npy too.
"$HERS" convert --in "$T/x.npy" --out "$T/x.fvecs" >/dev/null &&
"$HERS" convert --in "$T/x.fvecs" --out "$T/x4.npy" >/dev/null &&
cmp -s "$T/x.npy" "$T/x4.npy" && ok "convert round trip" || bad "convert round trip"
"$HERS" convert --labels --in "$T/y.npy" --out "$T/y.txt" >/dev/null &&
"$HERS" convert --labels --in "$T/y.txt" --out "$T/y2.npy" >/dev/null &&
cmp -s "$T/y.npy" "$T/y2.npy" && ok "labels round trip" || bad "labels round trip"
"$HERS" convert --in "$T/x.npy" --out "$T/x.f32" >/dev/null &&
"$HERS" convert --in "$T/x.f32" --dim 32 --out "$T/x5.npy" >/dev/null &&
cmp -s "$T/x.npy" "$T/x5.npy" && ok "raw round trip" || bad "raw round trip"

expect_fail "gen needs --dim" "gen" "$HERS" gen --out "$T/z.npy" --ids 2 --per-id 2
expect_fail "gen bad spread" "spread" "$HERS" gen --out "$T/z.npy" --ids 2 --per-id 2 --dim 8 --spread 3
expect_fail "gen bad option" "unknown option" "$HERS" gen --out "$T/z.npy" --bogus 1
expect_fail "gen bad output" "z.txt" "$HERS" gen --out "$T/z.txt" --ids 2 --per-id 2 --dim 8
expect_fail "convert missing file" "nope.npy" "$HERS" convert --in "$T/nope.npy" --out "$T/z.npy"
head -c 100 "$T/x.npy" >"$T/trunc.npy"
expect_fail "convert truncated" "trunc.npy" "$HERS" convert --in "$T/trunc.npy" --out "$T/z.npy"
expect_fail "convert raw needs dim" "dim" "$HERS" convert --in "$T/x.f32" --out "$T/z.npy"
expect_fail "convert raw bad dim" "multiple" "$HERS" convert --in "$T/x.f32" --dim 33 --out "$T/z.npy"
[ -e "$T/z.npy" ] && bad "no output on error" || ok "no output on error"

FM=/usr/share/datasets/fashion-mnist
if [ -e "$FM/t10k-labels-idx1-ubyte.gz" ]; then
    "$HERS" convert --labels --in "$FM/t10k-labels-idx1-ubyte.gz" --out "$T/fl.txt" >/dev/null &&
    [ "$(wc -l <"$T/fl.txt")" -eq 10000 ] && ok "fashion-mnist labels" || bad "fashion-mnist labels"
    "$HERS" convert --in "$FM/t10k-images-idx3-ubyte.gz" --out "$T/fx.npy" --normalize >/dev/null &&
    [ "$(wc -c <"$T/fx.npy")" -eq $((128 + 10000 * 784 * 4)) ] && ok "fashion-mnist images" ||
        bad "fashion-mnist images"
else
    echo "note: $FM absent, Fashion-MNIST part skipped"
fi

echo "cli_io: $fails failed"
[ "$fails" -eq 0 ]
