/* serial_params.c - parameter-set records ("PARM").
 *
 * Body: u32 N | u32 k | u64 t | k x u64 primes | u32 security |
 *       u32 name length L (0..15) | L bytes of name (no NUL).
 * The header carries the set's id; the reader rebuilds the set through
 * hers_params_create (custom sets) or hers_params_create_named (named sets,
 * whose N, t, primes and security must then match the record) and checks
 * that the rebuilt id equals the header's.
 */
#include <string.h>

#include "bfv/serial_internal.h"
#include "hers/hers_mem.h"

#define NAME_MAX_LEN 15

static size_t params_body(size_t k, size_t name_len)
{
    return 4 + 4 + 8 + 8 * k + 4 + 4 + name_len;
}

hers_status hers_params_serialized_size(const hers_params *p, size_t *size)
{
    if (!p || !size)
        return hers_error(HERS_ERR_ARG, "params size: NULL argument");
    *size = ser_total(params_body(hers_params_num_primes(p), strlen(hers_params_name(p))));
    return HERS_OK;
}

hers_status hers_params_serialize(const hers_params *p, void *buf, size_t cap, size_t *written)
{
    if (!p || !buf)
        return hers_error(HERS_ERR_ARG, "params serialize: NULL argument");
    size_t k = hers_params_num_primes(p);
    const char *name = hers_params_name(p);
    size_t name_len = strlen(name);
    if (name_len > NAME_MAX_LEN)
        return hers_error(HERS_ERR_ARG, "params serialize: name too long");
    size_t body = params_body(k, name_len), total = ser_total(body);
    if (cap < total)
        return hers_error(HERS_ERR_ARG, "params serialize: buffer of %zu bytes, need %zu", cap,
                          total);
    uint8_t *b = buf;
    ser_header_write(b, HERS_OBJ_PARAMS, hers_params_id(p), body);
    uint8_t *q = b + HERS_SERIAL_HEADER_BYTES;
    hers_le_put_u32(q, (uint32_t)hers_params_n(p));
    hers_le_put_u32(q + 4, (uint32_t)k);
    hers_le_put_u64(q + 8, hers_params_t(p));
    q += 16;
    for (size_t i = 0; i < k; i++, q += 8)
        hers_le_put_u64(q, hers_params_prime(p, i));
    hers_le_put_u32(q, (uint32_t)hers_params_security(p));
    hers_le_put_u32(q + 4, (uint32_t)name_len);
    memcpy(q + 8, name, name_len);
    ser_seal(b, body);
    if (written)
        *written = total;
    return HERS_OK;
}

static int known_name(const char *name)
{
    const char *const *names = hers_params_names();
    for (size_t i = 0; names && names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

hers_status hers_params_deserialize(const void *buf, size_t len, hers_params **out)
{
    if (!out)
        return hers_error(HERS_ERR_ARG, "params: NULL output");
    *out = NULL;
    const uint8_t *body;
    size_t blen;
    hers_status st = ser_open(buf, len, HERS_OBJ_PARAMS, NULL, &body, &blen);
    if (st != HERS_OK)
        return st;
    if (blen < params_body(0, 0))
        return hers_error(HERS_ERR_FORMAT, "params: body too short");
    uint32_t n = hers_le_get_u32(body), k = hers_le_get_u32(body + 4);
    uint64_t t = hers_le_get_u64(body + 8);
    if (!ser_valid_n(n))
        return hers_error(HERS_ERR_FORMAT, "params: N = %u is not a power of two in 16..32768", n);
    if (k < 1 || k > HERS_MAX_PRIMES)
        return hers_error(HERS_ERR_FORMAT, "params: %u primes (1..%d allowed)", k, HERS_MAX_PRIMES);
    if (blen < params_body(k, 0))
        return hers_error(HERS_ERR_FORMAT, "params: body too short for %u primes", k);
    const uint8_t *q = body + 16 + 8 * (size_t)k;
    uint32_t sec = hers_le_get_u32(q), name_len = hers_le_get_u32(q + 4);
    if (sec != HERS_SEC_NONE && sec != HERS_SEC_128 && sec != HERS_SEC_192 && sec != HERS_SEC_256)
        return hers_error(HERS_ERR_FORMAT, "params: unknown security level %u", sec);
    if (name_len > NAME_MAX_LEN)
        return hers_error(HERS_ERR_FORMAT, "params: name of %u bytes (at most %d)", name_len,
                          NAME_MAX_LEN);
    if (blen != params_body(k, name_len))
        return hers_error(HERS_ERR_FORMAT, "params: body of %zu bytes, expected %zu", blen,
                          params_body(k, name_len));
    char name[NAME_MAX_LEN + 1];
    memcpy(name, q + 8, name_len);
    name[name_len] = '\0';
    for (uint32_t i = 0; i < name_len; i++)
        if (name[i] < 0x21 || name[i] > 0x7e)
            return hers_error(HERS_ERR_FORMAT, "params: name has a non-printable byte");

    hers_params_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.n = n;
    spec.t = t;
    spec.num_primes = k;
    spec.security = (hers_security)sec;
    for (uint32_t i = 0; i < k; i++) {
        spec.primes[i] = hers_le_get_u64(body + 16 + 8 * (size_t)i);
        if (spec.primes[i] < 2)
            return hers_error(HERS_ERR_FORMAT, "params: prime %u is %llu", i,
                              (unsigned long long)spec.primes[i]);
        spec.prime_bits[i] = hers_bitlen(spec.primes[i]);
    }

    hers_params *p = NULL;
    if (name_len) {
        if (!known_name(name))
            return hers_error(HERS_ERR_FORMAT, "params: unknown parameter-set name '%s'", name);
        st = hers_params_create_named(&p, name);
        if (st != HERS_OK)
            return ser_context_error(st, "params");
        int same = hers_params_n(p) == n && hers_params_t(p) == t &&
                   hers_params_num_primes(p) == k && hers_params_security(p) == (hers_security)sec;
        for (uint32_t i = 0; same && i < k; i++)
            same = hers_params_prime(p, i) == spec.primes[i];
        if (!same) {
            hers_params_free(p);
            return hers_error(HERS_ERR_FORMAT,
                              "params: record named '%s' differs from that named set", name);
        }
    } else {
        st = hers_params_create(&p, &spec);
        if (st != HERS_OK)
            return ser_context_error(st, "params");
    }
    if (memcmp(hers_params_id(p), (const uint8_t *)buf + 16, 32) != 0) {
        hers_params_free(p);
        return hers_error(HERS_ERR_FORMAT, "params: the id in the header does not match the set");
    }
    *out = p;
    return HERS_OK;
}

static hers_status params_ser(const hers_params *p, const void *o, void *b, size_t c, size_t *w)
{
    (void)o; /* the parameter set is the object */
    return hers_params_serialize(p, b, c, w);
}

static hers_status params_deser(const hers_params *p, const void *b, size_t len, void *out)
{
    (void)p; /* a parameter record stands alone */
    return hers_params_deserialize(b, len, out);
}

hers_status hers_params_write(const char *path, const hers_params *p)
{
    size_t size = 0;
    hers_status st = hers_params_serialized_size(p, &size);
    return st != HERS_OK ? st : ser_write_object(path, "params", size, 0, p, params_ser, p);
}

hers_status hers_params_read(const char *path, hers_params **out)
{
    if (out)
        *out = NULL;
    return ser_read_object(path, NULL, out, params_deser);
}
