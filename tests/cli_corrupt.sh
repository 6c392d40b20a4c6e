#!/bin/sh
# cli_corrupt.sh - corruption robustness of every `hers` command that reads a
# file: truncated and bit-flipped vectors, labels, ids, models, keys
# (plain and passphrase-protected), gallery files and databases.
# usage: sh cli_corrupt.sh path/to/hers
#
# Every run is under `timeout`. A run FAILS the test (always) when it
#   - hangs (timeout) or dies from a signal (exit status >= 124),
#   - prints a sanitizer report (AddressSanitizer / runtime error),
#   - exits non-zero and the database it was given changed (data files
#     compared by checksum; lock.mdb excluded).
# A run is a PROBLEM (listed; fails the test only with HERS_CORRUPT_STRICT=1)
# when it exits non-zero without exactly one stderr line naming the file (or
# the database it was given: "id X is not enrolled" is about the database), or
# exits 0 on a damaged checksummed file (keys, models, gallery files: a
# silent wrong answer). Exit 0 on a bit flip in an unchecksummed payload
# (raw vectors, labels, LMDB free pages) is accepted.
# Commands that do not exist yet in this build are skipped (and said so).
# HERS_TEST_QUICK=1: fewer offsets.
set -u
H="$1"
case "$H" in /*) ;; *) H="$(pwd)/$H" ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
TO=${HERS_CORRUPT_TIMEOUT:-60}
QUICK=${HERS_TEST_QUICK:-0}
STRICT=${HERS_CORRUPT_STRICT:-0}
runs=0; hard=0; soft=0; skipped=""

die() { echo "FAIL (setup): $*"; exit 1; }
has_cmd() { "$H" "$1" --help >/dev/null 2>&1; }
has_opt() { "$H" "$1" --help 2>&1 | grep -q -- "$2"; }
skip() { skipped="$skipped
  $*"; }
# checksum of the data files of a database directory (lock.mdb excluded)
db_sum() {
    for f in "$1"/*; do
        case "$f" in *lock.mdb) ;; *) [ -f "$f" ] && cksum < "$f" ;; esac
    done
}

# ---------------------------------------------------------------- fixtures
"$H" gen --out X.npy --labels-out Y.npy --ids 12 --per-id 4 --dim 24 --seed 3 >/dev/null 2>&1 \
    || die "hers gen"
"$H" gen --out P.npy --ids 3 --per-id 1 --dim 24 --seed 4 >/dev/null 2>&1 || die "hers gen probes"
"$H" convert --in X.npy --out X.fvecs >/dev/null 2>&1 || die "hers convert"
i=0; : > ids.txt
while [ $i -lt 48 ]; do echo "id$i" >> ids.txt; i=$((i + 1)); done
"$H" fit --method pca --in X.npy --labels Y.npy --dim 12 --out M.model --quiet >/dev/null 2>&1 \
    || die "hers fit"
"$H" keygen --keys K >/dev/null 2>&1 || die "hers keygen"
HAVE_PASS=0
if has_opt keygen --passphrase-file; then
    (umask 077; echo "corrupt test passphrase" > pass.txt)
    "$H" keygen --keys KP --passphrase-file pass.txt >/dev/null 2>&1 || die "hers keygen --passphrase-file"
    HAVE_PASS=1
else
    skip "protected secret keys (keygen has no --passphrase-file)"
fi
"$H" enroll --keys K --gallery G.gal --in X.npy --ids ids.txt >/dev/null 2>&1 || die "hers enroll --gallery"
HAVE_DB=0
if has_cmd init && has_opt enroll --db; then
    "$H" init --db D --keys K >/dev/null 2>&1 || die "hers init"
    "$H" enroll --keys K --db D --in X.npy --ids ids.txt >/dev/null 2>&1 || die "hers enroll --db"
    HAVE_DB=1
else
    skip "databases (no hers init or no enroll --db)"
fi
mkdir -p out

# ---------------------------------------------------------------- corruptions
# offsets for a file of size $1: truncation lengths / bit-flip positions
trunc_offsets() {
    s=$1
    if [ "$QUICK" = 1 ]; then l="0 9 $((s / 2)) $((s - 1))"
    else l="0 1 8 60 $((s / 2)) $((s - 33)) $((s - 1))"; fi
    for o in $l; do [ "$o" -ge 0 ] && [ "$o" -lt "$s" ] && echo "$o"; done | sort -n | uniq
}
flip_offsets() {
    s=$1
    if [ "$QUICK" = 1 ]; then l="0 10 $((s / 2)) $((s - 1))"
    else l="0 5 13 50 130 $((s / 3)) $((s / 2)) $((s - 1))"; fi
    for o in $l; do [ "$o" -ge 0 ] && [ "$o" -lt "$s" ] && echo "$o"; done | sort -n | uniq
}
# flip bit ($3 % 8) of byte $2 of file $1 in place
flip() {
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    n=$(( b ^ (1 << ($3 % 8)) ))
    printf "\\$(printf %03o "$n")" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# check_run CHECKSUMMED NAME DB -- command...: runs the command once and
# classifies the outcome. NAME: the string the error must contain. DB: a
# database directory that must not change on failure ("" if none).
check_run() {
    cs=$1; name=$2; db=$3; shift 4
    runs=$((runs + 1))
    before=""; [ -n "$db" ] && before=$(db_sum "$db")
    timeout "$TO" "$H" "$@" > out/stdout 2> out/stderr
    rc=$?
    what="[$label] hers $*"
    [ "${HERS_CORRUPT_VERBOSE:-0}" = 1 ] && echo "rc=$rc $what: $(head -2 out/stderr | tr "\n" " ")"
    if [ $rc -ge 124 ]; then
        hard=$((hard + 1)); echo "FAIL (exit $rc: hang or crash): $what"; tail -3 out/stderr
        return
    fi
    if grep -q "Sanitizer\|runtime error:" out/stderr; then
        hard=$((hard + 1)); echo "FAIL (sanitizer): $what"; head -5 out/stderr
        return
    fi
    if [ $rc -ne 0 ]; then
        if [ -n "$db" ] && [ "$before" != "$(db_sum "$db")" ]; then
            hard=$((hard + 1)); echo "FAIL (database changed by a failing command): $what"
        fi
        lines=$(grep -c . out/stderr)
        if [ "$lines" -ne 1 ]; then
            soft=$((soft + 1)); echo "PROBLEM ($lines stderr lines, want 1): $what"
            sed 's/^/    | /' out/stderr | head -4
        elif ! grep -qF -- "$name" out/stderr && { [ -z "$db" ] || ! grep -qF -- "$db" out/stderr; }; then
            soft=$((soft + 1)); echo "PROBLEM (error does not name $name): $what"
            sed 's/^/    | /' out/stderr
        fi
    elif [ "$cs" = 1 ]; then
        soft=$((soft + 1)); echo "PROBLEM (exit 0 on a damaged checksummed file): $what"
    elif [ "$cs" = 2 ]; then
        hard=$((hard + 1)); echo "FAIL (exit 0, an error was expected): $what"
    fi
}

# subst_run CHECKSUMMED NAME FILE KDIR -- argv: runs argv with @F@ -> FILE,
# @K@ -> KDIR and @D@ -> a fresh copy of the database D (which must then not
# change if the command fails).
subst_run() {
    cs=$1; name=$2; f=$3; k=$4; shift 5
    db=""
    case "$*" in *@D@*) rm -rf out/db; cp -r D out/db; db=out/db ;; esac
    n=0
    for a in "$@"; do
        n=$((n + 1))
        case "$a" in @F@) a="$f" ;; @K@) a="$k" ;; @D@) a="$db" ;; esac
        eval "arg$n=\$a"
    done
    i=1; set --
    while [ $i -le $n ]; do eval "set -- \"\$@\" \"\$arg$i\""; i=$((i + 1)); done
    check_run "$cs" "$name" "$db" -- "$@"
}

# corrupt FILE CHECKSUMMED -- argv: for every truncation and bit flip of
# FILE, runs argv with @F@ = a damaged copy.
corrupt() {
    src=$1; cs=$2; shift 3
    size=$(wc -c < "$src")
    base=$(basename "$src")
    kinds="trunc flip"
    # .npy: also a NaN and an infinity in the data (must be refused)
    case "$src" in *.npy) kinds="trunc flip nan inf" ;; esac
    for kind in $kinds; do
        case $kind in
            trunc) offs=$(trunc_offsets "$size") ;;
            flip) offs=$(flip_offsets "$size") ;;
            *) offs=$(( 10 + $(od -An -tu2 -j8 -N2 "$src" | tr -d ' ') + 4 * 5 )) ;;
        esac
        for o in $offs; do
            rm -rf out/v; mkdir -p out/v
            cp "$src" "out/v/$base"
            case $kind in
                trunc) head -c "$o" "$src" > "out/v/$base" ;;
                flip) flip "out/v/$base" "$o" "$o" ;;
                nan) printf '\000\000\300\177' | dd of="out/v/$base" bs=1 seek="$o" conv=notrunc 2>/dev/null ;;
                inf) printf '\000\000\200\177' | dd of="out/v/$base" bs=1 seek="$o" conv=notrunc 2>/dev/null ;;
            esac
            label="$base $kind@$o"
            # a non-finite float is a damaged value: exit 0 would be a silent wrong answer
            c=$cs; case "$kind:$base" in nan:X*|inf:X*|nan:P*|inf:P*) c=1 ;; esac
            subst_run "$c" "$base" "out/v/$base" "" -- "$@"
        done
    done
}

# corrupt_keys KDIR KFILE -- argv: the same with @K@ = a copy of the key
# directory KDIR whose KFILE is damaged.
corrupt_keys() {
    kdir=$1; kfile=$2; shift 3
    size=$(wc -c < "$kdir/$kfile")
    for kind in trunc flip; do
        if [ $kind = trunc ]; then offs=$(trunc_offsets "$size"); else offs=$(flip_offsets "$size"); fi
        for o in $offs; do
            rm -rf out/k; cp -rp "$kdir" out/k
            if [ $kind = trunc ]; then head -c "$o" "$kdir/$kfile" > "out/k/$kfile"
            else flip "out/k/$kfile" "$o" "$o"; fi
            label="$kfile $kind@$o"
            subst_run 1 "$kfile" "" out/k -- "$@"
            rm -rf out/newdb
        done
    done
}

# ---------------------------------------------------------------- vectors (not checksummed)
for cmdline in \
    "id --in @F@ --sample 0" \
    "fit --method pca --in @F@ --labels Y.npy --dim 12 --out out/m.model --quiet" \
    "compress --model M.model --in @F@ --out out/z.npy" \
    "eval --in @F@ --labels Y.npy --gallery-per-id 2 --k 5" \
    "convert --in @F@ --out out/c.fvecs" \
    "enroll --keys K --gallery out/g.gal --in @F@" \
    "search --keys K --gallery G.gal --probe @F@ --top 2"; do
    # shellcheck disable=SC2086
    corrupt X.npy 0 -- $cmdline
done
corrupt X.fvecs 0 -- id --in @F@ --sample 0
corrupt X.fvecs 0 -- convert --in @F@ --out out/c.npy
corrupt Y.npy 0 -- eval --in X.npy --labels @F@ --gallery-per-id 2 --k 5
corrupt ids.txt 0 -- enroll --keys K --gallery out/g.gal --in X.npy --ids @F@
if [ $HAVE_DB = 1 ]; then
    corrupt X.npy 0 -- enroll --keys K --db @D@ --in @F@ --ids ids.txt --replace
    corrupt P.npy 0 -- search --keys K --db @D@ --probe @F@ --top 2
    has_cmd delete && corrupt ids.txt 0 -- delete --db @D@ --ids @F@
fi

# ---------------------------------------------------------------- model (checksummed)
corrupt M.model 1 -- compress --model @F@ --in X.npy --out out/z.npy
has_opt init --model && corrupt M.model 1 -- init --db out/newdb --keys K --model @F@

# ---------------------------------------------------------------- gallery file (checksummed)
corrupt G.gal 1 -- search --keys K --gallery @F@ --probe P.npy --top 2

# ---------------------------------------------------------------- keys (checksummed)
for kf in params.hers secret.key; do
    corrupt_keys K $kf -- enroll --keys @K@ --gallery out/g.gal --in X.npy
    corrupt_keys K $kf -- search --keys @K@ --gallery G.gal --probe P.npy --top 2
done
corrupt_keys K public.key -- enroll --keys @K@ --gallery out/g.gal --in X.npy --public
corrupt_keys K relin.key -- search --keys @K@ --gallery G.gal --probe P.npy --top 2 --result relinearized
if [ $HAVE_DB = 1 ]; then
    for kf in params.hers public.key relin.key; do
        corrupt_keys K $kf -- init --db out/newdb --keys @K@
    done
    for kf in params.hers secret.key; do
        corrupt_keys K $kf -- search --keys @K@ --db @D@ --probe P.npy --top 2
        corrupt_keys K $kf -- enroll --keys @K@ --db @D@ --in P.npy
    done
fi
if [ $HAVE_PASS = 1 ]; then
    corrupt_keys KP secret.key -- search --keys @K@ --gallery G.gal --probe P.npy --top 2 --passphrase-file pass.txt
fi

# ---------------------------------------------------------------- database (LMDB pages: partly checksummed)
if [ $HAVE_DB = 1 ]; then
    for cmdline in "info --db @DV@" "check --db @DV@" "search --keys K --db @DV@ --probe P.npy --top 2" \
                   "delete --db @DV@ --id id3" "enroll --keys K --db @DV@ --in P.npy" \
                   "compact --db @DV@"; do
        c=${cmdline%% *}
        has_cmd "$c" || { skip "db corruption: hers $c"; continue; }
        size=$(wc -c < D/data.mdb)
        for kind in trunc flip; do
            if [ $kind = trunc ]; then offs=$(trunc_offsets "$size"); else offs=$(flip_offsets "$size"); fi
            for o in $offs; do
                rm -rf out/dv; cp -r D out/dv
                if [ $kind = trunc ]; then head -c "$o" D/data.mdb > out/dv/data.mdb
                else flip out/dv/data.mdb "$o" "$o"; fi
                label="data.mdb $kind@$o"
                # shellcheck disable=SC2086
                set -- $(echo "$cmdline" | sed "s#@DV@#out/dv#")
                # exit 0 is accepted (free pages, unchecked fields), but a
                # failing command must name the database and change nothing
                check_run 0 "out/dv" out/dv -- "$@"
            done
        done
    done
fi

# ---------------------------------------------------------------- wrong inputs (not damaged)
# Each must fail (exit 0 is a FAIL) with one line naming the file, and change
# no database: wrong dimension, missing key, wrong parameters, id clash, model
# mismatch, missing file.
label="semantic"
"$H" gen --out P16.npy --ids 2 --per-id 1 --dim 16 --seed 4 >/dev/null 2>&1 || die "hers gen d=16"
"$H" keygen --keys K8 --params n8192 >/dev/null 2>&1 || die "hers keygen n8192"
mkdir -p Kns; cp K/params.hers K/public.key K/relin.key Kns/
mkdir -p Knp; cp K/params.hers K/secret.key K/relin.key Knp/
check_run 2 P16.npy "" -- search --keys K --gallery G.gal --probe P16.npy
check_run 2 secret.key "" -- search --keys Kns --gallery G.gal --probe P.npy
check_run 2 secret.key "" -- enroll --keys Kns --gallery out/g.gal --in X.npy
check_run 2 G.gal "" -- search --keys K8 --gallery G.gal --probe P.npy
check_run 2 nope.npy "" -- id --in nope.npy
check_run 2 nope.model "" -- compress --model nope.model --in X.npy --out out/z.npy
check_run 2 P16.npy "" -- compress --model M.model --in P16.npy --out out/z.npy
if [ $HAVE_DB = 1 ]; then
    check_run 2 public.key "" -- init --db out/np.db --keys Knp
    [ -e out/np.db/data.mdb ] && { hard=$((hard + 1)); echo "FAIL: init without public.key left a database"; }
    check_run 2 P16.npy D -- enroll --keys K --db D --in P16.npy
    check_run 2 K8 D -- search --keys K8 --db D --probe P.npy
    check_run 2 K8 D -- enroll --keys K8 --db D --in P.npy
    check_run 2 D D -- enroll --keys K --db D --in X.npy --ids ids.txt
    check_run 2 nope.txt D -- delete --db D --ids nope.txt
    check_run 2 D D -- delete --db D --id no-such-id
    if has_opt init --model; then
        "$H" init --db DM --keys K --model M.model >/dev/null 2>&1 || die "hers init --model"
        "$H" fit --method pca --in X.npy --dim 8 --out M8.model --quiet >/dev/null 2>&1 || die "fit M8"
        check_run 2 DM DM -- enroll --keys K --db DM --in X.npy
        check_run 2 M8.model DM -- enroll --keys K --db DM --in X.npy --model M8.model
    fi
    check_run 2 no.db "" -- info --db no.db
    [ -e no.db ] && { hard=$((hard + 1)); echo "FAIL: hers info created a database"; }
fi
if [ $HAVE_PASS = 1 ]; then
    (umask 077; echo "not it" > wrong.txt)
    check_run 2 secret.key "" -- search --keys KP --gallery G.gal --probe P.npy
    check_run 2 secret.key "" -- search --keys KP --gallery G.gal --probe P.npy --passphrase-file wrong.txt
fi

echo "cli_corrupt: $runs runs, $hard failures, $soft problems"
[ -n "$skipped" ] && echo "skipped:$skipped"
[ $hard -eq 0 ] || exit 1
[ "$STRICT" = 1 ] && [ $soft -ne 0 ] && exit 1
exit 0
