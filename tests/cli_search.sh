#!/bin/sh
# cli_search.sh - `hers keygen / enroll / search` end to end, and their errors.
# usage: sh cli_search.sh path/to/hers
set -u
H="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$H" keygen --keys "$T/k" 2>/dev/null || fail "keygen"
mode=$(stat -c %a "$T/k/secret.key")
[ "$mode" = 600 ] || fail "secret key mode $mode"
for f in params.hers public.key relin.key; do [ -s "$T/k/$f" ] || fail "missing $f"; done
"$H" keygen --keys "$T/k" 2>/dev/null && fail "keygen overwrote a key set"

"$H" gen --out "$T/g.npy" --ids 50 --per-id 60 --dim 16 --seed 5 >/dev/null || fail "gen"
"$H" gen --out "$T/p.npy" --ids 4 --per-id 1 --dim 16 --seed 5 >/dev/null || fail "gen probes"
"$H" gen --out "$T/p8.npy" --ids 2 --per-id 1 --dim 8 --seed 5 >/dev/null || fail "gen probes d=8"
i=0; : > "$T/ids.txt"
while [ $i -lt 3000 ]; do echo "t$i" >> "$T/ids.txt"; i=$((i + 1)); done

"$H" enroll --keys "$T/k" --gallery "$T/g.gal" --in "$T/g.npy" --ids "$T/ids.txt" 2>/dev/null || fail "enroll"
"$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --top 5 --out "$T/r.tsv" || fail "search"
[ "$(wc -l < "$T/r.tsv")" -eq 20 ] || fail "expected 20 rows"
awk -F '\t' 'NF != 4 { exit 1 } $2 < 1 || $2 > 5 { exit 1 }' "$T/r.tsv" || fail "bad TSV rows"
# scores are non-increasing within each probe and rank 1 of probe 0 is t0 (its own sample)
awk -F '\t' 'BEGIN { p = -1 } $1 == p && $4 > last + 0 { exit 1 } { p = $1; last = $4 }' "$T/r.tsv" || fail "scores not sorted"
head -1 "$T/r.tsv" | grep -q "^0	1	t0	" || fail "probe 0 should find t0 first: $(head -1 "$T/r.tsv")"

# --out: a regular file is replaced atomically (mode 0644, no temporary left
# beside it); a special file (/dev/stdout) is written in place; a missing
# directory is refused with the path and nothing is left behind
mode=$(stat -c %a "$T/r.tsv")
[ "$mode" = 644 ] || fail "--out file mode $mode"
ls "$T" | grep -q 'r.tsv.tmp' && fail "--out left a temporary file"
"$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --top 5 --out /dev/stdout > "$T/rs.tsv" || fail "search --out /dev/stdout"
cmp -s "$T/r.tsv" "$T/rs.tsv" || fail "--out /dev/stdout differs from --out FILE"
"$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --top 5 --out "$T/none/r.tsv" 2> "$T/err" && fail "--out into a missing directory"
grep -q "cannot create the output file: $T/none/r.tsv" "$T/err" || fail "--out error message: $(cat "$T/err")"

# compact queries: one ciphertext per probe, expanded with galois.key (written by
# keygen): the same rows; auto (the default) and full too; no galois.key: compact is
# refused, auto falls back to the full form
[ -s "$T/k/galois.key" ] || fail "missing galois.key"
for qf in compact full auto; do
    "$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --top 5 --query-form $qf > "$T/rq.tsv" || fail "search --query-form $qf"
    cmp -s "$T/r.tsv" "$T/rq.tsv" || fail "--query-form $qf results differ"
done
mkdir "$T/kn" && cp "$T/k/params.hers" "$T/k/secret.key" "$T/k/public.key" "$T/k/relin.key" "$T/kn/"
"$H" search --keys "$T/kn" --gallery "$T/g.gal" --probe "$T/p.npy" --top 5 > "$T/rq.tsv" || fail "auto without galois.key"
cmp -s "$T/r.tsv" "$T/rq.tsv" || fail "auto without galois.key differs"
"$H" search --keys "$T/kn" --gallery "$T/g.gal" --probe "$T/p.npy" --query-form compact 2> "$T/e.txt" && fail "compact without galois.key"
grep -q "Galois keys" "$T/e.txt" || fail "compact without galois.key: $(cat "$T/e.txt")"
"$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --query-form tiny 2> "$T/e.txt" && fail "--query-form tiny"
grep -q "query-form" "$T/e.txt" || fail "--query-form tiny: $(cat "$T/e.txt")"

# threshold: every entry >= 0.5, and the relinearised result form gives the same rows
"$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --threshold 0.5 > "$T/a.tsv" || fail "threshold"
awk -F '\t' '$4 < 0.5 { exit 1 }' "$T/a.tsv" || fail "threshold violated"
"$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --threshold 0.5 --result relinearized > "$T/b.tsv" || fail "relinearized"
cmp -s "$T/a.tsv" "$T/b.tsv" || fail "relinearized results differ"
"$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --threshold 0.5 --result compact --query-form compact > "$T/b.tsv" || fail "compact result"
cmp -s "$T/a.tsv" "$T/b.tsv" || fail "compact results differ"
# coefficient packing (--scale 125: the rule picks it; the compact result is
# the low-bit window record) gives the slot-packed gallery's rows exactly
"$H" enroll --keys "$T/k" --gallery "$T/c.gal" --in "$T/g.npy" --ids "$T/ids.txt" --scale 125 2> "$T/e.txt" || fail "enroll coeff"
grep -q "coeff packing" "$T/e.txt" || fail "--scale 125 did not pick coefficient packing: $(cat "$T/e.txt")"
"$H" enroll --keys "$T/k" --gallery "$T/sl.gal" --in "$T/g.npy" --ids "$T/ids.txt" --scale 125 --packing slot 2> "$T/e.txt" || fail "enroll slot"
grep -q "slot packing" "$T/e.txt" || fail "--packing slot: $(cat "$T/e.txt")"
"$H" search --keys "$T/k" --gallery "$T/sl.gal" --probe "$T/p.npy" --threshold 0.5 > "$T/a125.tsv" && [ -s "$T/a125.tsv" ] || fail "search slot 125"
for qf in full compact; do
    "$H" search --keys "$T/k" --gallery "$T/c.gal" --probe "$T/p.npy" --threshold 0.5 --result compact --query-form $qf > "$T/b125.tsv" || fail "coeff compact result ($qf)"
    cmp -s "$T/a125.tsv" "$T/b125.tsv" || fail "coefficient-packed results differ ($qf)"
done
"$H" enroll --keys "$T/k" --gallery "$T/x.gal" --in "$T/g.npy" --packing rows 2> "$T/e.txt" && fail "--packing rows"
grep -q "packing" "$T/e.txt" || fail "--packing rows message: $(cat "$T/e.txt")"

# plain-gallery mode and public-key enrolment give the same rankings
"$H" enroll --keys "$T/k" --gallery "$T/pg.gal" --in "$T/g.npy" --ids "$T/ids.txt" --mode plain-gallery 2>/dev/null || fail "enroll plain"
"$H" search --keys "$T/k" --gallery "$T/pg.gal" --probe "$T/p.npy" --top 5 > "$T/r2.tsv" || fail "search plain"
cmp -s "$T/r.tsv" "$T/r2.tsv" || fail "plain-gallery results differ"
"$H" enroll --keys "$T/k" --gallery "$T/pk.gal" --in "$T/g.npy" --ids "$T/ids.txt" --public 2>/dev/null || fail "enroll public"
"$H" search --keys "$T/k" --gallery "$T/pk.gal" --probe "$T/p.npy" --top 5 > "$T/r3.tsv" || fail "search public"
cmp -s "$T/r.tsv" "$T/r3.tsv" || fail "public-key results differ"

# the narrow search set s4096 (three 30-bit primes, the narrow kernel form):
# the scores are exact integers, so the rows equal the n4096 ones bit for bit;
# also through the durable store and with the switched (2-prime) result form
"$H" keygen --keys "$T/ks" --params s4096 2>/dev/null || fail "keygen s4096"
"$H" enroll --keys "$T/ks" --gallery "$T/s.gal" --in "$T/g.npy" --ids "$T/ids.txt" 2>/dev/null || fail "enroll s4096"
"$H" search --keys "$T/ks" --gallery "$T/s.gal" --probe "$T/p.npy" --top 5 > "$T/rs.tsv" || fail "search s4096"
cmp -s "$T/r.tsv" "$T/rs.tsv" || fail "s4096 results differ from n4096"
"$H" search --keys "$T/ks" --gallery "$T/s.gal" --probe "$T/p.npy" --threshold 0.5 --result switched > "$T/as.tsv" || fail "s4096 switched"
cmp -s "$T/a.tsv" "$T/as.tsv" || fail "s4096 switched results differ"
"$H" init --db "$T/sdb" --keys "$T/ks" 2>/dev/null || fail "init s4096 db"
"$H" enroll --keys "$T/ks" --db "$T/sdb" --in "$T/g.npy" --ids "$T/ids.txt" 2>/dev/null || fail "enroll s4096 db"
"$H" search --keys "$T/ks" --db "$T/sdb" --probe "$T/p.npy" --top 5 --timing > "$T/rsd.tsv" 2> "$T/tim.txt" || fail "search s4096 db"
# auto (the default) picks the compact form: the store knows its segments are
# secret-key encrypted, and the noise rule allows it (docs/design.md)
grep -q "compact query" "$T/tim.txt" || fail "search --db auto did not pick compact: $(cat "$T/tim.txt")"
cmp -s "$T/r.tsv" "$T/rsd.tsv" || fail "s4096 db results differ"
# the database holds the Galois keys (stored by init): compact queries through the store
"$H" search --keys "$T/ks" --db "$T/sdb" --probe "$T/p.npy" --top 5 --query-form compact > "$T/rsc.tsv" || fail "search s4096 db compact"
cmp -s "$T/r.tsv" "$T/rsc.tsv" || fail "s4096 db compact results differ"

# errors: one line, non-zero status
err() { # expected-substring command...
    want="$1"; shift
    "$@" > "$T/out" 2> "$T/err" && fail "should fail: $*"
    [ "$(wc -l < "$T/err")" -eq 1 ] || fail "not one line: $(cat "$T/err")"
    grep -q "$want" "$T/err" || fail "message lacks '$want': $(cat "$T/err")"
}
err "nope.gal" "$H" search --keys "$T/k" --gallery "$T/nope.gal" --probe "$T/p.npy"
err "dimension" "$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p8.npy"
cp "$T/g.gal" "$T/bad.gal"
printf '\377' | dd of="$T/bad.gal" bs=1 seek=5000 conv=notrunc 2>/dev/null
err "checksum" "$H" search --keys "$T/k" --gallery "$T/bad.gal" --probe "$T/p.npy"
head -c 1000 "$T/g.gal" > "$T/short.gal"
err "short.gal" "$H" search --keys "$T/k" --gallery "$T/short.gal" --probe "$T/p.npy"
head -5 "$T/ids.txt" > "$T/few.txt"
err "few.txt" "$H" enroll --keys "$T/k" --gallery "$T/x.gal" --in "$T/g.npy" --ids "$T/few.txt"
err "required" "$H" enroll --keys "$T/k" --in "$T/g.npy"
err "params.hers" "$H" search --keys "$T/nokeys" --gallery "$T/g.gal" --probe "$T/p.npy"
"$H" keygen --keys "$T/k2" --params n8192 2>/dev/null || fail "keygen 2"
err "parameter" "$H" search --keys "$T/k2" --gallery "$T/g.gal" --probe "$T/p.npy"
rm "$T/k2/secret.key"
err "secret.key" "$H" search --keys "$T/k2" --gallery "$T/g.gal" --probe "$T/p.npy"
echo "cli_search: all passed"
