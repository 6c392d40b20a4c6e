/* fuzz_idx.c - libFuzzer target: IDX images and labels (plain or gzip). */
#include <stddef.h>
#include <stdint.h>

#include "hers/hers_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hers_matrix m;
    hers_labels l;
    size_t h, w;
    if (hers_idx_parse_images(data, size, &m, &h, &w) == HERS_OK) {
        if (h * w != m.cols)
            __builtin_trap();
        for (size_t i = 0; i < m.rows * m.cols; i++)
            if (!(m.data[i] >= 0.0f && m.data[i] <= 1.0f))
                __builtin_trap();
        hers_matrix_free(&m);
    }
    if (hers_idx_parse_labels(data, size, &l) == HERS_OK)
        hers_labels_free(&l);
    return 0;
}
