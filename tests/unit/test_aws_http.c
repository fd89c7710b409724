/* Unit tests of modules/aws/aws_http.c: the pure policy (which answers are retried and how long
 * a retry waits), and the transport's streaming against the scripted server of unit_http.h
 * (a thread of the test, on 127.0.0.1): request bodies from a
 * source (byte for byte, rewound for a retry), answers into a sink, cancellation by either, and
 * per-request timeouts. The transport against S3 itself (moto) is in the integration tests. */
#include <signal.h>
#include <stdio.h>

#include "unit.h"
#include "unit_http.h"

#include <curl/curl.h>

#include "aws_http.h"
#include "lf_log.h"

static int setup(void **state)
{
    unit_log_clear();
    return unit_setup(state);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, unit_teardown)

static const char *const s3_internal_error =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
    "<Message>We encountered an internal error. Please try again.</Message>"
    "<RequestId>4442587FB7D0A2F9</RequestId></Error>";

static const char *const s3_slow_down =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
    "<Message>Please reduce your request rate.</Message>"
    "<RequestId>4442587FB7D0A2FA</RequestId></Error>";

static const char *const s3_no_such_key =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
    "<Message>The specified key does not exist.</Message><Key>a/b.jpg</Key>"
    "<RequestId>4442587FB7D0A2FB</RequestId></Error>";

/* --- the client's side: a body source and an answer sink ------------------------------------- */

typedef struct source_t {
    apr_size_t len, pos;
    apr_size_t piece;     /* at most this many bytes per call; 0: as many as asked */
    apr_size_t cancel_at; /* fail once this many bytes were given; 0: never */
    apr_size_t end_at;    /* end the body early here; 0: at len */
    apr_status_t rewind_rv;
    int reads, rewinds;
} source_t;

static apr_status_t source_read(char *buf, apr_size_t *len, void *baton)
{
    source_t *src = baton;
    apr_size_t end = src->end_at ? src->end_at : src->len, n = *len;

    ++src->reads;
    if (src->cancel_at && src->pos >= src->cancel_at) {
        return APR_ECONNABORTED;
    }
    if (n > end - src->pos) {
        n = end - src->pos;
    }
    if (src->piece && n > src->piece) {
        n = src->piece;
    }
    pattern_fill(buf, src->pos, n);
    src->pos += n;
    *len = n;
    return APR_SUCCESS;
}

static apr_status_t source_rewind(void *baton)
{
    source_t *src = baton;

    ++src->rewinds;
    if (src->rewind_rv == APR_SUCCESS) {
        src->pos = 0;
    }
    return src->rewind_rv;
}

typedef struct sink_t {
    apr_pool_t *pool;
    int heads, status, chunks;
    const char *color, *content_length, *content_range;
    apr_size_t len;
    int mismatch;            /* a byte differed from the pattern */
    apr_status_t head_rv;    /* what on_head answers */
    apr_size_t cancel_after; /* cancel once this many bytes came; 0: never */
    apr_size_t expect_from;  /* the body is the pattern from this byte on */
} sink_t;

static const char *copy_header(const apr_table_t *headers, const char *name, apr_pool_t *p)
{
    const char *v = apr_table_get(headers, name);

    return v ? apr_pstrdup(p, v) : NULL;
}

static apr_status_t sink_head(int status, const apr_table_t *headers, void *baton)
{
    sink_t *k = baton;

    ++k->heads;
    k->status = status;
    k->color = copy_header(headers, "x-amz-meta-color", k->pool);
    k->content_length = copy_header(headers, "Content-Length", k->pool);
    k->content_range = copy_header(headers, "Content-Range", k->pool);
    return k->head_rv;
}

static apr_status_t sink_data(const char *data, apr_size_t len, void *baton)
{
    sink_t *k = baton;

    ++k->chunks;
    if (!k->heads || !pattern_is(data, k->expect_from + k->len, len)) {
        k->mismatch = 1;
    }
    k->len += len;
    return k->cancel_after && k->len >= k->cancel_after ? APR_ECONNABORTED : APR_SUCCESS;
}

/* A client with fast retries; @p timeout 0 for the default. */
static aws_http_client_t *client(apr_interval_time_t timeout, apr_pool_t *p)
{
    aws_http_config_t cfg = {0};
    aws_http_client_t *c = NULL;

    cfg.timeout = timeout;
    cfg.backoff_base = apr_time_from_msec(1);
    cfg.backoff_max = apr_time_from_msec(1);
    assert_int_equal(aws_http_client_create(&c, &cfg, p), APR_SUCCESS);
    return c;
}

static aws_http_request_t request(const char *method, const server_t *srv)
{
    aws_http_request_t req;

    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = srv->url;
    req.idempotent = 1;
    return req;
}

static void with_source(aws_http_request_t *req, source_t *src, int rewind)
{
    req->read = source_read;
    req->rewind = rewind ? source_rewind : NULL;
    req->read_baton = src;
    req->body_len = src->len;
}

static void with_sink(aws_http_request_t *req, sink_t *k, apr_pool_t *p)
{
    k->pool = p;
    req->on_head = sink_head;
    req->on_data = sink_data;
    req->sink_baton = k;
}

/* Whether the server received the pattern body of @p len bytes whole, as announced. */
static void assert_pattern_body(const received_t *got, apr_size_t len)
{
    assert_true(got->complete);
    assert_int_equal(got->content_length, len);
    assert_int_equal(got->body_len, len);
    assert_true(pattern_is(got->body, 0, len));
}

static void retries_only_what_is_safe(void **state)
{
    (void)state;
    /* connection errors and timeouts, 5xx and throttling: retried when idempotent */
    assert_true(aws_http_should_retry(0, NULL, CURLE_COULDNT_CONNECT, 1));
    assert_true(aws_http_should_retry(0, NULL, CURLE_OPERATION_TIMEDOUT, 1));
    assert_true(aws_http_should_retry(500, NULL, 0, 1));
    assert_true(aws_http_should_retry(503, "SlowDown", 0, 1));
    assert_true(aws_http_should_retry(400, "Throttling", 0, 1));
    /* never when the request may have taken effect */
    assert_false(aws_http_should_retry(0, NULL, CURLE_COULDNT_CONNECT, 0));
    assert_false(aws_http_should_retry(503, "SlowDown", 0, 0));
    /* client errors are final */
    assert_false(aws_http_should_retry(403, "SignatureDoesNotMatch", 0, 1));
    assert_false(aws_http_should_retry(404, "NoSuchKey", 0, 1));
    assert_false(aws_http_should_retry(200, NULL, 0, 1));
}

/* A failure that the same request meets again every time (the peer's certificate, the CA file,
 * the URL) is final; what the network or the peer may do differently next time is retried. */
static void transport_failures_classified(void **state)
{
    static const CURLcode transient[] = {
        CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,    CURLE_OPERATION_TIMEDOUT,
        CURLE_SSL_CONNECT_ERROR,    CURLE_SEND_ERROR,         CURLE_RECV_ERROR,
        CURLE_GOT_NOTHING,          CURLE_PARTIAL_FILE,       CURLE_HTTP2,
        CURLE_HTTP2_STREAM,         CURLE_WEIRD_SERVER_REPLY,
    };
    static const CURLcode permanent[] = {
        CURLE_UNSUPPORTED_PROTOCOL,
        CURLE_URL_MALFORMAT,
        CURLE_NOT_BUILT_IN,
        CURLE_PEER_FAILED_VERIFICATION,
        CURLE_SSL_CACERT_BADFILE,
        CURLE_SSL_CERTPROBLEM,
        CURLE_SSL_CIPHER,
        CURLE_SSL_ENGINE_NOTFOUND,
        CURLE_SSL_ENGINE_SETFAILED,
        CURLE_SSL_ENGINE_INITFAILED,
        CURLE_SSL_CRL_BADFILE,
        CURLE_SSL_ISSUER_ERROR,
        CURLE_SSL_PINNEDPUBKEYNOTMATCH,
        CURLE_SSL_INVALIDCERTSTATUS,
        CURLE_SSL_CLIENTCERT,
        CURLE_BAD_FUNCTION_ARGUMENT,
        CURLE_UNKNOWN_OPTION,
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(transient) / sizeof(transient[0]); ++i) {
        assert_true(aws_http_should_retry(0, NULL, transient[i], 1));
    }
    for (i = 0; i < sizeof(permanent) / sizeof(permanent[0]); ++i) {
        assert_false(aws_http_should_retry(0, NULL, permanent[i], 1));
    }
}

/* A permanent failure ends the request at its first attempt, with curl's reason: a URL of a
 * scheme that is not allowed (no connection at all), and a CA file that cannot be read (after the
 * connection, before the handshake: one connection, not three). */
static void permanent_failure_not_retried(void **state)
{
    apr_pool_t *p = *state;
    server_t *srv = server_start(NULL, 0, p);
    aws_http_config_t cfg = {0};
    aws_http_client_t *c = client(0, p), *badca = NULL;
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);

    req.url = "ftp://127.0.0.1/bucket/a";
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_EGENERAL);
    assert_int_equal(r->attempts, 1);
    assert_non_null(r->transport_error);
    assert_non_null(strstr(r->transport_error, "ftp"));

    cfg.backoff_base = cfg.backoff_max = apr_time_from_msec(1);
    cfg.ca_file = "/nonexistent/lampfarm-ca.pem";
    assert_int_equal(aws_http_client_create(&badca, &cfg, p), APR_SUCCESS);
    req.url = apr_pstrcat(p, "https", srv->url + 4, NULL);
    assert_int_equal(aws_http_perform(&r, badca, &req, p), APR_EGENERAL);
    assert_int_equal(r->attempts, 1);
    assert_non_null(strstr(r->transport_error, "/nonexistent/lampfarm-ca.pem"));
    server_stop(srv);
    assert_int_equal(srv->requests, 1);
}

static void backoff_is_jittered_exponential_and_capped(void **state)
{
    const apr_interval_time_t base = 100000, cap = 5000000;
    apr_uint32_t r;
    int attempt;

    (void)state;
    for (attempt = 1; attempt <= 12; ++attempt) {
        apr_interval_time_t ceiling = base;
        int k;
        for (k = 1; k < attempt && ceiling < cap; ++k) {
            ceiling *= 2;
        }
        if (ceiling > cap) {
            ceiling = cap;
        }
        for (r = 0; r < 2000000000u; r += 99991 * 37) {
            apr_interval_time_t d = aws_http_backoff(attempt, base, cap, r);
            assert_true(d >= 0 && d <= ceiling);
        }
        /* the largest random number reaches the ceiling's neighbourhood */
        assert_int_equal(aws_http_backoff(attempt, base, cap, (apr_uint32_t)ceiling), ceiling);
    }
    assert_int_equal(aws_http_backoff(1, base, cap, 0), 0);
    assert_int_equal(aws_http_backoff(30, base, cap, (apr_uint32_t)cap), cap); /* no overflow */
}

/* --- request bodies from a source ------------------------------------------------------------ */

/* Over a MiB in odd pieces, byte for byte, with a Content-Length, without "Expect: 100-continue"
 * (which would cost a round trip, or a second of waiting) and without a form content type. */
static void source_body_sent_byte_for_byte(void **state)
{
    apr_pool_t *p = *state;
    static const answer_t answers[] = {{200, NULL, "", 0, 0, 0}, {200, NULL, "", 0, 0, 0}};
    server_t *srv = server_start(answers, 2, p);
    source_t big = {0}, small = {0};
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("PUT", srv);

    big.len = 1536 * 1024 + 7;
    big.piece = 1000;
    with_source(&req, &big, 1);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(r->cancelled, APR_SUCCESS);
    assert_int_equal(big.pos, big.len);
    assert_true(big.reads > 1000);
    assert_int_equal(big.rewinds, 0);

    small.len = 3333;
    req = request("POST", srv);
    with_source(&req, &small, 0);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 200);

    server_stop(srv);
    assert_int_equal(srv->requests, 2);
    assert_true(!strncmp(srv->got[0].head, "put /bucket/a/b.jpg http/1.1\r\n", 30));
    assert_pattern_body(&srv->got[0], big.len);
    assert_null(strstr(srv->got[0].head, "expect:"));
    assert_null(strstr(srv->got[0].head, "content-type:"));
    assert_null(strstr(srv->got[0].head, "transfer-encoding:"));
    assert_true(!strncmp(srv->got[1].head, "post /bucket/a/b.jpg http/1.1\r\n", 31));
    assert_pattern_body(&srv->got[1], small.len);
    assert_null(strstr(srv->got[1].head, "content-type:"));
}

/* A 500 with S3's error body: the source is rewound and the whole body sent again. */
static void source_rewound_for_retry(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {500, "Content-Type: application/xml\r\n", s3_internal_error, strlen(s3_internal_error), 0,
         0},
        {200, "ETag: \"1\"\r\n", "", 0, 0, 0},
    };
    server_t *srv = server_start(answers, 2, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("PUT", srv);
    source_t src = {0};

    src.len = 300001;
    with_source(&req, &src, 1);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->attempts, 2);
    assert_null(r->error);
    assert_string_equal(apr_table_get(r->headers, "ETag"), "\"1\"");
    assert_int_equal(src.rewinds, 1);
    assert_true(unit_logged("LF00200: PUT http://127.0.0.1:"));
    assert_true(unit_logged("/bucket/a/b.jpg: InternalError, attempt 1 of 3, retrying"));

    server_stop(srv);
    assert_int_equal(srv->requests, 2);
    assert_pattern_body(&srv->got[0], src.len);
    assert_pattern_body(&srv->got[1], src.len);
}

/* A body that was read cannot be sent again without a rewind (or when the rewind fails): the
 * error answer is the result. */
static void source_without_rewind_not_retried(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {500, NULL, s3_internal_error, strlen(s3_internal_error), 0, 0},
        {500, NULL, s3_internal_error, strlen(s3_internal_error), 0, 0},
        {200, NULL, "", 0, 0, 0},
    };
    server_t *srv = server_start(answers, 3, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("PUT", srv);
    source_t src = {0}, failing = {0};

    src.len = 5000;
    with_source(&req, &src, 0);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 500);
    assert_int_equal(r->attempts, 1);
    assert_non_null(r->error);
    assert_string_equal(r->error->code, "InternalError");

    failing.len = 5000;
    failing.rewind_rv = APR_EGENERAL;
    with_source(&req, &failing, 1);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 500);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(failing.rewinds, 1);
    assert_true(unit_logged("LF00201: PUT http://127.0.0.1:"));
    assert_false(unit_logged("LF00200"));

    server_stop(srv);
    assert_int_equal(srv->requests, 2);
    assert_pattern_body(&srv->got[0], src.len);
}

/* A source that fails stops the upload at once: its status is the result, nothing is retried. A
 * source that ends before body_len is cut off too (APR_INCOMPLETE), rather than leaving the
 * server waiting for the rest. */
static void source_cancel_aborts(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {{200, NULL, "", 0, 0, 0}, {200, NULL, "", 0, 0, 0}};
    server_t *srv = server_start(answers, 2, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("PUT", srv);
    source_t src = {0}, shorter = {0};
    apr_time_t start = apr_time_now();

    src.len = 4 * 1024 * 1024;
    src.cancel_at = 100000;
    with_source(&req, &src, 1);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_ECONNABORTED);
    assert_int_equal(r->cancelled, APR_ECONNABORTED);
    assert_null(r->transport_error);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(src.rewinds, 0);

    shorter.len = 10000;
    shorter.end_at = 4000;
    with_source(&req, &shorter, 1);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_INCOMPLETE);
    assert_int_equal(r->cancelled, APR_INCOMPLETE);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(shorter.rewinds, 0);
    assert_true(apr_time_now() - start < apr_time_from_msec(500));
    assert_false(unit_logged("LF00200"));

    server_stop(srv);
    assert_int_equal(srv->requests, 2);
    assert_false(srv->got[0].complete);
    assert_true(srv->got[0].body_len < src.len);
    assert_false(srv->got[1].complete);
}

/* --- answers into a sink --------------------------------------------------------------------- */

/* A throttled attempt is retried and kept from the sink; the 200 goes to the sink in pieces. */
static void sink_gets_success_in_chunks(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {503, NULL, s3_slow_down, strlen(s3_slow_down), 0, 0},
        {200, "x-amz-meta-color: blue\r\n", NULL, 300000, 16384, 0},
    };
    server_t *srv = server_start(answers, 2, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);
    sink_t k = {0};

    with_sink(&req, &k, p);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->attempts, 2);
    assert_null(r->error);
    assert_int_equal(r->body_len, 0);
    assert_int_equal(k.heads, 1);
    assert_int_equal(k.status, 200);
    assert_string_equal(k.color, "blue");
    assert_string_equal(k.content_length, "300000");
    assert_true(k.chunks > 1);
    assert_int_equal(k.len, 300000);
    assert_false(k.mismatch);
    server_stop(srv);
    assert_int_equal(srv->requests, 2);
    assert_true(!strncmp(srv->got[1].head, "get /bucket/a/b.jpg http/1.1\r\n", 30));
}

/* A request's own max_attempts overrides the client's: one attempt, the 503 stands. */
static void request_max_attempts(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {503, NULL, s3_slow_down, strlen(s3_slow_down), 0, 0},
        {200, NULL, NULL, 10, 0, 0},
    };
    server_t *srv = server_start(answers, 2, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);

    req.max_attempts = 1;
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 503);
    assert_int_equal(r->attempts, 1);
    assert_string_equal(r->error->code, "SlowDown");
    server_stop(srv);
    assert_int_equal(srv->requests, 1);
}

/* give_up: while it says no, retries go ahead; once it says yes (a background thread told to
 * stop), the answer at hand stands and no more attempts are made. */
static int give_up_when(void *baton)
{
    return *(int *)baton;
}

static void give_up_ends_retries(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {503, NULL, s3_slow_down, strlen(s3_slow_down), 0, 0},
        {200, NULL, NULL, 10, 0, 0},
    };
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    int stop, round;

    for (round = 0; round < 2; ++round) {
        server_t *srv = server_start(answers, 2, p);
        aws_http_request_t req = request("GET", srv);

        stop = round;
        req.give_up = give_up_when;
        req.give_up_baton = &stop;
        assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
        assert_int_equal(r->status, stop ? 503 : 200);
        assert_int_equal(r->attempts, stop ? 1 : 2);
        server_stop(srv);
        assert_int_equal(srv->requests, stop ? 1 : 2);
    }
}

/* An error answer is kept and parsed as without a sink; the sink never hears of it. */
static void sink_skips_error_answers(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {404, "Content-Type: application/xml\r\n", s3_no_such_key, strlen(s3_no_such_key), 0, 0},
    };
    server_t *srv = server_start(answers, 1, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);
    sink_t k = {0};

    with_sink(&req, &k, p);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 404);
    assert_int_equal(r->attempts, 1);
    assert_non_null(r->error);
    assert_string_equal(r->error->code, "NoSuchKey");
    assert_string_equal(r->error->resource ? r->error->resource : "a/b.jpg", "a/b.jpg");
    assert_int_equal(r->body_len, strlen(s3_no_such_key));
    assert_string_equal(r->body, s3_no_such_key);
    assert_int_equal(k.heads, 0);
    assert_int_equal(k.chunks, 0);
}

/* A range answer is a success like any other. */
static void sink_gets_partial_content(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {206, "Content-Range: bytes 0-99/1000\r\n", NULL, 100, 0, 0},
    };
    server_t *srv = server_start(answers, 1, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);
    sink_t k = {0};

    with_sink(&req, &k, p);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 206);
    assert_int_equal(k.heads, 1);
    assert_int_equal(k.status, 206);
    assert_string_equal(k.content_range, "bytes 0-99/1000");
    assert_int_equal(k.len, 100);
    assert_false(k.mismatch);
    assert_int_equal(r->body_len, 0);
}

/* Answers without a body still reach on_head: a HEAD with its headers, a 204. */
static void sink_head_without_body(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {200, "x-amz-meta-color: red\r\n", NULL, 12345, 0, 0},
        {204, NULL, "", 0, 0, 0},
    };
    server_t *srv = server_start(answers, 2, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("HEAD", srv);
    sink_t k = {0}, k2 = {0};

    with_sink(&req, &k, p);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 200);
    assert_int_equal(k.heads, 1);
    assert_int_equal(k.status, 200);
    assert_string_equal(k.color, "red");
    assert_string_equal(k.content_length, "12345");
    assert_int_equal(k.chunks, 0);

    req = request("DELETE", srv);
    with_sink(&req, &k2, p);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 204);
    assert_int_equal(k2.heads, 1);
    assert_int_equal(k2.status, 204);
    assert_int_equal(k2.chunks, 0);
    server_stop(srv);
    assert_true(!strncmp(srv->got[0].head, "head ", 5));
    assert_true(!strncmp(srv->got[1].head, "delete ", 7));
}

/* A sink that cancels (the client went away) stops a long answer at once: its status is the
 * result, not a transport failure, and nothing is retried. So does an on_head that refuses. */
static void sink_cancel_stops_promptly(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        /* 4 MiB at 16 KiB per 2 ms: half a second for the whole */
        {200, NULL, NULL, 4 * 1024 * 1024, 16384, apr_time_from_msec(2)},
        {200, NULL, NULL, 1000, 0, 0},
    };
    server_t *srv = server_start(answers, 2, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);
    sink_t k = {0}, refusing = {0};
    apr_time_t start = apr_time_now(), took;

    with_sink(&req, &k, p);
    k.cancel_after = 65536;
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_ECONNABORTED);
    took = apr_time_now() - start;
    assert_int_equal(r->cancelled, APR_ECONNABORTED);
    assert_null(r->transport_error);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(k.heads, 1);
    assert_true(k.len >= 65536 && k.len < 65536 + CURL_MAX_WRITE_SIZE);
    assert_false(k.mismatch);
    assert_true(took < apr_time_from_msec(250));

    with_sink(&req, &refusing, p);
    refusing.head_rv = APR_EACCES;
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_EACCES);
    assert_int_equal(r->cancelled, APR_EACCES);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(refusing.heads, 1);
    assert_int_equal(refusing.chunks, 0);
    assert_false(unit_logged("LF00200"));

    server_stop(srv);
    assert_int_equal(srv->requests, 2);
    assert_true(srv->got[0].sent < 4 * 1024 * 1024);
}

/* --- timeouts -------------------------------------------------------------------------------- */

/* 8 KiB in 1 KiB pieces, 35 ms apart: slow, but steady. */
#define SLOW_ANSWER                                                                                \
    {                                                                                              \
        200, NULL, NULL, 8192, 1024, apr_time_from_msec(35)                                        \
    }

/* Timeout -1: a long stream outlasts the client's timeout (only the low-speed limit applies). */
static void timeout_none_lets_steady_stream_finish(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {SLOW_ANSWER};
    server_t *srv = server_start(answers, 1, p);
    aws_http_client_t *c = client(apr_time_from_msec(150), p);
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);
    sink_t k = {0};

    with_sink(&req, &k, p);
    req.timeout = -1;
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 200);
    assert_int_equal(k.len, 8192);
    assert_false(k.mismatch);
}

/* A request's own timeout, and the client's one (timeout 0), end the same stream; once the sink
 * had its head, a timeout is not retried. */
static void timeout_request_and_client(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {SLOW_ANSWER, SLOW_ANSWER};
    server_t *srv = server_start(answers, 2, p);
    aws_http_client_t *c = client(0, p), *quick = client(apr_time_from_msec(150), p);
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);
    sink_t k = {0}, k2 = {0};
    apr_time_t start = apr_time_now();

    with_sink(&req, &k, p);
    req.timeout = apr_time_from_msec(150);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_TIMEUP);
    assert_non_null(r->transport_error);
    assert_int_equal(r->cancelled, APR_SUCCESS);
    assert_int_equal(r->attempts, 1);
    assert_int_equal(k.heads, 1);
    assert_true(k.len > 0 && k.len < 8192);

    with_sink(&req, &k2, p);
    req.timeout = 0;
    assert_int_equal(aws_http_perform(&r, quick, &req, p), APR_TIMEUP);
    assert_int_equal(r->attempts, 1);
    assert_true(k2.len > 0 && k2.len < 8192);
    assert_true(apr_time_now() - start < apr_time_from_msec(600));
    server_stop(srv);
    assert_int_equal(srv->requests, 2);
}

/* --- the reused handle ----------------------------------------------------------------------- */

/* The thread's handle is reused: nothing of a streaming upload (upload mode, read function,
 * sizes, timeout) leaks into the next requests. */
static void handle_reuse_forgets_options(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {200, NULL, "", 0, 0, 0},
        {200, NULL, "hello", 5, 0, 0},
        {200, NULL, "posted", 6, 0, 0},
    };
    server_t *srv = server_start(answers, 3, p);
    aws_http_client_t *c = client(0, p);
    aws_http_response_t *r;
    aws_http_request_t req = request("PUT", srv);
    source_t src = {0};
    sink_t k = {0};

    src.len = 70000;
    with_source(&req, &src, 1);
    with_sink(&req, &k, p);
    req.timeout = -1;
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(k.heads, 1);

    req = request("GET", srv);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello");
    assert_int_equal(k.heads, 1);

    req = request("POST", srv);
    req.body = "a=b";
    req.body_len = 3;
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_string_equal(r->body, "posted");
    assert_int_equal(src.reads > 0, 1);

    server_stop(srv);
    assert_int_equal(srv->requests, 3);
    assert_pattern_body(&srv->got[0], src.len);
    assert_true(!strncmp(srv->got[1].head, "get ", 4));
    assert_null(strstr(srv->got[1].head, "content-length:"));
    assert_int_equal(srv->got[1].body_len, 0);
    assert_true(!strncmp(srv->got[2].head, "post ", 5));
    assert_int_equal(srv->got[2].body_len, 3);
    assert_memory_equal(srv->got[2].body, "a=b", 3);
}

/* --- client options ------------------------------------------------------------------------- */

/* An answer over max_body: cut there, or, with body_limit_fails, the transfer ends (and is not
 * retried). */
static void body_limit(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {200, NULL, NULL, 5000, 0, 0},
        {200, NULL, NULL, 5000, 0, 0},
        {200, NULL, NULL, 5000, 0, 0},
    };
    server_t *srv = server_start(answers, 3, p);
    aws_http_config_t cfg = {0};
    aws_http_client_t *c = NULL;
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);

    cfg.max_body = 100;
    assert_int_equal(aws_http_client_create(&c, &cfg, p), APR_SUCCESS);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->body_len, 100);
    assert_true(pattern_is(r->body, 0, 100));

    cfg.body_limit_fails = 1;
    assert_int_equal(aws_http_client_create(&c, &cfg, p), APR_SUCCESS);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_ENOSPC);
    assert_int_equal(r->cancelled, APR_ENOSPC);
    assert_int_equal(r->attempts, 1);
    assert_null(r->transport_error);

    /* exactly max_body still fits */
    cfg.max_body = 5000;
    assert_int_equal(aws_http_client_create(&c, &cfg, p), APR_SUCCESS);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_int_equal(r->body_len, 5000);
    server_stop(srv);
    assert_int_equal(srv->requests, 3);
}

/* A proxy from the environment is used unless no_proxy says otherwise (aws_http_config_once()
 * does); a fresh_connection client keeps no handle between requests, and serves any number. */
static void no_proxy_and_fresh_connection(void **state)
{
    apr_pool_t *p = *state;
    const answer_t answers[] = {
        {200, NULL, "one", 3, 0, 0},
        {200, NULL, "two", 3, 0, 0},
    };
    server_t *srv = server_start(answers, 2, p);
    aws_http_config_t cfg = {0};
    aws_http_client_t *c = NULL;
    aws_http_response_t *r;
    aws_http_request_t req = request("GET", srv);

    setenv("http_proxy", "http://127.0.0.1:9", 1); /* nobody answers there */
    unsetenv("no_proxy");
    cfg.max_attempts = 1;
    assert_int_equal(aws_http_client_create(&c, &cfg, p), APR_SUCCESS);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_EGENERAL);
    assert_non_null(r->transport_error);

    aws_http_config_once(&cfg, apr_time_from_sec(5));
    assert_int_equal(cfg.max_attempts, 1);
    assert_true(cfg.no_proxy && cfg.fresh_connection);
    assert_true(cfg.connect_timeout == apr_time_from_sec(5) && cfg.timeout == cfg.connect_timeout);
    assert_int_equal(aws_http_client_create(&c, &cfg, p), APR_SUCCESS);
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_string_equal(r->body, "one");
    assert_int_equal(aws_http_perform(&r, c, &req, p), APR_SUCCESS);
    assert_string_equal(r->body, "two");
    unsetenv("http_proxy");
    setenv("no_proxy", "127.0.0.1", 1);
    server_stop(srv);
    assert_int_equal(srv->requests, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(retries_only_what_is_safe),
        UNIT_TEST(transport_failures_classified),
        TEST(permanent_failure_not_retried),
        UNIT_TEST(backoff_is_jittered_exponential_and_capped),
        TEST(source_body_sent_byte_for_byte),
        TEST(source_rewound_for_retry),
        TEST(source_without_rewind_not_retried),
        TEST(source_cancel_aborts),
        TEST(sink_gets_success_in_chunks),
        TEST(request_max_attempts),
        TEST(give_up_ends_retries),
        TEST(sink_skips_error_answers),
        TEST(sink_gets_partial_content),
        TEST(sink_head_without_body),
        TEST(sink_cancel_stops_promptly),
        TEST(timeout_none_lets_steady_stream_finish),
        TEST(timeout_request_and_client),
        TEST(handle_reuse_forgets_options),
        TEST(body_limit),
        TEST(no_proxy_and_fresh_connection),
    };

    signal(SIGPIPE, SIG_IGN); /* the server writes to clients that cancelled */
    /* the test server is local: never through a proxy of whoever runs the tests */
    unsetenv("http_proxy");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    setenv("no_proxy", "127.0.0.1", 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    unit_log_capture();
    return UNIT_RUN("aws_http", tests);
}
