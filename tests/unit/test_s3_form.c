/* Unit tests of modules/s3/s3_form.c: browser-made bodies under every chunking, boundary
 * extraction, limits, malformed bodies and callbacks that stop the parser. Each parse is recorded
 * as a transcript (begin/data/end) so chunkings can be compared byte for byte. */
#include "unit.h"

#include "s3_form.h"

#define BOUNDARY "----WebKitFormBoundary7MA4YWxkTrZu0gW"
#define CTYPE    "multipart/form-data; boundary=" BOUNDARY
#define DELIM    "--" BOUNDARY

/* A growing byte buffer from a pool. */
typedef struct buf_t {
    apr_pool_t *p;
    char *data;
    apr_size_t len, cap;
} buf_t;

static void buf_init(buf_t *b, apr_pool_t *p)
{
    memset(b, 0, sizeof(*b));
    b->p = p;
    b->cap = 64;
    b->data = apr_pcalloc(p, b->cap);
}

static void buf_add(buf_t *b, const char *d, apr_size_t n)
{
    if (b->len + n + 1 > b->cap) {
        apr_size_t cap = (b->len + n + 1) * 2;
        char *nd = apr_palloc(b->p, cap);
        if (b->len) {
            memcpy(nd, b->data, b->len);
        }
        b->data = nd;
        b->cap = cap;
    }
    if (n) {
        memcpy(b->data + b->len, d, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_str(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* The transcript of callbacks: "[name|filename|type]" data... "<end>". */
static void log_begin(buf_t *t, const char *name, const char *filename, const char *ctype)
{
    buf_str(t, "[");
    buf_str(t, name);
    buf_str(t, "|");
    buf_str(t, filename ? filename : "(none)");
    buf_str(t, "|");
    buf_str(t, ctype ? ctype : "(none)");
    buf_str(t, "]");
}

typedef struct rec_t {
    buf_t t;
    const char *stop_name; /* stop in part_begin / part_data of this field */
    int stop_in_data;
    apr_status_t stop_rv;
    const char *current;
    int open;
} rec_t;

static apr_status_t rec_begin(void *baton, const char *name, const char *filename,
                              const char *ctype)
{
    rec_t *r = baton;

    assert_false(r->open);
    r->open = 1;
    r->current = apr_pstrdup(r->t.p, name);
    log_begin(&r->t, name, filename, ctype);
    if (r->stop_name && !r->stop_in_data && !strcmp(name, r->stop_name)) {
        return r->stop_rv;
    }
    return APR_SUCCESS;
}

static apr_status_t rec_data(void *baton, const char *data, apr_size_t len)
{
    rec_t *r = baton;

    assert_true(r->open);
    assert_true(len > 0);
    buf_add(&r->t, data, len);
    if (r->stop_name && r->stop_in_data && !strcmp(r->current, r->stop_name)) {
        return r->stop_rv;
    }
    return APR_SUCCESS;
}

static apr_status_t rec_end(void *baton)
{
    rec_t *r = baton;

    assert_true(r->open);
    r->open = 0;
    buf_str(&r->t, "<end>");
    return APR_SUCCESS;
}

static const s3_form_callbacks_t rec_cb = {rec_begin, rec_data, rec_end};

/* How to cut the body: 0 whole, 1 byte by byte, -k in two at k, >1 random sizes from that seed. */
typedef struct result_t {
    apr_status_t rv;
    const char *error;
    buf_t t;
} result_t;

static apr_uint32_t lcg(apr_uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

static result_t parse_with(apr_pool_t *p, const char *ctype, const char *body, apr_size_t len,
                           long chunking, const s3_form_limits_t *limits, rec_t *r)
{
    s3_form_parser_t *fp;
    const char *why;
    result_t res;
    apr_size_t off = 0;
    apr_uint32_t seed = (apr_uint32_t)chunking;

    buf_init(&r->t, p);
    r->open = 0;
    assert_int_equal(s3_form_parser_create(&fp, &why, ctype, &rec_cb, r, limits, p), APR_SUCCESS);
    res.rv = APR_SUCCESS;
    while (off < len && res.rv == APR_SUCCESS) {
        apr_size_t n = len - off;
        if (chunking == 1) {
            n = 1;
        }
        else if (chunking < 0) {
            n = off < (apr_size_t)-chunking ? (apr_size_t)-chunking - off : len - off;
        }
        else if (chunking > 1) {
            n = 1 + lcg(&seed) % 97;
        }
        if (n > len - off) {
            n = len - off;
        }
        res.rv = s3_form_parser_feed(fp, body + off, n);
        off += n;
    }
    if (res.rv == APR_SUCCESS) {
        res.rv = s3_form_parser_finish(fp);
    }
    else {
        /* a failed parser stays failed */
        assert_int_equal(s3_form_parser_feed(fp, "x", 1), res.rv);
        assert_int_equal(s3_form_parser_finish(fp), res.rv);
    }
    res.error = s3_form_parser_error(fp);
    res.t = r->t;
    return res;
}

static result_t parse(apr_pool_t *p, const char *body, long chunking)
{
    rec_t r = {0};
    return parse_with(p, CTYPE, body, strlen(body), chunking, NULL, &r);
}

/* A failure, the same whole and byte by byte. */
static void expect_failure(apr_pool_t *p, const char *ctype, const char *body,
                           const s3_form_limits_t *limits, const char *error)
{
    rec_t r1 = {0}, r2 = {0};
    result_t a = parse_with(p, ctype, body, strlen(body), 0, limits, &r1);
    result_t b = parse_with(p, ctype, body, strlen(body), 1, limits, &r2);

    assert_int_equal(a.rv, APR_EINVAL);
    assert_string_equal(a.error, error);
    assert_int_equal(b.rv, APR_EINVAL);
    assert_string_equal(b.error, error);
}

/*
 * A body as Chrome sends it for a form with two text fields, a binary file, a text file whose
 * content holds near-delimiters, and a file input left empty; @p expect gets the transcript.
 */
static void browser_body(buf_t *body, buf_t *expect)
{
    char bin[600];
    int i;
    const char *tricky = "line one\r\n"
                         "--not the boundary\r\n"
                         "\r\n--" BOUNDARY /* all but the last letter: */;
    apr_size_t tricky_len = strlen(tricky) - 1;

    for (i = 0; i < (int)sizeof(bin); i++) {
        bin[i] = (char)(i * 7 + i / 256);
    }
    /* CRs and CRLFs that start delimiters and fail at each position */
    memcpy(bin + 100, "\r\n--", 4);
    memcpy(bin + 200, "\r\r\n--" BOUNDARY, 5 + 10);
    memcpy(bin + 300, "\r\n--" BOUNDARY "\r", 4 + sizeof(BOUNDARY) - 2);
    bin[sizeof(bin) - 1] = '\r'; /* the file ends in CR, right before the delimiter's CRLF */

    buf_str(body, DELIM "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
                        "Holiday \xc3\xa9t\xc3\xa9\r\n");
    log_begin(expect, "title", NULL, NULL);
    buf_str(expect, "Holiday \xc3\xa9t\xc3\xa9<end>");

    buf_str(body, DELIM "\r\nContent-Disposition: form-data; name=\"photo\"; "
                        "filename=\"beach.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    buf_add(body, bin, sizeof(bin));
    buf_str(body, "\r\n");
    log_begin(expect, "photo", "beach.bin", "application/octet-stream");
    buf_add(expect, bin, sizeof(bin));
    buf_str(expect, "<end>");

    buf_str(body, DELIM "\r\nContent-Disposition: form-data; name=\"notes\"; "
                        "filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\n");
    buf_add(body, tricky, tricky_len);
    buf_str(body, "\r\n");
    log_begin(expect, "notes", "notes.txt", "text/plain");
    buf_add(expect, tricky, tricky_len);
    buf_str(expect, "<end>");

    buf_str(body, DELIM "\r\nContent-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n"
                        "Content-Type: application/octet-stream\r\n\r\n\r\n");
    log_begin(expect, "empty", "", "application/octet-stream");
    buf_str(expect, "<end>");

    buf_str(body, DELIM "\r\nContent-Disposition: form-data; name=\"submit\"\r\n\r\nSend\r\n");
    log_begin(expect, "submit", NULL, NULL);
    buf_str(expect, "Send<end>");

    buf_str(body, DELIM "--\r\n");
}

static void check_transcript(const result_t *res, const buf_t *expect)
{
    assert_int_equal(res->rv, APR_SUCCESS);
    assert_null(res->error);
    assert_int_equal(res->t.len, expect->len);
    assert_memory_equal(res->t.data, expect->data, expect->len);
}

static void browser_body_whole(void **state)
{
    apr_pool_t *p = *state;
    buf_t body, expect;
    rec_t r = {0};
    result_t res;

    buf_init(&body, p);
    buf_init(&expect, p);
    browser_body(&body, &expect);
    res = parse_with(p, CTYPE, body.data, body.len, 0, NULL, &r);
    check_transcript(&res, &expect);
}

static void browser_body_every_chunking(void **state)
{
    apr_pool_t *p = *state;
    buf_t body, expect;
    apr_size_t k;
    long seed;

    buf_init(&body, p);
    buf_init(&expect, p);
    browser_body(&body, &expect);
    {
        rec_t r = {0};
        result_t res = parse_with(p, CTYPE, body.data, body.len, 1, NULL, &r);
        check_transcript(&res, &expect);
    }
    for (k = 1; k < body.len; k++) {
        apr_pool_t *sub;
        rec_t r = {0};
        result_t res;

        apr_pool_create(&sub, p);
        res = parse_with(sub, CTYPE, body.data, body.len, -(long)k, NULL, &r);
        check_transcript(&res, &expect);
        apr_pool_destroy(sub);
    }
    for (seed = 2; seed < 500; seed++) {
        apr_pool_t *sub;
        rec_t r = {0};
        result_t res;

        apr_pool_create(&sub, p);
        res = parse_with(sub, CTYPE, body.data, body.len, seed, NULL, &r);
        check_transcript(&res, &expect);
        apr_pool_destroy(sub);
    }
}

static void preamble_epilogue_and_padding(void **state)
{
    const char *body = "This is a preamble.\r\n-- not the boundary\r\n"
                       "\r\n" DELIM " \t\r\n"
                       "content-disposition: FORM-DATA ; NAME = a ; other=\"x;y\"\r\n"
                       "X-Ignored: yes\r\n"
                       "CONTENT-TYPE:text/plain;charset=UTF-8  \r\n"
                       "\r\n"
                       "1\r\n" DELIM "--  and an epilogue\r\n" DELIM "\r\nignored too";
    result_t whole = parse(*state, body, 0), bytes = parse(*state, body, 1);

    assert_int_equal(whole.rv, APR_SUCCESS);
    assert_string_equal(whole.t.data, "[a|(none)|text/plain;charset=UTF-8]1<end>");
    assert_int_equal(bytes.rv, APR_SUCCESS);
    assert_string_equal(bytes.t.data, whole.t.data);
}

static void empty_form(void **state)
{
    result_t res = parse(*state, DELIM "--", 0);

    assert_int_equal(res.rv, APR_SUCCESS);
    assert_string_equal(res.t.data, "");
}

static void boundary_extraction(void **state)
{
    apr_pool_t *p = *state;
    s3_form_parser_t *fp;
    const char *why;
    rec_t r = {0};
    result_t res;
    const char *quoted = "multipart/form-data; charset=utf-8; boundary=\"simple boundary:(1)\"";
    const char *b70 = "multipart/form-data; boundary="
                      "0123456789012345678901234567890123456789012345678901234567890123456789";

    res =
        parse_with(p, quoted,
                   "--simple boundary:(1)\r\nContent-Disposition: form-data; name=q\r\n\r\n"
                   "v\r\n--simple boundary:(1)--",
                   strlen("--simple boundary:(1)\r\nContent-Disposition: form-data; name=q\r\n\r\n"
                          "v\r\n--simple boundary:(1)--"),
                   1, NULL, &r);
    assert_int_equal(res.rv, APR_SUCCESS);
    assert_string_equal(res.t.data, "[q|(none)|(none)]v<end>");

    assert_int_equal(
        s3_form_parser_create(&fp, &why, "Multipart/Form-Data;BOUNDARY=x", &rec_cb, &r, NULL, p),
        APR_SUCCESS);
    assert_int_equal(s3_form_parser_create(&fp, &why, b70, &rec_cb, &r, NULL, p), APR_SUCCESS);

    assert_int_equal(
        s3_form_parser_create(&fp, &why, apr_pstrcat(p, b70, "0", NULL), &rec_cb, &r, NULL, p),
        APR_EINVAL);
    assert_string_equal(why, "multipart/form-data with an invalid boundary");
    assert_int_equal(s3_form_parser_create(&fp, &why, "multipart/form-data; boundary=\"\"", &rec_cb,
                                           &r, NULL, p),
                     APR_EINVAL);
    assert_string_equal(why, "multipart/form-data with an invalid boundary");
    assert_int_equal(s3_form_parser_create(&fp, &why, "multipart/form-data; boundary=\"ends \"",
                                           &rec_cb, &r, NULL, p),
                     APR_EINVAL);
    assert_string_equal(why, "multipart/form-data with an invalid boundary");
    assert_int_equal(
        s3_form_parser_create(&fp, &why, "multipart/form-data; boundary=a*b", &rec_cb, &r, NULL, p),
        APR_EINVAL);
    assert_string_equal(why, "multipart/form-data with an invalid boundary");

    assert_int_equal(s3_form_parser_create(&fp, &why, "multipart/form-data", &rec_cb, &r, NULL, p),
                     APR_EINVAL);
    assert_string_equal(why, "multipart/form-data without a boundary");
    assert_int_equal(s3_form_parser_create(&fp, &why, "multipart/form-data; charset=utf-8", &rec_cb,
                                           &r, NULL, p),
                     APR_EINVAL);
    assert_string_equal(why, "multipart/form-data without a boundary");
    assert_int_equal(
        s3_form_parser_create(&fp, &why, "multipart/form-data; boundary", &rec_cb, &r, NULL, p),
        APR_EINVAL);
    assert_string_equal(why, "multipart/form-data with malformed parameters");

    assert_int_equal(
        s3_form_parser_create(&fp, &why, "multipart/mixed; boundary=x", &rec_cb, &r, NULL, p),
        APR_EINVAL);
    assert_string_equal(why, "not multipart/form-data");
    assert_int_equal(
        s3_form_parser_create(&fp, &why, "application/x-www-form-urlencoded", &rec_cb, &r, NULL, p),
        APR_EINVAL);
    assert_string_equal(why, "not multipart/form-data");
    assert_int_equal(s3_form_parser_create(&fp, &why, NULL, &rec_cb, &r, NULL, p), APR_EINVAL);
    assert_string_equal(why, "not multipart/form-data");
}

static void truncated_bodies(void **state)
{
    apr_pool_t *p = *state;
    const char *head =
        DELIM "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n";
    result_t res;

    /* inside a part's data: what arrived was delivered, the part never ended */
    res = parse(p, apr_pstrcat(p, head, "partial data\r\n--" BOUNDARY, NULL), 1);
    assert_int_equal(res.rv, APR_EINVAL);
    assert_string_equal(res.error, "truncated body: no closing boundary");
    assert_string_equal(res.t.data, "[f|a|(none)]partial data");

    /* inside a header block, after a delimiter line, or before any delimiter */
    expect_failure(p, CTYPE, DELIM "\r\nContent-Disposition: form-da", NULL,
                   "truncated body: no closing boundary");
    expect_failure(p, CTYPE, apr_pstrcat(p, head, "x\r\n" DELIM "\r\n", NULL), NULL,
                   "truncated body: no closing boundary");
    expect_failure(p, CTYPE, apr_pstrcat(p, head, "x\r\n" DELIM "-", NULL), NULL,
                   "truncated body: no closing boundary");
    expect_failure(p, CTYPE, "", NULL, "truncated body: no closing boundary");
    expect_failure(p, CTYPE, "just a preamble", NULL, "truncated body: no closing boundary");
}

static void header_limit(void **state)
{
    apr_pool_t *p = *state;
    s3_form_limits_t limits = {0};
    /* the header block: 48 + 2 bytes */
    const char *body = DELIM "\r\nContent-Disposition: form-data; name=\"abcdefg\"\r\n\r\n"
                             "v\r\n" DELIM "--";
    rec_t r = {0};
    result_t res;
    char *big;

    limits.max_header = 50;
    res = parse_with(p, CTYPE, body, strlen(body), 1, &limits, &r);
    assert_int_equal(res.rv, APR_SUCCESS);
    limits.max_header = 49;
    expect_failure(p, CTYPE, body, &limits, "part header too long");

    /* the default: 8 KiB */
    big = apr_palloc(p, 9000);
    memset(big, 'a', 8999);
    big[8999] = '\0';
    expect_failure(p, CTYPE,
                   apr_pstrcat(p, DELIM "\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Big: ",
                               big, "\r\n\r\n", NULL),
                   NULL, "part header too long");
}

static void part_limit(void **state)
{
    apr_pool_t *p = *state;
    s3_form_limits_t limits = {0};
    const char *part = DELIM "\r\nContent-Disposition: form-data; name=n\r\n\r\nv\r\n";
    const char *two = apr_pstrcat(p, part, part, DELIM "--", NULL);
    const char *three = apr_pstrcat(p, part, part, part, DELIM "--", NULL);
    rec_t r = {0};
    result_t res;
    buf_t many;
    int i;

    limits.max_parts = 2;
    res = parse_with(p, CTYPE, two, strlen(two), 0, &limits, &r);
    assert_int_equal(res.rv, APR_SUCCESS);
    expect_failure(p, CTYPE, three, &limits, "too many parts");
    res = parse_with(p, CTYPE, three, strlen(three), 0, &limits, &r);
    assert_string_equal(res.t.data, "[n|(none)|(none)]v<end>[n|(none)|(none)]v<end>");

    /* the default: 64 */
    buf_init(&many, p);
    for (i = 0; i < 65; i++) {
        buf_str(&many, part);
    }
    buf_str(&many, DELIM "--");
    expect_failure(p, CTYPE, many.data, NULL, "too many parts");
}

static void malformed_parts(void **state)
{
    apr_pool_t *p = *state;
    const char *cd = "Content-Disposition: form-data; name=\"a\"\r\n";

    expect_failure(p, CTYPE, DELIM "\r\nContent-Type: text/plain\r\n\r\nv\r\n" DELIM "--", NULL,
                   "part without Content-Disposition");
    expect_failure(p, CTYPE, DELIM "\r\n\r\nv\r\n" DELIM "--", NULL,
                   "part without Content-Disposition");
    expect_failure(p, CTYPE,
                   DELIM "\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nv\r\n" DELIM
                         "--",
                   NULL, "folded part header");
    expect_failure(p, CTYPE, DELIM "\r\nContent-Disposition form-data\r\n\r\n", NULL,
                   "malformed part header");
    expect_failure(p, CTYPE, DELIM "\r\nContent-Disposition : form-data; name=a\r\n\r\n", NULL,
                   "malformed part header");
    expect_failure(p, CTYPE, apr_pstrcat(p, DELIM "\r\n", cd, cd, "\r\n", NULL), NULL,
                   "duplicate Content-Disposition");
    expect_failure(p, CTYPE, DELIM "\r\nContent-Disposition: attachment; name=a\r\n\r\n", NULL,
                   "part is not form-data");
    expect_failure(p, CTYPE, DELIM "\r\nContent-Disposition: form-data; filename=a\r\n\r\n", NULL,
                   "Content-Disposition without a name");
    expect_failure(p, CTYPE, DELIM "\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n",
                   NULL, "malformed Content-Disposition");
    expect_failure(p, CTYPE, DELIM "\r\nContent-Disposition: form-data; name=\"a\r\n\r\n", NULL,
                   "malformed Content-Disposition");
    expect_failure(p, CTYPE, DELIM "\r\nContent-Disposition: form-data; name\r\n\r\n", NULL,
                   "malformed Content-Disposition");
    expect_failure(p, CTYPE, DELIM "\r\nContent-Disposition: form-data; name=a\rb\r\n\r\n", NULL,
                   "part header line not ended by CRLF");
    expect_failure(p, CTYPE, apr_pstrcat(p, DELIM "\r\n", cd, "\r\nv\r\n" DELIM "x\r\n", NULL),
                   NULL, "malformed boundary line");
    expect_failure(p, CTYPE, apr_pstrcat(p, DELIM "\r\n", cd, "\r\nv\r\n" DELIM " x\r\n", NULL),
                   NULL, "malformed boundary line");
    expect_failure(p, CTYPE, apr_pstrcat(p, DELIM "\r\n", cd, "\r\nv\r\n" DELIM "-x", NULL), NULL,
                   "malformed boundary line");
}

static void nul_in_header(void **state)
{
    apr_pool_t *p = *state;
    const char body[] = DELIM "\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\n";
    rec_t r = {0};
    result_t res = parse_with(p, CTYPE, body, sizeof(body) - 1, 0, NULL, &r);

    assert_int_equal(res.rv, APR_EINVAL);
    assert_string_equal(res.error, "NUL byte in a part header");
}

static void filenames(void **state)
{
    apr_pool_t *p = *state;
    const char *body =
        DELIM "\r\nContent-Disposition: form-data; name=\"up\"; filename=\"fallback.txt\"; "
              "filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\n1\r\n"
        /* filename* before filename, language tag, charset in lower case */
        DELIM "\r\nContent-Disposition: form-data; name=\"up2\"; filename*=utf-8'fr'caf%C3%A9; "
              "filename=\"cafe\"\r\n\r\n2\r\n"
        /* ISO-8859-1 comes out as UTF-8 */
        DELIM "\r\nContent-Disposition: form-data; name=\"up3\"; filename*=ISO-8859-1''caf%E9"
              "\r\n\r\n3\r\n"
        /* \" and \\ are escapes; other backslashes stay (IE's Windows paths); raw UTF-8 */
        DELIM "\r\nContent-Disposition: form-data; name=\"a\\\"b\\\\c\"; "
              "filename=\"C:\\dir\\\xe2\x82\xac.txt\"\r\n\r\n4\r\n" DELIM "--\r\n";
    result_t res = parse(p, body, 1);

    assert_int_equal(res.rv, APR_SUCCESS);
    assert_string_equal(res.t.data, "[up|\xe2\x82\xac rates.txt|(none)]1<end>"
                                    "[up2|caf\xc3\xa9|(none)]2<end>"
                                    "[up3|caf\xc3\xa9|(none)]3<end>"
                                    "[a\"b\\c|C:\\dir\\\xe2\x82\xac.txt|(none)]4<end>");

    expect_failure(p, CTYPE,
                   DELIM
                   "\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''%E2%8\r\n\r\n",
                   NULL, "malformed filename*");
    expect_failure(p, CTYPE,
                   DELIM
                   "\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''%C3%28\r\n\r\n",
                   NULL, "malformed filename*");
    expect_failure(p, CTYPE,
                   DELIM
                   "\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''a%00b\r\n\r\n",
                   NULL, "malformed filename*");
    expect_failure(p, CTYPE,
                   DELIM "\r\nContent-Disposition: form-data; name=a; filename*=abc.txt\r\n\r\n",
                   NULL, "malformed filename*");
    expect_failure(p, CTYPE,
                   DELIM "\r\nContent-Disposition: form-data; name=a; filename*=KOI8-R''x\r\n\r\n",
                   NULL, "filename* in an unsupported charset");
}

/* Decision: bare-LF line ends are rejected, never guessed at (see s3_form.h). */
static void lf_only_is_rejected(void **state)
{
    apr_pool_t *p = *state;

    expect_failure(p, CTYPE,
                   DELIM "\nContent-Disposition: form-data; name=\"a\"\n\nv\n" DELIM "--\n", NULL,
                   "line ends in a bare LF (CRLF required)");
    expect_failure(p, CTYPE,
                   DELIM "\r\nContent-Disposition: form-data; name=\"a\"\n\nv\n" DELIM "--\n", NULL,
                   "part header line not ended by CRLF");
    /* a part whose data holds "\n--boundary" is data, and the body never closes */
    expect_failure(p, CTYPE,
                   DELIM "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\n" DELIM "--\n",
                   NULL, "truncated body: no closing boundary");
}

static void callback_stops_the_parser(void **state)
{
    apr_pool_t *p = *state;
    buf_t body, expect;
    rec_t r = {0};
    result_t res;
    long chunking[] = {0, 1, 7};
    int i;

    buf_init(&body, p);
    buf_init(&expect, p);
    browser_body(&body, &expect);
    for (i = 0; i < 3; i++) {
        r.stop_name = "notes";
        r.stop_in_data = 0;
        r.stop_rv = APR_ECONNABORTED;
        res = parse_with(p, CTYPE, body.data, body.len, chunking[i], NULL, &r);
        assert_int_equal(res.rv, APR_ECONNABORTED);
        assert_string_equal(res.error, "stopped by a callback");
        /* nothing after the refused part_begin */
        {
            const char *tail = "[notes|notes.txt|text/plain]";
            assert_true(res.t.len > strlen(tail));
            assert_string_equal(res.t.data + res.t.len - strlen(tail), tail);
        }

        r.stop_in_data = 1;
        r.stop_rv = APR_ENOSPC;
        res = parse_with(p, CTYPE, body.data, body.len, chunking[i], NULL, &r);
        assert_int_equal(res.rv, APR_ENOSPC);
        assert_string_equal(res.error, "stopped by a callback");
    }
}

static void feeding_after_close_is_ignored(void **state)
{
    apr_pool_t *p = *state;
    s3_form_parser_t *fp;
    const char *why;
    rec_t r = {0};

    buf_init(&r.t, p);
    assert_int_equal(s3_form_parser_create(&fp, &why, CTYPE, &rec_cb, &r, NULL, p), APR_SUCCESS);
    assert_null(s3_form_parser_error(fp));
    assert_int_equal(s3_form_parser_feed(fp, DELIM "--\r\n", strlen(DELIM "--\r\n")), APR_SUCCESS);
    assert_int_equal(s3_form_parser_feed(fp, "\r\n--junk", 8), APR_SUCCESS);
    assert_int_equal(s3_form_parser_feed(fp, "", 0), APR_SUCCESS);
    assert_int_equal(s3_form_parser_finish(fp), APR_SUCCESS);
    assert_null(s3_form_parser_error(fp));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(browser_body_whole),
        UNIT_TEST(browser_body_every_chunking),
        UNIT_TEST(preamble_epilogue_and_padding),
        UNIT_TEST(empty_form),
        UNIT_TEST(boundary_extraction),
        UNIT_TEST(truncated_bodies),
        UNIT_TEST(header_limit),
        UNIT_TEST(part_limit),
        UNIT_TEST(malformed_parts),
        UNIT_TEST(nul_in_header),
        UNIT_TEST(filenames),
        UNIT_TEST(lf_only_is_rejected),
        UNIT_TEST(callback_stops_the_parser),
        UNIT_TEST(feeding_after_close_is_ignored),
    };
    return UNIT_RUN("s3_form", tests);
}
