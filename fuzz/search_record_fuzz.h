/* search_record_fuzz.h - the libFuzzer target shared by the search layer's
 * records (gallery file, query, result): HERS_SEARCH_RECORD_FUZZER(name,
 * fix_geometry) defines LLVMFuzzerTestOneInput for hers_<name>_deserialize.
 * The first input byte selects a "fix-up" mode that writes the right
 * parameter-set id (and, when fix_geometry, the N, k, t and primes a gallery
 * header repeats) into the header and re-seals the checksum (a gallery's
 * by its format version: BLAKE2b for 1, CRC-32 for 2), so mutations
 * reach the body checks behind them. An accepted record must serialise back
 * to the same bytes. */
#ifndef HERS_SEARCH_RECORD_FUZZ_H
#define HERS_SEARCH_RECORD_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_search.h"
#include "bfv/bfv_internal.h"
#include "search/search_internal.h"

static hers_params *fuzz_params(void)
{
    static hers_params *p;
    if (!p) {
        hers_params_spec s;
        memset(&s, 0, sizeof s);
        s.n = 1024;
        s.t = 1032193;
        s.num_primes = 2;
        s.prime_bits[0] = s.prime_bits[1] = 50;
        s.q_one_mod_t = 1;
        s.security = HERS_SEC_NONE;
        if (hers_params_create(&p, &s) != HERS_OK)
            abort();
    }
    return p;
}

/* Copies the input after the mode byte into a fresh buffer and applies the
 * fix-up; returns NULL for an empty input. */
static uint8_t *fuzz_prepare(const hers_params *p, const uint8_t *data, size_t size,
                             int fix_geometry, size_t *len_out)
{
    if (size < 1)
        return NULL;
    int fix = data[0] & 1;
    size_t len = size - 1;
    uint8_t *b = malloc(len ? len : 1);
    if (!b)
        return NULL;
    memcpy(b, data + 1, len);
    if (fix && len >= 64 + SE_CHECKSUM_BYTES) {
        memcpy(b + 16, p->id, HERS_PARAMS_ID_BYTES);
        if (fix_geometry && len >= 232 + SE_CHECKSUM_BYTES) {
            hers_le_put_u32(b + 48, (uint32_t)p->n);
            hers_le_put_u32(b + 52, (uint32_t)p->k);
            hers_le_put_u64(b + 56, p->t);
            for (size_t j = 0; j < HERS_MAX_PRIMES; j++)
                hers_le_put_u64(b + 64 + 8 * j, j < p->k ? p->q[j].value : 0);
        }
        if (fix_geometry)   /* gallery: the trailer of its format version */
            gal_checksum(hers_le_get_u32(b + 8), b, len - SE_CHECKSUM_BYTES,
                         b + len - SE_CHECKSUM_BYTES);
        else if (memcmp(b, "HERSRES", 8) == 0)   /* result: by its version */
            res_seal(b, len);
        else
            se_checksum(b, len - SE_CHECKSUM_BYTES, b + len - SE_CHECKSUM_BYTES);
    }
    *len_out = len;
    return b;
}

#define HERS_SEARCH_RECORD_FUZZER(name, fix_geometry)                                      \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                          \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                           \
    {                                                                                      \
        hers_params *p = fuzz_params();                                                    \
        size_t len = 0;                                                                    \
        uint8_t *b = fuzz_prepare(p, data, size, fix_geometry, &len);                      \
        if (!b)                                                                            \
            return 0;                                                                      \
        hers_##name *obj = NULL;                                                           \
        if (hers_##name##_deserialize(p, b, len, &obj) == HERS_OK) {                       \
            uint8_t *o = NULL;                                                             \
            size_t ol = 0;                                                                 \
            if (hers_##name##_serialize(p, obj, &o, &ol) != HERS_OK || ol != len ||        \
                memcmp(o, b, len) != 0)                                                    \
                abort();                                                                   \
            hers_free(o);                                                                  \
        }                                                                                  \
        hers_##name##_free(obj);                                                           \
        free(b);                                                                           \
        return 0;                                                                          \
    }

#endif
