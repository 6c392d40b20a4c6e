/*
 * serial_fuzz.h - shared part of the serialisation fuzz targets
 * (fuzz_params.c, fuzz_keys.c, fuzz_plaintext.c, fuzz_ciphertext.c).
 *
 * The toy parameter set (tests/support/serial_toy.h, N = 64) is created once.
 * Each input is given to the reader twice: as is (header, length and
 * checksum checks), and "resealed": the body-size field set to match the
 * input length, the parameter-set id set to the toy set's, and a fresh
 * checksum, so that mutations reach the body parsers past the checksum.
 */
#ifndef HERS_SERIAL_FUZZ_H
#define HERS_SERIAL_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/support/serial_toy.h"
#include "bfv/serial_internal.h"
#include "hers/hers_serial.h"

static const hers_params *fuzz_toy_params(void)
{
    static hers_params *p;
    if (!p && serial_toy_params(&p) != HERS_OK)
        abort();
    return p;
}

typedef void (*fuzz_reader)(const hers_params *p, const uint8_t *data, size_t size);

static void fuzz_run(const uint8_t *data, size_t size, fuzz_reader rd, int fix_id)
{
    const hers_params *p = fuzz_toy_params();
    rd(p, data, size);
    const size_t overhead = HERS_SERIAL_HEADER_BYTES + HERS_SERIAL_CHECKSUM_BYTES;
    if (size < overhead || size > ((size_t)1 << 22))
        return;
    uint8_t *c = malloc(size);
    if (!c)
        return;
    memcpy(c, data, size);
    hers_le_put_u64(c + 48, size - overhead);
    if (fix_id)
        memcpy(c + 16, hers_params_id(p), 32);
    ser_seal(c, size - overhead);
    rd(p, c, size);
    free(c);
}

#endif
