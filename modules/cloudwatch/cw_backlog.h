/* cw_backlog — the intervals that are measured but not yet accepted by CloudWatch.
 *
 * A bounded FIFO of prepared intervals (each its request bodies, in a pool of its own so that
 * memory goes back when it leaves): while CloudWatch is unreachable, new intervals queue up to
 * a limit, after which the oldest is dropped and counted. Memory therefore stays bounded by the
 * limit times the size of one interval. Used by the publisher thread only (not thread-safe).
 * When a publisher stops with intervals still queued, it saves them to files that the next
 * publisher (the new generation's after a graceful restart, or the next start's) adopts.
 * Pure core: APR.
 */
#ifndef CW_BACKLOG_H
#define CW_BACKLOG_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef struct cw_backlog_t cw_backlog_t;

/** One interval waiting to be sent. */
typedef struct cw_interval_t {
    apr_pool_t *pool;           /* owns everything below; destroyed when it leaves */
    apr_time_t end;             /* when the interval ended */
    apr_array_header_t *bodies; /* cw_put_body_t still to send, from pool */
    int next;                   /* index of the first body not yet accepted */
    int datums;                 /* datums in the bodies */
} cw_interval_t;

/**
 * A new, empty backlog.
 * @param out out: allocated from @p p
 * @param limit the most intervals kept (at least 1)
 * @param p the parent of every interval's pool
 * @return APR_SUCCESS, or APR_EINVAL when @p limit is below 1
 */
apr_status_t cw_backlog_create(cw_backlog_t **out, int limit, apr_pool_t *p);

/**
 * A new interval whose pool is a subpool of the backlog's; fill it, then cw_backlog_push()
 * (or, to give it up before, apr_pool_destroy() its pool).
 * @param out out: allocated from its own pool, (*out)->pool; bodies is an empty array
 */
apr_status_t cw_backlog_interval(cw_interval_t **out, cw_backlog_t *b, apr_time_t end);

/**
 * Queue @p iv at the tail. When the backlog is full the oldest interval is dropped first.
 * @return the number of intervals dropped (0 or 1)
 */
int cw_backlog_push(cw_backlog_t *b, cw_interval_t *iv);

/** The oldest interval, or NULL. */
cw_interval_t *cw_backlog_head(cw_backlog_t *b);

/** Remove the head (sent, or given up) and free its memory (destroys its pool); nothing when
 * the backlog is empty. */
void cw_backlog_pop(cw_backlog_t *b);

/** Intervals queued. */
int cw_backlog_size(const cw_backlog_t *b);

/** Intervals dropped so far because the backlog was full. */
apr_uint64_t cw_backlog_dropped(const cw_backlog_t *b);

/**
 * Hand what is queued to the next publisher: write each interval (the bodies not yet accepted)
 * to a file of its own in @p dir, then empty the backlog. A file is written under a temporary
 * name and renamed, so that cw_backlog_adopt() never sees half of one. Used when the publisher
 * stops (a graceful restart, a stop) while CloudWatch does not take what it has.
 * @param saved out: intervals written
 * @return APR_SUCCESS, or the first error (intervals not written stay queued)
 */
apr_status_t cw_backlog_save(int *saved, cw_backlog_t *b, const char *dir, apr_pool_t *p);

/**
 * Queue the intervals that an earlier publisher saved in @p dir, oldest first, and remove their
 * files. The limit holds as for cw_backlog_push(): beyond it the oldest are dropped and counted.
 * A file that does not read back whole (truncated, not ours) is removed and counted as dropped.
 * @param adopted out: intervals queued
 * @return APR_SUCCESS (also when @p dir does not exist), or the error reading @p dir
 */
apr_status_t cw_backlog_adopt(int *adopted, cw_backlog_t *b, const char *dir, apr_pool_t *p);

#endif /* CW_BACKLOG_H */
