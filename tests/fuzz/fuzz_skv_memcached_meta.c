/* fuzz_skv_memcached_meta — what the memcached meta-protocol driver
 * (modules/session_kv/skv_memcached_meta.c) makes of the bytes a server sends: the driver reads
 * its connection through skv_memcached_meta_reply(), which this target feeds any bytes, whole
 * and cut at a point, as reads from a connection cut them.
 *
 * Input: one byte (the operation, skv_mcmeta_op_e modulo 7), then the bytes the server sends.
 * Properties: an answer is final once given (more bytes never change it, and the bytes it took
 * give it alone); it never takes more bytes than came; "more needed" never asks for more than a
 * line and a value's bound; the error text is empty exactly for the answers that are no error;
 * a value is the reply's bytes, NUL-terminated.
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "skv_memcached_meta.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

static apr_status_t run(skv_value_t *val, const char **info, apr_size_t *used, const char **err,
                        skv_mcmeta_op_e op, const char *buf, apr_size_t len, apr_pool_t *p)
{
    memset(val, 0, sizeof(*val));
    *info = NULL;
    return skv_memcached_meta_reply(val, info, used, err, op, buf, len, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    skv_mcmeta_op_e op = (skv_mcmeta_op_e)(fuzz_byte(&in) % 7);
    size_t len, cut;
    /* a copy of its own, so that ASan sees a read past the bytes that came */
    const char *buf = fuzz_rest(&in, &len, p);
    const char *info, *err, *info2, *err2;
    apr_size_t used, used2;
    skv_value_t val, val2;
    apr_status_t rv, rv2;

    rv = run(&val, &info, &used, &err, op, buf, len, p);
    FUZZ_CHECK(err != NULL && strlen(err) < 256);
    if (rv == APR_INCOMPLETE) {
        FUZZ_CHECK(used == 0 || used > len);
        FUZZ_CHECK(used <= SKV_MCMETA_MAX_LINE + 2 + SKV_MCMETA_MAX_VALUE + 2);
        FUZZ_CHECK(!*err);
    }
    else {
        FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST || rv == APR_ENOSPC
                   || rv == APR_EGENERAL);
        FUZZ_CHECK(used <= len);
        FUZZ_CHECK((rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST) == !*err);
        FUZZ_CHECK(rv == APR_EGENERAL || used > 0);
        if (rv == APR_NOTFOUND) {
            FUZZ_CHECK(op != SKV_MCMETA_ADD && op != SKV_MCMETA_PING);
        }
        if (rv == APR_EEXIST) {
            FUZZ_CHECK(op == SKV_MCMETA_ADD || op == SKV_MCMETA_CAS);
        }
        if (rv == APR_SUCCESS && op == SKV_MCMETA_GET) {
            FUZZ_CHECK(val.len <= SKV_MCMETA_MAX_VALUE && val.len + 2 <= used);
            FUZZ_CHECK(!memcmp(val.data, buf + used - 2 - val.len, val.len));
            FUZZ_CHECK(val.data[val.len] == '\0');
            FUZZ_CHECK(val.expires_in == -1 || val.expires_in >= 0);
        }
        if (rv == APR_SUCCESS && op == SKV_MCMETA_PING) {
            FUZZ_CHECK(info && !strncmp(info, "memcached ", 10));
        }
        /* the bytes it took give the same answer alone */
        if (used) {
            rv2 = run(&val2, &info2, &used2, &err2, op, apr_pstrmemdup(p, buf, used), used, p);
            FUZZ_CHECK(rv2 == rv && used2 == used && !strcmp(err, err2));
        }
    }
    /* a prefix, as a read may cut the bytes: more needed, or already the same answer */
    cut = len ? (size_t)(fuzz_seed(data, size) % len) : 0;
    rv2 = run(&val2, &info2, &used2, &err2, op, apr_pstrmemdup(p, buf, cut), cut, p);
    FUZZ_CHECK(rv2 == APR_INCOMPLETE || (rv2 == rv && used2 == used && !strcmp(err, err2)));
    apr_pool_destroy(p);
    return 0;
}
