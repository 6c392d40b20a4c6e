#!/bin/sh
# cli_store_robust.sh - the store under damage and concurrency (issue 11):
#  1. edits of both LMDB meta pages (main and free-list table roots, last
#     page, magic, page size) and of a named table's record: every command
#     that opens the database exits 1 with one line naming it, never aborts;
#  2. a bounded loop of delete + compact beside loops of `info --json` and
#     `search --db` in other processes: zero failures, and compaction shrinks
#     the file only when no other handle is open;
#  3./4. a full disk (a 6 MiB tmpfs, when the test runs as root): enrolment
#     fails with "no space left on device" naming the database and leaves it
#     unchanged; compact either changes nothing or succeeds saying the file
#     was not shrunk.
# Usage: sh tests/cli_store_robust.sh path/to/hers. Bounded: every command
# under timeout, the concurrency loop by iterations and seconds.
set -u
H="$1"
case "$H" in /*) ;; *) H="$(pwd)/$H" ;; esac
T=$(mktemp -d /tmp/hers_robust.XXXXXX)
MNT=""
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
TO=60
db_sum() { cksum <"$1/data.mdb"; }

"$H" keygen --keys "$T/k" 2>/dev/null || { echo "FAIL: keygen"; exit 1; }
"$H" gen --out "$T/g.npy" --ids 100 --per-id 10 --dim 32 --seed 5 >/dev/null 2>&1 || exit 1
"$H" gen --out "$T/p.npy" --ids 2 --per-id 1 --dim 32 --seed 6 >/dev/null 2>&1 || exit 1
"$H" init --db "$T/base" --keys "$T/k" 2>/dev/null || { echo "FAIL: init"; exit 1; }
"$H" enroll --db "$T/base" --keys "$T/k" --in "$T/g.npy" >/dev/null 2>&1 || { echo "FAIL: enroll"; exit 1; }

# ---- 1. meta pages and table records
# write_le FILE OFFSET VALUE BYTES: VALUE little-endian (octal escapes:
# dash's printf has no \x)
write_le() {
    _v=$3; esc=""; n=0
    while [ $n -lt "$4" ]; do esc="$esc$(printf '\\%03o' $((_v % 256)))"; _v=$((_v / 256)); n=$((n + 1)); done
    # shellcheck disable=SC2059
    printf "$esc" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
write_u64() { write_le "$1" "$2" "$3" 8; }
write_u32() { write_le "$1" "$2" "$3" 4; }
# meta page p (offset p*4096): +16 page header; main root at +128, free root
# at +80, last page at +136, magic at +16, page size at +40
check_case() { # NAME
    name=$1; fails_before=$fails
    for cmd in "info --db" "check --db" "search --keys $T/k --probe $T/p.npy --db" \
               "enroll --keys $T/k --in $T/p.npy --db" "compact --db"; do
        rm -rf "$T/bad2" && cp -r "$T/bad" "$T/bad2"
        before=$(db_sum "$T/bad2")
        # shellcheck disable=SC2086
        timeout $TO "$H" $cmd "$T/bad2" >"$T/out" 2>"$T/err"; rc=$?
        c=${cmd%% *}
        if [ $rc -ne 1 ]; then bad "$name: $c exit $rc ($(head -2 "$T/err"))"; continue; fi
        if [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -q "$T/bad2" "$T/err"; then
            bad "$name: $c message: $(cat "$T/err")"; continue
        fi
        [ "$(db_sum "$T/bad2")" = "$before" ] || bad "$name: $c changed the database"
    done
    [ "$fails" -eq "$fails_before" ] &&
        ok "$name: info/check/search/enroll/compact exit 1 with one line ($(head -c 120 "$T/err"))"
}
for page in 0 1; do
    base=$((page * 4096))
    for v in 0 1; do
        rm -rf "$T/bad" && cp -r "$T/base" "$T/bad"; write_u64 "$T/bad/data.mdb" $((base + 128)) $v
        check_case "meta $page main root = $v"
        rm -rf "$T/bad" && cp -r "$T/base" "$T/bad"; write_u64 "$T/bad/data.mdb" $((base + 80)) $v
        check_case "meta $page free-list root = $v"
    done
    rm -rf "$T/bad" && cp -r "$T/base" "$T/bad"; write_u64 "$T/bad/data.mdb" $((base + 128)) 999999
    check_case "meta $page main root past the file"
    rm -rf "$T/bad" && cp -r "$T/base" "$T/bad"; write_u64 "$T/bad/data.mdb" $((base + 136)) 99999999
    check_case "meta $page last page past the file"
    rm -rf "$T/bad" && cp -r "$T/base" "$T/bad"; write_u32 "$T/bad/data.mdb" $((base + 16)) 305419896
    check_case "meta $page magic"
done
rm -rf "$T/bad" && cp -r "$T/base" "$T/bad"; write_u32 "$T/bad/data.mdb" 40 3000
check_case "page size 3000"
# A named table's record (the MDB_db value of key "segments" in the main
# table): its root (last 8 bytes of the 48-byte record) set to 1. The main
# table's root page is named by the newer meta page (larger txnid, +144);
# in a leaf node the 8-byte node header and the key precede the value.
u64() { od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }
if [ "$(u64 "$T/base/data.mdb" 144)" -gt "$(u64 "$T/base/data.mdb" 4240)" ]; then m=0; else m=1; fi
root=$(u64 "$T/base/data.mdb" $((m * 4096 + 128)))
off=$(dd if="$T/base/data.mdb" bs=4096 skip="$root" count=1 2>/dev/null | grep -boa "segments" |
      head -1 | cut -d: -f1)
if [ -n "$off" ]; then
    off=$((root * 4096 + off))
    rm -rf "$T/bad" && cp -r "$T/base" "$T/bad"; write_u64 "$T/bad/data.mdb" $((off + 8 + 40)) 1
    check_case "table 'segments' root = 1"
else
    bad "could not find the segments table record"
fi

# ---- 2. compaction beside readers and writers in other processes
cp -r "$T/base" "$T/c"
ITER=${HERS_ROBUST_ITER:-12}
i=0; : >"$T/ids"
while [ $i -lt 1000 ]; do echo "$i" >>"$T/ids"; i=$((i + 1)); done
(   # writer: delete a batch, compact, re-enrol; bounded by ITER
    j=0
    while [ $j -lt "$ITER" ]; do
        timeout $TO "$H" delete --db "$T/c" --id $((j * 3)) --id $((j * 3 + 1)) >/dev/null 2>>"$T/w.err" ||
            echo "delete $j failed" >>"$T/w.fail"
        timeout $TO "$H" compact --db "$T/c" >>"$T/w.out" 2>&1 || echo "compact $j failed" >>"$T/w.fail"
        j=$((j + 1))
    done
    : >"$T/w.done"
) &
wpid=$!
reads=0; rfail=0; searches=0; sfail=0; start=$(date +%s)
while [ ! -e "$T/w.done" ] && [ $(( $(date +%s) - start )) -lt 120 ]; do
    timeout $TO "$H" info --db "$T/c" --json >/dev/null 2>>"$T/r.err" || rfail=$((rfail + 1))
    reads=$((reads + 1))
    if [ $((reads % 4)) -eq 0 ]; then
        timeout $TO "$H" search --db "$T/c" --keys "$T/k" --probe "$T/p.npy" --top 3 >/dev/null \
            2>>"$T/r.err" || sfail=$((sfail + 1))
        searches=$((searches + 1))
    fi
done
wait $wpid
[ ! -e "$T/w.fail" ] && ok "writer: $ITER x (delete + compact) all succeeded" ||
    bad "writer failures: $(cat "$T/w.fail" "$T/w.err" | head -3)"
[ $rfail -eq 0 ] && [ $sfail -eq 0 ] && ok "readers beside compaction: $reads info, $searches searches, 0 failures" ||
    bad "readers: $rfail of $reads info and $sfail of $searches searches failed: $(head -3 "$T/r.err")"
grep -q "file not shrunk: the database is open in another process or handle" "$T/w.out" &&
    ok "compaction beside readers says the file was not shrunk" || echo "note: every compaction ran alone"
timeout $TO "$H" check --db "$T/c" >/dev/null 2>&1 && ok "check after the loop" || bad "check after the loop"
timeout $TO "$H" compact --db "$T/c" 2>"$T/cc.err" && ! grep -q "not shrunk" "$T/cc.err" &&
    ok "compaction alone shrinks" || bad "compaction alone: $(cat "$T/cc.err")"

# ---- 3./4. a full disk
if [ "$(id -u)" = 0 ] && mkdir "$T/mnt" && mount -t tmpfs -o size=6m tmpfs "$T/mnt" 2>/dev/null; then
    MNT="$T/mnt"
    "$H" init --db "$MNT/db" --keys "$T/k" 2>/dev/null || bad "init on tmpfs"
    "$H" gen --out "$T/big.npy" --ids 1000 --per-id 20 --dim 32 --seed 8 >/dev/null 2>&1
    "$H" enroll --db "$MNT/db" --keys "$T/k" --in "$T/p.npy" >/dev/null 2>&1 || bad "small enrol on tmpfs"
    # "unchanged" is logical: LMDB may have written pages past the last
    # committed one before the commit failed; the meta pages still name the
    # old tree, so the counts, the check and the scores are those of before.
    logical() {
        "$H" info --db "$MNT/db" --json 2>&1 | sed 's/"file_bytes": *[0-9]*//; s/"data_bytes": *[0-9]*//'
        "$H" search --db "$MNT/db" --keys "$T/k" --probe "$T/p.npy" --query-form full --top 5 2>&1
    }
    before=$(logical)
    timeout $TO "$H" enroll --db "$MNT/db" --keys "$T/k" --in "$T/big.npy" >/dev/null 2>"$T/full.err"; rc=$?
    if [ $rc -eq 1 ] && grep -q "no space left on device" "$T/full.err" && grep -q "$MNT/db" "$T/full.err" &&
       [ "$(wc -l <"$T/full.err")" -eq 1 ]; then ok "full disk: $(cat "$T/full.err")"; else
        bad "full disk enrol: exit $rc: $(cat "$T/full.err")"
    fi
    [ "$(logical)" = "$before" ] && ok "full disk: database unchanged (counts, check, scores)" ||
        bad "full disk changed the database: $(logical | head -3)"
    "$H" check --db "$MNT/db" >/dev/null 2>&1 && ok "full disk: check passes" || bad "full disk: check"
    # fill what is left, then delete + compact: the copy cannot be written
    "$H" delete --db "$MNT/db" --id 0 >/dev/null 2>&1
    dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
    timeout $TO "$H" compact --db "$MNT/db" >"$T/cf.out" 2>"$T/cf.err"; rc=$?
    if [ $rc -eq 0 ] && grep -q "file not shrunk" "$T/cf.err"; then ok "full disk compact: $(cat "$T/cf.err")"
    elif [ $rc -eq 1 ] && grep -q "no space left on device" "$T/cf.err"; then ok "full disk compact refused unchanged"
    else bad "full disk compact: exit $rc: $(cat "$T/cf.err")"; fi
    "$H" check --db "$MNT/db" >/dev/null 2>&1 && ok "full disk compact: check passes" || bad "check after full compact"
    [ ! -e "$MNT/db/compact.tmp" ] && ok "no compact.tmp left" || bad "compact.tmp left behind"
else
    echo "note: full-disk cases skipped (need root to mount a tmpfs)"
fi

[ "$fails" -eq 0 ] && { echo "cli_store_robust: all passed"; exit 0; }
echo "cli_store_robust: $fails failed"; exit 1
