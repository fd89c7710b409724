/* lf_secret — secrets for directives (AWS keys, redis passwords, tokens) come from a file or
 * the environment, never from the config text itself, and never appear in messages.
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

#endif /* LF_SECRET_H */
