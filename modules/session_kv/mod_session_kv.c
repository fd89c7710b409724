/* mod_session_kv — httpd mod_session storage in memcached, redis or a MySQL/MariaDB table,
 * shared by every server.
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
 * This file: the module and its hooks, the cookie, the status page, the mod_health check, and
 * the background thread that keeps what the stores' connections share up to date (the nodes of
 * a memcached cluster found by auto-discovery, a redis cluster's slot map) and deletes the
 * expired rows of a mysql:// store. The configuration and the runtimes are in
 * mod_session_kv_config.c; the session logic without httpd is in skv_store.c and its neighbours.
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
#include "mod_session_kv_config.h"

APLOG_USE_MODULE(session_kv);
#include "mod_lf_life.h"
#include "mod_lf_log.h"

#define SKV_SHM_KEY "lampfarm:session_kv"

/* mod_session's key for its own expiry: it changes on every save with SessionMaxAge, so it is
 * not a change of the session's content */
#define SESSION_EXPIRY "expiry"
/* The most numbered parts of a split SessionHeader joined (8000 bytes each from PHP-FPM). */
#define MAX_HEADER_PARTS 64

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
    const skv_dir_conf *dc = skv_dir_of(r);
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
    m->rt = skv_runtime_of(r->server);
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
    args[1] = (void *)skv_dir_cookie(dc)->name;
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

    if (!skv_dir_enabled(skv_dir_of(r))) {
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
                   skv_cookie_header(skv_dir_cookie(m->dc), value, r->pool));
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

    if (!skv_dir_enabled(skv_dir_of(r)) || !m || m->z != z) {
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
    const char *regen = LF_DEFAULT(skv_dir_of(r), skv_dir_defaults, regen_header, NULL);

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
    if (skv_dir_enabled(skv_dir_of(r))) {
        ap_add_output_filter("SESSION_KV", NULL, r, r->connection);
    }
}

/* --- request hooks ---------------------------------------------------------------------------- */

/* Before mod_session's fixup: a client must not set the session through a "Session" request
 * header (it would reach CGI and PHP as HTTP_SESSION), and with the closed policy a request
 * whose session cannot be loaded gets a 503 before the application runs. */
static int skv_fixups(request_rec *r)
{
    const skv_dir_conf *dc = skv_dir_of(r);
    skv_req *m;

    if (!skv_dir_enabled(dc)) {
        return DECLINED;
    }
    apr_table_unset(r->headers_in, "Session");
    m = session_memo(r);
    if (m->failed && LF_DEFAULT(dc, skv_dir_defaults, policy, POLICY_UNSET) == POLICY_CLOSED) {
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
    const skv_dir_conf *dc = skv_dir_of(r);
    apr_off_t size = LF_DEFAULT(dc, skv_dir_defaults, env_part_size, LF_UNSET);
    const char *v;
    apr_size_t len, off;
    int n = 0;

    if (!skv_dir_enabled(dc) || size <= 0 || !(v = apr_table_get(r->subprocess_env, "HTTP_SESSION"))
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

    if (!skv_runtimes) {
        return OK;
    }
    for (i = 0; i < skv_runtimes->nelts; ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(skv_runtimes, i, skv_runtime *);
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
 * auto-discovery, a redis cluster's slot map; for a mysql:// store, the sweep of its expired
 * rows: skv_store_refresh() is the same call for any driver that has something to do in the
 * background), each at its SessionKVDiscoveryInterval. It knows nothing of the backends: a store
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

    for (i = 0; i < skv_runtimes->nelts && !mod_lf_thread_stopping(w->thread); ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(skv_runtimes, i, skv_runtime *);
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

    for (i = 0; i < skv_runtimes->nelts; ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(skv_runtimes, i, skv_runtime *);

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
    if ((err = skv_runtimes_setup(s, 0, ptemp))) {
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
    skv_runtimes = apr_array_make(pconf, 2, sizeof(skv_runtime *));
    refresher = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if ((err = skv_runtimes_setup(s, 1, pconf))) { /* checked already: should not happen */
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, LFLOGNO(01007) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!skv_runtimes->nelts) {
        return OK;
    }
    for (i = 0; i < skv_runtimes->nelts; ++i) {
        servers +=
            (apr_size_t)APR_ARRAY_IDX(skv_runtimes, i, skv_runtime *)->conf.backend->servers->nelts;
    }
    /* Shared by all children: the counters for server-status (they count on across graceful
     * restarts while the stores stay the same), then the down state of every store's servers
     * (skv_breaker.h), so that a server that hangs costs one timeout per retry interval for
     * the whole httpd, not one per child (with prefork, one per process). */
    rv = mod_lf_shm_attach((void **)&stats, NULL, SKV_SHM_KEY,
                           sizeof(skv_stats_t) * (apr_size_t)skv_runtimes->nelts
                               + sizeof(skv_breaker_t) * servers,
                           ((apr_uint64_t)skv_runtimes->nelts << 32) | servers, s);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     LFLOGNO(01008) "cannot create the shared memory for session counters");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* a (re)start begins with every server up: the servers may have changed */
    breakers = (skv_breaker_t *)(stats + skv_runtimes->nelts);
    memset(breakers, 0, sizeof(skv_breaker_t) * servers);
    for (i = 0; i < skv_runtimes->nelts; ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(skv_runtimes, i, skv_runtime *);
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

    for (i = 0; skv_runtimes && i < skv_runtimes->nelts; ++i) {
        skv_runtime *rt = APR_ARRAY_IDX(skv_runtimes, i, skv_runtime *);
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
    skv_runtime *rt = skv_runtime_of(s);
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

    skv_config_init();

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
    STANDARD20_MODULE_STUFF, skv_create_dir_conf, skv_merge_dir_conf,
    skv_create_srv_conf,     skv_merge_srv_conf,  skv_cmds,
    skv_register_hooks,      AP_MODULE_FLAG_NONE,
};
