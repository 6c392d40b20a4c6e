/*
 * atomic_file.h - the one way hers writes a file: atomically and durably.
 * Shared with: io, bfv, reduce, search, store, net, cluster, cli
 * (scripts/check-layers: library-internal plumbing, not part of libhers.so's ABI).
 *
 * The bytes go to a temporary file beside the target ("<path>.tmp.XXXXXX",
 * created by mkstemp with O_EXCL and mode 0600, so a secret is never readable
 * by others even for a moment), which is then chmod'ed to `mode`, flushed,
 * fsync'ed, closed and renamed over the target, and the directory is
 * fsync'ed. A crash at any point leaves either the old file or the complete
 * new one, never a truncated file; on any error the temporary is removed and
 * the target is untouched.
 *
 * Errors (HERS_ERR_IO, HERS_ERR_NOMEM) name the target path:
 *   "PATH: cannot create temporary file: REASON"
 *   "PATH: STEP failed: REASON" (STEP: chmod, write, fsync, close, rename).
 */
#ifndef HERS_CORE_ATOMIC_FILE_H
#define HERS_CORE_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "hers/hers_status.h"

/* Streaming form: open, write any number of times, then commit or abort. */
typedef struct hers_atomic_file {
    const char *path;   /* the target (the caller's string, kept until commit/abort) */
    char *tmp;          /* the temporary's name */
    FILE *f;            /* buffered stream on the temporary */
    const char *fail;   /* first failed step, NULL while all went well */
    int err;            /* its errno */
} hers_atomic_file;

/* mode: the final permission bits (0600 for secrets, 0644 otherwise). */
hers_status hers_atomic_open(hers_atomic_file *af, const char *path, unsigned mode);
/* Appends n bytes; an error is remembered and reported by commit. */
void hers_atomic_write(hers_atomic_file *af, const void *data, size_t n);
/* Flush, fsync, close, rename, fsync of the directory. Always releases af. */
hers_status hers_atomic_commit(hers_atomic_file *af);
/* Removes the temporary (no-op after commit or a failed open). */
void hers_atomic_abort(hers_atomic_file *af);

/* One call: writes len bytes of buf to path atomically with `mode`. */
hers_status hers_atomic_write_file(const char *path, const void *buf, size_t len, unsigned mode);

#endif
