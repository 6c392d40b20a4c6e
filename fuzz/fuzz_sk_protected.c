/* fuzz_sk_protected.c - libFuzzer target: the passphrase-protected
 * secret-key envelope parser (hers_secret_key_protected_peek and
 * hers_secret_key_unseal), toy parameter set (N = 64).
 *
 * Each input is offered as is, then "resealed" (sealed-size field set to
 * match the length, parameter id set to the toy set's, checksum recomputed)
 * so mutations reach the parser past the checksum. The KDF runs only when the
 * stored cost is the minimum (opslimit 1, memlimit <= 64 KiB): the seeds use
 * that cost, so the decryption and the inner record parser are fuzzed too,
 * while a mutated cost field is checked by peek without paying for Argon2. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/support/serial_toy.h"
#include "bfv/serial_internal.h"
#include "hers/hers_serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const hers_params *toy(void)
{
    static hers_params *p;
    if (!p && serial_toy_params(&p) != HERS_OK)
        abort();
    return p;
}

static void parse(const uint8_t *data, size_t size)
{
    hers_pwhash_cost c;
    if (hers_secret_key_protected_peek(data, size, &c) != HERS_OK)
        return;
    if (c.opslimit != 1 || c.memlimit > 65536)
        return;
    hers_secret_key *sk = NULL;
    /* The seeds' passphrase, so that valid seeds open. */
    if (hers_secret_key_unseal(toy(), data, size, "fuzz", 4, &sk) == HERS_OK && !sk)
        abort();
    hers_secret_key_free(sk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse(data, size);
    const size_t overhead = HERS_SKPW_HEADER_BYTES + 32;
    if (size < overhead + 16 || size > ((size_t)1 << 20))
        return 0;
    uint8_t *c = malloc(size);
    if (!c)
        return 0;
    memcpy(c, data, size);
    hers_le_put_u64(c + 104, size - overhead);
    memcpy(c + 72, hers_params_id(toy()), 32);
    crypto_generichash(c + size - 32, 32, c, size - 32, NULL, 0);
    parse(c, size);
    free(c);
    return 0;
}
