/* mod_cloudwatch_publish.c — the publisher's thread: one background thread per httpd (a
 * singleton thread of the lifecycle kit, so N child processes do not send N copies) that runs
 * the publisher (cw_pub: every interval the shared memory into PutMetricData requests, sent with
 * retries, a bounded backlog, a handover to the next publisher) and samples the worker
 * saturation from the scoreboard every tick.
 * Nothing here runs on a request thread; a request only ever touches the shared memory.
 */
#include <httpd.h>

#include <http_config.h>
#include <http_log.h>
#include <scoreboard.h>
#include <ap_mpm.h>

#include "cw_pub.h"
#include "lf_log.h"
#include "mod_lf_life.h"
#include "mod_cloudwatch_publish.h"

APLOG_USE_MODULE(cloudwatch);

/* The thread's tick: the worker saturation is sampled this often. */
#define CW_TICK apr_time_from_sec(1)

typedef struct cw_publisher {
    server_rec *s;
    cw_pub_t *pub;
    mod_lf_thread_spec spec; /* the thread, as this configuration wants it */
    mod_lf_thread_t *thread;
} cw_publisher;

/* This generation's publisher, from post_config; NULL when not configured. */
static cw_publisher *publisher;

static apr_status_t forget(void *ptr)
{
    *(cw_publisher **)ptr = NULL;
    return APR_SUCCESS;
}

static int thread_stopping(void *data)
{
    return mod_lf_thread_stopping(((cw_publisher *)data)->thread);
}

/* Count the busy workers of the scoreboard for a saturation sample. */
static void sample_saturation(cw_publisher *g)
{
    int limit_d = 0, limit_t = 0, max_d = 0, threads = 0, i, j, busy = 0;

    if (!ap_scoreboard_image) {
        return;
    }
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit_d);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &limit_t);
    ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &max_d);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
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
    cw_pub_saturation(g->pub, busy, max_d, threads);
}

static apr_status_t pub_start(void *data, apr_pool_t *pool)
{
    return cw_pub_start(((cw_publisher *)data)->pub, pool);
}

static void pub_run(void *data, apr_pool_t *ptemp)
{
    cw_publisher *g = data;

    (void)ptemp;
    sample_saturation(g);
    cw_pub_run(g->pub);
}

/* Whether requests were counted that no publisher took yet. */
static int pub_pending(void *data)
{
    return cw_shm_pending(((cw_publisher *)data)->pub->shm);
}

static void pub_stop(void *data)
{
    cw_pub_stop(((cw_publisher *)data)->pub);
}

apr_status_t cw_publish_create(server_rec *s, const cw_srv_conf *conf, cw_shm_t *shm,
                               apr_pool_t *pconf)
{
    const char *why = NULL, *dir;
    aws_creds_provider_t *creds;
    cw_publisher *g;
    apr_status_t rv;

    g = apr_pcalloc(pconf, sizeof(*g));
    g->s = s;
    /* Made here, as root: a key file may be readable by root only. The provider is
     * thread-safe and serves the publisher wherever it runs. */
    if ((rv = cw_conf_creds(&creds, &why, conf, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, lf_log_status(rv), s, LFLOGNO(03017) "%s: %s",
                     CW_CREDENTIALS, why ? why : "cannot be used");
        return rv;
    }
    if ((rv = mod_lf_runtime_dir(&dir, CW_HANDOVER_DIR, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(03025) "cannot make the directory %s in DefaultRuntimeDir",
                     CW_HANDOVER_DIR);
        return rv;
    }
    if ((rv = cw_pub_create(&g->pub, conf, shm, creds, dir, thread_stopping, g, pconf))
        != APR_SUCCESS) {
        return rv;
    }
    g->spec.name = "the CloudWatch publisher";
    g->spec.tick = CW_TICK;
    g->spec.singleton = 1;
    /* A child that exits while another publishes waits until that one's last send is over
     * (one attempt): what its own last requests measured is then sent by itself. */
    g->spec.last_turn = conf->timeout + apr_time_from_sec(1);
    g->spec.pending = pub_pending;
    g->spec.start = pub_start;
    g->spec.run = pub_run;
    g->spec.stop = pub_stop;
    publisher = g;
    apr_pool_cleanup_register(pconf, &publisher, forget, apr_pool_cleanup_null);
    return mod_lf_thread_create(&g->thread, &g->spec, g, s, pconf);
}

void cw_publish_child_init(apr_pool_t *pchild)
{
    if (publisher && mod_lf_thread_start(publisher->thread, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, publisher->s,
                     LFLOGNO(03018) "the CloudWatch publisher cannot start: nothing will be "
                                    "sent");
    }
}
