/* s3_token — upload tokens: the application grants one upload (or uploads below a prefix) by
 * minting a token with a secret it shares with mod_s3; mod_s3 verifies the token and enforces
 * what it claims. Pure core: APR, APR-util and OpenSSL, no httpd.
 *
 * Format:
 *
 *     token = base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))
 *
 * base64url is RFC 4648 section 5 without '=' padding. As in JWS, the MAC covers the encoded
 * payload text, so nothing is decoded or parsed before the signature is known to be good. The
 * payload is one flat JSON object:
 *
 *     "key"     string   the exact key the upload may write      } exactly one of the two
 *     "prefix"  string   a prefix the key must start with         }
 *     "max"     integer  the largest size allowed, in bytes       optional
 *     "types"   string   content-type patterns, "image/png,image/\*", as s3_mime_parse_list()
 *                        reads them                               optional
 *     "exp"     integer  expiry in Unix seconds; the token is valid while now < exp; required
 *
 * Keys and prefixes are full S3 keys, the location's configured key prefix included; a prefix
 * is matched as plain text ("up/u1" allows "up/u10/x": end it with '/'), and "" allows every
 * key. Other members are ignored. A token is at most S3_TOKEN_MAX bytes.
 * docs/examples/s3-upload-token.php mints tokens in PHP; s3_token_mint() makes the same bytes
 * from the same claims in the order above.
 */
#ifndef S3_TOKEN_H
#define S3_TOKEN_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/** The longest token accepted, in bytes. */
#define S3_TOKEN_MAX 4096

/** The claims of a verified token. */
typedef struct s3_token_t {
    const char *key;           /* the one key allowed; NULL when prefix is set */
    const char *prefix;        /* the prefix allowed keys start with; NULL when key is set */
    apr_off_t max_size;        /* bytes; -1 = no limit */
    apr_array_header_t *types; /* content-type patterns (const char *); NULL = any type */
    apr_time_t expires;        /* valid before this time */
} s3_token_t;

/**
 * Verify @p token and read its claims. The signature is compared in constant time before
 * anything else is looked at; messages never hold the secret.
 * @param tok out: the claims, allocated from @p p
 * @param why out on error: what is wrong, a short message for logs (static or from @p p)
 * @param token the token as the client sent it
 * @param secret the shared secret, @p secret_len bytes; must not be empty
 * @param now the current time (injected: tests pin it)
 * @return APR_SUCCESS; APR_EINVAL for a malformed token (too long, bad encoding, bad JSON or
 *         claims, also when signed correctly) or an empty secret; APR_EACCES for a bad
 *         signature; APR_TIMEUP for an expired token
 */
apr_status_t s3_token_verify(s3_token_t **tok, const char **why, const char *token,
                             const unsigned char *secret, apr_size_t secret_len, apr_time_t now,
                             apr_pool_t *p);

/** Whether @p tok allows writing @p key: the key itself, or one starting with the prefix. */
int s3_token_allows_key(const s3_token_t *tok, const char *key);

/** Whether @p tok allows @p content_type (see s3_mime_type_allowed()). */
int s3_token_allows_type(const s3_token_t *tok, const char *content_type);

/**
 * Whether @p tok allows an object of @p size bytes. A size of -1 (not known yet: chunked)
 * is allowed: the caller enforces tok->max_size while it streams the body.
 */
int s3_token_allows_size(const s3_token_t *tok, apr_off_t size);

/**
 * Where a form upload may store its next file: the key a token names, or generated keys below a
 * prefix (the token's, else the location's). A token whose key or prefix lies outside the
 * location's key prefix grants nothing there, and a token for one key grants one file.
 * @param key out: the token's key, or NULL when the caller generates one below @p *prefix
 * @param prefix out: the prefix of a generated key (@p location_prefix or the token's); NULL with
 *        a key
 * @param tok the verified token, or NULL when the location needs none
 * @param location_prefix the location's key prefix (S3KeyPrefix; "" for none)
 * @param files_stored the files of this form already stored
 * @return APR_SUCCESS; APR_EACCES when the token's key or prefix is outside @p location_prefix;
 *         APR_EEXIST when the token's one key was already written by this form
 */
apr_status_t s3_token_form_target(const char **key, const char **prefix, const s3_token_t *tok,
                                  const char *location_prefix, int files_stored);

/**
 * Mint a token for @p tok (for tests and tools; the application mints its own). Members in
 * the order of the format above: "key" or "prefix", "max" when max_size >= 0, "types" (the
 * patterns joined by ',') when there are any, "exp" (expires in whole seconds). Strings are
 * escaped as PHP's json_encode(..., JSON_UNESCAPED_SLASHES) does, so the bytes match.
 * @param token out: the token, allocated from @p p
 * @return APR_SUCCESS; APR_EINVAL when @p tok has both or neither of key and prefix, no
 *         expiry, a string that is not UTF-8, when the token would exceed S3_TOKEN_MAX, or when
 *         the secret is empty; APR_EGENERAL when OpenSSL fails
 */
apr_status_t s3_token_mint(const char **token, const s3_token_t *tok, const unsigned char *secret,
                           apr_size_t secret_len, apr_pool_t *p);

#endif /* S3_TOKEN_H */
