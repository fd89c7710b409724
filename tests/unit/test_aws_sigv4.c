/* Unit tests of modules/aws/aws_sigv4.c: the S3 examples published in the AWS documentation
 * (GET with Range, PUT, presigned GET), encoding, path modes, the key cache and bad input.
 * The official test-vector suites run through the CLI in `make conformance`. */
#include "unit.h"

#include <apr_strings.h>

#include "aws_sigv4.h"

/* The AWS documentation's example credentials, bucket and time (2013-05-24T00:00:00Z). */
#define DOC_AK       "AKIAIOSFODNN7EXAMPLE"
#define DOC_SK       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static aws_sigv4_params_t s3_params(void)
{
    aws_sigv4_params_t params;

    memset(&params, 0, sizeof(params));
    params.access_key = DOC_AK;
    params.secret_key = DOC_SK;
    params.region = "us-east-1";
    params.service = "s3";
    assert_int_equal(aws_sigv4_parse_amz_date(&params.time, "20130524T000000Z"), APR_SUCCESS);
    params.content_sha256_header = 1; /* S3 mode: no normalizing, no double encoding */
    return params;
}

static aws_sigv4_request_t request(apr_pool_t *p, const char *method, const char *path,
                                   const char *query)
{
    aws_sigv4_request_t req;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.query = query;
    req.headers = apr_array_make(p, 4, sizeof(aws_sigv4_header_t));
    return req;
}

static void header(aws_sigv4_request_t *req, const char *name, const char *value)
{
    aws_sigv4_header_add(req->headers, name, value);
}

static const char *set_header(const aws_sigv4_result_t *r, const char *name)
{
    int i;

    for (i = 0; i < r->set_headers->nelts; ++i) {
        const aws_sigv4_header_t *h = &APR_ARRAY_IDX(r->set_headers, i, aws_sigv4_header_t);
        if (!strcasecmp(h->name, name)) {
            return h->value;
        }
    }
    return NULL;
}

static void s3_doc_get_object_with_range(void **state)
{
    apr_pool_t *p = *state;
    aws_sigv4_params_t params = s3_params();
    aws_sigv4_request_t req = request(p, "GET", "/test.txt", NULL);
    aws_sigv4_result_t *r;

    header(&req, "Host", "examplebucket.s3.amazonaws.com");
    header(&req, "Range", "bytes=0-9");
    assert_int_equal(aws_sigv4_sign(&r, &req, &params, p), APR_SUCCESS);
    assert_string_equal(r->signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
    assert_string_equal(r->signature,
                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_string_equal(set_header(r, "x-amz-content-sha256"), EMPTY_SHA256);
    assert_string_equal(set_header(r, "X-Amz-Date"), "20130524T000000Z");
    assert_string_equal(
        set_header(r, "Authorization"),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void s3_doc_put_object(void **state)
{
    apr_pool_t *p = *state;
    aws_sigv4_params_t params = s3_params();
    aws_sigv4_request_t req = request(p, "PUT", "/test$file.text", NULL);
    aws_sigv4_result_t *r;

    header(&req, "Host", "examplebucket.s3.amazonaws.com");
    header(&req, "Date", "Fri, 24 May 2013 00:00:00 GMT");
    header(&req, "x-amz-storage-class", "REDUCED_REDUNDANCY");
    req.body = "Welcome to Amazon S3.";
    req.body_len = strlen(req.body);
    assert_int_equal(aws_sigv4_sign(&r, &req, &params, p), APR_SUCCESS);
    /* "$" is encoded once in S3 mode */
    assert_non_null(strstr(r->canonical_request, "PUT\n/test%24file.text\n\n"));
    assert_string_equal(set_header(r, "x-amz-content-sha256"),
                        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    assert_string_equal(r->signature,
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static void s3_doc_presigned_get(void **state)
{
    apr_pool_t *p = *state;
    aws_sigv4_params_t params = s3_params();
    aws_sigv4_request_t req = request(p, "GET", "/test.txt", NULL);
    aws_sigv4_result_t *r;

    params.content_sha256_header = 0;
    params.payload_hash = AWS_SIGV4_UNSIGNED_PAYLOAD;
    params.expires = 86400;
    header(&req, "Host", "examplebucket.s3.amazonaws.com");
    assert_int_equal(aws_sigv4_presign(&r, &req, &params, p), APR_SUCCESS);
    assert_string_equal(r->signature,
                        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    assert_string_equal(
        r->query,
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"
        "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&"
        "X-Amz-Expires=86400&X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

static void path_modes(void **state)
{
    apr_pool_t *p = *state;
    aws_sigv4_params_t params = s3_params();
    aws_sigv4_request_t req = request(p, "GET", "/a//b/../c%2Fd e", NULL);
    aws_sigv4_result_t *r;

    header(&req, "Host", "h");
    /* S3: never normalized, existing escapes kept, the rest encoded once */
    assert_int_equal(aws_sigv4_sign(&r, &req, &params, p), APR_SUCCESS);
    assert_non_null(strstr(r->canonical_request, "GET\n/a//b/../c%2Fd%20e\n"));
    /* other services: normalized and encoded once more */
    params.normalize_path = 1;
    params.double_encode = 1;
    assert_int_equal(aws_sigv4_sign(&r, &req, &params, p), APR_SUCCESS);
    assert_non_null(strstr(r->canonical_request, "GET\n/a/c%252Fd%20e\n"));
}

static void query_canonical_order_and_encoding(void **state)
{
    apr_pool_t *p = *state;
    aws_sigv4_params_t params = s3_params();
    aws_sigv4_request_t req = request(p, "GET", "/", "b=2&a=x+y&a=%7e&empty&c=%2f/");
    aws_sigv4_result_t *r;

    header(&req, "Host", "h");
    assert_int_equal(aws_sigv4_sign(&r, &req, &params, p), APR_SUCCESS);
    assert_non_null(strstr(r->canonical_request, "\na=x%2By&a=~&b=2&c=%2F%2F&empty=\n"));
}

static void headers_trimmed_merged_and_replaced(void **state)
{
    apr_pool_t *p = *state;
    aws_sigv4_params_t params = s3_params();
    aws_sigv4_request_t req = request(p, "GET", "/", NULL);
    aws_sigv4_result_t *r;

    params.session_token = "tok";
    header(&req, "Host", "h");
    header(&req, "X-Multi", "  a   b  ");
    header(&req, "x-multi", "c");
    header(&req, "X-Amz-Date", "19990101T000000Z"); /* replaced, never duplicated */
    header(&req, "X-Amz-Security-Token", "stale");
    assert_int_equal(aws_sigv4_sign(&r, &req, &params, p), APR_SUCCESS);
    assert_non_null(strstr(r->canonical_request, "x-multi:a b,c\n"));
    assert_null(strstr(r->canonical_request, "19990101"));
    assert_null(strstr(r->canonical_request, "stale"));
    assert_non_null(strstr(r->canonical_request, "x-amz-security-token:tok\n"));
    assert_string_equal(r->signed_headers,
                        "host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-multi");
}

static void key_cache_gives_the_same_signature(void **state)
{
    apr_pool_t *p = *state;
    aws_sigv4_params_t params = s3_params();
    aws_sigv4_request_t req = request(p, "GET", "/test.txt", NULL);
    aws_sigv4_result_t *r;
    int i;

    assert_int_equal(aws_sigv4_cache_create(&params.cache, p), APR_SUCCESS);
    header(&req, "Host", "examplebucket.s3.amazonaws.com");
    header(&req, "Range", "bytes=0-9");
    for (i = 0; i < 3; ++i) { /* miss, then hits */
        assert_int_equal(aws_sigv4_sign(&r, &req, &params, p), APR_SUCCESS);
        assert_string_equal(r->signature,
                            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    }
    params.region = "eu-west-1"; /* another slot */
    assert_int_equal(aws_sigv4_sign(&r, &req, &params, p), APR_SUCCESS);
    assert_string_not_equal(r->signature,
                            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void bad_input(void **state)
{
    apr_pool_t *p = *state;
    aws_sigv4_params_t params = s3_params();
    aws_sigv4_request_t req = request(p, "GET", "/", NULL);
    aws_sigv4_result_t *r;
    apr_time_t t;

    params.secret_key = "";
    assert_int_equal(aws_sigv4_sign(&r, &req, &params, p), APR_EINVAL);
    params = s3_params();
    params.expires = 0;
    assert_int_equal(aws_sigv4_presign(&r, &req, &params, p), APR_EINVAL);
    params.expires = 604801;
    assert_int_equal(aws_sigv4_presign(&r, &req, &params, p), APR_EINVAL);
    assert_int_equal(aws_sigv4_parse_amz_date(&t, "2013-05-24T00:00:00Z"), APR_EINVAL);
    assert_int_equal(aws_sigv4_parse_amz_date(&t, "20131324T000000Z"), APR_EINVAL);
    assert_int_equal(aws_sigv4_parse_amz_date(&t, ""), APR_EINVAL);
    assert_int_equal(aws_sigv4_parse_amz_date(&t, "20130524T000000Z"), APR_SUCCESS);
    assert_string_equal(aws_sigv4_amz_date(t, p), "20130524T000000Z");
}

static void uri_encode(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(aws_sigv4_uri_encode("a b/c~d+e", 9, 1, p), "a%20b/c~d%2Be");
    assert_string_equal(aws_sigv4_uri_encode("a b/c", 5, 0, p), "a%20b%2Fc");
    assert_string_equal(aws_sigv4_uri_encode("\xe1\x88\xb4", 3, 0, p), "%E1%88%B4");
    assert_string_equal(aws_sigv4_sha256_hex("", 0, p), EMPTY_SHA256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(s3_doc_get_object_with_range),
        UNIT_TEST(s3_doc_put_object),
        UNIT_TEST(s3_doc_presigned_get),
        UNIT_TEST(path_modes),
        UNIT_TEST(query_canonical_order_and_encoding),
        UNIT_TEST(headers_trimmed_merged_and_replaced),
        UNIT_TEST(key_cache_gives_the_same_signature),
        UNIT_TEST(bad_input),
        UNIT_TEST(uri_encode),
    };
    return UNIT_RUN("aws_sigv4", tests);
}
