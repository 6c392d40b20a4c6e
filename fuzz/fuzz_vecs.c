/* fuzz_vecs.c - libFuzzer target: .fvecs / .bvecs / .ivecs / raw from memory. */
#include <stddef.h>
#include <stdint.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hers_matrix m;
    hers_imatrix im;
    if (hers_fvecs_parse(data, size, &m) == HERS_OK) {
        uint8_t *buf;
        size_t len;
        /* fvecs re-encodes byte for byte. */
        if (hers_fvecs_encode(&m, &buf, &len) == HERS_OK) {
            if (len != size)
                __builtin_trap();
            hers_free(buf);
        }
        hers_matrix_free(&m);
    }
    if (hers_bvecs_parse(data, size, &m) == HERS_OK)
        hers_matrix_free(&m);
    if (hers_ivecs_parse(data, size, &im) == HERS_OK)
        hers_imatrix_free(&im);
    if (hers_matrix_parse(HERS_FMT_IVECS, data, size, 0, &m) == HERS_OK)
        hers_matrix_free(&m);
    size_t dim = size ? (size_t)data[0] : 0; /* 0 exercises the argument check */
    if (hers_raw_parse(data, size, dim, &m) == HERS_OK)
        hers_matrix_free(&m);
    return 0;
}
