/* s3_token — upload tokens: verify, mint, check claims (see s3_token.h for the format). */
#include <errno.h>

#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lf_b64url.h"
#include "lf_json.h"
#include "lf_secret.h"
#include "s3_key.h"
#include "s3_mime.h"
#include "s3_token.h"

/* base64url of a SHA-256 MAC: 32 bytes in 43 characters, no padding. */
#define S3_TOKEN_SIG_LEN 43

/* The largest "exp" taken: 9999-12-31T23:59:59Z; beyond it apr_time_t would overflow soon. */
#define S3_TOKEN_EXP_MAX APR_INT64_C(253402300799)

/* base64url(HMAC-SHA256(secret, data)), from @p p; NULL if OpenSSL fails. */
static char *sign(const unsigned char *secret, apr_size_t secret_len, const char *data,
                  apr_size_t len, apr_pool_t *p)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)data, len, mac,
              &mac_len)) {
        return NULL;
    }
    return lf_b64url_encode(mac, mac_len, p);
}

/* A non-negative decimal integer, digits only, no larger than @p max. */
static apr_status_t parse_count(apr_int64_t *out, const char *s, apr_int64_t max)
{
    char *end;
    apr_int64_t v;

    if (!s || *s < '0' || *s > '9') {
        return APR_EINVAL;
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (errno || *end || v > max) {
        return APR_EINVAL;
    }
    *out = v;
    return APR_SUCCESS;
}

/* The claims of a payload whose signature is good. */
static apr_status_t read_claims(s3_token_t *tok, const char **why, const char *json, apr_size_t len,
                                apr_pool_t *p)
{
    apr_table_t *t;
    const char *v;
    apr_int64_t n;

    if (lf_json_parse_object(&t, json, len, p) != APR_SUCCESS) {
        *why = "malformed token: the payload is not a JSON object";
        return APR_EINVAL;
    }
    tok->key = apr_table_get(t, "key");
    tok->prefix = apr_table_get(t, "prefix");
    if (tok->key && tok->prefix) {
        *why = "malformed token: it has both \"key\" and \"prefix\"";
        return APR_EINVAL;
    }
    if (!tok->key && !tok->prefix) {
        *why = "malformed token: it has neither \"key\" nor \"prefix\"";
        return APR_EINVAL;
    }
    if (tok->key && !*tok->key) {
        *why = "malformed token: \"key\" is empty";
        return APR_EINVAL;
    }
    tok->max_size = -1;
    if ((v = apr_table_get(t, "max")) != NULL) {
        if (parse_count(&n, v, APR_INT64_MAX) != APR_SUCCESS) {
            *why = "malformed token: \"max\" is not a non-negative integer";
            return APR_EINVAL;
        }
        tok->max_size = (apr_off_t)n;
    }
    tok->types = NULL;
    if ((v = apr_table_get(t, "types")) != NULL) {
        const char *bad;
        if (s3_mime_parse_list(&tok->types, &bad, v, p) != APR_SUCCESS) {
            *why = apr_pstrcat(p, "malformed token: \"types\": ", bad, NULL);
            return APR_EINVAL;
        }
    }
    if (parse_count(&n, apr_table_get(t, "exp"), S3_TOKEN_EXP_MAX) != APR_SUCCESS) {
        *why = "malformed token: \"exp\" is missing or not a time in Unix seconds";
        return APR_EINVAL;
    }
    tok->expires = apr_time_from_sec(n);
    return APR_SUCCESS;
}

apr_status_t s3_token_verify(s3_token_t **tok, const char **why, const char *token,
                             const unsigned char *secret, apr_size_t secret_len, apr_time_t now,
                             apr_pool_t *p)
{
    const char *dot, *sig, *expect;
    char *json;
    apr_size_t len, payload_len, json_len;
    s3_token_t *t;
    apr_status_t rv;

    if (!secret || !secret_len) {
        *why = "no secret to verify the token with";
        return APR_EINVAL;
    }
    if (!token || !*token) {
        *why = "malformed token: it is empty";
        return APR_EINVAL;
    }
    len = strlen(token);
    if (len > S3_TOKEN_MAX) {
        *why = "malformed token: it is longer than 4096 bytes";
        return APR_EINVAL;
    }
    dot = strchr(token, '.');
    if (!dot) {
        *why = "malformed token: no '.' before the signature";
        return APR_EINVAL;
    }
    payload_len = (apr_size_t)(dot - token);
    sig = dot + 1;
    if (!lf_b64url_valid(token, payload_len)) {
        *why = "malformed token: the payload is not base64url";
        return APR_EINVAL;
    }
    if (strlen(sig) != S3_TOKEN_SIG_LEN || !lf_b64url_valid(sig, S3_TOKEN_SIG_LEN)) {
        *why = "malformed token: the signature is not 43 base64url characters";
        return APR_EINVAL;
    }
    /* Compare the encoded MACs: one spelling per MAC (no stray low bits in the last
     * character), in constant time. */
    expect = sign(secret, secret_len, token, payload_len, p);
    if (!expect) {
        *why = "cannot compute the token's signature (OpenSSL)";
        return APR_EGENERAL;
    }
    if (!lf_secret_equals(sig, expect)) {
        *why = "bad signature";
        return APR_EACCES;
    }
    json = lf_b64url_decode(&json_len, token, payload_len, p);
    t = apr_pcalloc(p, sizeof(*t));
    rv = read_claims(t, why, json, json_len, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (now >= t->expires) {
        char date[APR_RFC822_DATE_LEN];
        apr_rfc822_date(date, t->expires);
        *why = apr_pstrcat(p, "expired at ", date, NULL);
        return APR_TIMEUP;
    }
    *tok = t;
    return APR_SUCCESS;
}

int s3_token_allows_key(const s3_token_t *tok, const char *key)
{
    if (!key) {
        return 0;
    }
    if (tok->key) {
        return !strcmp(tok->key, key);
    }
    return tok->prefix && !strncmp(key, tok->prefix, strlen(tok->prefix));
}

apr_status_t s3_token_form_target(const char **key, const char **prefix, const s3_token_t *tok,
                                  const char *location_prefix, int files_stored)
{
    *key = NULL;
    *prefix = location_prefix;
    if (!tok) {
        return APR_SUCCESS;
    }
    if (strncmp(tok->key ? tok->key : tok->prefix, location_prefix, strlen(location_prefix))) {
        return APR_EACCES;
    }
    if (tok->key) {
        *prefix = NULL;
        if (files_stored) {
            return APR_EEXIST;
        }
        *key = tok->key;
    }
    else if (tok->prefix) {
        *prefix = tok->prefix;
    }
    return APR_SUCCESS;
}

int s3_token_allows_type(const s3_token_t *tok, const char *content_type)
{
    return s3_mime_type_allowed(tok->types, content_type);
}

int s3_token_allows_size(const s3_token_t *tok, apr_off_t size)
{
    return size < 0 || tok->max_size < 0 || size <= tok->max_size;
}

/* @p s as PHP's json_encode($s, JSON_UNESCAPED_SLASHES) writes it: \uXXXX (lower-case hex,
 * UTF-16) for everything outside ASCII, short escapes where JSON has them; NULL when @p s is
 * not UTF-8 (json_encode() fails then too). From @p p. */
static const char *php_json_str(const char *s, apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    /* JSON's short escapes: the character, and the letter after the backslash */
    static const char SHORT_FROM[] = "\"\\\b\f\n\r\t", SHORT_TO[] = "\"\\bfnrt";
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t len = strlen(s), i, k;
    char *out = apr_palloc(p, 12 * len + 3), *o = out; /* 4 bytes -> 12 (a surrogate pair) */

    *o++ = '"';
    for (i = 0; i < len; i += k) {
        unsigned cp, units[2], n, j;
        k = s3_key_utf8_char(s + i, len - i);
        if (!k) {
            return NULL;
        }
        if (k == 1) {
            const char *hit = u[i] ? strchr(SHORT_FROM, u[i]) : NULL;
            if (hit) {
                *o++ = '\\';
                *o++ = SHORT_TO[hit - SHORT_FROM];
                continue;
            }
            if (u[i] >= 0x20) {
                *o++ = (char)u[i];
                continue;
            }
            cp = u[i];
        }
        else {
            cp = (k == 2) ? (u[i] & 0x1fu) : (k == 3) ? (u[i] & 0x0fu) : (u[i] & 0x07u);
            for (j = 1; j < k; ++j) {
                cp = (cp << 6) | (u[i + j] & 0x3fu);
            }
        }
        if (cp >= 0x10000) {
            units[0] = 0xd800 + ((cp - 0x10000) >> 10);
            units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
            n = 2;
        }
        else {
            units[0] = cp;
            n = 1;
        }
        for (j = 0; j < n; ++j) {
            *o++ = '\\';
            *o++ = 'u';
            *o++ = hex[(units[j] >> 12) & 0xf];
            *o++ = hex[(units[j] >> 8) & 0xf];
            *o++ = hex[(units[j] >> 4) & 0xf];
            *o++ = hex[units[j] & 0xf];
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

apr_status_t s3_token_mint(const char **token, const s3_token_t *tok, const unsigned char *secret,
                           apr_size_t secret_len, apr_pool_t *p)
{
    const char *name, *value, *json, *payload, *sig, *out;
    int i;

    if (!secret || !secret_len || (tok->key != NULL) == (tok->prefix != NULL)
        || tok->expires <= 0) {
        return APR_EINVAL;
    }
    name = tok->key ? "key" : "prefix";
    if (!(value = php_json_str(tok->key ? tok->key : tok->prefix, p))) {
        return APR_EINVAL;
    }
    json = apr_psprintf(p, "{\"%s\":%s", name, value);
    if (tok->max_size >= 0) {
        json = apr_psprintf(p, "%s,\"max\":%" APR_OFF_T_FMT, json, tok->max_size);
    }
    if (tok->types && tok->types->nelts) {
        const char *list = APR_ARRAY_IDX(tok->types, 0, const char *);
        for (i = 1; i < tok->types->nelts; ++i) {
            list = apr_pstrcat(p, list, ",", APR_ARRAY_IDX(tok->types, i, const char *), NULL);
        }
        if (!(value = php_json_str(list, p))) {
            return APR_EINVAL;
        }
        json = apr_pstrcat(p, json, ",\"types\":", value, NULL);
    }
    json = apr_psprintf(p, "%s,\"exp\":%" APR_INT64_T_FMT "}", json,
                        (apr_int64_t)apr_time_sec(tok->expires));
    payload = lf_b64url_encode((const unsigned char *)json, strlen(json), p);
    sig = sign(secret, secret_len, payload, strlen(payload), p);
    if (!sig) {
        return APR_EGENERAL;
    }
    out = apr_pstrcat(p, payload, ".", sig, NULL);
    if (strlen(out) > S3_TOKEN_MAX) {
        return APR_EINVAL;
    }
    *token = out;
    return APR_SUCCESS;
}
