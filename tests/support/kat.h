/*
 * kat.h - known-answer transcripts shared by the tests that keep one under
 * tests/kat/: lines "label hex-hash", built once per SIMD level (every level
 * must give the same lines), then compared with the file, or written to it
 * when HERS_KAT_WRITE is set (only after an intended change of an algorithm,
 * said so in the commit).
 */
#ifndef HERS_TEST_KAT_H
#define HERS_TEST_KAT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes per transcript line, with its NUL: a label and 64 hex digits. */
#define TEST_KAT_WIDTH 160

typedef char test_kat_line[TEST_KAT_WIDTH];

/* "label <hex of h[0..len)>" into line (truncated to TEST_KAT_WIDTH). */
void test_kat_format(test_kat_line line, const char *label, const uint8_t *h, size_t len);

/* The transcript of this SIMD level against the first level's: on the
 * first call (*have == 0) copies lines into ref and sets *have; afterwards
 * CHECKs that lines equal ref line by line. */
void test_kat_same_level(test_kat_line *ref, size_t *nref, int *have, const test_kat_line *lines,
                         size_t n);

/* Compares lines with tests/kat/<file> ($HERS_TEST_DATA/kat/<file> when
 * set; '#' lines are comments), one CHECK per line and one for the count;
 * with HERS_KAT_WRITE set, writes "# <header>" and the lines instead. */
void test_kat_file(const char *file, const char *header, const test_kat_line *lines, size_t n);

#endif
