#!/bin/sh
# cli_scale.sh - `hers bench scale` as an exactness test (never a timing
# test): 1M synthetic templates at d = 32 enrolled into a database on disk,
# searched from disk in several streamed chunks (reader thread ahead of the
# scan, checksums verified), every decrypted score compared with the
# plaintext; then a smaller run with the checksums skipped and odd chunks,
# and a one-pass run. HERS_TEST_QUICK=1 (ASan): 100k templates.
# usage: sh cli_scale.sh path/to/hers
set -u
H="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
N=1000000
[ -n "${HERS_TEST_QUICK:-}" ] && N=100000
# exact() json-file: every checked score equal, at least one checked
exact() {
    grep -q '"exact": true' "$1" || { cat "$1"; fail "scores differ: $2"; }
    grep -q '"wrong": 0,' "$1" || fail "wrong scores: $2"
    grep -q '"checked": 0,' "$1" && fail "nothing checked: $2"
    return 0
}
"$H" bench scale --n $N --d 32 --db "$T/db1" --index-mb 96 --batch 262144 --json \
    > "$T/a.json" 2> "$T/a.err" || { cat "$T/a.err"; fail "bench scale $N"; }
exact "$T/a.json" "$N streamed"
grep -q '"chunks": 1,' "$T/a.json" && fail "$N x 32 in 96 MB should stream in several chunks"
grep -q '"checksums_verified": true' "$T/a.json" || fail "checksums not verified by default"
[ -e "$T/db1" ] && fail "the database should be removed without --keep"
grep -q 'enrol .*100.0%' "$T/a.err" || fail "no progress bar on stderr"
# odd chunk size, checksums skipped, n not a multiple of N, n4096
"$H" bench scale --n 30001 --d 20 --params n4096 --db "$T/db2" --chunk-blocks 3 \
    --skip-checksums --compare-checksums --batch 7000 --json > "$T/b.json" 2>/dev/null \
    || fail "bench scale skip"
grep -q '"search2_checksums_verified": true' "$T/b.json" || fail "--compare-checksums: 2nd search"
exact "$T/b.json" "n4096 skip-checksums"
grep -q '"checksums_verified": false' "$T/b.json" || fail "--skip-checksums not reported"
grep -q '"full_result": false' "$T/b.json" || fail "chunks should be decrypted as they come"
# one result over the whole gallery (streamed, then placed), sampled checks
"$H" bench scale --n 20000 --d 16 --db "$T/db5" --chunk-blocks 2 --full-result --sample 999 \
    --json > "$T/d.json" 2>/dev/null || fail "bench scale --full-result"
exact "$T/d.json" "full result"
grep -q '"full_result": true' "$T/d.json" || fail "--full-result not reported"
grep -q '"chunks": 3,' "$T/d.json" || fail "20000 rows in 2-block chunks should be 3 chunks"
grep -q '"checked": 1000,' "$T/d.json" || fail "--sample 999 of 20000 should check 1000 (every 20th)"
# one pass (everything fits), kept database readable by the CLI
"$H" bench scale --n 5000 --d 8 --db "$T/db3" --keep --json > "$T/c.json" 2>/dev/null \
    || fail "bench scale one pass"
exact "$T/c.json" "one pass"
grep -q '"chunks": 1,' "$T/c.json" || fail "5000 x 8 should be one pass"
"$H" check --db "$T/db3" > /dev/null 2>&1 || fail "hers check on the kept database"
# usage errors exit 2
"$H" bench scale --n 10 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--db missing should exit 2"
"$H" bench scale --db "$T/db4" --n 0 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--n 0 should exit 2"
echo "cli_scale: ok ($N templates)"
