/* fuzz_s3_form — the multipart/form-data parser (modules/s3/s3_form.c) on hostile request
 * bodies, and the promise of its push API that chunking makes no difference: each body is fed
 * whole, one byte at a time and in chunks of random sizes (seeded from the input, zero-length
 * feeds included), and the three transcripts of callbacks, statuses and error messages must be
 * equal; the first difference aborts.
 *
 * Input: the Content-Type header up to the first '\n', one byte of settings (bits 0-1: the part
 * that a callback stops at, 0 for none; bits 2-3: max_parts 0 (default), 1, 2 or 3; bit 4: a
 * small max_header of 64 bytes; bit 5: the callback that stops is part_end rather than
 * part_begin; part_data never stops, as where it stops depends on the chunking), then the body.
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "s3_form.h"

/* A transcript: begin "B" name, filename, type (length-prefixed), data runs "D<bytes>#<n>"
 * (a run of part_data calls counts as one, whatever its chunking), end "E". */
typedef struct run_t {
    char *log;
    size_t len, cap;
    size_t data_run; /* bytes in the current data run; 0: none open */
    int parts, in_part, stop_at, stop_at_end, max_parts;
} run_t;

static void log_add(run_t *r, const char *s, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        size_t cap = 2 * (r->len + n + 1);
        char *more = realloc(r->log, cap);

        FUZZ_CHECK(more != NULL);
        r->log = more;
        r->cap = cap;
    }
    memcpy(r->log + r->len, s, n);
    r->len += n;
    r->log[r->len] = '\0';
}

static void log_str(run_t *r, const char *s)
{
    char num[32];

    if (!s) {
        log_add(r, "-", 1);
        return;
    }
    snprintf(num, sizeof(num), "%zu:", strlen(s));
    log_add(r, num, strlen(num));
    log_add(r, s, strlen(s));
}

/* Close a data run before any other event. */
static void log_event(run_t *r, const char *what)
{
    char num[32];

    if (r->data_run) {
        snprintf(num, sizeof(num), "#%zu", r->data_run);
        log_add(r, num, strlen(num));
        r->data_run = 0;
    }
    log_add(r, what, strlen(what));
}

static apr_status_t on_begin(void *baton, const char *name, const char *filename,
                             const char *content_type)
{
    run_t *r = baton;

    FUZZ_CHECK(!r->in_part);
    FUZZ_CHECK(name != NULL);
    FUZZ_CHECK(!content_type || *content_type);
    r->in_part = 1;
    r->parts++;
    FUZZ_CHECK(r->parts <= (r->max_parts ? r->max_parts : S3_FORM_DEFAULT_MAX_PARTS));
    log_event(r, "B");
    log_str(r, name);
    log_str(r, filename);
    log_str(r, content_type);
    return !r->stop_at_end && r->parts == r->stop_at ? APR_EGENERAL : APR_SUCCESS;
}

static apr_status_t on_data(void *baton, const char *data, apr_size_t len)
{
    run_t *r = baton;

    FUZZ_CHECK(r->in_part);
    FUZZ_CHECK(len > 0);
    if (!r->data_run) {
        log_add(r, "D", 1);
    }
    log_add(r, data, len);
    r->data_run += len;
    return APR_SUCCESS;
}

static apr_status_t on_end(void *baton)
{
    run_t *r = baton;

    FUZZ_CHECK(r->in_part);
    r->in_part = 0;
    log_event(r, "E");
    return r->stop_at_end && r->parts == r->stop_at ? APR_EGENERAL : APR_SUCCESS;
}

static const s3_form_callbacks_t callbacks = {on_begin, on_data, on_end};

/* How a run ends: the first failed feed (or success), finish(), the error message. */
typedef struct outcome_t {
    apr_status_t feed, finish;
    const char *error;
} outcome_t;

/* One run over @p body, cut into chunks by @p mode: 0 whole, 1 bytes, 2 random sizes. */
static void run(run_t *r, outcome_t *o, const char *ctype, unsigned settings, const char *body,
                size_t len, int mode, uint64_t seed, apr_pool_t *p)
{
    s3_form_limits_t limits = {0, 0};
    s3_form_parser_t *fp;
    const char *why;
    apr_status_t rv;
    size_t off = 0, n;

    memset(r, 0, sizeof(*r));
    r->stop_at = (int)(settings & 3);
    r->max_parts = (int)((settings >> 2) & 3);
    r->stop_at_end = (settings & 0x20) != 0;
    limits.max_parts = r->max_parts;
    limits.max_header = (settings & 0x10) ? 64 : 0;
    o->feed = APR_SUCCESS;
    rv = s3_form_parser_create(&fp, &why, ctype, &callbacks, r, &limits, p);
    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(rv == APR_EINVAL && why != NULL);
        o->finish = rv;
        o->error = why;
        return;
    }
    while (off < len) {
        if (mode == 0) {
            n = len;
        }
        else if (mode == 1) {
            n = 1;
        }
        else {
            uint64_t x = fuzz_next(&seed);
            /* mostly short chunks, around a delimiter's length, sometimes none or long ones */
            n = (x & 7) == 0 ? 0 : (x & 7) == 1 ? (size_t)(x >> 8) % 4096 : (size_t)(x >> 8) % 80;
            n = n > len - off ? len - off : n;
        }
        rv = s3_form_parser_feed(fp, body + off, n);
        off += n;
        if (o->feed == APR_SUCCESS) {
            o->feed = rv;
        }
        else {
            FUZZ_CHECK(rv == o->feed); /* once failed, always the same status */
        }
    }
    o->finish = s3_form_parser_finish(fp);
    FUZZ_CHECK(o->feed == APR_SUCCESS || o->finish == o->feed);
    o->error = s3_form_parser_error(fp);
    FUZZ_CHECK((o->finish == APR_SUCCESS) == (o->error == NULL));
    if (o->finish == APR_SUCCESS) {
        FUZZ_CHECK(!r->in_part);
    }
    log_event(r, "."); /* closes a data run still open */
}

static void same(const run_t *a, const outcome_t *oa, const run_t *b, const outcome_t *ob)
{
    FUZZ_CHECK(oa->feed == ob->feed);
    FUZZ_CHECK(oa->finish == ob->finish);
    FUZZ_CHECK((oa->error == NULL) == (ob->error == NULL));
    FUZZ_CHECK(!oa->error || !strcmp(oa->error, ob->error));
    FUZZ_CHECK(a->len == b->len);
    FUZZ_CHECK(!a->len || !memcmp(a->log, b->log, a->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    const char *ctype = fuzz_until(&in, '\n', NULL, p);
    unsigned settings = fuzz_byte(&in);
    size_t len;
    const char *body = fuzz_rest(&in, &len, p);
    uint64_t seed = fuzz_seed(data, size);
    run_t whole, bytes, chunks;
    outcome_t ow, ob, oc;

    run(&whole, &ow, ctype, settings, body, len, 0, seed, p);
    run(&bytes, &ob, ctype, settings, body, len, 1, seed, p);
    same(&whole, &ow, &bytes, &ob);
    run(&chunks, &oc, ctype, settings, body, len, 2, seed, p);
    same(&whole, &ow, &chunks, &oc);
    free(whole.log);
    free(bytes.log);
    free(chunks.log);
    apr_pool_destroy(p);
    return 0;
}
