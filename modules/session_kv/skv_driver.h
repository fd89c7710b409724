/* skv_driver — the key-value backends behind mod_session_kv: memcached (libmemcached), redis
 * (hiredis) and a MySQL/MariaDB table (MariaDB Connector/C), side by side behind one small
 * interface.
 *
 * A connection (skv_conn_t) belongs to one thread at a time; skv_store keeps a bounded pool of
 * them per child process. A connection heals itself: after an I/O error, a timeout, or a reply
 * saying the server cannot take writes now (redis READONLY, LOADING, MASTERDOWN: a failover),
 * the driver drops what it has and connects afresh on the next call, so nothing above it ever
 * has to restart httpd. Connecting is lazy: open() never touches the network. A server that
 * times out is left alone by the store for a while (skv_breaker.h), not by the driver: the state
 * must be shared by all connections, and a driver's connection knows only itself.
 *
 * Every operation answers with an apr_status_t the store can act on:
 *   APR_SUCCESS      done
 *   APR_NOTFOUND     no such key (get, cas, replace, touch, del)
 *   APR_EEXIST       add: the key exists; cas: the value changed since the get (a conflict)
 *   APR_ENOSPC       the backend refuses the value as too large
 *   APR_TIMEUP       the backend did not answer within the I/O or connect timeout
 *   APR_ECONNREFUSED the backend is not reachable (refused, reset, name not resolved)
 *   APR_EGENERAL     any other backend error (the text is in the driver's error())
 *
 * Keys reach the drivers already derived by skv_id (a prefix and hex digits), never a cookie.
 * memcacheds:// (memcached over TLS) has a driver of its own, skv_memcached_meta.c: libmemcached
 * has no TLS.
 * Pure core: APR, libmemcached, hiredis, MariaDB Connector/C; no httpd.
 */
#ifndef SKV_DRIVER_H
#define SKV_DRIVER_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "lf_conn.h"

typedef enum { SKV_BACKEND_MEMCACHED = 1, SKV_BACKEND_REDIS, SKV_BACKEND_MYSQL } skv_backend_e;

/** One server of a backend. */
typedef struct skv_server_t {
    const char *host;
    apr_port_t port;
} skv_server_t;

/**
 * Where AUTH's password comes from when it changes over time (ElastiCache IAM tokens), called
 * before each connect.
 * @param password out: the password, allocated from @p p; a secret, never logged
 * @param why out on error: why there is none (never a secret), allocated from @p p
 * @return APR_SUCCESS, or why not
 */
typedef apr_status_t skv_password_fn(const char **password, const char **why, void *baton,
                                     apr_pool_t *p);

/** What a store connects to, as parsed from its URL by skv_backend_parse(). */
typedef struct skv_backend_t {
    skv_backend_e type;
    const char *display;          /* the URL without any password: for messages */
    apr_array_header_t *servers;  /* skv_server_t; memcached 1..n (memcacheds exactly 1),
                                     redis and mysql exactly 1 */
    const char *user;             /* redis ACL user (NULL = AUTH with the password only);
                                     mysql: the login */
    const char *password;         /* redis AUTH password (NULL = no AUTH), mysql login's
                                     password (NULL = none); never logged */
    int db;                       /* redis SELECT index; 0 = the default database */
    const char *database;         /* mysql: the database (schema) of the table */
    const char *table;            /* mysql: the sessions' table */
    const char *ca_file;          /* mysqls://: the CAs to trust (PEM); NULL = the system's
                                     (set by the caller) */
    skv_password_fn *password_fn; /* redis: AUTH's password at each connect instead of
                                     password (set by the caller); NULL = password */
    void *password_baton;
    apr_interval_time_t reauth_after;    /* microseconds; redis: a connection that authenticated
                                            this long ago is replaced before its next use
                                            (ElastiCache drops IAM connections at 12 h); 0 =
                                            never (set by the caller) */
    int tls;                             /* rediss://, memcacheds://: over TLS, with
                                            tls_config; mysqls://: over TLS, with ca_file */
    lf_tls_t *tls_config;                /* for tls: the trust store and the sessions, made by
                                            the caller (lf_tls_create) */
    apr_interval_time_t connect_timeout; /* microseconds, per connection attempt */
    apr_interval_time_t io_timeout;      /* microseconds, per operation */
    apr_interval_time_t retry_interval;  /* microseconds; a server marked down (no answer in
                                            time), or one memcached could not connect to, is
                                            tried again after this */
} skv_backend_t;

/** A driver's connection: one thread at a time. */
typedef struct skv_conn_t skv_conn_t;

/** A value as get() found it. */
typedef struct skv_value_t {
    const char *data; /* the stored bytes (NUL-terminated for convenience) */
    apr_size_t len;
    apr_uint64_t cas;               /* the token cas() compares against */
    apr_interval_time_t expires_in; /* microseconds until the entry expires, when the
                                       backend can tell; -1 when it cannot */
} skv_value_t;

typedef struct skv_driver_t {
    const char *name; /* "memcached", "redis" */

    /**
     * Make a connection object for @p be (which must outlive it); no network I/O. The
     * connection's handles are released by a cleanup on @p p.
     * @param shared what share() made for the store the connection belongs to; NULL when the
     *        driver has no share(), or the caller is not a store (then the connection keeps the
     *        state to itself)
     */
    apr_status_t (*open)(skv_conn_t **conn, const skv_backend_t *be, void *shared, apr_pool_t *p);

    /** Read @p key; @p val's data is allocated from @p p. */
    apr_status_t (*get)(skv_value_t *val, skv_conn_t *c, const char *key, apr_pool_t *p);

    /** Store only if @p key does not exist (APR_EEXIST otherwise). @p ttl > 0, microseconds. */
    apr_status_t (*add)(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                        apr_interval_time_t ttl);

    /** Store only if the value is still the one get() returned with @p cas. */
    apr_status_t (*cas)(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                        apr_interval_time_t ttl, apr_uint64_t cas);

    /**
     * Store only if @p key exists (APR_NOTFOUND otherwise), whatever its value: the write of
     * "last write wins", which must not bring back a session deleted meanwhile (a logout).
     */
    apr_status_t (*replace)(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                            apr_interval_time_t ttl);

    /** Give @p key a new time to live without rewriting its value. */
    apr_status_t (*touch)(skv_conn_t *c, const char *key, apr_interval_time_t ttl);

    /** Delete @p key (APR_NOTFOUND when it was not there). */
    apr_status_t (*del)(skv_conn_t *c, const char *key);

    /**
     * Check that the backend answers: redis PING (and role), memcached version of every
     * server. @p info is a short description for health details ("redis 7.0.15 master"), from
     * @p p.
     */
    apr_status_t (*ping)(const char **info, skv_conn_t *c, apr_pool_t *p);

    /** The text of the last error on @p c ("" when none); valid until the next call. */
    const char *(*error)(skv_conn_t *c);

    /**
     * Which server holds @p key: its index in the backend's servers (redis: 0), so that the
     * store can keep a down state per server (skv_breaker.h); -1 when the driver cannot tell.
     * No network I/O.
     */
    int (*server)(skv_conn_t *c, const char *key);

    /**
     * Optional (NULL: the driver has none). Make the state that the connections of one store in
     * one process share, whatever thread they are on: the redis driver's map of a cluster's
     * slots, the memcached driver's list of discovered nodes. No network I/O; released by a
     * cleanup on @p p.
     */
    apr_status_t (*share)(void **shared, const skv_backend_t *be, apr_pool_t *p);

    /**
     * Optional (NULL: nothing to refresh). Bring @p shared up to date with the backend (a new
     * node list, a new slot map), from a background thread of the caller, about once a minute;
     * connections pick the change up at their next operation. Bounded by the backend's timeouts.
     * @param changed out: 1 when the state changed
     * @param why out: on error, what failed; when it changed, the new state in a few words
     *        ("version 7, 3 nodes: ...", "a cluster of 3 primaries"); from @p p
     * @return APR_SUCCESS (changed or not); APR_ENOTIMPL when this backend has nothing to
     *         refresh (the caller may stop asking); any other status: the state was kept
     */
    apr_status_t (*refresh)(int *changed, const char **why, void *shared, apr_pool_t *p);
} skv_driver_t;

/** The memcached driver (skv_memcached.c). */
extern const skv_driver_t skv_driver_memcached;
/** The memcached driver of memcacheds://: the meta protocol over TLS, one server
 * (skv_memcached_meta.c). */
extern const skv_driver_t skv_driver_memcached_meta;
/** The redis driver (skv_redis.c). */
extern const skv_driver_t skv_driver_redis;
/** The MySQL/MariaDB driver of mysql:// and mysqls:// (skv_mysql.c). */
extern const skv_driver_t skv_driver_mysql;

#endif /* SKV_DRIVER_H */
