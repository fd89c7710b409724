/* aws_error — what an AWS service said when it refused a request: the XML error bodies of S3
 * (<Error>), of the Query APIs such as CloudWatch (<ErrorResponse><Error>) and of the EC2-style
 * APIs (<Response><Errors><Error>), and whether a failure is worth retrying.
 *
 * Pure core (APR-util's XML parser): used by the modules that talk to AWS and by the unit tests.
 * The parser looks at the body only, never at the HTTP status, because S3 answers some requests
 * (CompleteMultipartUpload, CopyObject) with 200 and an <Error> body.
 */
#ifndef AWS_ERROR_H
#define AWS_ERROR_H

#include <apr_pools.h>

/** An AWS error; each field is NULL when the body does not have it or has it empty. */
typedef struct aws_error_t {
    const char *code;       /* "NoSuchKey", "SignatureDoesNotMatch", "Throttling", ... */
    const char *message;    /* human-readable, for logs */
    const char *request_id; /* RequestId (S3, Query) or RequestID (EC2 style) */
    const char *resource;   /* S3 only: the bucket or key the error is about */
} aws_error_t;

/**
 * Parse an AWS XML error body. The element names are matched without their namespace, and text
 * is trimmed of surrounding white space.
 * @param err out, allocated from @p p (as are its strings)
 * @param body the response body; need not be NUL-terminated
 * @param len its length in bytes
 * @return APR_SUCCESS with at least err->code set; APR_EINVAL when the body is not such an error
 *         (empty, not XML, HTML, truncated, another root element, no Code)
 */
apr_status_t aws_error_parse(aws_error_t **err, const char *body, apr_size_t len, apr_pool_t *p);

/**
 * Whether a failed request may succeed if sent again (after a backoff): HTTP 429, 500, 502, 503
 * and 504, and the throttling and transient error codes (SlowDown, Throttling,
 * ThrottlingException, RequestLimitExceeded, RequestThrottled, TooManyRequestsException,
 * ProvisionedThroughputExceededException, RequestTimeout, InternalError, ServiceUnavailable and
 * the other throttling codes the AWS SDKs retry).
 * @param http_status the response status (a 200 with an error body counts by its code)
 * @param code the error code, or NULL when the body had none
 * @return non-zero when retryable
 */
int aws_error_is_retryable(int http_status, const char *code);

/**
 * Read one value from an AWS XML answer: the text of the first child @p name of the root
 * element, which must be @p root (NULL: any), names without their namespace; e.g. the UploadId
 * of an InitiateMultipartUploadResult. Shares the error parser's reading of text.
 * @param value out: the trimmed text, allocated from @p p
 * @return APR_SUCCESS; APR_EINVAL when the body does not parse or has another root;
 *         APR_NOTFOUND when the child is missing or empty
 */
apr_status_t aws_xml_child_text(const char **value, const char *body, apr_size_t len,
                                const char *root, const char *name, apr_pool_t *p);

#endif /* AWS_ERROR_H */
