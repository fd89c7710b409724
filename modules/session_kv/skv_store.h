/* skv_store — sessions in one backend: load, save (compare-and-set with a per-key merge),
 * regenerate, touch, destroy; a bounded pool of connections per process; a down state per
 * backend server (skv_breaker.h); counters.
 *
 * This is everything mod_session_kv does with a session that does not need httpd: the glue
 * brings the cookie's id and mod_session's encoded text, and the store decides what reaches the
 * backend. Timeouts are enforced here, not trusted to the backend alone: a session idle for
 * longer than the idle timeout, or older than the absolute lifetime, is expired (and deleted)
 * when it is read.
 *
 * A server that does not answer within the timeouts is marked down: until the retry interval
 * has passed, operations on its keys fail at once with SKV_STORE_DOWN, without a connection or
 * a wait, and then one operation at a time tries it again (skv_breaker.h). The state is in
 * skv_store_conf_t.breakers, which mod_session_kv places in shared memory for all children;
 * without it, each store keeps its own, shared by the threads of its process.
 * Ping (the health check) always asks the server.
 * Pure core: APR, APR-util (apr_reslist), the drivers; no httpd. Thread-safe: one store is
 * shared by the threads of a process.
 */
#ifndef SKV_STORE_H
#define SKV_STORE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "skv_breaker.h"
#include "skv_driver.h"
#include "skv_envelope.h"

/**
 * What an operation answers, at once and without touching the network, while the server of
 * its key is marked down (APR_EAGAIN: "try again later"; no driver answers it).
 */
#define SKV_STORE_DOWN APR_EAGAIN

/** Counters, updated with atomics; the glue puts them in shared memory for all children. */
typedef struct skv_stats_t {
    apr_uint64_t loads;       /* sessions looked up (valid ids only) */
    apr_uint64_t hits;        /* found and valid */
    apr_uint64_t misses;      /* not found */
    apr_uint64_t expired;     /* found but past the idle or absolute timeout */
    apr_uint64_t rejected;    /* cookie values refused before any backend call */
    apr_uint64_t writes;      /* sessions written (new, changed, regenerated) */
    apr_uint64_t touches;     /* expiry refreshed without a write */
    apr_uint64_t deletes;     /* sessions deleted (destroyed, regenerated, expired) */
    apr_uint64_t conflicts;   /* compare-and-set found a newer session */
    apr_uint64_t merges;      /* ... and the change was merged into it */
    apr_uint64_t regenerated; /* new ids for existing sessions */
    apr_uint64_t oversize;    /* saves refused for size */
    apr_uint64_t dropped;     /* saves of sessions ended meanwhile by another request */
    apr_uint64_t err_timeout; /* backend errors: timeouts */
    apr_uint64_t err_down;    /* ... unreachable */
    apr_uint64_t err_other;   /* ... anything else, and envelopes that do not decode */
    apr_uint64_t ops;         /* backend operations */
    apr_uint64_t op_usec;     /* ... their total time, microseconds */
    apr_uint64_t op_max_usec; /* ... the slowest one */
    apr_uint64_t err_marked;  /* operations failed at once: their server was marked down */
    apr_uint64_t marked_down; /* servers marked down (no answer in time) */
} skv_stats_t;

/** How a store behaves; every field is set by the caller. */
typedef struct skv_store_conf_t {
    const skv_backend_t *backend;
    const char *prefix;                 /* of backend keys */
    apr_interval_time_t idle_timeout;   /* microseconds > 0: the entries' time to live */
    apr_interval_time_t max_lifetime;   /* microseconds since creation; 0 = no limit */
    apr_interval_time_t touch_interval; /* microseconds; refresh the TTL at most this often */
    apr_size_t max_size;                /* bytes of session text */
    int merge;                          /* 1: compare-and-set with merge; 0: last write wins */
    int max_attempts;                   /* compare-and-set attempts before giving up */
    const skv_keyring_t *keys;          /* NULL = no encryption */
    int max_conns;                      /* connections per process */
    const skv_driver_t *driver;         /* NULL = the backend's own; auto-discovery brings
                                           skv_driver_memcached_discovery, unit tests a fake */
    skv_breaker_t *breakers;            /* one per backend server, zeroed, shared by every
                                           process (shared memory); NULL = the store keeps its
                                           own, shared by the threads of its process */
    apr_time_t (*now)(void);            /* the clock; NULL = apr_time_now; tests bring a fake */
} skv_store_conf_t;

typedef struct skv_store_t skv_store_t;

/** A session as loaded (or about to be created). */
typedef struct skv_session_t {
    const char *id;                 /* the cookie value; NULL until a new session is saved */
    const char *key;                /* the backend key; NULL with id */
    skv_record_t rec;               /* what is stored (created == 0 for a new session) */
    apr_uint64_t cas;               /* the driver's token from the load */
    apr_interval_time_t expires_in; /* microseconds until expiry at load time */
} skv_session_t;

/**
 * Produce the session text to store when the stored session changed since the load.
 * @param data out: the text, from @p p
 * @param current the session as it is stored now
 * @return APR_SUCCESS, or an error to give up the save with
 */
typedef apr_status_t skv_merge_cb(const char **data, apr_size_t *len, const skv_record_t *current,
                                  void *baton, apr_pool_t *p);

/**
 * Make a store. Connections are made on first use by the process that uses them (create the
 * store after fork, in child_init).
 * @param stats where to count; must outlive the store
 * @param p the pool of the store and its connections (a process pool)
 */
apr_status_t skv_store_create(skv_store_t **st, const skv_store_conf_t *conf, skv_stats_t *stats,
                              apr_pool_t *p);

/**
 * Bring what the store's connections share up to date with the backend (skv_driver_t.refresh():
 * memcached auto-discovery, a redis cluster's slot map); for a background thread of the caller.
 * @return as refresh(); APR_ENOTIMPL when the store's backend has nothing to refresh
 */
apr_status_t skv_store_refresh(int *changed, const char **why, skv_store_t *st, apr_pool_t *p);

/** The store's counters. */
skv_stats_t *skv_store_stats(skv_store_t *st);

/** Count @p n cookie values refused before any backend call. */
void skv_store_count_rejected(skv_store_t *st);

/**
 * Load the session of the (valid) id @p id.
 * @param s out, from @p p
 * @param why out on an error other than APR_NOTFOUND: a short reason for the log
 * @return APR_SUCCESS; APR_NOTFOUND when there is none, or it expired (then it is deleted);
 *         a backend error (skv_driver.h); SKV_STORE_DOWN while its server is marked down
 *         (so may the other operations)
 */
apr_status_t skv_store_load(skv_session_t **s, const char **why, skv_store_t *st, const char *id,
                            apr_time_t now, apr_pool_t *p);

/**
 * Store @p data as the new text of @p s: a new session gets a fresh id (s->id set); an existing
 * one is written with compare-and-set, calling @p merge when it changed meanwhile (and
 * retrying, at most max_attempts times), or with a plain replace when merging is off or
 * @p merge is NULL. An existing session that another request deleted or moved to a new id
 * since the load (a logout, a login, an expiry) is never written again: it stays ended.
 * @param user the authenticated user now, or NULL
 * @param regenerate whether to move an existing session to a new id (the old one is deleted)
 * @param why out on error: a short reason for the log, from @p p
 * On failure @p s is left as it was.
 * @return APR_SUCCESS; APR_ENOSPC when the text is larger than max_size (nothing written);
 *         APR_EEXIST when every attempt met a newer session; APR_NOTFOUND when the session
 *         was ended meanwhile (nothing written, @p why says so); a backend error
 */
apr_status_t skv_store_save(skv_session_t *s, const char **why, skv_store_t *st, const char *data,
                            apr_size_t len, const char *user, int regenerate, skv_merge_cb *merge,
                            void *baton, apr_time_t now, apr_pool_t *p);

/**
 * Refresh the expiry of an unchanged session, if the touch interval has passed since the last
 * write or touch (otherwise nothing happens and APR_SUCCESS is returned).
 */
apr_status_t skv_store_touch(skv_session_t *s, const char **why, skv_store_t *st, apr_time_t now,
                             apr_pool_t *p);

/** Delete the stored session of @p s (APR_SUCCESS also when it was already gone). */
apr_status_t skv_store_destroy(skv_session_t *s, const char **why, skv_store_t *st, apr_pool_t *p);

/**
 * Check the backend (skv_driver_t.ping()), also while a server is marked down: the health
 * check runs off the request path, and says what the server says.
 * @param info out: what the backend said, from @p p
 */
apr_status_t skv_store_ping(const char **info, skv_store_t *st, apr_pool_t *p);

#endif /* SKV_STORE_H */
