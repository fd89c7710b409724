/* mod_session_kv_config — mod_session_kv's configuration (see mod_session_kv.c for the module):
 * the directives and their checks, the per-server and per-directory configs with their defaults
 * (applied when a value is read), and the runtimes built from them at startup: one store
 * configuration per distinct SessionKVStore setting (its backend, TLS, IAM tokens, keys),
 * whose store each child makes in child_init.
 */
#include <stddef.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <ap_mpm.h>

#include "aws_creds.h"
#include "aws_elasticache.h"
#include "lf_log.h"
#include "lf_parse.h"
#include "skv_backend.h"
#include "skv_cookie.h"
#include "skv_envelope.h"
#include "skv_id.h"
#include "skv_memcached.h"
#include "skv_mysql.h"
#include "mod_session_kv_config.h"

APLOG_USE_MODULE(session_kv);
#include "mod_lf_life.h"
#include "mod_lf_log.h"

/* --- configuration ---------------------------------------------------------------------- */

static const skv_srv_conf srv_defaults = {
    NULL,                    /* url */
    NULL,                    /* password: none (or in the URL) */
    NULL,                    /* ca_file: the system's trust store */
    NULL,                    /* iam_cache: AUTH with a password, if any */
    NULL,                    /* iam_region */
    0,                       /* iam_serverless */
    "default",               /* creds_kind: environment, profile, instance role */
    NULL,                    /* creds_arg */
    200 * 1000,              /* connect_timeout: 200 ms, a LAN backend answers in one */
    500 * 1000,              /* timeout: 500 ms, then the failure policy applies */
    10 * APR_USEC_PER_SEC,   /* retry_interval: a server marked down is retried after 10 s */
    0,                       /* connections: one per worker thread */
    "skv:",                  /* prefix */
    NULL,                    /* key_file */
    1440 * APR_USEC_PER_SEC, /* idle_timeout: 24 min, PHP's session.gc_maxlifetime */
    0,                       /* max_lifetime: none, as with PHP's file sessions */
    60 * APR_USEC_PER_SEC,   /* touch_interval: one expiry refresh a minute per session */
    64 * 1024,               /* max_size: 64 KiB; a bigger session is a bug in the app */
    1,                       /* merge */
    32,                      /* attempts: each conflict means another request's write got
                                through, so a burst of N parallel writers of one session
                                needs at most N attempts; 32 covers a page's AJAX burst */
    0,                       /* discovery: the URL lists the servers themselves */
    60 * APR_USEC_PER_SEC,   /* refresh_every: 60 s, what ElastiCache's own clients do; a node
                                added is used within a minute, a node removed took its
                                sessions with it anyway */
    NULL,
};

/* Open by default: a cache outage should not take the site down; the user sees an empty
 * session (logged out) for as long as it lasts, and the stored sessions are left untouched. */
const skv_dir_conf skv_dir_defaults = {
    0,    NULL, POLICY_OPEN, "X-Session-Regenerate",
    8000, /* env_part_size: mod_proxy_fcgi drops a variable over about 16 KB (AH02536) */
};

/* The cookie of a section without SessionKVCookie: set once in register_hooks. */
static skv_cookie_t cookie_default;

void *skv_create_dir_conf(apr_pool_t *p, char *dir)
{
    skv_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->enabled = LF_UNSET;
    c->policy = POLICY_UNSET;
    c->env_part_size = LF_UNSET;
    return c;
}

void *skv_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    skv_dir_conf *base = basev, *add = addv, *n = apr_pcalloc(p, sizeof(*n));

    n->enabled = LF_MERGE(add, base, enabled, LF_UNSET);
    n->cookie = LF_MERGE(add, base, cookie, NULL);
    n->policy = LF_MERGE(add, base, policy, POLICY_UNSET);
    n->regen_header = LF_MERGE(add, base, regen_header, NULL);
    n->env_part_size = LF_MERGE(add, base, env_part_size, LF_UNSET);
    return n;
}

void *skv_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    skv_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->connect_timeout = c->timeout = c->retry_interval = LF_UNSET;
    c->connections = LF_UNSET;
    c->idle_timeout = c->max_lifetime = c->touch_interval = LF_UNSET;
    c->max_size = LF_UNSET;
    c->merge = c->attempts = LF_UNSET;
    c->iam_serverless = LF_UNSET;
    c->discovery = LF_UNSET;
    c->refresh_every = LF_UNSET;
    return c;
}

void *skv_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    skv_srv_conf *base = basev, *add = addv, *n = apr_pcalloc(p, sizeof(*n));

    n->url = LF_MERGE(add, base, url, NULL);
    n->password = LF_MERGE(add, base, password, NULL);
    n->ca_file = LF_MERGE(add, base, ca_file, NULL);
    n->iam_cache = LF_MERGE(add, base, iam_cache, NULL);
    n->iam_region = LF_MERGE(add, base, iam_region, NULL);
    n->iam_serverless = LF_MERGE(add, base, iam_serverless, LF_UNSET);
    n->creds_kind = LF_MERGE(add, base, creds_kind, NULL);
    n->creds_arg = LF_MERGE(add, base, creds_arg, NULL);
    n->connect_timeout = LF_MERGE(add, base, connect_timeout, LF_UNSET);
    n->timeout = LF_MERGE(add, base, timeout, LF_UNSET);
    n->retry_interval = LF_MERGE(add, base, retry_interval, LF_UNSET);
    n->connections = LF_MERGE(add, base, connections, LF_UNSET);
    n->prefix = LF_MERGE(add, base, prefix, NULL);
    n->key_file = LF_MERGE(add, base, key_file, NULL);
    n->idle_timeout = LF_MERGE(add, base, idle_timeout, LF_UNSET);
    n->max_lifetime = LF_MERGE(add, base, max_lifetime, LF_UNSET);
    n->touch_interval = LF_MERGE(add, base, touch_interval, LF_UNSET);
    n->max_size = LF_MERGE(add, base, max_size, LF_UNSET);
    n->merge = LF_MERGE(add, base, merge, LF_UNSET);
    n->attempts = LF_MERGE(add, base, attempts, LF_UNSET);
    n->discovery = LF_MERGE(add, base, discovery, LF_UNSET);
    n->refresh_every = LF_MERGE(add, base, refresh_every, LF_UNSET);
    return n;
}

/* The server's settings with every default applied, in one place. */
static skv_srv_conf *srv_effective(server_rec *s, apr_pool_t *p)
{
    const skv_srv_conf *c = ap_get_module_config(s->module_config, &session_kv_module);
    skv_srv_conf *e = apr_pmemdup(p, c, sizeof(*c));

    e->iam_serverless = LF_DEFAULT(c, srv_defaults, iam_serverless, LF_UNSET);
    e->creds_kind = LF_DEFAULT(c, srv_defaults, creds_kind, NULL);
    e->connect_timeout = LF_DEFAULT(c, srv_defaults, connect_timeout, LF_UNSET);
    e->timeout = LF_DEFAULT(c, srv_defaults, timeout, LF_UNSET);
    e->retry_interval = LF_DEFAULT(c, srv_defaults, retry_interval, LF_UNSET);
    e->connections = LF_DEFAULT(c, srv_defaults, connections, LF_UNSET);
    e->prefix = LF_DEFAULT(c, srv_defaults, prefix, NULL);
    e->idle_timeout = LF_DEFAULT(c, srv_defaults, idle_timeout, LF_UNSET);
    e->max_lifetime = LF_DEFAULT(c, srv_defaults, max_lifetime, LF_UNSET);
    e->touch_interval = LF_DEFAULT(c, srv_defaults, touch_interval, LF_UNSET);
    e->max_size = LF_DEFAULT(c, srv_defaults, max_size, LF_UNSET);
    e->merge = LF_DEFAULT(c, srv_defaults, merge, LF_UNSET);
    e->attempts = LF_DEFAULT(c, srv_defaults, attempts, LF_UNSET);
    e->discovery = LF_DEFAULT(c, srv_defaults, discovery, LF_UNSET);
    e->refresh_every = LF_DEFAULT(c, srv_defaults, refresh_every, LF_UNSET);
    return e;
}

const skv_dir_conf *skv_dir_of(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &session_kv_module);
}

int skv_dir_enabled(const skv_dir_conf *c)
{
    return LF_DEFAULT(c, skv_dir_defaults, enabled, LF_UNSET) == 1;
}

const skv_cookie_t *skv_dir_cookie(const skv_dir_conf *c)
{
    return c->cookie ? c->cookie : &cookie_default;
}

/* --- directives --------------------------------------------------------------------------- */

static skv_srv_conf *srv_of(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &session_kv_module);
}

static const char *set_store(cmd_parms *cmd, void *dc, const char *arg)
{
    skv_backend_t *be;
    const char *why;

    (void)dc;
    if (skv_backend_parse(&be, &why, arg, cmd->temp_pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", SKV_STORE, why);
    }
    srv_of(cmd)->url = arg;
    return NULL;
}

static const char *set_password(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return mod_lf_secret(&srv_of(cmd)->password, cmd, arg);
}

static const char *set_iam_auth(cmd_parms *cmd, void *dc, const char *cache, const char *region,
                                const char *kind)
{
    skv_srv_conf *c = srv_of(cmd);
    aws_elasticache_iam_t iam;
    const char *why;

    (void)dc;
    if (kind && strcasecmp(kind, "serverless")) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not 'serverless'", SKV_IAM_AUTH, kind);
    }
    iam.region = region;
    iam.user_id = "user"; /* the URL's, checked with the store */
    iam.cache_name = cache;
    iam.serverless = kind != NULL;
    if (aws_elasticache_iam_check(&why, &iam, cmd->temp_pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", SKV_IAM_AUTH, why);
    }
    c->iam_cache = cache;
    c->iam_region = region;
    c->iam_serverless = iam.serverless;
    return NULL;
}

static const char *set_credentials(cmd_parms *cmd, void *dc, const char *kind, const char *arg)
{
    skv_srv_conf *c = srv_of(cmd);

    (void)dc;
    if (aws_creds_source_conf(&c->creds_kind, &c->creds_arg, kind, arg, ap_server_root, cmd->pool)
        != APR_SUCCESS) {
        return SKV_CREDENTIALS ": " AWS_CREDS_SOURCE_SYNTAX;
    }
    return NULL;
}

/* What a duration directive takes (its cmd->info): the field, the unit of a bare number, whether
 * 0 (off) is allowed, and the least value otherwise. */
typedef struct skv_duration_spec {
    apr_size_t offset; /* of the apr_interval_time_t in skv_srv_conf */
    const char *unit;  /* "s" or "ms" */
    int zero_ok;
    apr_interval_time_t at_least; /* microseconds; 0: anything above 0 */
} skv_duration_spec;

#define DURATION(field, unit, zero_ok, at_least)                                                   \
    (void *)&(const skv_duration_spec)                                                             \
    {                                                                                              \
        APR_OFFSETOF(skv_srv_conf, field), unit, zero_ok, at_least                                 \
    }

static const char *set_duration(cmd_parms *cmd, void *dc, const char *arg)
{
    const skv_duration_spec *d = cmd->info;
    apr_interval_time_t t;

    (void)dc;
    if (lf_parse_duration(&t, arg, d->unit) != APR_SUCCESS || (t <= 0 && !d->zero_ok)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration such as 30s, 500ms or 2h%s",
                            cmd->cmd->name, arg, d->zero_ok ? " (0 turns it off)" : "");
    }
    if (t > 0 && t < d->at_least) {
        return apr_psprintf(cmd->pool, "%s: at least %s", cmd->cmd->name,
                            lf_format_duration(d->at_least, cmd->temp_pool));
    }
    *(apr_interval_time_t *)((char *)srv_of(cmd) + d->offset) = t;
    return NULL;
}

static const char *set_connections(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (lf_parse_int(&srv_of(cmd)->connections, arg, 1, 10000) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number from 1 to 10000", SKV_CONNECTIONS,
                            arg);
    }
    return NULL;
}

static const char *set_prefix(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *why = skv_id_prefix_check(arg);

    (void)dc;
    if (why) {
        return apr_psprintf(cmd->pool, "%s: %s", SKV_KEY_PREFIX, why);
    }
    srv_of(cmd)->prefix = arg;
    return NULL;
}

/* A file, relative to the ServerRoot, into the field at the offset cmd->info. */
static const char *set_path(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);

    (void)dc;
    if (!path) {
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", cmd->directive->directive, arg);
    }
    *(const char **)((char *)srv_of(cmd) + (apr_size_t)cmd->info) = path;
    return NULL;
}

static const char *set_max_size(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_off_t n;

    (void)dc;
    /* redis takes 512 MB and memcached 1 MB per item by default; keep well below the latter */
    if (lf_parse_size(&n, arg) != APR_SUCCESS || n < 1024 || n > 512 * 1024) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a size from 1K to 512K", SKV_MAX_SIZE, arg);
    }
    srv_of(cmd)->max_size = n;
    return NULL;
}

static const char *set_concurrency(cmd_parms *cmd, void *dc, const char *mode, const char *attempts)
{
    skv_srv_conf *c = srv_of(cmd);

    (void)dc;
    if (!strcasecmp(mode, "merge")) {
        c->merge = 1;
    }
    else if (!strcasecmp(mode, "last-write-wins")) {
        c->merge = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is neither merge nor last-write-wins",
                            SKV_CONCURRENCY, mode);
    }
    if (attempts && lf_parse_int(&c->attempts, attempts, 1, 100) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: attempts '%s' is not a number from 1 to 100",
                            SKV_CONCURRENCY, attempts);
    }
    return NULL;
}

static const char *set_discovery(cmd_parms *cmd, void *dc, int on)
{
    (void)dc;
    srv_of(cmd)->discovery = on;
    return NULL;
}

static const char *set_enable(cmd_parms *cmd, void *dc, int on)
{
    (void)cmd;
    ((skv_dir_conf *)dc)->enabled = on;
    return NULL;
}

static const char *set_cookie_conf(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    skv_cookie_t *c = apr_palloc(cmd->pool, sizeof(*c));
    const char *err;
    int i;

    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s: needs a cookie name", SKV_COOKIE);
    }
    skv_cookie_defaults(c, argv[0]);
    for (i = 1; i < argc; ++i) {
        if ((err = skv_cookie_attr(c, argv[i], cmd->pool))) {
            return apr_psprintf(cmd->pool, "%s: %s", SKV_COOKIE, err);
        }
    }
    if ((err = skv_cookie_check(c, cmd->pool))) {
        return apr_psprintf(cmd->pool, "%s: %s", SKV_COOKIE, err);
    }
    ((skv_dir_conf *)dc)->cookie = c;
    return NULL;
}

static const char *set_policy(cmd_parms *cmd, void *dc, const char *arg)
{
    skv_dir_conf *c = dc;

    if (!strcasecmp(arg, "open")) {
        c->policy = POLICY_OPEN;
    }
    else if (!strcasecmp(arg, "closed")) {
        c->policy = POLICY_CLOSED;
    }
    else {
        return apr_psprintf(cmd->pool, "%s: '%s' is neither open nor closed", SKV_FAILURE_POLICY,
                            arg);
    }
    return NULL;
}

static const char *set_regen_header(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)cmd;
    ((skv_dir_conf *)dc)->regen_header = arg;
    return NULL;
}

static const char *set_env_part_size(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_off_t n = 0;

    if (strcasecmp(arg, "off")
        && (lf_parse_size(&n, arg) != APR_SUCCESS || n < 1024 || n > 1024 * 1024)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is neither Off nor a size from 1K to 1M",
                            SKV_ENV_PART_SIZE, arg);
    }
    ((skv_dir_conf *)dc)->env_part_size = n;
    return NULL;
}

const command_rec skv_cmds[] = {
    AP_INIT_FLAG(SKV_ENABLE, set_enable, NULL, RSRC_CONF | OR_AUTHCFG,
                 "On to keep mod_session's sessions here in the SessionKVStore"),
    AP_INIT_TAKE_ARGV(SKV_COOKIE, set_cookie_conf, NULL, RSRC_CONF | OR_AUTHCFG,
                      "the session cookie's name and attributes (Secure=Off, SameSite=Strict, "
                      "Path=, Domain=, Max-Age=, HttpOnly=Off)"),
    AP_INIT_TAKE1(SKV_FAILURE_POLICY, set_policy, NULL, RSRC_CONF | OR_AUTHCFG,
                  "open (serve with an empty session) or closed (503) when the store fails"),
    AP_INIT_TAKE1(SKV_REGEN_HEADER, set_regen_header, NULL, RSRC_CONF | OR_AUTHCFG,
                  "the response header by which the application asks for a new session id"),
    AP_INIT_TAKE1(SKV_ENV_PART_SIZE, set_env_part_size, NULL, RSRC_CONF | OR_AUTHCFG,
                  "SessionEnv's HTTP_SESSION longer than this goes out as HTTP_SESSION_1..N "
                  "(default 8000 bytes; Off: never split)"),
    AP_INIT_TAKE1(SKV_STORE, set_store, NULL, RSRC_CONF,
                  "memcached://host:port[,host:port...], redis[s]://[user[:password]@]host:port/db "
                  "or mysql[s]://user[:password]@host:port/database[/table]"),
    AP_INIT_TAKE1(SKV_PASSWORD, set_password, NULL, RSRC_CONF,
                  "the redis or mysql password: file:/path or env:NAME"),
    AP_INIT_TAKE23(SKV_IAM_AUTH, set_iam_auth, NULL, RSRC_CONF,
                   "the ElastiCache cache (replication group id or serverless cache name), its "
                   "region, and 'serverless' for a serverless cache: AUTH with IAM tokens for "
                   "the store URL's user"),
    AP_INIT_TAKE12(SKV_CREDENTIALS, set_credentials, NULL, RSRC_CONF,
                   "the AWS credentials that sign IAM tokens: default (environment, profile, "
                   "instance role), keyfile PATH or profile NAME"),
    AP_INIT_TAKE1(SKV_CA_FILE, set_path, (void *)APR_OFFSETOF(skv_srv_conf, ca_file), RSRC_CONF,
                  "PEM file of the CAs that a rediss://, memcacheds:// or mysqls:// server's "
                  "certificate must chain to (default: the system's trust store)"),
    AP_INIT_TAKE1(SKV_CONNECT_TIMEOUT, set_duration, DURATION(connect_timeout, "ms", 0, 0),
                  RSRC_CONF, "time to connect to a backend server (ms unless a unit is given)"),
    AP_INIT_TAKE1(SKV_TIMEOUT, set_duration, DURATION(timeout, "ms", 0, 0), RSRC_CONF,
                  "time for one backend operation (ms unless a unit is given)"),
    AP_INIT_TAKE1(SKV_RETRY_INTERVAL, set_duration, DURATION(retry_interval, "s", 0, 0), RSRC_CONF,
                  "how long a server that did not answer is left out before one request "
                  "tries it again"),
    AP_INIT_TAKE1(SKV_CONNECTIONS, set_connections, NULL, RSRC_CONF,
                  "backend connections per child process (default: one per thread)"),
    AP_INIT_TAKE1(SKV_KEY_PREFIX, set_prefix, NULL, RSRC_CONF, "prefix of the backend keys"),
    AP_INIT_TAKE1(SKV_KEY_FILE, set_path, (void *)APR_OFFSETOF(skv_srv_conf, key_file), RSRC_CONF,
                  "AES-256-GCM keys, one per line; the first encrypts, all decrypt"),
    AP_INIT_TAKE1(SKV_IDLE_TIMEOUT, set_duration, DURATION(idle_timeout, "s", 0, APR_USEC_PER_SEC),
                  RSRC_CONF, "a session unused for this long expires"),
    AP_INIT_TAKE1(SKV_MAX_LIFETIME, set_duration, DURATION(max_lifetime, "s", 1, 0), RSRC_CONF,
                  "a session expires this long after it was created, used or not (0 = never)"),
    AP_INIT_TAKE1(SKV_TOUCH_INTERVAL, set_duration, DURATION(touch_interval, "s", 1, 0), RSRC_CONF,
                  "the expiry of an unchanged session is refreshed at most this often"),
    AP_INIT_TAKE1(SKV_MAX_SIZE, set_max_size, NULL, RSRC_CONF,
                  "the largest session stored; a larger one is refused, the old one kept"),
    AP_INIT_TAKE12(SKV_CONCURRENCY, set_concurrency, NULL, RSRC_CONF,
                   "merge [attempts] (concurrent requests' changes are merged key by key) or "
                   "last-write-wins"),
    AP_INIT_FLAG(SKV_DISCOVERY, set_discovery, NULL, RSRC_CONF,
                 "On: the memcached:// store's one server is the configuration endpoint of an "
                 "ElastiCache Memcached cluster, whose nodes are discovered and followed"),
    AP_INIT_TAKE1(SKV_DISCOVERY_EVERY, set_duration,
                  DURATION(refresh_every, "s", 0, APR_USEC_PER_SEC), RSRC_CONF,
                  "how often a background thread of each child asks the configuration endpoint "
                  "for the nodes, or deletes the expired rows of a mysql:// store (default 60s)"),
    {NULL},
};

/* --- skv_runtimes: one store per distinct store configuration, built per child ---------------- */

apr_array_header_t *skv_runtimes; /* skv_runtime *, from pconf */

/* AUTH's password from the process's IAM token holder (skv_password_fn). */
static apr_status_t iam_token(const char **token, const char **why, void *baton, apr_pool_t *p)
{
    return aws_elasticache_tokens_get(token, NULL, why, baton, apr_time_now(), p);
}

/* IAM authentication for @p be (SessionKVIAMAuth); what is wrong, or NULL. */
static const char *iam_conf(skv_backend_t *be, const skv_srv_conf *e, apr_pool_t *p)
{
    aws_elasticache_iam_t iam;
    aws_elasticache_tokens_t *tokens;
    aws_creds_provider_t *creds;
    aws_creds_config_t cc;
    const char *why;

    if (be->type != SKV_BACKEND_REDIS || !be->tls) {
        return apr_psprintf(p,
                            "%s needs a rediss:// store: ElastiCache takes IAM tokens over "
                            "TLS only",
                            SKV_IAM_AUTH);
    }
    if (!be->user) {
        return apr_psprintf(p, "%s: the store's URL names the user, rediss://user-id@host",
                            SKV_IAM_AUTH);
    }
    if (be->password) {
        return apr_psprintf(p, "%s: the token is the password; none in the URL", SKV_IAM_AUTH);
    }
    iam.region = e->iam_region;
    iam.user_id = be->user;
    iam.cache_name = e->iam_cache;
    iam.serverless = e->iam_serverless;
    memset(&cc, 0, sizeof(cc));
    aws_creds_config_set_source(&cc, e->creds_kind, e->creds_arg);
    if (aws_creds_provider_create(&creds, &why, &cc, p) != APR_SUCCESS) {
        return apr_psprintf(p, "%s: %s", SKV_CREDENTIALS, why);
    }
    if (aws_elasticache_tokens_create(&tokens, &why, &iam, creds, 0, p) != APR_SUCCESS) {
        return apr_psprintf(p, "%s: %s", SKV_IAM_AUTH, why);
    }
    be->password_fn = iam_token;
    be->password_baton = tokens;
    be->reauth_after = AWS_ELASTICACHE_REAUTH_DEFAULT;
    return NULL;
}

/* The store configuration of a server's effective settings; what is wrong, or NULL. */
static const char *runtime_conf(skv_store_conf_t *sc, const skv_srv_conf *e, apr_pool_t *p)
{
    skv_backend_t *be;
    const char *why;
    int threads = 1;

    if (skv_backend_parse(&be, &why, e->url, p) != APR_SUCCESS) {
        return apr_psprintf(p, "%s: %s", SKV_STORE, why);
    }
    /* IAM authentication makes the password (the URL must have none: iam_conf()); memcached
     * has none: a SessionKVPassword inherited from the main server's redis store is unused */
    if (e->iam_cache) {
        if ((why = iam_conf(be, e, p))) {
            return why;
        }
    }
    else if (e->password && be->type != SKV_BACKEND_MEMCACHED) {
        be->password = e->password;
    }
    if (be->type == SKV_BACKEND_REDIS && be->user && !be->password && !be->password_fn) {
        return apr_psprintf(p, "%s: a redis user needs a password: %s file:/path or env:NAME",
                            SKV_STORE, SKV_PASSWORD);
    }
    /* mysqls:// hands the file to the MySQL client library; made here all the same, so that a
     * file that holds no CA is a configuration error, not a failed connection later */
    if (be->tls && lf_tls_create(&be->tls_config, e->ca_file, &why, p) != APR_SUCCESS) {
        return apr_psprintf(p, "%s: %s", SKV_CA_FILE, why);
    }
    be->ca_file = e->ca_file;
    memset(sc, 0, sizeof(*sc));
    if (e->discovery == 1) {
        if (be->type != SKV_BACKEND_MEMCACHED) {
            return apr_psprintf(p,
                                "%s needs a memcached:// store, the configuration endpoint of an "
                                "ElastiCache Memcached cluster: redis has no such discovery",
                                SKV_DISCOVERY);
        }
        if (be->tls) {
            return apr_psprintf(p,
                                "%s is not supported with memcacheds://: the client of a node "
                                "list (libmemcached) has no TLS, and ElastiCache Serverless, "
                                "which memcacheds:// is for, is one endpoint with no nodes to "
                                "discover",
                                SKV_DISCOVERY);
        }
        if (be->servers->nelts != 1) {
            return apr_psprintf(p,
                                "%s: the store URL names one server, the cluster's configuration "
                                "endpoint (memcached://name.cfg.use1.cache.amazonaws.com:11211), "
                                "not %d",
                                SKV_DISCOVERY, be->servers->nelts);
        }
        sc->driver = &skv_driver_memcached_discovery;
    }
    be->connect_timeout = e->connect_timeout;
    be->io_timeout = e->timeout;
    be->retry_interval = e->retry_interval;
    sc->backend = be;
    sc->prefix = e->prefix;
    sc->idle_timeout = e->idle_timeout;
    sc->max_lifetime = e->max_lifetime;
    sc->touch_interval = e->touch_interval;
    sc->max_size = (apr_size_t)e->max_size;
    sc->merge = e->merge;
    sc->max_attempts = e->attempts;
    if (e->touch_interval >= e->idle_timeout) {
        return apr_psprintf(p, "%s must be shorter than %s, or an active session could expire",
                            SKV_TOUCH_INTERVAL, SKV_IDLE_TIMEOUT);
    }
    if (e->max_lifetime && e->max_lifetime < e->idle_timeout) {
        return apr_psprintf(p, "%s shorter than %s makes the idle timeout pointless",
                            SKV_MAX_LIFETIME, SKV_IDLE_TIMEOUT);
    }
    if (e->key_file) {
        skv_keyring_t *kr;

        if (skv_keyring_load(&kr, &why, e->key_file, p) != APR_SUCCESS) {
            return apr_psprintf(p, "%s %s: %s", SKV_KEY_FILE, e->key_file, why);
        }
        sc->keys = kr;
    }
    if (!e->connections) {
        ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    }
    sc->max_conns = e->connections ? e->connections : threads > 0 ? threads : 1;
    return NULL;
}

/* The table of a mysql:// store, at startup: a missing or wrong one is a configuration error
 * (what is wrong, or NULL); a database that cannot be asked now is not, so that the nodes of a
 * farm start while the database fails over: they connect when a request needs it. */
static const char *mysql_check(server_rec *s, const skv_backend_t *be, apr_pool_t *p)
{
    const char *why = NULL;
    apr_status_t rv = skv_mysql_check(&why, be, p);

    if (rv == APR_EINVAL) {
        return apr_psprintf(p, "%s %s: %s", SKV_STORE, be->display, why);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     LFLOGNO(01022) "sessions in %s: cannot check the table now (%s); starting "
                                    "all the same, requests connect when they need the database",
                     be->display, why ? why : "");
    }
    return NULL;
}

/* Check (and with @p keep, build the skv_runtimes of) every server's store configuration; the
 * table of a mysql:// store is checked once, at the first pass of startup (and by configtest). */
const char *skv_runtimes_setup(server_rec *main, int keep, apr_pool_t *p)
{
    apr_table_t *checked = apr_table_make(p, 2);
    int first = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
    server_rec *s;

    for (s = main; s; s = s->next) {
        skv_srv_conf *c = ap_get_module_config(s->module_config, &session_kv_module);
        skv_srv_conf *e = srv_effective(s, p);
        skv_runtime *rt;
        const char *err;
        int i;

        c->rt = NULL;
        if (!e->url) {
            continue;
        }
        /* virtual hosts with the same settings (inherited from the main server, usually)
         * share one store */
        for (i = 0; keep && i < skv_runtimes->nelts && !c->rt; ++i) {
            skv_runtime *each = APR_ARRAY_IDX(skv_runtimes, i, skv_runtime *);
            if (!memcmp(e, &each->settings, offsetof(skv_srv_conf, rt))) {
                c->rt = each;
            }
        }
        if (c->rt) {
            continue;
        }
        rt = apr_pcalloc(p, sizeof(*rt));
        if ((err = runtime_conf(&rt->conf, e, p))) {
            return s->defn_name
                       ? apr_psprintf(p, "%s (%s:%d)", err, s->defn_name, s->defn_line_number)
                       : err;
        }
        if (!keep && first && rt->conf.backend->type == SKV_BACKEND_MYSQL
            && !apr_table_get(checked, e->url)) {
            apr_table_setn(checked, e->url, "");
            if ((err = mysql_check(main, rt->conf.backend, p))) {
                return err;
            }
        }
        rt->display = rt->conf.backend->display;
        rt->settings = *e;
        if (keep) {
            APR_ARRAY_PUSH(skv_runtimes, skv_runtime *) = rt;
            c->rt = rt;
        }
    }
    return NULL;
}

skv_runtime *skv_runtime_of(server_rec *s)
{
    const skv_srv_conf *c = ap_get_module_config(s->module_config, &session_kv_module);

    return c->rt;
}

void skv_config_init(void)
{
    skv_cookie_defaults(&cookie_default, "session");
}
