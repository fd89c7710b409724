/* skv_id — session ids and the backend keys derived from them.
 *
 * A session id is 256 bits from OpenSSL's CSPRNG in base64url without padding: 43 characters.
 * A cookie value is checked (length, alphabet, canonical last character) before anything else
 * happens with it, so no byte a client chose ever reaches a backend: the backend key is
 * "<prefix>" followed by the hex SHA-256 of the id. A dump of memcached or redis therefore
 * holds no usable cookie (SHA-256 cannot be reversed, and the id has 256 bits of entropy).
 * Pure core: APR and OpenSSL.
 */
#ifndef SKV_ID_H
#define SKV_ID_H

#include <apr_pools.h>

/** Random bytes in an id. */
#define SKV_ID_BYTES 32
/** Characters of an id: base64url of SKV_ID_BYTES without padding. */
#define SKV_ID_LEN 43

/**
 * A new session id from the CSPRNG.
 * @param id out: SKV_ID_LEN characters, allocated from @p p
 * @return APR_SUCCESS, or APR_EGENERAL when OpenSSL has no entropy (never serve then)
 */
apr_status_t skv_id_generate(const char **id, apr_pool_t *p);

/** Whether the @p len bytes at @p s can be an id that skv_id_generate() made. */
int skv_id_valid(const char *s, apr_size_t len);

/** The longest key prefix (with the 64 hex digits, well within memcached's 250 bytes). */
#define SKV_ID_PREFIX_MAX 100

/**
 * Whether @p prefix can start backend keys: at most SKV_ID_PREFIX_MAX bytes, no spaces or
 * control characters (memcached's keys have none).
 * @return NULL, or what is wrong with it
 */
const char *skv_id_prefix_check(const char *prefix);

/**
 * The backend key of the (valid) id @p id: @p prefix and 64 hex digits, allocated from @p p.
 */
const char *skv_id_key(const char *prefix, const char *id, apr_pool_t *p);

#endif /* SKV_ID_H */
