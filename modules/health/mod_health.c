/* mod_health — answers the load balancer's health checks.
 *
 * Readiness (what the ELB target group checks) and liveness are served from a quick handler,
 * before the application's rewrites and auth, from results that a background thread keeps in
 * shared memory: a health request never waits on a dependency. Draining, by a file or an
 * authenticated request, flips readiness to 503 while traffic is still served.
 *
 * This file: the module and its hooks, and the shared segment. The directives are in
 * mod_health_config.c, the handler in mod_health_handler.c, the check thread in
 * mod_health_run.c, the built-in check types in mod_health_checks.c; what needs no httpd is in
 * the core (hc_*.c).
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>

#include "hc_sched.h"
#include "mod_health_checks.h"
#include "mod_health_config.h"
#include "mod_health_handler.h"
#include "mod_health_run.h"

APLOG_USE_MODULE(health);
#include "mod_lf_life.h"
#include "mod_lf_log.h"

#define HEALTH_SHM_KEY "lampfarm:health"
/* Bump when the meaning of hc_shared_t changes (its size is checked anyway). */
#define HEALTH_SHM_LAYOUT 1

static int health_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    if (health_conf_pre_config(pconf) != APR_SUCCESS || mod_lf_libs_init() != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Every module is loaded now: resolve the check types (on every reading of the configuration,
 * `httpd -t` included, so a wrong type stops it as a syntax error would). */
static int health_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    const char *err;

    (void)plog;
    (void)ptemp;
    mod_lf_log_install(s);
    if ((err = health_conf_resolve_checks(s, pconf))) {
        /* printed as httpd prints a directive's error: the message alone */
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s, LFLOGNO(04018) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* The segment lives in the process pool: a graceful restart keeps it, with the check states
 * and the drain flag, so readiness does not flap while a deploy reloads the configuration. */
static apr_status_t attach_shared(hc_shared_t **shared, server_rec *s)
{
    hc_shared_t *shm;
    apr_status_t rv;

    rv = mod_lf_shm_attach((void **)&shm, NULL, HEALTH_SHM_KEY, sizeof(hc_shared_t),
                           HEALTH_SHM_LAYOUT, s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    hc_sched_shared_begin(shm, health_conf(s)->checks, apr_time_now());
    *shared = shm;
    return APR_SUCCESS;
}

static int health_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    hc_shared_t *shared;
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the dry run at startup: the next pass does the work */
    }
    if ((rv = attach_shared(&shared, s)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(04001) "cannot create the shared memory for check results");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    health_handler_attach(shared, s);
    if (health_thread_create(s, shared, pconf) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void health_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    health_thread_start(pchild);
}

static void health_register_hooks(apr_pool_t *p)
{
    health_register_builtin_checks(p);
    ap_hook_pre_config(health_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(health_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(health_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* last: the checks use what other modules make in their child_init (mod_session_kv's store
     * for the session-kv check) */
    ap_hook_child_init(health_child_init, NULL, NULL, APR_HOOK_REALLY_LAST);
    /* First among quick handlers: a health answer must not depend on a cache or anything else. */
    ap_hook_quick_handler(health_handler, NULL, NULL, APR_HOOK_FIRST);
}

module AP_MODULE_DECLARE_DATA health_module = {
    STANDARD20_MODULE_STUFF,
    NULL, /* per-directory config: none, health answers before <Location> applies */
    NULL,
    health_conf_create,
    health_conf_merge,
    health_cmds,
    health_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
