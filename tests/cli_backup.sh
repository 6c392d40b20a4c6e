#!/bin/sh
# cli_backup.sh - backups of a gallery database in use: docs/deploy.md's
# shell recipe (mdb_copy -c of data.mdb first, then cp --sparse=always of
# segments.dat, then hers check) and `hers backup` (a dense copy), each taken while another
# process holds the database open (a search that opened it and waits on a fifo for its probe) and after
# a compaction punched holes into segments.dat; each copy, restored
# elsewhere, passes `hers check` and gives byte-identical search output;
# a backup taken during enrolments holds every enrolment acknowledged before
# it began. The recipe's half is skipped (with a message) only without
# mdb_copy (Debian's lmdb-utils, installed by scripts/setup-deps).
# usage: sh cli_backup.sh path/to/hers
set -u
H="$1"
T=$(mktemp -d /tmp/hers_cli_backup.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
D=16

"$H" keygen --keys "$T/k" 2>/dev/null || fail "keygen"
mkdir "$T/pub" && cp "$T/k/params.hers" "$T/k/public.key" "$T/pub/"
"$H" gen --out "$T/a.npy" --ids 40 --per-id 10 --dim $D --seed 5 >/dev/null || fail "gen a"
"$H" gen --out "$T/b.npy" --ids 30 --per-id 10 --dim $D --seed 6 >/dev/null || fail "gen b"
"$H" gen --out "$T/c.npy" --ids 20 --per-id 10 --dim $D --seed 7 >/dev/null || fail "gen c"
"$H" gen --out "$T/p.npy" --ids 3 --per-id 1 --dim $D --seed 5 >/dev/null || fail "gen probes"
awk 'BEGIN { for (i = 0; i < 400; i++) print "a" i }' > "$T/a.txt"
awk 'BEGIN { for (i = 0; i < 300; i++) print "b" i }' > "$T/b.txt"
awk 'BEGIN { for (i = 0; i < 200; i++) print "c" i }' > "$T/c.txt"

# ---- a database with three segments; the middle one deleted and compacted
# away without keys (its payload becomes a hole in segments.dat)
"$H" init --db "$T/db" --keys "$T/pub" 2>/dev/null || fail "init"
for x in a b c; do
    "$H" enroll --db "$T/db" --keys "$T/k" --in "$T/$x.npy" --ids "$T/$x.txt" >/dev/null 2>&1 ||
        fail "enroll $x"
done
"$H" delete --db "$T/db" --ids "$T/b.txt" 2>/dev/null || fail "delete b"
"$H" compact --db "$T/db" > "$T/compact.out" 2>&1 || fail "compact: $(cat "$T/compact.out")"
"$H" check --db "$T/db" 2>/dev/null || fail "check"
"$H" search --db "$T/db" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/want.tsv" || fail "search"
[ -s "$T/want.tsv" ] || fail "empty search output"
blocks() { du -k "$1" | cut -f1; }
size() { wc -c < "$1"; }
[ "$(blocks "$T/db/segments.dat")" -lt $(( $(size "$T/db/segments.dat") / 1024 )) ] ||
    echo "note: no hole in segments.dat (file system without hole punching)"

# A reader in another process: a search that opened the database and waits
# for its probe on a fifo (released at the end of each half).
reader() {
    rm -f "$T/fifo" && mkfifo "$T/fifo" || fail "mkfifo"
    "$H" search --db "$T/db" --keys "$T/k" --probe "$T/fifo" --top 5 > "$T/reader.tsv" 2>&1 &
    RPID=$!
    PIDS="$PIDS $RPID"
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        ls -l /proc/$RPID/fd 2>/dev/null | grep -q "db/data.mdb" && return 0
        sleep 0.2
    done
    fail "the reader did not open the database"
}
release() {   # (the search then refuses the fifo: it only had to hold the database open)
    : > "$T/fifo"
    wait "$RPID"
    [ $? -lt 128 ] || fail "the reader crashed: $(cat "$T/reader.tsv")"
    "$H" search --db "$T/db" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/now.tsv" &&
        cmp -s "$T/now.tsv" "$T/want.tsv" || fail "the database changed under the backup"
}
# restore: the copy moved to a new place, checked, searched byte-identically
restored() { # backup-dir label
    mv "$1" "$T/restored" || fail "$2: move"
    "$H" check --db "$T/restored" 2>/dev/null || fail "$2: check of the restored copy"
    "$H" search --db "$T/restored" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/got.tsv" ||
        fail "$2: search of the restored copy"
    cmp -s "$T/got.tsv" "$T/want.tsv" || fail "$2: search output differs"
    "$H" info --db "$T/restored" --json | grep -q '"live": 600,' || fail "$2: live count"
    # the restored copy is a working database: it takes enrolments
    "$H" enroll --db "$T/restored" --keys "$T/k" --in "$T/b.npy" --ids "$T/b.txt" >/dev/null 2>&1 ||
        fail "$2: enrol into the restored copy"
    "$H" check --db "$T/restored" 2>/dev/null || fail "$2: check after enrolling"
    rm -rf "$T/restored"
}

# ---- 1. docs/deploy.md's recipe, beside the open reader
if command -v mdb_copy >/dev/null 2>&1; then
    reader
    G="$T/db" B="$T/bk1"
    mkdir "$B" && mdb_copy -c "$G" "$B" && cp --sparse=always "$G/segments.dat" "$B/" &&
        "$H" check --db "$B" 2>/dev/null || fail "deploy.md recipe"
    [ "$(blocks "$B/segments.dat")" -le "$(blocks "$G/segments.dat")" ] ||
        fail "recipe: the copy lost the holes"
    release
    restored "$T/bk1" recipe
    echo "ok: deploy.md recipe (mdb_copy -c, cp --sparse=always, hers check)"
else
    echo "SKIP: deploy.md recipe: mdb_copy not installed (Debian lmdb-utils; scripts/setup-deps)"
fi

# ---- 2. hers backup, beside the open reader
reader
"$H" backup --db "$T/db" --out "$T/bk2" 2> "$T/bk.err" || fail "hers backup: $(cat "$T/bk.err")"
grep -q "check ok" "$T/bk.err" || fail "backup did not check the copy: $(cat "$T/bk.err")"
# dense: only the live records, at new offsets (the source keeps its holes)
[ "$(size "$T/bk2/segments.dat")" -lt "$(size "$T/db/segments.dat")" ] ||
    fail "hers backup: the copy is not dense ($(size "$T/bk2/segments.dat") bytes)"
[ "$(blocks "$T/bk2/segments.dat")" -le "$(blocks "$T/db/segments.dat")" ] ||
    fail "hers backup: the copy takes more blocks"
release
restored "$T/bk2" "hers backup"
echo "ok: hers backup beside a reader, restored, checked, same search output"

# ---- a dead writer's uncommitted tail past the committed end is not copied
head -c 10000 /dev/urandom >> "$T/db/segments.dat"
"$H" backup --db "$T/db" --out "$T/bk6" 2> "$T/bk.err" || fail "backup with a tail: $(cat "$T/bk.err")"
pend=$(sed -n 's/.*payloads \([0-9]*\) bytes.*/\1/p' "$T/bk.err")
[ -n "$pend" ] && [ "$(size "$T/bk6/segments.dat")" -eq "$pend" ] &&
    [ "$pend" -lt "$(size "$T/db/segments.dat")" ] || fail "tail copied: $(cat "$T/bk.err")"
restored "$T/bk6" "tail"
echo "ok: an uncommitted tail is left out"

# ---- a database of the old format (payloads inside data.mdb): data.mdb alone
"$H" init --db "$T/old" --keys "$T/pub" 2>/dev/null || fail "init old"
HERS_STORE_PAYLOADS=lmdb "$H" enroll --db "$T/old" --keys "$T/k" --in "$T/a.npy" --ids "$T/a.txt" \
    >/dev/null 2>&1 || fail "enroll old format"
[ -e "$T/old/segments.dat" ] && fail "old format wrote segments.dat"
"$H" search --db "$T/old" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/want_old.tsv" || fail "search old"
"$H" backup --db "$T/old" --out "$T/bk7" 2> "$T/bk.err" || fail "backup old format: $(cat "$T/bk.err")"
[ -e "$T/bk7/segments.dat" ] && fail "backup of the old format made segments.dat"
"$H" search --db "$T/bk7" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/got.tsv" &&
    cmp -s "$T/got.tsv" "$T/want_old.tsv" || fail "old format: search output differs"
echo "ok: old format (payloads inside data.mdb)"

# ---- 3. errors: one line, nothing written
mkdir "$T/full" && echo x > "$T/full/f"
"$H" backup --db "$T/db" --out "$T/full" > /dev/null 2> "$T/err" && fail "backup into a non-empty directory"
[ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "not empty" "$T/err" || fail "message: $(cat "$T/err")"
[ "$(ls "$T/full")" = f ] || fail "wrote into a non-empty directory"
"$H" backup --db "$T/nodb" --out "$T/bk3" > /dev/null 2> "$T/err" && fail "backup of no database"
[ "$(wc -l < "$T/err")" -eq 1 ] || fail "message: $(cat "$T/err")"
cp -r "$T/db" "$T/trunc" && rm -f "$T/trunc/lock.mdb" &&
    truncate -s 4096 "$T/trunc/segments.dat" || fail "truncated copy"
"$H" backup --db "$T/trunc" --out "$T/bk4" > /dev/null 2> "$T/err" && fail "backup of a truncated file"
[ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "truncated" "$T/err" || fail "message: $(cat "$T/err")"
echo "ok: errors"

# ---- 4. during enrolments: the copy holds every enrolment acknowledged
# before the backup began and passes check
(
    i=0
    while [ $i -lt 6 ]; do
        awk -v p="e$i-" 'BEGIN { for (j = 0; j < 200; j++) print p j }' > "$T/e$i.txt"
        "$H" enroll --db "$T/db" --keys "$T/k" --in "$T/c.npy" --ids "$T/e$i.txt" >/dev/null 2>&1 ||
            exit 1
        echo "$i" >> "$T/acked"
        i=$((i + 1))
    done
) &
EPID=$!
PIDS="$PIDS $EPID"
while [ ! -s "$T/acked" ]; do sleep 0.05; done
acked=$(tail -1 "$T/acked")
"$H" backup --db "$T/db" --out "$T/bk5" 2> "$T/bk.err" || fail "backup during enrolments: $(cat "$T/bk.err")"
wait "$EPID" || fail "enrolments beside the backup"
"$H" search --db "$T/bk5" --keys "$T/k" --probe "$T/p.npy" --top 1 >/dev/null 2>&1 ||
    fail "search of the copy"
"$H" info --db "$T/bk5" --json > "$T/i.json" || fail "info"
live=$(sed -n 's/.*"live": \([0-9]*\),.*/\1/p' "$T/i.json")
[ "$live" -ge $((600 + 200 * (acked + 1))) ] || fail "copy lost acknowledged enrolments: live $live, acked $acked"
[ $(( (live - 600) % 200 )) -eq 0 ] || fail "copy holds a partial enrolment: live $live"
echo "ok: backup during enrolments (live $live, >= $((600 + 200 * (acked + 1))))"
echo "cli_backup: all ok"
