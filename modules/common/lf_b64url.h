/* lf_b64url — base64url (RFC 4648 section 5) without '=' padding, the text form of the random
 * and keyed values lampfarm puts into cookies, tokens and URLs. A thin layer over APR-util's
 * base64 with the two characters swapped.
 */
#ifndef LF_B64URL_H
#define LF_B64URL_H

#include <apr_pools.h>

/** The length of the base64url text of @p n bytes, without padding. */
#define LF_B64URL_LEN(n) (((n)*4 + 2) / 3)

/** Whether @p len characters at @p s are base64url an encoder can make (not empty). */
int lf_b64url_valid(const char *s, apr_size_t len);

/** base64url of @p len bytes, NUL-terminated, allocated from @p p. */
char *lf_b64url_encode(const unsigned char *data, apr_size_t len, apr_pool_t *p);

/**
 * Decode @p len characters already checked by lf_b64url_valid().
 * @param outlen out: the number of bytes
 * @return the bytes, NUL-terminated, allocated from @p p
 */
char *lf_b64url_decode(apr_size_t *outlen, const char *s, apr_size_t len, apr_pool_t *p);

#endif /* LF_B64URL_H */
