/* fuzz_ciphertext.c - libFuzzer target: hers_ciphertext_deserialize. */
#include "serial_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_ct(const hers_params *p, const uint8_t *data, size_t size)
{
    hers_ciphertext ct;
    if (hers_ciphertext_deserialize(p, data, size, &ct) == HERS_OK) {
        /* A ciphertext that was accepted must re-serialise to the same bytes. */
        size_t sz = 0, wr = 0;
        if (hers_ciphertext_serialized_size(p, &ct, &sz) != HERS_OK || sz != size)
            abort();
        uint8_t *b = malloc(sz);
        if (!b || hers_ciphertext_serialize(p, &ct, b, sz, &wr) != HERS_OK || wr != sz ||
            memcmp(b, data, sz) != 0)
            abort();
        free(b);
    }
    hers_ciphertext_free(&ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(data, size, read_ct, 1);
    return 0;
}
