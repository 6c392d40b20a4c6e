/* fuzz_npy.c - libFuzzer target: .npy matrices and labels from memory. */
#include <stddef.h>
#include <stdint.h>

#include "hers/hers_io.h"
#include "hers/hers_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hers_matrix m;
    hers_labels l;
    if (hers_npy_parse(data, size, &m) == HERS_OK) {
        /* A parsed matrix re-encodes and parses back to the same shape. */
        uint8_t *buf;
        size_t len;
        if (hers_npy_encode(&m, &buf, &len) == HERS_OK) {
            hers_matrix b;
            if (hers_npy_parse(buf, len, &b) != HERS_OK || b.rows != m.rows || b.cols != m.cols)
                __builtin_trap();
            hers_matrix_free(&b);
            hers_free(buf);
        }
        hers_matrix_free(&m);
    }
    if (hers_npy_parse_labels(data, size, &l) == HERS_OK)
        hers_labels_free(&l);
    return 0;
}
