/* mod_cloudwatch_publish.c — the publisher: one background thread per httpd (a singleton
 * thread of the lifecycle kit, so N child processes do not send N copies) that every interval
 * empties the shared memory into PutMetricData requests and sends them.
 *
 * Each interval becomes datums (cw_shm_take, cw_datum) and request bodies (cw_put) at once and
 * waits in a bounded backlog (cw_backlog) until CloudWatch accepts it: while CloudWatch is
 * unreachable or throttles, the thread keeps measuring, retries with backoff and jitter, and
 * drops the oldest interval (and counts it) once the backlog is full, so memory stays bounded.
 * Nothing here runs on a request thread; a request only ever touches the shared memory.
 */
#include <httpd.h>

#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <scoreboard.h>
#include <ap_mpm.h>

#include "aws_creds.h"
#include "aws_http.h"
#include "aws_sign.h"
#include "aws_sigv4.h"
#include "cw_backlog.h"
#include "cw_datum.h"
#include "cw_put.h"
#include "lf_log.h"
#include "mod_lf_life.h"
#include "mod_cloudwatch_publish.h"

APLOG_USE_MODULE(cloudwatch);

/* The thread's tick: the worker saturation is sampled this often. */
#define CW_TICK apr_time_from_sec(1)
/* Bodies over this size are sent gzip-compressed (CloudWatch accepts Content-Encoding: gzip). */
#define CW_GZIP_OVER (32 * 1024)
/* How often a failed instance metadata lookup (AutoScalingGroupName, InstanceId) is retried. */
#define CW_IMDS_RETRY apr_time_from_sec(600)

#define IMDS_ASG_PATH      "/latest/meta-data/tags/instance/aws:autoscaling:groupName"
#define IMDS_INSTANCE_PATH "/latest/meta-data/instance-id"

typedef struct cw_pub {
    server_rec *s;
    const cw_srv_conf *conf;
    cw_shm_t *shm;
    cw_datum_conf_t datum;   /* what the datums of an interval are made with */
    mod_lf_thread_spec spec; /* the thread, as this configuration wants it */
    mod_lf_thread_t *thread;
    apr_pool_t *pool; /* the thread's, with its own allocator */
    aws_creds_provider_t *creds;
    aws_http_client_t *http;
    aws_signer_t signer;
    cw_backlog_t *backlog;
    const char *handover_dir;    /* where a stopping publisher saves its backlog for the next */
    apr_uint64_t handovers_seen; /* shm->pub.handovers when we last adopted */
    const char *url;
    int need_asg, need_instance; /* and datum.asg, datum.instance_id: NULL, unknown */
    apr_time_t imds_tried;
    apr_time_t next_measure;
    apr_time_t retry_at;  /* after a failed send, not before this */
    int failures;         /* consecutive failed sends */
    apr_uint32_t rnd;     /* xorshift state, for jitter */
    cw_datum_stats_t sat; /* worker saturation samples of the interval under way, percent */
} cw_pub;

static int thread_stopping(void *thread)
{
    return mod_lf_thread_stopping(thread);
}

/* This generation's publisher, from post_config; NULL when not configured. */
static cw_pub *publisher;

static apr_status_t forget(void *ptr)
{
    *(cw_pub **)ptr = NULL;
    return APR_SUCCESS;
}

static void set64(apr_uint64_t *v, apr_uint64_t n)
{
    __atomic_store_n(v, n, __ATOMIC_RELAXED);
}

static void pub_add(apr_uint64_t *v, apr_uint64_t n)
{
    __atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

static void pub_error(cw_pub *w, const char *msg)
{
    /* one writer (this thread); a reader may see a mix of two messages, never past the end */
    apr_cpystrn(w->shm->pub.last_error, msg ? msg : "", sizeof(w->shm->pub.last_error));
}

static apr_uint32_t next_random(cw_pub *w)
{
    apr_uint32_t x = w->rnd;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return w->rnd = x;
}

/* --- instance metadata -------------------------------------------------------------------- */

static void resolve_dimensions(cw_pub *w, apr_time_t now, apr_pool_t *p)
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
        rv = aws_creds_imds_get(&v, &why, w->creds, IMDS_ASG_PATH, p);
        if (rv == APR_SUCCESS && *v && !cw_put_check_name(v, "dimension value", p)) {
            w->datum.asg = apr_pstrdup(w->pool, v);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, lf_log_status(rv), w->s,
                         LFLOGNO(03010) "the AutoScalingGroupName dimension is left out: the "
                                        "instance metadata has no usable aws:autoscaling:groupName "
                                        "tag (%s; allow tags in the instance metadata, or set %s)",
                         why ? why : "not a dimension value", CW_ASG);
        }
    }
    if (w->need_instance && !w->datum.instance_id) {
        rv = aws_creds_imds_get(&v, &why, w->creds, IMDS_INSTANCE_PATH, p);
        if (rv == APR_SUCCESS && *v && !cw_put_check_name(v, "dimension value", p)) {
            w->datum.instance_id = apr_pstrdup(w->pool, v);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_WARNING, lf_log_status(rv), w->s,
                         LFLOGNO(03011) "the InstanceId dimension is left out: no instance id "
                                        "from the instance metadata (%s; or set %s)",
                         why ? why : "not a dimension value", CW_INSTANCE_ID);
        }
    }
}

/* --- worker saturation -------------------------------------------------------------------- */

static void sample_saturation(cw_pub *w)
{
    int limit_d = 0, limit_t = 0, max_d = 0, threads = 0, i, j, busy = 0;
    double pct;

    if (!ap_scoreboard_image) {
        return;
    }
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit_d);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &limit_t);
    ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &max_d);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    if (threads < 1) {
        threads = 1;
    }
    if (max_d < 1) {
        return;
    }
    for (i = 0; i < limit_d; ++i) {
        for (j = 0; j < limit_t; ++j) {
            worker_score *ws = ap_get_scoreboard_worker_from_indexes(i, j);
            int st = ws ? ws->status : SERVER_DEAD;

            if (st != SERVER_DEAD && st != SERVER_STARTING && st != SERVER_READY
                && st != SERVER_IDLE_KILL) {
                ++busy;
            }
        }
    }
    pct = 100.0 * busy / ((double)max_d * threads);
    cw_datum_stats_add(&w->sat, pct > 100.0 ? 100.0 : pct);
}

/* --- one interval into request bodies ------------------------------------------------------ */

/* Empty the shared memory into one interval's request bodies, queued in the backlog. */
static void measure(cw_pub *w, apr_time_t now)
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
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, w->s,
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
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s,
                     LFLOGNO(03013) "CloudWatch has not taken the last %d intervals: the oldest "
                                    "is dropped (%s %d)",
                     w->conf->backlog, CW_BACKLOG, w->conf->backlog);
    }
    set64(&w->shm->pub.backlog, (apr_uint64_t)cw_backlog_size(w->backlog));
}

/* --- sending ------------------------------------------------------------------------------ */

/* Send one body. 1: accepted; 0: CloudWatch refused it for good (dropped); -1: try later. */
static int send_body(cw_pub *w, const cw_put_body_t *b, int attempts, apr_pool_t *p)
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
    req.give_up = thread_stopping;
    req.give_up_baton = w->thread;

    __atomic_store_n(&w->shm->pub.last_attempt, apr_time_now(), __ATOMIC_RELAXED);
    rv = aws_sign_perform(&resp, w->http, &w->signer, &req, NULL, p);
    __atomic_store_n(&w->shm->pub.last_status, resp ? resp->status : 0, __ATOMIC_RELAXED);
    if (rv == APR_SUCCESS && resp->status == 200) {
        __atomic_store_n(&w->shm->pub.last_success, apr_time_now(), __ATOMIC_RELAXED);
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
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s,
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
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s,
                     LFLOGNO(03015) "PutMetricData: %s (after %d attempts); kept for later", why,
                     resp->attempts);
        return -1;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, w->s,
                 LFLOGNO(03016) "PutMetricData refused %d datums for good, they are dropped: %s",
                 b->datums, why);
    pub_add(&w->shm->pub.rejected, 1);
    return 0;
}

/* Send what is queued, oldest first, until something fails. */
static void send_backlog(cw_pub *w, apr_time_t now, int attempts)
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
            if (attempts > 1 && mod_lf_thread_stopping(w->thread)) {
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
static void handover(cw_pub *w)
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
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s,
                     LFLOGNO(03021) "%d interval(s) CloudWatch did not take are left in %s for "
                                    "the next publisher",
                     saved, w->handover_dir);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, w->s,
                     LFLOGNO(03022) "cannot leave the backlog in %s: %d interval(s) are lost",
                     w->handover_dir, cw_backlog_size(w->backlog));
    }
    set64(&w->shm->pub.backlog, 0);
    apr_pool_destroy(p);
}

/* Take what a stopped publisher left. */
static void adopt(cw_pub *w)
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
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, w->s,
                     LFLOGNO(03023) "took over %d interval(s) a stopped publisher left", adopted);
        set64(&w->shm->pub.backlog, (apr_uint64_t)cw_backlog_size(w->backlog));
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, w->s,
                     LFLOGNO(03024) "cannot read the backlog left in %s", w->handover_dir);
    }
    apr_pool_destroy(p);
}

/* --- the thread ----------------------------------------------------------------------------- */

static apr_time_t next_after(cw_pub *w, apr_time_t now)
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

static apr_status_t pub_start(void *data, apr_pool_t *pool)
{
    cw_pub *w = data;
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
        w->rnd = (apr_uint32_t)apr_time_now() | 1;
    }
    w->next_measure = next_after(w, apr_time_now());
    return APR_SUCCESS;
}

static void pub_run(void *data, apr_pool_t *ptemp)
{
    cw_pub *w = data;
    apr_time_t now = apr_time_now();

    (void)ptemp;
    /* a publisher of the old generation stopped after we started (a graceful restart) */
    if (__atomic_load_n(&w->shm->pub.handovers, __ATOMIC_ACQUIRE) != w->handovers_seen) {
        adopt(w);
    }
    sample_saturation(w);
    if (now >= w->next_measure) {
        measure(w, now);
        w->next_measure = next_after(w, now);
    }
    send_backlog(w, now, w->conf->attempts);
}

/* Whether requests were counted that no publisher took yet. */
static int pub_pending(void *data)
{
    return cw_shm_pending(((cw_pub *)data)->shm);
}

/* The child exits (a restart, a stop, MaxConnectionsPerChild, an idle child reaped): what was
 * measured since the last interval goes now, in one try each, so that an exit loses at most
 * what CloudWatch did not take. The next publisher (the new generation's, or another child's)
 * empties the same shared memory: nothing is sent twice. */
static void pub_stop(void *data)
{
    cw_pub *w = data;
    apr_time_t now = apr_time_now();

    measure(w, now);
    w->retry_at = 0;
    send_backlog(w, now, 1);
    handover(w);
}

apr_status_t cw_publish_create(server_rec *s, const cw_srv_conf *conf, cw_shm_t *shm,
                               apr_pool_t *pconf)
{
    const char *why = NULL;
    cw_pub *w;
    apr_status_t rv;

    w = apr_pcalloc(pconf, sizeof(*w));
    w->s = s;
    w->conf = conf;
    w->shm = shm;
    w->datum.sets = cw_config_dim_sets(conf, pconf);
    w->datum.ttfb = conf->ttfb;
    w->datum.resolution = conf->resolution;
    /* Made here, as root: a key file may be readable by root only. The provider is
     * thread-safe and serves the publisher wherever it runs. */
    if ((rv = cw_config_creds(&w->creds, &why, conf, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, lf_log_status(rv), s, LFLOGNO(03017) "%s: %s",
                     CW_CREDENTIALS, why ? why : "cannot be used");
        return rv;
    }
    if ((rv = mod_lf_runtime_dir(&w->handover_dir, CW_HANDOVER_DIR, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(03025) "cannot make the directory %s in DefaultRuntimeDir",
                     CW_HANDOVER_DIR);
        return rv;
    }
    w->spec.name = "the CloudWatch publisher";
    w->spec.tick = CW_TICK;
    w->spec.singleton = 1;
    /* A child that exits while another publishes waits until that one's last send is over
     * (one attempt): what its own last requests measured is then sent by itself. */
    w->spec.last_turn = conf->timeout + apr_time_from_sec(1);
    w->spec.pending = pub_pending;
    w->spec.start = pub_start;
    w->spec.run = pub_run;
    w->spec.stop = pub_stop;
    publisher = w;
    apr_pool_cleanup_register(pconf, &publisher, forget, apr_pool_cleanup_null);
    return mod_lf_thread_create(&w->thread, &w->spec, w, s, pconf);
}

void cw_publish_child_init(apr_pool_t *pchild)
{
    if (publisher && mod_lf_thread_start(publisher->thread, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, publisher->s,
                     LFLOGNO(03018) "the CloudWatch publisher cannot start: nothing will be "
                                    "sent");
    }
}
