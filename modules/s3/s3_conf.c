/* s3_conf — mod_s3's configuration without httpd: defaults, merge, the directives' parsers and
 * the checks across a section's fields (see s3_conf.h).
 */
#include <apr_lib.h>
#include <apr_strings.h>

#include "aws_creds.h"
#include "lf_conf.h"
#include "lf_parse.h"
#include "s3_client.h"
#include "s3_cloudfront.h"
#include "s3_conf.h"
#include "s3_mime.h"

/* The defaults, applied when a value is read (httpd never merges the main server's own). */
static const s3_dir_conf defaults = {
    NULL,                  /* location: the whole URL path names the key */
    NULL,                  /* bucket: none, the handler answers 500 */
    "us-east-1",           /* region */
    NULL,                  /* endpoint: https://s3.<region>.amazonaws.com */
    2,                     /* path_style: auto */
    "",                    /* key_prefix */
    "default",             /* creds_kind: the SDK chain, ending with the instance role */
    NULL,                  /* creds_arg */
    NULL,                  /* ca_file: the system's store */
    S3_PAYLOAD_AUTO,       /* payload: CRC32 over https, SHA-256 signed over http */
    3 * APR_USEC_PER_SEC,  /* connect_timeout */
    30 * APR_USEC_PER_SEC, /* timeout: whole requests other than streams */
    3,                     /* attempts */
    S3_DL_STREAM,          /* download */
    302,                   /* redirect_status */
    300,                   /* redirect_expires: 5 minutes */
    "none",                /* disposition: what S3 stored */
    NULL,                  /* expose_meta: no x-amz-meta-* reaches clients */
    0,                     /* hand_off */
    0,                     /* upload: writes are off */
    NULL,                  /* token_secret */
    0,                     /* require_user */
    (apr_off_t)5 << 30,    /* max_upload: 5 GiB, S3's single-PUT limit */
    NULL,                  /* allowed_types: any */
    (apr_off_t)8 << 20,    /* part_size: 8 MiB, what the AWS CLI uses */
    (apr_off_t)8 << 20,    /* spool_memory: one part in memory, then a temp file */
    NULL,                  /* temp_dir: the system's */
    0,                     /* no_overwrite */
    NULL,                  /* form_redirect: answer JSON */
    0,                     /* encoded_slashes */
    NULL,                  /* cf_domain: redirects go to presigned S3 URLs */
    NULL,                  /* cf_keys */
    NULL,                  /* cf_allow_ip: the canned policy */
    NULL,                  /* fallback_dir: none, a key S3 does not have is a 404 */
    0,                     /* fallback_copy: the move is the operator's (aws s3 sync) */
};

static const s3_srv_conf srv_defaults = {
    (apr_off_t)256 << 20, /* memory_limit: 256 MiB of spool memory for all uploads */
};

/* --- create, merge, defaults -------------------------------------------------------------- */

s3_dir_conf *s3_conf_create(apr_pool_t *p)
{
    s3_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->path_style = LF_UNSET;
    c->payload = LF_UNSET;
    c->connect_timeout = LF_UNSET;
    c->timeout = LF_UNSET;
    c->attempts = LF_UNSET;
    c->download = S3_DL_UNSET;
    c->redirect_status = LF_UNSET;
    c->redirect_expires = LF_UNSET;
    c->hand_off = LF_UNSET;
    c->upload = LF_UNSET;
    c->require_user = LF_UNSET;
    c->max_upload = LF_UNSET;
    c->part_size = LF_UNSET;
    c->spool_memory = LF_UNSET;
    c->no_overwrite = LF_UNSET;
    c->encoded_slashes = LF_UNSET;
    c->fallback_copy = LF_UNSET;
    return c;
}

s3_dir_conf *s3_conf_merge(const s3_dir_conf *base, const s3_dir_conf *add, apr_pool_t *p)
{
    s3_dir_conf *n = apr_pcalloc(p, sizeof(*n));

    n->location = LF_MERGE(add, base, location, NULL);
    n->bucket = LF_MERGE(add, base, bucket, NULL);
    n->region = LF_MERGE(add, base, region, NULL);
    n->endpoint = LF_MERGE(add, base, endpoint, NULL);
    n->path_style = LF_MERGE(add, base, path_style, LF_UNSET);
    n->key_prefix = LF_MERGE(add, base, key_prefix, NULL);
    n->creds_kind = LF_MERGE(add, base, creds_kind, NULL);
    n->creds_arg = add->creds_kind ? add->creds_arg : base->creds_arg;
    n->ca_file = LF_MERGE(add, base, ca_file, NULL);
    n->payload = LF_MERGE(add, base, payload, LF_UNSET);
    n->connect_timeout = LF_MERGE(add, base, connect_timeout, LF_UNSET);
    n->timeout = LF_MERGE(add, base, timeout, LF_UNSET);
    n->attempts = LF_MERGE(add, base, attempts, LF_UNSET);
    n->download = LF_MERGE(add, base, download, S3_DL_UNSET);
    n->redirect_status = LF_MERGE(add, base, redirect_status, LF_UNSET);
    n->redirect_expires = LF_MERGE(add, base, redirect_expires, LF_UNSET);
    n->disposition = LF_MERGE(add, base, disposition, NULL);
    n->expose_meta = LF_MERGE(add, base, expose_meta, NULL);
    n->hand_off = LF_MERGE(add, base, hand_off, LF_UNSET);
    n->upload = LF_MERGE(add, base, upload, LF_UNSET);
    n->token_secret = LF_MERGE(add, base, token_secret, NULL);
    n->require_user = LF_MERGE(add, base, require_user, LF_UNSET);
    n->max_upload = LF_MERGE(add, base, max_upload, LF_UNSET);
    n->allowed_types = LF_MERGE(add, base, allowed_types, NULL);
    n->part_size = LF_MERGE(add, base, part_size, LF_UNSET);
    n->spool_memory = LF_MERGE(add, base, spool_memory, LF_UNSET);
    n->temp_dir = LF_MERGE(add, base, temp_dir, NULL);
    n->no_overwrite = LF_MERGE(add, base, no_overwrite, LF_UNSET);
    n->form_redirect = LF_MERGE(add, base, form_redirect, NULL);
    n->encoded_slashes = LF_MERGE(add, base, encoded_slashes, LF_UNSET);
    n->cf_domain = LF_MERGE(add, base, cf_domain, NULL);
    n->cf_keys = LF_MERGE(add, base, cf_keys, NULL);
    n->cf_allow_ip = LF_MERGE(add, base, cf_allow_ip, NULL);
    n->fallback_dir = LF_MERGE(add, base, fallback_dir, NULL);
    n->fallback_copy = LF_MERGE(add, base, fallback_copy, LF_UNSET);
    return n;
}

s3_dir_conf *s3_conf_effective(const s3_dir_conf *c, apr_pool_t *p)
{
    s3_dir_conf *e = apr_pmemdup(p, c, sizeof(*c));

    e->region = LF_DEFAULT(c, defaults, region, NULL);
    e->path_style = LF_DEFAULT(c, defaults, path_style, LF_UNSET);
    e->key_prefix = LF_DEFAULT(c, defaults, key_prefix, NULL);
    e->creds_kind = LF_DEFAULT(c, defaults, creds_kind, NULL);
    e->payload = LF_DEFAULT(c, defaults, payload, LF_UNSET);
    e->connect_timeout = LF_DEFAULT(c, defaults, connect_timeout, LF_UNSET);
    e->timeout = LF_DEFAULT(c, defaults, timeout, LF_UNSET);
    e->attempts = LF_DEFAULT(c, defaults, attempts, LF_UNSET);
    e->download = LF_DEFAULT(c, defaults, download, S3_DL_UNSET);
    e->redirect_status = LF_DEFAULT(c, defaults, redirect_status, LF_UNSET);
    e->redirect_expires = LF_DEFAULT(c, defaults, redirect_expires, LF_UNSET);
    e->disposition = LF_DEFAULT(c, defaults, disposition, NULL);
    e->hand_off = LF_DEFAULT(c, defaults, hand_off, LF_UNSET);
    e->upload = LF_DEFAULT(c, defaults, upload, LF_UNSET);
    e->require_user = LF_DEFAULT(c, defaults, require_user, LF_UNSET);
    e->max_upload = LF_DEFAULT(c, defaults, max_upload, LF_UNSET);
    e->part_size = LF_DEFAULT(c, defaults, part_size, LF_UNSET);
    e->spool_memory = LF_DEFAULT(c, defaults, spool_memory, LF_UNSET);
    e->no_overwrite = LF_DEFAULT(c, defaults, no_overwrite, LF_UNSET);
    e->encoded_slashes = LF_DEFAULT(c, defaults, encoded_slashes, LF_UNSET);
    e->fallback_copy = LF_DEFAULT(c, defaults, fallback_copy, LF_UNSET);
    return e;
}

s3_srv_conf *s3_conf_srv_create(apr_pool_t *p)
{
    s3_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->memory_limit = LF_UNSET;
    return c;
}

apr_off_t s3_conf_memory_limit(const s3_srv_conf *c)
{
    return LF_DEFAULT(c, srv_defaults, memory_limit, LF_UNSET);
}

/* --- the directives' values --------------------------------------------------------------- */

/* APR_EINVAL with "<name>: '<arg>' <what>" in *why. */
static apr_status_t bad(const char **why, const char *name, const char *arg, const char *what,
                        apr_pool_t *p)
{
    *why = apr_psprintf(p, "%s: '%s' %s", name, arg, what);
    return APR_EINVAL;
}

apr_status_t s3_conf_set_endpoint(s3_dir_conf *c, const char **why, const char *arg, apr_pool_t *p)
{
    if (strncasecmp(arg, "http://", 7) && strncasecmp(arg, "https://", 8)) {
        return bad(why, S3_ENDPOINT, arg, "is not an http:// or https:// URL", p);
    }
    c->endpoint = arg;
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_key_prefix(s3_dir_conf *c, const char **why, const char *arg,
                                    apr_pool_t *p)
{
    if (arg[0] == '/' || strstr(arg, "..")) {
        return bad(why, S3_KEY_PREFIX, arg, "must not start with '/' or hold '..'", p);
    }
    c->key_prefix = arg;
    return APR_SUCCESS;
}

/* The index in @p words (NULL-terminated) of @p arg, any case; @p what says what is wrong else. */
static apr_status_t one_of(int *out, const char **why, const char *name, const char *arg,
                           const char *const *words, const char *what, apr_pool_t *p)
{
    int i;

    for (i = 0; words[i]; ++i) {
        if (!strcasecmp(arg, words[i])) {
            *out = i;
            return APR_SUCCESS;
        }
    }
    return bad(why, name, arg, what, p);
}

apr_status_t s3_conf_set_addressing(s3_dir_conf *c, const char **why, const char *arg,
                                    apr_pool_t *p)
{
    /* in the order of path_style's values: 0 virtual-hosted, 1 path, 2 auto */
    static const char *const words[] = {"virtual", "path", "auto", NULL};

    return one_of(&c->path_style, why, S3_ADDRESSING, arg, words, "is not path, virtual or auto",
                  p);
}

apr_status_t s3_conf_set_payload_signing(s3_dir_conf *c, const char **why, const char *arg,
                                         apr_pool_t *p)
{
    /* in the order of s3_payload_e: auto, signed, CRC32 */
    static const char *const words[] = {"auto", "on", "off", NULL};

    return one_of(&c->payload, why, S3_PAYLOAD_SIGNING, arg, words, "is not auto, on or off", p);
}

/* A positive duration, in microseconds. */
static apr_status_t duration(apr_interval_time_t *t, const char **why, const char *name,
                             const char *arg, apr_pool_t *p)
{
    if (lf_parse_duration(t, arg, "s") != APR_SUCCESS || *t <= 0) {
        return bad(why, name, arg, "is not a duration such as 30s or 500ms", p);
    }
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_connect_timeout(s3_dir_conf *c, const char **why, const char *arg,
                                         apr_pool_t *p)
{
    return duration(&c->connect_timeout, why, S3_CONNECT_TIMEOUT, arg, p);
}

apr_status_t s3_conf_set_timeout(s3_dir_conf *c, const char **why, const char *arg, apr_pool_t *p)
{
    return duration(&c->timeout, why, S3_TIMEOUT, arg, p);
}

apr_status_t s3_conf_set_redirect_expires(s3_dir_conf *c, const char **why, const char *arg,
                                          apr_pool_t *p)
{
    apr_interval_time_t t;
    apr_status_t rv;

    if ((rv = duration(&t, why, S3_REDIRECT_EXPIRES, arg, p)) != APR_SUCCESS) {
        return rv;
    }
    if (t < APR_USEC_PER_SEC || apr_time_sec(t) > 604800) {
        return bad(why, S3_REDIRECT_EXPIRES, arg, "is not between 1s and 7 days", p);
    }
    c->redirect_expires = apr_time_sec(t);
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_attempts(s3_dir_conf *c, const char **why, const char *arg, apr_pool_t *p)
{
    if (lf_parse_int(&c->attempts, arg, 1, 10) != APR_SUCCESS) {
        return bad(why, S3_ATTEMPTS, arg, "is not a number from 1 to 10", p);
    }
    return APR_SUCCESS;
}

/* A size from @p min to @p max bytes; @p range says what is wrong outside them. */
static apr_status_t size(apr_off_t *out, const char **why, const char *name, const char *arg,
                         apr_off_t min, apr_off_t max, const char *range, apr_pool_t *p)
{
    apr_off_t n;

    if (lf_parse_size(&n, arg) != APR_SUCCESS) {
        return bad(why, name, arg, "is not a size such as 512K, 8M or 1G", p);
    }
    if (n < min || n > max) {
        return bad(why, name, arg, range, p);
    }
    *out = n;
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_max_upload(s3_dir_conf *c, const char **why, const char *arg,
                                    apr_pool_t *p)
{
    /* Multipart: 10,000 parts of up to 5 GiB; S3 caps objects at 5 TiB. */
    return size(&c->max_upload, why, S3_MAX_UPLOAD_SIZE, arg, 1, (apr_off_t)5 << 40,
                "is not between 1 byte and 5T", p);
}

apr_status_t s3_conf_set_part_size(s3_dir_conf *c, const char **why, const char *arg, apr_pool_t *p)
{
    return size(&c->part_size, why, S3_PART_SIZE, arg, (apr_off_t)5 << 20, (apr_off_t)5 << 30,
                "is outside S3's part sizes (5M to 5G)", p);
}

apr_status_t s3_conf_set_spool_memory(s3_dir_conf *c, const char **why, const char *arg,
                                      apr_pool_t *p)
{
    return size(&c->spool_memory, why, S3_SPOOL_MEMORY, arg, 0, (apr_off_t)1 << 30, "is over 1G",
                p);
}

apr_status_t s3_conf_set_disposition(s3_dir_conf *c, const char **why, const char *arg,
                                     apr_pool_t *p)
{
    static const char *const words[] = {"none", "attachment", "inline", NULL};
    int i;

    if (one_of(&i, why, S3_DISPOSITION, arg, words, "is not none, attachment or inline", p)
        != APR_SUCCESS) {
        return APR_EINVAL;
    }
    c->disposition = words[i];
    return APR_SUCCESS;
}

apr_status_t s3_conf_add_expose_meta(s3_dir_conf *c, const char **why, const char *arg,
                                     apr_pool_t *p)
{
    char *name = apr_pstrdup(p, arg), *s;

    for (s = name; *s; ++s) {
        *s = (char)apr_tolower(*s);
    }
    if (strncmp(name, "x-amz-meta-", 11)) {
        name = apr_pstrcat(p, "x-amz-meta-", name, NULL);
    }
    for (s = name; *s; ++s) {
        if (!apr_isalnum(*s) && *s != '-' && *s != '_') {
            return bad(why, S3_EXPOSE_META, arg, "is not a header name", p);
        }
    }
    if (!c->expose_meta) {
        c->expose_meta = apr_array_make(p, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->expose_meta, const char *) = name;
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_allowed_types(s3_dir_conf *c, const char **why, const char *arg,
                                       apr_pool_t *p)
{
    apr_array_header_t *types;

    if (s3_mime_parse_list(&types, why, arg, p) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s: %s", S3_ALLOWED_TYPES, *why);
        return APR_EINVAL;
    }
    c->allowed_types = types;
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_download(s3_dir_conf *c, const char **why, const char *mode,
                                  const char *status, apr_pool_t *p)
{
    int code = 302;

    if (!strcasecmp(mode, "stream") && !status) {
        c->download = S3_DL_STREAM;
    }
    else if (!strcasecmp(mode, "off") && !status) {
        c->download = S3_DL_OFF;
    }
    else if (!strcasecmp(mode, "redirect")) {
        if (status
            && (lf_parse_int(&code, status, 302, 307) != APR_SUCCESS
                || (code != 302 && code != 307))) {
            *why =
                apr_psprintf(p, "%s: redirect status '%s' is not 302 or 307", S3_DOWNLOAD, status);
            return APR_EINVAL;
        }
        c->download = S3_DL_REDIRECT;
        c->redirect_status = code;
    }
    else {
        *why = S3_DOWNLOAD ": expected 'stream', 'redirect [302|307]' or 'off'";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_credentials(s3_dir_conf *c, const char **why, const char *kind,
                                     const char *arg, const char *root, apr_pool_t *p)
{
    if (aws_creds_source_conf(&c->creds_kind, &c->creds_arg, kind, arg, root, p) != APR_SUCCESS) {
        *why = S3_CREDENTIALS ": " AWS_CREDS_SOURCE_SYNTAX;
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_token_secret(s3_dir_conf *c, const char **why, const char *secret)
{
    if (strlen(secret) < 16) {
        *why = S3_UPLOAD_TOKEN_KEY ": the secret is shorter than 16 bytes";
        return APR_EINVAL;
    }
    c->token_secret = secret;
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_memory_limit(s3_srv_conf *c, const char **why, const char *arg,
                                      apr_pool_t *p)
{
    if (lf_parse_size(&c->memory_limit, arg) != APR_SUCCESS) {
        return bad(why, S3_MEMORY_LIMIT, arg, "is not a size such as 256M", p);
    }
    return APR_SUCCESS;
}

/* --- CloudFront signed URLs ------------------------------------------------------------- */

apr_status_t s3_conf_set_cf_domain(s3_dir_conf *c, const char **why, const char *arg, apr_pool_t *p)
{
    const char *s;

    /* It goes into the signed URL and its JSON policy as it is: a host name, nothing else; a
     * :port only for what stands in for CloudFront (CloudFront itself answers on 443). */
    for (s = arg; *s && (apr_isalnum(*s) || *s == '-' || *s == '.'); ++s) {
    }
    if (*s == ':' && s > arg && apr_isdigit(s[1])) {
        for (++s; apr_isdigit(*s); ++s) {
        }
    }
    if (!*arg || *s || *arg == '.' || *arg == '-' || *arg == ':') {
        return bad(why, S3_CF_DOMAIN, arg,
                   "is not a host name such as d111111abcdef8.cloudfront.net (no scheme, no path)",
                   p);
    }
    c->cf_domain = apr_pstrdup(p, arg);
    return APR_SUCCESS;
}

apr_status_t s3_conf_set_cf_allow_ip(s3_dir_conf *c, const char **why, const char *arg,
                                     apr_pool_t *p)
{
    const char *what;

    if (s3_cf_check_cidr(&what, arg) != APR_SUCCESS) {
        return bad(why, S3_CF_ALLOW_IP, arg, what, p);
    }
    c->cf_allow_ip = apr_pstrdup(p, arg);
    return APR_SUCCESS;
}

apr_status_t s3_conf_add_cf_key(s3_dir_conf *c, const char **why, const char *id, const char *path,
                                apr_pool_t *p)
{
    const char *s, *what;
    s3_cf_key_t *key;
    apr_status_t rv;

    /* CloudFront's ids are upper-case letters and digits (K2JCJMDEHXQW5F; APKA... for the
     * account key pairs of old); the id goes into the URL as it is. */
    for (s = id; *s && (apr_isupper(*s) || apr_isdigit(*s)); ++s) {
    }
    if (!*id || *s) {
        return bad(why, S3_CF_KEY, id,
                   "is not a CloudFront public key id such as K2JCJMDEHXQW5F (upper-case letters "
                   "and digits)",
                   p);
    }
    if (c->cf_keys && c->cf_keys->nelts >= S3_CF_KEYS_MAX) {
        *why = apr_psprintf(p,
                            "%s: at most %d per section: the key that signs, then the next one "
                            "during a rotation",
                            S3_CF_KEY, S3_CF_KEYS_MAX);
        return APR_EINVAL;
    }
    if ((rv = s3_cf_key_load(&key, &what, id, path, p)) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s %s: %s", S3_CF_KEY, id, what);
        return rv;
    }
    if (!c->cf_keys) {
        c->cf_keys = apr_array_make(p, S3_CF_KEYS_MAX, sizeof(s3_cf_key_t *));
    }
    APR_ARRAY_PUSH(c->cf_keys, s3_cf_key_t *) = key;
    return APR_SUCCESS;
}

/* What is wrong with a section's CloudFront settings, or NULL. */
static const char *check_cloudfront(const s3_dir_conf *c, apr_pool_t *p)
{
    if (c->cf_domain && !c->cf_keys) {
        return apr_psprintf(p,
                            "%s %s without %s: CloudFront answers 403 to unsigned URLs of a "
                            "distribution that restricts viewer access",
                            S3_CF_DOMAIN, c->cf_domain, S3_CF_KEY);
    }
    if ((c->cf_keys || c->cf_allow_ip) && !c->cf_domain) {
        return apr_psprintf(p, "%s or %s without %s", S3_CF_KEY, S3_CF_ALLOW_IP, S3_CF_DOMAIN);
    }
    if (c->cf_domain && c->download != S3_DL_REDIRECT) {
        return apr_psprintf(p, "%s needs %s redirect: only redirects go to CloudFront",
                            S3_CF_DOMAIN, S3_DOWNLOAD);
    }
    return NULL;
}

const char *s3_conf_location(const char *path, apr_pool_t *p)
{
    apr_size_t n = strlen(path);

    return n && path[n - 1] == '/' ? apr_pstrmemdup(p, path, n - 1) : path;
}

/* --- checks across fields ------------------------------------------------------------------ */

apr_status_t s3_conf_set_fallback_dir(s3_dir_conf *c, const char **why, const char *arg,
                                      const char *root, apr_pool_t *p)
{
    char *path;
    apr_finfo_t fi;
    apr_status_t rv;

    if (!strcasecmp(arg, "off")) {
        c->fallback_dir = "";
        return APR_SUCCESS;
    }
    if (apr_filepath_merge(&path, root, arg, APR_FILEPATH_TRUENAME, p) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s: %s is not a valid path", S3_FALLBACK_DIRECTORY, arg);
        return APR_EINVAL;
    }
    if ((rv = apr_stat(&fi, path, APR_FINFO_TYPE, p)) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s: cannot use %s: %pm", S3_FALLBACK_DIRECTORY, path, &rv);
        return APR_EINVAL;
    }
    if (fi.filetype != APR_DIR) {
        *why = apr_psprintf(p, "%s: %s is not a directory", S3_FALLBACK_DIRECTORY, path);
        return APR_EINVAL;
    }
    c->fallback_dir = path;
    return APR_SUCCESS;
}

apr_status_t s3_conf_check(const char **why, const s3_dir_conf *c, apr_pool_t *p)
{
    if (c->fallback_dir && *c->fallback_dir && c->download == S3_DL_REDIRECT) {
        /* Knowing that S3 lacks the key would cost a HEAD to S3 before every redirect. */
        *why = apr_psprintf(p,
                            "%s works with %s stream only: a redirect leaves no 404 to fall "
                            "back from; use %s stream during the move",
                            S3_FALLBACK_DIRECTORY, S3_DOWNLOAD, S3_DOWNLOAD);
        return APR_EINVAL;
    }
    if ((c->upload || c->hand_off) && !c->bucket) {
        *why = apr_psprintf(p, "%s or %s without %s", S3_UPLOAD, S3_HAND_OFF, S3_BUCKET);
        return APR_EINVAL;
    }
    if (c->upload && !c->token_secret && !c->require_user) {
        *why = apr_psprintf(p,
                            "%s On needs an authorization: %s (tokens minted by the application) "
                            "and/or %s On (httpd's own authentication); writes are never open",
                            S3_UPLOAD, S3_UPLOAD_TOKEN_KEY, S3_UPLOAD_REQUIRE_USER);
        return APR_EINVAL;
    }
    if ((*why = check_cloudfront(c, p))) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
