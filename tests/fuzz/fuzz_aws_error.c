/* fuzz_aws_error — what AWS answers when it refuses a request (modules/aws/aws_error.c): the
 * XML error bodies of S3, the Query APIs and the EC2-style APIs, through APR-util's XML parser,
 * and aws_xml_child_text(), which reads single values such as an UploadId.
 *
 * Input: any bytes, the body of the answer. An error that parses has a code; every text is
 * trimmed and not empty. Time and memory must stay linear in the body (a body of short lines
 * once took quadratic time: regressions/aws_error/).
 */
#include <apr_lib.h>

#include "aws_error.h"
#include "fuzz.h"

static void check_text(const char *s)
{
    size_t n;

    if (!s) {
        return;
    }
    n = strlen(s);
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(!apr_isspace(s[0]) && !apr_isspace(s[n - 1]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *body = (const char *)data, *value = NULL;
    aws_error_t *err = NULL;
    apr_status_t rv;

    rv = aws_error_parse(&err, body, size, p);
    if (rv == APR_SUCCESS) {
        FUZZ_CHECK(err && err->code);
        check_text(err->code);
        check_text(err->message);
        check_text(err->request_id);
        check_text(err->resource);
        (void)aws_error_is_retryable(200, err->code);
    }
    else {
        FUZZ_CHECK(rv == APR_EINVAL);
    }
    rv = aws_xml_child_text(&value, body, size, NULL, "UploadId", p);
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL || rv == APR_NOTFOUND);
    if (rv == APR_SUCCESS) {
        check_text(value);
        FUZZ_CHECK(value != NULL);
    }
    rv = aws_xml_child_text(&value, body, size, "CompleteMultipartUploadResult", "ETag", p);
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL || rv == APR_NOTFOUND);
    apr_pool_destroy(p);
    return 0;
}
