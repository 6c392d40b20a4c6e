#!/bin/sh
# cli_bench_ntt.sh - `hers bench ntt --json` prints one JSON object per
# (op, SIMD level) with the contract's fields; bad options fail with one line.
# (No timing is checked.) Usage: sh cli_bench_ntt.sh path/to/hers
set -eu
hers="$1"
fail() { echo "FAIL: $*"; exit 1; }

out=$("$hers" bench ntt --json --n 1024 --bits 50 --reps 1 --simd portable) ||
    fail "bench exited with $?"
echo "$out" | head -1 | grep -q '^# hers bench ntt: cpu=.* simd=.* commit=' ||
    fail "no environment line"
for op in ntt_forward ntt_inverse mul_pointwise mul_acc_pointwise; do
    echo "$out" | grep -Eq "^\{\"bench\":\"ntt\",\"op\":\"$op\",\"N\":1024,\"q_bits\":50,\"simd\":\"portable\",\"threads\":1,\"median_us\":[0-9.]+,\"cpu_us\":[0-9.]+\}$" ||
        fail "no JSON line for op $op"
done
[ "$(echo "$out" | grep -c '^{')" -eq 4 ] || fail "expected 4 JSON lines"
# the default run covers every level of this CPU
levels=$("$hers" bench ntt --json --n 1024 --bits 30 --reps 1 | grep -c '"op":"ntt_forward"')
[ "$levels" -ge 1 ] || fail "no level measured"

err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$hers" bench ntt --n 1000 2>"$err" && fail "--n 1000 accepted"
[ "$(wc -l <"$err")" -eq 1 ] || fail "error is not one line"
grep -q "hers bench ntt: --n" "$err" || fail "error does not name the option"
"$hers" bench ntt --bogus 2>"$err" && fail "--bogus accepted"
[ "$(wc -l <"$err")" -eq 1 ] || fail "error is not one line"
"$hers" bench ntt --help | grep -q "usage: hers bench ntt" || fail "--help"
echo "cli_bench_ntt: ok"
