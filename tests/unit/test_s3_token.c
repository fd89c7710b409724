/* Unit tests of modules/s3/s3_token.c: upload tokens, against tokens minted by the PHP function
 * of docs/examples/s3-upload-token.php, tampered, expired and malformed ones, and their claims. */
#include "unit.h"

#include <apr_base64.h>
#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "s3_token.h"

#define SECRET     "0123456789abcdef-test-secret"
#define SECRET_LEN (sizeof(SECRET) - 1)
/* 2027-01-15T08:00:00Z, the "exp" of the vectors */
#define EXP_SEC APR_INT64_C(1800000000)

/* Made by lampfarm_upload_token(SECRET, [...]) with PHP 8.2, claims as in the comments. */
/* ['key' => "uploads/avatars/caf\u{e9} \u{1F600}\"q\\b\n.png", 'max' => 5242880,
 *  'types' => 'image/png,image/\*', 'exp' => 1800000000] */
static const char PHP_KEY_TOKEN[] =
    "eyJrZXkiOiJ1cGxvYWRzL2F2YXRhcnMvY2FmXHUwMGU5IFx1ZDgzZFx1ZGUwMFwicVxcYlxuLnBuZyIsIm1heCI6NTI0"
    "Mjg4MCwidHlwZXMiOiJpbWFnZS9wbmcsaW1hZ2UvKiIsImV4cCI6MTgwMDAwMDAwMH0"
    ".VNK2E0nDA9JzPn6St1sCg1lll6szvqQ4Z5j_WLqxt4w";
#define PHP_KEY "uploads/avatars/caf\xc3\xa9 \xf0\x9f\x98\x80\"q\\b\n.png"
/* ['prefix' => 'uploads/u42/', 'exp' => 1800000000] */
static const char PHP_PREFIX_TOKEN[] = "eyJwcmVmaXgiOiJ1cGxvYWRzL3U0Mi8iLCJleHAiOjE4MDAwMDAwMDB9"
                                       ".4vouok2T7AkSV6OKDUAJeuKsenPrLQLS_JQ_v3Cj2DA";

static const unsigned char *secret(void)
{
    return (const unsigned char *)SECRET;
}

static apr_time_t before_exp(void)
{
    return apr_time_from_sec(EXP_SEC - 3600);
}

/* base64url without padding, written here independently of the code under test. */
static const char *b64url(const void *data, apr_size_t len, apr_pool_t *p)
{
    char *out = apr_palloc(p, apr_base64_encode_len((int)len));
    char *c;

    apr_base64_encode_binary(out, data, (int)len);
    for (c = out; *c; ++c) {
        if (*c == '+') {
            *c = '-';
        }
        else if (*c == '/') {
            *c = '_';
        }
        else if (*c == '=') {
            *c = '\0';
            break;
        }
    }
    return out;
}

/* A correctly signed token for any payload text, so tests can reach the claim checks. */
static const char *sign_json(const char *json, const char *key, apr_pool_t *p)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    const char *payload = b64url(json, strlen(json), p);

    assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)payload,
                         strlen(payload), mac, &mac_len));
    return apr_pstrcat(p, payload, ".", b64url(mac, mac_len, p), NULL);
}

/* Verify @p token with SECRET at @p now; the status, and *why on failure. */
static apr_status_t verify(s3_token_t **tok, const char **why, const char *token, apr_time_t now,
                           apr_pool_t *p)
{
    *tok = NULL;
    *why = NULL;
    return s3_token_verify(tok, why, token, secret(), SECRET_LEN, now, p);
}

/* The reason a signed @p json is refused as malformed. */
static const char *claims_bad(const char *json, apr_pool_t *p)
{
    s3_token_t *tok;
    const char *why;

    if (verify(&tok, &why, sign_json(json, SECRET, p), before_exp(), p) != APR_EINVAL) {
        fail_msg("accepted %s", json);
    }
    assert_null(tok);
    assert_non_null(why);
    return why;
}

static void php_vectors(void **state)
{
    apr_pool_t *p = *state;
    s3_token_t *tok;
    const char *why, *minted;

    assert_int_equal(verify(&tok, &why, PHP_KEY_TOKEN, before_exp(), p), APR_SUCCESS);
    assert_string_equal(tok->key, PHP_KEY);
    assert_null(tok->prefix);
    assert_int_equal(tok->max_size, 5242880);
    assert_non_null(tok->types);
    assert_int_equal(tok->types->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(tok->types, 0, const char *), "image/png");
    assert_string_equal(APR_ARRAY_IDX(tok->types, 1, const char *), "image/*");
    assert_true(tok->expires == apr_time_from_sec(EXP_SEC));
    /* the same claims make the same bytes in C */
    assert_int_equal(s3_token_mint(&minted, tok, secret(), SECRET_LEN, p), APR_SUCCESS);
    assert_string_equal(minted, PHP_KEY_TOKEN);

    assert_int_equal(verify(&tok, &why, PHP_PREFIX_TOKEN, before_exp(), p), APR_SUCCESS);
    assert_null(tok->key);
    assert_string_equal(tok->prefix, "uploads/u42/");
    assert_int_equal(tok->max_size, -1);
    assert_null(tok->types);
    assert_true(tok->expires == apr_time_from_sec(EXP_SEC));
    assert_int_equal(s3_token_mint(&minted, tok, secret(), SECRET_LEN, p), APR_SUCCESS);
    assert_string_equal(minted, PHP_PREFIX_TOKEN);
}

static void mint_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    s3_token_t in = {0}, *out;
    const char *token, *why;
    apr_array_header_t *types = apr_array_make(p, 2, sizeof(const char *));
    static const char php_json[] =
        "{\"prefix\":\"u/\\u20ac/\",\"max\":0,\"types\":\"text/plain,*/*\",\"exp\":1800000000}";

    APR_ARRAY_PUSH(types, const char *) = "text/plain";
    APR_ARRAY_PUSH(types, const char *) = "*/*";
    in.prefix = "u/\xe2\x82\xac/";
    in.max_size = 0;
    in.types = types;
    in.expires = apr_time_from_sec(EXP_SEC) + 999999; /* whole seconds only */
    assert_int_equal(s3_token_mint(&token, &in, secret(), SECRET_LEN, p), APR_SUCCESS);
    assert_int_equal(verify(&out, &why, token, before_exp(), p), APR_SUCCESS);
    assert_null(out->key);
    assert_string_equal(out->prefix, "u/\xe2\x82\xac/");
    assert_int_equal(out->max_size, 0);
    assert_int_equal(out->types->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(out->types, 1, const char *), "*/*");
    assert_true(out->expires == apr_time_from_sec(EXP_SEC));
    /* the JSON is exactly what PHP's json_encode writes for these claims */
    assert_string_equal(apr_pstrndup(p, token, strchr(token, '.') - token),
                        b64url(php_json, strlen(php_json), p));
}

static void mint_errors(void **state)
{
    apr_pool_t *p = *state;
    s3_token_t t = {0};
    const char *token = "untouched";

    t.expires = apr_time_from_sec(EXP_SEC);
    t.max_size = -1;
    /* neither key nor prefix */
    assert_int_equal(s3_token_mint(&token, &t, secret(), SECRET_LEN, p), APR_EINVAL);
    /* both */
    t.key = "a";
    t.prefix = "b/";
    assert_int_equal(s3_token_mint(&token, &t, secret(), SECRET_LEN, p), APR_EINVAL);
    t.prefix = NULL;
    /* no expiry */
    t.expires = 0;
    assert_int_equal(s3_token_mint(&token, &t, secret(), SECRET_LEN, p), APR_EINVAL);
    t.expires = apr_time_from_sec(EXP_SEC);
    /* not UTF-8: json_encode() fails on it as well */
    t.key = "caf\xe9";
    assert_int_equal(s3_token_mint(&token, &t, secret(), SECRET_LEN, p), APR_EINVAL);
    t.key = "a";
    /* no secret */
    assert_int_equal(s3_token_mint(&token, &t, secret(), 0, p), APR_EINVAL);
    assert_string_equal(token, "untouched");
    assert_int_equal(s3_token_mint(&token, &t, secret(), SECRET_LEN, p), APR_SUCCESS);
}

static void tampered(void **state)
{
    apr_pool_t *p = *state;
    s3_token_t *tok;
    const char *why;
    char *t;
    apr_size_t len = strlen(PHP_PREFIX_TOKEN);

    /* a payload character changed: "u42" -> "u43" would be the attack */
    t = apr_pstrdup(p, PHP_PREFIX_TOKEN);
    t[10] = (t[10] == 'A') ? 'B' : 'A';
    assert_int_equal(verify(&tok, &why, t, before_exp(), p), APR_EACCES);
    assert_string_equal(why, "bad signature");
    assert_null(tok);

    /* a signature character changed */
    t = apr_pstrdup(p, PHP_PREFIX_TOKEN);
    t[len - 10] = (t[len - 10] == 'A') ? 'B' : 'A';
    assert_int_equal(verify(&tok, &why, t, before_exp(), p), APR_EACCES);
    assert_string_equal(why, "bad signature");

    /* the last character only changed in the two bits no byte uses ("A" -> "B" is 000000 ->
     * 000001): decoding would accept it, comparing the encoded MAC does not */
    t = apr_pstrdup(p, PHP_PREFIX_TOKEN);
    assert_int_equal(t[len - 1], 'A');
    t[len - 1] = 'B';
    assert_int_equal(verify(&tok, &why, t, before_exp(), p), APR_EACCES);

    /* a new payload with the old signature */
    t = apr_pstrcat(p, b64url("{\"prefix\":\"\",\"exp\":1800000000}", 30, p),
                    strchr(PHP_PREFIX_TOKEN, '.'), NULL);
    assert_int_equal(verify(&tok, &why, t, before_exp(), p), APR_EACCES);

    /* the wrong secret, or a part of the right one */
    assert_int_equal(s3_token_verify(&tok, &why, PHP_PREFIX_TOKEN,
                                     (const unsigned char *)"another-secret-0123", 19, before_exp(),
                                     p),
                     APR_EACCES);
    assert_string_equal(why, "bad signature");
    assert_int_equal(
        s3_token_verify(&tok, &why, PHP_PREFIX_TOKEN, secret(), SECRET_LEN - 1, before_exp(), p),
        APR_EACCES);
    /* signed with another secret */
    assert_int_equal(verify(&tok, &why,
                            sign_json("{\"prefix\":\"\",\"exp\":1800000000}", "not the secret", p),
                            before_exp(), p),
                     APR_EACCES);
    /* the message never holds the secret nor the token */
    assert_null(strstr(why, SECRET));
}

static void expired(void **state)
{
    apr_pool_t *p = *state;
    s3_token_t *tok;
    const char *why;
    apr_time_t exp = apr_time_from_sec(EXP_SEC);

    assert_int_equal(verify(&tok, &why, PHP_PREFIX_TOKEN, exp - 1, p), APR_SUCCESS);
    assert_int_equal(verify(&tok, &why, PHP_PREFIX_TOKEN, exp, p), APR_TIMEUP);
    assert_string_equal(why, "expired at Fri, 15 Jan 2027 08:00:00 GMT");
    assert_null(tok);
    assert_int_equal(verify(&tok, &why, PHP_PREFIX_TOKEN, exp + apr_time_from_sec(86400), p),
                     APR_TIMEUP);
    /* "exp": 0 is long gone */
    assert_int_equal(
        verify(&tok, &why, sign_json("{\"key\":\"k\",\"exp\":0}", SECRET, p), before_exp(), p),
        APR_TIMEUP);
}

static void bad_claims(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(claims_bad("{\"key\":\"a\",\"prefix\":\"b/\",\"exp\":1800000000}", p),
                        "malformed token: it has both \"key\" and \"prefix\"");
    assert_string_equal(claims_bad("{\"exp\":1800000000}", p),
                        "malformed token: it has neither \"key\" nor \"prefix\"");
    /* null is no value */
    assert_string_equal(claims_bad("{\"key\":null,\"exp\":1800000000}", p),
                        "malformed token: it has neither \"key\" nor \"prefix\"");
    assert_string_equal(claims_bad("{\"key\":\"\",\"exp\":1800000000}", p),
                        "malformed token: \"key\" is empty");
    assert_string_equal(claims_bad("{\"key\":\"a\"}", p),
                        "malformed token: \"exp\" is missing or not a time in Unix seconds");
    assert_string_equal(claims_bad("{\"key\":\"a\",\"exp\":1.8e9}", p),
                        "malformed token: \"exp\" is missing or not a time in Unix seconds");
    assert_string_equal(claims_bad("{\"key\":\"a\",\"exp\":-1}", p),
                        "malformed token: \"exp\" is missing or not a time in Unix seconds");
    assert_string_equal(claims_bad("{\"key\":\"a\",\"exp\":\"soon\"}", p),
                        "malformed token: \"exp\" is missing or not a time in Unix seconds");
    assert_string_equal(claims_bad("{\"key\":\"a\",\"exp\":99999999999999999999}", p),
                        "malformed token: \"exp\" is missing or not a time in Unix seconds");
    assert_string_equal(claims_bad("{\"key\":\"a\",\"exp\":253402300800}", p),
                        "malformed token: \"exp\" is missing or not a time in Unix seconds");
    assert_string_equal(claims_bad("{\"key\":\"a\",\"max\":-1,\"exp\":1800000000}", p),
                        "malformed token: \"max\" is not a non-negative integer");
    assert_string_equal(claims_bad("{\"key\":\"a\",\"max\":\"10M\",\"exp\":1800000000}", p),
                        "malformed token: \"max\" is not a non-negative integer");
    assert_string_equal(claims_bad("{\"key\":\"a\",\"types\":\"image\",\"exp\":1800000000}", p),
                        "malformed token: \"types\": \"image\" is not a content type pattern "
                        "(type/subtype, type/* or */*)");
    assert_string_equal(claims_bad("{\"key\":\"a\",\"types\":\"\",\"exp\":1800000000}", p),
                        "malformed token: \"types\": the list of content types is empty");
}

static void bad_json(void **state)
{
    apr_pool_t *p = *state;
    static const char *const bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"key\":\"a\",\"exp\":1800000000",
        "{\"key\":\"a\"} x",
        "{\"key\":\"a\\u0000b\",\"exp\":1800000000}",
        "null",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        const char *why = claims_bad(bad[i], p);
        if (!*bad[i]) {
            /* an empty payload has nothing to decode */
            assert_string_equal(why, "malformed token: the payload is not base64url");
        }
        else {
            assert_string_equal(why, "malformed token: the payload is not a JSON object");
        }
    }
}

static void bad_encoding(void **state)
{
    apr_pool_t *p = *state;
    s3_token_t *tok;
    const char *why, *sig = strchr(PHP_PREFIX_TOKEN, '.');
    apr_size_t plen = (apr_size_t)(sig - PHP_PREFIX_TOKEN);
    const char *payload = apr_pstrndup(p, PHP_PREFIX_TOKEN, plen);

    assert_int_equal(verify(&tok, &why, "", before_exp(), p), APR_EINVAL);
    assert_string_equal(why, "malformed token: it is empty");
    assert_int_equal(verify(&tok, &why, NULL, before_exp(), p), APR_EINVAL);
    assert_int_equal(verify(&tok, &why, payload, before_exp(), p), APR_EINVAL);
    assert_string_equal(why, "malformed token: no '.' before the signature");
    /* no payload */
    assert_int_equal(verify(&tok, &why, sig, before_exp(), p), APR_EINVAL);
    assert_string_equal(why, "malformed token: the payload is not base64url");
    /* standard base64 characters, padding */
    assert_int_equal(verify(&tok, &why, apr_pstrcat(p, "ab+/", sig, NULL), before_exp(), p),
                     APR_EINVAL);
    assert_string_equal(why, "malformed token: the payload is not base64url");
    assert_int_equal(verify(&tok, &why, apr_pstrcat(p, payload, "==", sig, NULL), before_exp(), p),
                     APR_EINVAL);
    assert_string_equal(why, "malformed token: the payload is not base64url");
    /* a length no encoder makes */
    assert_int_equal(verify(&tok, &why, apr_pstrcat(p, "abcde", sig, NULL), before_exp(), p),
                     APR_EINVAL);
    assert_string_equal(why, "malformed token: the payload is not base64url");
    /* signature: missing, short, long, padded, a second '.' */
    assert_int_equal(verify(&tok, &why, apr_pstrcat(p, payload, ".", NULL), before_exp(), p),
                     APR_EINVAL);
    assert_string_equal(why, "malformed token: the signature is not 43 base64url characters");
    assert_int_equal(verify(&tok, &why,
                            apr_pstrndup(p, PHP_PREFIX_TOKEN, strlen(PHP_PREFIX_TOKEN) - 1),
                            before_exp(), p),
                     APR_EINVAL);
    assert_string_equal(why, "malformed token: the signature is not 43 base64url characters");
    assert_int_equal(
        verify(&tok, &why, apr_pstrcat(p, PHP_PREFIX_TOKEN, "A", NULL), before_exp(), p),
        APR_EINVAL);
    assert_int_equal(
        verify(&tok, &why, apr_pstrcat(p, PHP_PREFIX_TOKEN, "=", NULL), before_exp(), p),
        APR_EINVAL);
    assert_int_equal(
        verify(&tok, &why, apr_pstrcat(p, PHP_PREFIX_TOKEN, ".x", NULL), before_exp(), p),
        APR_EINVAL);
    assert_string_equal(why, "malformed token: the signature is not 43 base64url characters");
    /* whitespace around it is the caller's to trim */
    assert_int_equal(
        verify(&tok, &why, apr_pstrcat(p, " ", PHP_PREFIX_TOKEN, NULL), before_exp(), p),
        APR_EINVAL);
    /* no secret */
    assert_int_equal(s3_token_verify(&tok, &why, PHP_PREFIX_TOKEN, secret(), 0, before_exp(), p),
                     APR_EINVAL);
    assert_string_equal(why, "no secret to verify the token with");
    assert_null(tok);
}

static void oversize(void **state)
{
    apr_pool_t *p = *state;
    s3_token_t t = {0}, *tok;
    const char *token = NULL, *last = NULL, *why;
    char *prefix = apr_palloc(p, S3_TOKEN_MAX + 1), *big;
    apr_size_t n;

    /* the longest token mint makes still verifies; one more byte of prefix and mint refuses */
    t.max_size = -1;
    t.expires = apr_time_from_sec(EXP_SEC);
    t.prefix = prefix;
    for (n = 2900; n < S3_TOKEN_MAX; ++n) {
        memset(prefix, 'p', n);
        prefix[n] = '\0';
        if (s3_token_mint(&token, &t, secret(), SECRET_LEN, p) != APR_SUCCESS) {
            break;
        }
        last = token;
    }
    assert_true(n < S3_TOKEN_MAX);
    assert_non_null(last);
    assert_true(strlen(last) <= S3_TOKEN_MAX && strlen(last) > S3_TOKEN_MAX - 4);
    assert_int_equal(verify(&tok, &why, last, before_exp(), p), APR_SUCCESS);
    assert_int_equal(strlen(tok->prefix), n - 1);

    /* anything longer is refused before the MAC is even computed */
    big = apr_palloc(p, S3_TOKEN_MAX + 2);
    memset(big, 'A', S3_TOKEN_MAX + 1);
    big[S3_TOKEN_MAX + 1] = '\0';
    assert_int_equal(verify(&tok, &why, big, before_exp(), p), APR_EINVAL);
    assert_string_equal(why, "malformed token: it is longer than 4096 bytes");
    big = (char *)sign_json(
        apr_pstrcat(p, "{\"prefix\":\"", prefix, "xxxxxxxxxxxx\",\"exp\":1800000000}", NULL),
        SECRET, p);
    assert_true(strlen(big) > S3_TOKEN_MAX);
    assert_int_equal(verify(&tok, &why, big, before_exp(), p), APR_EINVAL);
    assert_string_equal(why, "malformed token: it is longer than 4096 bytes");
}

static void unknown_members(void **state)
{
    apr_pool_t *p = *state;
    s3_token_t *tok;
    const char *why;

    /* members this version does not know are ignored: the application may add its own */
    assert_int_equal(verify(&tok, &why,
                            sign_json("{\"key\":\"k\",\"user\":42,\"x\":{\"y\":[1]},"
                                      "\"exp\":1800000000}",
                                      SECRET, p),
                            before_exp(), p),
                     APR_SUCCESS);
    assert_string_equal(tok->key, "k");
    assert_int_equal(tok->max_size, -1);
    assert_null(tok->types);
}

static void allows(void **state)
{
    apr_pool_t *p = *state;
    s3_token_t *tok;
    const char *why;

    assert_int_equal(verify(&tok, &why, PHP_KEY_TOKEN, before_exp(), p), APR_SUCCESS);
    assert_true(s3_token_allows_key(tok, PHP_KEY));
    assert_false(s3_token_allows_key(tok, "uploads/avatars/other.png"));
    assert_false(s3_token_allows_key(tok, PHP_KEY "x"));
    assert_false(s3_token_allows_key(tok, "uploads/avatars/"));
    assert_false(s3_token_allows_key(tok, NULL));
    assert_true(s3_token_allows_type(tok, "image/png"));
    assert_true(s3_token_allows_type(tok, "image/webp; q=1"));
    assert_false(s3_token_allows_type(tok, "text/html"));
    assert_false(s3_token_allows_type(tok, NULL));
    assert_true(s3_token_allows_size(tok, 0));
    assert_true(s3_token_allows_size(tok, 5242880));
    assert_false(s3_token_allows_size(tok, 5242881));
    assert_true(s3_token_allows_size(tok, -1));

    assert_int_equal(verify(&tok, &why, PHP_PREFIX_TOKEN, before_exp(), p), APR_SUCCESS);
    assert_true(s3_token_allows_key(tok, "uploads/u42/a.png"));
    assert_true(s3_token_allows_key(tok, "uploads/u42/deep/er/b"));
    assert_true(s3_token_allows_key(tok, "uploads/u42/"));
    assert_false(s3_token_allows_key(tok, "uploads/u4"));
    assert_false(s3_token_allows_key(tok, "uploads/u420/a.png"));
    assert_false(s3_token_allows_key(tok, "uploads/u43/a.png"));
    assert_false(s3_token_allows_key(tok, "Uploads/u42/a.png"));
    /* no types, no max: anything */
    assert_true(s3_token_allows_type(tok, "application/x-whatever"));
    assert_true(s3_token_allows_type(tok, NULL));
    assert_true(s3_token_allows_size(tok, APR_INT64_C(5) << 40));

    /* "max": 0 allows empty objects only */
    assert_int_equal(verify(&tok, &why,
                            sign_json("{\"key\":\"k\",\"max\":0,\"exp\":1800000000}", SECRET, p),
                            before_exp(), p),
                     APR_SUCCESS);
    assert_true(s3_token_allows_size(tok, 0));
    assert_false(s3_token_allows_size(tok, 1));
    assert_true(s3_token_allows_size(tok, -1));
}

static void form_target(void **state)
{
    s3_token_t tok;
    const char *key, *prefix;

    (void)state;
    /* no token: keys generated below the location's prefix */
    assert_int_equal(s3_token_form_target(&key, &prefix, NULL, "up/", 0), APR_SUCCESS);
    assert_null(key);
    assert_string_equal(prefix, "up/");
    assert_int_equal(s3_token_form_target(&key, &prefix, NULL, "up/", 3), APR_SUCCESS);

    /* a token for one key: that key, for one file */
    memset(&tok, 0, sizeof(tok));
    tok.key = "up/u42/avatar.png";
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "up/", 0), APR_SUCCESS);
    assert_string_equal(key, "up/u42/avatar.png");
    assert_null(prefix);
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "up/", 1), APR_EEXIST);
    /* outside the location's prefix: nothing (matched as text, as keys are) */
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "down/", 0), APR_EACCES);
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "up/u420/", 0), APR_EACCES);
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "up/u4", 0), APR_SUCCESS);
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "", 0), APR_SUCCESS);

    /* a token for a prefix: keys generated below it, any number of files */
    memset(&tok, 0, sizeof(tok));
    tok.prefix = "up/u42/";
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "up/", 0), APR_SUCCESS);
    assert_null(key);
    assert_string_equal(prefix, "up/u42/");
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "up/", 5), APR_SUCCESS);
    assert_string_equal(prefix, "up/u42/");
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "up/u42/", 0), APR_SUCCESS);
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "up/u42/x/", 0), APR_EACCES);
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "other/", 0), APR_EACCES);
    /* a prefix of "" allows every key, but only in a location without a prefix */
    tok.prefix = "";
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "", 0), APR_SUCCESS);
    assert_string_equal(prefix, "");
    assert_int_equal(s3_token_form_target(&key, &prefix, &tok, "up/", 0), APR_EACCES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(php_vectors),     UNIT_TEST(mint_roundtrip), UNIT_TEST(mint_errors),
        UNIT_TEST(tampered),        UNIT_TEST(expired),        UNIT_TEST(bad_claims),
        UNIT_TEST(bad_json),        UNIT_TEST(bad_encoding),   UNIT_TEST(oversize),
        UNIT_TEST(unknown_members), UNIT_TEST(allows),         UNIT_TEST(form_target),
    };
    return UNIT_RUN("s3_token", tests);
}
