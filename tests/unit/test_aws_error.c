/* Unit tests of modules/aws/aws_error.c: AWS error bodies as S3, the Query APIs (CloudWatch) and
 * the EC2-style APIs send them, bodies that are not such errors, and the retryable table. */
#include "unit.h"

#include <apr_strings.h>

#include "aws_error.h"

static apr_status_t parse(aws_error_t **err, const char *body, apr_pool_t *p)
{
    return aws_error_parse(err, body, strlen(body), p);
}

/* The example of the S3 API reference ("Error responses"). */
static void s3_no_such_key(void **state)
{
    apr_pool_t *p = *state;
    aws_error_t *err = NULL;
    static const char body[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<Error>\n"
                               "  <Code>NoSuchKey</Code>\n"
                               "  <Message>The resource you requested does not exist</Message>\n"
                               "  <Resource>/mybucket/myfoto.jpg</Resource>\n"
                               "  <RequestId>4442587FB7D0A2F9</RequestId>\n"
                               "</Error>";

    assert_int_equal(parse(&err, body, p), APR_SUCCESS);
    assert_string_equal(err->code, "NoSuchKey");
    assert_string_equal(err->message, "The resource you requested does not exist");
    assert_string_equal(err->resource, "/mybucket/myfoto.jpg");
    assert_string_equal(err->request_id, "4442587FB7D0A2F9");
}

/* As S3 sends it: one line, with the fields that help debugging a signer, and no Resource. */
static void s3_signature_does_not_match(void **state)
{
    apr_pool_t *p = *state;
    aws_error_t *err = NULL;
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated "
        "does not match the signature you provided. Check your key and signing method.</Message>"
        "<AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n"
        "20261125T120000Z\n20261125/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972</StringToSign>"
        "<SignatureProvided>f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        "</SignatureProvided><StringToSignBytes>41 57 53 34</StringToSignBytes>"
        "<CanonicalRequest>GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n\nhost\n"
        "UNSIGNED-PAYLOAD</CanonicalRequest><CanonicalRequestBytes>47 45 54</CanonicalRequestBytes>"
        "<RequestId>7PKH2ZA0X0Y9D9QW</RequestId><HostId>FZQdTqT7Xg2J0dGVr5mVdzsUC+RkP8jpSFQ1uFq3r"
        "9Zm7tLZcE8T0xNhXCnULmWbq9FtQbqZ5yU=</HostId></Error>";

    assert_int_equal(parse(&err, body, p), APR_SUCCESS);
    assert_string_equal(err->code, "SignatureDoesNotMatch");
    assert_non_null(strstr(err->message, "does not match the signature you provided"));
    assert_string_equal(err->request_id, "7PKH2ZA0X0Y9D9QW");
    assert_null(err->resource);
    assert_false(aws_error_is_retryable(403, err->code));
}

/* CloudWatch PutMetricData, with its namespace on the root element. */
static void query_error_response(void **state)
{
    apr_pool_t *p = *state;
    aws_error_t *err = NULL;
    static const char body[] =
        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\n"
        "  <Error>\n"
        "    <Type>Sender</Type>\n"
        "    <Code>InvalidParameterValue</Code>\n"
        "    <Message>The value -1 for parameter MetricData.member.1.Counts.member.1 is "
        "invalid.</Message>\n"
        "  </Error>\n"
        "  <RequestId>b7e4c0a2-1d36-4e0b-9a39-1f0c6d5e2f11</RequestId>\n"
        "</ErrorResponse>\n";
    static const char throttled[] =
        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>"
        "Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>"
        "0f1e2d3c</RequestId></ErrorResponse>";

    assert_int_equal(parse(&err, body, p), APR_SUCCESS);
    assert_string_equal(err->code, "InvalidParameterValue");
    assert_string_equal(err->message,
                        "The value -1 for parameter MetricData.member.1.Counts.member.1 is "
                        "invalid.");
    assert_string_equal(err->request_id, "b7e4c0a2-1d36-4e0b-9a39-1f0c6d5e2f11");
    assert_null(err->resource);
    assert_false(aws_error_is_retryable(400, err->code));

    assert_int_equal(parse(&err, throttled, p), APR_SUCCESS);
    assert_string_equal(err->code, "Throttling");
    assert_string_equal(err->request_id, "0f1e2d3c");
    assert_true(aws_error_is_retryable(400, err->code));
}

static void ec2_style_response(void **state)
{
    apr_pool_t *p = *state;
    aws_error_t *err = NULL;
    static const char body[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
                               "<Message>Request limit exceeded.</Message></Error></Errors>"
                               "<RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>";

    assert_int_equal(parse(&err, body, p), APR_SUCCESS);
    assert_string_equal(err->code, "RequestLimitExceeded");
    assert_string_equal(err->message, "Request limit exceeded.");
    assert_string_equal(err->request_id, "ea966190-f9aa-478e-9ede-example");
    assert_true(aws_error_is_retryable(503, err->code));
}

/* S3 CompleteMultipartUpload answers 200 and may then send an error: the parser does not care
 * about the status, and the caller learns that it should retry. S3 sends white space while it
 * works, before the error. */
static void status_200_with_error(void **state)
{
    apr_pool_t *p = *state;
    aws_error_t *err = NULL;
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n            \n"
        "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try "
        "again.</Message><RequestId>656c76696e6727732072657175657374</RequestId><HostId>Uuag1Lu"
        "ByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId></Error>";

    assert_int_equal(parse(&err, body, p), APR_SUCCESS);
    assert_string_equal(err->code, "InternalError");
    assert_string_equal(err->request_id, "656c76696e6727732072657175657374");
    assert_true(aws_error_is_retryable(200, err->code));
}

static void text_details(void **state)
{
    apr_pool_t *p = *state;
    aws_error_t *err = NULL;

    /* entities and CDATA are decoded, white space trimmed, empty elements read as absent */
    assert_int_equal(parse(&err,
                           "<Error><Code> AccessDenied </Code><Message>a &amp; b &lt;c&gt; "
                           "<![CDATA[<d>]]></Message><Resource/><RequestId>  </RequestId></Error>",
                           p),
                     APR_SUCCESS);
    assert_string_equal(err->code, "AccessDenied");
    assert_string_equal(err->message, "a & b <c> <d>");
    assert_null(err->resource);
    assert_null(err->request_id);
    /* RequestId inside <Error> when the service puts it there */
    assert_int_equal(parse(&err,
                           "<ErrorResponse><Error><Code>X</Code><RequestId>r1</RequestId></Error>"
                           "</ErrorResponse>",
                           p),
                     APR_SUCCESS);
    assert_string_equal(err->request_id, "r1");
    assert_null(err->message);
}

/* The XML parser hands an element's text over in pieces, one per line break or entity: a body of
 * 1 MiB (aws_http's limit) made of short lines is joined in linear time and memory (appending
 * piece by piece copied all gathered so far each time: 24 KB took 327 MB, 1 MiB would take far
 * more than the machine has). */
static void text_in_many_pieces(void **state)
{
    apr_pool_t *p = *state;
    aws_error_t *err = NULL;
    const char *head = "<Error><Code>", *tail = "</Code></Error>";
    apr_size_t lines = (1024 * 1024 - strlen(head) - strlen(tail)) / 4, i;
    char *body = apr_palloc(p, strlen(head) + lines * 4 + strlen(tail) + 1), *at = body;

    at = stpcpy(at, head);
    for (i = 0; i < lines; ++i) {
        at = stpcpy(at, "abc\n");
    }
    strcpy(at, tail);
    assert_int_equal(parse(&err, body, p), APR_SUCCESS);
    /* every line, the last line break trimmed */
    assert_int_equal(strlen(err->code), lines * 4 - 1);
    assert_memory_equal(err->code, "abc\nabc\n", 8);
    assert_string_equal(err->code + lines * 4 - 4, "abc");
}

static void not_an_error_body(void **state)
{
    apr_pool_t *p = *state;
    aws_error_t *err = NULL;
    static const char *const bad[] = {
        "",
        " ",
        "garbage",
        "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}",
        "<html><head><title>503 Service Unavailable</title></head><body><h1>Service "
        "Unavailable</h1></body></html>",
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><body><p>Bad Gateway<br>"
        "</body></html>",
        "<Error><Code>NoSuchKey</Code><Message>The resource",
        "<Error><Code>NoSuchKey</Code>",
        "<Error></Error>",
        "<Error><Message>no code</Message></Error>",
        "<Error><Code/></Error>",
        "<ErrorResponse><RequestId>r</RequestId></ErrorResponse>",
        "<Response><Errors/></Response>",
        "<ListBucketResult><Name>b</Name></ListBucketResult>",
        "<Error><Code>A</Code></Error><Error><Code>B</Code></Error>",
        /* an entity declaration is refused outright (no entity expansion attacks) */
        "<!DOCTYPE Error [<!ENTITY a \"aaaaaaaaaa\">]><Error><Code>&a;</Code></Error>",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        if (parse(&err, bad[i], p) != APR_EINVAL) {
            fail_msg("accepted: %s", bad[i]);
        }
    }
    assert_int_equal(aws_error_parse(&err, NULL, 0, p), APR_EINVAL);
    /* the length counts, not a NUL */
    assert_int_equal(aws_error_parse(&err, "<Error><Code>X</Code></Error>", 20, p), APR_EINVAL);
    assert_int_equal(aws_error_parse(&err, "<Error><Code>X</Code></Error>trailing", 29, p),
                     APR_SUCCESS);
    assert_string_equal(err->code, "X");
}

static void retryable_table(void **state)
{
    static const char *const yes[] = {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "PriorRequestNotComplete",
    };
    static const char *const no[] = {
        "NoSuchKey",
        "NoSuchBucket",
        "AccessDenied",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidParameterValue",
        "EntityTooLarge",
        "slowdown",
        "",
    };
    static const int statuses[] = {429, 500, 502, 503, 504};
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); ++i) {
        if (!aws_error_is_retryable(400, yes[i]) || !aws_error_is_retryable(200, yes[i])) {
            fail_msg("not retryable: %s", yes[i]);
        }
    }
    for (i = 0; i < sizeof(no) / sizeof(no[0]); ++i) {
        if (aws_error_is_retryable(400, no[i]) || aws_error_is_retryable(403, no[i])) {
            fail_msg("retryable: %s", no[i]);
        }
    }
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); ++i) {
        assert_true(aws_error_is_retryable(statuses[i], NULL));
        assert_true(aws_error_is_retryable(statuses[i], "NoSuchKey"));
    }
    assert_false(aws_error_is_retryable(200, NULL));
    assert_false(aws_error_is_retryable(400, NULL));
    assert_false(aws_error_is_retryable(404, NULL));
    assert_false(aws_error_is_retryable(501, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(s3_no_such_key),        UNIT_TEST(s3_signature_does_not_match),
        UNIT_TEST(query_error_response),  UNIT_TEST(ec2_style_response),
        UNIT_TEST(status_200_with_error), UNIT_TEST(text_details),
        UNIT_TEST(not_an_error_body),     UNIT_TEST(retryable_table),
        UNIT_TEST(text_in_many_pieces),
    };
    return UNIT_RUN("aws_error", tests);
}
