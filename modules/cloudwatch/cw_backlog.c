/* cw_backlog — the bounded FIFO of intervals waiting for CloudWatch (see cw_backlog.h). */
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
