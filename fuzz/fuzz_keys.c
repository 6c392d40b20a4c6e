/* fuzz_keys.c - libFuzzer target: the secret, public, relinearisation and
 * Galois key readers (each input is offered to all four; the tag selects one). */
#include "serial_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_keys(const hers_params *p, const uint8_t *data, size_t size)
{
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_relin_key *rk = NULL;
    if (hers_secret_key_deserialize(p, data, size, &sk) == HERS_OK) {
        size_t sz = 0;
        uint8_t *b = NULL;
        if (hers_secret_key_serialized_size(p, &sz) != HERS_OK || sz != size ||
            !(b = malloc(sz)) || hers_secret_key_serialize(p, sk, b, sz, NULL) != HERS_OK ||
            memcmp(b, data, sz) != 0)
            abort();
        free(b);
    }
    if (hers_public_key_deserialize(p, data, size, &pk) == HERS_OK) {
        size_t sz = 0;
        uint8_t *b = NULL;
        if (hers_public_key_serialized_size(p, pk, &sz) != HERS_OK || sz != size ||
            !(b = malloc(sz)) || hers_public_key_serialize(p, pk, b, sz, NULL) != HERS_OK ||
            memcmp(b, data, sz) != 0)
            abort();
        free(b);
    }
    if (hers_relin_key_deserialize(p, data, size, &rk) == HERS_OK) {
        size_t sz = 0;
        uint8_t *b = NULL;
        if (hers_relin_key_serialized_size(p, rk, &sz) != HERS_OK || sz != size ||
            !(b = malloc(sz)) || hers_relin_key_serialize(p, rk, b, sz, NULL) != HERS_OK ||
            memcmp(b, data, sz) != 0)
            abort();
        free(b);
    }
    hers_galois_key *gk = NULL;
    if (hers_galois_key_deserialize(p, data, size, &gk) == HERS_OK) {
        size_t sz = 0;
        uint8_t *b = NULL;
        if (hers_galois_key_serialized_size(p, gk, &sz) != HERS_OK || sz != size ||
            !(b = malloc(sz)) || hers_galois_key_serialize(p, gk, b, sz, NULL) != HERS_OK ||
            memcmp(b, data, sz) != 0)
            abort();
        free(b);
    }
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
    hers_relin_key_free(rk);
    hers_galois_key_free(gk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(data, size, read_keys, 1);
    return 0;
}
