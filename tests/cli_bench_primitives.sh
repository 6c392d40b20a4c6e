#!/bin/sh
# cli_bench_primitives.sh - `hers bench primitives --json` prints one JSON
# object per operation with the fields of the issue's contract; bad options
# fail with one line. (No timing is checked.) Usage: sh cli_bench_primitives.sh path/to/hers
set -eu
hers="$1"
fail() { echo "FAIL: $*"; exit 1; }

out=$("$hers" bench primitives --json --n 2048 --reps 1) || fail "bench exited with $?"
echo "$out" | head -1 | grep -q '^# hers bench primitives: cpu=.* simd=.* commit=' ||
    fail "no environment line"
for op in ntt_forward ntt_inverse encrypt_public encrypt_seeded decrypt mul_plain mul \
          relinearize serialize deserialize; do
    echo "$out" | grep -Eq "^\{\"bench\":\"primitives\",\"op\":\"$op\",\"N\":2048,\"log_q\":[0-9]+,\"simd\":\"(portable|avx2|avx512ifma)\",\"threads\":1,\"median_us\":[0-9.]+" ||
        fail "no JSON line for op $op"
done
[ "$(echo "$out" | grep -c '^{')" -eq 10 ] || fail "expected 10 JSON lines"

err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$hers" bench primitives --n 100 2>"$err" && fail "--n 100 accepted"
[ "$(wc -l <"$err")" -eq 1 ] || fail "error is not one line"
grep -q "hers bench primitives: --n" "$err" || fail "error does not name the option"
"$hers" bench primitives --help | grep -q "usage: hers bench primitives" || fail "--help"
echo "cli_bench_primitives: ok"
