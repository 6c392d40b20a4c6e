#!/bin/sh
# cli_serve.sh - `hers serve` and the client from the CLI, on 127.0.0.1 with
# ephemeral ports: the two parties' commands give the TSV of the local
# `hers search --db` byte for byte (key holder and third-party enrolment,
# delete, compact, restart); the protocol over files; SIGHUP reloads the
# tokens; SIGTERM drains and exits 0; kill -9 during a stream of enrolments
# loses no acknowledged template and `hers check` passes; HTTPS with a
# certificate made here (certtool), a wrong CA refused; a stalled client cut
# off by --timeout, also at SIGTERM; plain HTTP refused
# off loopback; every served route is in docs/api.md's OpenAPI document.
# Every server started here is stopped here (bounded waits).
# usage: sh cli_serve.sh path/to/hers
set -u
H="$1"
DOCS="$(dirname "$0")/../docs"
T=$(mktemp -d)
SPID=""
cleanup() { [ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/serve.log" ] && tail -5 "$T/serve.log"; exit 1; }

# start_server [extra options...]: background server, waits for its port
start_server() {
    rm -f "$T/port"
    "$H" serve --root "$T/root" --listen 127.0.0.1:0 --tokens "$T/tokens" --port-file "$T/port" \
        --threads 1 --timeout "${TIMEOUT:-5}" "$@" 2>> "$T/serve.log" &
    SPID=$!
    i=0
    while [ ! -s "$T/port" ]; do
        i=$((i + 1)); [ $i -lt 100 ] || fail "server did not start"
        kill -0 "$SPID" 2>/dev/null || fail "server exited at start"
        sleep 0.1
    done
    PORT=$(cat "$T/port")
}
stop_server() { # SIGTERM: must drain and exit 0 within 20 s
    kill -TERM "$SPID"
    i=0
    while kill -0 "$SPID" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 200 ] || fail "server did not stop on SIGTERM"
        sleep 0.1
    done
    wait "$SPID"; st=$?
    SPID=""
    [ $st -eq 0 ] || fail "server exit status $st after SIGTERM"
}

# ---- the OpenAPI document names every served route
"$H" serve --routes > "$T/routes" || fail "serve --routes"
[ "$(wc -l < "$T/routes")" -ge 10 ] || fail "too few routes"
while read -r method path; do
    m=$(echo "$method" | tr 'A-Z' 'a-z')
    # the path as a key of "paths", then the method under it before the next path
    awk -v p="  $path:" -v m="    $m:" '
        $0 == p { inp = 1; next }
        inp && /^  [^ ]/ { inp = 0 }
        inp && $0 == m { found = 1 }
        END { exit !found }' "$DOCS/api.md" || fail "route '$method $path' is not in docs/api.md"
done < "$T/routes"

# ---- keys, data, tokens
"$H" keygen --keys "$T/k" 2>/dev/null || fail "keygen"
mkdir "$T/pub" && cp "$T/k/params.hers" "$T/k/public.key" "$T/pub/"
# the Galois keys (public) let both sides use compact queries (--query-form auto)
[ -f "$T/k/galois.key" ] && cp "$T/k/galois.key" "$T/pub/"
cp "$T/k/relin.key" "$T/pub/"   # relinearized and compact results
"$H" gen --out "$T/a.npy" --ids 30 --per-id 4 --dim 16 --seed 3 >/dev/null || fail "gen"
"$H" gen --out "$T/b.npy" --ids 3 --per-id 3 --dim 16 --seed 4 >/dev/null || fail "gen b"
"$H" gen --out "$T/p.npy" --ids 3 --per-id 2 --dim 16 --seed 5 >/dev/null || fail "gen p"
awk 'BEGIN { for (i = 0; i < 9; i++) print "third" i }' > "$T/b.txt"
mkdir "$T/root"
(umask 077
 "$H" token add --tokens "$T/tokens" --gallery '*' --scope admin > "$T/admin.tok" 2>/dev/null &&
 "$H" token add --tokens "$T/tokens" --gallery g --scope enroll > "$T/enroll.tok" 2>/dev/null &&
 "$H" token add --tokens "$T/tokens" --gallery g --scope search > "$T/search.tok" 2>/dev/null) ||
    fail "token add"
grep -q "$(cut -c6- "$T/admin.tok")" "$T/tokens" && fail "the token file holds a token"

start_server --log json
R="--server http://127.0.0.1:$PORT --gallery g"
"$H" init $R --token-file "$T/admin.tok" --keys "$T/pub" 2>/dev/null || fail "remote init"
"$H" enroll $R --token-file "$T/enroll.tok" --keys "$T/k" --in "$T/a.npy" > "$T/e1" 2>/dev/null ||
    fail "remote enroll"
grep -q "^enrolled 120 templates into g: slots 0..119$" "$T/e1" || fail "enroll output: $(cat "$T/e1")"
"$H" enroll $R --token-file "$T/enroll.tok" --public-key-only --in "$T/b.npy" --ids "$T/b.txt" \
    > /dev/null 2>&1 || fail "remote third-party enroll"
"$H" search $R --token-file "$T/search.tok" --keys "$T/k" --probe "$T/p.npy" --top 5 \
    > "$T/remote.tsv" 2>/dev/null || fail "remote search"
# the same steps locally
"$H" init --db "$T/local" --keys "$T/pub" 2>/dev/null || fail "init"
"$H" enroll --db "$T/local" --keys "$T/k" --in "$T/a.npy" >/dev/null 2>&1 || fail "enroll"
"$H" enroll --db "$T/local" --public-key-only --in "$T/b.npy" --ids "$T/b.txt" >/dev/null 2>&1 ||
    fail "enroll b"
"$H" search --db "$T/local" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/local.tsv" 2>/dev/null ||
    fail "search"
[ "$(wc -l < "$T/local.tsv")" -eq 30 ] || fail "local search rows"
cmp "$T/local.tsv" "$T/remote.tsv" || fail "remote TSV differs from the local one"
for form in full compact; do
    "$H" search $R --token-file "$T/search.tok" --keys "$T/k" --probe "$T/p.npy" --top 5 \
        --query-form $form > "$T/remote.$form" 2>/dev/null || fail "remote search, $form query"
    cmp "$T/local.tsv" "$T/remote.$form" || fail "remote TSV differs ($form query)"
done
for res in switched relinearized compact; do
    "$H" search $R --token-file "$T/search.tok" --keys "$T/k" --probe "$T/p.npy" --top 5 \
        --result $res > "$T/remote.$res" 2>/dev/null || fail "remote search, $res results"
    cmp "$T/local.tsv" "$T/remote.$res" || fail "remote TSV differs ($res results)"
done
# the catalog cache: fetched by the first run, reused while the gallery is unchanged
CC="--catalog-cache $T/cat.cache"
for run in fetched cached; do
    "$H" search $R $CC --timing --token-file "$T/search.tok" --keys "$T/k" --probe "$T/p.npy" \
        --top 5 > "$T/remote.cc" 2> "$T/cc.err" || fail "remote search with $CC"
    cmp "$T/local.tsv" "$T/remote.cc" || fail "remote TSV differs (catalog $run)"
    grep -q "catalog $run" "$T/cc.err" || fail "catalog not $run: $(cat "$T/cc.err")"
done
[ "$(stat -c %a "$T/cat.cache")" = 600 ] || fail "catalog cache mode"
printf 'HERSCAT\0garbage' > "$T/bad.cache"   # a damaged cache is replaced, never trusted
"$H" search $R --catalog-cache "$T/bad.cache" --token-file "$T/search.tok" --keys "$T/k" \
    --probe "$T/p.npy" --top 5 > "$T/remote.cc" 2> "$T/cc.err" || fail "search, damaged cache"
cmp "$T/local.tsv" "$T/remote.cc" && grep -q "ignored" "$T/cc.err" || fail "damaged cache"
# wrong scope and a missing token give one error line each
"$H" search $R --token-file "$T/enroll.tok" --keys "$T/k" --probe "$T/p.npy" 2> "$T/err" >/dev/null &&
    fail "search with an enrol token"
grep -q "HTTP 403" "$T/err" || fail "403 message: $(cat "$T/err")"
# delete, then compact: same as local again
"$H" delete $R --token-file "$T/enroll.tok" --id third1 2>/dev/null || fail "remote delete"
"$H" delete --db "$T/local" --id third1 2>/dev/null || fail "delete"
"$H" compact $R --token-file "$T/admin.tok" 2>/dev/null || fail "remote compact"
"$H" search $R --token-file "$T/search.tok" --keys "$T/k" --probe "$T/p.npy" --top 5 \
    > "$T/remote.tsv" 2>/dev/null || fail "remote search 2"
"$H" search --db "$T/local" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/local.tsv" 2>/dev/null
cmp "$T/local.tsv" "$T/remote.tsv" || fail "TSV differs after delete + compact"
"$H" search $R $CC --timing --token-file "$T/search.tok" --keys "$T/k" --probe "$T/p.npy" \
    --top 5 > "$T/remote.cc" 2> "$T/cc.err" || fail "remote search with a stale cache"
cmp "$T/local.tsv" "$T/remote.cc" || fail "TSV differs (stale catalog cache)"
grep -q "catalog fetched" "$T/cc.err" || fail "a stale cache was used: $(cat "$T/cc.err")"
grep -q third1 "$T/remote.tsv" && fail "a deleted template was returned"
"$H" info $R --token-file "$T/search.tok" > "$T/info" || fail "remote info"
grep -q "^templates     128 live" "$T/info" || fail "remote info: $(cat "$T/info")"
# a coefficient-packed gallery (hers init --packing coeff): the TSV of the
# local coeff database byte for byte, and a smaller compact download than
# the same templates slot-packed (window record, docs/design.md)
A="--token-file $T/admin.tok"
for pk in coeff slot; do
    RP="--server http://127.0.0.1:$PORT --gallery g$pk"
    "$H" init $RP $A --keys "$T/pub" --packing $pk 2>/dev/null || fail "remote init $pk"
    "$H" enroll $RP $A --keys "$T/k" --in "$T/a.npy" --scale 125 >/dev/null 2>&1 ||
        fail "remote enroll $pk"
    "$H" enroll $RP $A --public-key-only --in "$T/b.npy" --ids "$T/b.txt" >/dev/null 2>&1 ||
        fail "remote third-party enroll $pk"
    "$H" search $RP $A --keys "$T/k" --probe "$T/p.npy" --top 5 --result compact --timing \
        > "$T/remote.$pk" 2> "$T/timing.$pk" || fail "remote search $pk"
    "$H" init --db "$T/l$pk" --keys "$T/pub" --packing $pk 2>/dev/null || fail "init $pk"
    "$H" enroll --db "$T/l$pk" --keys "$T/k" --in "$T/a.npy" --scale 125 >/dev/null 2>&1 ||
        fail "enroll $pk"
    "$H" enroll --db "$T/l$pk" --public-key-only --in "$T/b.npy" --ids "$T/b.txt" >/dev/null 2>&1 ||
        fail "enroll b $pk"
    "$H" search --db "$T/l$pk" --keys "$T/k" --probe "$T/p.npy" --top 5 > "$T/local.$pk" \
        2>/dev/null || fail "search $pk"
    cmp "$T/local.$pk" "$T/remote.$pk" || fail "remote TSV differs from the local one ($pk packing)"
done
cmp "$T/local.coeff" "$T/local.slot" || fail "coeff and slot packing rank differently"
down() { sed -n 's/.* bytes up, \([0-9]*\) down.*/\1/p' "$1"; }
[ -n "$(down "$T/timing.coeff")" ] && [ "$(down "$T/timing.coeff")" -lt "$(down "$T/timing.slot")" ] ||
    fail "coeff download $(down "$T/timing.coeff") not below slot's $(down "$T/timing.slot")"
"$H" enroll --server "http://127.0.0.1:$PORT" --gallery gcoeff $A --keys "$T/k" --in "$T/b.npy" \
    --packing slot > /dev/null 2> "$T/err" && fail "a conflicting --packing was accepted"
grep -q "coeff-packed, --packing says slot" "$T/err" || fail "packing conflict: $(cat "$T/err")"
"$H" init --server "http://127.0.0.1:$PORT" --gallery gx $A --keys "$T/pub" --packing rows \
    2> "$T/err" >/dev/null && fail "an unknown packing was accepted"
# SIGHUP: a token added while running works after the reload
(umask 077; "$H" token add --tokens "$T/tokens" --gallery g --scope search > "$T/new.tok" 2>/dev/null)
kill -HUP "$SPID"
i=0   # the reload is asynchronous: bounded retries
until "$H" info $R --token-file "$T/new.tok" > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 50 ] || fail "new token after SIGHUP"
    sleep 0.2
done
grep -q '"route": "POST /v1/galleries/{name}/search", "gallery": "g", "status": 200' "$T/serve.log" ||
    fail "no JSON request log"
stop_server

# ---- restart: the same answers; the local tools work on the stopped server's database
start_server
R="--server http://127.0.0.1:$PORT --gallery g"
"$H" search $R --token-file "$T/search.tok" --keys "$T/k" --probe "$T/p.npy" --top 5 \
    > "$T/remote.tsv" 2>/dev/null || fail "search after restart"
cmp "$T/local.tsv" "$T/remote.tsv" || fail "TSV differs after restart"
stop_server
"$H" check --db "$T/root/g" 2>/dev/null || fail "check of the served database"

# ---- the protocol over files, on the server's database
"$H" query encrypt --keys "$T/k" --probe "$T/p.npy" --out "$T/q.hq" 2>/dev/null || fail "query encrypt"
"$H" search --db "$T/root/g" --query "$T/q.hq" --out "$T/r.hr" 2>/dev/null || fail "search --query"
"$H" results decrypt --keys "$T/k" --in "$T/r.hr" --top 5 > "$T/file.tsv" 2>/dev/null ||
    fail "results decrypt"
cmp "$T/local.tsv" "$T/file.tsv" || fail "file protocol TSV differs"
head -c 1000 "$T/r.hr" > "$T/r.cut"
"$H" results decrypt --keys "$T/k" --in "$T/r.cut" > /dev/null 2> "$T/err" && fail "truncated results"
[ "$(wc -l < "$T/err")" -eq 1 ] || fail "not one line: $(cat "$T/err")"

# ---- kill -9 during a stream of enrolments: every acknowledged one survives
start_server
R="--server http://127.0.0.1:$PORT --gallery g"
"$H" gen --out "$T/one.npy" --ids 1 --per-id 2 --dim 16 --seed 8 >/dev/null
: > "$T/acked"
( i=0
  while [ $i -lt 16 ]; do
      printf 'kill%d.a\nkill%d.b\n' $i $i > "$T/ids$i.txt"
      if "$H" enroll $R --token-file "$T/enroll.tok" --keys "$T/k" --in "$T/one.npy" \
          --ids "$T/ids$i.txt" > /dev/null 2>&1; then
          cat "$T/ids$i.txt" >> "$T/acked"
      fi
      i=$((i + 1))
  done ) &
LOOP=$!
# kill once a few enrolments are acknowledged (bounded wait; the stream goes on meanwhile)
i=0
while [ "$(wc -l < "$T/acked")" -lt 4 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
wait "$LOOP"
[ -z "$SPID" ] || fail "server not killed"
"$H" check --db "$T/root/g" 2>/dev/null || fail "check after kill -9"
start_server
R="--server http://127.0.0.1:$PORT --gallery g"
"$H" search $R --token-file "$T/search.tok" --keys "$T/k" --probe "$T/one.npy" --top 1000 \
    > "$T/all.tsv" 2>/dev/null || fail "search after kill"
while read -r id; do
    grep -q "	$id	" "$T/all.tsv" || fail "acknowledged template $id lost"
done < "$T/acked"
[ -s "$T/acked" ] || fail "no enrolment was acknowledged before the kill"
stop_server

# ---- --timeout bounds client idleness, not server work: a client that sends
# half a request and waits is cut off after the timeout (the server closes the
# connection; the client waits at most 30 s), and SIGTERM with such a client
# connected still drains and exits (stop_server's bound). A request received
# whole is waited for by the drain however long it computes (cli_cluster.sh).
if command -v python3 >/dev/null 2>&1; then
    TIMEOUT=1 start_server
    cat > "$T/stall.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(b"POST /v1/galleries/g/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"Authorization: Bearer " + open(sys.argv[2]).read().strip().encode() +
          b"\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
if len(sys.argv) > 3:
    open(sys.argv[3], "w").close()   # connected and half sent
try:
    d = s.recv(1)
except socket.timeout:
    sys.exit("the server kept a stalled client for 30 s")
except ConnectionResetError:
    d = b""
sys.exit(0 if d == b"" else "the server answered a half request: %r" % d)
EOF
    python3 "$T/stall.py" "$PORT" "$T/search.tok" || fail "a stalled client was not cut off"
    python3 "$T/stall.py" "$PORT" "$T/search.tok" "$T/stalled" 2> "$T/stall.err" &
    STALL=$!
    i=0
    while [ ! -e "$T/stalled" ]; do
        i=$((i + 1)); [ $i -lt 300 ] || fail "the stalled client did not connect"
        sleep 0.1
    done
    stop_server
    wait "$STALL" || fail "the stalled client at SIGTERM: $(cat "$T/stall.err")"
fi

# ---- TLS: a self-signed CA and a server certificate made here
cd "$T" || fail "cd"
certtool --generate-privkey --outfile ca.key --key-type ecdsa 2>/dev/null >/dev/null || fail "certtool"
printf 'cn = hers test CA\nca\ncert_signing_key\nexpiration_days = 2\n' > ca.tmpl
certtool --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem \
    >/dev/null 2>&1 || fail "CA"
certtool --generate-privkey --outfile srv.key --key-type ecdsa >/dev/null 2>&1
printf 'cn = localhost\nip_address = 127.0.0.1\ntls_www_server\nexpiration_days = 2\n' > srv.tmpl
certtool --generate-certificate --load-privkey srv.key --load-ca-certificate ca.pem \
    --load-ca-privkey ca.key --template srv.tmpl --outfile srv.pem >/dev/null 2>&1 || fail "cert"
certtool --generate-privkey --outfile other.key --key-type ecdsa >/dev/null 2>&1
printf 'cn = other CA\nca\ncert_signing_key\nexpiration_days = 2\n' > other.tmpl
certtool --generate-self-signed --load-privkey other.key --template other.tmpl --outfile other.pem \
    >/dev/null 2>&1 || fail "other CA"
cd - >/dev/null || fail "cd back"
start_server --tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
R="--server https://127.0.0.1:$PORT --gallery g"
"$H" search $R --token-file "$T/search.tok" --cacert "$T/ca.pem" --keys "$T/k" --probe "$T/p.npy" \
    --top 5 > "$T/tls.tsv" 2>/dev/null || fail "search over TLS"
[ "$(wc -l < "$T/tls.tsv")" -eq 30 ] || fail "TLS search rows"
# a compact answer of the coefficient-packed gallery (sent as an I/O vector
# of the pass's bodies, docs/design.md "Answers without copying") over TLS
"$H" search --server "https://127.0.0.1:$PORT" --gallery gcoeff --token-file "$T/admin.tok" \
    --cacert "$T/ca.pem" --keys "$T/k" --probe "$T/p.npy" --top 5 --result compact \
    > "$T/tls.coeff" 2>/dev/null || fail "compact search over TLS"
cmp "$T/local.coeff" "$T/tls.coeff" || fail "compact TLS TSV differs from the local one"
"$H" info $R --token-file "$T/search.tok" --cacert "$T/other.pem" > /dev/null 2> "$T/err" &&
    fail "a wrong CA was accepted"
grep -qi "certificate\|SSL\|TLS" "$T/err" || fail "wrong CA message: $(cat "$T/err")"
"$H" info --server "http://127.0.0.1:$PORT" --gallery g --token-file "$T/search.tok" \
    > /dev/null 2>&1 && fail "plain HTTP to a TLS server"
stop_server
"$H" search --db "$T/root/g" --query "$T/q.hq" --out "$T/r2.hr" 2>/dev/null || fail "search --query 2"
"$H" results decrypt --keys "$T/k" --in "$T/r2.hr" --top 5 > "$T/file2.tsv" 2>/dev/null ||
    fail "results decrypt 2"
cmp "$T/file2.tsv" "$T/tls.tsv" || fail "TLS TSV differs from the file protocol's"

# ---- plain HTTP off loopback is refused without --insecure (nothing is bound)
"$H" serve --root "$T/root" --listen 0.0.0.0:0 --tokens "$T/tokens" 2> "$T/err" &&
    fail "plain HTTP on 0.0.0.0 accepted"
grep -q "insecure" "$T/err" || fail "message: $(cat "$T/err")"
echo "cli_serve: ok"
