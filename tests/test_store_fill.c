/* test_store_fill.c - the kernel form a database snapshot builds in place
 * (hers_index_fill over the mapped segments, store_segments.c) against the
 * general path (each segment deserialised, hers_index_add_gallery into a
 * zero index), word for word, at every SIMD level the CPU has: wide (two
 * 50-bit primes) and narrow (three 30-bit primes, s4096's shape) sets,
 * secret- and public-key segments sharing blocks, segments of gallery
 * formats 1 (ChaCha20 expander, BLAKE2b) and 2 (AES-256-CTR, CRC-32) mixed
 * in one database (old databases stay readable and appendable; the key
 * holder's compaction rewrites them all in format 2), several
 * block ranges (the streamed chunks), and a residue out of range refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hers/hers_bfv.h"
#include "hers/hers_cpu.h"
#include "hers/hers_mem.h"
#include "hers/hers_store.h"
#include "search/search_internal.h"
#include "search/search_merge.h"
#include "store/store_internal.h"
#include "support/check.h"

#define D 5

static void rows(int32_t *v, size_t n)
{
    for (size_t i = 0; i < n * D; i++)
        v[i] = (int32_t)(test_rand() % 41) - 20;
}

/* The general path: zero index + every overlapping segment added. */
static hers_index *oracle(hers_store_snapshot *s, store_segref *segs, size_t nseg, size_t b0,
                          size_t nb)
{
    hers_store *db = s->db;
    size_t N = hers_params_n(db->p);
    uint64_t n = s->st.next_slot - (uint64_t)b0 * N;
    if (n > (uint64_t)nb * N)
        n = (uint64_t)nb * N;
    hers_index *ix = NULL;
    CHECK_OK(hers_index_zero(db->p, HERS_MODE_BOTH_ENCRYPTED, (size_t)n, D, &ix));
    for (size_t i = 0; ix && i < nseg; i++) {
        uint64_t sb = segs[i].h.first_block, se = sb + store_seg_blocks(db, &segs[i].h);
        uint64_t lo = b0, hi = b0 + nb, a = sb > lo ? sb : lo, b = se < hi ? se : hi;
        if (a >= b)
            continue;
        hers_gallery *g = NULL;
        CHECK_OK(hers_gallery_deserialize(db->p, segs[i].h.gallery, (size_t)segs[i].h.gallery_len,
                                          &g));
        if (g)
            CHECK_OK(hers_index_add_gallery(db->p, ix, (size_t)(a - lo), g, (size_t)(a - sb),
                                            (size_t)(b - a), 2));
        hers_gallery_free(g);
    }
    return ix;
}

static void run(const char *name, const hers_params_spec *spec)
{
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    CHECK_OK(hers_params_create(&p, spec));
    CHECK_OK(hers_keygen_secret(p, &sk));
    CHECK_OK(hers_keygen_public(p, sk, &pk));
    char dir[] = "/tmp/hers_test_fill_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[300];
    snprintf(path, sizeof path, "%s/db", dir);
    CHECK_OK(hers_store_create(path, p, pk, NULL, NULL, 0));
    hers_store *db = NULL;
    CHECK_OK(hers_store_open(path, 0, &db));
    size_t N = hers_params_n(p);
    /* segments sharing blocks: secret key, public key, a large one cut into
     * several segments */
    size_t sizes[] = {N / 3, N / 2 + 7, 2, 5 * N + 11, N - 1};
    int32_t *v = malloc((5 * N + 11) * D * sizeof *v);
    hers_store_enroll_opts o;
    hers_store_enroll_opts_default(&o);
    o.threads = 2;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        rows(v, sizes[k]);
        o.format = k == 1 || k == 2 ? 1 : 0;   /* pk and sk segments of format 1 */
        CHECK_OK(hers_store_enroll(db, k % 2 ? NULL : sk, k % 2 ? pk : NULL, v, sizes[k], D, NULL,
                                &o, NULL));
    }
    free(v);
    hers_store_snapshot *s = NULL;
    CHECK_OK(hers_store_snapshot_open(db, &s));
    store_segref *segs = NULL;
    size_t nseg = 0;
    CHECK_OK(store_segments_list(s, &segs, &nseg));
    size_t blocks = hers_store_snapshot_blocks(s);
    fprintf(stderr, "  %s: %zu segments over %zu blocks\n", name, nseg, blocks);
    CHECK(nseg >= 5);
    int formats[3] = {0, 0, 0};
    for (size_t i = 0; i < nseg; i++) {
        formats[segs[i].g.version < 3 ? segs[i].g.version : 0]++;
        CHECK(hers_gallery_ref_checksum_ok(&segs[i].g));
    }
    CHECK(formats[1] == 2 && formats[2] == (int)nseg - 2);
    size_t ranges[][2] = {{0, blocks}, {0, 1}, {1, 2}, {blocks - 1, 1}, {2, blocks - 2}};
    for (int lv = HERS_SIMD_PORTABLE; lv <= (int)hers_cpu_max_simd(); lv++) {
        CHECK_OK(hers_simd_set((hers_simd)lv));
        for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++) {
            size_t b0 = ranges[r][0], nb = ranges[r][1];
            hers_index *want = oracle(s, segs, nseg, b0, nb), *got = NULL;
            CHECK_OK(hers_index_zero(p, HERS_MODE_BOTH_ENCRYPTED, want ? want->n : 1, D, &got));
            if (!want || !got)
                break;
            /* stale words from an earlier fill must not survive */
            memset(got->data, 0x5a, hers_index_bytes(got));
            CHECK_OK(store_segments_index(s, segs, nseg, b0, nb, 2, 1, got));
            CHECK(memcmp(got->data, want->data, hers_index_bytes(want)) == 0);
            hers_index_free(want);
            hers_index_free(got);
        }
    }
    CHECK_OK(hers_simd_set(hers_cpu_max_simd()));
    /* a residue >= q in a segment's c0 is refused (no checksum check) */
    hers_index *ix = NULL;
    CHECK_OK(hers_index_zero(p, HERS_MODE_BOTH_ENCRYPTED, N, D, &ix));
    uint8_t *copy = malloc(segs[0].h.gallery_len);
    memcpy(copy, segs[0].h.gallery, segs[0].h.gallery_len);
    hers_gallery_ref bad;
    CHECK_OK(hers_gallery_ref_parse(p, copy, (size_t)segs[0].h.gallery_len, &bad));
    memset((uint8_t *)bad.recs + HERS_SEED_BYTES, 0xff, 8);   /* first residues all ones */
    hers_index_part part = {&bad, 0, 0, 1};
    CHECK(hers_index_fill(p, ix, &part, 1, 1) == HERS_ERR_FORMAT);
    CHECK(!hers_gallery_ref_checksum_ok(&bad));
    /* format 1's BLAKE2b catches a flipped bit too */
    CHECK(segs[1].g.version == 1);
    uint8_t *c1 = malloc(segs[1].h.gallery_len);
    memcpy(c1, segs[1].h.gallery, segs[1].h.gallery_len);
    CHECK_OK(hers_gallery_ref_parse(p, c1, (size_t)segs[1].h.gallery_len, &bad));
    CHECK(hers_gallery_ref_checksum_ok(&bad));
    c1[segs[1].h.gallery_len / 2] ^= 4;
    CHECK(!hers_gallery_ref_checksum_ok(&bad));
    free(c1);
    free(copy);
    hers_index_free(ix);
    free(segs);
    hers_store_snapshot_close(s);
    /* the upgrade path: the key holder's compaction re-encrypts every live
     * template into format-2 segments; the fill still equals the oracle */
    hers_store_compact_stats cs;
    CHECK_OK(hers_store_compact(db, sk, 2, &cs));
    CHECK_OK(hers_store_snapshot_open(db, &s));
    CHECK_OK(store_segments_list(s, &segs, &nseg));
    int all2 = nseg > 0;
    for (size_t i = 0; i < nseg; i++)
        all2 &= segs[i].g.version == 2;
    CHECK(all2);
    blocks = hers_store_snapshot_blocks(s);
    hers_index *want = oracle(s, segs, nseg, 0, blocks), *got = NULL;
    CHECK_OK(hers_index_zero(p, HERS_MODE_BOTH_ENCRYPTED, want ? want->n : 1, D, &got));
    if (want && got) {
        CHECK_OK(store_segments_index(s, segs, nseg, 0, blocks, 2, 1, got));
        CHECK(memcmp(got->data, want->data, hers_index_bytes(want)) == 0);
    }
    hers_index_free(want);
    hers_index_free(got);
    free(segs);
    hers_store_snapshot_close(s);
    hers_store_close(db);
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
    hers_params_free(p);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void count_problem(void *user, const char *problem)
{
    fprintf(stderr, "  problem: %s\n", problem);
    ++*(uint64_t *)user;
}

/* Ids in key order past every stored id are appended (no lookups); a clash
 * or an id sorting before the last one takes the general path. */
static void catalog_append(void)
{
    hers_params *p = NULL;
    hers_secret_key *sk = NULL;
    hers_public_key *pk = NULL;
    hers_params_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = 64;
    spec.t = 1032193;
    spec.num_primes = 2;
    spec.prime_bits[0] = spec.prime_bits[1] = 50;
    spec.q_one_mod_t = 1;
    spec.security = HERS_SEC_NONE;
    CHECK_OK(hers_params_create(&p, &spec));
    CHECK_OK(hers_keygen_secret(p, &sk));
    CHECK_OK(hers_keygen_public(p, sk, &pk));
    char dir[] = "/tmp/hers_test_fill_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[300];
    snprintf(path, sizeof path, "%s/db", dir);
    CHECK_OK(hers_store_create(path, p, pk, NULL, NULL, 0));
    hers_store *db = NULL;
    CHECK_OK(hers_store_open(path, 0, &db));
    int32_t v[20 * D];
    rows(v, 20);
    char buf[20][8];
    const char *ids[20];
    for (int i = 0; i < 20; i++) {
        snprintf(buf[i], sizeof buf[i], "k%03d", i);
        ids[i] = buf[i];
    }
    hers_store_enroll_opts o;
    hers_store_enroll_opts_default(&o);
    CHECK_OK(hers_store_enroll(db, sk, NULL, v, 10, D, ids, &o, NULL));        /* empty table */
    CHECK_OK(hers_store_enroll(db, sk, NULL, v, 10, D, ids + 10, &o, NULL));   /* appended */
    const char *clash[2] = {"k019", "k020"}, *before[2] = {"j5", "k0051"};
    CHECK(hers_store_enroll(db, sk, NULL, v, 2, D, clash, &o, NULL) == HERS_ERR_EXISTS);
    CHECK_OK(hers_store_enroll(db, sk, NULL, v, 2, D, before, &o, NULL));     /* general path */
    hers_store_info in;
    CHECK_OK(hers_store_get_info(db, &in));
    CHECK(in.live == 22 && in.next_slot == 22);
    uint64_t problems = 0, reported = 0;
    CHECK_OK(hers_store_check(db, count_problem, &reported, &problems));
    CHECK(problems == 0 && reported == 0);
    hers_store_snapshot *s = NULL;
    CHECK_OK(hers_store_snapshot_open(db, &s));
    CHECK(s && hers_store_snapshot_id(s, 13) && !strcmp(hers_store_snapshot_id(s, 13), "k013"));
    CHECK(s && hers_store_snapshot_id(s, 21) && !strcmp(hers_store_snapshot_id(s, 21), "k0051"));
    hers_store_snapshot_close(s);
    hers_store_close(db);
    hers_secret_key_free(sk);
    hers_public_key_free(pk);
    hers_params_free(p);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* The state record's packing field (offset 60): 0 (every database made
 * before the field existed) reads as slot, 1 as coeff, 2 (auto) only before
 * the first enrolment, anything else is refused by name. */
static void state_packing(void)
{
    struct hers_store db;
    memset(&db, 0, sizeof db);
    db.dir = (char *)"state";
    store_state s, back;
    memset(&s, 0, sizeof s);
    s.has_gallery = 1;
    s.scale = 125;
    s.d = 64;
    uint8_t b[STORE_STATE_BYTES];
    const struct { uint32_t packing, has_gallery; hers_status want; } cases[] = {
        {HERS_PACK_SLOT, 1, HERS_OK}, {HERS_PACK_COEFF, 1, HERS_OK}, {HERS_PACK_AUTO, 0, HERS_OK},
        {HERS_PACK_AUTO, 1, HERS_ERR_FORMAT}, {3, 0, HERS_ERR_FORMAT}, {0xffffffffu, 1, HERS_ERR_FORMAT}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s.packing = cases[i].packing;
        s.has_gallery = cases[i].has_gallery;
        if (!s.has_gallery)
            s.d = s.scale = 0;
        store_state_encode(&s, b);
        CHECK(hers_le_get_u32(b + 60) == cases[i].packing);
        hers_status st = store_state_decode(&db, b, sizeof b, &back);
        CHECK(st == cases[i].want);
        if (st == HERS_OK)
            CHECK(back.packing == cases[i].packing);
        else
            CHECK(strstr(hers_last_error(), "packing") != NULL);
    }
}

int main(void)
{
    state_packing();
    (void)test_seed();
    hers_params_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = 1024;
    spec.t = 1032193;
    spec.num_primes = 2;
    spec.prime_bits[0] = spec.prime_bits[1] = 50;
    spec.q_one_mod_t = 1;
    spec.security = HERS_SEC_NONE;
    run("wide (2 x 50-bit primes)", &spec);
    hers_params *s4096 = NULL;
    CHECK_OK(hers_params_create_named(&s4096, "s4096"));
    memset(&spec, 0, sizeof spec);
    spec.n = 1024;
    spec.t = hers_params_t(s4096);
    spec.num_primes = 3;
    spec.prime_bits[0] = spec.prime_bits[1] = spec.prime_bits[2] = 30;
    spec.q_one_mod_t = HERS_Q_PRODUCT_ONE_MOD_T;
    spec.security = HERS_SEC_NONE;
    hers_params_free(s4096);
    run("narrow (3 x 30-bit primes)", &spec);
    catalog_append();
    return test_finish();
}
