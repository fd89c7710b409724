/* Unit tests of modules/s3/s3_client.c that need no S3: addressing (path or virtual-hosted),
 * object URLs, bucket and endpoint checks, how S3's answers map onto a client's status, and how
 * an upload body is checked (signed SHA-256, or UNSIGNED-PAYLOAD with its CRC32: the headers,
 * the canonical request and signature botocore makes of them, the CompleteMultipartUpload body).
 * The S3 calls themselves run against moto in tests/integration/test_04x_s3_*.py and
 * test_053_s3_checksum.py. */
#include "unit.h"

#include <apr_strings.h>

#include "aws_error.h"
#include "aws_sigv4.h"
#include "s3_client.h"

static s3_client_t *client_with(apr_pool_t *p, const char *bucket, const char *endpoint, int path,
                                const char *region, int payload, const char **why)
{
    s3_client_config_t cfg;
    s3_client_t *c = NULL;

    memset(&cfg, 0, sizeof(cfg));
    cfg.bucket = bucket;
    cfg.region = region;
    cfg.endpoint = endpoint;
    cfg.path_style = path;
    cfg.payload = payload;
    *why = NULL;
    return s3_client_create(&c, why, &cfg, NULL, NULL, NULL, p) == APR_SUCCESS ? c : NULL;
}

static s3_client_t *client(apr_pool_t *p, const char *bucket, const char *endpoint, int path,
                           const char **why)
{
    return client_with(p, bucket, endpoint, path, "eu-west-1", S3_PAYLOAD_AUTO, why);
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

/* S3PayloadSigning: auto signs over http only; on and off whatever the scheme. */
static void payload_signed_where_configured(void **state)
{
    apr_pool_t *p = *state;
    const char *why;

    assert_false(s3_client_signs_payload(client(p, "b1b", NULL, -1, &why))); /* AWS: https */
    assert_false(s3_client_signs_payload(client(p, "b1b", "https://minio.internal", -1, &why)));
    assert_false(s3_client_signs_payload(client(p, "b1b", "HTTPS://minio.internal", -1, &why)));
    assert_true(s3_client_signs_payload(client(p, "b1b", "http://127.0.0.1:9000", -1, &why)));
    assert_true(s3_client_signs_payload(
        client_with(p, "b1b", NULL, -1, "eu-west-1", S3_PAYLOAD_SIGNED, &why)));
    assert_false(s3_client_signs_payload(
        client_with(p, "b1b", "http://127.0.0.1:9000", -1, "eu-west-1", S3_PAYLOAD_CRC32, &why)));
}

static const char *header_value(const apr_array_header_t *h, const char *name)
{
    int i;

    for (i = 0; i < h->nelts; ++i) {
        if (!strcasecmp(APR_ARRAY_IDX(h, i, aws_sigv4_header_t).name, name)) {
            return APR_ARRAY_IDX(h, i, aws_sigv4_header_t).value;
        }
    }
    return NULL;
}

static void body_checksum_headers(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *h = apr_array_make(p, 2, sizeof(aws_sigv4_header_t));
    s3_body_t body;
    const char *why, *hash = NULL;
    s3_client_t *tls = client(p, "b1b", "https://minio.internal", -1, &why);
    s3_client_t *plain = client(p, "b1b", "http://minio.internal", -1, &why);

    memset(&body, 0, sizeof(body));
    body.len = 9;
    body.crc32 = "y/Q5Jg==";
    assert_int_equal(s3_client_body_checksum(&hash, h, tls, &body), APR_SUCCESS);
    assert_string_equal(hash, AWS_SIGV4_UNSIGNED_PAYLOAD);
    assert_int_equal(h->nelts, 2);
    assert_string_equal(header_value(h, "x-amz-checksum-crc32"), "y/Q5Jg==");
    assert_string_equal(header_value(h, "x-amz-sdk-checksum-algorithm"), "CRC32");
    /* a signed payload needs the SHA-256, and adds no header */
    h->nelts = 0;
    assert_int_equal(s3_client_body_checksum(&hash, h, plain, &body), APR_EINVAL);
    body.sha256_hex = "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225";
    assert_int_equal(s3_client_body_checksum(&hash, h, plain, &body), APR_SUCCESS);
    assert_string_equal(hash, body.sha256_hex);
    assert_int_equal(h->nelts, 0);
    /* an unsigned one needs the CRC32 */
    body.crc32 = NULL;
    assert_int_equal(s3_client_body_checksum(&hash, h, tls, &body), APR_EINVAL);
    assert_int_equal(h->nelts, 0);
}

/* An UploadPart over https as the client sends it (its checksum headers, UNSIGNED-PAYLOAD)
 * gives the canonical request and signature that botocore 1.43 gives for the same request
 * (S3SigV4Auth, which leaves the payload unsigned over https when a header checksum is present;
 * at 20130524T000000Z with the keys of AWS's examples). */
static void unsigned_part_signs_as_botocore(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *h = apr_array_make(p, 4, sizeof(aws_sigv4_header_t));
    aws_sigv4_request_t req;
    aws_sigv4_params_t params;
    aws_sigv4_result_t *res;
    s3_body_t body;
    const char *why, *hash;
    s3_client_t *c = client_with(p, "examplebucket", "https://s3.amazonaws.com", 0, "us-east-1",
                                 S3_PAYLOAD_AUTO, &why);

    memset(&body, 0, sizeof(body));
    body.len = 9;
    body.crc32 = "y/Q5Jg=="; /* CRC32 of "123456789" */
    assert_string_equal(s3_client_object_url(c, "photos/a b.jpg", p),
                        "https://examplebucket.s3.amazonaws.com/photos/a%20b.jpg");
    aws_sigv4_header_add(h, "Host", "examplebucket.s3.amazonaws.com");
    assert_int_equal(s3_client_body_checksum(&hash, h, c, &body), APR_SUCCESS);
    aws_sigv4_header_add(h, "Content-Length", "9");
    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.path = "/photos/a%20b.jpg";
    req.query = "partNumber=2&uploadId=VXBsb2FkIElE";
    req.headers = h;
    memset(&params, 0, sizeof(params));
    params.access_key = "AKIAIOSFODNN7EXAMPLE";
    params.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    params.region = "us-east-1";
    params.service = "s3";
    params.content_sha256_header = 1;
    params.payload_hash = hash;
    assert_int_equal(aws_sigv4_parse_amz_date(&params.time, "20130524T000000Z"), APR_SUCCESS);
    assert_int_equal(aws_sigv4_sign(&res, &req, &params, p), APR_SUCCESS);
    assert_string_equal(res->canonical_request,
                        "PUT\n"
                        "/photos/a%20b.jpg\n"
                        "partNumber=2&uploadId=VXBsb2FkIElE\n"
                        "content-length:9\n"
                        "host:examplebucket.s3.amazonaws.com\n"
                        "x-amz-checksum-crc32:y/Q5Jg==\n"
                        "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"
                        "x-amz-date:20130524T000000Z\n"
                        "x-amz-sdk-checksum-algorithm:CRC32\n"
                        "\n"
                        "content-length;host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;"
                        "x-amz-sdk-checksum-algorithm\n"
                        "UNSIGNED-PAYLOAD");
    assert_string_equal(res->signature,
                        "2708e16ee70ac79916e047e671243e82b249dd0e3b6d7c08b3638a3da1942519");
}

static void complete_xml_lists_part_checksums(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *parts = apr_array_make(p, 2, sizeof(s3_part_t));
    s3_part_t *part;

    part = apr_array_push(parts);
    part->etag = "\"a54357aff0632cce46d942af68356b38\"";
    part->crc32 = "y/Q5Jg==";
    part = apr_array_push(parts);
    part->etag = "\"0c78aef83f66abc1fa1e8477f296d394\"";
    part->crc32 = "QU+jOQ==";
    assert_string_equal(s3_multipart_complete_xml(parts, p),
                        "<CompleteMultipartUpload>"
                        "<Part><PartNumber>1</PartNumber>"
                        "<ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag>"
                        "<ChecksumCRC32>y/Q5Jg==</ChecksumCRC32></Part>"
                        "<Part><PartNumber>2</PartNumber>"
                        "<ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag>"
                        "<ChecksumCRC32>QU+jOQ==</ChecksumCRC32></Part>"
                        "</CompleteMultipartUpload>");
    /* parts of a signed upload carry no checksum */
    APR_ARRAY_IDX(parts, 0, s3_part_t).crc32 = NULL;
    parts->nelts = 1;
    assert_string_equal(s3_multipart_complete_xml(parts, p),
                        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
                        "<ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag></Part>"
                        "</CompleteMultipartUpload>");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(addressing),
        UNIT_TEST(bad_configurations),
        UNIT_TEST(status_mapping),
        UNIT_TEST(xml_values),
        UNIT_TEST(payload_signed_where_configured),
        UNIT_TEST(body_checksum_headers),
        UNIT_TEST(unsigned_part_signs_as_botocore),
        UNIT_TEST(complete_xml_lists_part_checksums),
    };
    return UNIT_RUN("s3_client", tests);
}
