#!/bin/sh
# cli_store.sh - the gallery database from the CLI: init, enroll --db (secret
# and public key, appends, --replace), search --db (in memory and streamed),
# delete, compact (with and without keys), info, check; errors leave the
# database unchanged; SIGKILL during enrolment never loses a reported
# enrolment; concurrent searches see consistent snapshots; corrupt files give
# one error line, never a crash.
# usage: sh cli_store.sh path/to/hers      (HERS_TEST_QUICK=1: fewer kills)
set -u
H="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
KILLS=30; BIG=3000; FLIPS="3 5 7 11 13 17 19 23"
[ -n "${HERS_TEST_QUICK:-}" ] && { KILLS=8; BIG=1000; FLIPS="5 13 23"; }
D=16
ROWB=$((D * 4))

# rows [a, a+n) of g.f32 as P.npy
rows() { # a n out
    dd if="$T/g.f32" of="$T/rows.f32" bs=$ROWB skip="$1" count="$2" 2>/dev/null
    "$H" convert --in "$T/rows.f32" --dim $D --out "$3" >/dev/null 2>&1 || fail "convert rows"
}
ids() { # prefix n out
    awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) print p i }' > "$3"
}
err() { # expected-substring command...
    want="$1"; shift
    "$@" > "$T/out" 2> "$T/err"; st=$?
    [ $st -ne 0 ] || fail "should fail: $*"
    [ $st -lt 128 ] || fail "crashed ($st): $*"
    [ "$(wc -l < "$T/err")" -eq 1 ] || fail "not one line: $(cat "$T/err")"
    grep -q "$want" "$T/err" || fail "message lacks '$want': $(cat "$T/err")"
}
same_db() { # db json-before
    "$H" info --db "$1" --json > "$T/now.json" || fail "info"
    cmp -s "$2" "$T/now.json" || fail "database changed: $(cat "$T/now.json")"
}

"$H" keygen --keys "$T/k" 2>/dev/null || fail "keygen"
"$H" keygen --keys "$T/k2" 2>/dev/null || fail "keygen 2"
mkdir "$T/pub" && cp "$T/k/params.hers" "$T/k/public.key" "$T/pub/"
"$H" gen --out "$T/g.npy" --ids 300 --per-id 20 --dim $D --seed 9 >/dev/null || fail "gen"
"$H" gen --out "$T/g8.npy" --ids 2 --per-id 2 --dim 8 --seed 9 >/dev/null || fail "gen d8"
"$H" convert --in "$T/g.npy" --out "$T/g.f32" >/dev/null || fail "convert"

# ---- init, enrol (secret key, then public key only, appending into block 0)
"$H" init --db "$T/db" --keys "$T/pub" 2>/dev/null || fail "init"
err "already" "$H" init --db "$T/db" --keys "$T/pub"
mkdir "$T/junk" && echo x > "$T/junk/f"
err "not empty" "$H" init --db "$T/junk" --keys "$T/pub"
rows 0 100 "$T/a.npy"; ids a 100 "$T/a.txt"
rows 100 50 "$T/b.npy"; ids b 50 "$T/b.txt"
rows 150 30 "$T/c.npy"
"$H" enroll --db "$T/db" --keys "$T/k" --in "$T/a.npy" --ids "$T/a.txt" >/dev/null 2>&1 || fail "enroll a"
"$H" enroll --db "$T/db" --keys "$T/pub" --in "$T/b.npy" --ids "$T/b.txt" >/dev/null 2>&1 || fail "enroll b (public key)"
"$H" enroll --db "$T/db" --public-key-only --in "$T/c.npy" >/dev/null 2>&1 || fail "enroll c (default ids)"
"$H" check --db "$T/db" 2>/dev/null || fail "check"
"$H" info --db "$T/db" --json > "$T/i.json" || fail "info"
grep -q '"live": 180,' "$T/i.json" || fail "live count: $(cat "$T/i.json")"
grep -q '"segments": 3,' "$T/i.json" || fail "segments: $(cat "$T/i.json")"
# no --scale: the largest safe scale for d = 16 and t = 1032193 (hers_quant_default_scale)
grep -q '"scale": 716,' "$T/i.json" || fail "default scale: $(cat "$T/i.json")"
"$H" init --db "$T/db125" --keys "$T/pub" 2>/dev/null || fail "init 125"
"$H" enroll --db "$T/db125" --keys "$T/k" --in "$T/a.npy" --scale 125 >/dev/null 2>&1 || fail "enroll --scale 125"
"$H" info --db "$T/db125" --json | grep -q '"scale": 125,' || fail "explicit scale not kept"
"$H" enroll --db "$T/db125" --keys "$T/k" --in "$T/b.npy" >/dev/null 2>&1 || fail "append at the database's scale"
"$H" info --db "$T/db125" --json | grep -q '"scale": 125,' || fail "append changed the scale"
err "can wrap" "$H" enroll --db "$T/db125" --keys "$T/k" --in "$T/c.npy" --scale 717

# ---- search: same rows as a gallery file (exact equality of the TSV)
rows 0 180 "$T/all.npy"
{ cat "$T/a.txt" "$T/b.txt"; awk 'BEGIN { for (i = 150; i < 180; i++) print i }'; } > "$T/all.txt"
"$H" enroll --keys "$T/k" --gallery "$T/all.gal" --in "$T/all.npy" --ids "$T/all.txt" 2>/dev/null || fail "gallery file"
rows 95 30 "$T/p.npy"
"$H" search --keys "$T/k" --gallery "$T/all.gal" --probe "$T/p.npy" --top 3 > "$T/want.tsv" || fail "search file"
"$H" search --db "$T/db" --keys "$T/k" --probe "$T/p.npy" --top 3 > "$T/got.tsv" || fail "search db"
cmp -s "$T/want.tsv" "$T/got.tsv" || fail "db search differs from the gallery-file search"
"$H" search --db "$T/db" --keys "$T/k" --probe "$T/p.npy" --top 3 --max-memory 1 > "$T/got2.tsv" || fail "search streamed"
cmp -s "$T/want.tsv" "$T/got2.tsv" || fail "streamed search differs"

# ---- packing: the database records it (hers init --packing); old and
# default databases are slot-packed; coefficient packing searches the same
grep -q '"packing": "slot",' "$T/i.json" || fail "default packing: $(cat "$T/i.json")"
err "expected auto, slot or coeff" "$H" init --db "$T/dbx" --keys "$T/pub" --packing rows
"$H" init --db "$T/dbc" --keys "$T/pub" --packing coeff 2>/dev/null || fail "init coeff"
"$H" info --db "$T/dbc" | grep -q "empty (coeff packing)" || fail "info of an empty coeff db"
err "coeff-packed, --packing says slot" "$H" enroll --db "$T/dbc" --keys "$T/k" --in "$T/a.npy" --packing slot
"$H" enroll --db "$T/dbc" --keys "$T/k" --in "$T/a.npy" --ids "$T/a.txt" --packing coeff >/dev/null 2>&1 || fail "enroll coeff a"
"$H" enroll --db "$T/dbc" --keys "$T/pub" --in "$T/b.npy" --ids "$T/b.txt" >/dev/null 2>&1 || fail "enroll coeff b (public key)"
"$H" enroll --db "$T/dbc" --public-key-only --in "$T/c.npy" >/dev/null 2>&1 || fail "enroll coeff c"
"$H" info --db "$T/dbc" --json | grep -q '"packing": "coeff",' || fail "coeff packing not shown"
"$H" check --db "$T/dbc" 2>/dev/null || fail "check coeff"
"$H" search --db "$T/dbc" --keys "$T/k" --probe "$T/p.npy" --top 3 > "$T/gotc.tsv" || fail "search coeff db"
cmp -s "$T/want.tsv" "$T/gotc.tsv" || fail "coeff db search differs from the gallery-file search"
"$H" search --db "$T/dbc" --keys "$T/k" --probe "$T/p.npy" --top 3 --max-memory 1 > "$T/gotc2.tsv" || fail "search coeff streamed"
cmp -s "$T/want.tsv" "$T/gotc2.tsv" || fail "streamed coeff search differs"
"$H" delete --db "$T/dbc" --id a3 2>/dev/null || fail "delete coeff"
"$H" compact --db "$T/dbc" --keys "$T/k" 2>/dev/null || fail "compact coeff"
"$H" check --db "$T/dbc" 2>/dev/null || fail "check coeff after compaction"
"$H" info --db "$T/dbc" --json | grep -q '"packing": "coeff",' || fail "compaction changed the packing"
"$H" search --db "$T/dbc" --keys "$T/k" --probe "$T/p.npy" --top 3 > "$T/gotc3.tsv" || fail "search coeff after compact"
grep -q "	a3	" "$T/gotc3.tsv" && fail "deleted a3 returned (coeff)"
# auto: decided by the first enrolment (d = 16 at the default scale 716: hers_packing_default)
"$H" init --db "$T/dba" --keys "$T/pub" --packing auto 2>/dev/null || fail "init auto"
"$H" enroll --db "$T/dba" --keys "$T/k" --in "$T/c.npy" >/dev/null 2>&1 || fail "enroll auto"
"$H" info --db "$T/dba" --json | grep -Eq '"packing": "(slot|coeff)",' || fail "auto not resolved"
"$H" search --db "$T/db" --keys "$T/k" --probe "$T/p.npy" --threshold 0.5 > "$T/thr.tsv" || fail "threshold"
awk -F '\t' '$4 < 0.5 { exit 1 }' "$T/thr.tsv" || fail "threshold violated"

# ---- errors: one line, non-zero, database unchanged
cp "$T/i.json" "$T/before.json"
err "already enrolled" "$H" enroll --db "$T/db" --keys "$T/k" --in "$T/a.npy" --ids "$T/a.txt"
err "dimension" "$H" enroll --db "$T/db" --keys "$T/k" --in "$T/g8.npy"
err "dimension" "$H" search --db "$T/db" --keys "$T/k" --probe "$T/g8.npy"
err "secret key does not belong" "$H" enroll --db "$T/db" --keys "$T/k2" --in "$T/c.npy"
err "wrong keys" "$H" search --db "$T/db" --keys "$T/k2" --probe "$T/p.npy"
err "secret.key" "$H" search --db "$T/db" --keys "$T/pub" --probe "$T/p.npy"
err "not enrolled" "$H" delete --db "$T/db" --id nope
err "nope.db" "$H" info --db "$T/nope.db"
err "not a hers database" "$H" search --db "$T/junk" --keys "$T/k" --probe "$T/p.npy"
printf 'a1\na1\n' > "$T/dup.txt"
rows 0 2 "$T/two.npy"
err "twice" "$H" enroll --db "$T/db" --keys "$T/k" --in "$T/two.npy" --ids "$T/dup.txt" --replace
same_db "$T/db" "$T/before.json"

# ---- delete, replace, compact
printf 'a3\nb7\n' > "$T/del.txt"
"$H" delete --db "$T/db" --ids "$T/del.txt" 2>/dev/null || fail "delete"
"$H" search --db "$T/db" --keys "$T/k" --probe "$T/p.npy" --top 3 > "$T/d.tsv" || fail "search after delete"
grep -q "	a3	" "$T/d.tsv" && fail "deleted a3 returned"
grep -q "	b7	" "$T/d.tsv" && fail "deleted b7 returned"
printf 'a5\n' > "$T/r.txt"; rows 2000 1 "$T/r.npy"
"$H" enroll --db "$T/db" --keys "$T/k" --in "$T/r.npy" --ids "$T/r.txt" --replace >/dev/null 2>&1 || fail "replace"
"$H" search --db "$T/db" --keys "$T/k" --probe "$T/r.npy" --top 2 > "$T/r.tsv" || fail "search replaced"
head -1 "$T/r.tsv" | grep -q "^0	1	a5	" || fail "replaced a5 not found first: $(cat "$T/r.tsv")"
"$H" check --db "$T/db" 2>/dev/null || fail "check after delete"
"$H" delete --db "$T/db" --ids "$T/b.txt" 2>/dev/null && fail "deleting b7 twice should fail"
grep -v '^b7$' "$T/b.txt" > "$T/b2.txt"
"$H" delete --db "$T/db" --ids "$T/b2.txt" 2>/dev/null || fail "delete b"
"$H" compact --db "$T/db" 2>/dev/null || fail "compact"
"$H" info --db "$T/db" --json > "$T/i2.json"
grep -q '"segments": 3,' "$T/i2.json" || fail "segment b not dropped: $(cat "$T/i2.json")"
"$H" check --db "$T/db" 2>/dev/null || fail "check after compact"
"$H" search --db "$T/db" --keys "$T/k" --probe "$T/p.npy" --top 3 > "$T/c1.tsv" || fail "search after compact"
"$H" compact --db "$T/db" --keys "$T/k" 2>/dev/null || fail "compact with keys"
"$H" info --db "$T/db" --json > "$T/i3.json"
grep -q '"deleted": 0,' "$T/i3.json" || fail "deleted templates remain: $(cat "$T/i3.json")"
grep -q '"slots": 129,' "$T/i3.json" || fail "slots not dense: $(cat "$T/i3.json")"
"$H" check --db "$T/db" 2>/dev/null || fail "check after key compaction"
"$H" search --db "$T/db" --keys "$T/k" --probe "$T/p.npy" --top 3 > "$T/c2.tsv" || fail "search after key compaction"
cmp -s "$T/c1.tsv" "$T/c2.tsv" || fail "compaction changed the results"

# ---- a database that records a model refuses vectors without it / with another
"$H" gen --out "$T/x32.npy" --ids 20 --per-id 5 --dim 32 --seed 3 >/dev/null || fail "gen 32"
"$H" fit --in "$T/x32.npy" --dim $D --method pca --out "$T/m1.model" --quiet >/dev/null 2>&1 || fail "fit m1"
"$H" fit --in "$T/x32.npy" --dim 8 --method pca --out "$T/m2.model" --quiet >/dev/null 2>&1 || fail "fit m2"
"$H" init --db "$T/mdb" --keys "$T/pub" --model "$T/m1.model" 2>/dev/null || fail "init --model"
err "give it with --model" "$H" enroll --db "$T/mdb" --keys "$T/k" --in "$T/x32.npy"
err "model mismatch" "$H" enroll --db "$T/mdb" --keys "$T/k" --in "$T/x32.npy" --model "$T/m2.model"
"$H" enroll --db "$T/mdb" --keys "$T/k" --in "$T/x32.npy" --model "$T/m1.model" >/dev/null 2>&1 || fail "enroll --model"
"$H" search --db "$T/mdb" --keys "$T/k" --probe "$T/x32.npy" --model "$T/m1.model" --top 1 > "$T/m.tsv" || fail "search --model"
[ "$(wc -l < "$T/m.tsv")" -eq 100 ] || fail "search --model rows"
err "model mismatch" "$H" search --db "$T/mdb" --keys "$T/k" --probe "$T/x32.npy" --model "$T/m2.model"

# ---- durability: SIGKILL at random points during enrolment
"$H" init --db "$T/dur" --keys "$T/pub" 2>/dev/null || fail "init dur"
: > "$T/ok.list"
i=0
while [ $i -lt $KILLS ]; do
    rows $((i * 40)) 40 "$T/x$i.npy"; ids "r${i}_" 40 "$T/x$i.txt"
    "$H" enroll --db "$T/dur" --keys "$T/k" --in "$T/x$i.npy" --ids "$T/x$i.txt" > "$T/x$i.out" 2>/dev/null &
    pid=$!
    delay=$(awk -v s=$i 'BEGIN { srand(s * 7919 + 1); printf "%.3f", rand() * 0.2 }')
    sleep "$delay"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null; st=$?
    if [ $st -eq 0 ] && grep -q "^enrolled 40 " "$T/x$i.out"; then echo $i >> "$T/ok.list"; fi
    i=$((i + 1))
done
"$H" check --db "$T/dur" 2>/dev/null || fail "check after $KILLS kills"
# one more enrolment always succeeds
i=$KILLS; rows $((i * 40)) 40 "$T/x$i.npy"; ids "r${i}_" 40 "$T/x$i.txt"
"$H" enroll --db "$T/dur" --keys "$T/k" --in "$T/x$i.npy" --ids "$T/x$i.txt" > /dev/null 2>&1 || fail "enroll after kills"
echo $i >> "$T/ok.list"
# every reported enrolment: each row finds itself first, with the exact score
# the gallery-file path gives (expected self-scores from all rows)
n_ok=$(wc -l < "$T/ok.list")
: > "$T/okp.f32"; : > "$T/okids.txt"
: > "$T/okg.f32"
for i in $(cat "$T/ok.list"); do
    dd if="$T/g.f32" bs=$ROWB skip=$((i * 40)) count=40 2>/dev/null >> "$T/okg.f32"
    dd if="$T/g.f32" bs=$ROWB skip=$((i * 40)) count=1 2>/dev/null >> "$T/okp.f32"
    dd if="$T/g.f32" bs=$ROWB skip=$((i * 40 + 39)) count=1 2>/dev/null >> "$T/okp.f32"
    cat "$T/x$i.txt" >> "$T/okids.txt"
done
"$H" convert --in "$T/okp.f32" --dim $D --out "$T/okp.npy" >/dev/null 2>&1 || fail "convert ok probes"
"$H" convert --in "$T/okg.f32" --dim $D --out "$T/okg.npy" >/dev/null 2>&1 || fail "convert ok rows"
"$H" enroll --keys "$T/k" --gallery "$T/ok.gal" --in "$T/okg.npy" --ids "$T/okids.txt" 2>/dev/null || fail "ok gallery"
"$H" search --keys "$T/k" --gallery "$T/ok.gal" --probe "$T/okp.npy" --top 1 > "$T/okwant.tsv" || fail "ok search file"
"$H" search --db "$T/dur" --keys "$T/k" --probe "$T/okp.npy" --top 1 > "$T/okgot.tsv" || fail "ok search db"
cmp -s "$T/okwant.tsv" "$T/okgot.tsv" || fail "a reported enrolment is not intact ($n_ok reported)"
[ "$(wc -l < "$T/okgot.tsv")" -eq $((2 * n_ok)) ] || fail "expected $((2 * n_ok)) rows"
echo "durability: $KILLS kills, $n_ok reported enrolments intact"

# ---- concurrent writers serialise (LMDB's writer lock): both land, check passes
ids w1_ 40 "$T/w1.txt"; ids w2_ 40 "$T/w2.txt"
"$H" enroll --db "$T/dur" --keys "$T/k" --in "$T/x0.npy" --ids "$T/w1.txt" > /dev/null 2>&1 &
p1=$!
"$H" enroll --db "$T/dur" --keys "$T/pub" --in "$T/x1.npy" --ids "$T/w2.txt" > /dev/null 2>&1 &
p2=$!
wait $p1 || fail "concurrent enroll 1"
wait $p2 || fail "concurrent enroll 2"
"$H" check --db "$T/dur" 2>/dev/null || fail "check after concurrent enrolments"
printf 'w1_0\nw1_39\nw2_0\nw2_39\n' > "$T/w12.txt"
"$H" delete --db "$T/dur" --ids "$T/w12.txt" 2>/dev/null || fail "concurrent enrolments incomplete"

# ---- concurrent searches during enrolments see consistent snapshots
"$H" gen --out "$T/big.npy" --ids $((BIG / 10)) --per-id 10 --dim $D --seed 77 >/dev/null || fail "gen big"
"$H" convert --in "$T/big.npy" --out "$T/big.f32" >/dev/null
dd if="$T/big.f32" bs=$ROWB skip=0 count=1 2>/dev/null > "$T/bp.f32"
dd if="$T/big.f32" bs=$ROWB skip=$((BIG - 1)) count=1 2>/dev/null >> "$T/bp.f32"
"$H" convert --in "$T/bp.f32" --dim $D --out "$T/bigpair.npy" >/dev/null 2>&1
[ -s "$T/bigpair.npy" ] || fail "bigpair"
j=0
(
    while [ ! -f "$T/stop" ]; do
        "$H" search --db "$T/dur" --keys "$T/k" --probe "$T/bigpair.npy" --top 1 > "$T/s$j.tsv" 2>/dev/null || { echo "search failed" > "$T/sfail"; }
        j=$((j + 1))
    done
) &
spid=$!
r=1
while [ $r -le 20 ]; do
    ids "big${r}_" $BIG "$T/big$r.txt"
    "$H" enroll --db "$T/dur" --keys "$T/k" --in "$T/big.npy" --ids "$T/big$r.txt" > /dev/null 2>&1 || fail "big enroll $r"
    [ $r -ge 3 ] && [ "$(ls "$T"/s*.tsv 2>/dev/null | wc -l)" -ge 4 ] && break
    r=$((r + 1))
done
touch "$T/stop"; wait $spid
[ -f "$T/sfail" ] && fail "a concurrent search failed"
nsearch=$(ls "$T"/s*.tsv 2>/dev/null | wc -l)
[ "$nsearch" -ge 1 ] || fail "no concurrent search ran"
for f in "$T"/s*.tsv; do
    [ -s "$f" ] || continue
    # both probes (first and last row of one enrolment) see the same
    # enrolments: both find a big* id with score 1, or neither does
    a=$(awk -F '\t' '$1 == 0 { print ($3 ~ /^big/) }' "$f")
    b=$(awk -F '\t' '$1 == 1 { print ($3 ~ /^big/) }' "$f")
    [ "$a" = "$b" ] || fail "inconsistent snapshot in $f: $(cat "$f")"
done
echo "concurrency: $nsearch searches during $r enrolments, all consistent"

# ---- corruption: truncated and bit-flipped data.mdb, never a crash
"$H" search --db "$T/dur" --keys "$T/k" --probe "$T/okp.npy" --top 1 > "$T/clean.tsv" || fail "clean search"
"$H" search --db "$T/dur" --keys "$T/k" --probe "$T/okp.npy" --top 1 --max-memory 4 > "$T/str.tsv" || fail "streamed search"
cmp -s "$T/clean.tsv" "$T/str.tsv" || fail "streamed search (2-block chunks) differs"
sz=$(stat -c %s "$T/dur/data.mdb")
mkdir "$T/tr"; head -c $((sz / 2)) "$T/dur/data.mdb" > "$T/tr/data.mdb"
err "truncated" "$H" check --db "$T/tr"
err "truncated" "$H" search --db "$T/tr" --keys "$T/k" --probe "$T/okp.npy"
for off in $FLIPS; do
    rm -rf "$T/bf"; mkdir "$T/bf"; cp "$T/dur/data.mdb" "$T/bf/"
    pos=$(( (sz / 29) * off + 1001 ))
    printf '\252' | dd of="$T/bf/data.mdb" bs=1 seek=$pos conv=notrunc 2>/dev/null
    "$H" check --db "$T/bf" > /dev/null 2> "$T/err"; st=$?
    [ $st -lt 128 ] || fail "check crashed on a flip at $pos"
    "$H" search --db "$T/bf" --keys "$T/k" --probe "$T/okp.npy" --top 1 > "$T/bf.tsv" 2> "$T/err"; st=$?
    [ $st -lt 128 ] || fail "search crashed on a flip at $pos"
    if [ $st -eq 0 ]; then
        cmp -s "$T/clean.tsv" "$T/bf.tsv" || fail "silent wrong answer after a flip at $pos"
    else
        [ "$(wc -l < "$T/err")" -eq 1 ] || fail "not one line: $(cat "$T/err")"
    fi
done
echo "cli_store: ok"
