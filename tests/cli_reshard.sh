#!/bin/sh
# cli_reshard.sh - `hers reshard`: a single-node gallery becomes a 3-shard
# cluster gallery, then 3 -> 2 -> 3 -> 2, with the batch search of every layout
# (mpirun -np K hers search --root) giving exactly the single node's scores
# (every template ranked, so no tie can hide a difference); deleted
# templates stay deleted; each shard passes `hers check`; a crash after
# staging keeps the old layout, one after the commit is finished by the next
# run (the cluster refuses the gallery meanwhile), also when it stopped
# between the two renames of a shard's move; a gallery in use by a
# server and bad arguments are refused; a coefficient-packed gallery keeps its
# packing over a reshard. Bounded: every mpirun has a timeout.
# Usage: cli_reshard.sh HERS
set -u
H="$1"
. "$(dirname "$0")/support/mpi_env.sh"
T=$(mktemp -d /tmp/hers-reshard.XXXXXX)
SP=""
cleanup() { [ -n "$SP" ] && kill -9 "$SP" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
G="$T/root/g"

# the first result record's version (HERSRSP v1: 48-byte header, 16 per part)
# and its body kind (HERSRES offset 84: 0 residues, 1 rounded, 2 window)
rec_version() { od -An -tu4 -j72 -N4 "$1" | tr -d ' '; }
rec_body() { od -An -tu1 -j148 -N1 "$1" | tr -d ' '; }
# every (probe, id, score) of a result file, sorted
scores() { # RESULT OUT
    "$H" results decrypt --keys "$T/k" --in "$1" --top 100000 2>/dev/null | cut -f1,3,4 |
        sort > "$2" || fail "decrypt $1"
}
# the scores of gallery GALLERY (default g) searched by query Q (default
# $T/q.hq) on K ranks, one per shard
batch() { # K OUT [GALLERY Q]
    timeout 60 $MPIRUN -np "$1" "$H" search --root "$T/root" --gallery "${3:-g}" \
        --query "${4:-$T/q.hq}" --out "$T/r.hr" >/dev/null 2>"$T/mpi.err" ||
        { cat "$T/mpi.err"; fail "batch search of ${3:-g} on $1 ranks"; }
    scores "$T/r.hr" "$2"
}
shards_ok() { # K
    for s in $(seq 0 $(($1 - 1))); do
        "$H" check --db "$G/shard-$s" >/dev/null 2>&1 || fail "shard $s of $1 fails hers check"
    done
    [ -d "$G/shard-$1" ] && fail "a shard beyond $1 is left"
    [ -e "$G/.reshard-new" ] || [ -e "$G/.reshard-old" ] || [ -e "$G/reshard.commit" ] &&
        fail "staging left behind"
    return 0
}

"$H" keygen --keys "$T/k" 2>/dev/null || fail "keygen"
"$H" gen --out "$T/a.npy" --ids 2100 --per-id 4 --dim 16 --seed 3 >/dev/null || fail "gen"
"$H" gen --out "$T/b.npy" --ids 5 --per-id 3 --dim 16 --seed 4 >/dev/null || fail "gen b"
"$H" gen --out "$T/p.npy" --ids 2 --per-id 2 --dim 16 --seed 5 >/dev/null || fail "gen p"
mkdir -p "$T/root"
# a single-node gallery: 2 enrolments (a partial block after 2 full ones), 2 deletions
"$H" init --db "$G" --keys "$T/k" 2>/dev/null || fail "init"
"$H" enroll --db "$G" --keys "$T/k" --in "$T/a.npy" >/dev/null 2>&1 || fail "enroll a"
awk 'BEGIN { for (i = 0; i < 15; i++) print "b" i }' > "$T/b.txt"
"$H" enroll --db "$G" --keys "$T/k" --in "$T/b.npy" --ids "$T/b.txt" >/dev/null 2>&1 ||
    fail "enroll b"
printf '7\nb3\n' > "$T/del.txt"
"$H" delete --db "$G" --ids "$T/del.txt" 2>/dev/null || fail "delete"
"$H" query encrypt --keys "$T/k" --probe "$T/p.npy" --out "$T/q.hq" 2>/dev/null || fail "encrypt"
"$H" search --db "$G" --query "$T/q.hq" --out "$T/r1.hr" 2>/dev/null || fail "single-node search"
scores "$T/r1.hr" "$T/want"
[ "$(wc -l < "$T/want")" -eq $((4 * 8413)) ] || fail "single-node rows: $(wc -l < "$T/want")"
grep -q "	7	" "$T/want" && fail "a deleted id is searched"

# refused: bad arguments, a gallery in use by a server
"$H" reshard --root "$T/root" --gallery g 2>/dev/null && fail "no --shards accepted"
"$H" reshard --root "$T/root" --gallery g --shards 0 2>/dev/null && fail "0 shards accepted"
"$H" reshard --root "$T/root" --gallery nope --shards 2 2>"$T/err" && fail "missing gallery"
grep -q "neither" "$T/err" || fail "missing gallery message: $(cat "$T/err")"
"$H" token add --tokens "$T/tokens" --gallery '*' --scope admin >/dev/null 2>&1 || fail "token"
"$H" serve --root "$T/root" --listen 127.0.0.1:0 --tokens "$T/tokens" --port-file "$T/port" \
    2>/dev/null & SP=$!
i=0; while [ ! -s "$T/port" ]; do i=$((i + 1)); [ $i -lt 200 ] || fail "serve"; sleep 0.1; done
"$H" reshard --root "$T/root" --gallery g --shards 2 2>"$T/err" && fail "resharded a gallery in use"
grep -q "in use" "$T/err" || fail "in-use message: $(cat "$T/err")"
kill -TERM $SP; wait $SP; SP=""
[ -e "$G/.reshard-new" ] && fail "a refused reshard left its stage"

# single node -> 3 shards
"$H" reshard --root "$T/root" --gallery g --shards 3 --json > "$T/j" 2>/dev/null || fail "reshard 1 -> 3"
grep -q '"templates": 8413,' "$T/j" || fail "moved count: $(cat "$T/j")"
shards_ok 3
[ -e "$G/data.mdb" ] && fail "the single-node database is left"
grep -Eq '"shard_templates": \[(.*, )?0[],]' "$T/j" && fail "an empty shard: $(cat "$T/j")"
batch 3 "$T/got3"; cmp -s "$T/want" "$T/got3" || fail "3 shards: scores differ"

# 3 -> 2, after a crash right after staging (nothing changed) and one right after the commit
"$H" reshard --root "$T/root" --gallery g --shards 2 --stop-after staged 2>/dev/null || fail "staged"
batch 3 "$T/got3b"; cmp -s "$T/want" "$T/got3b" || fail "after an uncommitted reshard"
"$H" reshard --root "$T/root" --gallery g --shards 2 --stop-after committed 2>/dev/null ||
    fail "committed"
timeout 60 $MPIRUN -np 2 "$H" search --root "$T/root" --gallery g --query "$T/q.hq" \
    --out "$T/r.hr" >/dev/null 2>"$T/err" && fail "served a half-finished reshard"
grep -q "hers reshard" "$T/err" || fail "half-finished message: $(cat "$T/err")"
"$H" reshard --root "$T/root" --gallery g --finish 2>/dev/null || fail "finish"
shards_ok 2
batch 2 "$T/got2"; cmp -s "$T/want" "$T/got2" || fail "2 shards: scores differ"

# 2 -> 3, killed between the two renames of an old shard's move out (its tag
# moved aside, its directory not yet): the next run finishes it
"$H" reshard --root "$T/root" --gallery g --shards 3 --stop-after committed 2>/dev/null ||
    fail "committed 2 -> 3"
mkdir -p "$G/.reshard-old" && mv "$G/shard-1.tag" "$G/.reshard-old/" || fail "simulated crash"
"$H" reshard --root "$T/root" --gallery g --finish 2>/dev/null || fail "finish after a move-out crash"
shards_ok 3
batch 3 "$T/got3c"; cmp -s "$T/want" "$T/got3c" || fail "3 shards again: scores differ"
timeout 60 $MPIRUN -np 2 "$H" search --root "$T/root" --gallery g --query "$T/q.hq" \
    --out "$T/r.hr" >/dev/null 2>&1 && fail "2 ranks served 3 shards"

# 3 -> 2, killed between the two renames of a new shard's move in (old shards
# all moved aside, new shard 0's tag in place, its directory still staged)
"$H" reshard --root "$T/root" --gallery g --shards 2 --stop-after committed 2>/dev/null ||
    fail "committed 3 -> 2"
mkdir -p "$G/.reshard-old" || fail "mkdir"
for s in 0 1 2; do
    mv "$G/shard-$s.tag" "$G/shard-$s" "$G/.reshard-old/" || fail "simulated move out $s"
done
mv "$G/.reshard-new/shard-0.tag" "$G/" || fail "simulated move in"
"$H" reshard --root "$T/root" --gallery g --finish 2>/dev/null || fail "finish after a move-in crash"
shards_ok 2
batch 2 "$T/got2b"; cmp -s "$T/want" "$T/got2b" || fail "2 shards again: scores differ"
# a coefficient-packed gallery: the new shards keep the packing and the
# batch search gives the single node's scores
GC="$T/root/gc"
"$H" init --db "$GC" --keys "$T/k" --packing coeff 2>/dev/null || fail "init coeff"
"$H" enroll --db "$GC" --keys "$T/k" --in "$T/a.npy" --scale 125 >/dev/null 2>&1 ||
    fail "enroll coeff"
"$H" query encrypt --keys "$T/k" --probe "$T/p.npy" --scale 125 --out "$T/qc.hq" 2>/dev/null ||
    fail "encrypt coeff"
"$H" search --db "$GC" --query "$T/qc.hq" --out "$T/rc.hr" 2>/dev/null || fail "search coeff"
scores "$T/rc.hr" "$T/wantc"
[ "$(wc -l < "$T/wantc")" -eq $((4 * 8400)) ] || fail "coeff rows: $(wc -l < "$T/wantc")"
"$H" reshard --root "$T/root" --gallery gc --shards 2 2>/dev/null || fail "reshard coeff 1 -> 2"
for s in 0 1; do
    "$H" info --db "$GC/shard-$s" --json 2>/dev/null | grep -q '"packing": "coeff",' ||
        fail "coeff shard $s lost the packing"
done
batch 2 "$T/gotc" gc "$T/qc.hq"
cmp -s "$T/wantc" "$T/gotc" || fail "coeff, 2 shards: scores differ"
# without --result the batch search answers the compact record: version 3,
# the low-bit window at scale 125 (its first shard ends in a padded block)
[ "$(rec_version "$T/r.hr")" = 3 ] && [ "$(rec_body "$T/r.hr")" = 2 ] ||
    fail "coeff batch: record version $(rec_version "$T/r.hr") body $(rec_body "$T/r.hr"), want 3 / 2"
echo "cli_reshard: ok"
