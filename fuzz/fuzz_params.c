/* fuzz_params.c - libFuzzer target: hers_params_deserialize (which rebuilds
 * the set through hers_params_create / hers_params_create_named). */
#include "serial_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_params(const hers_params *toy, const uint8_t *data, size_t size)
{
    (void)toy;
    hers_params *p = NULL;
    if (hers_params_deserialize(data, size, &p) == HERS_OK) {
        size_t sz = 0;
        uint8_t *b = NULL;
        if (!p || hers_params_serialized_size(p, &sz) != HERS_OK || sz != size ||
            !(b = malloc(sz)) || hers_params_serialize(p, b, sz, NULL) != HERS_OK ||
            memcmp(b, data, sz) != 0)
            abort();
        free(b);
    }
    hers_params_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The id is left as is: it must match the rebuilt set. */
    fuzz_run(data, size, read_params, 0);
    return 0;
}
