/* Unit tests of modules/s3/s3_download.c: which of a client's headers go to S3, which of S3's
 * reach the client, the Content-Disposition of a download, and the headers a hand-off drops. */
#include "unit.h"

#include "aws_sigv4.h"
#include "s3_download.h"

static void request_headers(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *client = apr_table_make(p, 8);
    apr_array_header_t *headers = apr_array_make(p, 4, sizeof(aws_sigv4_header_t));

    apr_table_set(client, "Range", "bytes=0-9");
    apr_table_set(client, "if-none-match", "\"abc\"");
    apr_table_set(client, "Cookie", "session=secret");
    apr_table_set(client, "Authorization", "Basic eDp5");
    apr_table_set(client, "Accept-Encoding", "gzip");
    s3_download_request_headers(headers, client);
    assert_int_equal(headers->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(headers, 0, aws_sigv4_header_t).name, "Range");
    assert_string_equal(APR_ARRAY_IDX(headers, 0, aws_sigv4_header_t).value, "bytes=0-9");
    assert_string_equal(APR_ARRAY_IDX(headers, 1, aws_sigv4_header_t).name, "If-None-Match");
    assert_string_equal(APR_ARRAY_IDX(headers, 1, aws_sigv4_header_t).value, "\"abc\"");
}

static void response_headers(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *s3 = apr_table_make(p, 8), *to = apr_table_make(p, 8);
    apr_array_header_t *meta = apr_array_make(p, 1, sizeof(const char *));

    apr_table_set(s3, "ETag", "\"e\"");
    apr_table_set(s3, "Content-Range", "bytes 0-9/20");
    apr_table_set(s3, "Cache-Control", "max-age=60");
    apr_table_set(s3, "Server", "AmazonS3");
    apr_table_set(s3, "x-amz-request-id", "R1");
    apr_table_set(s3, "x-amz-meta-owner", "u1");
    apr_table_set(s3, "x-amz-meta-secret", "s");
    apr_table_set(s3, "Content-Type", "image/png");
    s3_download_response_headers(to, s3, NULL);
    assert_string_equal(apr_table_get(to, "ETag"), "\"e\"");
    assert_string_equal(apr_table_get(to, "Content-Range"), "bytes 0-9/20");
    assert_string_equal(apr_table_get(to, "Cache-Control"), "max-age=60");
    assert_null(apr_table_get(to, "Server"));
    assert_null(apr_table_get(to, "x-amz-request-id"));
    assert_null(apr_table_get(to, "x-amz-meta-owner"));
    assert_null(apr_table_get(to, "Content-Type")); /* the caller's (ap_set_content_type) */
    /* S3ExposeMeta names the metadata a client sees */
    APR_ARRAY_PUSH(meta, const char *) = "x-amz-meta-owner";
    s3_download_response_headers(to, s3, meta);
    assert_string_equal(apr_table_get(to, "x-amz-meta-owner"), "u1");
    assert_null(apr_table_get(to, "x-amz-meta-secret"));
    /* set, not added: no header twice */
    s3_download_response_headers(to, s3, meta);
    assert_int_equal(apr_table_elts(to)->nelts, 4);
}

static void disposition(void **state)
{
    apr_pool_t *p = *state;

    assert_null(s3_download_disposition(NULL, "none", "a/report.pdf", p));
    assert_string_equal(s3_download_disposition(NULL, "attachment", "a/report.pdf", p),
                        "attachment; filename=\"report.pdf\"");
    assert_string_equal(s3_download_disposition(NULL, "inline", "a/b/c.png", p),
                        "inline; filename=\"c.png\"");
    /* the application's hand-off header wins over S3Disposition */
    assert_string_equal(s3_download_disposition("inline", "attachment", "a/report.pdf", p),
                        "inline");
    assert_string_equal(s3_download_disposition("attachment", "none", "x", p), "attachment");
}

static void drop_entity_headers(void **state)
{
    apr_pool_t *p = *state;
    apr_table_t *h = apr_table_make(p, 8);

    apr_table_set(h, "Content-Length", "0");
    apr_table_set(h, "ETag", "\"app\"");
    apr_table_set(h, "Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT");
    apr_table_set(h, "Content-Encoding", "gzip");
    apr_table_set(h, "Cache-Control", "private");
    apr_table_set(h, "Set-Cookie", "a=b");
    s3_download_drop_entity_headers(h);
    assert_int_equal(apr_table_elts(h)->nelts, 2);
    assert_string_equal(apr_table_get(h, "Cache-Control"), "private");
    assert_string_equal(apr_table_get(h, "Set-Cookie"), "a=b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(request_headers),
        UNIT_TEST(response_headers),
        UNIT_TEST(disposition),
        UNIT_TEST(drop_entity_headers),
    };
    return UNIT_RUN("s3_download", tests);
}
