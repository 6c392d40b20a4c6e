/* fuzz_labels.c - libFuzzer target: label files (text, .npy or IDX by magic). */
#include <stddef.h>
#include <stdint.h>

#include "hers/hers_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hers_labels l;
    if (hers_labels_parse(data, size, &l) == HERS_OK)
        hers_labels_free(&l);
    if (hers_labels_parse_text(data, size, &l) == HERS_OK) {
        if (l.count > size) /* every label takes at least one byte */
            __builtin_trap();
        hers_labels_free(&l);
    }
    return 0;
}
