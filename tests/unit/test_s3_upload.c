/* Unit tests of modules/s3/s3_upload.c over a fake S3 client (the s3_upload_calls_t seam): a
 * single PutObject, multipart uploads with their parts in order and their sizes and checksums,
 * a body ending on a part boundary, an empty body, limits, and faults (a part that fails once and
 * is retried, one that keeps failing, CreateMultipartUpload or Complete failing, abort and delete
 * failing).
 *
 * The fake reads every body it is given as the transport would, and retries as aws_http does:
 * an attempt that fails is sent again after the body's rewind, so a retried part must carry the
 * same bytes and checksum (the core's share of a retry). The core reads no clock: the waits
 * between attempts are aws_http's (test_aws_http.c), so no fake clock is needed here. */
#include "unit.h"

#include <strings.h>

#include <apr_strings.h>

#include "s3_crc32.h"
#include "s3_spool.h"
#include "s3_upload.h"

#define KEY    "up/k.bin"
#define UPLOAD "upload-1"

/* --- the fake client ------------------------------------------------------------------------ */

typedef enum { F_PUT, F_CREATE, F_PART, F_COMPLETE, F_ABORT, F_DELETE, F_OPS } fake_op_e;

/* One body as the fake received it, on one attempt. */
typedef struct fake_body_t {
    const char *data;
    apr_size_t len;
    const char *crc32;  /* the checksum the body came with */
    const char *sha256; /* the signed payload hash it came with */
    int crc32_ok;       /* the checksum is that of the bytes */
} fake_body_t;

static struct {
    apr_pool_t *pool;
    int signs_payload;
    int max_attempts; /* per call, as aws_http's max_attempts: 3 */
    char trace[1 << 16];
    int calls[F_OPS];
    /* fault injection: the attempts of call @c fail_op (number @c fail_part for parts) that fail,
     * counted from 1; attempts past @c fail_attempts succeed */
    fake_op_e fail_op;
    int fail_part;
    int fail_attempts;
    int fail_status;       /* the HTTP status of a failed attempt (200: with an error body);
                              0: no answer (transport) */
    const char *fail_code; /* an error code with it, or NULL */
    /* what came */
    apr_array_header_t *parts; /* fake_body_t of the accepted attempt of each part */
    int part_attempts[16];     /* attempts of parts 1..15 */
    fake_body_t put;
    const apr_array_header_t *put_headers;
    const apr_array_header_t *create_headers;
    const apr_array_header_t *complete_parts;   /* s3_part_t */
    const apr_array_header_t *complete_headers; /* conditions */
    const char *aborted;                        /* the upload id aborted */
    const char *deleted;                        /* the key deleted */
} fake;

static void fake_reset(apr_pool_t *p)
{
    memset(&fake, 0, sizeof(fake));
    fake.pool = p;
    fake.max_attempts = 3;
    fake.fail_op = F_OPS;
    fake.parts = apr_array_make(p, 4, sizeof(fake_body_t));
}

/* Fail the first @p attempts attempts of call @p op (of part number @p part for F_PART) with
 * @p status and the error @p code (0, NULL: no answer). */
static void fake_fail(fake_op_e op, int part, int attempts, int status, const char *code)
{
    fake.fail_op = op;
    fake.fail_part = part;
    fake.fail_attempts = attempts;
    fake.fail_status = status;
    fake.fail_code = code;
}

static void fake_trace(const char *fmt, ...)
{
    apr_size_t n = strlen(fake.trace);
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(fake.trace + n, sizeof(fake.trace) - n, fmt, ap);
    va_end(ap);
}

/* Read @p body from its start, as one attempt of the transport does. */
static fake_body_t fake_read(const s3_body_t *body)
{
    fake_body_t b;
    char *buf = apr_palloc(fake.pool, (apr_size_t)body->len + 1);
    apr_size_t got = 0;

    memset(&b, 0, sizeof(b));
    assert_int_equal(body->rewind(body->baton), APR_SUCCESS);
    for (;;) {
        char chunk[7]; /* small reads: the spool must hand out its bytes in any steps */
        apr_size_t n = sizeof(chunk);
        assert_int_equal(body->read(chunk, &n, body->baton), APR_SUCCESS);
        if (!n) {
            break;
        }
        assert_true(got + n <= (apr_size_t)body->len);
        memcpy(buf + got, chunk, n);
        got += n;
    }
    assert_int_equal(got, (apr_size_t)body->len);
    buf[got] = '\0';
    b.data = buf;
    b.len = got;
    b.crc32 = body->crc32;
    b.sha256 = body->sha256_hex;
    b.crc32_ok =
        body->crc32 && !strcmp(body->crc32, s3_crc32_b64(s3_crc32_update(0, buf, got), fake.pool));
    /* the body carries the digest the client asks for, and only that one */
    if (fake.signs_payload) {
        assert_non_null(b.sha256);
        assert_int_equal(strlen(b.sha256), 64);
        assert_null(b.crc32);
    }
    else {
        assert_true(b.crc32_ok);
        assert_null(b.sha256);
    }
    return b;
}

static aws_http_response_t *fake_answer(int status, const char *code)
{
    aws_http_response_t *r = apr_pcalloc(fake.pool, sizeof(*r));

    r->status = status;
    r->headers = apr_table_make(fake.pool, 2);
    if (code) {
        r->error = apr_pcalloc(fake.pool, sizeof(*r->error));
        r->error->code = code;
    }
    if (!status) {
        r->transport_error = "Connection refused";
    }
    return r;
}

/* Whether attempt @p attempt of a call fails; its answer in *resp then. */
static int fake_fails(aws_http_response_t **resp, fake_op_e op, int part, int attempt)
{
    if (op != fake.fail_op || (op == F_PART && part != fake.fail_part)
        || attempt > fake.fail_attempts) {
        return 0;
    }
    *resp = fake_answer(fake.fail_status, fake.fail_code);
    return 1;
}

/* A failed call's status, as aws_http returns it: an error for no answer, else APR_SUCCESS. */
static apr_status_t fake_failed_rv(const aws_http_response_t *resp)
{
    return resp->status ? APR_SUCCESS : APR_ECONNREFUSED;
}

/* Count a call of @p op (one attempt) and answer it: as injected, else @p ok_status.
 * @return whether it succeeded; *rv what the call returns */
static int fake_respond(apr_status_t *rv, aws_http_response_t **resp, fake_op_e op, int ok_status)
{
    fake.calls[op]++;
    if (fake_fails(resp, op, 0, 1)) {
        *rv = fake_failed_rv(*resp);
        return 0;
    }
    *resp = fake_answer(ok_status, NULL);
    *rv = APR_SUCCESS;
    return 1;
}

static int fake_signs_payload(const s3_client_t *c)
{
    assert_null(c);
    return fake.signs_payload;
}

static apr_status_t fake_put(aws_http_response_t **resp, s3_client_t *c, const char *key,
                             const apr_array_header_t *headers, const s3_body_t *body,
                             apr_pool_t *p)
{
    apr_status_t rv;

    (void)c;
    (void)p;
    fake.put = fake_read(body);
    fake.put_headers = headers;
    fake_trace("put %s %" APR_SIZE_T_FMT ";", key, fake.put.len);
    if (fake_respond(&rv, resp, F_PUT, 200)) {
        apr_table_setn((*resp)->headers, "ETag", "\"put-etag\"");
    }
    return rv;
}

static apr_status_t fake_create(const char **upload_id, aws_http_response_t **resp, s3_client_t *c,
                                const char *key, const apr_array_header_t *headers, apr_pool_t *p)
{
    apr_status_t rv;

    (void)c;
    (void)p;
    fake.create_headers = headers;
    fake_trace("create %s;", key);
    if (fake_respond(&rv, resp, F_CREATE, 200)) {
        *upload_id = UPLOAD;
    }
    return rv;
}

static apr_status_t fake_part(s3_part_t *out, aws_http_response_t **resp, s3_client_t *c,
                              const char *key, const char *upload_id, int part,
                              const s3_body_t *body, apr_pool_t *p)
{
    fake_body_t first, b;
    int attempt;

    (void)c;
    (void)key;
    fake.calls[F_PART]++;
    assert_string_equal(upload_id, UPLOAD);
    assert_int_equal(part, fake.parts->nelts + 1); /* in order, from 1 */
    first = fake_read(body);
    for (attempt = 1;; ++attempt) {
        /* every attempt reads the body again from its start: the same bytes, the same digest */
        b = attempt == 1 ? first : fake_read(body);
        assert_int_equal(b.len, first.len);
        assert_memory_equal(b.data, first.data, b.len);
        assert_string_equal(b.crc32 ? b.crc32 : "", first.crc32 ? first.crc32 : "");
        if (part < 16) {
            fake.part_attempts[part]++;
        }
        if (!fake_fails(resp, F_PART, part, attempt)) {
            break;
        }
        if (attempt == fake.max_attempts) {
            fake_trace("part %d failed;", part);
            return fake_failed_rv(*resp);
        }
    }
    fake_trace("part %d %" APR_SIZE_T_FMT ";", part, b.len);
    APR_ARRAY_PUSH(fake.parts, fake_body_t) = b;
    *resp = fake_answer(200, NULL);
    out->etag = apr_psprintf(p, "\"e%d\"", part);
    out->crc32 = b.crc32;
    return APR_SUCCESS;
}

static apr_status_t fake_complete(const char **etag, aws_http_response_t **resp, s3_client_t *c,
                                  const char *key, const char *upload_id,
                                  const apr_array_header_t *parts,
                                  const apr_array_header_t *headers, apr_pool_t *p)
{
    apr_status_t rv;

    (void)c;
    (void)key;
    (void)p;
    assert_string_equal(upload_id, UPLOAD);
    fake.complete_parts = parts;
    fake.complete_headers = headers;
    fake_trace("complete %d;", parts->nelts);
    if (fake_respond(&rv, resp, F_COMPLETE, 200)) {
        *etag = "\"multi-etag-3\"";
    }
    return rv;
}

static apr_status_t fake_abort(aws_http_response_t **resp, s3_client_t *c, const char *key,
                               const char *upload_id, apr_pool_t *p)
{
    apr_status_t rv;

    (void)c;
    (void)key;
    (void)p;
    fake.aborted = upload_id;
    fake_trace("abort;");
    fake_respond(&rv, resp, F_ABORT, 204);
    return rv;
}

static apr_status_t fake_delete(aws_http_response_t **resp, s3_client_t *c, const char *key,
                                apr_pool_t *p)
{
    apr_status_t rv;

    (void)c;
    (void)p;
    fake.deleted = key;
    fake_trace("delete %s;", key);
    fake_respond(&rv, resp, F_DELETE, 204);
    return rv;
}

static const s3_upload_calls_t fake_calls = {
    fake_signs_payload, fake_put, fake_create, fake_part, fake_complete, fake_abort, fake_delete,
};

/* --- helpers ------------------------------------------------------------------------------- */

/* An upload of KEY with parts of @p part_size bytes and at most @p max bytes. */
static s3_upload_t *start(apr_pool_t *p, apr_off_t part_size, apr_off_t max, int no_overwrite)
{
    s3_upload_config_t cfg;
    s3_upload_t *u;

    memset(&cfg, 0, sizeof(cfg));
    cfg.calls = &fake_calls;
    cfg.part_size = part_size;
    cfg.max = max;
    assert_int_equal(
        s3_spool_create(&cfg.spool, 64, "/tmp", s3_upload_spool_digests(&fake_calls, NULL), p),
        APR_SUCCESS);
    s3_upload_create(&u, &cfg, -1, KEY, "image/png", "attachment; filename=\"k.bin\"", no_overwrite,
                     p);
    return u;
}

/* start() on a fresh fake. */
static s3_upload_t *fresh(apr_pool_t *p, apr_off_t part_size, apr_off_t max, int no_overwrite)
{
    fake_reset(p);
    return start(p, part_size, max, no_overwrite);
}

/* @p len bytes of a pattern that differs from part to part. */
static const char *body_of(apr_size_t len, apr_pool_t *p)
{
    char *b = apr_palloc(p, len + 1);
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        b[i] = (char)('a' + (i * 7 + i / 13) % 26);
    }
    b[len] = '\0';
    return b;
}

/* Write @p len bytes of @p data in steps of @p step bytes. */
static apr_status_t write_steps(s3_upload_t *u, const char *data, apr_size_t len, apr_size_t step)
{
    apr_status_t rv = APR_SUCCESS;

    while (len && rv == APR_SUCCESS) {
        apr_size_t n = len < step ? len : step;
        rv = s3_upload_write(u, data, n);
        data += n;
        len -= n;
    }
    return rv;
}

/* Write @p len bytes of @p data in steps of @p step bytes and store them: both succeed. */
static void store(s3_upload_t *u, const char *data, apr_size_t len, apr_size_t step)
{
    assert_int_equal(write_steps(u, data, len, step), APR_SUCCESS);
    assert_int_equal(s3_upload_finish(u), APR_SUCCESS);
}

/* s3_upload_finish() fails in the S3 call @p name, whose answer maps to @p http_status. */
static void finish_fails(s3_upload_t *u, const char *name, int http_status)
{
    assert_int_equal(s3_upload_finish(u), APR_EGENERAL);
    assert_int_equal(u->failure, S3_UPLOAD_FAILED_CALL);
    assert_string_equal(u->call.name, name);
    assert_int_equal(s3_client_status(u->call.rv, u->call.resp), http_status);
}

static const char *header(const apr_array_header_t *h, const char *name)
{
    int i;

    for (i = 0; h && i < h->nelts; ++i) {
        const aws_sigv4_header_t *e = &APR_ARRAY_IDX(h, i, aws_sigv4_header_t);
        if (!strcasecmp(e->name, name)) {
            return e->value;
        }
    }
    return NULL;
}

/* The parts the fake accepted, joined: the body as S3 will assemble it. */
static const char *assembled(apr_pool_t *p)
{
    const char *all = "";
    int i;

    for (i = 0; i < fake.parts->nelts; ++i) {
        all = apr_pstrcat(p, all, APR_ARRAY_IDX(fake.parts, i, fake_body_t).data, NULL);
    }
    return all;
}

/* --- tests --------------------------------------------------------------------------------- */

static void small_body_is_one_put(void **state)
{
    s3_upload_call_t call;
    apr_pool_t *p = *state;
    const char *data = body_of(300, p);
    s3_upload_t *u;

    u = fresh(p, 1000, 10000, 0);
    store(u, data, 300, 64);
    assert_string_equal(fake.trace, "put " KEY " 300;");
    assert_memory_equal(fake.put.data, data, 300);
    assert_string_equal(header(fake.put_headers, "Content-Type"), "image/png");
    assert_string_equal(header(fake.put_headers, "Content-Disposition"),
                        "attachment; filename=\"k.bin\"");
    assert_null(header(fake.put_headers, "If-None-Match"));
    assert_string_equal(u->etag, "\"put-etag\"");
    assert_int_equal(u->size, 300);
    assert_int_equal(u->stored_parts, 1);
    assert_null(u->upload_id);
    assert_string_equal(s3_upload_summary(u), "300 bytes in 1 part, payload unsigned, with CRC32");
    /* nothing to abort */
    assert_int_equal(s3_upload_abort(&call, u), APR_ENOENT);
    assert_int_equal(fake.calls[F_ABORT], 0);
}

static void several_parts(void **state)
{
    s3_upload_call_t call;
    apr_pool_t *p = *state;
    const char *data = body_of(250, p);
    const s3_part_t *sent;
    s3_upload_t *u;
    int i;

    u = fresh(p, 100, 10000, 0);
    assert_int_equal(write_steps(u, data, 200, 40), APR_SUCCESS);
    /* two full parts were seen, but the second goes out only when more bytes come or at the end */
    assert_string_equal(fake.trace, "create " KEY ";part 1 100;");
    store(u, data + 200, 50, 33);
    assert_string_equal(fake.trace, "create " KEY ";part 1 100;part 2 100;part 3 50;complete 3;");
    assert_string_equal(assembled(p), data);
    /* the object's headers go with CreateMultipartUpload; the parts carry none */
    assert_string_equal(header(fake.create_headers, "Content-Type"), "image/png");
    assert_int_equal(fake.calls[F_PUT], 0);
    /* Complete lists every part's ETag and checksum, part 1 first */
    assert_int_equal(fake.complete_parts->nelts, 3);
    for (i = 0; i < 3; ++i) {
        sent = &APR_ARRAY_IDX(fake.complete_parts, i, s3_part_t);
        assert_string_equal(sent->etag, apr_psprintf(p, "\"e%d\"", i + 1));
        assert_string_equal(sent->crc32, APR_ARRAY_IDX(fake.parts, i, fake_body_t).crc32);
    }
    assert_null(fake.complete_headers);
    assert_string_equal(u->etag, "\"multi-etag-3\"");
    assert_int_equal(u->stored_parts, 3);
    assert_null(u->upload_id);
    assert_string_equal(s3_upload_summary(u), "250 bytes in 3 parts, payload unsigned, with CRC32");
    assert_int_equal(s3_upload_abort(&call, u), APR_ENOENT); /* completed: nothing to abort */
}

static void ends_on_a_part_boundary(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(200, p);
    s3_upload_t *u;

    /* exactly one part: still a single PutObject */
    u = fresh(p, 100, 10000, 0);
    store(u, data, 100, 100);
    assert_string_equal(fake.trace, "put " KEY " 100;");

    /* exactly two parts: the last part is a full one, and no empty third part follows */
    u = fresh(p, 100, 10000, 0);
    store(u, data, 200, 50);
    assert_string_equal(fake.trace, "create " KEY ";part 1 100;part 2 100;complete 2;");
    assert_string_equal(assembled(p), data);
}

static void empty_body(void **state)
{
    apr_pool_t *p = *state;
    s3_upload_t *u;

    u = fresh(p, 100, 10000, 0);
    assert_int_equal(s3_upload_finish(u), APR_SUCCESS);
    assert_string_equal(fake.trace, "put " KEY " 0;");
    assert_string_equal(fake.put.crc32, "AAAAAA=="); /* the CRC32 of nothing */
    assert_int_equal(u->size, 0);
    assert_string_equal(s3_upload_summary(u), "0 bytes in 1 part, payload unsigned, with CRC32");

    /* an upload with no Content-Type stores application/octet-stream */
    s3_upload_create(&u, &u->cfg, -1, KEY, "", NULL, 0, p);
    assert_string_equal(u->content_type, "application/octet-stream");
    assert_int_equal(u->headers->nelts, 1);
}

static void part_fails_once_then_succeeds(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(250, p);
    s3_upload_t *u;

    u = fresh(p, 100, 10000, 0);
    fake_fail(F_PART, 2, 1, 503, "SlowDown");
    store(u, data, 250, 100);
    /* part 2 went twice, each time from its first byte with the same checksum (fake_part) */
    assert_int_equal(fake.part_attempts[1], 1);
    assert_int_equal(fake.part_attempts[2], 2);
    assert_int_equal(fake.part_attempts[3], 1);
    assert_string_equal(fake.trace, "create " KEY ";part 1 100;part 2 100;part 3 50;complete 3;");
    assert_string_equal(assembled(p), data);
    assert_int_equal(u->failure, S3_UPLOAD_OK);
}

static void part_keeps_failing(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(250, p);
    s3_upload_call_t call;
    s3_upload_t *u;
    apr_status_t rv;

    u = fresh(p, 100, 10000, 0);
    fake_fail(F_PART, 2, 100, 503, "SlowDown");
    rv = write_steps(u, data, 250, 100);
    assert_int_not_equal(rv, APR_SUCCESS);
    assert_int_equal(u->failure, S3_UPLOAD_FAILED_CALL);
    assert_string_equal(u->call.name, "UploadPart");
    assert_int_equal(u->call.rv, APR_SUCCESS); /* S3 answered: the cause is in resp */
    assert_int_equal(u->call.resp->status, 503);
    assert_string_equal(u->call.resp->error->code, "SlowDown");
    assert_int_equal(s3_client_status(u->call.rv, u->call.resp), 503);
    assert_int_equal(fake.part_attempts[2], 3);
    /* the caller aborts: the open upload is aborted once, and nothing is left to abort */
    assert_int_equal(s3_upload_abort(&call, u), APR_SUCCESS);
    assert_string_equal(fake.aborted, UPLOAD);
    assert_string_equal(fake.trace, "create " KEY ";part 1 100;part 2 failed;abort;");
    assert_int_equal(s3_upload_abort(&call, u), APR_ENOENT);
    assert_int_equal(fake.calls[F_ABORT], 1);
    assert_int_equal(fake.calls[F_COMPLETE], 0);

    /* no answer at all: the transport's error comes back */
    u = fresh(p, 100, 10000, 0);
    fake_fail(F_PART, 1, 100, 0, NULL);
    assert_int_equal(s3_upload_write(u, data, 150), APR_ECONNREFUSED);
    assert_int_equal(u->call.rv, APR_ECONNREFUSED);
    assert_string_equal(u->call.resp->transport_error, "Connection refused");
    assert_int_equal(s3_upload_abort(&call, u), APR_SUCCESS);
}

static void last_part_fails_at_finish(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(150, p);
    s3_upload_call_t call;
    s3_upload_t *u;

    u = fresh(p, 100, 10000, 0);
    fake_fail(F_PART, 2, 100, 500, "InternalError");
    assert_int_equal(s3_upload_write(u, data, 150), APR_SUCCESS);
    finish_fails(u, "UploadPart", 502);
    assert_int_equal(fake.calls[F_COMPLETE], 0);
    assert_int_equal(s3_upload_abort(&call, u), APR_SUCCESS);
    assert_string_equal(fake.trace, "create " KEY ";part 1 100;part 2 failed;abort;");
}

static void complete_fails(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(250, p);
    s3_upload_call_t call;
    s3_upload_t *u;

    /* an error status */
    u = fresh(p, 100, 10000, 0);
    fake_fail(F_COMPLETE, 0, 1, 400, "InvalidPart");
    assert_int_equal(write_steps(u, data, 250, 250), APR_SUCCESS);
    finish_fails(u, "CompleteMultipartUpload", 502);
    assert_null(u->etag);
    assert_int_equal(u->stored_parts, 0);
    assert_int_equal(s3_upload_abort(&call, u), APR_SUCCESS);
    assert_string_equal(fake.trace,
                        "create " KEY ";part 1 100;part 2 100;part 3 50;complete 3;abort;");

    /* a 200 with an error in its body is a failure too */
    u = fresh(p, 100, 10000, 0);
    fake_fail(F_COMPLETE, 0, 1, 200, "InternalError");
    assert_int_equal(write_steps(u, data, 250, 7), APR_SUCCESS);
    finish_fails(u, "CompleteMultipartUpload", 502);
    assert_int_equal(u->call.resp->status, 200);
    assert_int_equal(s3_upload_abort(&call, u), APR_SUCCESS);
    assert_int_equal(fake.calls[F_ABORT], 1);
}

static void create_fails(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(150, p);
    s3_upload_call_t call;
    s3_upload_t *u;

    u = fresh(p, 100, 10000, 0);
    fake_fail(F_CREATE, 0, 1, 403, "AccessDenied");
    assert_int_equal(s3_upload_write(u, data, 150), APR_EGENERAL);
    assert_string_equal(u->call.name, "CreateMultipartUpload");
    assert_int_equal(s3_client_status(u->call.rv, u->call.resp), 403);
    assert_null(u->upload_id);
    /* nothing was opened: nothing to abort */
    assert_int_equal(s3_upload_abort(&call, u), APR_ENOENT);
    assert_int_equal(fake.calls[F_ABORT], 0);
    assert_int_equal(fake.calls[F_PART], 0);
}

static void put_fails(void **state)
{
    apr_pool_t *p = *state;
    s3_upload_call_t call;
    s3_upload_t *u;

    u = fresh(p, 100, 10000, 1);
    fake_fail(F_PUT, 0, 1, 412, "PreconditionFailed");
    assert_int_equal(s3_upload_write(u, "abc", 3), APR_SUCCESS);
    finish_fails(u, "PutObject", 412);
    assert_int_equal(s3_upload_abort(&call, u), APR_ENOENT);
}

static void abort_answers(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(150, p);
    s3_upload_call_t call;
    s3_upload_t *u;

    /* S3 no longer knows the upload: nothing is left, as after an abort */
    u = fresh(p, 100, 10000, 0);
    assert_int_equal(s3_upload_write(u, data, 150), APR_SUCCESS);
    fake_fail(F_ABORT, 0, 1, 404, "NoSuchUpload");
    assert_int_equal(s3_upload_abort(&call, u), APR_SUCCESS);

    /* the abort fails: the call comes back for the log, and it is not tried again */
    u = fresh(p, 100, 10000, 0);
    assert_int_equal(s3_upload_write(u, data, 150), APR_SUCCESS);
    fake_fail(F_ABORT, 0, 1, 0, NULL);
    memset(&call, 0, sizeof(call));
    assert_int_equal(s3_upload_abort(&call, u), APR_EGENERAL);
    assert_string_equal(call.name, "AbortMultipartUpload");
    assert_int_equal(call.rv, APR_ECONNREFUSED);
    assert_non_null(call.resp);
    assert_int_equal(s3_upload_abort(&call, u), APR_ENOENT);
    assert_int_equal(fake.calls[F_ABORT], 1);
}

static void too_large(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(150, p);
    s3_upload_t *u;

    u = fresh(p, 100, 120, 0);
    assert_int_equal(s3_upload_write(u, data, 120), APR_SUCCESS); /* exactly the limit */
    assert_int_equal(s3_upload_write(u, data, 1), APR_ENOSPC);
    assert_int_equal(u->failure, S3_UPLOAD_FAILED_TOO_LARGE);
    assert_int_equal(u->size, 120); /* the refused bytes are not counted */
    assert_string_equal(fake.trace, "create " KEY ";part 1 100;");
}

static void over_10000_parts(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t len = S3_UPLOAD_MAX_PARTS + 1;
    char *data = apr_palloc(p, len);
    s3_upload_call_t call;
    s3_upload_t *u;

    memset(data, 'x', len);
    u = fresh(p, 1, APR_INT64_C(1) << 40, 0);
    /* 10,000 parts sent and one more byte spooled: the 10,001st part is refused when it would go,
     * after the multipart upload is open, so the caller aborts it */
    assert_int_equal(s3_upload_write(u, data, len), APR_SUCCESS);
    assert_int_equal(fake.calls[F_PART], S3_UPLOAD_MAX_PARTS);
    assert_int_equal(s3_upload_finish(u), APR_ENOSPC);
    assert_int_equal(u->failure, S3_UPLOAD_FAILED_PARTS);
    assert_int_equal(fake.calls[F_PART], S3_UPLOAD_MAX_PARTS);
    assert_int_equal(s3_upload_abort(&call, u), APR_SUCCESS);
    assert_int_equal(fake.calls[F_COMPLETE], 0);

    /* 10,000 parts exactly complete */
    u = fresh(p, 1, APR_INT64_C(1) << 40, 0);
    assert_int_equal(s3_upload_write(u, data, S3_UPLOAD_MAX_PARTS), APR_SUCCESS);
    assert_int_equal(s3_upload_finish(u), APR_SUCCESS);
    assert_int_equal(u->stored_parts, S3_UPLOAD_MAX_PARTS);
}

static void part_size_planning(void **state)
{
    const apr_off_t MiB = 1024 * 1024, part = 8 * MiB;
    apr_off_t big = APR_INT64_C(200) << 30, planned;

    (void)state;
    /* unknown, small, or up to 10,000 parts: the configured size */
    assert_int_equal(s3_upload_part_size(part, -1), part);
    assert_int_equal(s3_upload_part_size(part, 0), part);
    assert_int_equal(s3_upload_part_size(part, 1), part);
    assert_int_equal(s3_upload_part_size(part, part * S3_UPLOAD_MAX_PARTS), part);
    /* one byte more needs larger parts: whole MiB, no more than 10,000 of them */
    planned = s3_upload_part_size(part, part * S3_UPLOAD_MAX_PARTS + 1);
    assert_int_equal(planned, 9 * MiB);
    planned = s3_upload_part_size(part, big);
    assert_int_equal(planned % MiB, 0);
    assert_true((big + planned - 1) / planned <= S3_UPLOAD_MAX_PARTS);
    assert_true((big + planned - MiB - 1) / (planned - MiB) > S3_UPLOAD_MAX_PARTS);

    /* a known length plans the upload it starts */
    {
        apr_pool_t *p = *state;
        s3_upload_config_t cfg;
        s3_upload_t *u;
        memset(&cfg, 0, sizeof(cfg));
        cfg.calls = &fake_calls;
        cfg.part_size = part;
        s3_upload_create(&u, &cfg, big, KEY, NULL, NULL, 0, p);
        assert_int_equal(u->cfg.part_size, s3_upload_part_size(part, big));
    }
}

static void signed_payload(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(150, p);
    s3_upload_t *u;

    fake_reset(p);
    fake.signs_payload = 1;
    assert_int_equal(s3_upload_spool_digests(&fake_calls, NULL), S3_SPOOL_SHA256);
    u = start(p, 100, 10000, 0);
    store(u, data, 150, 150);
    /* each part with its SHA-256 (fake_read checks), none with a CRC32 for Complete */
    assert_null(APR_ARRAY_IDX(fake.complete_parts, 0, s3_part_t).crc32);
    assert_string_not_equal(APR_ARRAY_IDX(fake.parts, 0, fake_body_t).sha256,
                            APR_ARRAY_IDX(fake.parts, 1, fake_body_t).sha256);
    assert_string_equal(s3_upload_summary(u), "150 bytes in 2 parts, payload signed (SHA-256)");

    fake.signs_payload = 0;
    assert_int_equal(s3_upload_spool_digests(&fake_calls, NULL), S3_SPOOL_CRC32);
}

static void no_overwrite(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(150, p);
    s3_upload_t *u;

    /* PutObject: If-None-Match: * with the object's headers */
    u = fresh(p, 100, 10000, 1);
    store(u, data, 50, 50);
    assert_string_equal(header(fake.put_headers, "If-None-Match"), "*");
    assert_string_equal(header(fake.put_headers, "Content-Type"), "image/png");

    /* multipart: on Complete, not on CreateMultipartUpload (which ignores it) */
    u = fresh(p, 100, 10000, 1);
    store(u, data, 150, 150);
    assert_null(header(fake.create_headers, "If-None-Match"));
    assert_string_equal(header(fake.complete_headers, "If-None-Match"), "*");
}

static void delete_stored(void **state)
{
    apr_pool_t *p = *state;
    s3_upload_call_t call;
    s3_upload_t *u;

    u = fresh(p, 100, 10000, 0);
    assert_int_equal(s3_upload_finish(u), APR_SUCCESS);
    assert_int_equal(s3_upload_delete(&call, u), APR_SUCCESS);
    assert_string_equal(fake.deleted, KEY);

    fake_fail(F_DELETE, 0, 1, 503, "SlowDown");
    assert_int_equal(s3_upload_delete(&call, u), APR_EGENERAL);
    assert_string_equal(call.name, "DeleteObject");
    assert_int_equal(call.resp->status, 503);
}

static void spool_goes_to_disk(void **state)
{
    apr_pool_t *p = *state;
    const char *data = body_of(1000, p);
    s3_upload_t *u;

    /* parts larger than the spool's memory (64 bytes) go through its file, and arrive whole */
    u = fresh(p, 400, 10000, 0);
    store(u, data, 1000, 99);
    assert_string_equal(fake.trace, "create " KEY ";part 1 400;part 2 400;part 3 200;complete 3;");
    assert_string_equal(assembled(p), data);
}

/* A stored object as the answers see it. */
static s3_upload_t *stored(const char *key, apr_off_t size, const char *etag, apr_pool_t *p)
{
    s3_upload_t *u = apr_pcalloc(p, sizeof(*u));

    u->key = key;
    u->size = size;
    u->etag = etag;
    u->content_type = "image/png";
    return u;
}

static void answers(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *done = apr_array_make(p, 2, sizeof(s3_upload_t *));

    /* the URL: the key below the prefix, encoded, below the <Location> */
    assert_string_equal(s3_upload_json(stored("up/a b.png", 3, "\"e\"", p), "/files", "up/", p),
                        "{\"key\":\"up/a b.png\",\"size\":3,\"etag\":\"\\\"e\\\"\","
                        "\"content_type\":\"image/png\",\"url\":\"/files/a%20b.png\"}");
    assert_string_equal(s3_upload_json(stored("x.png", 0, NULL, p), NULL, "", p),
                        "{\"key\":\"x.png\",\"size\":0,\"etag\":\"\","
                        "\"content_type\":\"image/png\",\"url\":\"/x.png\"}");
    /* a key outside the prefix (a token's) is served elsewhere, if at all */
    assert_non_null(
        strstr(s3_upload_json(stored("other/x.png", 1, NULL, p), "/f", "up/", p), "\"url\":null}"));
    APR_ARRAY_PUSH(done, s3_upload_t *) = stored("up/1.png", 1, NULL, p);
    APR_ARRAY_PUSH(done, s3_upload_t *) = stored("up/a b&c.png", 2, NULL, p);
    assert_string_equal(s3_upload_form_json(done, "/f", "up/", p),
                        "{\"files\":[{\"key\":\"up/1.png\",\"size\":1,\"etag\":\"\","
                        "\"content_type\":\"image/png\",\"url\":\"/f/1.png\"},"
                        "{\"key\":\"up/a b&c.png\",\"size\":2,\"etag\":\"\","
                        "\"content_type\":\"image/png\",\"url\":\"/f/a%20b%26c.png\"}]}");
    /* S3FormRedirect: the keys form-encoded in the query, after any the URL has */
    assert_string_equal(s3_upload_form_redirect("/done", done, p),
                        "/done?key=up%2f1.png&key=up%2fa+b%26c.png");
    assert_string_equal(s3_upload_form_redirect("/done?from=form", done, p),
                        "/done?from=form&key=up%2f1.png&key=up%2fa+b%26c.png");
    done->nelts = 0;
    assert_string_equal(s3_upload_form_json(done, "/f", "up/", p), "{\"files\":[]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(small_body_is_one_put),
        UNIT_TEST(several_parts),
        UNIT_TEST(ends_on_a_part_boundary),
        UNIT_TEST(empty_body),
        UNIT_TEST(part_fails_once_then_succeeds),
        UNIT_TEST(part_keeps_failing),
        UNIT_TEST(last_part_fails_at_finish),
        UNIT_TEST(complete_fails),
        UNIT_TEST(create_fails),
        UNIT_TEST(put_fails),
        UNIT_TEST(abort_answers),
        UNIT_TEST(too_large),
        UNIT_TEST(over_10000_parts),
        UNIT_TEST(part_size_planning),
        UNIT_TEST(signed_payload),
        UNIT_TEST(no_overwrite),
        UNIT_TEST(delete_stored),
        UNIT_TEST(spool_goes_to_disk),
        UNIT_TEST(answers),
    };
    return UNIT_RUN("s3_upload", tests);
}
