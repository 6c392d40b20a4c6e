/*
 * hers_version.h - the version of the hers headers and of the library.
 *
 * HERS_VERSION_* describe the headers a program was compiled against;
 * hers_version_string() and hers_abi_version() the library it runs with
 * (they differ when a program built against one release runs with another
 * shared library of the same soname). The soname, libhers.so.HERS_ABI_VERSION,
 * changes only when the ABI changes incompatibly (docs/install.md).
 * The on-disk and wire formats carry their own versions (docs/formats.md;
 * `hers version` lists them).
 */
#ifndef HERS_VERSION_H
#define HERS_VERSION_H

#include "hers/hers_api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HERS_VERSION_MAJOR 0
#define HERS_VERSION_MINOR 1
#define HERS_VERSION_PATCH 0
#define HERS_VERSION_TEXT "0.1.0"
#define HERS_ABI_VERSION 0

/* "MAJOR.MINOR.PATCH" of the library in use. Never NULL. */
HERS_API const char *hers_version_string(void);
/* The ABI (soname) version of the library in use. */
HERS_API int hers_abi_version(void);

#ifdef __cplusplus
}
#endif
#endif /* HERS_VERSION_H */
