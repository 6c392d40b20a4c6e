/* fuzz_store_records.c - libFuzzer target for the gallery database's own
 * records (src/store): the state record and the segment header decoders
 * (version 1: payload inline; version 2: offset and length into a 64 KiB
 * segments.dat made once in a temporary directory, checked against its
 * size).
 * The first input byte selects the record and whether its BLAKE2b-256 is
 * re-sealed (so mutations reach the field checks behind the checksum).
 * LMDB's B-tree pages are LMDB's; they are covered by the corruption test
 * (tests/cli_store.sh). */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hers/hers_mem.h"
#include "store/store_internal.h"

static hers_params *params(void)
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

#define PAY_FILE_BYTES 65536

/* A read-only handle on a directory holding only segments.dat. */
static struct hers_store *fake_db(void)
{
    static struct hers_store db;
    static char dir[] = "/tmp/hers_fuzz_store_XXXXXX";
    if (!db.p) {
        char path[64];
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof path, "%s/segments.dat", dir);
        FILE *f = fopen(path, "wb");
        for (int i = 0; f && i < PAY_FILE_BYTES; i++)
            fputc(i & 255, f);
        if (!f || fclose(f) != 0)
            abort();
        db.p = params();
        db.dir = dir;
        db.readonly = 1;
        if (store_payload_init(&db) != HERS_OK)
            abort();
    }
    return &db;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct hers_store db = *fake_db();
    int which = data[0] & 1, seal = (data[0] >> 1) & 1;
    size_t len = size - 1;
    uint8_t *b = malloc(len ? len : 1);
    if (!b)
        return 0;
    memcpy(b, data + 1, len);
    if (which == 0) {
        if (seal && len == STORE_STATE_BYTES)
            crypto_generichash(b + STORE_STATE_BODY, STORE_HASH, b, STORE_STATE_BODY, NULL, 0);
        store_state s;
        if (store_state_decode(&db, b, len, &s) == HERS_OK) {
            /* a decoded state re-encodes to the same bytes */
            uint8_t again[STORE_STATE_BYTES];
            store_state_encode(&s, again);
            if (memcmp(again, b, STORE_STATE_BYTES) != 0 && !seal)
                abort();
        }
    } else {
        if (seal && len >= STORE_SEG_HEADER)
            crypto_generichash(b + STORE_SEG_BODY, STORE_HASH, b, STORE_SEG_BODY, NULL, 0);
        MDB_val v = {len, b};
        store_seg sg;
        if (store_seg_decode(&db, 0, &v, &sg) == HERS_OK) {
            if (!sg.external &&
                (sg.gallery != b + STORE_SEG_HEADER || STORE_SEG_HEADER + sg.gallery_len != len))
                abort();
            /* version 2: a view inside the file, never past its end */
            if (sg.external &&
                (len != STORE_SEG_HEADER || sg.payload_off + sg.gallery_len > PAY_FILE_BYTES ||
                 sg.gallery != store_payload_map(&db) + sg.payload_off ||
                 sg.gallery[sg.gallery_len - 1] != (uint8_t)((sg.payload_off + sg.gallery_len - 1) & 255)))
                abort();
        }
    }
    free(b);
    return 0;
}
