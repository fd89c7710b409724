/* mod_health_run — the thread that runs the checks.
 *
 * One process of the server runs the checks (a singleton thread of the lifecycle kit, so N
 * children do not multiply the load on the database): every tick it hands each check that is
 * due to a thread pool, so a hanging dependency delays only its own check. Results go to the
 * shared segment, where every child's request threads read them. When that child exits, the
 * kit stops the thread, which waits for the checks in flight (each bounded by its timeout)
 * before the child may exit: no check thread is still in a TLS handshake when OpenSSL is torn
 * down. When each check is due and what a run's result does are in the core (hc_sched); here
 * the kit's callbacks, the thread pool, the check types' providers and the log lines.
 */
#include <apr_thread_pool.h>
#include <unistd.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "lf_log.h"
#include "hc_sched.h"
#include "mod_lf_life.h"
#include "mod_health_config.h"
#include "mod_health_run.h"

APLOG_USE_MODULE(health);

/* The thread's tick: the granularity of intervals and of the liveness heartbeat. */
#define HEALTH_TICK apr_time_from_msec(100)
/* Checks run in parallel up to this many at a time. */
#define HEALTH_MAX_THREADS 16

typedef struct watch_ctx {
    server_rec *s;
    hc_shared_t *shared;     /* the segment, from post_config */
    mod_lf_thread_t *thread; /* per generation, from post_config */
    hc_sched_t *sched;       /* in the thread's pool (own allocator), from start to stop */
    apr_thread_pool_t *tp;
} watch_ctx;

/* hc_sched_run_fn: the check type's provider. */
static apr_status_t run_provider(const char **error, const hc_conf_check_t *hc, void *baton,
                                 apr_pool_t *p)
{
    const watch_ctx *w = baton;

    return hc->provider->run(error, hc->ctx, w->s, hc->timeout, p);
}

static void *APR_THREAD_FUNC run_check(apr_thread_t *thread, void *data)
{
    hc_sched_check_t *sc = data;
    const hc_conf_check_t *hc = sc->check;
    const watch_ctx *w = sc->sched->baton;
    int old;

    (void)thread;
    old = hc_sched_run(sc);
    if (old >= 0 && sc->status.state == HC_STATE_DOWN) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s,
                     LFLOGNO(04010) "check '%s' (%s%s%s) "
                                    "is DOWN%s: %s",
                     hc->name, hc->type, hc->target ? " " : "", hc->target ? hc->target : "",
                     hc->severity == HC_SEV_CRITICAL ? ", readiness fails" : " (degraded)",
                     sc->status.error);
    }
    else if (old >= 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s,
                     LFLOGNO(04011) "check '%s' (%s) is "
                                    "UP (%.1f ms)",
                     hc->name, hc->type, sc->status.latency / 1000.0);
    }
    hc_sched_done(sc);
    return NULL;
}

/* hc_sched_submit_fn: the thread pool. */
static apr_status_t submit(hc_sched_check_t *sc, void *baton)
{
    watch_ctx *w = baton;
    apr_status_t rv;

    rv = apr_thread_pool_push(w->tp, run_check, sc, APR_THREAD_TASK_PRIORITY_NORMAL, w);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, w->s,
                     LFLOGNO(04003) "cannot queue check "
                                    "'%s'",
                     sc->check->name);
    }
    return rv;
}

static apr_status_t watch_start(void *data, apr_pool_t *pool)
{
    watch_ctx *w = data;
    const health_srv_conf *c = health_conf(w->s);
    int n = c->checks ? c->checks->nelts : 0;
    apr_status_t rv;

    rv = hc_sched_create(&w->sched, c->checks, w->shared, c->drain_file, mod_lf_pool_create, pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    w->sched->run = run_provider;
    w->sched->submit = submit;
    w->sched->baton = w;
    if (n) {
        rv = apr_thread_pool_create(&w->tp, 0, n < HEALTH_MAX_THREADS ? n : HEALTH_MAX_THREADS,
                                    pool);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, w->s,
                 LFLOGNO(04002) "check thread started in pid "
                                "%" APR_PID_T_FMT " with %d checks",
                 getpid(), n);
    return APR_SUCCESS;
}

/* The drain file's coming and going is logged once for the whole server, here; the handler
 * reads the file itself on every readiness request. */
static void watch_tick(void *data, apr_pool_t *ptemp)
{
    watch_ctx *w = data;

    switch (hc_sched_drain_file(w->sched, ptemp)) {
    case HC_DRAIN_FILE_APPEARED:
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s,
                     LFLOGNO(04016) "draining: drain file %s "
                                    "is present, readiness answers 503",
                     w->sched->drain_file);
        break;
    case HC_DRAIN_FILE_REMOVED:
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s,
                     LFLOGNO(04017) "drain file %s removed: "
                                    "draining stopped",
                     w->sched->drain_file);
        break;
    case HC_DRAIN_FILE_SAME:
        break;
    }
    hc_sched_tick(w->sched);
}

/* The child exits: wait for the checks in flight, each bounded by its own timeout. */
static void watch_stop(void *data)
{
    watch_ctx *w = data;

    if (w->tp) {
        apr_thread_pool_destroy(w->tp);
        w->tp = NULL;
    }
}

static const mod_lf_thread_spec check_thread = {
    .name = "the health check thread",
    .tick = HEALTH_TICK,
    .singleton = 1,
    .start = watch_start,
    .run = watch_tick,
    .stop = watch_stop,
};

static watch_ctx *watch;

apr_status_t health_thread_create(server_rec *s, hc_shared_t *shared, apr_pool_t *pconf)
{
    watch = apr_pcalloc(pconf, sizeof(*watch));
    watch->s = s;
    watch->shared = shared;
    return mod_lf_thread_create(&watch->thread, &check_thread, watch, s, pconf);
}

void health_thread_start(apr_pool_t *pchild)
{
    if (watch && mod_lf_thread_start(watch->thread, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, watch->s,
                     LFLOGNO(04004) "cannot start the check thread; liveness will fail "
                                    "after " HEALTH_STALL_TIMEOUT);
    }
}
