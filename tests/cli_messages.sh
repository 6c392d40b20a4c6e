#!/bin/sh
# cli_messages.sh - honest failures of the CLI (issue 11, items 5-8): usage
# errors exit 2 in every command (unknown option, missing required option,
# --db without a value, non-finite numbers); messages name the file and the
# way out; ids with NUL, control characters or invalid UTF-8 are refused with
# their line number; tiny vectors normalise; help and key directory modes.
# Usage: sh tests/cli_messages.sh path/to/hers
set -u
H=${1:?usage: cli_messages.sh path/to/hers}
case "$H" in /*) ;; *) H="$(pwd)/$H" ;; esac
T=$(mktemp -d /tmp/hers_cli_msg.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
# expect CODE PATTERN CMD...: exit CODE, one stderr line matching PATTERN
expect() {
    code=$1; pat=$2; shift 2
    "$@" >out 2>err; rc=$?
    if [ $rc -ne "$code" ]; then bad "$* -> exit $rc, want $code ($(head -1 err))"; return; fi
    if [ -n "$pat" ] && { [ "$(wc -l <err)" -ne 1 ] || ! grep -q -- "$pat" err; }; then
        bad "$* -> stderr: $(cat err) (want /$pat/)"; return
    fi
    ok "$* -> $code${pat:+ /$pat/}"
}

for c in gen convert id fit compress eval plot demo keygen enroll search init delete compact \
         info check query results serve token version bench; do
    "$H" $c --no-such-option >/dev/null 2>&1; rc=$?
    [ $rc -eq 2 ] || bad "$c --no-such-option exit $rc"
done
ok "unknown option exits 2 in every command"
for c in gen convert id fit compress plot keygen enroll search init delete compact info check; do
    "$H" $c >/dev/null 2>&1; rc=$?
    [ $rc -eq 2 ] || bad "$c without its required options exit $rc"
done
ok "missing required options exit 2"
expect 2 "needs a value" "$H" enroll --db
expect 2 "needs a value" "$H" search --keys k --probe p.npy --db
expect 2 "or --db DIR" "$H" enroll
expect 2 "or --db DIR" "$H" search
for v in nan inf -inf 1e309; do
    expect 2 "finite number" "$H" search --db d --keys k --probe p.npy --threshold $v
done
expect 2 "cosine in" "$H" search --db d --keys k --probe p.npy --threshold 5

"$H" keygen --keys k >/dev/null 2>&1 || bad "keygen"
"$H" keygen --keys ks --params s4096 >/dev/null 2>&1 || bad "keygen s4096"
/usr/bin/python3 - <<'PY' || bad "numpy fixtures"
import numpy as np
np.save("zero.npy", np.zeros((0, 32), dtype=np.float32))
np.save("tiny.npy", np.full((4, 32), 1e-40, dtype=np.float32))
PY
"$H" gen --out g4.npy --ids 2 --per-id 2 --dim 8 --seed 1 >/dev/null 2>&1
"$H" gen --out g64.npy --ids 2 --per-id 2 --dim 64 --seed 1 >/dev/null 2>&1
"$H" init --db db --keys k 2>/dev/null || bad "init"
expect 0 "" "$H" enroll --keys k --gallery tiny.gal --in tiny.npy
expect 1 "zero.npy: no rows" "$H" enroll --db db --keys k --in zero.npy
expect 1 "parameter set s4096 .* is not the database's n4096" "$H" enroll --db db --keys ks --in g4.npy
mkdir pub && cp ks/params.hers ks/public.key pub/
expect 1 "parameter set s4096.*allows d <= .*n4096" "$H" enroll --keys pub --public --gallery x.gal --in g64.npy
echo garbage >bad.model
"$H" compress --model bad.model --in g4.npy --out o.npy 2>err >/dev/null
[ "$(grep -o "bad.model" err | wc -l)" -eq 1 ] && ok "model error names the path once" ||
    bad "model error: $(cat err)"

printf 'a\nab\000cd\nc\nd\n' >ids_nul.txt
printf 'a\nb\007x\nc\nd\n' >ids_ctl.txt
printf 'a\nb\nc\377\nd\n' >ids_utf.txt
printf 'a\nb\303\251\nc\nd\n' >ids_ok.txt
expect 1 "ids_nul.txt:2: invalid id (NUL byte)" "$H" enroll --db db --keys k --in g4.npy --ids ids_nul.txt
expect 1 "ids_ctl.txt:2: invalid id (control character)" "$H" enroll --db db --keys k --in g4.npy --ids ids_ctl.txt
expect 1 "ids_utf.txt:3: invalid id (invalid UTF-8)" "$H" enroll --keys k --gallery x.gal --in g4.npy --ids ids_utf.txt
expect 0 "" "$H" enroll --db db --keys k --in g4.npy --ids ids_ok.txt

"$H" help | grep -q "enroll .*gallery database" && ok "hers help: enroll names the database" ||
    bad "hers help enroll summary"
"$H" keygen --help | grep -q "s4096" && ok "keygen --help lists s4096" || bad "keygen --help"
mkdir k755 && chmod 755 k755 && "$H" keygen --keys k755 >/dev/null 2>&1
[ "$(stat -c %a k755)" = 700 ] && ok "keygen restricts an existing directory to 0700" ||
    bad "keygen dir mode $(stat -c %a k755)"

[ "$fails" -eq 0 ] && { echo "cli_messages: all passed"; exit 0; }
echo "cli_messages: $fails failed"; exit 1
