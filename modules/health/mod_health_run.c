/* mod_health_run — the thread that runs the checks.
 *
 * One process of the server runs the checks (a singleton thread of the lifecycle kit, so N
 * children do not multiply the load on the database): every tick it hands each check that is
 * due to a thread pool, so a hanging dependency delays only its own check. Results go to the
 * shared segment, where every child's request threads read them. When that child exits, the
 * kit stops the thread, which waits for the checks in flight (each bounded by its timeout)
 * before the child may exit: no check thread is still in a TLS handshake when OpenSSL is torn
 * down.
 */
#include <apr_strings.h>
#include <apr_thread_pool.h>
#include <unistd.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "lf_log.h"
#include "mod_lf_life.h"
#include "mod_health_config.h"
#include "mod_health_run.h"

APLOG_USE_MODULE(health);

/* The thread's tick: the granularity of intervals and of the liveness heartbeat. */
#define HEALTH_TICK apr_time_from_msec(100)
/* Checks run in parallel up to this many at a time. */
#define HEALTH_MAX_THREADS 16

/* A check as the check thread sees it; lives in the thread's pool of the one process that runs
 * checks. */
typedef struct runner {
    const hc_conf_check_t *check;
    server_rec *s;
    hc_shared_t *shared;     /* the segment, from post_config */
    apr_uint32_t generation; /* of the configuration that started us */
    int slot;
    hc_status_t status; /* our copy: this runner is the slot's only writer */
    apr_pool_t *pool;   /* own allocator, cleared before each run */
    apr_time_t next_due;
    apr_uint32_t busy; /* atomic: a run is queued or in progress */
} runner;

typedef struct watch_ctx {
    server_rec *s;
    hc_shared_t *shared;         /* the segment, from post_config */
    mod_lf_thread_t *thread;     /* per generation, from post_config */
    apr_pool_t *pool;            /* the thread's (own allocator), from start to stop */
    apr_array_header_t *runners; /* runner */
    apr_thread_pool_t *tp;
    const char *drain_file; /* HealthDrainFile, or NULL */
    int drain_file_seen;    /* whether it existed at the last tick */
} watch_ctx;

static void *APR_THREAD_FUNC run_check(apr_thread_t *thread, void *data)
{
    runner *rn = data;
    const hc_conf_check_t *hc = rn->check;
    const char *error = NULL;
    apr_time_t start, end;
    apr_status_t rv;
    int old;

    (void)thread;
    apr_pool_clear(rn->pool);
    start = apr_time_now();
    rv = hc->provider->run(&error, hc->ctx, rn->s, hc->timeout, rn->pool);
    end = apr_time_now();
    old = hc_status_apply(&rn->status, &hc->params, rv == APR_SUCCESS, error, end - start, end);
    /* After a graceful restart the new generation owns the slots; we only finish quietly. */
    if (__atomic_load_n(&rn->shared->generation, __ATOMIC_ACQUIRE) == rn->generation) {
        hc_status_publish(&rn->shared->slots[rn->slot], &rn->status);
        if (old >= 0 && rn->status.state == HC_STATE_DOWN) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, rn->s,
                         LFLOGNO(04010) "check '%s' (%s%s%s) "
                                        "is DOWN%s: %s",
                         hc->name, hc->type, hc->target ? " " : "", hc->target ? hc->target : "",
                         hc->severity == HC_SEV_CRITICAL ? ", readiness fails" : " (degraded)",
                         rn->status.error);
        }
        else if (old >= 0) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, rn->s,
                         LFLOGNO(04011) "check '%s' (%s) is "
                                        "UP (%.1f ms)",
                         hc->name, hc->type, rn->status.latency / 1000.0);
        }
    }
    __atomic_store_n(&rn->busy, 0, __ATOMIC_RELEASE);
    return NULL;
}

static apr_status_t watch_start(void *data, apr_pool_t *pool)
{
    watch_ctx *w = data;
    const health_srv_conf *c = health_conf(w->s);
    apr_uint32_t gen = __atomic_load_n(&w->shared->generation, __ATOMIC_ACQUIRE);
    int i, n = c->checks ? c->checks->nelts : 0;
    apr_status_t rv;

    w->pool = pool;
    w->drain_file = c->drain_file;
    w->drain_file_seen = -1;
    w->runners = apr_array_make(pool, n ? n : 1, sizeof(runner));
    for (i = 0; i < n; ++i) {
        runner *rn = apr_array_push(w->runners);
        memset(rn, 0, sizeof(*rn));
        rn->check = &APR_ARRAY_IDX(c->checks, i, hc_conf_check_t);
        rn->s = w->s;
        rn->shared = w->shared;
        rn->slot = i;
        rn->generation = gen;
        /* Carry the state over a graceful restart; attach_shared() reset foreign slots. */
        hc_status_read(&rn->status, &w->shared->slots[i], rn->check->name);
        /* its own allocator: the check tasks run on different threads */
        if ((rv = mod_lf_pool_create(&rn->pool, pool)) != APR_SUCCESS) {
            return rv;
        }
    }
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

/* The handler reads the drain file itself on every readiness request; here we only log when it
 * comes and goes, once for the whole server. */
static void watch_drain_file(watch_ctx *w, apr_pool_t *ptemp)
{
    apr_finfo_t finfo;
    int seen;

    if (!w->drain_file) {
        return;
    }
    seen = apr_stat(&finfo, w->drain_file, APR_FINFO_TYPE, ptemp) == APR_SUCCESS;
    if (seen && w->drain_file_seen != 1) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s,
                     LFLOGNO(04016) "draining: drain file %s "
                                    "is present, readiness answers 503",
                     w->drain_file);
    }
    else if (!seen && w->drain_file_seen == 1) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s,
                     LFLOGNO(04017) "drain file %s removed: "
                                    "draining stopped",
                     w->drain_file);
    }
    w->drain_file_seen = seen;
}

static void watch_tick(void *data, apr_pool_t *ptemp)
{
    watch_ctx *w = data;
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    int i;

    __atomic_store_n(&w->shared->heartbeat, now, __ATOMIC_RELEASE);
    __atomic_store_n(&w->shared->stall_logged, 0, __ATOMIC_RELEASE);
    watch_drain_file(w, ptemp);
    for (i = 0; i < w->runners->nelts; ++i) {
        runner *rn = &APR_ARRAY_IDX(w->runners, i, runner);
        if (now < rn->next_due || __atomic_exchange_n(&rn->busy, 1, __ATOMIC_ACQ_REL)) {
            continue;
        }
        rn->next_due = now + rn->check->interval;
        rv = apr_thread_pool_push(w->tp, run_check, rn, APR_THREAD_TASK_PRIORITY_NORMAL, w);
        if (rv != APR_SUCCESS) {
            __atomic_store_n(&rn->busy, 0, __ATOMIC_RELEASE);
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, w->s,
                         LFLOGNO(04003) "cannot queue check "
                                        "'%s'",
                         rn->check->name);
        }
    }
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
