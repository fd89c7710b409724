/* mod_session_kv — httpd mod_session storage in memcached or redis, shared by every server.
 *
 * A storage provider for httpd's own mod_session (session_load / session_save hooks, like
 * mod_session_dbd), so SessionEnv, SessionHeader, SessionMaxAge, mod_auth_form and
 * mod_session_crypto keep working while the session lives in ElastiCache instead of one
 * server's files. The cookie holds only a random id; the backend key is derived from it.
 *
 * Per request: the session is loaded once (memo on the first request of the chain: mod_session
 * asks several times, subrequests and internal redirects too), a snapshot of its entries is
 * taken right after mod_session decodes it, and at save time only a real change is written,
 * with compare-and-set and a merge of this request's changed keys. An unchanged session only
 * gets its expiry refreshed, at most once per SessionKVTouchInterval, after the response.
 *
 * This file: configuration, hooks, the cookie, the status page, the mod_health check, and the
 * background thread that keeps what the stores' connections share up to date (the nodes of a
 * memcached cluster found by auto-discovery). The session logic without httpd is in skv_store.c
 * and its neighbours.
 */
#include <stddef.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_optional_hooks.h>
#include <ap_mpm.h>
#include <ap_provider.h>
#include <mod_session.h>
#include <mod_status.h>
#include <util_filter.h>

#include "aws_creds.h"
#include "aws_elasticache.h"
#include "lf_log.h"
#include "lf_parse.h"
#include "mod_lf_health.h"
#include "skv_backend.h"
#include "skv_cookie.h"
#include "skv_id.h"
#include "skv_memcached.h"
#include "skv_merge.h"
#include "skv_store.h"

APLOG_USE_MODULE(session_kv);
#include "mod_lf_config.h"
#include "mod_lf_life.h"
#include "mod_lf_log.h"

#define SKV_SHM_KEY "lampfarm:session_kv"

#define SKV_ENABLE          "SessionKV"
#define SKV_STORE           "SessionKVStore"
#define SKV_PASSWORD        "SessionKVPassword"
#define SKV_CONNECT_TIMEOUT "SessionKVConnectTimeout"
#define SKV_TIMEOUT         "SessionKVTimeout"
#define SKV_RETRY_INTERVAL  "SessionKVRetryInterval"
#define SKV_CONNECTIONS     "SessionKVConnections"
#define SKV_KEY_PREFIX      "SessionKVKeyPrefix"
#define SKV_KEY_FILE        "SessionKVEncryptionKeyFile"
#define SKV_CA_FILE         "SessionKVCAFile"
#define SKV_IAM_AUTH        "SessionKVIAMAuth"
#define SKV_CREDENTIALS     "SessionKVCredentials"
#define SKV_IDLE_TIMEOUT    "SessionKVIdleTimeout"
#define SKV_MAX_LIFETIME    "SessionKVMaxLifetime"
#define SKV_TOUCH_INTERVAL  "SessionKVTouchInterval"
#define SKV_MAX_SIZE        "SessionKVMaxSize"
#define SKV_CONCURRENCY     "SessionKVConcurrency"
#define SKV_COOKIE          "SessionKVCookie"
#define SKV_FAILURE_POLICY  "SessionKVFailurePolicy"
#define SKV_REGEN_HEADER    "SessionKVRegenerateHeader"
#define SKV_ENV_PART_SIZE   "SessionKVEnvPartSize"
#define SKV_DISCOVERY       "SessionKVAutoDiscovery"
#define SKV_DISCOVERY_EVERY "SessionKVDiscoveryInterval"

/* mod_session's key for its own expiry: it changes on every save with SessionMaxAge, so it is
 * not a change of the session's content */
#define SESSION_EXPIRY "expiry"
/* The most numbered parts of a split SessionHeader joined (8000 bytes each from PHP-FPM). */
#define MAX_HEADER_PARTS 64

/* --- configuration ---------------------------------------------------------------------- */

/** A store's settings (per virtual host); the store itself is built per child process. */
typedef struct skv_srv_conf {
    const char *url;                     /* SessionKVStore; NULL = no store */
    const char *password;                /* SessionKVPassword: the secret itself */
    const char *ca_file;                 /* rediss://, memcacheds://: the CAs to trust; NULL =
                                            the system's */
    const char *iam_cache;               /* SessionKVIAMAuth: the cache; NULL = no IAM tokens */
    const char *iam_region;              /* its region */
    int iam_serverless;                  /* 1: a serverless cache */
    const char *creds_kind;              /* SessionKVCredentials: aws_creds_source_parse() */
    const char *creds_arg;               /* its key file or profile */
    apr_interval_time_t connect_timeout; /* microseconds */
    apr_interval_time_t timeout;         /* microseconds, per backend operation */
    apr_interval_time_t retry_interval;  /* microseconds, servers marked down */
    int connections;                     /* per child; 0 = the MPM's threads per child */
    const char *prefix;                  /* of backend keys */
    const char *key_file;                /* AES-256-GCM keys; NULL = clear */
    apr_interval_time_t idle_timeout;    /* microseconds */
    apr_interval_time_t max_lifetime;    /* microseconds; 0 = none */
    apr_interval_time_t touch_interval;  /* microseconds */
    apr_off_t max_size;                  /* bytes of encoded session */
    int merge;                           /* 1 merge, 0 last write wins */
    int attempts;                        /* compare-and-set attempts */
    int discovery;                       /* SessionKVAutoDiscovery: 1 on */
    apr_interval_time_t refresh_every;   /* SessionKVDiscoveryInterval: microseconds */
    struct skv_runtime *rt;              /* set in post_config */
} skv_srv_conf;

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

typedef enum { POLICY_UNSET = -1, POLICY_OPEN = 0, POLICY_CLOSED = 1 } skv_policy_e;

typedef struct skv_dir_conf {
    int enabled;              /* SessionKV */
    skv_cookie_t *cookie;     /* SessionKVCookie */
    skv_policy_e policy;      /* SessionKVFailurePolicy */
    const char *regen_header; /* SessionKVRegenerateHeader */
    apr_off_t env_part_size;  /* SessionKVEnvPartSize: bytes; 0 = never split; LF_UNSET */
} skv_dir_conf;

/* Open by default: a cache outage should not take the site down; the user sees an empty
 * session (logged out) for as long as it lasts, and the stored sessions are left untouched. */
static const skv_dir_conf dir_defaults = {
    0,    NULL, POLICY_OPEN, "X-Session-Regenerate",
    8000, /* env_part_size: mod_proxy_fcgi drops a variable over about 16 KB (AH02536) */
};

/* The cookie of a section without SessionKVCookie: set once in register_hooks. */
static skv_cookie_t cookie_default;

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    skv_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->enabled = LF_UNSET;
    c->policy = POLICY_UNSET;
    c->env_part_size = LF_UNSET;
    return c;
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    skv_dir_conf *base = basev, *add = addv, *n = apr_pcalloc(p, sizeof(*n));

    n->enabled = LF_MERGE(add, base, enabled, LF_UNSET);
    n->cookie = LF_MERGE(add, base, cookie, NULL);
    n->policy = LF_MERGE(add, base, policy, POLICY_UNSET);
    n->regen_header = LF_MERGE(add, base, regen_header, NULL);
    n->env_part_size = LF_MERGE(add, base, env_part_size, LF_UNSET);
    return n;
}

static void *create_srv_conf(apr_pool_t *p, server_rec *s)
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

static void *merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
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

static const skv_dir_conf *dir_conf(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &session_kv_module);
}

static int dir_enabled(const skv_dir_conf *c)
{
    return LF_DEFAULT(c, dir_defaults, enabled, LF_UNSET) == 1;
}

static const skv_cookie_t *dir_cookie(const skv_dir_conf *c)
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
    if (!(c->creds_kind = aws_creds_source_parse(kind, arg))) {
        return SKV_CREDENTIALS ": " AWS_CREDS_SOURCE_SYNTAX;
    }
    c->creds_arg =
        !strcmp(c->creds_kind, "keyfile") ? ap_server_root_relative(cmd->pool, arg) : arg;
    return NULL;
}

static const char *set_duration(cmd_parms *cmd, void *dc, const char *arg)
{
    skv_srv_conf *c = srv_of(cmd);
    const char *name = cmd->cmd->name;
    apr_interval_time_t t;
    int zero_ok = !strcmp(name, SKV_MAX_LIFETIME) || !strcmp(name, SKV_TOUCH_INTERVAL);

    (void)dc;
    if (lf_parse_duration(
            &t, arg, !strncmp(name, "SessionKVC", 10) || !strcmp(name, SKV_TIMEOUT) ? "ms" : "s")
            != APR_SUCCESS
        || (t <= 0 && !zero_ok)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration such as 30s, 500ms or 2h%s",
                            name, arg, zero_ok ? " (0 turns it off)" : "");
    }
    if (!strcmp(name, SKV_CONNECT_TIMEOUT)) {
        c->connect_timeout = t;
    }
    else if (!strcmp(name, SKV_TIMEOUT)) {
        c->timeout = t;
    }
    else if (!strcmp(name, SKV_RETRY_INTERVAL)) {
        c->retry_interval = t;
    }
    else if (!strcmp(name, SKV_IDLE_TIMEOUT)) {
        if (t < APR_USEC_PER_SEC) {
            return apr_psprintf(cmd->pool, "%s: at least 1s", name);
        }
        c->idle_timeout = t;
    }
    else if (!strcmp(name, SKV_MAX_LIFETIME)) {
        c->max_lifetime = t;
    }
    else if (!strcmp(name, SKV_DISCOVERY_EVERY)) {
        if (t < APR_USEC_PER_SEC) {
            return apr_psprintf(cmd->pool, "%s: at least 1s", name);
        }
        c->refresh_every = t;
    }
    else {
        c->touch_interval = t;
    }
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
    const char *c;

    (void)dc;
    /* memcached keys: at most 250 bytes, no spaces or control characters */
    for (c = arg; *c; ++c) {
        if (*c <= ' ' || *c == 0x7f) {
            return apr_psprintf(cmd->pool, "%s: no spaces or control characters", SKV_KEY_PREFIX);
        }
    }
    if (strlen(arg) > 100) {
        return apr_psprintf(cmd->pool, "%s: at most 100 characters", SKV_KEY_PREFIX);
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

static const command_rec skv_cmds[] = {
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
    AP_INIT_TAKE1(
        SKV_STORE, set_store, NULL, RSRC_CONF,
        "memcached://host:port[,host:port...] or redis[s]://[user[:password]@]host:port/db"),
    AP_INIT_TAKE1(SKV_PASSWORD, set_password, NULL, RSRC_CONF,
                  "the redis password: file:/path or env:NAME"),
    AP_INIT_TAKE23(SKV_IAM_AUTH, set_iam_auth, NULL, RSRC_CONF,
                   "the ElastiCache cache (replication group id or serverless cache name), its "
                   "region, and 'serverless' for a serverless cache: AUTH with IAM tokens for "
                   "the store URL's user"),
    AP_INIT_TAKE12(SKV_CREDENTIALS, set_credentials, NULL, RSRC_CONF,
                   "the AWS credentials that sign IAM tokens: default (environment, profile, "
                   "instance role), keyfile PATH or profile NAME"),
    AP_INIT_TAKE1(SKV_CA_FILE, set_path, (void *)APR_OFFSETOF(skv_srv_conf, ca_file), RSRC_CONF,
                  "PEM file of the CAs that a rediss:// or memcacheds:// server's certificate "
                  "must chain to "
                  "(default: the system's trust store)"),
    AP_INIT_TAKE1(SKV_CONNECT_TIMEOUT, set_duration, NULL, RSRC_CONF,
                  "time to connect to a backend server (ms unless a unit is given)"),
    AP_INIT_TAKE1(SKV_TIMEOUT, set_duration, NULL, RSRC_CONF,
                  "time for one backend operation (ms unless a unit is given)"),
    AP_INIT_TAKE1(SKV_RETRY_INTERVAL, set_duration, NULL, RSRC_CONF,
                  "how long a server that did not answer is left out before one request "
                  "tries it again"),
    AP_INIT_TAKE1(SKV_CONNECTIONS, set_connections, NULL, RSRC_CONF,
                  "backend connections per child process (default: one per thread)"),
    AP_INIT_TAKE1(SKV_KEY_PREFIX, set_prefix, NULL, RSRC_CONF, "prefix of the backend keys"),
    AP_INIT_TAKE1(SKV_KEY_FILE, set_path, (void *)APR_OFFSETOF(skv_srv_conf, key_file), RSRC_CONF,
                  "AES-256-GCM keys, one per line; the first encrypts, all decrypt"),
    AP_INIT_TAKE1(SKV_IDLE_TIMEOUT, set_duration, NULL, RSRC_CONF,
                  "a session unused for this long expires"),
    AP_INIT_TAKE1(SKV_MAX_LIFETIME, set_duration, NULL, RSRC_CONF,
                  "a session expires this long after it was created, used or not (0 = never)"),
    AP_INIT_TAKE1(SKV_TOUCH_INTERVAL, set_duration, NULL, RSRC_CONF,
                  "the expiry of an unchanged session is refreshed at most this often"),
    AP_INIT_TAKE1(SKV_MAX_SIZE, set_max_size, NULL, RSRC_CONF,
                  "the largest session stored; a larger one is refused, the old one kept"),
    AP_INIT_TAKE12(SKV_CONCURRENCY, set_concurrency, NULL, RSRC_CONF,
                   "merge [attempts] (concurrent requests' changes are merged key by key) or "
                   "last-write-wins"),
    AP_INIT_FLAG(SKV_DISCOVERY, set_discovery, NULL, RSRC_CONF,
                 "On: the memcached:// store's one server is the configuration endpoint of an "
                 "ElastiCache Memcached cluster, whose nodes are discovered and followed"),
    AP_INIT_TAKE1(SKV_DISCOVERY_EVERY, set_duration, NULL, RSRC_CONF,
                  "how often a background thread of each child asks the configuration endpoint "
                  "for the nodes (default 60s)"),
    {NULL},
};

/* --- runtimes: one store per distinct store configuration, built per child ---------------- */

typedef struct skv_runtime {
    skv_store_conf_t conf;
    skv_stats_t *stats; /* in shared memory */
    skv_store_t *store; /* per child, from child_init */
    const char *display;
    skv_srv_conf settings; /* what it was made from */
    /* the background refresh, every settings.refresh_every (per child: only its thread
     * touches these) */
    apr_time_t refresh_due; /* the next refresh; 0 = at once */
    int refresh_off;        /* nothing to refresh: not asked again */
    int refresh_failures;   /* failed refreshes in a row */
} skv_runtime;

static apr_array_header_t *runtimes; /* skv_runtime *, from pconf */

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
    apr_status_t rv;
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
    else if (e->password && be->type == SKV_BACKEND_REDIS) {
        be->password = e->password;
    }
    if (be->user && !be->password && !be->password_fn) {
        return apr_psprintf(p, "%s: a redis user needs a password: %s file:/path or env:NAME",
                            SKV_STORE, SKV_PASSWORD);
    }
    if (be->tls && lf_tls_create(&be->tls_config, e->ca_file, &why, p) != APR_SUCCESS) {
        return apr_psprintf(p, "%s: %s", SKV_CA_FILE, why);
    }
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
        char *text;
        apr_file_t *f;
        apr_finfo_t fi;
        apr_size_t n;
        skv_keyring_t *kr;

        rv = apr_file_open(&f, e->key_file, APR_FOPEN_READ, 0, p);
        if (rv == APR_SUCCESS) {
            rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
        }
        if (rv == APR_SUCCESS) {
            n = (apr_size_t)fi.size;
            text = apr_pcalloc(p, n + 1);
            rv = apr_file_read_full(f, text, n, &n);
            apr_file_close(f);
        }
        if (rv != APR_SUCCESS) {
            char buf[120];
            return apr_psprintf(p, "%s %s: %s", SKV_KEY_FILE, e->key_file,
                                apr_strerror(rv, buf, sizeof(buf)));
        }
        if (skv_keyring_parse(&kr, &why, text, p) != APR_SUCCESS) {
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

/* Check (and with @p keep, build the runtimes of) every server's store configuration. */
static const char *runtimes_setup(server_rec *main, int keep, apr_pool_t *p)
{
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
        for (i = 0; keep && i < runtimes->nelts && !c->rt; ++i) {
            skv_runtime *each = APR_ARRAY_IDX(runtimes, i, skv_runtime *);
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
        rt->display = rt->conf.backend->display;
        rt->settings = *e;
        if (keep) {
            APR_ARRAY_PUSH(runtimes, skv_runtime *) = rt;
            c->rt = rt;
        }
    }
    return NULL;
}

static skv_runtime *runtime_of(server_rec *s)
{
    const skv_srv_conf *c = ap_get_module_config(s->module_config, &session_kv_module);

    return c->rt;
}

/* --- per request: the memo ------------------------------------------------------------------ */

typedef struct skv_req {
    session_rec *z;        /* what mod_session works on */
    skv_session_t *s;      /* the stored session; NULL when there is none yet */
    apr_table_t *snapshot; /* z->entries right after the first decode */
    skv_runtime *rt;
    const skv_dir_conf *dc;
    int failed;     /* the store failed at load: nothing is written this request */
    int down;       /* ... at once, its server marked down (LF01012 said so once) */
    int regenerate; /* a new id is wanted */
    int done;       /* saved, destroyed or touched */
} skv_req;

/* The first request of the chain: subrequests and internal redirects share its memo. */
static request_rec *root_of(request_rec *r)
{
    while (r->main || r->prev) {
        r = r->main ? r->main : r->prev;
    }
    return r;
}

static skv_req *memo_get(request_rec *r)
{
    return ap_get_module_config(root_of(r)->request_config, &session_kv_module);
}

static int log_store_error(request_rec *r, int level, apr_status_t rv, const char *what,
                           const char *why, const skv_runtime *rt)
{
    if (rv == SKV_STORE_DOWN) {
        /* failed at once while the server is marked down: LF01012 said so once, a line per
         * request would flood the log during an outage */
        level = APLOG_DEBUG;
    }
    /* APR_ENOSPC is the store's "larger than SessionKVMaxSize", which the sentence says:
     * httpd's "(28)No space left on device" in front of it would send an operator to the disk */
    ap_log_rerror(APLOG_MARK, level, rv == APR_ENOSPC ? APR_SUCCESS : lf_log_status(rv), r,
                  LFLOGNO(01001) "session %s failed (%s): %s", what, rt->display, why ? why : "");
    return level;
}

static int cookie_line(void *baton, const char *key, const char *value)
{
    void **args = baton;

    (void)key;
    skv_cookie_scan(args[0], value, args[1], args[2]);
    return 1;
}

/* Load (once per request chain) the session of the request's cookie. */
static skv_req *session_memo(request_rec *r)
{
    request_rec *root = root_of(r);
    skv_req *m = ap_get_module_config(root->request_config, &session_kv_module);
    const skv_dir_conf *dc = dir_conf(r);
    skv_cookie_found_t found = {NULL, 0, 0};
    void *args[3];
    const char *why = NULL;
    apr_status_t rv;

    if (m) {
        return m;
    }
    m = apr_pcalloc(root->pool, sizeof(*m));
    ap_set_module_config(root->request_config, &session_kv_module, m);
    m->dc = dc;
    m->rt = runtime_of(r->server);
    m->z = apr_pcalloc(root->pool, sizeof(*m->z));
    m->z->pool = root->pool;
    m->z->entries = apr_table_make(root->pool, 10);
    m->z->uuid = apr_pcalloc(root->pool, sizeof(apr_uuid_t));
    if (!m->rt || !m->rt->store) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      LFLOGNO(01002) "%s On, but this server has no working %s: sessions are "
                                     "not kept",
                      SKV_ENABLE, SKV_STORE);
        m->failed = 1;
        return m;
    }

    args[0] = &found;
    args[1] = (void *)dir_cookie(dc)->name;
    args[2] = root->pool;
    apr_table_do(cookie_line, args, r->headers_in, "Cookie", NULL);
    if (!found.count) {
        return m;
    }
    if (found.differ) {
        /* two different session cookies (one planted from a sibling domain, or a stale
         * Path): using either could hand the user someone else's session */
        skv_store_count_rejected(m->rt->store);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      LFLOGNO(01003) "%d different session cookies sent; starting a new session",
                      found.count);
        return m;
    }
    if (!skv_id_valid(found.value, strlen(found.value))) {
        skv_store_count_rejected(m->rt->store);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      LFLOGNO(01004) "session cookie is not a session id; starting a new session");
        return m;
    }
    rv = skv_store_load(&m->s, &why, m->rt->store, found.value, apr_time_now(), root->pool);
    if (rv == APR_SUCCESS) {
        m->z->encoded = m->s->rec.data;
        m->z->remote_user = m->s->rec.user;
        m->z->cached = 1;
    }
    else if (rv != APR_NOTFOUND) {
        m->s = NULL;
        m->failed = 1;
        m->down = rv == SKV_STORE_DOWN;
        log_store_error(r, APLOG_ERR, rv, "load", why, m->rt);
    }
    return m;
}

/* --- mod_session hooks ------------------------------------------------------------------------ */

static apr_status_t skv_session_load(request_rec *r, session_rec **z)
{
    skv_req *m;

    if (!dir_enabled(dir_conf(r))) {
        return DECLINED;
    }
    m = session_memo(r);
    *z = m->z;
    return OK;
}

/* Runs after mod_session's own decoding: what the session held before the application ran. */
static apr_status_t skv_session_decode(request_rec *r, session_rec *z)
{
    skv_req *m = memo_get(r);

    if (m && m->z == z && !m->snapshot) {
        m->snapshot = apr_table_copy(z->pool, z->entries);
    }
    return OK;
}

typedef struct merge_baton {
    request_rec *r;
    session_rec *z;
    const apr_array_header_t *changes;
} merge_baton;

/* Apply this request's changes to the session as another request stored it meanwhile, through
 * mod_session's own decoding and encoding (so mod_session_crypto keeps working). */
static apr_status_t merge_changes(const char **data, apr_size_t *len, const skv_record_t *current,
                                  void *baton, apr_pool_t *p)
{
    merge_baton *mb = baton;
    session_rec *t = apr_pcalloc(p, sizeof(*t));

    t->pool = p;
    t->entries = apr_table_make(p, 10);
    t->encoded = current->len ? current->data : NULL;
    if (ap_run_session_decode(mb->r, t) != OK) {
        return APR_EGENERAL;
    }
    skv_merge_apply(t->entries, mb->changes);
    t->expiry = mb->z->expiry;
    if (ap_run_session_encode(mb->r, t) != OK || !t->encoded) {
        return APR_EGENERAL;
    }
    *data = t->encoded;
    *len = strlen(t->encoded);
    return APR_SUCCESS;
}

static void set_cookie(request_rec *r, const skv_req *m, const char *value)
{
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   skv_cookie_header(dir_cookie(m->dc), value, r->pool));
    /* a shared cache must never hand one user's session cookie to another */
    apr_table_setn(r->err_headers_out, "Cache-Control", "private");
}

static int only_expiry(void *baton, const char *key, const char *value)
{
    (void)value;
    if (strcmp(key, SESSION_EXPIRY)) {
        *(int *)baton = 0;
        return 0;
    }
    return 1;
}

static apr_status_t skv_session_save(request_rec *r, session_rec *z)
{
    skv_req *m = memo_get(r);
    const apr_array_header_t *changes;
    const char *why = NULL;
    merge_baton mb;
    int empty = 1;
    apr_status_t rv;
    apr_time_t now = apr_time_now();

    if (!dir_enabled(dir_conf(r)) || !m || m->z != z) {
        return DECLINED;
    }
    if (m->done) {
        return OK;
    }
    m->done = 1;
    if (m->failed) {
        ap_log_rerror(APLOG_MARK, m->down ? APLOG_DEBUG : APLOG_WARNING, 0, r,
                      LFLOGNO(01005) "session not saved: the store failed when it was loaded, "
                                     "and the stored session is left as it was");
        return OK;
    }
    apr_table_do(only_expiry, &empty, z->entries, NULL);
    if (empty) {
        /* nothing left in it: a logout, or a session that never held anything */
        if (m->s) {
            rv = skv_store_destroy(m->s, &why, m->rt->store, r->pool);
            if (rv != APR_SUCCESS) {
                log_store_error(r, APLOG_ERR, rv, "delete", why, m->rt);
            }
            set_cookie(r, m, NULL);
        }
        return OK;
    }
    changes = skv_merge_diff(m->snapshot, z->entries, SESSION_EXPIRY, r->pool);
    if (!changes->nelts && !m->regenerate) {
        /* only mod_session's expiry moved (SessionMaxAge): rewrite at the touch interval so
         * the stored expiry never falls behind an active user */
        if (m->s && now - m->s->rec.written < m->rt->conf.touch_interval) {
            return OK;
        }
    }
    mb.r = r;
    mb.z = z;
    mb.changes = changes;
    {
        const char *old_id = m->s ? m->s->id : NULL;
        skv_session_t *s = m->s;

        if (!s) {
            s = apr_pcalloc(r->pool, sizeof(*s));
            s->expires_in = -1;
        }
        rv = skv_store_save(s, &why, m->rt->store, z->encoded ? z->encoded : "",
                            z->encoded ? strlen(z->encoded) : 0, r->user, m->regenerate,
                            merge_changes, &mb, now, r->pool);
        if (rv == APR_SUCCESS) {
            m->s = s;
            if (!old_id || strcmp(old_id, s->id)) {
                set_cookie(r, m, s->id);
            }
        }
        else if (rv == APR_NOTFOUND) {
            /* a request that began before a logout or login elsewhere and ended after it: the
             * browser holds the newer cookie, which this answer must not replace */
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, LFLOGNO(01011) "session not saved: %s",
                          why);
        }
        else {
            log_store_error(r, APLOG_ERR, rv, "save", why, m->rt);
        }
    }
    return OK;
}

/* --- response: joined SessionHeader parts, regeneration ----------------------------------------
 */

static const char *header_take(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->err_headers_out, name);

    if (!v) {
        v = apr_table_get(r->headers_out, name);
    }
    if (v) {
        apr_table_unset(r->err_headers_out, name);
        apr_table_unset(r->headers_out, name);
    }
    return v;
}

/* PHP-FPM cannot send a header line over 8 KB: a larger SessionHeader comes as NAME-1,
 * NAME-2, ... and is joined here, before mod_session reads NAME. */
static void join_header_parts(request_rec *r)
{
    session_dir_conf *sc = ap_get_module_config(r->per_dir_config, &session_module);
    const char *part;
    char *joined = NULL;
    int i;

    if (!sc || !sc->header_set || !sc->header) {
        return;
    }
    for (i = 1; i <= MAX_HEADER_PARTS; ++i) {
        part = header_take(r, apr_psprintf(r->pool, "%s-%d", sc->header, i));
        if (!part) {
            break;
        }
        joined = joined ? apr_pstrcat(r->pool, joined, part, NULL) : apr_pstrdup(r->pool, part);
    }
    if (joined) {
        apr_table_setn(r->headers_out, sc->header, joined);
    }
}

static apr_status_t skv_out_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    skv_req *m = memo_get(r);
    const char *regen = LF_DEFAULT(dir_conf(r), dir_defaults, regen_header, NULL);

    ap_remove_output_filter(f);
    join_header_parts(r);
    if (header_take(r, regen) && m) {
        m->regenerate = 1;
    }
    if (m && m->s && r->user && (!m->s->rec.user || strcmp(m->s->rec.user, r->user))) {
        /* another user now: a session id seen before the login must not carry it */
        m->regenerate = 1;
    }
    if (m && m->regenerate) {
        m->z->dirty = 1;
    }
    return ap_pass_brigade(f->next, bb);
}

static void skv_insert_filter(request_rec *r)
{
    if (dir_enabled(dir_conf(r))) {
        ap_add_output_filter("SESSION_KV", NULL, r, r->connection);
    }
}

/* --- request hooks ---------------------------------------------------------------------------- */

/* Before mod_session's fixup: a client must not set the session through a "Session" request
 * header (it would reach CGI and PHP as HTTP_SESSION), and with the closed policy a request
 * whose session cannot be loaded gets a 503 before the application runs. */
static int skv_fixups(request_rec *r)
{
    const skv_dir_conf *dc = dir_conf(r);
    skv_req *m;

    if (!dir_enabled(dc)) {
        return DECLINED;
    }
    apr_table_unset(r->headers_in, "Session");
    m = session_memo(r);
    if (m->failed && LF_DEFAULT(dc, dir_defaults, policy, POLICY_UNSET) == POLICY_CLOSED) {
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    return DECLINED;
}

/* After mod_session's fixup, which put the session in HTTP_SESSION (SessionEnv On): a long one
 * goes to the application as HTTP_SESSION_1 .. HTTP_SESSION_<n> with HTTP_SESSION_PARTS=<n>,
 * because mod_proxy_fcgi drops an environment variable that does not fit its 16 KB record
 * (AH02536) and PHP-FPM would see no session at all. The counterpart of join_header_parts(). */
static int skv_env_split(request_rec *r)
{
    const skv_dir_conf *dc = dir_conf(r);
    apr_off_t size = LF_DEFAULT(dc, dir_defaults, env_part_size, LF_UNSET);
    const char *v;
    apr_size_t len, off;
    int n = 0;

    if (!dir_enabled(dc) || size <= 0 || !(v = apr_table_get(r->subprocess_env, "HTTP_SESSION"))
        || (len = strlen(v)) <= (apr_size_t)size) {
        return DECLINED;
    }
    for (off = 0; off < len; off += (apr_size_t)size) {
        apr_table_setn(r->subprocess_env, apr_psprintf(r->pool, "HTTP_SESSION_%d", ++n),
                       apr_pstrndup(r->pool, v + off, (apr_size_t)size));
    }
    apr_table_setn(r->subprocess_env, "HTTP_SESSION_PARTS", apr_itoa(r->pool, n));
    apr_table_unset(r->subprocess_env, "HTTP_SESSION");
    return DECLINED;
}

/* After the response: an unchanged session gets its expiry refreshed (at most once per
 * SessionKVTouchInterval), without rewriting it. */
static int skv_log_transaction(request_rec *r)
{
    skv_req *m;
    const char *why = NULL;
    apr_status_t rv;

    if (r->main || r->prev || !(m = memo_get(r)) || !m->s || m->done || m->failed) {
        return DECLINED;
    }
    m->done = 1;
    rv = skv_store_touch(m->s, &why, m->rt->store, apr_time_now(), r->pool);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        log_store_error(r, APLOG_WARNING, rv, "touch", why, m->rt);
    }
    return DECLINED;
}

/* --- status page --------------------------------------------------------------------------------
 */

static int skv_status(request_rec *r, int flags)
{
    int i;

    if (!runtimes) {
        return OK;
    }
    for (i = 0; i < runtimes->nelts; ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(runtimes, i, skv_runtime *);
        skv_stats_t st;
        static const char *const names[] = {
            "Loads",       "Hits",     "Misses",         "Expired",           "Rejected",
            "Writes",      "Touches",  "Deletes",        "Conflicts",         "Merges",
            "Regenerated", "Oversize", "Dropped",        "ErrorsTimeout",     "ErrorsDown",
            "ErrorsOther", "Ops",      "OpMicroseconds", "OpMaxMicroseconds", "ErrorsMarkedDown",
            "MarkedDown",
        };
        apr_uint64_t *v = (apr_uint64_t *)&st;
        int k;

        for (k = 0; k < (int)(sizeof(st) / sizeof(apr_uint64_t)); ++k) {
            v[k] = __atomic_load_n(((apr_uint64_t *)rt->stats) + k, __ATOMIC_RELAXED);
        }
        if (flags & AP_STATUS_SHORT) {
            for (k = 0; k < (int)(sizeof(names) / sizeof(names[0])); ++k) {
                ap_rprintf(r, "SessionKV%d%s: %" APR_UINT64_T_FMT "\n", i, names[k], v[k]);
            }
            continue;
        }
        ap_rprintf(r, "<hr />\n<h2>mod_session_kv: %s</h2>\n<table>\n",
                   ap_escape_html(r->pool, rt->display));
        for (k = 0; k < (int)(sizeof(names) / sizeof(names[0])); ++k) {
            ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n", names[k], v[k]);
        }
        ap_rputs("</table>\n", r);
    }
    return OK;
}

/* --- background refresh: what a store's connections share (discovered nodes) ------------- */

/* One thread per child brings each store's shared view of its backend up to date (memcached
 * auto-discovery today; skv_store_refresh() is the same call for any driver that has something
 * to refresh), each at its SessionKVDiscoveryInterval. It knows nothing of memcached: a store
 * that answers APR_ENOTIMPL is not asked again. */
typedef struct skv_refresher {
    mod_lf_thread_spec spec;
    mod_lf_thread_t *thread;
    server_rec *s;
} skv_refresher;

static skv_refresher *refresher; /* from pconf, per generation; NULL: no store to refresh */

/* Whether a store of @p rt may have something to refresh (its driver has refresh()). */
static int runtime_refreshes(const skv_runtime *rt)
{
    const skv_driver_t *d =
        rt->conf.driver ? rt->conf.driver : skv_backend_driver(rt->conf.backend);

    return d->refresh != NULL;
}

static apr_status_t refresher_start(void *data, apr_pool_t *pool)
{
    (void)data;
    (void)pool;
    return APR_SUCCESS;
}

/* Every store that is due. A failure is a WARNING once, when it begins (at debug while it
 * lasts: the endpoint is asked every interval, a line a minute would flood the log), and an INFO
 * when it ends; every change is an INFO. */
static void refresher_run(void *data, apr_pool_t *ptemp)
{
    skv_refresher *w = data;
    apr_time_t now = apr_time_now();
    int i;

    for (i = 0; i < runtimes->nelts && !mod_lf_thread_stopping(w->thread); ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(runtimes, i, skv_runtime *);
        const char *why = NULL;
        apr_status_t rv;
        int changed = 0;

        if (!rt->store || rt->refresh_off || now < rt->refresh_due) {
            continue;
        }
        rt->refresh_due = now + rt->settings.refresh_every;
        rv = skv_store_refresh(&changed, &why, rt->store, ptemp);
        if (rv == APR_ENOTIMPL) {
            rt->refresh_off = 1;
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, w->s,
                         LFLOGNO(01021) "sessions in %s: nothing to refresh", rt->display);
            continue;
        }
        if (rv != APR_SUCCESS) {
            if (!rt->refresh_failures++) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s,
                             LFLOGNO(01017) "sessions in %s: refresh failed: %s (tried again "
                                            "every %s; logged again when it works again)",
                             rt->display, why ? why : "",
                             lf_format_duration(rt->settings.refresh_every, ptemp));
            }
            else {
                ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, w->s,
                             LFLOGNO(01019) "sessions in %s: refresh failed (%d in a row): %s",
                             rt->display, rt->refresh_failures, why ? why : "");
            }
            continue;
        }
        if (rt->refresh_failures) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, w->s,
                         LFLOGNO(01018) "sessions in %s: refreshed again after %d failed "
                                        "attempts",
                         rt->display, rt->refresh_failures);
            rt->refresh_failures = 0;
        }
        if (changed) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, w->s, LFLOGNO(01016) "sessions in %s: now %s",
                         rt->display, why ? why : "");
        }
    }
}

/* The refresher of this generation, when a store may need one: the shortest interval is its
 * tick, each store is refreshed at its own. */
static apr_status_t refresher_create(server_rec *s, apr_pool_t *pconf)
{
    skv_refresher *w;
    apr_interval_time_t tick = 0;
    apr_status_t rv;
    int i;

    for (i = 0; i < runtimes->nelts; ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(runtimes, i, skv_runtime *);

        if (runtime_refreshes(rt) && (!tick || rt->settings.refresh_every < tick)) {
            tick = rt->settings.refresh_every;
        }
    }
    if (!tick) {
        return APR_SUCCESS;
    }
    w = apr_pcalloc(pconf, sizeof(*w));
    w->s = s;
    w->spec.name = "the session store refresher";
    w->spec.tick = tick;
    w->spec.start = refresher_start;
    w->spec.run = refresher_run;
    if ((rv = mod_lf_thread_create(&w->thread, &w->spec, w, s, pconf)) != APR_SUCCESS) {
        return rv;
    }
    refresher = w;
    return APR_SUCCESS;
}

/* --- startup ------------------------------------------------------------------------------------
 */

/* Cross-field checks here, not in post_config: `apachectl configtest` runs this hook. */
static int skv_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const char *err;

    (void)pconf;
    (void)plog;
    mod_lf_log_install(s);
    if ((err = runtimes_setup(s, 0, ptemp))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, LFLOGNO(01006) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int skv_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    skv_stats_t *stats;
    skv_breaker_t *breakers;
    const char *err;
    apr_size_t servers = 0;
    apr_status_t rv;
    int i;

    (void)plog;
    (void)ptemp;
    runtimes = apr_array_make(pconf, 2, sizeof(skv_runtime *));
    refresher = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if ((err = runtimes_setup(s, 1, pconf))) { /* checked already: should not happen */
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, LFLOGNO(01007) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!runtimes->nelts) {
        return OK;
    }
    for (i = 0; i < runtimes->nelts; ++i) {
        servers +=
            (apr_size_t)APR_ARRAY_IDX(runtimes, i, skv_runtime *)->conf.backend->servers->nelts;
    }
    /* Shared by all children: the counters for server-status (they count on across graceful
     * restarts while the stores stay the same), then the down state of every store's servers
     * (skv_breaker.h), so that a server that hangs costs one timeout per retry interval for
     * the whole httpd, not one per child (with prefork, one per process). */
    rv = mod_lf_shm_attach((void **)&stats, NULL, SKV_SHM_KEY,
                           sizeof(skv_stats_t) * (apr_size_t)runtimes->nelts
                               + sizeof(skv_breaker_t) * servers,
                           ((apr_uint64_t)runtimes->nelts << 32) | servers, s);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(01008) "cannot create the shared memory for session counters");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* a (re)start begins with every server up: the servers may have changed */
    breakers = (skv_breaker_t *)(stats + runtimes->nelts);
    memset(breakers, 0, sizeof(skv_breaker_t) * servers);
    for (i = 0; i < runtimes->nelts; ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(runtimes, i, skv_runtime *);
        rt->stats = stats + i;
        rt->conf.breakers = breakers;
        breakers += rt->conf.backend->servers->nelts;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     LFLOGNO(01009) "sessions in %s: idle timeout %s, %d connections per child%s%s",
                     rt->display, lf_format_duration(rt->conf.idle_timeout, ptemp),
                     rt->conf.max_conns, rt->conf.keys ? ", encrypted" : "",
                     rt->conf.driver == &skv_driver_memcached_discovery
                         ? apr_psprintf(ptemp, ", nodes discovered (every %s)",
                                        lf_format_duration(rt->settings.refresh_every, ptemp))
                         : "");
    }
    if ((rv = refresher_create(s, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(01020) "cannot create the thread that refreshes the session stores");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Connections belong to the child that uses them: the stores are made after fork. */
static void skv_child_init(apr_pool_t *pchild, server_rec *s)
{
    int i;

    for (i = 0; runtimes && i < runtimes->nelts; ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(runtimes, i, skv_runtime *);
        apr_status_t rv = skv_store_create(&rt->store, &rt->conf, rt->stats, pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                         LFLOGNO(01010) "cannot set up the session store %s", rt->display);
        }
    }
}

/* Last of all child_init hooks: the refresher's first run comes at once and uses the stores. */
static void skv_child_init_last(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    if (refresher) {
        (void)mod_lf_thread_start(refresher->thread, pchild); /* the kit logs a failure */
    }
}

/* --- mod_health check "session-kv": the main server's store answers ------------------------ */

static const char *health_configure(void **ctx, const char *target, apr_table_t *options,
                                    apr_pool_t *p)
{
    (void)target;
    (void)options;
    (void)p;
    *ctx = NULL;
    return NULL;
}

static apr_status_t health_run(const char **error, void *ctx, server_rec *s,
                               apr_interval_time_t timeout, apr_pool_t *p)
{
    skv_runtime *rt = runtime_of(s);
    const char *info = NULL;
    apr_status_t rv;

    (void)ctx;
    (void)timeout; /* bounded by SessionKVConnectTimeout + SessionKVTimeout */
    if (!rt || !rt->store) {
        *error = apr_psprintf(p, "no %s in the main server", SKV_STORE);
        return APR_NOTFOUND;
    }
    rv = skv_store_ping(&info, rt->store, p);
    if (rv != APR_SUCCESS) {
        *error = info ? info : "no answer";
    }
    return rv;
}

static const health_check_provider health_session_kv = {HEALTH_TARGET_NONE, health_configure,
                                                        health_run};

static void skv_register_hooks(apr_pool_t *p)
{
    static const char *const after_session[] = {"mod_session.c", NULL};

    skv_cookie_defaults(&cookie_default, "session");

    ap_hook_check_config(skv_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(skv_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(skv_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(skv_child_init_last, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_session_load(skv_session_load, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_session_save(skv_session_save, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_session_decode(skv_session_decode, after_session, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_fixups(skv_fixups, NULL, after_session, APR_HOOK_FIRST);
    ap_hook_fixups(skv_env_split, after_session, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_filter(skv_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(skv_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(skv_log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
    /* just before mod_session's MOD_SESSION_OUT (AP_FTYPE_CONTENT_SET), which saves */
    ap_register_output_filter("SESSION_KV", skv_out_filter, NULL, AP_FTYPE_CONTENT_SET - 1);
    APR_OPTIONAL_HOOK(ap, status_hook, skv_status, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_provider(p, HEALTH_PROVIDER_GROUP, "session-kv", HEALTH_PROVIDER_VERSION,
                         &health_session_kv);
}

module AP_MODULE_DECLARE_DATA session_kv_module = {
    STANDARD20_MODULE_STUFF, create_dir_conf, merge_dir_conf,     create_srv_conf,
    merge_srv_conf,          skv_cmds,        skv_register_hooks, AP_MODULE_FLAG_NONE,
};
