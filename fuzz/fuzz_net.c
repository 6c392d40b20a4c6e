/* fuzz_net.c - libFuzzer target for the service's request and response
 * decoders (hers_net.h): the first byte picks hers_net_init_decode,
 * hers_net_enroll_decode, hers_net_response_decode and
 * hers_net_catalog_decode (then decrypt-free accessors, attaching the
 * catalog to the response, re-encoding the catalog) or hers_json_get on
 * the rest. In fuzz builds the records'
 * checksums are not enforced, so mutations reach the field checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_net.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *b = data + 1;
    size_t len = size - 1;
    switch (data[0] % 4) {
    case 0: {
        hers_net_init in;
        if (hers_net_init_decode(b, len, &in) == HERS_OK)
            hers_net_init_free(&in);
        break;
    }
    case 1: {
        hers_net_enroll e;
        if (hers_net_enroll_decode(b, len, &e) == HERS_OK) {
            for (size_t i = 0; e.ids && i < e.m; i++)
                if (strlen(e.ids[i]) == 0)
                    abort();
            if (e.record + e.record_len > b + len)
                abort();
            hers_net_enroll_free(&e);
        }
        break;
    }
    case 2: {
        /* the same bytes as a response (HERSRSP v1 / v2) and as a catalog
         * (HERSCAT); the halves as the other when both decode */
        hers_net_response *r = NULL;
        hers_net_catalog *c = NULL;
        if (hers_net_response_decode(fuzz_params(), b, len, &r) != HERS_OK)
            r = NULL;
        if (hers_net_catalog_decode(b, len, &c) != HERS_OK)
            c = NULL;
        if (!r && !c && len > 1) {
            hers_net_response_decode(fuzz_params(), b, len / 2, &r);
            hers_net_catalog_decode(b + len / 2, len - len / 2, &c);
        }
        if (c) {
            for (size_t i = 0; i < hers_net_catalog_live(c); i++)
                if (!hers_net_catalog_id(c, i))
                    abort();
            uint8_t *e = NULL;
            size_t el = 0;
            if (hers_net_catalog_encode(c, &e, &el) == HERS_OK) {
                hers_net_catalog *c2 = NULL;
                if (hers_net_catalog_decode(e, el, &c2) != HERS_OK ||
                    hers_net_catalog_live(c2) != hers_net_catalog_live(c) ||
                    hers_net_catalog_version(c2) != hers_net_catalog_version(c))
                    abort();   /* what the encoder writes, the decoder reads */
                hers_net_catalog_free(c2);
                free(e);
            }
        }
        if (r) {
            if (c && hers_net_response_attach_catalog(r, c) == HERS_OK &&
                !hers_net_response_has_catalog(r))
                abort();
            if (hers_net_response_has_catalog(r))
                for (size_t i = 0; i < hers_net_response_live(r); i++)
                    if (!hers_net_response_id(r, i))
                        abort();
            hers_net_response_free(r);
        }
        hers_net_catalog_free(c);
        break;
    }
    default: {
        char out[64];
        char *s = malloc(len ? len : 1);
        if (!s)
            return 0;
        memcpy(s, b, len);
        hers_json_get(s, len, "error", out, sizeof out);
        hers_json_get(s, len, "d", out, sizeof out);
        free(s);
        break;
    }
    }
    return 0;
}
