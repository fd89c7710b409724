/* mod_health_config — directives, per-server configuration and effective values of mod_health
 * (see mod_health_config.h). The setters read their arguments with the core (hc_conf, hc_probe)
 * and answer "<Directive>: <what is wrong>".
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_provider.h>

#include "hc_probe.h"
#include "mod_health_config.h"

APLOG_USE_MODULE(health);
#include "lf_conf.h"
#include "mod_lf_life.h"

/* The defaults, applied when a value is read (httpd never merges the main server). */
static const health_srv_conf defaults = {
    "/health/ready",       /* ready_path */
    "/health/live",        /* live_path */
    "/health/drain",       /* drain_path */
    NULL,                  /* allow: loopback, see loopback_allow */
    "health-check",        /* env: for CustomLog ... env=!health-check */
    NULL,                  /* checks: none */
    NULL,                  /* drain_file: none */
    NULL,                  /* drain_token: none, so draining over HTTP is off */
    30 * APR_USEC_PER_SEC, /* stall_timeout: liveness fails after 30s without a tick */
};

/* Loopback subnets of the default HealthDetailsAllow; built in pre_config, before threads. */
static apr_array_header_t *loopback_allow;

static health_srv_conf *srv_conf(const cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &health_module);
}

void *health_conf_create(apr_pool_t *p, server_rec *s)
{
    health_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->stall_timeout = LF_UNSET;
    return c;
}

void *health_conf_merge(apr_pool_t *p, void *basev, void *addv)
{
    health_srv_conf *base = basev, *add = addv, *n = apr_pcalloc(p, sizeof(*n));

    n->ready_path = LF_MERGE(add, base, ready_path, NULL);
    n->live_path = LF_MERGE(add, base, live_path, NULL);
    n->drain_path = LF_MERGE(add, base, drain_path, NULL);
    n->allow = LF_MERGE(add, base, allow, NULL);
    n->env = LF_MERGE(add, base, env, NULL);
    /* Global-only fields are read from the main server; a vhost carries them along. */
    n->checks = LF_MERGE(add, base, checks, NULL);
    n->drain_file = LF_MERGE(add, base, drain_file, NULL);
    n->drain_token = LF_MERGE(add, base, drain_token, NULL);
    n->stall_timeout = LF_MERGE(add, base, stall_timeout, LF_UNSET);
    return n;
}

/* --- directives --------------------------------------------------------------------------- */

/* HealthReadyPath, HealthLivePath, HealthDrainPath: cmd->info is the field's offset. */
static const char *set_path(cmd_parms *cmd, void *dc, const char *arg)
{
    const char **field = (const char **)((char *)srv_conf(cmd) + (apr_size_t)cmd->info);
    const char *why;

    (void)dc;
    if (hc_conf_path(field, &why, arg, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, why);
    }
    return NULL;
}

static const char *set_allow(cmd_parms *cmd, void *dc, const char *arg)
{
    health_srv_conf *c = srv_conf(cmd);
    const char *why;

    (void)dc;
    if (!c->allow) {
        c->allow = apr_array_make(cmd->pool, 4, sizeof(apr_ipsubnet_t *));
    }
    if (hc_conf_allow(c->allow, &why, arg, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", HEALTH_DETAILS_ALLOW, why);
    }
    return NULL;
}

static const char *set_drain_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *path, *why;

    (void)dc;
    if (err) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", HEALTH_DRAIN_FILE, arg);
    }
    if (hc_probe_dir_check(&why, path, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", HEALTH_DRAIN_FILE, why);
    }
    srv_conf(cmd)->drain_file = path;
    return NULL;
}

static const char *set_drain_token(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dc;
    return err ? err : mod_lf_secret(&srv_conf(cmd)->drain_token, cmd, arg);
}

static const char *set_env(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (!*arg) {
        return apr_psprintf(cmd->pool, "%s: the variable name is empty", HEALTH_ENV);
    }
    srv_conf(cmd)->env = arg;
    return NULL;
}

static const char *set_stall_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *why;

    (void)dc;
    if (err) {
        return err;
    }
    if (hc_conf_stall_timeout(&srv_conf(cmd)->stall_timeout, &why, arg, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", HEALTH_STALL_TIMEOUT, why);
    }
    return NULL;
}

/* HealthCheck <name> <type> [<target>] [key=value ...]: read now, its type resolved in
 * check_config (health_conf_resolve_checks). */
static const char *add_check(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *why;
    health_srv_conf *c = srv_conf(cmd);
    hc_conf_check_t *hc;

    (void)dc;
    if (err) {
        return err;
    }
    if (!c->checks) {
        c->checks = apr_array_make(cmd->pool, 4, sizeof(hc_conf_check_t));
    }
    if (hc_conf_add(&hc, &why, c->checks, argc, (const char *const *)argv, cmd->pool)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", HEALTH_CHECK, why);
    }
    hc->file = cmd->directive->filename;
    hc->line = cmd->directive->line_num;
    return NULL;
}

const command_rec health_cmds[] = {
    AP_INIT_TAKE1(HEALTH_READY_PATH, set_path, (void *)APR_OFFSETOF(health_srv_conf, ready_path),
                  RSRC_CONF, "URL path of the readiness check (the load balancer's), or none"),
    AP_INIT_TAKE1(HEALTH_LIVE_PATH, set_path, (void *)APR_OFFSETOF(health_srv_conf, live_path),
                  RSRC_CONF, "URL path of the liveness check, or none"),
    AP_INIT_TAKE1(HEALTH_DRAIN_PATH, set_path, (void *)APR_OFFSETOF(health_srv_conf, drain_path),
                  RSRC_CONF,
                  "URL path of the drain control (GET state, POST drain, DELETE undrain), or none"),
    AP_INIT_TAKE_ARGV(HEALTH_CHECK, add_check, NULL, RSRC_CONF,
                      "<name> <type> [<target>] [interval=5s] [timeout=2s] [rise=2] [fall=3] "
                      "[severity=critical|degraded] [type options]"),
    AP_INIT_ITERATE(HEALTH_DETAILS_ALLOW, set_allow, NULL, RSRC_CONF,
                    "Clients (IP or IP/bits) that may see details and control draining, or none"),
    AP_INIT_TAKE1(HEALTH_DRAIN_FILE, set_drain_file, NULL, RSRC_CONF,
                  "Readiness fails while this file exists"),
    AP_INIT_TAKE1(HEALTH_DRAIN_TOKEN, set_drain_token, NULL, RSRC_CONF,
                  "Bearer token for the drain control: file:/path or env:NAME"),
    AP_INIT_TAKE1(HEALTH_ENV, set_env, NULL, RSRC_CONF,
                  "Environment variable set on health requests (for CustomLog env=!...)"),
    AP_INIT_TAKE1(HEALTH_STALL_TIMEOUT, set_stall_timeout, NULL, RSRC_CONF,
                  "Liveness fails when the check thread has not run for this long"),
    {NULL},
};

/* --- after the configuration is read -------------------------------------------------------- */

apr_status_t health_conf_pre_config(apr_pool_t *pconf)
{
    return hc_conf_allow_loopback(&loopback_allow, pconf);
}

/* What is wrong with check @p hc, its provider resolved and configured; NULL if nothing. */
static const char *resolve_check(hc_conf_check_t *hc, apr_pool_t *pconf)
{
    const char *why;

    hc->provider = ap_lookup_provider(HEALTH_PROVIDER_GROUP, hc->type, HEALTH_PROVIDER_VERSION);
    if (!hc->provider) {
        return apr_psprintf(pconf,
                            "unknown check type '%s' (built in: tcp, http, mysql, file; "
                            "others need their module loaded)",
                            hc->type);
    }
    if (hc_conf_target(hc, &why, hc->provider->target == HEALTH_TARGET_REQUIRED, pconf)
        != APR_SUCCESS) {
        return why;
    }
    if ((why = hc->provider->configure(&hc->ctx, hc->target, hc->options, pconf))) {
        return why;
    }
    return hc_conf_unused(&why, hc, pconf) == APR_SUCCESS ? NULL : why;
}

const char *health_conf_resolve_checks(server_rec *s, apr_pool_t *pconf)
{
    const health_srv_conf *c = health_conf(s);
    const char *why;
    int i;

    for (i = 0; c->checks && i < c->checks->nelts; ++i) {
        hc_conf_check_t *hc = &APR_ARRAY_IDX(c->checks, i, hc_conf_check_t);
        if ((why = resolve_check(hc, pconf))) {
            return apr_psprintf(pconf, "%s: %s (line %d of %s)", HEALTH_CHECK, why, hc->line,
                                hc->file);
        }
    }
    return NULL;
}

/* --- effective values --------------------------------------------------------------------- */

const health_srv_conf *health_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &health_module);
}

const char *health_conf_ready_path(const health_srv_conf *c)
{
    return LF_DEFAULT(c, defaults, ready_path, NULL);
}

const char *health_conf_live_path(const health_srv_conf *c)
{
    return LF_DEFAULT(c, defaults, live_path, NULL);
}

const char *health_conf_drain_path(const health_srv_conf *c)
{
    return LF_DEFAULT(c, defaults, drain_path, NULL);
}

const char *health_conf_env(const health_srv_conf *c)
{
    return LF_DEFAULT(c, defaults, env, NULL);
}

const apr_array_header_t *health_conf_allow(const health_srv_conf *c)
{
    return c->allow ? c->allow : loopback_allow;
}

apr_interval_time_t health_conf_stall_timeout(const health_srv_conf *c)
{
    return LF_DEFAULT(c, defaults, stall_timeout, LF_UNSET);
}
