/* Unit tests of modules/cloudwatch/cw_backlog.c: FIFO order, the limit (the oldest interval is
 * dropped and counted), and the memory of an interval given back when it leaves. */
#include "unit.h"

#include <apr_file_info.h>
#include <apr_file_io.h>

#include "cw_backlog.h"
#include "cw_put.h"

/* Counts the intervals whose pool was destroyed. */
static apr_status_t count_cleanup(void *data)
{
    ++*(int *)data;
    return APR_SUCCESS;
}

static cw_interval_t *interval(cw_backlog_t *b, apr_time_t end, int *freed)
{
    cw_interval_t *iv;
    cw_put_body_t *body;

    assert_int_equal(cw_backlog_interval(&iv, b, end), APR_SUCCESS);
    assert_non_null(iv->pool);
    assert_true(iv->end == end);
    assert_int_equal(iv->next, 0);
    assert_int_equal(iv->datums, 0);
    assert_int_equal(iv->bodies->nelts, 0);
    body = apr_array_push(iv->bodies);
    body->data = apr_psprintf(iv->pool, "interval %" APR_TIME_T_FMT, end);
    body->len = strlen(body->data);
    body->datums = 1;
    body->gzip = 0;
    iv->datums = 1;
    if (freed) {
        apr_pool_cleanup_register(iv->pool, freed, count_cleanup, apr_pool_cleanup_null);
    }
    return iv;
}

static void create(void **state)
{
    apr_pool_t *p = *state;
    cw_backlog_t *b = (cw_backlog_t *)1;

    assert_int_equal(cw_backlog_create(&b, 0, p), APR_EINVAL);
    assert_null(b);
    assert_int_equal(cw_backlog_create(&b, -3, p), APR_EINVAL);
    assert_int_equal(cw_backlog_create(&b, 1, p), APR_SUCCESS);
    assert_non_null(b);
    assert_int_equal(cw_backlog_size(b), 0);
    assert_int_equal(cw_backlog_dropped(b), 0);
    assert_null(cw_backlog_head(b));
    cw_backlog_pop(b); /* nothing to pop: nothing happens */
    assert_int_equal(cw_backlog_size(b), 0);
}

static void fifo(void **state)
{
    apr_pool_t *p = *state;
    cw_backlog_t *b;
    apr_time_t t;
    int round;

    assert_int_equal(cw_backlog_create(&b, 5, p), APR_SUCCESS);
    /* several rounds so that the ring wraps around */
    for (round = 0; round < 4; ++round) {
        for (t = 1; t <= 4; ++t) {
            assert_int_equal(cw_backlog_push(b, interval(b, round * 10 + t, NULL)), 0);
            assert_int_equal(cw_backlog_size(b), (int)t);
        }
        for (t = 1; t <= 4; ++t) {
            cw_interval_t *iv = cw_backlog_head(b);
            assert_non_null(iv);
            assert_true(iv->end == round * 10 + t);
            assert_string_equal(APR_ARRAY_IDX(iv->bodies, 0, cw_put_body_t).data,
                                apr_psprintf(p, "interval %" APR_TIME_T_FMT, round * 10 + t));
            /* the head stays until popped */
            assert_ptr_equal(cw_backlog_head(b), iv);
            cw_backlog_pop(b);
            assert_int_equal(cw_backlog_size(b), 4 - (int)t);
        }
        assert_null(cw_backlog_head(b));
    }
    assert_int_equal(cw_backlog_dropped(b), 0);
}

static void limit(void **state)
{
    apr_pool_t *p = *state;
    cw_backlog_t *b;
    apr_time_t t;
    int freed = 0;

    assert_int_equal(cw_backlog_create(&b, 3, p), APR_SUCCESS);
    for (t = 1; t <= 3; ++t) {
        assert_int_equal(cw_backlog_push(b, interval(b, t, &freed)), 0);
    }
    /* full: each push drops the oldest */
    assert_int_equal(cw_backlog_push(b, interval(b, 4, &freed)), 1);
    assert_int_equal(freed, 1);
    assert_int_equal(cw_backlog_push(b, interval(b, 5, &freed)), 1);
    assert_int_equal(freed, 2);
    assert_int_equal(cw_backlog_size(b), 3);
    assert_int_equal(cw_backlog_dropped(b), 2);
    for (t = 3; t <= 5; ++t) {
        assert_true(cw_backlog_head(b)->end == t);
        cw_backlog_pop(b);
    }
    assert_int_equal(freed, 5);
    assert_int_equal(cw_backlog_size(b), 0);
    assert_int_equal(cw_backlog_dropped(b), 2);

    /* a limit of 1 keeps only the newest */
    assert_int_equal(cw_backlog_create(&b, 1, p), APR_SUCCESS);
    assert_int_equal(cw_backlog_push(b, interval(b, 1, NULL)), 0);
    for (t = 2; t <= 100; ++t) {
        assert_int_equal(cw_backlog_push(b, interval(b, t, NULL)), 1);
    }
    assert_int_equal(cw_backlog_size(b), 1);
    assert_int_equal(cw_backlog_dropped(b), 99);
    assert_true(cw_backlog_head(b)->end == 100);
}

static void memory(void **state)
{
    apr_pool_t *p = *state, *bp;
    cw_backlog_t *b;
    int freed = 0;

    assert_int_equal(apr_pool_create(&bp, p), APR_SUCCESS);
    assert_int_equal(cw_backlog_create(&b, 4, bp), APR_SUCCESS);
    cw_backlog_push(b, interval(b, 1, &freed));
    cw_backlog_push(b, interval(b, 2, &freed));
    cw_backlog_push(b, interval(b, 3, &freed));
    assert_int_equal(freed, 0);
    cw_backlog_pop(b);
    assert_int_equal(freed, 1);
    /* an interval given up before it is pushed */
    {
        cw_interval_t *iv = interval(b, 9, &freed);
        apr_pool_destroy(iv->pool);
        assert_int_equal(freed, 2);
    }
    /* what is still queued goes with the backlog's pool */
    apr_pool_destroy(bp);
    assert_int_equal(freed, 4);
}

/* Many intervals through a small backlog: memory stays bounded (each one's pool freed). */
static void churn(void **state)
{
    apr_pool_t *p = *state;
    cw_backlog_t *b;
    int freed = 0, i;

    assert_int_equal(cw_backlog_create(&b, 8, p), APR_SUCCESS);
    for (i = 0; i < 10000; ++i) {
        cw_interval_t *iv = interval(b, i, &freed);
        /* a megabyte-sized body would pile up without the pool being destroyed */
        apr_palloc(iv->pool, 64 * 1024);
        cw_backlog_push(b, iv);
        if (i % 3 == 0) {
            cw_backlog_pop(b);
        }
    }
    assert_int_equal(freed + cw_backlog_size(b), 10000);
    assert_int_equal(cw_backlog_size(b), 7); /* full, then the last round popped one */
    assert_int_equal(cw_backlog_dropped(b) + 3334, (apr_uint64_t)freed);
    /* the cleanups write to this frame: run them before it goes */
    while (cw_backlog_size(b)) {
        cw_backlog_pop(b);
    }
    assert_int_equal(freed, 10000);
}

/* A fresh directory under the system's temporary one. */
static const char *temp_dir(apr_pool_t *p)
{
    char *d = apr_pstrdup(p, "/tmp/lf-cw-backlog-XXXXXX");

    assert_non_null(mkdtemp(d));
    return d;
}

static void remove_dir(const char *dir, apr_pool_t *p)
{
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, p) == APR_SUCCESS) {
        while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
            if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) {
                apr_file_remove(apr_pstrcat(p, dir, "/", fi.name, NULL), p);
            }
        }
        apr_dir_close(d);
    }
    apr_dir_remove(dir, p);
}

static int files_in(const char *dir, apr_pool_t *p)
{
    apr_dir_t *d;
    apr_finfo_t fi;
    int n = 0;

    assert_int_equal(apr_dir_open(&d, dir, p), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        n += fi.name[0] != '.';
    }
    apr_dir_close(d);
    return n;
}

/* What a stopping publisher saves, the next one adopts: the same intervals in the same order,
 * only the bodies not yet accepted, gzip flags, datums and bytes (a NUL and high bytes too). */
static void save_and_adopt(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = temp_dir(p);
    static const char binary[] = {'\x1f', '\x8b', 0, 'x', '\xff', '\n'};
    cw_backlog_t *old, *next;
    cw_interval_t *iv;
    cw_put_body_t *body;
    int saved, adopted, i;

    assert_int_equal(cw_backlog_create(&old, 5, p), APR_SUCCESS);
    for (i = 1; i <= 3; ++i) {
        cw_backlog_push(old, interval(old, apr_time_from_sec(1000 + i), NULL));
    }
    /* the head was half sent: one body accepted, a gzip one left */
    iv = cw_backlog_head(old);
    body = apr_array_push(iv->bodies);
    body->data = binary;
    body->len = sizeof(binary);
    body->datums = 7;
    body->gzip = 1;
    iv->next = 1;
    assert_int_equal(cw_backlog_save(&saved, old, dir, p), APR_SUCCESS);
    assert_int_equal(saved, 3);
    assert_int_equal(cw_backlog_size(old), 0);
    assert_int_equal(files_in(dir, p), 3);

    assert_int_equal(cw_backlog_create(&next, 5, p), APR_SUCCESS);
    assert_int_equal(cw_backlog_adopt(&adopted, next, dir, p), APR_SUCCESS);
    assert_int_equal(adopted, 3);
    assert_int_equal(files_in(dir, p), 0);
    iv = cw_backlog_head(next);
    assert_true(iv->end == apr_time_from_sec(1001));
    assert_int_equal(iv->next, 0);
    assert_int_equal(iv->bodies->nelts, 1);
    assert_int_equal(iv->datums, 7);
    body = &APR_ARRAY_IDX(iv->bodies, 0, cw_put_body_t);
    assert_int_equal(body->gzip, 1);
    assert_int_equal(body->len, sizeof(binary));
    assert_memory_equal(body->data, binary, sizeof(binary));
    for (i = 2; i <= 3; ++i) {
        cw_backlog_pop(next);
        iv = cw_backlog_head(next);
        assert_true(iv->end == apr_time_from_sec(1000 + i));
        body = &APR_ARRAY_IDX(iv->bodies, 0, cw_put_body_t);
        assert_int_equal(body->len, strlen(apr_psprintf(p, "interval %" APR_TIME_T_FMT,
                                                        apr_time_from_sec(1000 + i))));
        assert_memory_equal(body->data, apr_psprintf(p, "interval %" APR_TIME_T_FMT, iv->end),
                            body->len);
    }
    /* nothing left to adopt; a directory that is not there is not an error */
    assert_int_equal(cw_backlog_adopt(&adopted, next, dir, p), APR_SUCCESS);
    assert_int_equal(adopted, 0);
    assert_int_equal(cw_backlog_adopt(&adopted, next, "/nonexistent/lf-cw", p), APR_SUCCESS);
    assert_int_equal(adopted, 0);
    remove_dir(dir, p);
}

/* The limit holds for adopted intervals (oldest dropped, counted); a file that does not read
 * back whole is removed and counted as dropped; temporary and foreign files are left alone. */
static void adopt_bounded_and_checked(void **state)
{
    apr_pool_t *p = *state;
    const char *dir = temp_dir(p);
    cw_backlog_t *old, *next;
    apr_file_t *f;
    int saved, adopted, i;

    assert_int_equal(cw_backlog_create(&old, 6, p), APR_SUCCESS);
    for (i = 1; i <= 6; ++i) {
        cw_backlog_push(old, interval(old, apr_time_from_sec(i), NULL));
    }
    assert_int_equal(cw_backlog_save(&saved, old, dir, p), APR_SUCCESS);
    assert_int_equal(saved, 6);
    /* truncate one: its last body is short */
    assert_int_equal(apr_file_open(&f, apr_pstrcat(p, dir, "/bad", NULL),
                                   APR_FOPEN_WRITE | APR_FOPEN_CREATE, APR_FPROT_OS_DEFAULT, p),
                     APR_SUCCESS);
    apr_file_puts("LFCW1 9 1\n0 1 100\nshort", f);
    apr_file_close(f);
    assert_int_equal(apr_file_rename(apr_pstrcat(p, dir, "/bad", NULL),
                                     apr_pstrcat(p, dir, "/cw-ffffffffffffffff-1-0.iv", NULL), p),
                     APR_SUCCESS);
    assert_int_equal(apr_file_open(&f, apr_pstrcat(p, dir, "/.cw-half.iv.tmp", NULL),
                                   APR_FOPEN_WRITE | APR_FOPEN_CREATE, APR_FPROT_OS_DEFAULT, p),
                     APR_SUCCESS);
    apr_file_close(f);

    assert_int_equal(cw_backlog_create(&next, 4, p), APR_SUCCESS);
    assert_int_equal(cw_backlog_adopt(&adopted, next, dir, p), APR_SUCCESS);
    assert_int_equal(adopted, 6);
    assert_int_equal(cw_backlog_size(next), 4);
    assert_int_equal(cw_backlog_dropped(next), 3); /* 2 over the limit, 1 broken */
    assert_true(cw_backlog_head(next)->end == apr_time_from_sec(3));
    assert_int_equal(files_in(dir, p), 0); /* the temporary one is still there, hidden */
    remove_dir(dir, p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(create),
        UNIT_TEST(fifo),
        UNIT_TEST(limit),
        UNIT_TEST(memory),
        UNIT_TEST(churn),
        UNIT_TEST(save_and_adopt),
        UNIT_TEST(adopt_bounded_and_checked),
    };
    return UNIT_RUN("cw_backlog", tests);
}
