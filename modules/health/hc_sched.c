/* hc_sched — the check thread's schedule, one check's run, and the drain file watch (see
 * hc_sched.h). */
#include <apr_file_info.h>
#include <apr_strings.h>

#include "hc_sched.h"

void hc_sched_shared_begin(hc_shared_t *shared, const apr_array_header_t *checks, apr_time_t now)
{
    int i;

    __atomic_add_fetch(&shared->generation, 1, __ATOMIC_SEQ_CST);
    shared->started = now;
    for (i = 0; checks && i < checks->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(checks, i, hc_conf_check_t).name;
        if (strcmp(shared->slots[i].name, name)) {
            hc_status_t fresh;
            hc_status_init(&fresh, name);
            hc_status_publish(&shared->slots[i], &fresh);
        }
    }
}

apr_status_t hc_sched_create(hc_sched_t **sched, const apr_array_header_t *checks,
                             hc_shared_t *shared, const char *drain_file,
                             hc_sched_pool_fn *pool_create, apr_pool_t *p)
{
    hc_sched_t *sd = apr_pcalloc(p, sizeof(*sd));
    int i, n = checks ? checks->nelts : 0;
    apr_status_t rv;

    sd->shared = shared;
    sd->generation = __atomic_load_n(&shared->generation, __ATOMIC_ACQUIRE);
    sd->now = apr_time_now;
    sd->drain_file = drain_file;
    sd->drain_file_seen = -1;
    sd->checks = apr_array_make(p, n ? n : 1, sizeof(hc_sched_check_t));
    for (i = 0; i < n; ++i) {
        hc_sched_check_t *sc = apr_array_push(sd->checks);
        memset(sc, 0, sizeof(*sc));
        sc->check = &APR_ARRAY_IDX(checks, i, hc_conf_check_t);
        sc->sched = sd;
        sc->slot = i;
        /* Carry the state over a graceful restart; hc_sched_shared_begin() reset foreign slots. */
        hc_status_read(&sc->status, &shared->slots[i], sc->check->name);
        /* its own allocator: the check's runs go to different threads */
        if ((rv = pool_create(&sc->pool, p)) != APR_SUCCESS) {
            return rv;
        }
    }
    *sched = sd;
    return APR_SUCCESS;
}

void hc_sched_tick(hc_sched_t *sched)
{
    apr_time_t now = sched->now();
    int i;

    __atomic_store_n(&sched->shared->heartbeat, now, __ATOMIC_RELEASE);
    __atomic_store_n(&sched->shared->stall_logged, 0, __ATOMIC_RELEASE);
    for (i = 0; i < sched->checks->nelts; ++i) {
        hc_sched_check_t *sc = &APR_ARRAY_IDX(sched->checks, i, hc_sched_check_t);
        if (now < sc->next_due || __atomic_exchange_n(&sc->busy, 1, __ATOMIC_ACQ_REL)) {
            continue;
        }
        sc->next_due = now + sc->check->interval;
        if (sched->submit(sc, sched->baton) != APR_SUCCESS) {
            hc_sched_done(sc);
        }
    }
}

int hc_sched_run(hc_sched_check_t *sc)
{
    const hc_sched_t *sched = sc->sched;
    const char *error = NULL;
    apr_time_t start, end;
    apr_status_t rv;
    int old;

    apr_pool_clear(sc->pool);
    start = sched->now();
    rv = sched->run(&error, sc->check, sched->baton, sc->pool);
    end = sched->now();
    old = hc_status_apply(&sc->status, &sc->check->params, rv == APR_SUCCESS, error, end - start,
                          end);
    /* After a graceful restart the new generation owns the slots; we only finish quietly. */
    if (__atomic_load_n(&sched->shared->generation, __ATOMIC_ACQUIRE) != sched->generation) {
        return -1;
    }
    hc_status_publish(&sched->shared->slots[sc->slot], &sc->status);
    return old;
}

void hc_sched_done(hc_sched_check_t *sc)
{
    __atomic_store_n(&sc->busy, 0, __ATOMIC_RELEASE);
}

hc_drain_file_e hc_sched_drain_file(hc_sched_t *sched, apr_pool_t *ptemp)
{
    apr_finfo_t finfo;
    int seen, before = sched->drain_file_seen;

    if (!sched->drain_file) {
        return HC_DRAIN_FILE_SAME;
    }
    seen = apr_stat(&finfo, sched->drain_file, APR_FINFO_TYPE, ptemp) == APR_SUCCESS;
    sched->drain_file_seen = seen;
    if (seen && before != 1) {
        return HC_DRAIN_FILE_APPEARED;
    }
    return !seen && before == 1 ? HC_DRAIN_FILE_REMOVED : HC_DRAIN_FILE_SAME;
}
