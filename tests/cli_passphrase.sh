#!/bin/sh
# cli_passphrase.sh - passphrase-protected secret keys from the CLI:
# `hers keygen --passphrase-file F` writes an encrypted secret.key (mode
# 0600); enroll / search need the passphrase and say so clearly when it is
# missing or wrong; a passphrase file readable by others is refused.
# usage: sh cli_passphrase.sh path/to/hers
set -u
H="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; [ -f "$T/err" ] && sed 's/^/  | /' "$T/err"; exit 1; }
if ! "$H" keygen --help 2>&1 | grep -q -- --passphrase-file; then
    echo "skipped: hers keygen has no --passphrase-file in this build"
    exit 0
fi
# one_line_error CMD... : must exit 1 with exactly one stderr line containing $WANT
one_line_error() {
    "$@" > "$T/out" 2> "$T/err"
    rc=$?
    [ $rc -eq 1 ] || fail "exit $rc (want 1): $*"
    [ "$(grep -c . "$T/err")" -eq 1 ] || fail "want one error line: $*"
    grep -qF -- "$WANT" "$T/err" || fail "error lacks '$WANT': $*"
}

(umask 077; printf 'open sesame\n' > "$T/pass"; printf 'open sesamE\n' > "$T/wrong")
printf 'open sesame\n' > "$T/loose"; chmod 644 "$T/loose"
: > "$T/empty"; chmod 600 "$T/empty"

WANT="accessible by other users"
one_line_error "$H" keygen --keys "$T/k" --passphrase-file "$T/loose"
[ -e "$T/k/secret.key" ] && fail "keygen wrote a key despite the refused passphrase file"
WANT="empty"
one_line_error "$H" keygen --keys "$T/k" --passphrase-file "$T/empty"
WANT="$T/missing"
one_line_error "$H" keygen --keys "$T/k" --passphrase-file "$T/missing"

"$H" keygen --keys "$T/k" --passphrase-file "$T/pass" 2>/dev/null || fail "keygen --passphrase-file"
mode=$(stat -c %a "$T/k/secret.key")
[ "$mode" = 600 ] || fail "secret key mode $mode"
head -c 8 "$T/k/secret.key" | grep -q HERSSKPW || fail "secret.key is not a protected envelope"
"$H" keygen --keys "$T/plain" 2>/dev/null || fail "keygen (plain)"

"$H" gen --out "$T/g.npy" --ids 20 --per-id 3 --dim 16 --seed 2 >/dev/null || fail "gen"
"$H" gen --out "$T/p.npy" --ids 2 --per-id 1 --dim 16 --seed 2 >/dev/null || fail "gen probes"

WANT="passphrase-protected"
one_line_error "$H" enroll --keys "$T/k" --gallery "$T/g.gal" --in "$T/g.npy"
[ -e "$T/g.gal" ] && fail "enroll wrote a gallery without the key"
WANT="wrong passphrase"
one_line_error "$H" enroll --keys "$T/k" --gallery "$T/g.gal" --in "$T/g.npy" --passphrase-file "$T/wrong"
"$H" enroll --keys "$T/k" --gallery "$T/g.gal" --in "$T/g.npy" --passphrase-file "$T/pass" 2>/dev/null \
    || fail "enroll with the passphrase"

WANT="passphrase-protected"
one_line_error "$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy"
WANT="wrong passphrase"
one_line_error "$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --passphrase-file "$T/wrong"
"$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --top 1 \
    --passphrase-file "$T/pass" > "$T/r.tsv" 2>/dev/null || fail "search with the passphrase"
[ "$(wc -l < "$T/r.tsv")" -eq 2 ] || fail "expected 2 result rows"
# the passphrase from a pipe (no file on disk)
"$H" search --keys "$T/k" --gallery "$T/g.gal" --probe "$T/p.npy" --top 1 \
    --passphrase-file /dev/stdin < "$T/pass" > "$T/r2.tsv" 2>/dev/null || fail "passphrase from stdin"
cmp -s "$T/r.tsv" "$T/r2.tsv" || fail "stdin passphrase gives other results"

# a plain key ignores --passphrase-file (with a warning on stderr)
"$H" enroll --keys "$T/plain" --gallery "$T/pg.gal" --in "$T/g.npy" --passphrase-file "$T/pass" \
    2> "$T/err" || fail "plain key with --passphrase-file"
grep -q "not passphrase-protected" "$T/err" || fail "no warning for a plain key"

# databases: init needs no secret; enroll / search --db need the passphrase
if "$H" init --help >/dev/null 2>&1 && "$H" enroll --help 2>&1 | grep -q -- --db; then
    "$H" init --db "$T/db" --keys "$T/k" 2>/dev/null || fail "init from a protected key dir"
    WANT="passphrase-protected"
    one_line_error "$H" enroll --keys "$T/k" --db "$T/db" --in "$T/g.npy"
    WANT="wrong passphrase"
    one_line_error "$H" enroll --keys "$T/k" --db "$T/db" --in "$T/g.npy" --passphrase-file "$T/wrong"
    "$H" enroll --keys "$T/k" --db "$T/db" --in "$T/g.npy" --passphrase-file "$T/pass" \
        > /dev/null 2>&1 || fail "enroll --db with the passphrase"
    WANT="passphrase-protected"
    one_line_error "$H" search --keys "$T/k" --db "$T/db" --probe "$T/p.npy"
    "$H" search --keys "$T/k" --db "$T/db" --probe "$T/p.npy" --top 1 --passphrase-file "$T/pass" \
        > /dev/null 2>&1 || fail "search --db with the passphrase"
    if "$H" compact --help 2>&1 | grep -q -- --passphrase-file; then
        "$H" delete --db "$T/db" --id 3 > /dev/null 2>&1 || fail "delete"
        WANT="passphrase-protected"
        one_line_error "$H" compact --db "$T/db" --keys "$T/k"
        "$H" compact --db "$T/db" --keys "$T/k" --passphrase-file "$T/pass" > /dev/null 2>&1 \
            || fail "compact with the passphrase"
    fi
else
    echo "skipped: database commands (no hers init / enroll --db)"
fi
echo "cli_passphrase: ok"
