/* fuzz_model.c - libFuzzer target for the reduction model reader
 * (hers_reduce_model_read_mem): any input must be rejected cleanly or
 * parsed into a model that serialises back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "hers/hers_reduce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hers_reduce_model *m = NULL;
    if (hers_reduce_model_read_mem(data, size, &m) != HERS_OK) {
        if (m)
            abort(); /* a failed read must not return a model */
        return 0;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    /* Same bytes back, except the checksum (not verified in fuzz builds). */
    if (hers_reduce_model_write_mem(m, &buf, &len) != HERS_OK || len != size || size < 32 ||
        memcmp(buf, data, size - 32) != 0)
        abort();
    hers_free(buf);
    /* Apply the model to one small input row: shapes must be consistent. */
    if (m->in_dim <= 4096) {
        hers_matrix x = {0}, z = {0};
        if (hers_matrix_alloc(&x, 2, m->in_dim) == HERS_OK) {
            for (size_t i = 0; i < 2 * m->in_dim; i++)
                x.data[i] = (float)(i % 7) - 3.0f;
            if (hers_reduce_apply(m, &x, &z) == HERS_OK && z.cols != m->out_dim)
                abort();
            hers_matrix_free(&z);
            hers_matrix_free(&x);
        }
    }
    hers_reduce_model_free(m);
    return 0;
}
