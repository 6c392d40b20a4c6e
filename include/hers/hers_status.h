/*
 * hers_status.h - status codes and the retrievable error message.
 *
 * Every fallible library function returns a hers_status. HERS_OK (0) is
 * success; any other value is an error whose human-readable explanation can
 * be fetched with hers_last_error() on the same thread. The library never
 * prints and never exits.
 *
 * Thread-safety: the message buffer is thread-local.
 */
#ifndef HERS_STATUS_H
#define HERS_STATUS_H

#include "hers/hers_api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hers_status {
    HERS_OK = 0,
    HERS_ERR_ARG = 1,         /* invalid argument (NULL, out of range, mismatch) */
    HERS_ERR_NOMEM = 2,       /* allocation failed */
    HERS_ERR_IO = 3,          /* file system / read / write error */
    HERS_ERR_FORMAT = 4,      /* malformed, truncated or corrupted input */
    HERS_ERR_VERSION = 5,     /* unsupported format version */
    HERS_ERR_CHECKSUM = 6,    /* checksum mismatch */
    HERS_ERR_PARAMS = 7,      /* invalid parameter set */
    HERS_ERR_INSECURE = 8,    /* parameter set below the requested security */
    HERS_ERR_MISMATCH = 9,    /* objects from different parameters / keys */
    HERS_ERR_NOISE = 10,      /* the computation would exceed the noise budget */
    HERS_ERR_UNSUPPORTED = 11,/* feature or CPU level not available */
    HERS_ERR_CRYPTO = 12,     /* CSPRNG / libsodium failure, wrong passphrase */
    HERS_ERR_STATE = 13,      /* object in the wrong state for this call */
    HERS_ERR_NOTFOUND = 14,   /* id / key / file not found */
    HERS_ERR_EXISTS = 15,     /* id / file already exists */
    HERS_ERR_NUMERIC = 16,    /* numerical failure (no convergence, disconnected graph) */
    HERS_ERR_INTERNAL = 17    /* bug: an invariant did not hold */
} hers_status;

/* Short constant name of a status ("HERS_ERR_FORMAT"). Never NULL. */
HERS_API const char *hers_status_name(hers_status s);

/* Message of the last error set on this thread ("" if none). The pointer is
 * valid until the next failing hers call on this thread. */
HERS_API const char *hers_last_error(void);

/* Clears the thread's error message. */
HERS_API void hers_clear_error(void);

/* Sets the thread's error message (printf format) and returns `s`, so that
 * library code can write `return hers_error(HERS_ERR_ARG, "d=%zu", d);`.
 * Messages longer than 511 bytes are truncated. */
HERS_API hers_status hers_error(hers_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif /* HERS_STATUS_H */
