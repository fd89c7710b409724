/* cw_backlog — the bounded FIFO of intervals waiting for CloudWatch (see cw_backlog.h). */
#include <stdlib.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "cw_backlog.h"
#include "cw_put.h"

struct cw_backlog_t {
    apr_pool_t *pool;     /* parent of every interval's pool */
    cw_interval_t **ring; /* limit slots */
    int limit;
    int head;             /* slot of the oldest interval */
    int size;             /* intervals queued */
    apr_uint64_t dropped; /* intervals dropped because the backlog was full */
};

apr_status_t cw_backlog_create(cw_backlog_t **out, int limit, apr_pool_t *p)
{
    cw_backlog_t *b;
    apr_status_t rv = APR_SUCCESS;

    *out = NULL;
    if (limit < 1) {
        rv = APR_EINVAL;
        goto leave;
    }
    b = apr_pcalloc(p, sizeof(*b));
    b->pool = p;
    b->limit = limit;
    b->ring = apr_pcalloc(p, sizeof(*b->ring) * (apr_size_t)limit);
    *out = b;
leave:
    return rv;
}

apr_status_t cw_backlog_interval(cw_interval_t **out, cw_backlog_t *b, apr_time_t end)
{
    apr_pool_t *ip;
    cw_interval_t *iv;
    apr_status_t rv;

    *out = NULL;
    /* a pool of its own: an interval that leaves the backlog gives all its memory back */
    if ((rv = apr_pool_create(&ip, b->pool)) != APR_SUCCESS) {
        goto leave;
    }
    apr_pool_tag(ip, "cw_interval");
    iv = apr_pcalloc(ip, sizeof(*iv));
    iv->pool = ip;
    iv->end = end;
    iv->bodies = apr_array_make(ip, 2, sizeof(cw_put_body_t));
    *out = iv;
leave:
    return rv;
}

/* Forget the head and free it. */
static void drop_head(cw_backlog_t *b)
{
    cw_interval_t *iv = b->ring[b->head];

    b->ring[b->head] = NULL;
    b->head = (b->head + 1) % b->limit;
    b->size--;
    apr_pool_destroy(iv->pool);
}

int cw_backlog_push(cw_backlog_t *b, cw_interval_t *iv)
{
    int dropped = 0;

    if (b->size == b->limit) {
        drop_head(b);
        b->dropped++;
        dropped = 1;
    }
    b->ring[(b->head + b->size) % b->limit] = iv;
    b->size++;
    return dropped;
}

cw_interval_t *cw_backlog_head(cw_backlog_t *b)
{
    return b->size ? b->ring[b->head] : NULL;
}

void cw_backlog_pop(cw_backlog_t *b)
{
    if (b->size) {
        drop_head(b);
    }
}

int cw_backlog_size(const cw_backlog_t *b)
{
    return b->size;
}

apr_uint64_t cw_backlog_dropped(const cw_backlog_t *b)
{
    return b->dropped;
}

/* --- hand-over between publishers ---------------------------------------------------------- */

/* A saved interval: "cw-<end, 16 hex digits>-<pid>-<n>.iv" (names sort by time), holding
 *   LFCW1 <end> <bodies>\n  then per body  <gzip> <datums> <len>\n<len bytes>  */
#define SAVE_MAGIC  "LFCW1"
#define SAVE_PREFIX "cw-"
#define SAVE_SUFFIX ".iv"
/* No saved interval is larger (a PutMetricData body is at most 1 MB, an interval a few). */
#define SAVE_MAX (64 * 1024 * 1024)

static apr_status_t save_one(const cw_interval_t *iv, const char *path, const char *tmp,
                             apr_pool_t *p)
{
    apr_file_t *f;
    apr_status_t rv;
    int i;

    rv = apr_file_open(&f, tmp, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_printf(f, SAVE_MAGIC " %" APR_TIME_T_FMT " %d\n", iv->end,
                         iv->bodies->nelts - iv->next)
                 < 0
             ? APR_EGENERAL
             : APR_SUCCESS;
    for (i = iv->next; rv == APR_SUCCESS && i < iv->bodies->nelts; ++i) {
        const cw_put_body_t *body = &APR_ARRAY_IDX(iv->bodies, i, cw_put_body_t);

        if (apr_file_printf(f, "%d %d %" APR_SIZE_T_FMT "\n", body->gzip ? 1 : 0, body->datums,
                            body->len)
            < 0) {
            rv = APR_EGENERAL;
        }
        else {
            rv = apr_file_write_full(f, body->data, body->len, NULL);
        }
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_close(f);
    }
    else {
        apr_file_close(f);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_rename(tmp, path, p);
    }
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, p);
    }
    return rv;
}

apr_status_t cw_backlog_save(int *saved, cw_backlog_t *b, const char *dir, apr_pool_t *p)
{
    apr_pool_t *sp;
    apr_status_t rv = APR_SUCCESS;
    int n = 0;

    *saved = 0;
    if ((rv = apr_pool_create(&sp, p)) != APR_SUCCESS) {
        return rv;
    }
    while (b->size) {
        const cw_interval_t *iv = b->ring[b->head];
        const char *name = apr_psprintf(
            sp, SAVE_PREFIX "%016" APR_UINT64_T_HEX_FMT "-%" APR_PID_T_FMT "-%d" SAVE_SUFFIX,
            (apr_uint64_t)iv->end, getpid(), n);
        const char *path = apr_pstrcat(sp, dir, "/", name, NULL);
        const char *tmp = apr_pstrcat(sp, dir, "/.", name, ".tmp", NULL);

        if ((rv = save_one(iv, path, tmp, sp)) != APR_SUCCESS) {
            break;
        }
        drop_head(b);
        apr_pool_clear(sp);
        *saved = ++n;
    }
    apr_pool_destroy(sp);
    return rv;
}

/* The next "<number> " or "<number>\n" of a saved file's text at *at; -1 when there is none. */
static apr_int64_t next_number(const char **at, const char *end)
{
    apr_int64_t v = 0;
    const char *s = *at;

    if (s >= end || *s < '0' || *s > '9') {
        return -1;
    }
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (APR_INT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (*s++ - '0');
    }
    if (s >= end || (*s != ' ' && *s != '\n')) {
        return -1;
    }
    *at = s + 1;
    return v;
}

/* One saved interval, read back into the backlog's memory; APR_EINVAL when it is not whole. */
static apr_status_t adopt_one(cw_interval_t **out, cw_backlog_t *b, const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;
    apr_file_t *f;
    cw_interval_t *iv;
    const char *at, *end;
    char *text;
    apr_int64_t when, n, i;
    apr_status_t rv;

    *out = NULL;
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv == APR_SUCCESS && (fi.size < (apr_off_t)sizeof(SAVE_MAGIC) || fi.size > SAVE_MAX)) {
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS) {
        text = apr_palloc(p, (apr_size_t)fi.size);
        rv = apr_file_read_full(f, text, (apr_size_t)fi.size, NULL);
    }
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    at = text;
    end = text + fi.size;
    if (memcmp(at, SAVE_MAGIC " ", sizeof(SAVE_MAGIC)) != 0) {
        return APR_EINVAL;
    }
    at += sizeof(SAVE_MAGIC);
    if ((when = next_number(&at, end)) < 0 || (n = next_number(&at, end)) < 0 || n > 100000) {
        return APR_EINVAL;
    }
    if ((rv = cw_backlog_interval(&iv, b, (apr_time_t)when)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < n; ++i) {
        apr_int64_t gzip = next_number(&at, end), datums = next_number(&at, end),
                    len = next_number(&at, end);
        cw_put_body_t *body;

        if (gzip < 0 || gzip > 1 || datums < 0 || datums > 1000000 || len < 0 || len > end - at) {
            apr_pool_destroy(iv->pool);
            return APR_EINVAL;
        }
        body = apr_array_push(iv->bodies);
        body->gzip = (int)gzip;
        body->datums = (int)datums;
        body->len = (apr_size_t)len;
        body->data = apr_pmemdup(iv->pool, at, (apr_size_t)len);
        iv->datums += (int)datums;
        at += len;
    }
    if (at != end) {
        apr_pool_destroy(iv->pool);
        return APR_EINVAL;
    }
    *out = iv;
    return APR_SUCCESS;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_status_t cw_backlog_adopt(int *adopted, cw_backlog_t *b, const char *dir, apr_pool_t *p)
{
    apr_array_header_t *names;
    apr_pool_t *sp;
    apr_finfo_t fi;
    apr_dir_t *d;
    apr_status_t rv;
    int i;

    *adopted = 0;
    if ((rv = apr_pool_create(&sp, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_dir_open(&d, dir, sp)) != APR_SUCCESS) {
        apr_pool_destroy(sp);
        return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
    }
    names = apr_array_make(sp, 8, sizeof(const char *));
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        apr_size_t len = strlen(fi.name);

        if (fi.filetype == APR_REG && !strncmp(fi.name, SAVE_PREFIX, strlen(SAVE_PREFIX))
            && len > strlen(SAVE_SUFFIX)
            && !strcmp(fi.name + len - strlen(SAVE_SUFFIX), SAVE_SUFFIX)) {
            APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(sp, fi.name);
        }
    }
    apr_dir_close(d);
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), by_name);
    for (i = 0; i < names->nelts; ++i) {
        const char *path = apr_pstrcat(sp, dir, "/", APR_ARRAY_IDX(names, i, const char *), NULL);
        apr_pool_t *fp;
        cw_interval_t *iv;

        if (apr_pool_create(&fp, sp) != APR_SUCCESS) {
            break;
        }
        rv = adopt_one(&iv, b, path, fp);
        apr_file_remove(path, fp);
        if (rv == APR_SUCCESS) {
            cw_backlog_push(b, iv);
            ++*adopted;
        }
        else {
            b->dropped++;
        }
        apr_pool_destroy(fp);
    }
    apr_pool_destroy(sp);
    return APR_SUCCESS;
}
