/* fuzz_s3_token — upload tokens (modules/s3/s3_token.c) as a client sends them.
 *
 * Input: one byte of mode, then the rest. Mode bit 0 clear: the rest is the token itself,
 * verified with the target's secret (the corpus holds tokens minted with it, so that mutations
 * reach past the signature check into the checks of its shape). Bit 0 set: the rest is the
 * payload (JSON), which the target signs with the secret, so that the claims parser sees any
 * text. A verified token's claims must be coherent, s3_token_mint() of them must verify to the
 * same claims, and the allows_* checks are run against strings from the payload.
 */
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"
#include "lf_b64url.h"
#include "s3_token.h"

/* with a control character, which a message that quotes a claim escapes: the secret's bytes in
 * a message are then a leak, not a quote of a claim that spells them */
#define SECRET "fuzz-token\001secret"
/* 2023-11-14T22:13:20Z: the corpus's tokens expire after it */
#define NOW apr_time_from_sec(1700000000)

/* A token for the payload @p json, signed with SECRET, from @p p. */
static const char *sign(const char *json, size_t len, apr_pool_t *p)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const char *payload = lf_b64url_encode((const unsigned char *)json, len, p);

    FUZZ_CHECK(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)payload,
                    strlen(payload), mac, &mac_len)
               != NULL);
    return apr_pstrcat(p, payload, ".", lf_b64url_encode(mac, mac_len, p), NULL);
}

static void check_claims(const s3_token_t *t)
{
    int i;

    FUZZ_CHECK((t->key != NULL) != (t->prefix != NULL));
    FUZZ_CHECK(!t->key || *t->key);
    FUZZ_CHECK(t->max_size >= -1);
    FUZZ_CHECK(t->expires > NOW);
    FUZZ_CHECK(!t->types || t->types->nelts > 0);
    for (i = 0; t->types && i < t->types->nelts; i++) {
        const char *pat = APR_ARRAY_IDX(t->types, i, const char *);
        FUZZ_CHECK(strchr(pat, '/') != NULL);
        FUZZ_CHECK(s3_token_allows_type(t, pat) || strchr(pat, '*'));
    }
    FUZZ_CHECK(s3_token_allows_key(t, t->key ? t->key : t->prefix));
    FUZZ_CHECK(!s3_token_allows_key(t, NULL));
    FUZZ_CHECK(s3_token_allows_size(t, -1));
    FUZZ_CHECK(s3_token_allows_size(t, 0));
    FUZZ_CHECK(t->max_size < 0 || !s3_token_allows_size(t, t->max_size + 1)
               || t->max_size == APR_INT64_MAX);
}

static int same_claims(const s3_token_t *a, const s3_token_t *b)
{
    int i;

    if ((a->key == NULL) != (b->key == NULL) || (a->key && strcmp(a->key, b->key))
        || (a->prefix == NULL) != (b->prefix == NULL) || (a->prefix && strcmp(a->prefix, b->prefix))
        || a->max_size != b->max_size || a->expires != b->expires
        || (a->types == NULL) != (b->types == NULL)
        || (a->types && a->types->nelts != b->types->nelts)) {
        return 0;
    }
    for (i = 0; a->types && i < a->types->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a->types, i, const char *),
                   APR_ARRAY_IDX(b->types, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    unsigned mode = fuzz_byte(&in);
    size_t len;
    const char *rest = fuzz_rest(&in, &len, p), *token, *why = NULL, *minted;
    s3_token_t *tok = NULL, *again = NULL;
    apr_status_t rv;

    token = (mode & 1) ? sign(rest, len, p) : rest;
    rv = s3_token_verify(&tok, &why, token, (const unsigned char *)SECRET, strlen(SECRET), NOW, p);
    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(rv == APR_EINVAL || rv == APR_EACCES || rv == APR_TIMEUP);
        FUZZ_CHECK(why != NULL && *why);
        FUZZ_CHECK(!strstr(why, SECRET));
        /* signed by us: only the claims or the length can be wrong */
        FUZZ_CHECK(!(mode & 1) || rv != APR_EACCES);
        apr_pool_destroy(p);
        return 0;
    }
    check_claims(tok);
    /* the other secret refuses it */
    FUZZ_CHECK(s3_token_verify(&again, &why, token, (const unsigned char *)"other", 5, NOW, p)
               == APR_EACCES);
    /* minted again, the claims come back the same (unless they cannot be minted: a key that is
     * not UTF-8, a token that would be too long) */
    if (s3_token_mint(&minted, tok, (const unsigned char *)SECRET, strlen(SECRET), p)
        == APR_SUCCESS) {
        rv = s3_token_verify(&again, &why, minted, (const unsigned char *)SECRET, strlen(SECRET),
                             NOW, p);
        FUZZ_CHECK(rv == APR_SUCCESS);
        FUZZ_CHECK(same_claims(tok, again));
    }
    /* and refused from its expiry on */
    FUZZ_CHECK(s3_token_verify(&again, &why, token, (const unsigned char *)SECRET, strlen(SECRET),
                               tok->expires, p)
               == APR_TIMEUP);
    apr_pool_destroy(p);
    return 0;
}
