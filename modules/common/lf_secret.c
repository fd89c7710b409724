/* lf_secret — load secrets from files or the environment, compare with them (see lf_secret.h). */
#include <stdlib.h>

#include <apr_crypto.h>
#include <apr_env.h>
#include <apr_file_io.h>
#include <apr_sha1.h>
#include <apr_strings.h>

#include "lf_secret.h"

/* Larger than any token or key we read; a bigger file is surely the wrong file. */
#define LF_SECRET_MAX 8192

apr_status_t lf_secret_load(const char **secret, const char **why, const char *spec, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    char *value = NULL;
    apr_file_t *f;
    apr_size_t len;

    if (!strncmp(spec, "env:", 4) && spec[4]) {
        if (apr_env_get(&value, spec + 4, p) != APR_SUCCESS) {
            *why = apr_psprintf(p, "environment variable %s is not set", spec + 4);
            return APR_EINVAL;
        }
    }
    else if (!strncmp(spec, "file:", 5) && spec[5]) {
        rv = apr_file_open(&f, spec + 5, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
        if (rv == APR_SUCCESS) {
            value = apr_palloc(p, LF_SECRET_MAX + 1);
            len = LF_SECRET_MAX + 1;
            rv = apr_file_read_full(f, value, len, &len);
            apr_file_close(f);
            if (rv == APR_EOF || (rv == APR_SUCCESS && len <= LF_SECRET_MAX)) {
                rv = APR_SUCCESS;
                value[len] = '\0';
            }
            else if (rv == APR_SUCCESS) {
                *why = apr_psprintf(p, "%s is larger than %d bytes", spec + 5, LF_SECRET_MAX);
                return APR_EINVAL;
            }
        }
        if (rv != APR_SUCCESS) {
            char err[128];
            *why =
                apr_psprintf(p, "cannot read %s: %s", spec + 5, apr_strerror(rv, err, sizeof(err)));
            return rv;
        }
    }
    else {
        /* Never echo the value: an operator may have pasted the secret itself here. */
        *why = "expected file:/path or env:NAME (the secret itself does not belong in the "
               "configuration)";
        return APR_EINVAL;
    }
    len = strlen(value);
    while (len && (value[len - 1] == '\n' || value[len - 1] == '\r')) {
        value[--len] = '\0';
    }
    if (!len) {
        *why = apr_psprintf(p, "the secret in %s is empty", spec);
        return APR_EINVAL;
    }
    *secret = value;
    return APR_SUCCESS;
}

int lf_secret_equals(const char *given, const char *secret)
{
    unsigned char a[APR_SHA1_DIGESTSIZE], b[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;

    /* Digests of equal length: the comparison takes the same time whatever the inputs' lengths
     * and wherever they differ. */
    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, given, (unsigned)strlen(given));
    apr_sha1_final(a, &ctx);
    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, secret, (unsigned)strlen(secret));
    apr_sha1_final(b, &ctx);
    return apr_crypto_equals(a, b, sizeof(a));
}
