/* cw_pub — the publisher of mod_cloudwatch, without httpd (see cw_pub.h). */
#include <string.h>

#include <apr_strings.h>

#include "aws_error.h"
#include "aws_sigv4.h"
#include "cw_pub.h"
#include "cw_put.h"
#include "lf_log.h"

/* Bodies over this size are sent gzip-compressed (CloudWatch accepts Content-Encoding: gzip). */
#define CW_GZIP_OVER (32 * 1024)
/* How often a failed instance metadata lookup (AutoScalingGroupName, InstanceId) is retried. */
#define CW_IMDS_RETRY apr_time_from_sec(600)

#define IMDS_ASG_PATH      "/latest/meta-data/tags/instance/aws:autoscaling:groupName"
#define IMDS_INSTANCE_PATH "/latest/meta-data/instance-id"

const cw_pub_calls_t cw_pub_calls_aws = {aws_sign_perform, aws_creds_imds_get, apr_time_now};

static void set64(apr_uint64_t *v, apr_uint64_t n)
{
    __atomic_store_n(v, n, __ATOMIC_RELAXED);
}

static void pub_add(apr_uint64_t *v, apr_uint64_t n)
{
    __atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

static void pub_error(cw_pub_t *w, const char *msg)
{
    /* one writer (this thread); a reader may see a mix of two messages, never past the end */
    apr_cpystrn(w->shm->pub.last_error, msg ? msg : "", sizeof(w->shm->pub.last_error));
}

static apr_uint32_t next_random(cw_pub_t *w)
{
    apr_uint32_t x = w->rnd;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return w->rnd = x;
}

/* --- instance metadata -------------------------------------------------------------------- */

static void resolve_dimensions(cw_pub_t *w, apr_time_t now, apr_pool_t *p)
{
    const char *v, *why = NULL;
    apr_status_t rv;

    if ((!w->need_asg || w->datum.asg) && (!w->need_instance || w->datum.instance_id)) {
        return;
    }
    if (w->imds_tried && now - w->imds_tried < CW_IMDS_RETRY) {
        return;
    }
    w->imds_tried = now;
    if (w->need_asg && !w->datum.asg) {
        rv = w->calls->imds_get(&v, &why, w->creds, IMDS_ASG_PATH, p);
        if (rv == APR_SUCCESS && *v && !cw_put_check_name(v, "dimension value", p)) {
            w->datum.asg = apr_pstrdup(w->pool, v);
        }
        else {
            lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, rv,
                          LFLOGNO(03010) "the AutoScalingGroupName dimension is left out: the "
                                         "instance metadata has no usable "
                                         "aws:autoscaling:groupName tag (%s; allow tags in the "
                                         "instance metadata, or set %s)",
                          why ? why : "not a dimension value", CW_ASG);
        }
    }
    if (w->need_instance && !w->datum.instance_id) {
        rv = w->calls->imds_get(&v, &why, w->creds, IMDS_INSTANCE_PATH, p);
        if (rv == APR_SUCCESS && *v && !cw_put_check_name(v, "dimension value", p)) {
            w->datum.instance_id = apr_pstrdup(w->pool, v);
        }
        else {
            lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, rv,
                          LFLOGNO(03011) "the InstanceId dimension is left out: no instance id "
                                         "from the instance metadata (%s; or set %s)",
                          why ? why : "not a dimension value", CW_INSTANCE_ID);
        }
    }
}

/* --- worker saturation -------------------------------------------------------------------- */

void cw_pub_saturation(cw_pub_t *w, int busy, int daemons, int threads)
{
    double pct;

    if (daemons < 1) {
        return;
    }
    if (threads < 1) {
        threads = 1;
    }
    pct = 100.0 * busy / ((double)daemons * threads);
    cw_datum_stats_add(&w->sat, pct > 100.0 ? 100.0 : pct);
}

/* --- one interval into request bodies ------------------------------------------------------ */

/* Empty the shared memory into one interval's request bodies, queued in the backlog. */
static void measure(cw_pub_t *w, apr_time_t now)
{
    cw_interval_t *iv;
    apr_array_header_t *datums;
    apr_pool_t *scratch;
    apr_status_t rv;
    int i;

    if (cw_backlog_interval(&iv, w->backlog, now) != APR_SUCCESS) {
        return;
    }
    resolve_dimensions(w, now, iv->pool);
    apr_pool_create(&scratch, iv->pool);
    datums = cw_datum_build(&w->datum, cw_shm_take(w->shm, scratch), &w->sat, now, scratch);
    memset(&w->sat, 0, sizeof(w->sat));
    rv = cw_put_bodies(&iv->bodies, w->conf->ns, (const cw_datum_t *)datums->elts, datums->nelts, 0,
                       CW_GZIP_OVER, iv->pool);
    apr_pool_destroy(scratch);
    pub_add(&w->shm->pub.intervals, 1);
    if (rv != APR_SUCCESS) {
        lf_log_perror(LF_LOG_MARK, LF_LOG_ERR, rv,
                      LFLOGNO(03012) "cannot build the PutMetricData requests of an interval; "
                                     "it is dropped");
        pub_add(&w->shm->pub.dropped, 1);
        apr_pool_destroy(iv->pool);
        return;
    }
    for (i = 0; i < iv->bodies->nelts; ++i) {
        iv->datums += APR_ARRAY_IDX(iv->bodies, i, cw_put_body_t).datums;
    }
    if (!iv->bodies->nelts) {
        apr_pool_destroy(iv->pool); /* nothing happened: nothing to send */
        return;
    }
    if (cw_backlog_push(w->backlog, iv)) {
        pub_add(&w->shm->pub.dropped, 1);
        lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, 0,
                      LFLOGNO(03013) "CloudWatch has not taken the last %d intervals: the oldest "
                                     "is dropped (%s %d)",
                      w->conf->backlog, CW_BACKLOG, w->conf->backlog);
    }
    set64(&w->shm->pub.backlog, (apr_uint64_t)cw_backlog_size(w->backlog));
}

/* --- sending ------------------------------------------------------------------------------ */

/* Send one body. 1: accepted; 0: CloudWatch refused it for good (dropped); -1: try later. */
static int send_body(cw_pub_t *w, const cw_put_body_t *b, int attempts, apr_pool_t *p)
{
    aws_http_request_t req;
    aws_http_response_t *resp = NULL;
    apr_array_header_t *headers = apr_array_make(p, 2, sizeof(aws_sigv4_header_t));
    aws_sigv4_header_t *h;
    const char *why;
    apr_status_t rv;

    h = apr_array_push(headers);
    h->name = "Content-Type";
    h->value = "application/x-www-form-urlencoded; charset=utf-8";
    if (b->gzip) {
        h = apr_array_push(headers);
        h->name = "Content-Encoding";
        h->value = "gzip";
    }
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = w->url;
    req.headers = headers;
    req.body = b->data;
    req.body_len = b->len;
    /* Retried on throttling, 5xx and connection errors. A retry after an answer that was lost
     * on the way back would count one interval twice: rare, and better than losing it. */
    req.idempotent = 1;
    req.max_attempts = attempts;
    /* the child is exiting: no retry, no backoff; stop() sends what is left in one try */
    req.give_up = w->stopping;
    req.give_up_baton = w->stopping_baton;

    __atomic_store_n(&w->shm->pub.last_attempt, w->calls->now(), __ATOMIC_RELAXED);
    rv = w->calls->perform(&resp, w->http, &w->signer, &req, NULL, p);
    __atomic_store_n(&w->shm->pub.last_status, resp ? resp->status : 0, __ATOMIC_RELAXED);
    if (rv == APR_SUCCESS && resp->status == 200) {
        __atomic_store_n(&w->shm->pub.last_success, w->calls->now(), __ATOMIC_RELAXED);
        pub_add(&w->shm->pub.requests_ok, 1);
        pub_add(&w->shm->pub.datums, (apr_uint64_t)b->datums);
        pub_add(&w->shm->pub.bytes_sent, b->len);
        pub_error(w, NULL);
        return 1;
    }
    pub_add(&w->shm->pub.requests_failed, 1);
    if (rv != APR_SUCCESS || !resp || !resp->status) {
        why = apr_psprintf(p, "no answer from %s: %s", w->url,
                           resp && resp->transport_error ? resp->transport_error : "failed");
        pub_error(w, why);
        /* why holds the cause (curl's words); rv was only derived from it */
        lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, 0,
                      LFLOGNO(03014) "PutMetricData: %s (after %d attempts); kept for later", why,
                      resp ? resp->attempts : attempts);
        return -1;
    }
    why = apr_psprintf(p, "HTTP %d %s: %s", resp->status,
                       resp->error && resp->error->code ? resp->error->code : "",
                       resp->error && resp->error->message ? resp->error->message : "");
    pub_error(w, why);
    if (aws_error_is_retryable(resp->status, resp->error ? resp->error->code : NULL)
        || resp->status == 401 || resp->status == 403) {
        /* throttled, CloudWatch in trouble, or credentials (an instance role being rotated, a
         * policy being fixed): the data is fine, try again later */
        lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, 0,
                      LFLOGNO(03015) "PutMetricData: %s (after %d attempts); kept for later", why,
                      resp->attempts);
        return -1;
    }
    lf_log_perror(LF_LOG_MARK, LF_LOG_ERR, 0,
                  LFLOGNO(03016) "PutMetricData refused %d datums for good, they are dropped: %s",
                  b->datums, why);
    pub_add(&w->shm->pub.rejected, 1);
    return 0;
}

/* Send what is queued, oldest first, until something fails. */
static void send_backlog(cw_pub_t *w, apr_time_t now, int attempts)
{
    cw_interval_t *iv;
    apr_pool_t *p;

    if (now < w->retry_at) {
        return;
    }
    apr_pool_create(&p, w->pool);
    while ((iv = cw_backlog_head(w->backlog))) {
        while (iv->next < iv->bodies->nelts) {
            /* the child is exiting: the rest waits for stop(), which sends it in one try */
            if (attempts > 1 && w->stopping(w->stopping_baton)) {
                goto done;
            }
            int sent =
                send_body(w, &APR_ARRAY_IDX(iv->bodies, iv->next, cw_put_body_t), attempts, p);

            apr_pool_clear(p);
            if (sent < 0) {
                /* back off across ticks too: a CloudWatch that is down is asked at most about
                 * once an interval, never in a tight loop */
                ++w->failures;
                w->retry_at = now
                              + aws_http_backoff(w->failures, w->conf->interval / 4,
                                                 w->conf->interval, next_random(w));
                goto done;
            }
            iv->next++;
        }
        __atomic_store_n(&w->shm->pub.last_interval, iv->end, __ATOMIC_RELAXED);
        cw_backlog_pop(w->backlog);
        w->failures = 0;
        w->retry_at = 0;
    }
done:
    set64(&w->shm->pub.backlog, (apr_uint64_t)cw_backlog_size(w->backlog));
    apr_pool_destroy(p);
}

/* --- the backlog across restarts ----------------------------------------------------------- */

/* What CloudWatch did not take when we stop goes to files for the next publisher: the new
 * generation's after a graceful restart (which adopts it at its next tick), the next start's
 * after a stop. The backlog's bound holds: the next publisher adopts into its own backlog. */
static void handover(cw_pub_t *w)
{
    apr_pool_t *p;
    apr_status_t rv;
    int saved;

    if (!cw_backlog_size(w->backlog) || apr_pool_create(&p, w->pool) != APR_SUCCESS) {
        return;
    }
    rv = cw_backlog_save(&saved, w->backlog, w->handover_dir, p);
    if (saved) {
        __atomic_add_fetch(&w->shm->pub.handovers, 1, __ATOMIC_ACQ_REL);
        lf_log_perror(LF_LOG_MARK, LF_LOG_NOTICE, 0,
                      LFLOGNO(03021) "%d interval(s) CloudWatch did not take are left in %s for "
                                     "the next publisher",
                      saved, w->handover_dir);
    }
    if (rv != APR_SUCCESS) {
        lf_log_perror(LF_LOG_MARK, LF_LOG_ERR, rv,
                      LFLOGNO(03022) "cannot leave the backlog in %s: %d interval(s) are lost",
                      w->handover_dir, cw_backlog_size(w->backlog));
    }
    set64(&w->shm->pub.backlog, 0);
    apr_pool_destroy(p);
}

/* Take what a stopped publisher left. */
static void adopt(cw_pub_t *w)
{
    apr_pool_t *p;
    apr_status_t rv;
    int adopted;

    apr_uint64_t dropped = cw_backlog_dropped(w->backlog);

    w->handovers_seen = __atomic_load_n(&w->shm->pub.handovers, __ATOMIC_ACQUIRE);
    if (apr_pool_create(&p, w->pool) != APR_SUCCESS) {
        return;
    }
    rv = cw_backlog_adopt(&adopted, w->backlog, w->handover_dir, p);
    /* over the backlog's bound, or not readable */
    pub_add(&w->shm->pub.dropped, cw_backlog_dropped(w->backlog) - dropped);
    if (adopted) {
        lf_log_perror(LF_LOG_MARK, LF_LOG_INFO, 0,
                      LFLOGNO(03023) "took over %d interval(s) a stopped publisher left", adopted);
        set64(&w->shm->pub.backlog, (apr_uint64_t)cw_backlog_size(w->backlog));
    }
    if (rv != APR_SUCCESS) {
        lf_log_perror(LF_LOG_MARK, LF_LOG_ERR, rv,
                      LFLOGNO(03024) "cannot read the backlog left in %s", w->handover_dir);
    }
    apr_pool_destroy(p);
}

/* --- the publisher --------------------------------------------------------------------------- */

static apr_time_t next_after(cw_pub_t *w, apr_time_t now)
{
    /* jitter up to a tenth of the interval (at most 5 s): a fleet started together does not
     * call CloudWatch in the same second */
    apr_interval_time_t j = w->conf->interval / 10;

    if (j > apr_time_from_sec(5)) {
        j = apr_time_from_sec(5);
    }
    return now + w->conf->interval
           + (j ? (apr_interval_time_t)(next_random(w) % (apr_uint64_t)j) : 0);
}

apr_status_t cw_pub_create(cw_pub_t **out, const cw_srv_conf *conf, cw_shm_t *shm,
                           aws_creds_provider_t *creds, const char *handover_dir,
                           int (*stopping)(void *baton), void *baton, apr_pool_t *p)
{
    cw_pub_t *w = apr_pcalloc(p, sizeof(*w));

    w->calls = &cw_pub_calls_aws;
    w->conf = conf;
    w->shm = shm;
    w->creds = creds;
    w->handover_dir = handover_dir;
    w->stopping = stopping;
    w->stopping_baton = baton;
    w->datum.sets = cw_conf_dim_sets(conf, p);
    w->datum.ttfb = conf->ttfb;
    w->datum.resolution = conf->resolution;
    *out = w;
    return APR_SUCCESS;
}

apr_status_t cw_pub_start(cw_pub_t *w, apr_pool_t *pool)
{
    const cw_srv_conf *c = w->conf;
    aws_http_config_t hc;
    apr_status_t rv;

    w->pool = pool;

    memset(&hc, 0, sizeof(hc));
    hc.timeout = c->timeout;
    hc.connect_timeout = c->timeout;
    hc.ca_file = c->ca_file;
    hc.max_attempts = c->attempts;
    if ((rv = aws_http_client_create(&w->http, &hc, w->pool)) != APR_SUCCESS) {
        return rv;
    }
    w->signer.creds = w->creds;
    w->signer.region = c->region;
    w->signer.service = "monitoring";
    aws_sigv4_cache_create(&w->signer.cache, w->pool);
    w->url = c->endpoint[strlen(c->endpoint) - 1] == '/'
                 ? c->endpoint
                 : apr_pstrcat(w->pool, c->endpoint, "/", NULL);
    if ((rv = cw_backlog_create(&w->backlog, c->backlog, w->pool)) != APR_SUCCESS) {
        return rv;
    }
    adopt(w);
    w->need_asg = cw_dims_use(w->datum.sets, CW_DIM_ASG);
    w->need_instance = cw_dims_use(w->datum.sets, CW_DIM_INSTANCE);
    w->datum.asg = c->asg;
    w->datum.instance_id = c->instance_id;
    if (apr_generate_random_bytes((unsigned char *)&w->rnd, sizeof(w->rnd)) != APR_SUCCESS
        || !w->rnd) {
        w->rnd = (apr_uint32_t)w->calls->now() | 1;
    }
    w->next_measure = next_after(w, w->calls->now());
    return APR_SUCCESS;
}

void cw_pub_run(cw_pub_t *w)
{
    apr_time_t now = w->calls->now();

    /* a publisher of the old generation stopped after we started (a graceful restart) */
    if (__atomic_load_n(&w->shm->pub.handovers, __ATOMIC_ACQUIRE) != w->handovers_seen) {
        adopt(w);
    }
    if (now >= w->next_measure) {
        measure(w, now);
        w->next_measure = next_after(w, now);
    }
    send_backlog(w, now, w->conf->attempts);
}

/* The child exits (a restart, a stop, MaxConnectionsPerChild, an idle child reaped): what was
 * measured since the last interval goes now, in one try each, so that an exit loses at most
 * what CloudWatch did not take. The next publisher (the new generation's, or another child's)
 * empties the same shared memory: nothing is sent twice. */
void cw_pub_stop(cw_pub_t *w)
{
    apr_time_t now = w->calls->now();

    measure(w, now);
    w->retry_at = 0;
    send_backlog(w, now, 1);
    handover(w);
}
