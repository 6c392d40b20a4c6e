/*
 * hers_api.h - HERS_API, the mark of a function that libhers.so exports.
 *
 * The library is compiled with -fvisibility=hidden: only functions declared
 * with HERS_API in the public headers (include/hers/) are part of the shared
 * library's ABI. Everything else, including library-internal functions with
 * a hers_ prefix, is hidden and may change at any time. The static library
 * (libhers.a) keeps the internal functions linkable for the project's own
 * tests, benchmarks and CLI. tests/cli_layers.sh checks that `nm -D` of
 * libhers.so shows exactly the HERS_API functions.
 */
#ifndef HERS_API_H
#define HERS_API_H

#if defined(__GNUC__) || defined(__clang__)
#define HERS_API __attribute__((visibility("default")))
#else
#define HERS_API
#endif

#endif /* HERS_API_H */
