/* cw_pub — the publisher of mod_cloudwatch, without httpd: every interval it empties the shared
 * memory into PutMetricData requests and sends them.
 *
 * Each interval becomes datums (cw_shm_take, cw_datum) and request bodies (cw_put) at once and
 * waits in a bounded backlog (cw_backlog) until CloudWatch accepts it: while CloudWatch is
 * unreachable or throttles, the publisher keeps measuring, retries with backoff and jitter, and
 * drops the oldest interval (and counts it) once the backlog is full, so memory stays bounded.
 * What is left when it stops goes to files that the next publisher adopts. Its figures go to
 * the shared memory (cw_pub_status_t) for the status views; what goes wrong to the log
 * (lf_log).
 *
 * The glue (mod_cloudwatch_publish.c) runs it on a background thread: cw_pub_start() once, then
 * cw_pub_saturation() and cw_pub_run() every tick, cw_pub_stop() last. The network and the
 * clock come through cw_pub_calls_t, the seam through which unit tests drive it with fakes.
 * Not thread-safe: one thread uses a publisher.
 * Pure core: APR, the AWS core.
 */
#ifndef CW_PUB_H
#define CW_PUB_H

#include <apr_pools.h>
#include <apr_time.h>

#include "aws_creds.h"
#include "aws_http.h"
#include "aws_sign.h"
#include "cw_backlog.h"
#include "cw_conf.h"
#include "cw_datum.h"
#include "cw_shm.h"

/** What the publisher calls to reach the network and read the clock. */
typedef struct cw_pub_calls_t {
    /* send one signed request: aws_sign_perform() */
    apr_status_t (*perform)(aws_http_response_t **resp, aws_http_client_t *http,
                            const aws_signer_t *signer, aws_http_request_t *req,
                            const char *payload_hash, apr_pool_t *p);
    /* read the instance metadata: aws_creds_imds_get() */
    apr_status_t (*imds_get)(const char **body, const char **why, aws_creds_provider_t *prov,
                             const char *path, apr_pool_t *p);
    /* the time: apr_time_now() */
    apr_time_t (*now)(void);
} cw_pub_calls_t;

/** The real network and clock. */
extern const cw_pub_calls_t cw_pub_calls_aws;

/** A publisher. Fields below "state" are its own; tests read them. */
typedef struct cw_pub_t {
    const cw_pub_calls_t *calls; /* cw_pub_calls_aws unless a test swaps it */
    const cw_srv_conf *conf;     /* effective (defaults applied) */
    cw_shm_t *shm;
    aws_creds_provider_t *creds;
    const char *handover_dir;     /* where a stopping publisher saves its backlog for the next */
    int (*stopping)(void *baton); /* whether the thread was told to stop */
    void *stopping_baton;
    cw_datum_conf_t datum; /* what the datums of an interval are made with */
    /* state, from cw_pub_start() */
    apr_pool_t *pool; /* the thread's */
    aws_http_client_t *http;
    aws_signer_t signer;
    cw_backlog_t *backlog;
    const char *url;
    apr_uint64_t handovers_seen; /* shm->pub.handovers when we last adopted */
    int need_asg, need_instance; /* and datum.asg, datum.instance_id: NULL, unknown */
    apr_time_t imds_tried;
    apr_time_t next_measure;
    apr_time_t retry_at;  /* after a failed send, not before this */
    int failures;         /* consecutive failed sends */
    apr_uint32_t rnd;     /* xorshift state, for jitter */
    cw_datum_stats_t sat; /* worker saturation samples of the interval under way, percent */
} cw_pub_t;

/**
 * A publisher of @p conf's settings, not started.
 * @param out allocated from @p p
 * @param conf effective settings, alive as long as @p p
 * @param creds the credentials provider (cw_conf_creds()), thread-safe
 * @param handover_dir an existing directory for what a stopping publisher leaves to the next
 * @param stopping answers whether the thread was told to stop (then no retry and no backoff)
 * @param p the configuration pool
 */
apr_status_t cw_pub_create(cw_pub_t **out, const cw_srv_conf *conf, cw_shm_t *shm,
                           aws_creds_provider_t *creds, const char *handover_dir,
                           int (*stopping)(void *baton), void *baton, apr_pool_t *p);

/**
 * Set up on the thread: the transport, the signer, the backlog (and what a stopped publisher
 * left), the first interval's end.
 * @param pool the thread's, alive until cw_pub_stop() returns; everything of @p w's state is
 *        allocated from it
 * @return APR_SUCCESS, or the error making the transport or the backlog
 */
apr_status_t cw_pub_start(cw_pub_t *w, apr_pool_t *pool);

/**
 * A sample of the worker saturation: @p busy workers of @p daemons processes of @p threads each
 * (a process without threads counts as one), in percent; none when @p daemons is below 1.
 */
void cw_pub_saturation(cw_pub_t *w, int busy, int daemons, int threads);

/** A tick: adopt what a publisher that stopped meanwhile left, measure an interval when it is
 * due, send what is queued unless a failure asked to wait. */
void cw_pub_run(cw_pub_t *w);

/** Stop: measure what is left, send the backlog in one try per request, and save what
 * CloudWatch did not take for the next publisher. */
void cw_pub_stop(cw_pub_t *w);

#endif /* CW_PUB_H */
