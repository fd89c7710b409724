/* mod_health — answers the load balancer's health checks.
 *
 * Readiness (what the ELB target group checks) and liveness are served from a quick handler,
 * before the application's rewrites and auth, from results that a background thread keeps in
 * shared memory (mod_health_run.c): a health request never waits on a dependency. Draining, by
 * a file or an authenticated request, flips readiness to 503 while traffic is still served.
 *
 * This file: configuration, directives, the shared segment and the handler.
 */
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_sha1.h>
#include <apr_crypto.h>
#include <unistd.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <ap_provider.h>
#include <scoreboard.h>

#include "lf_json.h"
#include "lf_log.h"
#include "lf_parse.h"
#include "hc_probe.h"
#include "mod_health_private.h"

APLOG_USE_MODULE(health);
#include "mod_lf_config.h"
#include "mod_lf_life.h"
#include "mod_lf_log.h"

#define HEALTH_SHM_KEY "lampfarm:health"
/* Bump when the meaning of health_shared changes (its size is checked anyway). */
#define HEALTH_SHM_LAYOUT 1

health_shared *health_shm;

/* The defaults, applied when a value is read (httpd never merges the main server). */
static const health_srv_conf defaults = {
    "/health/ready",       /* ready_path */
    "/health/live",        /* live_path */
    "/health/drain",       /* drain_path */
    NULL,                  /* allow: loopback, see allowed() */
    "health-check",        /* env: for CustomLog ... env=!health-check */
    NULL,                  /* checks: none */
    NULL,                  /* drain_file: none */
    NULL,                  /* drain_token: none, so draining over HTTP is off */
    30 * APR_USEC_PER_SEC, /* stall_timeout: liveness fails after 30s without a tick */
};

/* Loopback subnets of the default HealthDetailsAllow; built in pre_config, before threads. */
static apr_array_header_t *loopback_allow;

static health_srv_conf *conf_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &health_module);
}

static void *create_srv_conf(apr_pool_t *p, server_rec *s)
{
    health_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->stall_timeout = -1;
    return c;
}

static void *merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
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
    n->stall_timeout = LF_MERGE(add, base, stall_timeout, -1);
    return n;
}

/* --- directives --------------------------------------------------------------------------- */

static const char *set_path(cmd_parms *cmd, void *dc, const char *arg)
{
    health_srv_conf *c = conf_of(cmd->server);
    const char *name = cmd->cmd->name, *value = "";

    (void)dc;
    if (strcasecmp(arg, "none")) {
        if (arg[0] != '/') {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a path starting with '/' (or none)",
                                name, arg);
        }
        value = arg;
    }
    if (!strcmp(name, HEALTH_READY_PATH)) {
        c->ready_path = value;
    }
    else if (!strcmp(name, HEALTH_LIVE_PATH)) {
        c->live_path = value;
    }
    else {
        c->drain_path = value;
    }
    return NULL;
}

/* Parse "addr" or "addr/bits" into a subnet, as mod_authz_host does. */
static const char *parse_subnet(apr_ipsubnet_t **out, const char *arg, apr_pool_t *p)
{
    char *addr = apr_pstrdup(p, arg), *mask = strchr(addr, '/');

    if (mask) {
        *mask++ = '\0';
    }
    return apr_ipsubnet_create(out, addr, mask, p) == APR_SUCCESS ? NULL : arg;
}

static const char *set_allow(cmd_parms *cmd, void *dc, const char *arg)
{
    health_srv_conf *c = conf_of(cmd->server);
    apr_ipsubnet_t *net;

    (void)dc;
    if (!c->allow) {
        c->allow = apr_array_make(cmd->pool, 4, sizeof(apr_ipsubnet_t *));
    }
    if (!strcasecmp(arg, "none")) {
        return NULL; /* an empty list: nobody gets details or drain control */
    }
    if (parse_subnet(&net, arg, cmd->pool)) {
        return apr_psprintf(cmd->pool, "%s: bad address '%s' (expected an IP or IP/bits)",
                            HEALTH_DETAILS_ALLOW, arg);
    }
    APR_ARRAY_PUSH(c->allow, apr_ipsubnet_t *) = net;
    return NULL;
}

const char *health_dir_error(const char *path, apr_pool_t *p)
{
    const char *slash = strrchr(path, '/');
    const char *dir = !slash ? "." : slash == path ? "/" : apr_pstrmemdup(p, path, slash - path);
    apr_finfo_t finfo;

    if (apr_stat(&finfo, dir, APR_FINFO_TYPE, p) != APR_SUCCESS || finfo.filetype != APR_DIR
        || access(dir, R_OK | X_OK) != 0) {
        return apr_psprintf(p, "cannot read directory of '%s'", path);
    }
    return NULL;
}

static const char *set_drain_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    health_srv_conf *c = conf_of(cmd->server);
    const char *path;

    (void)dc;
    if (err) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", HEALTH_DRAIN_FILE, arg);
    }
    if ((err = health_dir_error(path, cmd->pool))) {
        return apr_psprintf(cmd->pool, "%s: %s", HEALTH_DRAIN_FILE, err);
    }
    c->drain_file = path;
    return NULL;
}

static const char *set_drain_token(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dc;
    return err ? err : mod_lf_secret(&conf_of(cmd->server)->drain_token, cmd, arg);
}

static const char *set_env(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (!*arg) {
        return apr_psprintf(cmd->pool, "%s: the variable name is empty", HEALTH_ENV);
    }
    conf_of(cmd->server)->env = arg;
    return NULL;
}

static const char *set_stall_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    health_srv_conf *c = conf_of(cmd->server);

    (void)dc;
    if (err) {
        return err;
    }
    if (lf_parse_duration(&c->stall_timeout, arg, "s") != APR_SUCCESS
        || c->stall_timeout < APR_USEC_PER_SEC) {
        return apr_psprintf(cmd->pool, "%s: bad duration '%s' (at least 1s, e.g. 30s or 2m)",
                            HEALTH_STALL_TIMEOUT, arg);
    }
    return NULL;
}

/* The options mod_health reads itself; the rest go to the check type's provider. */
static const char *check_option(health_check *hc, const char *key, const char *val, apr_pool_t *p)
{
    if (!strcmp(key, "interval") || !strcmp(key, "timeout")) {
        apr_interval_time_t *d = key[0] == 'i' ? &hc->interval : &hc->timeout;
        if (lf_parse_duration(d, val, "s") != APR_SUCCESS || *d < 100 * 1000) {
            return apr_psprintf(p, "bad duration '%s' for %s (at least 100ms, e.g. 5s)", val, key);
        }
    }
    else if (!strcmp(key, "rise") || !strcmp(key, "fall")) {
        int *n = key[0] == 'r' ? &hc->params.rise : &hc->params.fall;
        if (lf_parse_int(n, val, 1, 100) != APR_SUCCESS) {
            return apr_psprintf(p, "bad %s '%s' (a number from 1 to 100)", key, val);
        }
    }
    else if (!strcmp(key, "severity")) {
        if (!strcmp(val, "critical")) {
            hc->severity = HC_SEV_CRITICAL;
        }
        else if (!strcmp(val, "degraded")) {
            hc->severity = HC_SEV_DEGRADED;
        }
        else {
            return apr_psprintf(p, "bad severity '%s' (critical or degraded)", val);
        }
    }
    else {
        return ""; /* not ours */
    }
    return NULL;
}

static int valid_check_name(const char *name)
{
    const char *c;

    for (c = name; *c; ++c) {
        if (!apr_isalnum(*c) && !strchr("_.-", *c)) {
            return 0;
        }
    }
    return c != name && c - name < HC_NAME_LEN;
}

/* HealthCheck <name> <type> [<target>] [key=value ...] */
static const char *add_check(cmd_parms *cmd, void *dc, const char *args)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    health_srv_conf *c = conf_of(cmd->server);
    apr_table_t *options = apr_table_make(cmd->temp_pool, 4);
    const apr_array_header_t *left;
    health_check *hc;
    const char *word;
    int i;

    (void)dc;
    if (err) {
        return err;
    }
    if (!c->checks) {
        c->checks = apr_array_make(cmd->pool, 4, sizeof(health_check));
    }
    if (c->checks->nelts >= HC_MAX_CHECKS) {
        return apr_psprintf(cmd->pool, "%s: at most %d checks", HEALTH_CHECK, HC_MAX_CHECKS);
    }
    hc = apr_array_push(c->checks);
    memset(hc, 0, sizeof(*hc));
    hc->interval = 5 * APR_USEC_PER_SEC;
    hc->timeout = 2 * APR_USEC_PER_SEC;
    hc->params.rise = 2;
    hc->params.fall = 3;
    hc->severity = HC_SEV_CRITICAL;

    hc->name = ap_getword_conf(cmd->pool, &args);
    hc->type = ap_getword_conf(cmd->pool, &args);
    if (!*hc->name || !*hc->type) {
        return apr_psprintf(cmd->pool, "%s: expected <name> <type> [<target>] [key=value ...]",
                            HEALTH_CHECK);
    }
    if (!valid_check_name(hc->name)) {
        return apr_psprintf(cmd->pool,
                            "%s: bad check name '%s' (letters, digits, '_.-', "
                            "at most %d)",
                            HEALTH_CHECK, hc->name, HC_NAME_LEN - 1);
    }
    for (i = 0; i < c->checks->nelts - 1; ++i) {
        if (!strcmp(APR_ARRAY_IDX(c->checks, i, health_check).name, hc->name)) {
            return apr_psprintf(cmd->pool, "%s: duplicate check name '%s'", HEALTH_CHECK, hc->name);
        }
    }
    hc->provider = ap_lookup_provider(HEALTH_PROVIDER_GROUP, hc->type, HEALTH_PROVIDER_VERSION);
    if (!hc->provider) {
        return apr_psprintf(cmd->pool,
                            "%s: unknown check type '%s' (built in: tcp, http, "
                            "mysql, file; others need their module loaded before this line)",
                            HEALTH_CHECK, hc->type);
    }
    if (hc->provider->target == HEALTH_TARGET_REQUIRED) {
        hc->target = ap_getword_conf(cmd->pool, &args);
        if (!*hc->target || (strchr(hc->target, '=') && !strchr(hc->target, '/'))) {
            return apr_psprintf(cmd->pool, "%s: missing target for check '%s' of type %s",
                                HEALTH_CHECK, hc->name, hc->type);
        }
    }
    while (*(word = ap_getword_conf(cmd->temp_pool, &args))) {
        const char *eq = strchr(word, '=');
        const char *key = eq ? apr_pstrmemdup(cmd->temp_pool, word, eq - word) : word;
        const char *val = eq ? eq + 1 : "";
        if (!eq || !*key) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not key=value", HEALTH_CHECK, word);
        }
        err = check_option(hc, key, val, cmd->pool);
        if (err && *err) {
            return apr_psprintf(cmd->pool, "%s: %s", HEALTH_CHECK, err);
        }
        if (err) {
            apr_table_set(options, key, val);
        }
    }
    if (hc->timeout > hc->interval) {
        return apr_psprintf(cmd->pool, "%s: timeout must not exceed interval (check '%s')",
                            HEALTH_CHECK, hc->name);
    }
    if ((err = hc->provider->configure(&hc->ctx, hc->target, options, cmd->pool))) {
        return apr_psprintf(cmd->pool, "%s: %s", HEALTH_CHECK, err);
    }
    left = apr_table_elts(options);
    if (left->nelts) {
        return apr_psprintf(cmd->pool, "%s: unknown option '%s' for type %s", HEALTH_CHECK,
                            APR_ARRAY_IDX(left, 0, apr_table_entry_t).key, hc->type);
    }
    return NULL;
}

static const command_rec health_cmds[] = {
    AP_INIT_TAKE1(HEALTH_READY_PATH, set_path, NULL, RSRC_CONF,
                  "URL path of the readiness check (the load balancer's), or none"),
    AP_INIT_TAKE1(HEALTH_LIVE_PATH, set_path, NULL, RSRC_CONF,
                  "URL path of the liveness check, or none"),
    AP_INIT_TAKE1(HEALTH_DRAIN_PATH, set_path, NULL, RSRC_CONF,
                  "URL path of the drain control (GET state, POST drain, DELETE undrain), or none"),
    AP_INIT_RAW_ARGS(HEALTH_CHECK, add_check, NULL, RSRC_CONF,
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

/* --- state ---------------------------------------------------------------------------------- */

static int health_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    static const char *const loopback[] = {"127.0.0.1", "::1"};
    apr_ipsubnet_t *net;
    apr_size_t i;

    (void)plog;
    (void)ptemp;
    loopback_allow = apr_array_make(pconf, 2, sizeof(apr_ipsubnet_t *));
    for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); ++i) {
        if (!parse_subnet(&net, loopback[i], pconf)) {
            APR_ARRAY_PUSH(loopback_allow, apr_ipsubnet_t *) = net;
        }
    }
    return mod_lf_libs_init() == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* The segment lives in the process pool: a graceful restart keeps it, with the check states
 * and the drain flag, so readiness does not flap while a deploy reloads the configuration. */
static apr_status_t attach_shared(server_rec *s)
{
    health_srv_conf *c = conf_of(s);
    apr_status_t rv;
    int i;

    rv = mod_lf_shm_attach((void **)&health_shm, NULL, HEALTH_SHM_KEY, sizeof(health_shared),
                           HEALTH_SHM_LAYOUT, s);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    __atomic_add_fetch(&health_shm->generation, 1, __ATOMIC_SEQ_CST);
    health_shm->started = apr_time_now();
    /* A slot keeps its state if it still belongs to the same check. */
    for (i = 0; c->checks && i < c->checks->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(c->checks, i, health_check).name;
        if (strcmp(health_shm->slots[i].name, name)) {
            hc_status_t fresh;
            hc_status_init(&fresh, name);
            hc_status_publish(&health_shm->slots[i], &fresh);
        }
    }
    return APR_SUCCESS;
}

static int health_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    mod_lf_log_install(s);
    return OK;
}

static int health_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv;

    (void)plog;
    (void)ptemp;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the dry run at startup: the next pass does the work */
    }
    if ((rv = attach_shared(s)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(04001) "cannot create the shared memory for check results");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (health_thread_create(s, pconf) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void health_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    health_thread_start(pchild);
}

/* --- the handler ---------------------------------------------------------------------------- */

typedef enum { EP_READY, EP_LIVE, EP_DRAIN } endpoint_e;

static int allowed(request_rec *r, const health_srv_conf *c)
{
    const apr_array_header_t *list = c->allow ? c->allow : loopback_allow;
    int i;

    for (i = 0; i < list->nelts; ++i) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(list, i, apr_ipsubnet_t *), r->useragent_addr)) {
            return 1;
        }
    }
    return 0;
}

/* Requests being processed now on this server, this one excluded (from the scoreboard). */
static int in_flight(void)
{
    int i, j, n = 0;

    if (!ap_scoreboard_image) {
        return 0;
    }
    for (i = 0; i < ap_scoreboard_image->global->server_limit; ++i) {
        for (j = 0; j < ap_scoreboard_image->global->thread_limit; ++j) {
            int st = ap_scoreboard_image->servers[i][j].status;
            n += st == SERVER_BUSY_WRITE || st == SERVER_BUSY_LOG || st == SERVER_BUSY_DNS;
        }
    }
    return n > 0 ? n - 1 : 0;
}

typedef struct drain_state {
    apr_time_t since;   /* 0 = not draining */
    const char *source; /* "file", "api" or NULL */
} drain_state;

static drain_state drain_now(const health_srv_conf *main, apr_pool_t *p)
{
    drain_state d = {0, NULL};
    apr_finfo_t finfo;

    if (main->drain_file && apr_stat(&finfo, main->drain_file, APR_FINFO_MTIME, p) == APR_SUCCESS) {
        d.since = finfo.mtime;
        d.source = "file";
    }
    else if ((d.since = __atomic_load_n(&health_shm->drain_since, __ATOMIC_ACQUIRE))) {
        d.source = "api";
    }
    return d;
}

static const char *drain_json(const drain_state *d, apr_pool_t *p)
{
    return apr_psprintf(p, "{\"draining\":%s,\"since\":%s,\"source\":%s}\n",
                        d->since ? "true" : "false", lf_json_time(d->since, p),
                        lf_json_str(d->source, p));
}

static int respond(request_rec *r, int status, const char *type, const char *body)
{
    r->status = status;
    ap_set_content_type(r, type);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, strlen(body));
    if (!r->header_only) {
        ap_rputs(body, r);
    }
    return OK;
}

static int stalled(const health_srv_conf *main, apr_time_t now)
{
    apr_time_t beat = __atomic_load_n(&health_shm->heartbeat, __ATOMIC_ACQUIRE);
    apr_time_t since = beat > health_shm->started ? beat : health_shm->started;

    return now - since > LF_DEFAULT(main, defaults, stall_timeout, -1);
}

static int serve_health(request_rec *r, const health_srv_conf *c, const health_srv_conf *main,
                        endpoint_e ep)
{
    const apr_array_header_t *checks = main->checks;
    int n = checks ? checks->nelts : 0, i, failed, live, ready;
    hc_status_t *snap = apr_pcalloc(r->pool, sizeof(hc_status_t) * (n ? n : 1));
    int *sev = apr_pcalloc(r->pool, sizeof(int) * (n ? n : 1));
    apr_time_t now = apr_time_now();
    drain_state drain = {0, NULL};
    hc_verdict_e verdict = HC_READY;
    apr_array_header_t *parts;
    const char *reason;

    live = !stalled(main, now);
    if (!live && !__atomic_exchange_n(&health_shm->stall_logged, 1, __ATOMIC_ACQ_REL)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(04015) "liveness failing: the check "
                                     "thread has not run for more than %s",
                      lf_format_duration(LF_DEFAULT(main, defaults, stall_timeout, -1), r->pool));
    }
    if (ep == EP_READY || r->args) {
        drain = drain_now(main, r->pool);
        for (i = 0; i < n; ++i) {
            const health_check *hc = &APR_ARRAY_IDX(checks, i, health_check);
            hc_status_snapshot(&snap[i], &health_shm->slots[i]);
            if (strcmp(snap[i].name, hc->name)) {
                hc_status_init(&snap[i], hc->name); /* mid-restart: the slot is not ours yet */
            }
            sev[i] = hc->severity;
        }
        verdict = hc_verdict(snap, sev, n, drain.since != 0, &failed);
        if (verdict == HC_READY && !live) {
            verdict = HC_NOT_READY_STARTING;
        }
    }
    ready = verdict == HC_READY;
    if (ep == EP_LIVE) {
        ready = live;
    }
    if (!r->args || strcmp(r->args, "details") || !allowed(r, c)) {
        return respond(r, ready ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE, "text/plain",
                       ready ? "OK\n" : "UNAVAILABLE\n");
    }

    switch (verdict) {
    case HC_READY:
        reason = "ok";
        break;
    case HC_NOT_READY_DRAINING:
        reason = "draining";
        break;
    case HC_NOT_READY_STARTING:
        reason = live ? "starting" : "check thread stalled";
        break;
    default:
        reason = apr_pstrcat(
            r->pool, "check failed: ", APR_ARRAY_IDX(checks, failed, health_check).name, NULL);
    }
    parts = apr_array_make(r->pool, n + 2, sizeof(const char *));
    APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(
        r->pool,
        "{\"status\":\"%s\",\"reason\":%s,\"live\":%s,\"draining\":%s,\"draining_since\":%s,"
        "\"drain_source\":%s,\"in_flight\":%d,\"checks\":[",
        ready ? "ready" : "unavailable", lf_json_str(reason, r->pool), live ? "true" : "false",
        drain.since ? "true" : "false", lf_json_time(drain.since, r->pool),
        lf_json_str(drain.source, r->pool), in_flight());
    for (i = 0; i < n; ++i) {
        const health_check *hc = &APR_ARRAY_IDX(checks, i, health_check);
        APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(
            r->pool,
            "%s{\"name\":%s,\"type\":%s,\"target\":%s,\"severity\":\"%s\",\"state\":\"%s\","
            "\"since\":%s,\"latency_ms\":%s,\"error\":%s,\"checked_at\":%s,\"runs\":"
            "%" APR_UINT64_T_FMT ",\"failures\":%" APR_UINT64_T_FMT "}",
            i ? "," : "", lf_json_str(hc->name, r->pool), lf_json_str(hc->type, r->pool),
            lf_json_str(hc->target, r->pool),
            hc->severity == HC_SEV_CRITICAL ? "critical" : "degraded", hc_state_name(snap[i].state),
            lf_json_time(snap[i].since, r->pool),
            snap[i].checked_at ? apr_psprintf(r->pool, "%.3f", snap[i].latency / 1000.0) : "null",
            lf_json_str(snap[i].checked_at && snap[i].error[0] ? snap[i].error : NULL, r->pool),
            lf_json_time(snap[i].checked_at, r->pool), snap[i].runs, snap[i].failures);
    }
    APR_ARRAY_PUSH(parts, const char *) = "]}\n";
    return respond(r, ready ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE, "application/json",
                   apr_array_pstrcat(r->pool, parts, 0));
}

/* Constant-time comparison of the presented token with the configured one. */
static int token_matches(const char *given, const char *secret)
{
    unsigned char a[APR_SHA1_DIGESTSIZE], b[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;

    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, given, (unsigned)strlen(given));
    apr_sha1_final(a, &ctx);
    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, secret, (unsigned)strlen(secret));
    apr_sha1_final(b, &ctx);
    return apr_crypto_equals(a, b, sizeof(a));
}

static int refuse(request_rec *r, int status, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  LFLOGNO(04014) "drain request (%s) from %s "
                                 "refused: %s",
                  r->method, r->useragent_ip, why);
    if (status == HTTP_UNAUTHORIZED) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", "Bearer realm=\"lampfarm-health\"");
    }
    return respond(r, status, "text/plain",
                   status == HTTP_UNAUTHORIZED ? "Unauthorized\n" : "Forbidden\n");
}

static int serve_drain(request_rec *r, const health_srv_conf *c, const health_srv_conf *main)
{
    const char *auth;
    drain_state d;
    apr_time_t zero = 0, since;

    if (r->method_number != M_GET && r->method_number != M_POST && r->method_number != M_DELETE) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD, POST, DELETE");
        return respond(r, HTTP_METHOD_NOT_ALLOWED, "text/plain", "Method Not Allowed\n");
    }
    if (!allowed(r, c)) {
        if (r->method_number == M_GET) {
            return respond(r, HTTP_FORBIDDEN, "text/plain", "Forbidden\n");
        }
        return refuse(r, HTTP_FORBIDDEN, "client not in " HEALTH_DETAILS_ALLOW);
    }
    if (r->method_number == M_GET) {
        d = drain_now(main, r->pool);
        return respond(r, HTTP_OK, "application/json", drain_json(&d, r->pool));
    }
    if (ap_discard_request_body(r) != OK) {
        return respond(r, HTTP_BAD_REQUEST, "text/plain", "Bad Request\n");
    }
    if (!main->drain_token) {
        return refuse(r, HTTP_FORBIDDEN, "no " HEALTH_DRAIN_TOKEN " configured");
    }
    auth = apr_table_get(r->headers_in, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7)) {
        return refuse(r, HTTP_UNAUTHORIZED, "no bearer token");
    }
    if (!token_matches(auth + 7, main->drain_token)) {
        return refuse(r, HTTP_UNAUTHORIZED, "wrong token");
    }
    if (r->method_number == M_POST) {
        since = apr_time_now();
        if (__atomic_compare_exchange_n(&health_shm->drain_since, &zero, since, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          LFLOGNO(04012) "draining started "
                                         "(requested by %s): readiness answers 503",
                          r->useragent_ip);
        }
    }
    else {
        d = drain_now(main, r->pool);
        if (d.source && !strcmp(d.source, "file")) {
            return respond(
                r, HTTP_CONFLICT, "text/plain",
                apr_psprintf(r->pool, "draining by file %s: remove the file\n", main->drain_file));
        }
        if (__atomic_exchange_n(&health_shm->drain_since, 0, __ATOMIC_ACQ_REL)) {
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                          LFLOGNO(04013) "draining stopped "
                                         "(requested by %s)",
                          r->useragent_ip);
        }
    }
    d = drain_now(main, r->pool);
    return respond(r, HTTP_OK, "application/json", drain_json(&d, r->pool));
}

static int health_handler(request_rec *r, int lookup)
{
    const health_srv_conf *c = conf_of(r->server), *main = conf_of(ap_server_conf);
    const char *path = r->parsed_uri.path;
    endpoint_e ep;

    if (lookup || r->main || !path || !health_shm) {
        return DECLINED;
    }
    if (!strcmp(path, LF_DEFAULT(c, defaults, ready_path, NULL))) {
        ep = EP_READY;
    }
    else if (!strcmp(path, LF_DEFAULT(c, defaults, live_path, NULL))) {
        ep = EP_LIVE;
    }
    else if (!strcmp(path, LF_DEFAULT(c, defaults, drain_path, NULL))) {
        ep = EP_DRAIN;
    }
    else {
        return DECLINED;
    }
    apr_table_setn(r->subprocess_env, LF_DEFAULT(c, defaults, env, NULL), "1");
    if (ep == EP_DRAIN) {
        return serve_drain(r, c, main);
    }
    if (r->method_number != M_GET) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return respond(r, HTTP_METHOD_NOT_ALLOWED, "text/plain", "Method Not Allowed\n");
    }
    return serve_health(r, c, main, ep);
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
    create_srv_conf,
    merge_srv_conf,
    health_cmds,
    health_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
