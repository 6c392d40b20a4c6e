/* status.c - status names and the thread-local error message. */
#include "hers/hers_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];

const char *hers_status_name(hers_status s)
{
    switch (s) {
    case HERS_OK: return "HERS_OK";
    case HERS_ERR_ARG: return "HERS_ERR_ARG";
    case HERS_ERR_NOMEM: return "HERS_ERR_NOMEM";
    case HERS_ERR_IO: return "HERS_ERR_IO";
    case HERS_ERR_FORMAT: return "HERS_ERR_FORMAT";
    case HERS_ERR_VERSION: return "HERS_ERR_VERSION";
    case HERS_ERR_CHECKSUM: return "HERS_ERR_CHECKSUM";
    case HERS_ERR_PARAMS: return "HERS_ERR_PARAMS";
    case HERS_ERR_INSECURE: return "HERS_ERR_INSECURE";
    case HERS_ERR_MISMATCH: return "HERS_ERR_MISMATCH";
    case HERS_ERR_NOISE: return "HERS_ERR_NOISE";
    case HERS_ERR_UNSUPPORTED: return "HERS_ERR_UNSUPPORTED";
    case HERS_ERR_CRYPTO: return "HERS_ERR_CRYPTO";
    case HERS_ERR_STATE: return "HERS_ERR_STATE";
    case HERS_ERR_NOTFOUND: return "HERS_ERR_NOTFOUND";
    case HERS_ERR_EXISTS: return "HERS_ERR_EXISTS";
    case HERS_ERR_NUMERIC: return "HERS_ERR_NUMERIC";
    case HERS_ERR_INTERNAL: return "HERS_ERR_INTERNAL";
    }
    return "HERS_ERR_UNKNOWN";
}

const char *hers_last_error(void) { return last_error; }

void hers_clear_error(void) { last_error[0] = '\0'; }

hers_status hers_error(hers_status s, const char *fmt, ...)
{
    /* through a copy: callers may pass hers_last_error() as an argument */
    char msg[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof msg);
    return s;
}
