#!/bin/sh
# cli_install.sh - `cmake --install` into a temporary prefix (what `make install
# PREFIX=...` does), then the proof that the installed API is complete: the two
# programs of examples/ are built from the installed headers and library with
# `pkg-config --cflags --libs hers` alone (shared, and static with --static),
# run, and their encrypted scores checked. Also: the installed man pages, the
# soname, and `make uninstall` (the install manifest) removing every file.
# Usage: sh tests/cli_install.sh path/to/hers   (the build tree is its directory)
set -u
HERS=${1:?usage: cli_install.sh path/to/hers}
BUILD=$(cd "$(dirname "$HERS")" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/hers_cli_install.XXXXXX)
# cmake --install rewrites the build's install_manifest.txt: keep the one of a
# real `make install`, so that a later `make uninstall` still removes it.
MANIFEST="$BUILD/install_manifest.txt"
[ -f "$MANIFEST" ] && cp "$MANIFEST" "$T/manifest.saved"
restore() { if [ -f "$T/manifest.saved" ]; then cp "$T/manifest.saved" "$MANIFEST"; else rm -f "$MANIFEST"; fi; }
trap 'restore; rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

command -v pkg-config >/dev/null || { echo "FAIL: pkg-config missing"; exit 1; }
P="$T/prefix"
# A private copy of the build's install step: the manifest goes to $T, not the build tree.
if cmake --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1; then ok "install"; else
    bad "install: $(tail -3 "$T/install.log")"; echo "1 failed"; exit 1
fi
LIBDIR=$(ls -d "$P"/lib*/ | head -1); LIBDIR=${LIBDIR%/}
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"

for f in bin/hers include/hers/hers_search.h include/hers/hers_version.h share/man/man1/hers.1 \
         share/man/man1/hers-search.1 share/doc/hers/README.md share/doc/hers/NEWS.md \
         share/doc/hers/examples/search_gallery.c; do
    [ -e "$P/$f" ] && ok "installed $f" || bad "missing $f"
done
[ -f "$LIBDIR/libhers.a" ] && ok "libhers.a" || bad "libhers.a missing"
soname=$(objdump -p "$LIBDIR/libhers.so" 2>/dev/null | awk '$1 == "SONAME" { print $2 }')
abi=$(sed -n 's/^#define HERS_ABI_VERSION \([0-9]*\)$/\1/p' "$P/include/hers/hers_version.h")
[ "$soname" = "libhers.so.$abi" ] && [ -e "$LIBDIR/$soname" ] && ok "soname $soname" ||
    bad "soname '$soname' (ABI $abi)"
[ "$(pkg-config --modversion hers)" = "$("$HERS" version --short)" ] && ok "pkg-config version" ||
    bad "pkg-config --modversion $(pkg-config --modversion hers 2>&1)"
pkg-config --static --libs hers | grep -q -- "-llmdb" && ok "pkg-config --static lists private libs" ||
    bad "pkg-config --static --libs: $(pkg-config --static --libs hers 2>&1)"

# Every installed header stands alone and is clean C17 (-pedantic) and C++.
for h in "$P"/include/hers/*.h; do
    printf '#include <hers/%s>\nint main(void) { return 0; }\n' "$(basename "$h")" >"$T/h.c"
    # shellcheck disable=SC2046
    cc -std=c17 -pedantic -Wall -Wextra -Werror $(pkg-config --cflags hers) -c "$T/h.c" \
        -o "$T/h.o" 2>"$T/h.err" || bad "header $(basename "$h"): $(head -2 "$T/h.err")"
done
ok "every installed header compiles alone with -std=c17 -pedantic"

# The examples, built from the installed copy only (no -I into the source tree).
mkdir -p "$T/ex" && cp "$SRC"/examples/*.c "$SRC/examples/Makefile" "$T/ex/"
CFLAGS="-O2 -std=c17 -Wall -Wextra -Werror -pedantic"
# An ASan+UBSan build of the library (make check-asan) needs the same runtime
# in the programs that link it.
if nm -D "$LIBDIR/libhers.so" 2>/dev/null | grep -q __asan_init; then
    CFLAGS="$CFLAGS -fsanitize=address,undefined"
fi
if make -s -C "$T/ex" CFLAGS="$CFLAGS" >"$T/make.log" 2>&1; then ok "examples build (shared)"; else
    bad "examples build: $(head -5 "$T/make.log")"
fi
# Static libhers.a, its private dependencies linked as shared libraries (what
# docs/install.md describes; Debian ships no static libcurl closure).
PRIV_REQ=$(pkg-config --print-requires-private hers | awk '{ print $1 }')
PRIV_LIBS=$(sed -n 's/^Libs.private: //p' "$PKG_CONFIG_PATH/hers.pc")
# shellcheck disable=SC2046,SC2086
if cc $CFLAGS $(pkg-config --cflags hers) "$T/ex/search_gallery.c" -o "$T/ex/search_static" \
    "$LIBDIR/libhers.a" $(pkg-config --libs $PRIV_REQ) $PRIV_LIBS >"$T/static.log" 2>&1; then
    ok "search example links statically"
else
    bad "static link: $(head -5 "$T/static.log")"
fi
export LD_LIBRARY_PATH="$LIBDIR"
ldd "$T/ex/search_gallery" 2>/dev/null | grep -q "$LIBDIR/libhers.so" && ok "uses the installed .so" ||
    bad "search_gallery does not load $LIBDIR/libhers.so"
if "$T/ex/enroll_gallery" "$T/g" 600 24 >"$T/enroll.out" 2>&1; then ok "enroll_gallery"; else
    bad "enroll_gallery: $(cat "$T/enroll.out")"
fi
[ "$(stat -c %a "$T/g/secret.key" 2>/dev/null)" = 600 ] && ok "secret.key 0600" || bad "secret.key mode"
for prog in search_gallery search_static; do
    if "$T/ex/$prog" "$T/g" 17 3 >"$T/$prog.out" 2>"$T/$prog.err"; then ok "$prog exact"; else
        bad "$prog: $(cat "$T/$prog.err")"
    fi
    # top-1 is the probe's own template (id 17), with the same score as the plaintext
    awk -F'\t' 'NR == 2 && $2 == "17" && $3 == $4 && $3 > 0 { ok = 1 } END { exit !ok }' \
        "$T/$prog.out" && ok "$prog top-1 is 17" || bad "$prog output: $(cat "$T/$prog.out")"
done
"$T/ex/search_gallery" "$T/g" 600 >/dev/null 2>&1; [ $? -eq 2 ] && ok "bad row exits 2" ||
    bad "bad row exit"

# The installed program and its man pages.
"$P/bin/hers" version | grep -q "formats:" && ok "installed hers version" || bad "installed hers version"
MANPATH="$P/share/man" man -w hers-enroll >/dev/null 2>&1 && ok "man hers-enroll found" ||
    bad "man -w hers-enroll"

# make uninstall: the manifest removes everything that was installed.
cp "$BUILD/install_manifest.txt" "$T/manifest.txt"
if sh "$SRC/scripts/uninstall" "$T/manifest.txt" >/dev/null 2>&1 &&
   [ -z "$(find "$P" -type f)" ]; then ok "uninstall removes every file"; else
    bad "uninstall left: $(find "$P" -type f | head -3)"
fi

[ "$fails" -eq 0 ] && { echo "cli_install: all passed"; exit 0; }
echo "cli_install: $fails failed"; exit 1
