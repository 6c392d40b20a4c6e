#!/bin/sh
# cli_layers.sh - the layer rule (scripts/check-layers, docs/design.md "Layers"):
# the tree's includes respect the layers, libhers.so exports exactly the
# HERS_API functions, docs/design.md's picture is current; and the checker
# fails on each kind of violation (an upward include, a sibling include,
# another folder's private header, a private header in python/, a stray
# exported symbol, an include cycle, a stale picture), injected into a copy
# of the tree.
# Usage: sh tests/cli_layers.sh path/to/hers (libhers.so is beside it)
set -u
HERS=${1:?usage: cli_layers.sh path/to/hers}
LIB="$(dirname "$HERS")/libhers.so"
SRC=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/hers_cli_layers.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

"$PY" "$SRC/scripts/check-layers" --lib "$LIB" >"$T/out" 2>&1 &&
    ok "the tree and libhers.so follow the rule" || { cat "$T/out"; bad "the layer rule"; }

# A copy of what the checker reads, to inject violations into.
fresh() {
    rm -rf "$T/tree" && mkdir -p "$T/tree" &&
        cp -r "$SRC/src" "$SRC/include" "$SRC/scripts" "$SRC/docs" "$SRC/bench" "$SRC/python" \
            "$SRC/examples" "$T/tree/"
}
expect_fail() { # WHAT PATTERN [ARGS...]
    what=$1 pat=$2
    shift 2
    if "$PY" "$T/tree/scripts/check-layers" "$@" >"$T/out" 2>&1; then
        bad "not caught: $what"
    elif grep -q -- "$pat" "$T/out"; then
        ok "caught: $what"
    else
        cat "$T/out"; bad "wrong message for: $what"
    fi
}
fresh && echo '#include "hers/hers_search.h"' >>"$T/tree/src/core/status.c"
expect_fail "core includes search's public header" "src/core/status.c: includes hers/hers_search.h of a layer above"
fresh && echo '#include "hers/hers_bfv.h"' >>"$T/tree/src/reduce/pca.c"
expect_fail "reduce includes its sibling bfv" "src/reduce/pca.c: includes hers/hers_bfv.h of a sibling"
fresh && echo '#include "search/search_internal.h"' >>"$T/tree/src/store/store_read.c"
expect_fail "store includes search's private header" "store_read.c: includes search/search_internal.h, private"
fresh && echo '#include "bfv/bfv_internal.h"' >>"$T/tree/src/io/npy.c"
expect_fail "io includes bfv's private header" "src/io/npy.c: includes bfv/bfv_internal.h"
fresh && echo '#include "search/search_internal.h"' >>"$T/tree/python/_hers.c"
expect_fail "python includes a private header" "python/_hers.c: includes the private"
fresh && echo '#include "hers/hers_store.h"' >>"$T/tree/include/hers/hers_bfv.h"
expect_fail "a public header includes an upper one" "hers_bfv.h: includes hers/hers_store.h of a layer above"
fresh && echo '#include "search/search_internal.h"' >>"$T/tree/src/search/search_kernel.h"
expect_fail "a two-header include cycle" \
    "include cycle: src/search/search_internal.h -> src/search/search_kernel.h -> src/search/search_internal.h"
fresh && echo '#include "core/pool.h"' >>"$T/tree/src/core/bitpack.h" &&
    echo '#include "core/atomic_file.h"' >>"$T/tree/src/core/pool.h" &&
    echo '#include "core/bitpack.h"' >>"$T/tree/src/core/atomic_file.h"
expect_fail "a three-header include cycle" \
    "include cycle: src/core/atomic_file.h -> src/core/bitpack.h -> src/core/pool.h -> src/core/atomic_file.h"
fresh && sed -i 's/^   4  store /   4  storx /' "$T/tree/docs/design.md"
expect_fail "a stale picture in docs/design.md" "layer picture is stale"

# A library exporting one internal function besides the public API.
fresh
printf '%s\n' '__attribute__((visibility("default"))) int hers_bitpack(void);' \
    'int hers_bitpack(void) { return 0; }' >"$T/stray.c"
if cc -shared -fPIC -o "$T/libstray.so" "$T/stray.c" 2>"$T/cc"; then
    expect_fail "an exported internal symbol" "exports hers_bitpack, which is not a HERS_API" --lib "$T/libstray.so"
else
    cat "$T/cc"; bad "cannot build the stray library"
fi

[ "$fails" -eq 0 ] && echo "cli_layers: all ok" && exit 0
echo "cli_layers: $fails failure(s)"
exit 1
