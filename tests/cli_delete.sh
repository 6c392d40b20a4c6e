#!/bin/sh
# cli_delete.sh - `hers delete`: ids leave the results at once; a repeated id
# in the ids file is an error naming that file and changes nothing.
set -u
H="$1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
pass=0; fail=0
ok() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*"; fi; }

"$H" gen --out X.npy --ids 4 --per-id 2 --dim 16 --seed 7 >/dev/null 2>&1 || { echo "gen failed"; exit 1; }
"$H" keygen --keys K >/dev/null 2>&1 || { echo "keygen failed"; exit 1; }
"$H" init --db D --keys K >/dev/null 2>&1 || { echo "init failed"; exit 1; }
seq 0 7 | sed 's/^/t/' > ids.txt
"$H" enroll --keys K --db D --in X.npy --ids ids.txt >/dev/null 2>&1 || { echo "enroll failed"; exit 1; }

# A repeated id: exit 1, one line naming the ids file, database unchanged.
printf 't1\nt2\nt1\n' > dup.txt
before=$(cksum < D/data.mdb)
"$H" delete --db D --ids dup.txt > out 2> err; rc=$?
ok [ "$rc" = 1 ]
ok [ "$(wc -l < err)" = 1 ]
ok grep -q "dup.txt" err
ok [ "$(cksum < D/data.mdb)" = "$before" ]

# A real deletion: t3 is never returned again (probe = row 3 itself).
printf 't3\n' > del.txt
ok "$H" delete --db D --ids del.txt
"$H" gen --out X.npy --ids 4 --per-id 2 --dim 16 --seed 7 >/dev/null 2>&1
"$H" search --keys K --db D --probe X.npy --top 8 --out R.tsv >/dev/null 2>&1
ok [ -s R.tsv ]
ok sh -c '! cut -f3 R.tsv | grep -qx t3'
ok grep -q "t2" R.tsv

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
