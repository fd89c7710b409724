/* skv_store — sessions in one backend (see skv_store.h). */
#include <string.h>

#include <apr_reslist.h>
#include <apr_strings.h>

#include "lf_log.h"
#include "lf_parse.h"
#include "skv_backend.h"
#include "skv_breaker.h"
#include "skv_id.h"
#include "skv_store.h"

struct skv_store_t {
    skv_store_conf_t conf;
    const skv_driver_t *driver;
    apr_reslist_t *conns;
    void *shared; /* the driver's share(), or NULL */
    skv_stats_t *stats;
    skv_breaker_t *breakers; /* one per backend server: conf.breakers, or the store's own */
    const char **names;      /* of the servers, for messages: "memcached 10.0.1.10:11211" */
    apr_time_t (*now)(void);
};

/* A pooled connection with the pool that owns its handles. */
typedef struct pooled_t {
    skv_conn_t *conn;
    apr_pool_t *pool;
} pooled_t;

#define COUNT(st, field) __atomic_fetch_add(&(st)->stats->field, 1, __ATOMIC_RELAXED)
/* How many ids to try when a new one is taken already (never, with 256 random bits). */
#define NEW_ID_ATTEMPTS 3

static apr_status_t conn_make(void **res, void *params, apr_pool_t *unused)
{
    skv_store_t *st = params;
    pooled_t *pc;
    apr_pool_t *cp;
    apr_status_t rv;

    (void)unused;
    /* an unmanaged pool with its own allocator: apr_reslist builds resources without holding
     * its lock, and a pool shared between threads would need one */
    rv = apr_pool_create_unmanaged_ex(&cp, NULL, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    pc = apr_pcalloc(cp, sizeof(*pc));
    pc->pool = cp;
    rv = st->driver->open(&pc->conn, st->conf.backend, st->shared, cp);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(cp);
        return rv;
    }
    *res = pc;
    return APR_SUCCESS;
}

static apr_status_t conn_drop(void *res, void *params, apr_pool_t *unused)
{
    (void)params;
    (void)unused;
    apr_pool_destroy(((pooled_t *)res)->pool);
    return APR_SUCCESS;
}

apr_status_t skv_store_create(skv_store_t **out, const skv_store_conf_t *conf, skv_stats_t *stats,
                              apr_pool_t *p)
{
    skv_store_t *st = apr_pcalloc(p, sizeof(*st));
    int n = conf->backend->servers->nelts, i;
    apr_status_t rv;

    st->conf = *conf;
    st->driver = conf->driver ? conf->driver : skv_backend_driver(conf->backend);
    st->stats = stats;
    st->now = conf->now ? conf->now : apr_time_now;
    /* without shared memory from the caller, the down state is this process's (skv_store.h) */
    st->breakers =
        conf->breakers ? conf->breakers : apr_pcalloc(p, sizeof(skv_breaker_t) * (apr_size_t)n);
    st->names = apr_palloc(p, sizeof(const char *) * (apr_size_t)n);
    for (i = 0; i < n; i++) {
        const skv_server_t *s = &APR_ARRAY_IDX(conf->backend->servers, i, skv_server_t);

        st->names[i] = apr_psprintf(p, strchr(s->host, ':') ? "%s [%s]:%u" : "%s %s:%u",
                                    st->driver->name, s->host, (unsigned)s->port);
    }
    if (st->driver->share
        && (rv = st->driver->share(&st->shared, conf->backend, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = apr_reslist_create(&st->conns, 0, conf->max_conns, conf->max_conns, 0, conn_make,
                            conn_drop, st, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* a request waits for a free connection no longer than for the backend itself */
    apr_reslist_timeout_set(st->conns, conf->backend->io_timeout);
    *out = st;
    return APR_SUCCESS;
}

apr_status_t skv_store_refresh(int *changed, const char **why, skv_store_t *st, apr_pool_t *p)
{
    *changed = 0;
    *why = "";
    if (!st->driver->refresh) {
        return APR_ENOTIMPL;
    }
    return st->driver->refresh(changed, why, st->shared, p);
}

skv_stats_t *skv_store_stats(skv_store_t *st)
{
    return st->stats;
}

void skv_store_count_rejected(skv_store_t *st)
{
    COUNT(st, rejected);
}

/* --- one backend operation: a connection from the pool, timing, error accounting ---------- */

typedef enum { OP_GET, OP_ADD, OP_CAS, OP_REPLACE, OP_TOUCH, OP_DEL, OP_PING } op_e;

typedef struct op_t {
    op_e kind;
    const char *key;
    const char *data;
    apr_size_t len;
    apr_uint64_t cas;
    skv_value_t *val;  /* OP_GET */
    const char **info; /* OP_PING */
} op_t;

static const char *const op_names[] = {"get", "add", "cas", "replace", "touch", "delete", "ping"};

/* What @p rv says about the server: only a timeout marks it down (see skv_breaker.h). */
static skv_breaker_outcome_e outcome(apr_status_t rv)
{
    switch (rv) {
    case APR_TIMEUP:
        return SKV_BREAKER_NO_ANSWER;
    case APR_ECONNREFUSED:
    case APR_ENOMEM:
        return SKV_BREAKER_UNKNOWN;
    default:
        return SKV_BREAKER_ANSWERED; /* a value, "not found", "exists", an error reply */
    }
}

/* Log what a report on server @p i changed; @p what is the operation and its error. */
static void log_change(skv_store_t *st, int i, skv_breaker_change_e change, const char *what,
                       apr_interval_time_t down_for, apr_uint64_t refused, apr_pool_t *p)
{
    const char *retry = lf_format_duration(st->conf.backend->retry_interval, p);

    switch (change) {
    case SKV_BREAKER_DOWN:
        COUNT(st, marked_down);
        lf_log_perror(LF_LOG_MARK, LF_LOG_WARNING, APR_SUCCESS,
                      LFLOGNO(01012) "%s marked down, no answer in time (%s): requests for its "
                                     "sessions get the failure policy at once, without waiting, "
                                     "until one tries it again in %s",
                      st->names[i], what, retry);
        break;
    case SKV_BREAKER_STILL_DOWN:
        lf_log_perror(LF_LOG_MARK, LF_LOG_INFO, APR_SUCCESS,
                      LFLOGNO(01014) "%s still down, no answer to a retry (%s): tried again in %s",
                      st->names[i], what, retry);
        break;
    case SKV_BREAKER_UP:
        lf_log_perror(LF_LOG_MARK, LF_LOG_INFO, APR_SUCCESS,
                      LFLOGNO(01013) "%s back up: answered again after %.1fs marked down; "
                                     "%" APR_UINT64_T_FMT " operations failed at once meanwhile",
                      st->names[i], (double)down_for / APR_USEC_PER_SEC, refused);
        break;
    case SKV_BREAKER_SAME:
        break;
    }
}

static apr_status_t run(const char **why, skv_store_t *st, op_t *op, apr_pool_t *p)
{
    const skv_driver_t *d = st->driver;
    apr_interval_time_t ttl = st->conf.idle_timeout, down_for = 0;
    apr_interval_time_t retry = st->conf.backend->retry_interval;
    apr_time_t start = st->now();
    apr_uint64_t took, max, refused = 0;
    skv_breaker_admit_e admitted = SKV_BREAKER_PASS;
    skv_breaker_change_e change;
    pooled_t *pc;
    apr_status_t rv;
    int server;

    rv = apr_reslist_acquire(st->conns, (void **)&pc);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "no free connection to %s within %s (raise SessionKVConnections)",
                            st->conf.backend->display,
                            lf_format_duration(st->conf.backend->io_timeout, p));
        COUNT(st, err_other);
        return APR_TIMEUP;
    }
    /* the health check's ping always goes out: it is not on the request path */
    server = op->kind == OP_PING ? -1 : d->server(pc->conn, op->key);
    if (server >= 0
        && (admitted = skv_breaker_admit(&st->breakers[server], start, retry))
               == SKV_BREAKER_REFUSE) {
        apr_reslist_release(st->conns, pc);
        *why = apr_psprintf(p, "%s: %s is marked down (no answer in time; retried every %s)",
                            op_names[op->kind], st->names[server], lf_format_duration(retry, p));
        COUNT(st, err_marked);
        return SKV_STORE_DOWN;
    }
    switch (op->kind) {
    case OP_GET:
        rv = d->get(op->val, pc->conn, op->key, p);
        break;
    case OP_ADD:
        rv = d->add(pc->conn, op->key, op->data, op->len, ttl);
        break;
    case OP_CAS:
        rv = d->cas(pc->conn, op->key, op->data, op->len, ttl, op->cas);
        break;
    case OP_REPLACE:
        rv = d->replace(pc->conn, op->key, op->data, op->len, ttl);
        break;
    case OP_TOUCH:
        rv = d->touch(pc->conn, op->key, ttl);
        break;
    case OP_DEL:
        rv = d->del(pc->conn, op->key);
        break;
    case OP_PING:
        rv = d->ping(op->info, pc->conn, p);
        break;
    }
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND && rv != APR_EEXIST) {
        *why = apr_psprintf(p, "%s: %s", op_names[op->kind], d->error(pc->conn));
        if (rv == APR_TIMEUP) {
            COUNT(st, err_timeout);
        }
        else if (rv == APR_ECONNREFUSED) {
            COUNT(st, err_down);
        }
        else {
            COUNT(st, err_other);
        }
    }
    apr_reslist_release(st->conns, pc);

    if (server >= 0) {
        change = skv_breaker_report(&st->breakers[server], admitted, outcome(rv), st->now(), retry,
                                    &down_for, &refused);
        if (change != SKV_BREAKER_SAME) {
            /* down only ever after a timeout, which set *why */
            log_change(st, server, change, change == SKV_BREAKER_UP ? "" : *why, down_for, refused,
                       p);
        }
    }
    took = (apr_uint64_t)(st->now() - start);
    COUNT(st, ops);
    __atomic_fetch_add(&st->stats->op_usec, took, __ATOMIC_RELAXED);
    max = __atomic_load_n(&st->stats->op_max_usec, __ATOMIC_RELAXED);
    while (took > max
           && !__atomic_compare_exchange_n(&st->stats->op_max_usec, &max, took, 1, __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED)) {
    }
    return rv;
}

static apr_status_t op_get(skv_value_t *val, const char **why, skv_store_t *st, const char *key,
                           apr_pool_t *p)
{
    op_t op = {OP_GET, key, NULL, 0, 0, val, NULL};
    return run(why, st, &op, p);
}

static apr_status_t op_write(op_e kind, const char **why, skv_store_t *st, const char *key,
                             const char *data, apr_size_t len, apr_uint64_t cas, apr_pool_t *p)
{
    op_t op = {kind, key, data, len, cas, NULL, NULL};
    return run(why, st, &op, p);
}

/* --- sessions ---------------------------------------------------------------------------- */

/* How far ahead of ours another node's clock may be: its sessions are not refused for that. */
#define CLOCK_SKEW apr_time_from_sec(3600)

/* Whether a stored session's times can be true: not before 1970 and not in the future (beyond
 * another node's clock skew). Anything else comes from a broken or hostile backend; refusing
 * it also keeps the arithmetic on these times from overflowing. */
static int times_possible(const skv_record_t *rec, apr_time_t now)
{
    return rec->created >= 0 && rec->written >= 0 && rec->created <= now + CLOCK_SKEW
           && rec->written <= now + CLOCK_SKEW;
}

/* Microseconds until @p s expires: what the backend said, or else what the last write implies. */
static apr_interval_time_t remaining(const skv_session_t *s, const skv_store_t *st, apr_time_t now)
{
    apr_interval_time_t by_write = s->rec.written + st->conf.idle_timeout - now;

    return s->expires_in >= 0 && s->expires_in > by_write ? s->expires_in : by_write;
}

apr_status_t skv_store_load(skv_session_t **out, const char **why, skv_store_t *st, const char *id,
                            apr_time_t now, apr_pool_t *p)
{
    skv_session_t *s = apr_pcalloc(p, sizeof(*s));
    skv_value_t val;
    apr_status_t rv;

    s->id = id;
    s->key = skv_id_key(st->conf.prefix, id, p);
    COUNT(st, loads);
    rv = op_get(&val, why, st, s->key, p);
    if (rv == APR_NOTFOUND) {
        COUNT(st, misses);
        return rv;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = skv_envelope_decode(&s->rec, why, val.data, val.len, st->conf.keys, s->key, p);
    if (rv != APR_SUCCESS) {
        COUNT(st, err_other);
        return rv;
    }
    s->cas = val.cas;
    s->expires_in = val.expires_in;
    if (!times_possible(&s->rec, now) || remaining(s, st, now) <= 0
        || (st->conf.max_lifetime && now - s->rec.created >= st->conf.max_lifetime)) {
        const char *ignored;
        COUNT(st, expired);
        if (op_write(OP_DEL, &ignored, st, s->key, NULL, 0, 0, p) == APR_SUCCESS) {
            COUNT(st, deletes);
        }
        return APR_NOTFOUND;
    }
    COUNT(st, hits);
    *out = s;
    return APR_SUCCESS;
}

/* The envelope of @p s with @p data for its current key. */
static apr_status_t envelope(const char **env, apr_size_t *env_len, const skv_session_t *s,
                             const skv_store_t *st, const char *data, apr_size_t len,
                             const char *user, apr_time_t now, apr_pool_t *p)
{
    skv_record_t rec = s->rec;

    rec.written = now;
    rec.user = user;
    rec.data = data;
    rec.len = len;
    return skv_envelope_encode(env, env_len, &rec, st->conf.keys, s->key, p);
}

/* Store @p data under a fresh id; @p s gets the id and key. */
static apr_status_t add_new(skv_session_t *s, const char **why, skv_store_t *st, const char *data,
                            apr_size_t len, const char *user, apr_time_t now, apr_pool_t *p)
{
    apr_status_t rv = APR_EEXIST;
    int i;

    for (i = 0; i < NEW_ID_ATTEMPTS && rv == APR_EEXIST; ++i) {
        const char *env;
        apr_size_t env_len;

        if (skv_id_generate(&s->id, p) != APR_SUCCESS) {
            *why = "no random bytes for a session id";
            return APR_EGENERAL;
        }
        s->key = skv_id_key(st->conf.prefix, s->id, p);
        rv = envelope(&env, &env_len, s, st, data, len, user, now, p);
        if (rv == APR_SUCCESS) {
            rv = op_write(OP_ADD, why, st, s->key, env, env_len, 0, p);
        }
    }
    if (rv == APR_EEXIST) {
        *why = "every new session id was taken already";
        rv = APR_EGENERAL;
    }
    return rv;
}

static apr_status_t too_large(const char **why, skv_store_t *st, apr_size_t len, apr_pool_t *p)
{
    COUNT(st, oversize);
    *why =
        apr_psprintf(p,
                     "the session is %" APR_SIZE_T_FMT " bytes, more than "
                     "SessionKVMaxSize %" APR_SIZE_T_FMT "; the stored session is kept as it was",
                     len, st->conf.max_size);
    return APR_ENOSPC;
}

/* The session was ended by another request since this one loaded it: say why nothing is
 * written. */
static apr_status_t ended(const char **why, skv_store_t *st)
{
    COUNT(st, dropped);
    *why = "the session was ended meanwhile by another request (a logout, a new session id, or "
           "its expiry); this request's changes to it are dropped";
    return APR_NOTFOUND;
}

/* Write an existing session in place: compare-and-set with merging, or a plain replace. Never
 * where it is gone: a session deleted meanwhile (a logout in another tab, a login that gave it
 * a new id, an expiry) stays deleted, or a request that began before the logout would log the
 * user in again when it ends. */
static apr_status_t update(skv_session_t *s, const char **why, skv_store_t *st, const char *data,
                           apr_size_t len, const char *user, skv_merge_cb *merge, void *baton,
                           apr_time_t now, apr_pool_t *p)
{
    int attempt;

    for (attempt = 0; attempt < st->conf.max_attempts; ++attempt) {
        const char *env;
        apr_size_t env_len;
        skv_value_t val;
        skv_record_t current;
        apr_status_t rv;

        rv = envelope(&env, &env_len, s, st, data, len, user, now, p);
        if (rv != APR_SUCCESS) {
            *why = "cannot encode the session";
            return rv;
        }
        if (!st->conf.merge || !merge) {
            rv = op_write(OP_REPLACE, why, st, s->key, env, env_len, 0, p);
            return rv == APR_NOTFOUND ? ended(why, st) : rv;
        }
        rv = op_write(OP_CAS, why, st, s->key, env, env_len, s->cas, p);
        if (rv == APR_NOTFOUND) {
            return ended(why, st);
        }
        if (rv != APR_EEXIST) {
            return rv;
        }
        /* someone else wrote it since our load: take their version and apply our change to it */
        COUNT(st, conflicts);
        rv = op_get(&val, why, st, s->key, p);
        if (rv == APR_NOTFOUND) {
            return ended(why, st);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = skv_envelope_decode(&current, why, val.data, val.len, st->conf.keys, s->key, p);
        if (rv != APR_SUCCESS) {
            COUNT(st, err_other);
            return rv;
        }
        s->rec.created = current.created;
        s->cas = val.cas;
        rv = merge(&data, &len, &current, baton, p);
        if (rv != APR_SUCCESS) {
            *why = "the session cannot be merged";
            return rv;
        }
        if (len > st->conf.max_size) {
            return too_large(why, st, len, p);
        }
        COUNT(st, merges);
    }
    *why = apr_psprintf(p,
                        "the session changed under %d attempts in a row; this request's "
                        "change is not stored",
                        st->conf.max_attempts);
    return APR_EEXIST;
}

apr_status_t skv_store_save(skv_session_t *s, const char **why, skv_store_t *st, const char *data,
                            apr_size_t len, const char *user, int regenerate, skv_merge_cb *merge,
                            void *baton, apr_time_t now, apr_pool_t *p)
{
    skv_session_t old = *s;
    apr_status_t rv;

    if (len > st->conf.max_size) {
        return too_large(why, st, len, p);
    }
    if (!s->id) {
        s->rec.created = now;
        rv = add_new(s, why, st, data, len, user, now, p);
    }
    else if (regenerate) {
        const char *ignored;

        rv = add_new(s, why, st, data, len, user, now, p);
        if (rv == APR_SUCCESS) {
            /* the old id must stop working even if this delete fails (it would still expire);
             * if it was gone already, another request ended the session meanwhile (a logout)
             * and the new one must not bring it back */
            rv = op_write(OP_DEL, &ignored, st, old.key, NULL, 0, 0, p);
            if (rv == APR_NOTFOUND) {
                (void)op_write(OP_DEL, &ignored, st, s->key, NULL, 0, 0, p);
                rv = ended(why, st);
            }
            else {
                COUNT(st, regenerated);
                if (rv == APR_SUCCESS) {
                    COUNT(st, deletes);
                }
                rv = APR_SUCCESS;
            }
        }
    }
    else {
        rv = update(s, why, st, data, len, user, merge, baton, now, p);
    }
    if (rv == APR_SUCCESS) {
        COUNT(st, writes);
        s->rec.written = now;
        s->expires_in = st->conf.idle_timeout;
    }
    else {
        /* add_new() gave @p s an id that was not stored: a new session must stay without one
         * (no cookie for it), an existing one must keep the id and key it is stored under */
        *s = old;
    }
    return rv;
}

apr_status_t skv_store_touch(skv_session_t *s, const char **why, skv_store_t *st, apr_time_t now,
                             apr_pool_t *p)
{
    apr_status_t rv;

    if (st->conf.idle_timeout - remaining(s, st, now) < st->conf.touch_interval) {
        return APR_SUCCESS;
    }
    rv = op_write(OP_TOUCH, why, st, s->key, NULL, 0, 0, p);
    if (rv == APR_SUCCESS) {
        COUNT(st, touches);
        s->expires_in = st->conf.idle_timeout;
    }
    return rv;
}

apr_status_t skv_store_destroy(skv_session_t *s, const char **why, skv_store_t *st, apr_pool_t *p)
{
    apr_status_t rv = op_write(OP_DEL, why, st, s->key, NULL, 0, 0, p);

    if (rv == APR_SUCCESS) {
        COUNT(st, deletes);
    }
    return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
}

apr_status_t skv_store_ping(const char **info, skv_store_t *st, apr_pool_t *p)
{
    const char *why = NULL;
    op_t op = {OP_PING, NULL, NULL, 0, 0, NULL, info};
    apr_status_t rv = run(&why, st, &op, p);

    if (rv != APR_SUCCESS) {
        *info = why;
    }
    return rv;
}
