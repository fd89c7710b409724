/* skv_id — session ids and backend keys (see skv_id.h). */
#include <string.h>

#include <apr_strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "lf_b64url.h"
#include "skv_id.h"

apr_status_t skv_id_generate(const char **id, apr_pool_t *p)
{
    unsigned char raw[SKV_ID_BYTES];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return APR_EGENERAL;
    }
    *id = lf_b64url_encode(raw, sizeof(raw), p);
    OPENSSL_cleanse(raw, sizeof(raw));
    return APR_SUCCESS;
}

int skv_id_valid(const char *s, apr_size_t len)
{
    /* 256 bits fill 42 characters and 4 bits of the 43rd; its 2 low bits are always zero, so
     * only these 16 characters can end an id */
    static const char last[] = "AEIMQUYcgkosw048";

    return len == SKV_ID_LEN && lf_b64url_valid(s, len) && s[len - 1]
           && strchr(last, s[len - 1]) != NULL;
}

const char *skv_id_key(const char *prefix, const char *id, apr_pool_t *p)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    apr_size_t plen = strlen(prefix), i;
    char *key = apr_palloc(p, plen + 2 * sizeof(md) + 1);
    static const char hex[] = "0123456789abcdef";

    SHA256((const unsigned char *)id, strlen(id), md);
    memcpy(key, prefix, plen);
    for (i = 0; i < sizeof(md); ++i) {
        key[plen + 2 * i] = hex[md[i] >> 4];
        key[plen + 2 * i + 1] = hex[md[i] & 0xf];
    }
    key[plen + 2 * sizeof(md)] = '\0';
    return key;
}

const char *skv_id_prefix_check(const char *prefix)
{
    const char *c;

    for (c = prefix; *c; ++c) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            return "no spaces or control characters";
        }
    }
    return c - prefix > SKV_ID_PREFIX_MAX ? "at most 100 characters" : NULL;
}
