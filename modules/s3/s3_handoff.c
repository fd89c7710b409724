/* s3_handoff — the rules of the X-S3-Key hand-off (see s3_handoff.h). */
#include <strings.h>

#include <apr_strings.h>

#include "s3_handoff.h"
#include "s3_key.h"
#include "s3_mime.h"

int s3_handoff_decide(const int *settings, int n)
{
    int i;

    for (i = 0; i < n; ++i) {
        if (settings[i] != -1) {
            return settings[i] == 1 ? i : -1;
        }
    }
    return -1;
}

/* The dispositions an application may ask for; any other value is ignored, not passed on. */
static int disposition_ok(const char *d)
{
    return !strcasecmp(d, "attachment") || !strcasecmp(d, "inline")
           || !strncasecmp(d, "attachment;", 11) || !strncasecmp(d, "inline;", 7);
}

apr_status_t s3_handoff_parse(const char **key, const char **disposition, const char **why,
                              const char *prefix, const char *raw_key, const char *raw_disposition,
                              apr_pool_t *p)
{
    const char *k;

    while (*raw_key == '/') {
        ++raw_key; /* relative to the prefix, like the path below a location */
    }
    if (!*raw_key) {
        *why = "the key is empty";
        return APR_EINVAL;
    }
    /* The header is plain text: encoded first, so that the checks of a URL path (dot segments,
     * control characters, UTF-8) apply to what it names and a '%' in it is a '%'. */
    if (s3_key_from_path(&k, why, prefix, s3_key_url_path(raw_key, p), 1, p) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    *key = k;
    *disposition = NULL;
    if (raw_disposition && disposition_ok(raw_disposition)) {
        *disposition = raw_disposition;
        if (!strchr(raw_disposition, ';')) { /* a bare type: name the file */
            *disposition = s3_mime_disposition(raw_disposition, s3_key_basename(k), p);
        }
    }
    return APR_SUCCESS;
}

const char *s3_handoff_route(const char *path, apr_pool_t *p)
{
    apr_size_t n;

    while (path && *path == '/') {
        ++path;
    }
    if (!path || !*path) {
        return "/";
    }
    n = strcspn(path, "/");
    return apr_pstrcat(p, "/", apr_pstrmemdup(p, path, n), NULL);
}
