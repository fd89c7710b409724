/* lampfarm-sigv4 — show how lampfarm signs a request, for operators chasing
 * SignatureDoesNotMatch.
 *
 * Reads a raw HTTP request on stdin (request line, headers, blank line, body; the body and the
 * blank line may be missing, the request line may hold raw spaces and UTF-8) and prints the
 * canonical request, the string to sign and the signed request, each under a line
 * "--- <section> ---". Compare the canonical request with the one in S3's
 * SignatureDoesNotMatch answer (its <CanonicalRequest>) to see what differs.
 *
 * With --elasticache-user and --elasticache-cache it makes an ElastiCache IAM authentication
 * token instead (no request on stdin): what a client sends as the AUTH password, and how it was
 * signed, to chase a WRONGPASS.
 */
#include <stdio.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "aws_elasticache.h"
#include "aws_http.h"
#include "aws_sigv4.h"

static void usage(FILE *out)
{
    fputs("Usage: lampfarm-sigv4 --access-key AK --secret-key SK [--session-token T]\n"
          "         --region R --service S --time YYYYMMDDTHHMMSSZ\n"
          "         [--presign --expires SECONDS] [--no-normalize-path] [--no-double-encode]\n"
          "         [--unsigned-payload] [--omit-session-token] [--content-sha256]  < request\n"
          "\n"
          "Signs the raw HTTP request on stdin with AWS Signature Version 4 and prints three\n"
          "sections: --- canonical-request ---, --- string-to-sign ---, --- signed-request ---.\n"
          "Every header of the request is signed; an X-Amz-Date or X-Amz-Security-Token in it\n"
          "is replaced.\n"
          "  --presign             presigned URL (query authentication) instead of a header\n"
          "  --expires SECONDS     lifetime of a presigned URL (1 to 604800)\n"
          "  --no-normalize-path   keep dot segments and repeated slashes (S3)\n"
          "  --no-double-encode    the path is encoded once already (S3)\n"
          "  --unsigned-payload    payload hash UNSIGNED-PAYLOAD instead of the body's SHA-256\n"
          "  --omit-session-token  add the token after signing, unsigned\n"
          "  --content-sha256      add and sign an x-amz-content-sha256 header (S3 needs it)\n"
          "  --send BASE-URL       also send the signed request to BASE-URL (e.g.\n"
          "                        https://bucket.s3.eu-west-1.amazonaws.com) and print the\n"
          "                        answer under --- response --- (exit 1 unless 2xx)\n"
          "For S3 use --no-normalize-path --no-double-encode --content-sha256 --service s3.\n"
          "\n"
          "   or: lampfarm-sigv4 --access-key AK --secret-key SK [--session-token T]\n"
          "         --region R --time YYYYMMDDTHHMMSSZ\n"
          "         --elasticache-user USER-ID --elasticache-cache NAME [--serverless]\n"
          "\n"
          "Makes the ElastiCache IAM authentication token (the AUTH password) for the user id\n"
          "and the replication group id, or with --serverless the serverless cache name, and\n"
          "prints --- canonical-request ---, --- string-to-sign --- and --- token ---.\n",
          out);
}

/* One header as it came: its raw lines (for printing) and its unfolded value (for signing). */
typedef struct raw_header_t {
    const char *name;
    const char *value;
    const char *raw;
} raw_header_t;

typedef struct raw_request_t {
    const char *method, *target, *version;
    apr_array_header_t *headers; /* raw_header_t */
    const char *body;
    apr_size_t body_len;
} raw_request_t;

static const char *read_all(apr_size_t *len, FILE *in, apr_pool_t *p)
{
    apr_size_t cap = 65536, n = 0, got;
    char *buf = malloc(cap);

    while (buf && (got = fread(buf + n, 1, cap - n, in)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) {
                free(buf);
            }
            buf = bigger;
        }
    }
    if (!buf) {
        return NULL;
    }
    *len = n;
    {
        char *copy = apr_pstrmemdup(p, buf, n);
        free(buf);
        return copy;
    }
}

/* The next line of @p s (without "\n" or "\r\n"); *rest after it, NULL at the end. */
static const char *next_line(const char **rest, const char *s, const char *end, apr_pool_t *p)
{
    const char *nl = memchr(s, '\n', (apr_size_t)(end - s));
    const char *stop = nl ? nl : end;

    *rest = nl ? nl + 1 : NULL;
    if (stop > s && stop[-1] == '\r') {
        --stop;
    }
    return apr_pstrmemdup(p, s, (apr_size_t)(stop - s));
}

static const char *parse_request(raw_request_t *req, const char *s, apr_size_t len, apr_pool_t *p)
{
    const char *end = s + len, *rest, *line, *sp1, *sp2;
    raw_header_t *last = NULL;

    line = next_line(&rest, s, end, p);
    sp1 = strchr(line, ' ');
    sp2 = strrchr(line, ' ');
    if (!sp1 || sp1 == sp2 || strncmp(sp2 + 1, "HTTP/", 5)) {
        return "the first line is not 'METHOD TARGET HTTP/x.y'";
    }
    req->method = apr_pstrmemdup(p, line, (apr_size_t)(sp1 - line));
    req->target = apr_pstrmemdup(p, sp1 + 1, (apr_size_t)(sp2 - sp1 - 1));
    req->version = sp2 + 1;
    req->headers = apr_array_make(p, 8, sizeof(raw_header_t));
    req->body = "";
    req->body_len = 0;
    while (rest) {
        const char *colon;
        line = next_line(&rest, rest, end, p);
        if (!*line) {
            if (rest) {
                req->body = rest;
                req->body_len = (apr_size_t)(end - rest);
            }
            break;
        }
        if ((*line == ' ' || *line == '\t') && last) {
            /* an obsolete folded continuation: part of the previous header's value */
            last->value = apr_pstrcat(p, last->value, " ", line, NULL);
            last->raw = apr_pstrcat(p, last->raw, "\n", line, NULL);
            continue;
        }
        colon = strchr(line, ':');
        if (!colon || colon == line) {
            return apr_psprintf(p, "not a header line: '%s'", line);
        }
        last = apr_array_push(req->headers);
        last->name = apr_pstrmemdup(p, line, (apr_size_t)(colon - line));
        last->value = colon + 1;
        last->raw = line;
    }
    return NULL;
}

/* The raw header lines with @p set applied: a header of the same name is replaced where it
 * stood (later repeats dropped), the others are appended in order. */
static const char *header_lines(const raw_request_t *req, const apr_array_header_t *set,
                                const apr_array_header_t *drop, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 16, sizeof(const char *));
    char *used = apr_pcalloc(p, set ? set->nelts + 1 : 1);
    int i, j;

    for (i = 0; i < req->headers->nelts; ++i) {
        const raw_header_t *h = &APR_ARRAY_IDX(req->headers, i, raw_header_t);
        const char *line = h->raw;
        for (j = 0; set && j < set->nelts; ++j) {
            const aws_sigv4_header_t *s = &APR_ARRAY_IDX(set, j, aws_sigv4_header_t);
            if (!strcasecmp(h->name, s->name)) {
                line = used[j] ? NULL : apr_pstrcat(p, h->name, ":", s->value, NULL);
                used[j] = 1;
                break;
            }
        }
        for (j = 0; drop && j < drop->nelts; ++j) {
            if (!strcasecmp(h->name, APR_ARRAY_IDX(drop, j, const char *))) {
                line = NULL;
            }
        }
        if (line) {
            APR_ARRAY_PUSH(out, const char *) = line;
        }
    }
    for (j = 0; set && j < set->nelts; ++j) {
        const aws_sigv4_header_t *s = &APR_ARRAY_IDX(set, j, aws_sigv4_header_t);
        if (!used[j]) {
            APR_ARRAY_PUSH(out, const char *) = apr_pstrcat(p, s->name, ":", s->value, NULL);
        }
    }
    return apr_array_pstrcat(p, out, '\n');
}

/* The headers to send: the request's, with the signer's set replacing any of the same name. */
static apr_array_header_t *send_headers(const aws_sigv4_request_t *sreq,
                                        const apr_array_header_t *set, int presign, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 16, sizeof(aws_sigv4_header_t));
    int i, j;

    for (i = 0; i < sreq->headers->nelts; ++i) {
        const aws_sigv4_header_t *h = &APR_ARRAY_IDX(sreq->headers, i, aws_sigv4_header_t);
        int replaced =
            presign
            && (!strcasecmp(h->name, "X-Amz-Date") || !strcasecmp(h->name, "X-Amz-Security-Token"));
        for (j = 0; set && j < set->nelts; ++j) {
            replaced |= !strcasecmp(h->name, APR_ARRAY_IDX(set, j, aws_sigv4_header_t).name);
        }
        if (!replaced) {
            APR_ARRAY_PUSH(out, aws_sigv4_header_t) = *h;
        }
    }
    for (j = 0; set && j < set->nelts; ++j) {
        APR_ARRAY_PUSH(out, aws_sigv4_header_t) = APR_ARRAY_IDX(set, j, aws_sigv4_header_t);
    }
    return out;
}

/* Send the signed request and print the answer; AWS errors as code, message and request id. */
static int send_request(const char *base, const char *target, const aws_sigv4_request_t *sreq,
                        apr_array_header_t *headers, apr_pool_t *p)
{
    aws_http_config_t cfg;
    aws_http_client_t *client;
    aws_http_request_t hreq;
    aws_http_response_t *resp;
    const apr_array_header_t *elts;
    int i;

    memset(&cfg, 0, sizeof(cfg));
    cfg.max_attempts = 1; /* show exactly what this one request got */
    memset(&hreq, 0, sizeof(hreq));
    hreq.method = sreq->method;
    hreq.url = apr_pstrcat(p, base, target, NULL);
    hreq.headers = headers;
    hreq.body = sreq->body;
    hreq.body_len = sreq->body_len;
    if (aws_http_client_create(&client, &cfg, p) != APR_SUCCESS) {
        fputs("--- response ---\nno HTTP client\n", stdout);
        return 1;
    }
    if (aws_http_perform(&resp, client, &hreq, p) != APR_SUCCESS) {
        printf("--- response ---\nno answer: %s\n", resp->transport_error);
        return 1;
    }
    printf("--- response ---\nHTTP %d\n", resp->status);
    elts = apr_table_elts(resp->headers);
    for (i = 0; i < elts->nelts; ++i) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(elts, i, apr_table_entry_t);
        printf("%s: %s\n", e->key, e->val);
    }
    if (resp->error) {
        printf("\nerror code: %s\nmessage: %s\nrequest id: %s\n",
               resp->error->code ? resp->error->code : "-",
               resp->error->message ? resp->error->message : "-",
               resp->error->request_id ? resp->error->request_id : "-");
    }
    else {
        fputs("\n", stdout);
        fwrite(resp->body, 1, resp->body_len, stdout);
        fputs("\n", stdout);
    }
    return resp->status >= 200 && resp->status < 300 ? 0 : 1;
}

static int fail(const char *what)
{
    fprintf(stderr, "lampfarm-sigv4: %s (see --help)\n", what);
    return 2;
}

/* The --elasticache-* mode: make and print an IAM authentication token. */
static int elasticache_token(const aws_sigv4_params_t *params, const char *time_arg,
                             const char *user, const char *cache, int serverless, apr_pool_t *p)
{
    aws_elasticache_iam_t iam;
    aws_sigv4_result_t *res;
    aws_creds_t creds;
    const char *token, *why = NULL;
    apr_time_t t;

    if (!user || !cache || !params->access_key || !params->secret_key || !params->region
        || !time_arg) {
        return fail("--elasticache-user, --elasticache-cache, --access-key, --secret-key, "
                    "--region and --time are required");
    }
    if (aws_sigv4_parse_amz_date(&t, time_arg) != APR_SUCCESS) {
        return fail("--time must look like 20150830T123600Z");
    }
    memset(&creds, 0, sizeof(creds));
    creds.access_key = params->access_key;
    creds.secret_key = params->secret_key;
    creds.session_token = params->session_token;
    iam.region = params->region;
    iam.user_id = user;
    iam.cache_name = cache;
    iam.serverless = serverless;
    if (aws_elasticache_token(&token, &res, &why, &iam, &creds, t, p) != APR_SUCCESS) {
        return fail(why);
    }
    printf("--- canonical-request ---\n%s\n--- string-to-sign ---\n%s\n--- token ---\n%s\n",
           res->canonical_request, res->string_to_sign, token);
    return 0;
}

int main(int argc, const char *const *argv)
{
    aws_sigv4_params_t params;
    aws_sigv4_request_t sreq;
    aws_sigv4_result_t *res;
    raw_request_t req;
    apr_pool_t *p;
    const char *input, *err, *time_arg = NULL, *q, *lines, *target, *send = NULL;
    const char *ec_user = NULL, *ec_cache = NULL;
    apr_size_t len = 0;
    int i, presign = 0, unsigned_payload = 0, send_failed = 0, serverless = 0;
    apr_status_t rv;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    memset(&params, 0, sizeof(params));
    params.normalize_path = 1;
    params.double_encode = 1;
    for (i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--access-key") && v) {
            params.access_key = v;
        }
        else if (!strcmp(a, "--secret-key") && v) {
            params.secret_key = v;
        }
        else if (!strcmp(a, "--session-token") && v) {
            params.session_token = v;
        }
        else if (!strcmp(a, "--region") && v) {
            params.region = v;
        }
        else if (!strcmp(a, "--service") && v) {
            params.service = v;
        }
        else if (!strcmp(a, "--time") && v) {
            time_arg = v;
        }
        else if (!strcmp(a, "--send") && v) {
            send = v;
        }
        else if (!strcmp(a, "--expires") && v) {
            params.expires = apr_atoi64(v);
        }
        else if (!strcmp(a, "--elasticache-user") && v) {
            ec_user = v;
        }
        else if (!strcmp(a, "--elasticache-cache") && v) {
            ec_cache = v;
        }
        else {
            takes = 0;
            if (!strcmp(a, "--presign")) {
                presign = 1;
            }
            else if (!strcmp(a, "--no-normalize-path")) {
                params.normalize_path = 0;
            }
            else if (!strcmp(a, "--no-double-encode")) {
                params.double_encode = 0;
            }
            else if (!strcmp(a, "--unsigned-payload")) {
                unsigned_payload = 1;
            }
            else if (!strcmp(a, "--omit-session-token")) {
                params.omit_session_token = 1;
            }
            else if (!strcmp(a, "--content-sha256")) {
                params.content_sha256_header = 1;
            }
            else if (!strcmp(a, "--serverless")) {
                serverless = 1;
            }
            else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                usage(stdout);
                return 0;
            }
            else {
                return fail(apr_psprintf(p, "unknown or incomplete argument '%s'", a));
            }
        }
        i += takes;
    }
    if (ec_user || ec_cache) {
        return elasticache_token(&params, time_arg, ec_user, ec_cache, serverless, p);
    }
    if (!params.access_key || !params.secret_key || !params.region || !params.service
        || !time_arg) {
        return fail("--access-key, --secret-key, --region, --service and --time are required");
    }
    if (aws_sigv4_parse_amz_date(&params.time, time_arg) != APR_SUCCESS) {
        return fail("--time must look like 20150830T123600Z");
    }
    if (presign && (params.expires < 1 || params.expires > 604800)) {
        return fail("--presign needs --expires SECONDS, 1 to 604800");
    }
    if (unsigned_payload) {
        params.payload_hash = AWS_SIGV4_UNSIGNED_PAYLOAD;
    }
    input = read_all(&len, stdin, p);
    if (!input || !len) {
        return fail("no request on stdin");
    }
    if ((err = parse_request(&req, input, len, p))) {
        return fail(err);
    }

    memset(&sreq, 0, sizeof(sreq));
    sreq.method = req.method;
    q = strchr(req.target, '?');
    sreq.path = q ? apr_pstrmemdup(p, req.target, (apr_size_t)(q - req.target)) : req.target;
    sreq.query = q ? q + 1 : NULL;
    sreq.headers = apr_array_make(p, req.headers->nelts, sizeof(aws_sigv4_header_t));
    for (i = 0; i < req.headers->nelts; ++i) {
        const raw_header_t *h = &APR_ARRAY_IDX(req.headers, i, raw_header_t);
        aws_sigv4_header_add(sreq.headers, h->name, h->value);
    }
    sreq.body = req.body;
    sreq.body_len = req.body_len;

    if (presign) {
        apr_array_header_t *drop = apr_array_make(p, 2, sizeof(const char *));
        APR_ARRAY_PUSH(drop, const char *) = "X-Amz-Date";
        APR_ARRAY_PUSH(drop, const char *) = "X-Amz-Security-Token";
        rv = aws_sigv4_presign(&res, &sreq, &params, p);
        target = apr_pstrcat(p, sreq.path, "?", rv == APR_SUCCESS ? res->query : "", NULL);
        lines = rv == APR_SUCCESS ? header_lines(&req, NULL, drop, p) : NULL;
    }
    else {
        rv = aws_sigv4_sign(&res, &sreq, &params, p);
        target = req.target;
        lines = rv == APR_SUCCESS ? header_lines(&req, res->set_headers, NULL, p) : NULL;
    }
    if (rv != APR_SUCCESS) {
        return fail("cannot sign this request");
    }
    printf("--- canonical-request ---\n%s\n--- string-to-sign ---\n%s\n--- signed-request ---\n"
           "%s %s %s\n%s\n\n",
           res->canonical_request, res->string_to_sign, req.method, target, req.version, lines);
    fwrite(req.body, 1, req.body_len, stdout);
    if (send) {
        fputs("\n", stdout);
        send_failed =
            send_request(send, target, &sreq,
                         send_headers(&sreq, presign ? NULL : res->set_headers, presign, p), p);
    }
    apr_pool_destroy(p);
    apr_terminate();
    return send_failed;
}
