/* Unit tests of modules/s3/s3_client.c that need no S3: addressing (path or virtual-hosted),
 * object URLs, bucket and endpoint checks, and how S3's answers map onto a client's status.
 * The S3 calls themselves run against moto in tests/integration/test_04x_s3_*.py. */
#include "unit.h"

#include <apr_strings.h>

#include "aws_error.h"
#include "s3_client.h"

static s3_client_t *client(apr_pool_t *p, const char *bucket, const char *endpoint, int path,
                           const char **why)
{
    s3_client_config_t cfg;
    s3_client_t *c = NULL;

    memset(&cfg, 0, sizeof(cfg));
    cfg.bucket = bucket;
    cfg.region = "eu-west-1";
    cfg.endpoint = endpoint;
    cfg.path_style = path;
    *why = NULL;
    return s3_client_create(&c, why, &cfg, NULL, NULL, NULL, p) == APR_SUCCESS ? c : NULL;
}

static void addressing(void **state)
{
    apr_pool_t *p = *state;
    const char *why;
    s3_client_t *c;

    /* AWS: virtual-hosted by default */
    c = client(p, "my-bucket", NULL, -1, &why);
    assert_string_equal(s3_client_object_url(c, "a/b c.txt", p),
                        "https://my-bucket.s3.eu-west-1.amazonaws.com/a/b%20c.txt");
    /* ... but a dotted name would not match the wildcard certificate: path style */
    c = client(p, "my.bucket", NULL, -1, &why);
    assert_string_equal(s3_client_object_url(c, "k", p),
                        "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
    /* a configured endpoint: path style unless told otherwise */
    c = client(p, "b1b", "http://127.0.0.1:15000", -1, &why);
    assert_string_equal(s3_client_object_url(c, "x+y=z/", p),
                        "http://127.0.0.1:15000/b1b/x%2By%3Dz/");
    c = client(p, "b1b", "https://minio.internal:9000/", 0, &why);
    assert_string_equal(s3_client_object_url(c, "k", p), "https://b1b.minio.internal:9000/k");
    c = client(p, "b1b", "https://minio.internal", 1, &why);
    assert_string_equal(s3_client_object_url(c, "\xc3\xa9", p),
                        "https://minio.internal/b1b/%C3%A9");
}

static void bad_configurations(void **state)
{
    apr_pool_t *p = *state;
    const char *why;

    assert_null(client(p, "ab", NULL, -1, &why));
    assert_string_equal(why, "not a valid bucket name");
    assert_null(client(p, "bad!name", NULL, -1, &why));
    assert_null(client(p, "my.bucket", NULL, 0, &why));
    assert_non_null(strstr(why, "path-style"));
    assert_null(client(p, "b1b", "ftp://host", -1, &why));
    assert_null(client(p, "b1b", "http://host/path", -1, &why));
    assert_null(client(p, "b1b", "http://user@host", -1, &why));
    assert_null(client(p, "b1b", "not a url", -1, &why));
    assert_non_null(strstr(why, "endpoint"));
}

static aws_http_response_t *answer(apr_pool_t *p, int status, const char *code)
{
    aws_http_response_t *r = apr_pcalloc(p, sizeof(*r));

    r->status = status;
    if (code) {
        r->error = apr_pcalloc(p, sizeof(*r->error));
        r->error->code = code;
    }
    return r;
}

static void status_mapping(void **state)
{
    apr_pool_t *p = *state;

    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 404, "NoSuchKey")), 404);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 404, "NoSuchBucket")), 502);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 403, "AccessDenied")), 403);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 403, "SignatureDoesNotMatch")), 502);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 503, "SlowDown")), 503);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 412, "PreconditionFailed")), 412);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 416, "InvalidRange")), 416);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 400, "EntityTooLarge")), 413);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 500, "InternalError")), 502);
    /* a 200 carrying an error is the error */
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 200, "InvalidPart")), 502);
    assert_false(s3_client_ok(APR_SUCCESS, answer(p, 200, "InvalidPart")));
    /* answers without a body (HEAD) by their status */
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 404, NULL)), 404);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 304, NULL)), 304);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 206, NULL)), 206);
    assert_int_equal(s3_client_status(APR_SUCCESS, answer(p, 301, NULL)), 502);
    assert_true(s3_client_ok(APR_SUCCESS, answer(p, 204, NULL)));
    /* no answer */
    assert_int_equal(s3_client_status(APR_TIMEUP, answer(p, 0, NULL)), 504);
    assert_int_equal(s3_client_status(APR_EGENERAL, answer(p, 0, NULL)), 502);
    assert_false(s3_client_ok(APR_EGENERAL, answer(p, 200, NULL)));
}

static void xml_values(void **state)
{
    apr_pool_t *p = *state;
    const char *v = NULL;
    const char *init = "<?xml version=\"1.0\"?><InitiateMultipartUploadResult "
                       "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket>"
                       "<Key>k</Key><UploadId> VXBsb2FkIElE </UploadId>"
                       "</InitiateMultipartUploadResult>";

    assert_int_equal(
        aws_xml_child_text(&v, init, strlen(init), "InitiateMultipartUploadResult", "UploadId", p),
        APR_SUCCESS);
    assert_string_equal(v, "VXBsb2FkIElE");
    assert_int_equal(aws_xml_child_text(&v, init, strlen(init), NULL, "Key", p), APR_SUCCESS);
    assert_string_equal(v, "k");
    assert_int_equal(aws_xml_child_text(&v, init, strlen(init), "Other", "UploadId", p),
                     APR_EINVAL);
    assert_int_equal(aws_xml_child_text(&v, init, strlen(init), NULL, "ETag", p), APR_NOTFOUND);
    assert_int_equal(aws_xml_child_text(&v, "<a><b>", 6, NULL, "b", p), APR_EINVAL);
    assert_int_equal(aws_xml_child_text(&v, "", 0, NULL, "b", p), APR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(addressing),
        UNIT_TEST(bad_configurations),
        UNIT_TEST(status_mapping),
        UNIT_TEST(xml_values),
    };
    return UNIT_RUN("s3_client", tests);
}
