#!/bin/sh
# cli_cluster.sh - the cluster on Open MPI (hers_cluster.h, docs/deploy.md
# "Cluster"): `mpirun --oversubscribe -np 3 hers serve` and the batch
# `mpirun -np 3 hers search --root`, on 127.0.0.1 with ephemeral ports.
# - a 3-rank cluster gives the TSV of one node byte for byte (HTTP: full and
#   compact queries, every result form; batch: the result file decrypted by
#   the ordinary command), over a gallery spread on 3 shards with a partial
#   block, after a delete and a compaction too; HTTP answers HERSRSP
#   version 2 under the cluster's catalog version (X-Hers-Catalog, the joined
#   catalog's ETag, 304, the CLI's catalog cache fetched once, then again
#   after a write); a coefficient-packed gallery (scale 125) likewise;
# - kill -9 of a rank during a search ends the job within 10 s with mpirun's
#   message; restarted, the same answers;
# - kill -9 of a rank during a stream of enrolments: restarted, every
#   acknowledged id is there and `hers check` passes on every shard;
# - --replace of ids held by another shard than the one taking the new
#   block leaves each id on one shard (per-shard counts via `hers info
#   --server`, the TSV of one node);
# - concurrent searches queued together go to the ranks as one broadcast
#   (rank 1 paused while they queue) and answer like one node; SIGUSR2 to
#   mpirun (the supervisor's stop) drains them, though rank 1 stays paused
#   longer than --timeout (a computation is waited for; the answers close
#   their connections), and mpirun exits 0;
# - default ids stay unique over the shards and across a restart;
# - a missing or foreign shard and a wrong rank count are refused at start,
#   naming it;
# - `hers bench cluster` reports every term of docs/scaling.md's model.
# Skipped (exit 0) when hers was built without Open MPI or mpirun is absent.
# Every job started here is stopped here (bounded waits).
# usage: sh cli_cluster.sh path/to/hers
set -u
H="$1"
. "$(dirname "$0")/support/mpi_env.sh"
T=$(mktemp -d /tmp/hers-cluster.XXXXXX)
MP=""
cleanup() { [ -n "$MP" ] && kill -9 "$MP" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/serve.log" ] && tail -8 "$T/serve.log"; exit 1; }

# start_cluster K: background mpirun job serving $T/root, waits for its port
start_cluster() {
    rm -f "$T/port"
    $MPIRUN -np "$1" "$H" serve --root "$T/root" --listen 127.0.0.1:0 --tokens "$T/tokens" \
        --port-file "$T/port" --threads 1 --timeout 5 >/dev/null 2>> "$T/serve.log" &
    MP=$!
    i=0
    while [ ! -s "$T/port" ]; do
        i=$((i + 1)); [ $i -lt 300 ] || fail "cluster did not start"
        kill -0 "$MP" 2>/dev/null || fail "cluster exited at start"
        sleep 0.1
    done
    PORT=$(cat "$T/port")
    R="--server http://127.0.0.1:$PORT --gallery g --token-file $T/admin.tok"
    R0=$(grep -o 'pid [0-9]*' "$T/serve.log" | tail -1 | cut -d' ' -f2)
}
stop_cluster() { # SIGTERM to rank 0: drains, stops every rank, mpirun exits 0
    kill -TERM "$R0"
    i=0
    while kill -0 "$MP" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 300 ] || fail "cluster did not stop on SIGTERM"
        sleep 0.1
    done
    wait "$MP"; st=$?
    MP=""
    [ $st -eq 0 ] || fail "mpirun exit status $st after SIGTERM"
}
# kill9_rank: kill -9 one rank other than 0; mpirun must end within 10 s, non-zero
kill9_rank() {
    victim=$(pgrep -P "$MP" | grep -v "^$R0\$" | head -1)
    [ -n "$victim" ] || fail "no rank to kill"
    kill -9 "$victim"
    i=0
    while kill -0 "$MP" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 100 ] || fail "the job still runs 10 s after kill -9 of a rank"
        sleep 0.1
    done
    wait "$MP"; st=$?
    MP=""
    [ $st -ne 0 ] || fail "mpirun exited 0 after a rank was killed"
    grep -q "exited on signal 9" "$T/serve.log" || fail "no message naming the killed rank"
    # no rank outlives the job
    i=0
    while pgrep -f "serve --root $T/root" >/dev/null; do
        i=$((i + 1)); [ $i -lt 100 ] || fail "a rank outlived the job"
        sleep 0.1
    done
}
ids() { awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) print p i }'; }

# ---- keys, data (9200 templates: blocks of 4096, 4096 and 1008), tokens
"$H" keygen --keys "$T/k" 2>/dev/null || fail "keygen"
mkdir "$T/pub" && cp "$T/k/params.hers" "$T/k/public.key" "$T/k/relin.key" "$T/pub/"
[ -f "$T/k/galois.key" ] && cp "$T/k/galois.key" "$T/pub/"
"$H" gen --out "$T/a.npy" --ids 2300 --per-id 4 --dim 16 --seed 3 >/dev/null || fail "gen"
"$H" gen --out "$T/b.npy" --ids 3 --per-id 3 --dim 16 --seed 4 >/dev/null || fail "gen b"
"$H" gen --out "$T/c.npy" --ids 10 --per-id 4 --dim 16 --seed 6 >/dev/null || fail "gen c"
"$H" gen --out "$T/p.npy" --ids 3 --per-id 2 --dim 16 --seed 5 >/dev/null || fail "gen p"
ids a 9200 > "$T/a.txt"; ids third 9 > "$T/b.txt"
mkdir "$T/root"
(umask 077; "$H" token add --tokens "$T/tokens" --gallery '*' --scope admin > "$T/admin.tok" \
    2>/dev/null) || fail "token add"

# ---- one node, locally
"$H" init --db "$T/local" --keys "$T/pub" 2>/dev/null || fail "init"
"$H" enroll --db "$T/local" --keys "$T/k" --in "$T/a.npy" --ids "$T/a.txt" >/dev/null 2>&1 ||
    fail "enroll"
"$H" enroll --db "$T/local" --public-key-only --in "$T/b.npy" --ids "$T/b.txt" >/dev/null 2>&1 ||
    fail "enroll b"
"$H" search --db "$T/local" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/local.tsv" \
    2>/dev/null || fail "search"
[ "$(wc -l < "$T/local.tsv")" -eq 30 ] || fail "local search rows"

# ---- the same on 3 ranks, through HTTP
start_cluster 3
"$H" init $R --keys "$T/pub" 2>/dev/null || fail "cluster init"
"$H" enroll $R --keys "$T/k" --in "$T/a.npy" --ids "$T/a.txt" >/dev/null 2>&1 ||
    fail "cluster enroll"
"$H" enroll $R --public-key-only --in "$T/b.npy" --ids "$T/b.txt" >/dev/null 2>&1 ||
    fail "cluster third-party enroll"
for s in 0 1 2; do   # spread over every shard
    [ -d "$T/root/g/shard-$s" ] || fail "no shard $s"
    "$H" info --db "$T/root/g/shard-$s" --json > "$T/i$s" 2>/dev/null || fail "info shard $s"
    grep -q '"live": 0[,}]' "$T/i$s" && fail "shard $s holds no template"
done
"$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/remote.tsv" 2>/dev/null ||
    fail "cluster search"
cmp "$T/local.tsv" "$T/remote.tsv" || fail "3-rank TSV differs from one node's"
"$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 --query-form compact \
    > "$T/remote.cq" 2>/dev/null || fail "cluster search, compact query"
cmp "$T/local.tsv" "$T/remote.cq" || fail "3-rank TSV differs (compact query)"
for res in switched compact; do
    "$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 --result $res > "$T/remote.$res" \
        2>/dev/null || fail "cluster search, $res results"
    cmp "$T/local.tsv" "$T/remote.$res" || fail "3-rank TSV differs ($res results)"
done
# a coefficient-packed gallery (hers init --server --packing coeff) at scale
# 125: every shard records coeff, and the compact answers (window records,
# joined over the shards) give the TSV of one node's coeff database
RC="--server http://127.0.0.1:$PORT --gallery gc --token-file $T/admin.tok"
"$H" init --db "$T/localc" --keys "$T/pub" --packing coeff 2>/dev/null || fail "init coeff"
"$H" enroll --db "$T/localc" --keys "$T/k" --in "$T/a.npy" --ids "$T/a.txt" --scale 125 \
    >/dev/null 2>&1 || fail "enroll coeff"
"$H" enroll --db "$T/localc" --public-key-only --in "$T/b.npy" --ids "$T/b.txt" --scale 125 \
    >/dev/null 2>&1 || fail "enroll coeff b"
"$H" search --db "$T/localc" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/localc.tsv" \
    2>/dev/null || fail "search coeff"
"$H" init $RC --keys "$T/pub" --packing coeff 2>/dev/null || fail "cluster init coeff"
"$H" enroll $RC --keys "$T/k" --in "$T/a.npy" --ids "$T/a.txt" --scale 125 >/dev/null 2>&1 ||
    fail "cluster enroll coeff"
"$H" enroll $RC --public-key-only --in "$T/b.npy" --ids "$T/b.txt" --scale 125 >/dev/null 2>&1 ||
    fail "cluster third-party enroll coeff"
for s in 0 1 2; do
    "$H" info --db "$T/root/gc/shard-$s" --json 2>/dev/null | grep -q '"packing": "coeff",' ||
        fail "shard $s of gc is not coeff-packed"
done
"$H" search $RC --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/remotec.tsv" 2>/dev/null ||
    fail "cluster search coeff"
cmp "$T/localc.tsv" "$T/remotec.tsv" || fail "3-rank coeff TSV differs from one node's"
# version 2 (the CLI's default exchange above): the record without the
# catalog, the cluster's catalog version in the header and the record, the
# joined catalog once (ETag, 304 while nothing changed), cached by the CLI
"$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 --catalog-cache "$T/cat.cache" \
    --timing > "$T/remote.cc" 2> "$T/timing" || fail "cluster search, catalog cache"
grep -q "catalog fetched" "$T/timing" || fail "v2: catalog not fetched: $(cat "$T/timing")"
"$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 --catalog-cache "$T/cat.cache" \
    --timing > "$T/remote.cc2" 2> "$T/timing" || fail "cluster search, cached catalog"
grep -q "catalog cached" "$T/timing" || fail "v2: catalog not cached: $(cat "$T/timing")"
cmp "$T/local.tsv" "$T/remote.cc" && cmp "$T/local.tsv" "$T/remote.cc2" ||
    fail "3-rank TSV differs (version 2, catalog cache)"
"$H" query encrypt --keys "$T/k" --probe "$T/p.npy" --out "$T/q2.hq" 2>/dev/null || fail "encrypt"
AUTH="Authorization: Bearer $(cat "$T/admin.tok")"
curl -s -f -D "$T/hdr" -o "$T/v2.hr" -H "$AUTH" --data-binary @"$T/q2.hq" \
    "http://127.0.0.1:$PORT/v1/galleries/g/search?catalog=omit&result=compact" ||
    fail "curl search v2"
[ "$(od -An -tx1 -j8 -N4 "$T/v2.hr" | tr -d ' ')" = 02000000 ] || fail "cluster answered no v2"
cv=$(grep -i '^X-Hers-Catalog:' "$T/hdr" | tr -d '\r' | cut -d' ' -f2)
[ ${#cv} -eq 16 ] || fail "no X-Hers-Catalog header: $(cat "$T/hdr")"
curl -s -f -D "$T/chdr" -o "$T/cat.rec" -H "$AUTH" "http://127.0.0.1:$PORT/v1/galleries/g/catalog" ||
    fail "cluster catalog"
grep -qi "^ETag: \"$cv\"" "$T/chdr" || fail "catalog ETag is not $cv: $(cat "$T/chdr")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" -H "If-None-Match: \"$cv\"" \
    "http://127.0.0.1:$PORT/v1/galleries/g/catalog")
[ "$code" = 304 ] || fail "catalog If-None-Match: $code, expected 304"
"$H" enroll $R --keys "$T/k" --in "$T/b.npy" --ids "$T/b.txt" 2> "$T/err" >/dev/null &&
    fail "an existing id was enrolled twice"
grep -q "exists" "$T/err" || fail "clash message: $(cat "$T/err")"
# --replace of a0..a8 (shard 0) by a block placed on shard 2 (the emptiest):
# the old ones go, no id is on two shards (this duplicated them before)
ids a 9 > "$T/r.txt"
"$H" enroll $R --keys "$T/k" --in "$T/b.npy" --ids "$T/r.txt" --replace >/dev/null 2>&1 ||
    fail "cluster replace"
"$H" enroll --db "$T/local" --keys "$T/k" --in "$T/b.npy" --ids "$T/r.txt" --replace \
    >/dev/null 2>&1 || fail "replace"
"$H" info $R > "$T/info" 2>/dev/null || fail "cluster info"
grep -q "9209 live" "$T/info" || fail "cluster info: $(cat "$T/info")"
# per shard through the server: 4096 - 9 on shard 0, 1008 + 9 + 9 on shard 2
grep -q "^shards  *3$" "$T/info" || fail "info --server: no shard count: $(cat "$T/info")"
grep -q "^shard 0  *4087 live, 4096 slots in 1 blocks" "$T/info" &&
    grep -q "^shard 2  *1026 live, 1026 slots in 1 blocks" "$T/info" ||
    fail "info --server per shard: $(cat "$T/info")"
"$H" info $R --json > "$T/info.json" 2>/dev/null || fail "cluster info --json"
grep -q '"shards": 3, "per_shard": \[{"shard": 0, "live": 4087,' "$T/info.json" ||
    fail "info --server --json: $(cat "$T/info.json")"
# delete (ids on two shards) and compact
printf 'a5\nthird1\n' > "$T/del.txt"
"$H" delete $R --ids "$T/del.txt" 2>/dev/null || fail "cluster delete"
"$H" delete --db "$T/local" --ids "$T/del.txt" 2>/dev/null || fail "delete"
"$H" compact $R >/dev/null 2>&1 || fail "cluster compact"
"$H" search --db "$T/local" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/local.tsv" 2>/dev/null
"$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/remote.tsv" 2>/dev/null ||
    fail "cluster search 2"
cmp "$T/local.tsv" "$T/remote.tsv" || fail "3-rank TSV differs after delete + compact"
"$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 --catalog-cache "$T/cat.cache" \
    --timing > "$T/remote.cc" 2> "$T/timing" || fail "cluster search, stale catalog cache"
grep -q "catalog fetched" "$T/timing" || fail "v2: stale catalog kept: $(cat "$T/timing")"
cmp "$T/local.tsv" "$T/remote.cc" || fail "3-rank TSV differs after delete (catalog cache)"
# concurrent clients, coalesced: rank 1 paused, 4 searches queue on rank 0
# (the first may be on the wire already); SIGUSR2 to mpirun (forwarded to
# every rank) stops accepting; resumed, they are answered, the job drains
# and mpirun exits 0
"$H" query encrypt --keys "$T/k" --probe "$T/p.npy" --out "$T/q.hq" 2>/dev/null || fail "encrypt"
R1=$(pgrep -P "$MP" | grep -v "^$R0\$" | head -1)
kill -STOP "$R1"
CP=""
for c in 1 2 3 4; do
    curl -sS -f -o "$T/cc$c.hr" -D "$T/cc$c.hdr" -H "Authorization: Bearer $(cat "$T/admin.tok")" \
        --data-binary @"$T/q.hq" "http://127.0.0.1:$PORT/v1/galleries/g/search" \
        2> "$T/cc$c.err" &
    CP="$CP $!"
done
# wait until the 4 requests are sent whole (client sockets to the port,
# established, nothing left unsent) and rank 0 has accepted them (its
# listening socket's accept queue, rx_queue of the LISTEN row, is empty:
# a connection still queued there when SIGUSR2 closes it is reset), from
# /proc/net/tcp, before stopping
hp=$(printf '%04X' "$PORT")
i=0
while [ "$(awk -v p=":$hp" '$3 ~ p"$" && $4 == "01" { split($5, q, ":");
        if (q[1] == "00000000") c++ }
        $2 ~ p"$" && $4 == "0A" { split($5, q, ":"); if (q[2] != "00000000") w = 1 }
        END { print w ? 0 : c + 0 }' /proc/net/tcp)" -lt 4 ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "the concurrent searches did not reach rank 0"
    sleep 0.1
done
sleep 1
kill -USR2 "$MP"
# rank 1 stays paused longer than --timeout 5: the drain waits for searches
# received whole however long they compute (the timeout bounds client
# idleness, not server work; a drain cut at the timeout gave empty replies)
sleep 6
kill -CONT "$R1"
c=0
for p in $CP; do
    c=$((c + 1))
    wait "$p" || fail "search $c in flight at SIGUSR2 was not answered (curl exit $?: $(cat "$T/cc$c.err"))"
done
i=0
while kill -0 "$MP" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "cluster did not stop on SIGUSR2 to mpirun"
    sleep 0.1
done
wait "$MP" || fail "mpirun exit status $? after SIGUSR2"
MP=""
pgrep -f "serve --root $T/root" >/dev/null && fail "a rank outlived the job"
for c in 1 2 3 4; do
    "$H" results decrypt --keys "$T/k" --in "$T/cc$c.hr" --top 5 > "$T/cc$c.tsv" 2>/dev/null ||
        fail "decrypt concurrent answer $c"
    cmp "$T/local.tsv" "$T/cc$c.tsv" || fail "concurrent (coalesced) TSV $c differs from one node's"
    # answered while stopping: the connection closes (no keep-alive request
    # can prolong the drain)
    tr -d '\r' < "$T/cc$c.hdr" | grep -qi '^connection: close$' ||
        fail "answer $c during the drain without Connection: close: $(cat "$T/cc$c.hdr")"
done
counts=$(grep -o "stopped ([0-9]* searches in [0-9]* broadcasts)" "$T/serve.log" | tail -1)
s_n=$(echo "$counts" | cut -d' ' -f2 | tr -d '('); b_n=$(echo "$counts" | cut -d' ' -f5)
[ -n "$s_n" ] && [ $((s_n - b_n)) -ge 2 ] || fail "queued searches were not coalesced: $counts"
echo "coalesced: $counts"

# ---- batch mode: the result file, decrypted by the ordinary command
timeout 60 $MPIRUN -np 3 "$H" search --root "$T/root" --gallery g --query "$T/q.hq" \
    --out "$T/r.hr" 2>/dev/null || fail "batch search"
"$H" results decrypt --keys "$T/k" --in "$T/r.hr" --top 5 > "$T/batch.tsv" 2>/dev/null ||
    fail "results decrypt"
cmp "$T/local.tsv" "$T/batch.tsv" || fail "batch TSV differs from one node's"
# without --result: the compact record (slot: version 2) where the margin
# allows, as the remote client chooses; --result full: version 1, same TSV
rec_version() { od -An -tu4 -j72 -N4 "$1" | tr -d ' '; }
[ "$(rec_version "$T/r.hr")" = 2 ] || fail "batch record version $(rec_version "$T/r.hr"), want 2"
timeout 60 $MPIRUN -np 3 "$H" search --root "$T/root" --gallery g --query "$T/q.hq" \
    --out "$T/rf.hr" --result full 2>/dev/null || fail "batch search, full"
[ "$(rec_version "$T/rf.hr")" = 1 ] || fail "batch --result full: version $(rec_version "$T/rf.hr")"
"$H" results decrypt --keys "$T/k" --in "$T/rf.hr" --top 5 > "$T/batchf.tsv" 2>/dev/null ||
    fail "results decrypt (full)"
cmp "$T/local.tsv" "$T/batchf.tsv" || fail "batch TSV (full) differs from one node's"

# ---- kill -9 of a rank during a search; restart: the same answers
start_cluster 3
("$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 >/dev/null 2>&1; \
 "$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 >/dev/null 2>&1) &
CL=$!
sleep 0.3
kill9_rank
wait $CL
start_cluster 3
"$H" search $R --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/remote.tsv" 2>/dev/null ||
    fail "search after restart"
cmp "$T/local.tsv" "$T/remote.tsv" || fail "TSV differs after a rank was killed in a search"

# ---- kill -9 of a rank during enrolments: every acknowledged one survives
: > "$T/acked"
(i=0
 while [ $i -lt 40 ]; do
     ids "e${i}_" 40 > "$T/e$i.txt"
     "$H" enroll $R --keys "$T/k" --in "$T/c.npy" --ids "$T/e$i.txt" --request-file "$T/e$i.req" \
         >/dev/null 2>&1 || break
     cat "$T/e$i.txt" >> "$T/acked"
     i=$((i + 1))
 done) &
CL=$!
i=0
while [ "$(wc -l < "$T/acked")" -lt 120 ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "enrolments not acknowledged"
    sleep 0.1
done
kill9_rank
wait $CL
n_acked=$(wc -l < "$T/acked")
for s in 0 1 2; do
    "$H" check --db "$T/root/g/shard-$s" >/dev/null 2>&1 || fail "hers check on shard $s"
done
start_cluster 3
# the request in flight (maybe committed on some shards): re-sent, it applies once
live0=$(( 9207 + n_acked ))
inflight=$(ls "$T"/e*.req 2>/dev/null | head -1)
if [ -n "$inflight" ]; then
    i=$(basename "$inflight" .req | cut -c2-)
    cp "$inflight" "$T/keep.req"
    "$H" enroll $R --keys "$T/k" --in "$T/c.npy" --ids "$T/e$i.txt" --request-file "$inflight" \
        >/dev/null 2> "$T/err" || fail "retry of the request in flight: $(cat "$T/err")"
    [ -f "$inflight" ] && fail "the request file stays after it was acknowledged"
    cat "$T/e$i.txt" >> "$T/acked"
    live0=$((live0 + 40))
    # the same bytes once more: answered from the journal, applied nothing
    cp "$T/keep.req" "$inflight"
    "$H" enroll $R --keys "$T/k" --in "$T/c.npy" --ids "$T/e$i.txt" --request-file "$inflight" \
        > "$T/out" 2> "$T/err" || fail "replay of an acknowledged request: $(cat "$T/err")"
    grep -q "enrolled 40 templates" "$T/out" || fail "replay answer: $(cat "$T/out")"
    echo "kill during enrolment: request e$i re-sent and replayed"
fi
"$H" info $R --json > "$T/info" 2>/dev/null || fail "info after restart"
grep -q "\"live\": $live0," "$T/info" || fail "live count after restart, expected $live0: $(cat "$T/info")"
# delete refuses unknown ids (nothing deleted): so every acknowledged id is there
"$H" delete $R --ids "$T/acked" 2> "$T/err" >/dev/null ||
    fail "an acknowledged template is missing after restart: $(cat "$T/err")"
echo "kill during enrolment: $n_acked acknowledged, all there"
# default ids: two enrolments into one shard's block, a restart, one more:
# no clash (ids came from the shards' layout before and repeated)
for n in 1 2 r; do
    [ $n = r ] && { stop_cluster; start_cluster 3; }
    "$H" enroll $R --keys "$T/k" --in "$T/c.npy" >/dev/null 2> "$T/err" ||
        fail "default ids ($n): $(cat "$T/err")"
done
"$H" info $R --json > "$T/info" 2>/dev/null || fail "info after default ids"
live1=$((live0 - $(wc -l < "$T/acked") + 120))
grep -q "\"live\": $live1," "$T/info" ||
    fail "default ids: live count, expected $live1: $(cat "$T/info")"
stop_cluster
# hers info --root: the shards from this disk
"$H" info --root "$T/root" --gallery g --json > "$T/sinfo" 2>/dev/null || fail "info --root"
grep -q '"shards": 3' "$T/sinfo" || fail "info --root: $(cat "$T/sinfo")"
[ "$(grep -o '"shard": [0-9]' "$T/sinfo" | wc -l)" -eq 3 ] || fail "info --root per shard"

# ---- refused at start: wrong rank count, a missing shard, a foreign shard
$MPIRUN -np 2 "$H" serve --root "$T/root" --listen 127.0.0.1:0 --tokens "$T/tokens" \
    --threads 1 > /dev/null 2> "$T/err" && fail "2 ranks served a 3-shard gallery"
grep -q "gallery g: 3 shards on disk, this job has 2 ranks" "$T/err" || fail "rank count message: $(cat "$T/err")"
mv "$T/root/g/shard-2" "$T/shard-2"
$MPIRUN -np 3 "$H" serve --root "$T/root" --listen 127.0.0.1:0 --tokens "$T/tokens" \
    --threads 1 > /dev/null 2> "$T/err" && fail "a missing shard was served"
grep -q "shard 2 of 3 is missing" "$T/err" || fail "missing shard message: $(cat "$T/err")"
mv "$T/shard-2" "$T/root/g/shard-2"
sed -i "s/^uuid .*/uuid 00000000000000000000000000000000/" "$T/root/g/shard-1.tag"
$MPIRUN -np 3 "$H" serve --root "$T/root" --listen 127.0.0.1:0 --tokens "$T/tokens" \
    --threads 1 > /dev/null 2> "$T/err" && fail "a foreign shard was served"
grep -q "shard 1 (.*) belongs to another gallery" "$T/err" ||
    fail "foreign shard message: $(cat "$T/err")"
# ---- hers bench cluster: every reported term present, one rank per shard
timeout 120 $MPIRUN -np 2 "$H" bench cluster --n 4200 --d 8 --reps 2 --root "$T" --json \
    > "$T/bench.json" 2> "$T/err" || fail "bench cluster: $(cat "$T/err")"
for k in '"ranks": 2' '"rank": 1, "templates": 104' scan_ns_per_template_dim cpu_s broadcast_s \
    broadcast_bytes gather_s gather_bytes latency_s; do
    grep -q "$k" "$T/bench.json" || fail "bench cluster lacks $k: $(cat "$T/bench.json")"
done
echo "cli_cluster: ok"
