/* lf_secret — secrets for directives (AWS keys, redis passwords, tokens) come from a file or
 * the environment, never from the config text itself, and never appear in messages; and what a
 * client presents is compared with them in constant time.
 */
#ifndef LF_SECRET_H
#define LF_SECRET_H

#include <apr_pools.h>

/**
 * Load a secret named by @p spec: "file:/path" (the file's content, trailing newlines dropped)
 * or "env:NAME" (the environment variable's value).
 * @param secret out, allocated from @p p
 * @param why out on error: what is wrong, without the secret, allocated from @p p
 * @return APR_SUCCESS; APR_EINVAL for a bad spec or an empty secret; the file's error.
 */
apr_status_t lf_secret_load(const char **secret, const char **why, const char *spec, apr_pool_t *p);

/**
 * Whether @p given (what a client sent: a token, a signature) equals @p secret, in a time that
 * depends neither on where they differ nor on their lengths: both are hashed (SHA-1) and the
 * digests compared with apr_crypto_equals().
 * @return 1 when equal, 0 otherwise
 */
int lf_secret_equals(const char *given, const char *secret);

#endif /* LF_SECRET_H */
