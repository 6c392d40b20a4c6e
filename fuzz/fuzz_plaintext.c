/* fuzz_plaintext.c - libFuzzer target: hers_plaintext_deserialize. */
#include "serial_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_pt(const hers_params *p, const uint8_t *data, size_t size)
{
    hers_plaintext pt;
    if (hers_plaintext_deserialize(p, data, size, &pt) == HERS_OK) {
        size_t sz = 0, wr = 0;
        if (hers_plaintext_serialized_size(p, &sz) != HERS_OK || sz != size)
            abort();
        uint8_t *b = malloc(sz);
        if (!b || hers_plaintext_serialize(p, &pt, b, sz, &wr) != HERS_OK ||
            memcmp(b, data, sz) != 0)
            abort();
        free(b);
    }
    hers_plaintext_free(&pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_run(data, size, read_pt, 1);
    return 0;
}
