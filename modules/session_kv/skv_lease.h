/* skv_lease — a lease in a session store, for lampfarm-once: a job that many nodes start at the
 * same time (the same crontab on every node of a farm) runs on the one node that took the lease.
 *
 * Over any skv_driver_t (redis, rediss:// and clusters, memcached, memcacheds://, and whatever
 * driver comes next), with the operations every driver has: add (only if absent, with a TTL), get,
 * cas, del. Three kinds of keys, all derived from the lease's NAME by skv_lease_key():
 *
 *   <key>                    the lease: "<token> <holder>", TTL = the lease's TTL; taken with add,
 *                            renewed with get + cas (only while it still holds our value),
 *                            released with get + del (only while it is ours)
 *   <key>:fence              the fencing counter: the last token given, for a year
 *   <key>:p<secs>:<number>   periodic mode: period <number> (of <secs> seconds, counted from the
 *                            Unix epoch, so in UTC) has been run; "<token> <holder>" of the run,
 *                            TTL = the period plus a margin (skv_lease_period_ttl())
 *
 * The fencing token grows at every take: the lease is added first with token 0, then the taker,
 * holding it, moves the counter to max(counter + 1, now in Unix seconds) with a compare-and-set,
 * then writes that token into the lease (cas). Only a holder moves the counter, so a later holder
 * always has a larger token than an earlier one, even one that lost its lease while it ran; a
 * counter lost (evicted, flushed, expired) starts again from the clock, above the tokens given
 * before as long as the job was not taken more than once a second on average.
 *
 * Periodic mode: a take also adds the period's key, after the lease; when the key is already
 * there, the period has been run (started) and the lease is given back. The period number comes
 * from the taker's own clock: nodes whose clocks differ by seconds agree unless they ask within
 * those seconds of a boundary, and then a node a little behind asks for the period before, whose
 * key is still there (the margin) if it was run, and a node a little ahead starts the next
 * period early. docs/lampfarm-once.md has the whole rule.
 *
 * The clock is the caller's (injected), and the lease keeps a local, conservative estimate of
 * when it expires: the time before the request that set its TTL, plus the TTL.
 * Pure core: APR and OpenSSL (SHA-256 of names that cannot be keys as they are).
 */
#ifndef SKV_LEASE_H
#define SKV_LEASE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "skv_driver.h"

/** The prefix of every key of a lease. */
#define SKV_LEASE_PREFIX "lampfarm-once:"

/** The longest NAME kept as it is in the key (longer ones are hashed). */
#define SKV_LEASE_NAME_MAX 100

/** How long the fencing counter lives after the last take (renewed at every take). */
#define SKV_LEASE_FENCE_TTL apr_time_from_sec(366 * 86400)

/** The widest margin a period key gets beyond its period (skv_lease_period_ttl()). */
#define SKV_LEASE_PERIOD_MARGIN_MAX apr_time_from_sec(3600)

/** What a lease is, and the clock it is taken by. */
typedef struct skv_lease_conf_t {
    const skv_driver_t *driver;
    skv_conn_t *conn;           /* one connection of driver, used by one thread */
    const char *name;           /* the job's name: any bytes but NUL, not empty */
    const char *holder;         /* who takes it (host/pid/random): printable, no spaces */
    apr_interval_time_t ttl;    /* microseconds, at least 1 s */
    apr_interval_time_t period; /* microseconds, whole seconds; 0: no periodic mode */
    apr_interval_time_t margin; /* microseconds: a lease this close to its expiry is not
                                   deleted but left to expire, as the time a get and a del take
                                   could let it expire and another holder take it between them
                                   (the backend's connect plus two I/O timeouts) */
    apr_time_t (*now)(void);    /* the wall clock (apr_time_now; a fake one in tests) */
} skv_lease_conf_t;

/** A lease taken. */
typedef struct skv_lease_t {
    const skv_lease_conf_t *conf;
    const char *key;           /* the lease's key */
    const char *value;         /* what the lease holds while it is ours: "<token> <holder>" */
    apr_uint64_t token;        /* the fencing token, >= 1 */
    apr_time_t valid_until;    /* on conf->now's clock: the lease expires no sooner, unless
                                  renewed */
    apr_int64_t period_number; /* periodic mode: the period run (-1 without a period) */
    int lost;                  /* renew() found it gone or someone else's: no more renewals */
} skv_lease_t;

/**
 * The key of the lease named @p name: SKV_LEASE_PREFIX + the name when it is 1 to
 * SKV_LEASE_NAME_MAX bytes of [A-Za-z0-9._-], else SKV_LEASE_PREFIX + "~" + its hex SHA-256,
 * so that any name is a key for every driver (memcached's keys: at most 250 bytes, no spaces
 * or control characters) and two names never share one.
 * @return the key, from @p p
 */
const char *skv_lease_key(const char *name, apr_pool_t *p);

/** The number of the period of @p period microseconds that @p now falls in (from the epoch). */
apr_int64_t skv_lease_period_number(apr_time_t now, apr_interval_time_t period);

/** The TTL of a period's key: the period, plus the period again but at most an hour. */
apr_interval_time_t skv_lease_period_ttl(apr_interval_time_t period);

/**
 * Take the lease (and in periodic mode, the period).
 * @param lease out on APR_SUCCESS, from @p p
 * @param why out when not APR_SUCCESS: who holds it, what ran the period, or the store's error;
 *        from @p p
 * @return APR_SUCCESS (ours: run the job); APR_EBUSY (another holder has it); APR_EEXIST
 *         (periodic mode: this period has been run); any other status: the store did not
 *         answer as it should (nothing is left held)
 */
apr_status_t skv_lease_take(skv_lease_t **lease, const char **why, const skv_lease_conf_t *conf,
                            apr_pool_t *p);

/**
 * Renew the lease for another TTL, if it is still ours.
 * @param why out when not APR_SUCCESS, from @p p
 * @return APR_SUCCESS; APR_EBUSY: lost (gone, someone else's, or not renewed for a whole TTL:
 *         lease->lost is set and the lease must not be used again); any other status: the store
 *         failed this time, the lease may still be ours until lease->valid_until
 */
apr_status_t skv_lease_renew(const char **why, skv_lease_t *lease, apr_pool_t *p);

/**
 * Give the lease back: delete it if it is still ours and not about to expire.
 * @param why out when not APR_SUCCESS, from @p p
 * @return APR_SUCCESS (deleted); APR_NOTFOUND (gone already: it expired or was deleted while
 *         the job ran); APR_EBUSY (someone else's now: left alone); APR_INCOMPLETE (too close to
 *         its expiry to delete safely: left to expire); any other status: the store's error (the
 *         lease expires after its TTL)
 */
apr_status_t skv_lease_release(const char **why, skv_lease_t *lease, apr_pool_t *p);

/**
 * Whether the lease of @p conf (name, driver) is held with fencing token @p token now.
 * @param why out when not APR_SUCCESS: who holds it instead, or the store's error; from @p p
 * @return APR_SUCCESS (held with that token); APR_EBUSY (held with another token);
 *         APR_NOTFOUND (nobody holds it); any other status: the store's error
 */
apr_status_t skv_lease_check(const char **why, const skv_lease_conf_t *conf, apr_uint64_t token,
                             apr_pool_t *p);

#endif /* SKV_LEASE_H */
