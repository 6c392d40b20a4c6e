/* fuzz_query.c - libFuzzer target for hers_query_deserialize. The first
 * input byte selects a "fix-up" mode that writes the right parameter-set id
 * (and N, k, t, primes for galleries) into the header and re-seals the
 * checksum, so mutations reach the body checks behind them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_search.h"
#include "search/search_internal.h"

static hers_params *params(void)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hers_params *p = params();
    if (size < 1)
        return 0;
    int fix = data[0] & 1;
    size_t len = size - 1;
    uint8_t *b = malloc(len ? len : 1);
    if (!b)
        return 0;
    memcpy(b, data + 1, len);
    if (fix && len >= 64 + SE_CHECKSUM_BYTES) {
        memcpy(b + 16, p->id, HERS_PARAMS_ID_BYTES);
        if (!strcmp("query", "gallery") && len >= 232 + SE_CHECKSUM_BYTES) {
            se_put_u32(b + 48, (uint32_t)p->n);
            se_put_u32(b + 52, (uint32_t)p->k);
            se_put_u64(b + 56, p->t);
            for (size_t j = 0; j < HERS_MAX_PRIMES; j++)
                se_put_u64(b + 64 + 8 * j, j < p->k ? p->q[j].value : 0);
        }
        se_checksum(b, len - SE_CHECKSUM_BYTES, b + len - SE_CHECKSUM_BYTES);
    }
    hers_query *obj = NULL;
    if (hers_query_deserialize(p, b, len, &obj) == HERS_OK) {
        /* a valid object must serialise back to the same bytes */
        uint8_t *o = NULL;
        size_t ol = 0;
        if (hers_query_serialize(p, obj, &o, &ol) != HERS_OK || ol != len || memcmp(o, b, len) != 0)
            abort();
        hers_free(o);
    }
    hers_query_free(obj);
    free(b);
    return 0;
}
