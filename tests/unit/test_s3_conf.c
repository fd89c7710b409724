/* Unit tests of modules/s3/s3_conf.c: the defaults a request sees, how sections merge, every
 * directive's parser with the exact message httpd shows for a bad value (the same texts that
 * tests/integration/test_044_s3_config.py and test_050_s3_options.py read from a failed start),
 * and the checks across a section's fields. */
#include "unit.h"

#include "lf_conf.h"
#include "s3_client.h"
#include "s3_conf.h"

/* The message of a value the test expects @p set to refuse (it fails if it is accepted). */
static const char *refused(s3_conf_set_fn *set, const char *arg, apr_pool_t *p)
{
    s3_dir_conf *c = s3_conf_create(p);
    const char *why = NULL;

    if (set(c, &why, arg, p) != APR_EINVAL) {
        fail_msg("accepted \"%s\"", arg);
    }
    assert_non_null(why);
    return why;
}

/* A new config with @p arg set by @p set (the test fails if it is refused). */
static s3_dir_conf *accepted(s3_conf_set_fn *set, const char *arg, apr_pool_t *p)
{
    s3_dir_conf *c = s3_conf_create(p);
    const char *why = NULL;

    if (set(c, &why, arg, p) != APR_SUCCESS) {
        fail_msg("refused \"%s\": %s", arg, why ? why : "(no reason)");
    }
    return c;
}

static void defaults_apply_when_read(void **state)
{
    apr_pool_t *p = *state;
    s3_dir_conf *c = s3_conf_create(p);
    const s3_dir_conf *e;

    /* created: every field unset */
    assert_null(c->bucket);
    assert_null(c->region);
    assert_int_equal(c->path_style, LF_UNSET);
    assert_int_equal(c->download, S3_DL_UNSET);
    assert_int_equal(c->max_upload, LF_UNSET);
    assert_int_equal(c->hand_off, LF_UNSET);
    /* read: the defaults (the main server, which httpd never merges, sees them too) */
    e = s3_conf_effective(c, p);
    assert_null(e->bucket);
    assert_null(e->location);
    assert_null(e->endpoint);
    assert_string_equal(e->region, "us-east-1");
    assert_int_equal(e->path_style, 2);
    assert_string_equal(e->key_prefix, "");
    assert_string_equal(e->creds_kind, "default");
    assert_int_equal(e->payload, S3_PAYLOAD_AUTO);
    assert_int_equal(e->connect_timeout, 3 * APR_USEC_PER_SEC);
    assert_int_equal(e->timeout, 30 * APR_USEC_PER_SEC);
    assert_int_equal(e->attempts, 3);
    assert_int_equal(e->download, S3_DL_STREAM);
    assert_int_equal(e->redirect_status, 302);
    assert_int_equal(e->redirect_expires, 300);
    assert_string_equal(e->disposition, "none");
    assert_null(e->expose_meta);
    assert_int_equal(e->hand_off, 0);
    assert_int_equal(e->upload, 0);
    assert_int_equal(e->require_user, 0);
    assert_int_equal(e->max_upload, (apr_off_t)5 << 30);
    assert_null(e->allowed_types);
    assert_int_equal(e->part_size, (apr_off_t)8 << 20);
    assert_int_equal(e->spool_memory, (apr_off_t)8 << 20);
    assert_int_equal(e->no_overwrite, 0);
    assert_int_equal(e->encoded_slashes, 0);
    /* the config itself is left as it is */
    assert_null(c->region);
    assert_int_equal(c->attempts, LF_UNSET);
    /* a set value is read as it is */
    c->attempts = 7;
    c->region = "eu-west-1";
    e = s3_conf_effective(c, p);
    assert_int_equal(e->attempts, 7);
    assert_string_equal(e->region, "eu-west-1");
}

static void merge_takes_what_is_set(void **state)
{
    apr_pool_t *p = *state;
    s3_dir_conf *base = s3_conf_create(p), *add = s3_conf_create(p);
    const s3_dir_conf *n;
    const char *why;

    base->bucket = "base-bucket";
    base->region = "eu-west-1";
    base->upload = 1;
    base->attempts = 5;
    assert_int_equal(s3_conf_set_credentials(base, &why, "profile", "ops", "/srv", p), APR_SUCCESS);
    add->bucket = "add-bucket";
    add->upload = 0; /* Off in the more specific section wins over On */
    add->location = "/files";
    n = s3_conf_merge(base, add, p);
    assert_string_equal(n->bucket, "add-bucket");
    assert_string_equal(n->region, "eu-west-1");
    assert_int_equal(n->upload, 0);
    assert_int_equal(n->attempts, 5);
    assert_string_equal(n->location, "/files");
    assert_string_equal(n->creds_kind, "profile");
    assert_string_equal(n->creds_arg, "ops");
    assert_int_equal(n->timeout, LF_UNSET); /* still unset: defaults come when read */
    /* the credentials' argument goes with their kind: "default" drops the base's profile */
    assert_int_equal(s3_conf_set_credentials(add, &why, "default", NULL, "/srv", p), APR_SUCCESS);
    n = s3_conf_merge(base, add, p);
    assert_string_equal(n->creds_kind, "default");
    assert_null(n->creds_arg);
    /* merging is not applying defaults */
    n = s3_conf_merge(s3_conf_create(p), s3_conf_create(p), p);
    assert_null(n->region);
    assert_int_equal(n->download, S3_DL_UNSET);
}

static void server_memory_limit(void **state)
{
    apr_pool_t *p = *state;
    s3_srv_conf *c = s3_conf_srv_create(p);
    const char *why = NULL;

    assert_int_equal(s3_conf_memory_limit(c), (apr_off_t)256 << 20);
    assert_int_equal(s3_conf_set_memory_limit(c, &why, "64M", p), APR_SUCCESS);
    assert_int_equal(s3_conf_memory_limit(c), (apr_off_t)64 << 20);
    assert_int_equal(s3_conf_set_memory_limit(c, &why, "lots", p), APR_EINVAL);
    assert_string_equal(why, "S3MemoryLimit: 'lots' is not a size such as 256M");
}

static void words(void **state)
{
    apr_pool_t *p = *state;

    assert_int_equal(accepted(s3_conf_set_addressing, "path", p)->path_style, 1);
    assert_int_equal(accepted(s3_conf_set_addressing, "VIRTUAL", p)->path_style, 0);
    assert_int_equal(accepted(s3_conf_set_addressing, "auto", p)->path_style, 2);
    assert_string_equal(refused(s3_conf_set_addressing, "dns", p),
                        "S3Addressing: 'dns' is not path, virtual or auto");
    assert_int_equal(accepted(s3_conf_set_payload_signing, "auto", p)->payload, S3_PAYLOAD_AUTO);
    assert_int_equal(accepted(s3_conf_set_payload_signing, "On", p)->payload, S3_PAYLOAD_SIGNED);
    assert_int_equal(accepted(s3_conf_set_payload_signing, "off", p)->payload, S3_PAYLOAD_CRC32);
    assert_string_equal(refused(s3_conf_set_payload_signing, "sometimes", p),
                        "S3PayloadSigning: 'sometimes' is not auto, on or off");
    assert_string_equal(accepted(s3_conf_set_disposition, "Attachment", p)->disposition,
                        "attachment");
    assert_string_equal(accepted(s3_conf_set_disposition, "INLINE", p)->disposition, "inline");
    assert_string_equal(accepted(s3_conf_set_disposition, "none", p)->disposition, "none");
    assert_string_equal(refused(s3_conf_set_disposition, "download", p),
                        "S3Disposition: 'download' is not none, attachment or inline");
}

static void urls_and_prefixes(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(accepted(s3_conf_set_endpoint, "http://127.0.0.1:9000", p)->endpoint,
                        "http://127.0.0.1:9000");
    assert_string_equal(accepted(s3_conf_set_endpoint, "HTTPS://s3.example", p)->endpoint,
                        "HTTPS://s3.example");
    assert_string_equal(refused(s3_conf_set_endpoint, "s3.example.com", p),
                        "S3Endpoint: 's3.example.com' is not an http:// or https:// URL");
    assert_string_equal(accepted(s3_conf_set_key_prefix, "uploads/", p)->key_prefix, "uploads/");
    assert_string_equal(refused(s3_conf_set_key_prefix, "/uploads", p),
                        "S3KeyPrefix: '/uploads' must not start with '/' or hold '..'");
    assert_string_equal(refused(s3_conf_set_key_prefix, "a/../b", p),
                        "S3KeyPrefix: 'a/../b' must not start with '/' or hold '..'");
    assert_string_equal(s3_conf_location("/files/", p), "/files");
    assert_string_equal(s3_conf_location("/files", p), "/files");
    assert_string_equal(s3_conf_location("/", p), "");
}

static void durations_and_numbers(void **state)
{
    apr_pool_t *p = *state;

    assert_int_equal(accepted(s3_conf_set_connect_timeout, "500ms", p)->connect_timeout,
                     500 * 1000);
    assert_int_equal(accepted(s3_conf_set_timeout, "2", p)->timeout, 2 * APR_USEC_PER_SEC);
    assert_string_equal(refused(s3_conf_set_timeout, "0s", p),
                        "S3Timeout: '0s' is not a duration such as 30s or 500ms");
    assert_string_equal(refused(s3_conf_set_connect_timeout, "soon", p),
                        "S3ConnectTimeout: 'soon' is not a duration such as 30s or 500ms");
    assert_int_equal(accepted(s3_conf_set_redirect_expires, "10m", p)->redirect_expires, 600);
    assert_int_equal(accepted(s3_conf_set_redirect_expires, "7d", p)->redirect_expires, 604800);
    assert_string_equal(refused(s3_conf_set_redirect_expires, "8d", p),
                        "S3RedirectExpires: '8d' is not between 1s and 7 days");
    assert_string_equal(refused(s3_conf_set_redirect_expires, "500ms", p),
                        "S3RedirectExpires: '500ms' is not between 1s and 7 days");
    assert_string_equal(refused(s3_conf_set_redirect_expires, "x", p),
                        "S3RedirectExpires: 'x' is not a duration such as 30s or 500ms");
    assert_int_equal(accepted(s3_conf_set_attempts, "10", p)->attempts, 10);
    assert_string_equal(refused(s3_conf_set_attempts, "0", p),
                        "S3Attempts: '0' is not a number from 1 to 10");
    assert_string_equal(refused(s3_conf_set_attempts, "11", p),
                        "S3Attempts: '11' is not a number from 1 to 10");
}

static void sizes(void **state)
{
    apr_pool_t *p = *state;

    assert_int_equal(accepted(s3_conf_set_max_upload, "5T", p)->max_upload, (apr_off_t)5 << 40);
    assert_int_equal(accepted(s3_conf_set_max_upload, "1", p)->max_upload, 1);
    assert_string_equal(refused(s3_conf_set_max_upload, "0", p),
                        "S3MaxUploadSize: '0' is not between 1 byte and 5T");
    assert_string_equal(refused(s3_conf_set_max_upload, "6T", p),
                        "S3MaxUploadSize: '6T' is not between 1 byte and 5T");
    assert_string_equal(refused(s3_conf_set_max_upload, "big", p),
                        "S3MaxUploadSize: 'big' is not a size such as 512K, 8M or 1G");
    assert_int_equal(accepted(s3_conf_set_part_size, "5M", p)->part_size, (apr_off_t)5 << 20);
    assert_int_equal(accepted(s3_conf_set_part_size, "5G", p)->part_size, (apr_off_t)5 << 30);
    assert_string_equal(refused(s3_conf_set_part_size, "4M", p),
                        "S3PartSize: '4M' is outside S3's part sizes (5M to 5G)");
    assert_string_equal(refused(s3_conf_set_part_size, "6G", p),
                        "S3PartSize: '6G' is outside S3's part sizes (5M to 5G)");
    assert_int_equal(accepted(s3_conf_set_spool_memory, "0", p)->spool_memory, 0);
    assert_int_equal(accepted(s3_conf_set_spool_memory, "1G", p)->spool_memory, (apr_off_t)1 << 30);
    assert_string_equal(refused(s3_conf_set_spool_memory, "2G", p),
                        "S3SpoolMemory: '2G' is over 1G");
}

static void download(void **state)
{
    apr_pool_t *p = *state;
    s3_dir_conf *c = s3_conf_create(p);
    const char *why = NULL;

    assert_int_equal(s3_conf_set_download(c, &why, "Stream", NULL, p), APR_SUCCESS);
    assert_int_equal(c->download, S3_DL_STREAM);
    assert_int_equal(s3_conf_set_download(c, &why, "off", NULL, p), APR_SUCCESS);
    assert_int_equal(c->download, S3_DL_OFF);
    assert_int_equal(s3_conf_set_download(c, &why, "redirect", NULL, p), APR_SUCCESS);
    assert_int_equal(c->download, S3_DL_REDIRECT);
    assert_int_equal(c->redirect_status, 302);
    assert_int_equal(s3_conf_set_download(c, &why, "redirect", "307", p), APR_SUCCESS);
    assert_int_equal(c->redirect_status, 307);
    /* a bad value leaves the config as it was */
    c = s3_conf_create(p);
    assert_int_equal(s3_conf_set_download(c, &why, "redirect", "303", p), APR_EINVAL);
    assert_string_equal(why, "S3Download: redirect status '303' is not 302 or 307");
    assert_int_equal(c->download, S3_DL_UNSET);
    assert_int_equal(c->redirect_status, LF_UNSET);
    assert_int_equal(s3_conf_set_download(c, &why, "redirect", "301", p), APR_EINVAL);
    assert_string_equal(why, "S3Download: redirect status '301' is not 302 or 307");
    assert_int_equal(s3_conf_set_download(c, &why, "stream", "302", p), APR_EINVAL);
    assert_string_equal(why, "S3Download: expected 'stream', 'redirect [302|307]' or 'off'");
    assert_int_equal(s3_conf_set_download(c, &why, "proxy", NULL, p), APR_EINVAL);
    assert_string_equal(why, "S3Download: expected 'stream', 'redirect [302|307]' or 'off'");
}

static void lists(void **state)
{
    apr_pool_t *p = *state;
    s3_dir_conf *c = s3_conf_create(p);
    const char *why = NULL;

    /* S3ExposeMeta: lower case, with the x-amz-meta- prefix, appended one word at a time */
    assert_int_equal(s3_conf_add_expose_meta(c, &why, "Owner", p), APR_SUCCESS);
    assert_int_equal(s3_conf_add_expose_meta(c, &why, "X-Amz-Meta-Case_Id", p), APR_SUCCESS);
    assert_int_equal(c->expose_meta->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(c->expose_meta, 0, const char *), "x-amz-meta-owner");
    assert_string_equal(APR_ARRAY_IDX(c->expose_meta, 1, const char *), "x-amz-meta-case_id");
    assert_string_equal(refused(s3_conf_add_expose_meta, "a b", p),
                        "S3ExposeMeta: 'a b' is not a header name");
    assert_string_equal(refused(s3_conf_add_expose_meta, "x:y", p),
                        "S3ExposeMeta: 'x:y' is not a header name");
    /* S3AllowedTypes: s3_mime's list, its message after the directive's name */
    c = accepted(s3_conf_set_allowed_types, "image/png, text/*", p);
    assert_int_equal(c->allowed_types->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(c->allowed_types, 1, const char *), "text/*");
    assert_true(!strncmp(refused(s3_conf_set_allowed_types, "image/", p), "S3AllowedTypes: ", 16));
    assert_true(!strncmp(refused(s3_conf_set_allowed_types, "", p), "S3AllowedTypes: ", 16));
}

static void credentials_and_secret(void **state)
{
    apr_pool_t *p = *state;
    s3_dir_conf *c = s3_conf_create(p);
    const char *why = NULL;

    assert_int_equal(s3_conf_set_credentials(c, &why, "keyfile", "conf/s3.keys", "/srv", p),
                     APR_SUCCESS);
    assert_string_equal(c->creds_kind, "keyfile");
    assert_string_equal(c->creds_arg, "/srv/conf/s3.keys");
    assert_int_equal(s3_conf_set_credentials(c, &why, "token", NULL, "/srv", p), APR_EINVAL);
    assert_string_equal(why, "S3Credentials: expected 'default', 'keyfile PATH' or "
                             "'profile NAME'");
    assert_int_equal(s3_conf_set_token_secret(c, &why, "0123456789abcdef"), APR_SUCCESS);
    assert_string_equal(c->token_secret, "0123456789abcdef");
    c = s3_conf_create(p);
    assert_int_equal(s3_conf_set_token_secret(c, &why, "short"), APR_EINVAL);
    assert_string_equal(why, "S3UploadTokenSecret: the secret is shorter than 16 bytes");
    assert_null(c->token_secret);
}

/* What s3_conf_check() says of a section (NULL: nothing wrong). */
static const char *check(const s3_dir_conf *c, apr_pool_t *p)
{
    const char *why = NULL;

    return s3_conf_check(&why, s3_conf_effective(c, p), p) == APR_SUCCESS ? NULL : why;
}

static void checks_across_fields(void **state)
{
    apr_pool_t *p = *state;
    s3_dir_conf *c = s3_conf_create(p);

    assert_null(check(c, p)); /* nothing of S3 configured */
    c->hand_off = 1;
    assert_string_equal(check(c, p), "S3Upload or S3HandOff without S3Bucket");
    c->hand_off = LF_UNSET;
    c->upload = 1;
    assert_string_equal(check(c, p), "S3Upload or S3HandOff without S3Bucket");
    c->bucket = "media";
    assert_string_equal(check(c, p),
                        "S3Upload On needs an authorization: S3UploadTokenSecret (tokens minted "
                        "by the application) and/or S3UploadRequireUser On (httpd's own "
                        "authentication); writes are never open");
    c->require_user = 1;
    assert_null(check(c, p));
    c->require_user = 0;
    c->token_secret = "0123456789abcdef";
    assert_null(check(c, p));
    c->upload = 0; /* a bucket alone: downloads */
    c->token_secret = NULL;
    assert_null(check(c, p));
    c->fallback_dir = "/tmp";
    assert_null(check(c, p));
    c->download = S3_DL_REDIRECT;
    assert_string_equal(check(c, p), "S3FallbackDirectory works with S3Download stream only: a "
                                     "redirect leaves no 404 to fall back from; use S3Download "
                                     "stream during the move");
    c->fallback_dir = ""; /* off */
    assert_null(check(c, p));
}

static void fallback_directory(void **state)
{
    apr_pool_t *p = *state;
    s3_dir_conf *c = s3_conf_create(p), *add = s3_conf_create(p);
    const char *why = NULL, *file = unit_write_temp(p, "x");

    assert_null(s3_conf_effective(c, p)->fallback_dir);
    assert_int_equal(s3_conf_effective(c, p)->fallback_copy, 0);
    add->fallback_copy = 1;
    assert_int_equal(s3_conf_merge(c, add, p)->fallback_copy, 1);
    assert_int_equal(s3_conf_merge(add, c, p)->fallback_copy, 1);
    assert_int_equal(s3_conf_set_fallback_dir(c, &why, "/tmp", "/srv", p), APR_SUCCESS);
    assert_string_equal(c->fallback_dir, "/tmp");
    assert_int_equal(s3_conf_set_fallback_dir(c, &why, "tmp", "/", p), APR_SUCCESS);
    assert_string_equal(c->fallback_dir, "/tmp"); /* relative to the ServerRoot */
    assert_int_equal(s3_conf_set_fallback_dir(add, &why, "Off", "/", p), APR_SUCCESS);
    assert_string_equal(s3_conf_merge(c, add, p)->fallback_dir, "");
    assert_string_equal(s3_conf_merge(c, s3_conf_create(p), p)->fallback_dir, "/tmp");
    assert_int_equal(s3_conf_set_fallback_dir(c, &why, file, "/", p), APR_EINVAL);
    assert_string_equal(why,
                        apr_pstrcat(p, "S3FallbackDirectory: ", file, " is not a directory", NULL));
    assert_int_equal(s3_conf_set_fallback_dir(c, &why, "no/such/dir", "/srv-lf-none", p),
                     APR_EINVAL);
    assert_string_equal(why, "S3FallbackDirectory: cannot use /srv-lf-none/no/such/dir: No such "
                             "file or directory");
    assert_string_equal(c->fallback_dir, "/tmp"); /* unchanged */
    unlink(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(defaults_apply_when_read),
        UNIT_TEST(merge_takes_what_is_set),
        UNIT_TEST(server_memory_limit),
        UNIT_TEST(words),
        UNIT_TEST(urls_and_prefixes),
        UNIT_TEST(durations_and_numbers),
        UNIT_TEST(sizes),
        UNIT_TEST(download),
        UNIT_TEST(lists),
        UNIT_TEST(credentials_and_secret),
        UNIT_TEST(checks_across_fields),
        UNIT_TEST(fallback_directory),
    };
    return UNIT_RUN("s3_conf", tests);
}
