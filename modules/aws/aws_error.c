/* aws_error — AWS XML error bodies and retryable failures (see aws_error.h). */
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_xml.h>

#include "aws_error.h"

/* The first child of @p parent named @p name (any namespace), or NULL. */
static const apr_xml_elem *child(const apr_xml_elem *parent, const char *name)
{
    const apr_xml_elem *e;

    for (e = parent ? parent->first_child : NULL; e; e = e->next) {
        if (!strcmp(e->name, name)) {
            return e;
        }
    }
    return NULL;
}

/* The text of @p e, trimmed; NULL when absent or empty. Error elements hold text only, so the
 * text directly inside the element is all there is. */
static const char *text(const apr_xml_elem *e, apr_pool_t *p)
{
    const apr_text *t;
    const char *all, *s, *end;
    apr_size_t total = 0;
    char *at;

    if (!e || !e->first_cdata.first) {
        return NULL;
    }
    /* The parser hands the text over in pieces (every line break and entity is one): join them
     * in one allocation. Appending piece by piece copied everything gathered so far each time,
     * so a body of many short lines took time and memory quadratic in its size. */
    for (t = e->first_cdata.first; t; t = t->next) {
        total += strlen(t->text);
    }
    all = at = apr_palloc(p, total + 1);
    for (t = e->first_cdata.first; t; t = t->next) {
        apr_size_t n = strlen(t->text);
        memcpy(at, t->text, n);
        at += n;
    }
    *at = '\0';
    for (s = all; apr_isspace(*s); ++s) {
    }
    for (end = s + strlen(s); end > s && apr_isspace(end[-1]); --end) {
    }
    return end > s ? apr_pstrmemdup(p, s, (apr_size_t)(end - s)) : NULL;
}

apr_status_t aws_error_parse(aws_error_t **err, const char *body, apr_size_t len, apr_pool_t *p)
{
    apr_xml_parser *parser;
    apr_xml_doc *doc = NULL;
    const apr_xml_elem *root, *error, *rid;
    aws_error_t *e;

    if (!body || !len) {
        return APR_EINVAL;
    }
    parser = apr_xml_parser_create(p);
    if (apr_xml_parser_feed(parser, body, len) != APR_SUCCESS
        || apr_xml_parser_done(parser, &doc) != APR_SUCCESS || !doc || !doc->root) {
        return APR_EINVAL;
    }
    root = doc->root;
    if (!strcmp(root->name, "Error")) {
        error = root; /* S3 */
        rid = child(root, "RequestId");
    }
    else if (!strcmp(root->name, "ErrorResponse")) {
        error = child(root, "Error"); /* Query APIs: CloudWatch, IAM, STS, SES, ... */
        rid = child(root, "RequestId");
    }
    else if (!strcmp(root->name, "Response")) {
        error = child(child(root, "Errors"), "Error"); /* EC2 style */
        rid = child(root, "RequestID");
    }
    else {
        return APR_EINVAL;
    }
    if (!rid && error) {
        rid = child(error, "RequestId"); /* some services put it inside <Error> */
    }
    e = apr_pcalloc(p, sizeof(*e));
    if (!error || !(e->code = text(child(error, "Code"), p))) {
        return APR_EINVAL;
    }
    e->message = text(child(error, "Message"), p);
    e->request_id = text(rid, p);
    e->resource = text(child(error, "Resource"), p);
    *err = e;
    return APR_SUCCESS;
}

apr_status_t aws_xml_child_text(const char **value, const char *body, apr_size_t len,
                                const char *root, const char *name, apr_pool_t *p)
{
    apr_xml_parser *parser;
    apr_xml_doc *doc = NULL;

    if (!body || !len) {
        return APR_EINVAL;
    }
    parser = apr_xml_parser_create(p);
    if (apr_xml_parser_feed(parser, body, len) != APR_SUCCESS
        || apr_xml_parser_done(parser, &doc) != APR_SUCCESS || !doc || !doc->root
        || (root && strcmp(doc->root->name, root))) {
        return APR_EINVAL;
    }
    *value = text(child(doc->root, name), p);
    return *value ? APR_SUCCESS : APR_NOTFOUND;
}

int aws_error_is_retryable(int http_status, const char *code)
{
    /* Throttling and transient codes: AWS's documented ones plus what botocore's standard retry
     * mode treats as throttling or transient (botocore/retries/standard.py); compared
     * case-sensitively, as AWS spells them. */
    static const char *const retryable[] = {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
    };
    apr_size_t i;

    switch (http_status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return 1;
    default:
        break;
    }
    for (i = 0; code && i < sizeof(retryable) / sizeof(retryable[0]); ++i) {
        if (!strcmp(code, retryable[i])) {
            return 1;
        }
    }
    return 0;
}
