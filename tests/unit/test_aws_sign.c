/* Unit tests of modules/aws/aws_sign.c: a transport request signed through the credentials
 * provider gives AWS's published S3 signatures (the Host header taken from the URL), presigned
 * URLs keep the URL's query and never outlive the credentials. */
#include "unit.h"

#include <apr_env.h>
#include <apr_strings.h>

#include "aws_sign.h"

#define AK           "AKIAIOSFODNN7EXAMPLE"
#define SK           "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static apr_time_t doc_time(void)
{
    apr_time_t t;

    aws_sigv4_parse_amz_date(&t, "20130524T000000Z");
    return t;
}

static aws_signer_t signer(apr_pool_t *p, const char *token)
{
    aws_creds_config_t cc;
    aws_signer_t s;
    const char *why;

    memset(&cc, 0, sizeof(cc));
    cc.access_key = AK;
    cc.secret_key = SK;
    cc.session_token = token;
    memset(&s, 0, sizeof(s));
    assert_int_equal(aws_creds_provider_create(&s.creds, &why, &cc, p), APR_SUCCESS);
    s.region = "us-east-1";
    s.service = "s3";
    s.s3 = 1;
    s.now = doc_time;
    return s;
}

static const char *header_of(const apr_array_header_t *h, const char *name)
{
    int i;

    for (i = 0; i < h->nelts; ++i) {
        if (!strcasecmp(APR_ARRAY_IDX(h, i, aws_sigv4_header_t).name, name)) {
            return APR_ARRAY_IDX(h, i, aws_sigv4_header_t).value;
        }
    }
    return NULL;
}

static void signs_the_documented_get_with_range(void **state)
{
    apr_pool_t *p = *state;
    aws_signer_t s = signer(p, NULL);
    aws_sign_baton_t b;
    aws_http_request_t req;
    apr_array_header_t *extra = apr_array_make(p, 1, sizeof(aws_sigv4_header_t)), *out;

    aws_sigv4_header_add(extra, "Range", "bytes=0-9");
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = "https://examplebucket.s3.amazonaws.com/test.txt";
    req.headers = extra;
    memset(&b, 0, sizeof(b));
    b.signer = &s;
    b.payload_hash = EMPTY_SHA256;
    assert_int_equal(aws_sign_request(&out, &req, &b, p), APR_SUCCESS);
    assert_string_equal(header_of(out, "Host"), "examplebucket.s3.amazonaws.com");
    assert_string_equal(header_of(out, "X-Amz-Date"), "20130524T000000Z");
    assert_string_equal(
        header_of(out, "Authorization"),
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_null(header_of(out, "Range")); /* the transport sends the request's own headers */
    assert_string_equal(b.access_key, AK);
}

static void host_keeps_a_non_default_port(void **state)
{
    apr_pool_t *p = *state;
    aws_signer_t s = signer(p, "the-token");
    aws_sign_baton_t b;
    aws_http_request_t req;
    apr_array_header_t *out;

    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.url = "http://127.0.0.1:15000/bucket/a%20b?partNumber=1&uploadId=x";
    memset(&b, 0, sizeof(b));
    b.signer = &s;
    b.payload_hash = AWS_SIGV4_UNSIGNED_PAYLOAD;
    assert_int_equal(aws_sign_request(&out, &req, &b, p), APR_SUCCESS);
    assert_string_equal(header_of(out, "Host"), "127.0.0.1:15000");
    assert_string_equal(header_of(out, "X-Amz-Security-Token"), "the-token");
    assert_string_equal(header_of(out, "x-amz-content-sha256"), AWS_SIGV4_UNSIGNED_PAYLOAD);
    req.url = "https://h.example:443/x";
    assert_int_equal(aws_sign_request(&out, &req, &b, p), APR_SUCCESS);
    assert_string_equal(header_of(out, "Host"), "h.example"); /* the scheme's own port */
    req.url = "not a url";
    assert_int_equal(aws_sign_request(&out, &req, &b, p), APR_EINVAL);
}

static void presigns_the_documented_get(void **state)
{
    apr_pool_t *p = *state;
    aws_signer_t s = signer(p, NULL);
    const char *url, *why = NULL;

    assert_int_equal(aws_sign_presign(&url, &why, &s, "GET",
                                      "https://examplebucket.s3.amazonaws.com/test.txt", 86400, p),
                     APR_SUCCESS);
    assert_string_equal(
        url, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
             "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
             "X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=86400&"
             "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* the URL's own query stays first */
    assert_int_equal(aws_sign_presign(&url, &why, &s, "GET",
                                      "https://examplebucket.s3.amazonaws.com/t?x=1", 60, p),
                     APR_SUCCESS);
    assert_true(!strncmp(url, "https://examplebucket.s3.amazonaws.com/t?x=1&X-Amz-", 51));
}

/* Credentials that expire: a fetch seam answering like IMDS. */
static apr_status_t imds_fetch(int *status, const char **body, const char **error,
                               const char *method, const char *url, const apr_table_t *headers,
                               apr_interval_time_t timeout, void *baton, apr_pool_t *p)
{
    (void)error;
    (void)headers;
    (void)timeout;
    (void)baton;
    *status = 200;
    if (!strcmp(method, "PUT")) {
        *body = "token";
    }
    else if (strstr(url, "security-credentials/role")) {
        *body = "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"s\","
                "\"Token\":\"t\",\"Expiration\":\"2013-05-24T00:20:00Z\"}";
    }
    else {
        *body = "role";
    }
    (void)p;
    return APR_SUCCESS;
}

static void presigned_url_never_outlives_the_credentials(void **state)
{
    apr_pool_t *p = *state;
    aws_creds_config_t cc;
    aws_signer_t s;
    const char *url, *why;

    memset(&cc, 0, sizeof(cc));
    cc.credentials_file = "/nonexistent/credentials";
    cc.imds_endpoint = "http://127.0.0.1:9";
    memset(&s, 0, sizeof(s));
    apr_env_delete("AWS_ACCESS_KEY_ID", p);
    apr_env_delete("AWS_SECRET_ACCESS_KEY", p);
    apr_env_delete("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", p);
    apr_env_delete("AWS_CONTAINER_CREDENTIALS_FULL_URI", p);
    assert_int_equal(aws_creds_provider_create(&s.creds, &why, &cc, p), APR_SUCCESS);
    aws_creds_provider_set_fetch(s.creds, imds_fetch, NULL);
    aws_creds_provider_set_clock(s.creds, doc_time);
    s.region = "us-east-1";
    s.service = "s3";
    s.s3 = 1;
    s.now = doc_time;
    assert_int_equal(aws_sign_presign(&url, &why, &s, "GET", "https://b.example/k", 604800, p),
                     APR_SUCCESS);
    assert_non_null(strstr(url, "&X-Amz-Expires=1200&")); /* 20 minutes left, not 7 days */
    assert_non_null(strstr(url, "X-Amz-Security-Token=t&"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(signs_the_documented_get_with_range),
        UNIT_TEST(host_keeps_a_non_default_port),
        UNIT_TEST(presigns_the_documented_get),
        UNIT_TEST(presigned_url_never_outlives_the_credentials),
    };
    return UNIT_RUN("aws_sign", tests);
}
