/* skv_lease — leases in a session store (see skv_lease.h). */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/sha.h>

#include "skv_lease.h"

/* How many times the fencing counter is read and compare-and-set before giving up: only the
 * lease's holder moves it, so a second attempt is already rare. */
#define FENCE_ATTEMPTS 8

/* A value's text, for messages: at most this many bytes of a holder. */
#define HOLDER_SHOWN 120

const char *skv_lease_key(const char *name, apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    char out[2 * SHA256_DIGEST_LENGTH + 1];
    apr_size_t i, len = strlen(name);
    int plain = len > 0 && len <= SKV_LEASE_NAME_MAX;

    for (i = 0; plain && i < len; i++) {
        plain = apr_isalnum(name[i]) || name[i] == '.' || name[i] == '_' || name[i] == '-';
    }
    if (plain) {
        return apr_pstrcat(p, SKV_LEASE_PREFIX, name, NULL);
    }
    /* '~' is not in the plain alphabet: a hashed key never equals a plain one */
    SHA256((const unsigned char *)name, len, md);
    for (i = 0; i < sizeof(md); i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * sizeof(md)] = '\0';
    return apr_pstrcat(p, SKV_LEASE_PREFIX, "~", out, NULL);
}

apr_int64_t skv_lease_period_number(apr_time_t now, apr_interval_time_t period)
{
    apr_int64_t n = now / period;

    return now < 0 && now % period ? n - 1 : n; /* floor, also before 1970 (a broken clock) */
}

apr_interval_time_t skv_lease_period_ttl(apr_interval_time_t period)
{
    return period + (period < SKV_LEASE_PERIOD_MARGIN_MAX ? period : SKV_LEASE_PERIOD_MARGIN_MAX);
}

/* The key of the period @p n of @p c's period. */
static const char *period_key(const char *key, const skv_lease_conf_t *c, apr_int64_t n,
                              apr_pool_t *p)
{
    return apr_psprintf(p, "%s:p%" APR_INT64_T_FMT ":%" APR_INT64_T_FMT, key,
                        (apr_int64_t)apr_time_sec(c->period), n);
}

/* The start of period @p n of @p c's period, in UTC, for messages. */
static const char *period_start(apr_int64_t n, const skv_lease_conf_t *c, apr_pool_t *p)
{
    apr_time_exp_t tm;
    apr_size_t len;
    char buf[32];

    apr_time_exp_gmt(&tm, n * c->period);
    apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return apr_pstrdup(p, buf);
}

/* The token at the start of a lease's value ("<token> <holder>"); 0 when there is none. */
static apr_uint64_t value_token(const char *data)
{
    char *end;
    apr_uint64_t t;

    if (!apr_isdigit(*data)) {
        return 0;
    }
    t = strtoull(data, &end, 10);
    return *end == ' ' || *end == '\0' ? t : 0;
}

/* "HOLDER (token N)" of a value, for messages. */
static const char *value_describe(const char *data, apr_pool_t *p)
{
    const char *sp = strchr(data, ' ');
    apr_uint64_t t = value_token(data);

    if (!sp) {
        return "another holder";
    }
    return t ? apr_psprintf(p, "%.*s (token %" APR_UINT64_T_FMT ")", HOLDER_SHOWN, sp + 1, t)
             : apr_psprintf(p, "%.*s (being taken)", HOLDER_SHOWN, sp + 1);
}

/* The store's error @p rv of @p what, as a sentence. */
static const char *store_error(const skv_lease_conf_t *c, const char *what, apr_status_t rv,
                               apr_pool_t *p)
{
    const char *text = c->driver->error(c->conn);
    char buf[120];

    if (!text || !*text) {
        text = apr_strerror(rv, buf, sizeof(buf));
    }
    return apr_psprintf(p, "%s: %s", what, text);
}

/* Who holds @p key now, best effort, for the message of a lease or period found taken. */
static const char *holder_of(const skv_lease_conf_t *c, const char *key, apr_pool_t *p)
{
    skv_value_t v;

    if (c->driver->get(&v, c->conn, key, p) != APR_SUCCESS) {
        return "another holder";
    }
    return value_describe(v.data, p);
}

/* Move the fencing counter at @p fkey on and give its new value in @p token. */
static apr_status_t fence_next(apr_uint64_t *token, const char **why, const skv_lease_conf_t *c,
                               const char *fkey, apr_pool_t *p)
{
    int i;

    for (i = 0; i < FENCE_ATTEMPTS; i++) {
        apr_uint64_t next, now_s = (apr_uint64_t)apr_time_sec(c->now());
        const char *data;
        skv_value_t v;
        apr_status_t rv = c->driver->get(&v, c->conn, fkey, p);

        if (now_s < 1) {
            now_s = 1;
        }
        if (rv == APR_NOTFOUND) {
            next = now_s;
            data = apr_psprintf(p, "%" APR_UINT64_T_FMT, next);
            rv = c->driver->add(c->conn, fkey, data, strlen(data), SKV_LEASE_FENCE_TTL);
        }
        else if (rv == APR_SUCCESS) {
            next = value_token(v.data) + 1; /* a counter that is not a number starts again */
            next = next > now_s ? next : now_s;
            data = apr_psprintf(p, "%" APR_UINT64_T_FMT, next);
            rv = c->driver->cas(c->conn, fkey, data, strlen(data), SKV_LEASE_FENCE_TTL, v.cas);
        }
        else {
            *why = store_error(c, "reading the fencing counter", rv, p);
            return rv;
        }
        if (rv == APR_SUCCESS) {
            *token = next;
            return APR_SUCCESS;
        }
        if (rv != APR_EEXIST && rv != APR_NOTFOUND) {
            *why = store_error(c, "writing the fencing counter", rv, p);
            return rv;
        }
    }
    *why =
        apr_psprintf(p, "the fencing counter changed under us %d times in a row", FENCE_ATTEMPTS);
    return APR_EGENERAL;
}

/* Read the lease into @p v and compare it with @p ours: APR_SUCCESS when it still holds it,
 * APR_NOTFOUND when it is gone, APR_EBUSY when it holds someone else's, or the store's error. */
static apr_status_t lease_read(skv_value_t *v, const char **why, const skv_lease_t *lease,
                               const char *ours, apr_pool_t *p)
{
    const skv_lease_conf_t *c = lease->conf;
    apr_status_t rv = c->driver->get(v, c->conn, lease->key, p);

    if (rv == APR_NOTFOUND) {
        *why = "the lease is gone (expired, or deleted by hand)";
        return APR_NOTFOUND;
    }
    if (rv != APR_SUCCESS) {
        *why = store_error(c, "reading the lease", rv, p);
        return rv;
    }
    if (strcmp(v->data, ours)) {
        *why = apr_pstrcat(p, "the lease is held by ", value_describe(v->data, p), NULL);
        return APR_EBUSY;
    }
    return APR_SUCCESS;
}

/* Replace our lease's value @p old by @p lease->value with a fresh TTL, if it still holds
 * @p old. APR_EBUSY when it does not (gone or someone else's). */
static apr_status_t lease_rewrite(const char **why, skv_lease_t *lease, const char *old,
                                  apr_pool_t *p)
{
    const skv_lease_conf_t *c = lease->conf;
    apr_time_t start = c->now();
    skv_value_t v;
    apr_status_t rv = lease_read(&v, why, lease, old, p);

    if (rv != APR_SUCCESS) {
        return rv == APR_NOTFOUND ? APR_EBUSY : rv;
    }
    rv = c->driver->cas(c->conn, lease->key, lease->value, strlen(lease->value), c->ttl, v.cas);
    if (rv == APR_SUCCESS) {
        lease->valid_until = start + c->ttl;
        return APR_SUCCESS;
    }
    if (rv == APR_EEXIST || rv == APR_NOTFOUND) {
        *why = "the lease changed while being renewed (expired and taken by another holder)";
        return APR_EBUSY;
    }
    *why = store_error(c, "writing the lease", rv, p);
    return rv;
}

/* Delete our lease @p lease, holding @p ours, unless it is gone, someone else's, or about to
 * expire. */
static apr_status_t lease_delete(const char **why, skv_lease_t *lease, const char *ours,
                                 apr_pool_t *p)
{
    const skv_lease_conf_t *c = lease->conf;
    skv_value_t v;
    apr_status_t rv = lease_read(&v, why, lease, ours, p);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* the get and the del are two requests: delete only when the lease cannot expire (and be
     * taken by another holder) between them */
    if (lease->valid_until - c->now() < c->margin) {
        *why = "the lease is about to expire: left to expire rather than deleted";
        return APR_INCOMPLETE;
    }
    rv = c->driver->del(c->conn, lease->key);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        *why = store_error(c, "deleting the lease", rv, p);
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t skv_lease_take(skv_lease_t **out, const char **why, const skv_lease_conf_t *c,
                            apr_pool_t *p)
{
    skv_lease_t *lease = apr_pcalloc(p, sizeof(*lease));
    const char *pending, *ignored, *pkey;
    apr_time_t start = c->now();
    apr_status_t rv;

    lease->conf = c;
    lease->key = skv_lease_key(c->name, p);
    lease->period_number = -1;
    pending = apr_pstrcat(p, "0 ", c->holder, NULL);
    rv = c->driver->add(c->conn, lease->key, pending, strlen(pending), c->ttl);
    if (rv == APR_EEXIST) {
        *why = apr_pstrcat(p, "held by ", holder_of(c, lease->key, p), NULL);
        return APR_EBUSY;
    }
    if (rv != APR_SUCCESS) {
        *why = store_error(c, "taking the lease", rv, p);
        return rv;
    }
    lease->valid_until = start + c->ttl;
    rv = fence_next(&lease->token, why, c, apr_pstrcat(p, lease->key, ":fence", NULL), p);
    if (rv == APR_SUCCESS) {
        lease->value = apr_psprintf(p, "%" APR_UINT64_T_FMT " %s", lease->token, c->holder);
        rv = lease_rewrite(why, lease, pending, p);
    }
    if (rv != APR_SUCCESS) {
        lease_delete(&ignored, lease, pending, p);
        return rv;
    }
    if (!c->period) {
        *out = lease;
        return APR_SUCCESS;
    }
    lease->period_number = skv_lease_period_number(start, c->period);
    pkey = period_key(lease->key, c, lease->period_number, p);
    rv = c->driver->add(c->conn, pkey, lease->value, strlen(lease->value),
                        skv_lease_period_ttl(c->period));
    if (rv == APR_SUCCESS) {
        *out = lease;
        return APR_SUCCESS;
    }
    if (rv == APR_EEXIST) {
        *why = apr_psprintf(p, "period %" APR_INT64_T_FMT " (from %s) already run by %s",
                            lease->period_number, period_start(lease->period_number, c, p),
                            holder_of(c, pkey, p));
    }
    else {
        *why = store_error(c, "taking the period", rv, p);
    }
    lease_delete(&ignored, lease, lease->value, p);
    return rv;
}

apr_status_t skv_lease_renew(const char **why, skv_lease_t *lease, apr_pool_t *p)
{
    apr_status_t rv;

    if (lease->lost) {
        *why = "the lease was lost";
        return APR_EBUSY;
    }
    rv = lease_rewrite(why, lease, lease->value, p);
    if (rv == APR_EBUSY) {
        lease->lost = 1;
    }
    else if (rv != APR_SUCCESS && lease->conf->now() >= lease->valid_until) {
        /* not renewed for a whole TTL: it has expired, another holder may have it now */
        *why = apr_pstrcat(p, "not renewed within the TTL (", *why, ")", NULL);
        lease->lost = 1;
        rv = APR_EBUSY;
    }
    return rv;
}

apr_status_t skv_lease_release(const char **why, skv_lease_t *lease, apr_pool_t *p)
{
    if (lease->lost) {
        *why = "the lease was lost";
        return APR_EBUSY;
    }
    return lease_delete(why, lease, lease->value, p);
}

apr_status_t skv_lease_check(const char **why, const skv_lease_conf_t *c, apr_uint64_t token,
                             apr_pool_t *p)
{
    skv_value_t v;
    apr_status_t rv = c->driver->get(&v, c->conn, skv_lease_key(c->name, p), p);

    if (rv == APR_NOTFOUND) {
        *why = "nobody holds the lease";
        return APR_NOTFOUND;
    }
    if (rv != APR_SUCCESS) {
        *why = store_error(c, "reading the lease", rv, p);
        return rv;
    }
    if (!token || value_token(v.data) != token) {
        *why = apr_pstrcat(p, "the lease is held by ", value_describe(v.data, p), NULL);
        return APR_EBUSY;
    }
    return APR_SUCCESS;
}
