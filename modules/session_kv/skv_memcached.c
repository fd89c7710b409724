/* skv_memcached — the memcached driver (libmemcached), see skv_driver.h.
 *
 * One memcached_st per connection object, with every server of the backend on a consistent
 * (ketama, libketama-compatible MD5) ring, the binary protocol and CAS. libmemcached connects
 * lazily to each server on first use and keeps the connections.
 *
 * A server that cannot be reached (connection refused or not completed within connect_timeout)
 * is put in timeout by libmemcached for retry_interval: the keys that live on it fail at once
 * (APR_ECONNREFUSED, no waiting for a connect timeout each time) while the keys of the other
 * servers are served as before; once retry_interval has passed (libmemcached counts in whole
 * seconds: up to a second later) the next operation on one of its keys tries it again. A server
 * that accepts connections but does not answer is not put in timeout by libmemcached: an
 * operation on its keys waits io_timeout (APR_TIMEUP), and the store then marks that server down
 * for all connections (skv_breaker.h; server() tells it which server a key is on). An idempotent
 * operation (get, replace, touch, del) that finds its connection broken (a restarted server) is
 * sent once more on a new one; add and cas are not, they might have been done. Failed servers
 * are NOT removed from the ring (MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS off), on purpose:
 * removing one would move its sessions to the other servers, and back when it returns, so a session
 * changed or deleted (logout) during the outage would come back in its old state from the
 * returning server. Failing instead lets the store apply its documented outage behaviour.
 *
 * Expiry: memcached cannot report an entry's remaining time to live, so touch() leaves a tiny
 * marker entry "<key>#t" holding the absolute expiry (decimal Unix microseconds), with the same
 * TTL; get() fetches the key and its marker in one round trip (a multi-get) and reports
 * expires_in from the marker, or -1 without one. Every call passes the session key as the
 * libmemcached "group key", so a marker always lives on its key's server. add/cas/replace do not
 * rewrite the marker (one more round trip each): a write with the store's TTL starts a full TTL
 * while the marker still counts down from the last touch, so a stale marker only ever
 * under-reports the remaining time, which makes the store touch a little early, never late.
 * del() removes the marker too (deletes are rare).
 *
 * Hostile replies: libmemcached 1.1.4 allocates a value's buffer from the length in the reply's
 * header (up to 4 GiB) before reading any of it, and has no limit of its own, so the driver gives
 * it allocators that refuse any one block larger than MC_MAX_ALLOC: a stored value is at most
 * SessionKVMaxSize (512 KiB) in its envelope. Such a reply fails as a protocol error and its
 * connection is closed. (The same library reads a reply's key, up to 65,535 bytes by its header,
 * into a buffer of 251: nothing outside the library can bound that; docs/mod_session_kv.md says
 * to reach memcached over a network only it and the web servers share.)
 *
 * What the driver makes of the results of that multi-get is skv_memcached_take(), which the
 * fuzzer runs on results made from any bytes.
 *
 * Auto-discovery (skv_driver_memcached_discovery, for a node-based ElastiCache cluster): the
 * backend's one server is the cluster's configuration endpoint, not a node. The connections of a
 * store in one process share the node list (share(): mc_shared_t), which refresh() brings up to
 * date from the caller's background thread: it asks the endpoint `config get cluster` over plain
 * TCP (connect timeout, then the whole answer within the I/O timeout), reads the answer with
 * skv_discovery, and replaces the list only when the endpoint's version differs from the one it
 * holds. Each operation first compares the list's generation with its connection's: when it
 * changed, the connection's libmemcached server list is rebuilt (its connections closed, those
 * to the surviving nodes reopen on demand) with the same ketama ring, whose points depend only on
 * each node's address, so only the keys of added or removed nodes move. Before any list exists
 * (a request before the background thread's first answer), the first operation of the process
 * asks the endpoint itself, one thread at a time: the others wait for its answer, bounded by the
 * same timeouts, and after a failure operations fail at once for retry_interval rather than each
 * asking again. Nodes are connected to by the IP address the endpoint gives (by name when it gives
 * none). server() answers -1 for discovered nodes, so the store keeps no down state per node:
 * its breakers are numbered by the configured servers, here the endpoint alone, and a node that
 * hangs costs each operation on its keys the I/O timeout (a refused one fails at once, as above).
 * Pure core: APR, libmemcached, lf_conn (the endpoint).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <libmemcached/memcached.h>

#include "lf_conn.h"
#include "lf_log.h"
#include "lf_parse.h"
#include "skv_discovery.h"
#include "skv_driver.h"
#include "skv_memcached.h"

/* Suffix of the expiry marker of a key. */
#define MC_MARKER     "#t"
#define MC_MARKER_LEN 2

/* Longer TTLs are taken by memcached as an absolute Unix time. */
#define MC_MAX_RELATIVE_TTL (30 * 24 * 3600)

/* The largest block libmemcached may allocate: a value in its envelope, with room to spare. */
#define MC_MAX_ALLOC      (4 * 1024 * 1024)
#define MC_MAX_ALLOC_TEXT "4 MiB"

/* The most nodes a discovered list may name: ElastiCache allows 60 per cluster unless the quota
 * is raised; a longer list comes from a broken or hostile endpoint, and every connection would
 * keep a ring of it. */
#define MC_MAX_NODES 300
/* The most nodes a log line names. */
#define MC_NODES_SHOWN 8

/* What the connections of one store in one process share with auto-discovery (share()). */
typedef struct mc_shared_t {
    const skv_backend_t *be;   /* its one server is the configuration endpoint */
    apr_thread_mutex_t *lock;  /* guards what follows (generation is also read atomically) */
    apr_thread_cond_t *ended;  /* a discovery that found no list before it ended */
    apr_pool_t *pool;          /* nodes' own (unmanaged: replaced from any thread) */
    apr_array_header_t *nodes; /* skv_server_t, skv_discovery_servers(); NULL until the first */
    apr_int64_t version;       /* the endpoint's version of nodes */
    apr_uint32_t generation;   /* 0 without nodes; + 1 at each new list */
    apr_int64_t reported;      /* the version refresh() last reported as a change; -1 none */
    int discovering;           /* a discovery runs while there is no list: others wait for it */
    apr_time_t failed_at;      /* when the last discovery without a list failed; 0 none */
    char failure[256];         /* ... why */
} mc_shared_t;

/* Each driver defines the connection object its own way; they never meet. */
struct skv_conn_t {
    const skv_backend_t *be;
    memcached_st *mc;
    mc_shared_t *shared;     /* auto-discovery: the nodes; NULL: be's servers */
    apr_uint32_t generation; /* auto-discovery: of the nodes mc holds; 0 none */
    apr_int64_t version;     /* ... and their version */
    int refused;             /* an allocation over MC_MAX_ALLOC was refused since the last
                                operation */
    char err[256];           /* the last error, "" when none */
};

/* libmemcached's allocators (context: the connection), bounded by MC_MAX_ALLOC. */
static void *mc_realloc(const memcached_st *mc, void *mem, const size_t size, void *context)
{
    skv_conn_t *c = context;

    (void)mc;
    if (size > MC_MAX_ALLOC) {
        c->refused = 1;
        return NULL;
    }
    return realloc(mem, size);
}

static void *mc_malloc(const memcached_st *mc, const size_t size, void *context)
{
    return mc_realloc(mc, NULL, size, context);
}

static void *mc_calloc(const memcached_st *mc, size_t nelem, const size_t elsize, void *context)
{
    skv_conn_t *c = context;

    (void)mc;
    if (elsize && nelem > MC_MAX_ALLOC / elsize) {
        c->refused = 1;
        return NULL;
    }
    return calloc(nelem, elsize);
}

static void mc_free(const memcached_st *mc, void *mem, void *context)
{
    (void)mc, (void)context;
    free(mem);
}

static apr_status_t mc_cleanup(void *data)
{
    skv_conn_t *c = data;

    if (c->mc) {
        memcached_free(c->mc);
        c->mc = NULL;
    }
    return APR_SUCCESS;
}

/* Milliseconds of @p t, at least 1 (libmemcached takes 0 as "time out at once"). */
static uint64_t msec_min1(apr_interval_time_t t)
{
    apr_int64_t ms = (t + 999) / 1000;

    return ms < 1 ? 1 : (uint64_t)ms;
}

/* The TTL memcached wants: whole seconds rounded up, at least 1, absolute past 30 days. */
static time_t mc_expiration(apr_interval_time_t ttl)
{
    apr_int64_t s = (ttl + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;

    if (s < 1) {
        s = 1;
    }
    if (s > MC_MAX_RELATIVE_TTL) {
        return (time_t)(apr_time_sec(apr_time_now()) + s);
    }
    return (time_t)s;
}

static apr_status_t mc_status(memcached_return_t rc, int err)
{
    switch (rc) {
    case MEMCACHED_SUCCESS:
    case MEMCACHED_STORED:
    case MEMCACHED_DELETED:
    case MEMCACHED_END:
        return APR_SUCCESS;
    case MEMCACHED_NOTFOUND:
        return APR_NOTFOUND;
    case MEMCACHED_DATA_EXISTS:
    case MEMCACHED_NOTSTORED:
        return APR_EEXIST;
    case MEMCACHED_E2BIG:
        return APR_ENOSPC;
    case MEMCACHED_TIMEOUT:
        return APR_TIMEUP;
    case MEMCACHED_ERRNO:
        if (err == ETIMEDOUT || err == EAGAIN) {
            return APR_TIMEUP;
        }
        return APR_ECONNREFUSED;
    case MEMCACHED_HOST_LOOKUP_FAILURE:
    case MEMCACHED_CONNECTION_FAILURE:
    case MEMCACHED_CONNECTION_BIND_FAILURE:
    case MEMCACHED_WRITE_FAILURE:
    case MEMCACHED_READ_FAILURE:
    case MEMCACHED_ERROR: /* = MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE */
    case MEMCACHED_NO_SERVERS:
    case MEMCACHED_SERVER_MARKED_DEAD:
    case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
        return APR_ECONNREFUSED;
    default:
        return APR_EGENERAL;
    }
}

/* "host:port" of @p inst, IPv6 in brackets, from @p buf. */
static const char *server_name(char *buf, apr_size_t size, const memcached_instance_st *inst)
{
    const char *host = memcached_server_name(inst);

    apr_snprintf(buf, size, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
                 (unsigned)memcached_server_port(inst));
    return buf;
}

/*
 * Record the failure @p rc of an operation on @p key (NULL: not about one key) and answer its
 * status. A timeout or a broken reply may leave a late answer in a socket, where the next
 * command would read it as its own: all connections are closed then (they reopen on demand).
 */
static apr_status_t mc_fail(skv_conn_t *c, memcached_return_t rc, const char *key)
{
    int err = memcached_last_error_errno(c->mc);
    const char *what = memcached_strerror(c->mc, rc);
    const memcached_instance_st *inst = NULL;
    apr_status_t status = mc_status(rc, err);
    char name[128], errbuf[96];
    memcached_return_t unused;

    if (key) {
        inst = memcached_server_by_key(c->mc, key, strlen(key), &unused);
    }
    else if (memcached_server_count(c->mc) == 1) {
        inst = memcached_server_instance_by_position(c->mc, 0);
    }
    if (rc == MEMCACHED_SOME_ERRORS && inst
        && !memcached_success(memcached_server_error_return(inst))) {
        /* a multi-get reports the failure of its one server this way */
        rc = memcached_server_error_return(inst);
        what = memcached_strerror(c->mc, rc);
        status = mc_status(rc, err);
    }
    if (c->refused) {
        /* the reply's header announced a block that the allocators refused */
        c->refused = 0;
        rc = MEMCACHED_PROTOCOL_ERROR;
        what = "protocol error: a reply larger than " MC_MAX_ALLOC_TEXT;
        status = APR_EGENERAL;
        err = 0;
    }
    apr_snprintf(
        c->err, sizeof(c->err), "memcached %s: %s%s%s%s",
        inst ? server_name(name, sizeof(name), inst) : c->be->display, what, err ? " (" : "",
        err ? apr_strerror(APR_FROM_OS_ERROR(err), errbuf, sizeof(errbuf)) : "", err ? ")" : "");
    if (status == APR_TIMEUP || rc == MEMCACHED_PROTOCOL_ERROR
        || rc == MEMCACHED_UNKNOWN_READ_FAILURE || rc == MEMCACHED_READ_FAILURE) {
        memcached_quit(c->mc);
    }
    return status;
}

/* A connection object for @p be with every setting but its servers; no network I/O. */
static apr_status_t mc_create(skv_conn_t **out, const skv_backend_t *be, apr_pool_t *p)
{
    skv_conn_t *c = apr_pcalloc(p, sizeof(*c));
    apr_int64_t retry = (be->retry_interval + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;
    memcached_return_t rc = MEMCACHED_SUCCESS;

    c->be = be;
    *out = c; /* on failure too: error() says why */
    if (!(c->mc = memcached_create(NULL))) {
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, c, mc_cleanup, apr_pool_cleanup_null);
    rc = memcached_set_memory_allocators(c->mc, mc_malloc, mc_free, mc_realloc, mc_calloc, c);
    /* settings first: the binary protocol and the distribution reset what came before */
    if (memcached_success(rc)) {
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    }
    if (memcached_success(rc)) {
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    }
    if (memcached_success(rc)) {
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
    }
    if (memcached_success(rc)) {
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    }
    if (memcached_success(rc)) {
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_TCP_KEEPALIVE, 1);
    }
    if (memcached_success(rc)) {
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
                                    msec_min1(be->connect_timeout));
    }
    if (memcached_success(rc)) {
        /* every wait for a socket of an established connection */
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
                                    msec_min1(be->io_timeout));
    }
    /* SO_SNDTIMEO/SO_RCVTIMEO, in microseconds (not milliseconds, whatever the docs say); they
     * matter only for blocking sockets, which libmemcached 1.x never uses, but cost nothing */
    if (memcached_success(rc)) {
        rc =
            memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_SND_TIMEOUT, (uint64_t)be->io_timeout);
    }
    if (memcached_success(rc)) {
        rc =
            memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, (uint64_t)be->io_timeout);
    }
    if (memcached_success(rc)) {
        /* a server whose connection failed is left alone this long: seconds */
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,
                                    (uint64_t)(retry < 0 ? 0 : retry));
    }
    if (memcached_success(rc)) {
        /* one failure puts a server in timeout: libmemcached keeps that count when it closes
         * connections (memcached_quit(), or an I/O error), but it resets the timeout state,
         * so with a higher limit each closing would send the next operation to a dead server
         * again */
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1);
    }
    if (memcached_success(rc)) {
        /* keep failed servers on the ring (see the top of this file) */
        rc = memcached_behavior_set(c->mc, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 0);
    }
    if (!memcached_success(rc)) {
        apr_snprintf(c->err, sizeof(c->err), "memcached %s: %s", be->display,
                     memcached_last_error_message(c->mc));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t mc_open(skv_conn_t **out, const skv_backend_t *be, void *shared, apr_pool_t *p)
{
    memcached_return_t rc = MEMCACHED_SUCCESS;
    apr_status_t rv;
    skv_conn_t *c;
    int i;

    (void)shared;
    if ((rv = mc_create(out, be, p)) != APR_SUCCESS) {
        return rv;
    }
    c = *out;
    for (i = 0; memcached_success(rc) && i < be->servers->nelts; i++) {
        const skv_server_t *s = &APR_ARRAY_IDX(be->servers, i, skv_server_t);

        rc = memcached_server_add(c->mc, s->host, s->port);
    }
    if (!memcached_success(rc)) {
        apr_snprintf(c->err, sizeof(c->err), "memcached %s: %s", be->display,
                     memcached_last_error_message(c->mc));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* --- auto-discovery ------------------------------------------------------------------------ */

/* "host:port" of the configuration endpoint of @p be. */
static const char *endpoint_name(const skv_backend_t *be, apr_pool_t *p)
{
    const skv_server_t *s = &APR_ARRAY_IDX(be->servers, 0, skv_server_t);

    return apr_psprintf(p, strchr(s->host, ':') ? "[%s]:%u" : "%s:%u", s->host, (unsigned)s->port);
}

static apr_status_t shared_cleanup(void *data)
{
    mc_shared_t *sh = data;

    if (sh->pool) {
        apr_pool_destroy(sh->pool);
        sh->pool = NULL;
    }
    return APR_SUCCESS;
}

static apr_status_t mc_share(void **out, const skv_backend_t *be, apr_pool_t *p)
{
    mc_shared_t *sh = apr_pcalloc(p, sizeof(*sh));
    apr_status_t rv;

    sh->be = be;
    sh->version = -1;
    sh->reported = -1;
    if ((rv = apr_thread_mutex_create(&sh->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&sh->ended, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(p, sh, shared_cleanup, apr_pool_cleanup_null);
    *out = sh;
    return APR_SUCCESS;
}

/*
 * Ask the configuration endpoint of @p be `config get cluster`, over plain TCP: the connect
 * within connect_timeout, the whole answer within io_timeout (each read waits at most that long
 * too, so the whole exchange is bounded by connect_timeout + 2 io_timeout, whatever the endpoint
 * sends), at most SKV_DISCOVERY_MAX bytes.
 * @param d out: the answer, from @p p
 * @param why out on error, from @p p
 */
static apr_status_t mc_ask(skv_discovery_t *d, const char **why, const skv_backend_t *be,
                           apr_pool_t *p)
{
    const skv_server_t *ep = &APR_ARRAY_IDX(be->servers, 0, skv_server_t);
    apr_size_t cap = SKV_DISCOVERY_MAX + 256, len = 0, n, used = 0;
    char *buf = apr_palloc(p, cap);
    lf_conn_t *conn = NULL;
    apr_time_t deadline;
    apr_status_t rv;

    rv = lf_conn_open(&conn, ep->host, ep->port, NULL, be->connect_timeout, be->io_timeout);
    if (rv == APR_SUCCESS) {
        deadline = apr_time_now() + be->io_timeout;
        rv = lf_conn_write(conn, SKV_DISCOVERY_REQUEST, sizeof(SKV_DISCOVERY_REQUEST) - 1);
        while (rv == APR_SUCCESS && !used) {
            if (len == cap) {
                *why = apr_psprintf(p, "an answer longer than %d bytes", SKV_DISCOVERY_MAX);
                rv = APR_EINVAL;
                break;
            }
            n = cap - len;
            if ((rv = lf_conn_read(conn, buf + len, &n)) != APR_SUCCESS) {
                break;
            }
            len += n;
            if ((rv = skv_discovery_parse(d, &used, why, buf, len, p)) != APR_SUCCESS) {
                *why = apr_psprintf(p, "a bad answer: %s", *why);
                break;
            }
            if (!used && apr_time_now() > deadline) {
                *why = apr_psprintf(p, "no whole answer within %s (%" APR_SIZE_T_FMT " bytes)",
                                    lf_format_duration(be->io_timeout, p), len);
                rv = APR_TIMEUP;
            }
        }
    }
    if (rv == APR_EOF) {
        *why = apr_psprintf(p,
                            "the connection was closed after %" APR_SIZE_T_FMT " bytes of "
                            "the answer",
                            len);
        rv = APR_ECONNRESET;
    }
    else if (rv != APR_SUCCESS && rv != APR_EINVAL && *why == NULL) {
        *why = conn ? apr_pstrdup(p, lf_conn_error(conn)) : "no memory for a connection";
    }
    lf_conn_close(conn);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "config get cluster at %s: %s", endpoint_name(be, p), *why);
    }
    return rv;
}

/*
 * Ask the endpoint and take its answer into @p sh: a new version replaces the node list (a new
 * generation, unless it names the same nodes). A discovery while there is no list yet (@p first:
 * the caller set sh->discovering, or this call does when no one has) tells the operations waiting
 * for one how it ended.
 * @param why out on error, from @p p
 */
static apr_status_t mc_discover(const char **why, mc_shared_t *sh, int first, apr_pool_t *p)
{
    apr_array_header_t *servers = NULL;
    skv_discovery_t d;
    apr_status_t rv;

    if (!first) {
        apr_thread_mutex_lock(sh->lock);
        if ((first = !sh->nodes && !sh->discovering)) {
            sh->discovering = 1;
        }
        apr_thread_mutex_unlock(sh->lock);
    }

    *why = NULL;
    rv = mc_ask(&d, why, sh->be, p);
    if (rv == APR_SUCCESS
        && skv_discovery_servers(&servers, why, &d, MC_MAX_NODES, p) != APR_SUCCESS) {
        *why = apr_psprintf(p, "config get cluster at %s: %s", endpoint_name(sh->be, p), *why);
        rv = APR_EINVAL;
    }

    apr_thread_mutex_lock(sh->lock);
    if (rv == APR_SUCCESS && (!sh->nodes || d.version != sh->version)) {
        if (!sh->nodes || !skv_discovery_same(sh->nodes, servers)) {
            apr_pool_t *np;
            int i;

            if ((rv = apr_pool_create_unmanaged_ex(&np, NULL, NULL)) == APR_SUCCESS) {
                apr_array_header_t *copy = apr_array_copy(np, servers);

                for (i = 0; i < copy->nelts; i++) {
                    skv_server_t *s = &APR_ARRAY_IDX(copy, i, skv_server_t);

                    s->host = apr_pstrdup(np, s->host);
                }
                if (sh->pool) {
                    apr_pool_destroy(sh->pool);
                }
                sh->pool = np;
                sh->nodes = copy;
                __atomic_store_n(&sh->generation, sh->generation + 1, __ATOMIC_RELEASE);
            }
            else {
                *why = "no memory for the node list";
            }
        }
        if (rv == APR_SUCCESS) {
            sh->version = d.version;
        }
    }
    if (first) {
        sh->discovering = 0;
        if (!sh->nodes) {
            sh->failed_at = apr_time_now();
            apr_cpystrn(sh->failure, *why ? *why : "", sizeof(sh->failure));
        }
        apr_thread_cond_broadcast(sh->ended);
    }
    apr_thread_mutex_unlock(sh->lock);
    return rv;
}

/* The connect and answer of one discovery, and a little more: how long an operation waits for
 * another thread's discovery. */
static apr_interval_time_t discovery_bound(const skv_backend_t *be)
{
    return be->connect_timeout + 2 * be->io_timeout + apr_time_from_msec(100);
}

/*
 * Make sure there is a node list before the first operation: ask the endpoint on this thread,
 * or wait (bounded) for the thread that asks already. After a failure, operations fail at once
 * for retry_interval instead of each asking again.
 */
static apr_status_t mc_first(skv_conn_t *c)
{
    mc_shared_t *sh = c->shared;
    const skv_backend_t *be = c->be;
    apr_time_t now = apr_time_now(), until = now + discovery_bound(be);
    apr_status_t rv = APR_SUCCESS;
    apr_pool_t *tp;
    const char *why;

    apr_thread_mutex_lock(sh->lock);
    while (!sh->nodes && sh->discovering && now < until) {
        apr_thread_cond_timedwait(sh->ended, sh->lock, until - now);
        now = apr_time_now();
    }
    if (sh->nodes) {
        apr_thread_mutex_unlock(sh->lock);
        return APR_SUCCESS;
    }
    if (sh->discovering) {
        apr_thread_mutex_unlock(sh->lock);
        apr_snprintf(c->err, sizeof(c->err),
                     "no memcached nodes discovered yet: the discovery under way on another "
                     "thread did not end in time");
        return APR_TIMEUP;
    }
    if (sh->failed_at && now - sh->failed_at < be->retry_interval) {
        apr_snprintf(c->err, sizeof(c->err),
                     "no memcached nodes discovered yet: %s (asked again %.1f s after a failure)",
                     sh->failure, (double)be->retry_interval / APR_USEC_PER_SEC);
        apr_thread_mutex_unlock(sh->lock);
        return APR_ECONNREFUSED;
    }
    if ((rv = apr_pool_create_unmanaged_ex(&tp, NULL, NULL)) != APR_SUCCESS) {
        apr_thread_mutex_unlock(sh->lock);
        return rv;
    }
    sh->discovering = 1; /* this thread asks; the others wait for its answer */
    apr_thread_mutex_unlock(sh->lock);
    rv = mc_discover(&why, sh, 1, tp);
    if (rv != APR_SUCCESS) {
        apr_snprintf(c->err, sizeof(c->err), "no memcached nodes discovered yet: %s",
                     why ? why : "");
        rv = rv == APR_TIMEUP ? APR_TIMEUP : rv == APR_EINVAL ? APR_EGENERAL : APR_ECONNREFUSED;
    }
    apr_pool_destroy(tp);
    return rv;
}

/*
 * At the start of each operation of an auto-discovery connection: when the shared node list
 * changed since this connection took it (or it has none), take the new one into libmemcached.
 * The old server list goes with its connections (libmemcached cannot remove one server), and
 * those to the surviving nodes reopen on demand: a change is rare, a reconnect cheap.
 */
static apr_status_t mc_sync(skv_conn_t *c)
{
    mc_shared_t *sh = c->shared;
    memcached_server_list_st list = NULL, next;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    apr_uint32_t generation;
    apr_int64_t version;
    apr_status_t rv;
    int i;

    if (!sh) {
        return APR_SUCCESS;
    }
    generation = __atomic_load_n(&sh->generation, __ATOMIC_ACQUIRE);
    if (generation && generation == c->generation) {
        return APR_SUCCESS;
    }
    if (!generation && (rv = mc_first(c)) != APR_SUCCESS) {
        return rv;
    }
    apr_thread_mutex_lock(sh->lock);
    generation = sh->generation;
    version = sh->version;
    for (i = 0; sh->nodes && i < sh->nodes->nelts && memcached_success(rc); i++) {
        const skv_server_t *s = &APR_ARRAY_IDX(sh->nodes, i, skv_server_t);

        if ((next = memcached_server_list_append(list, s->host, s->port, &rc))) {
            list = next;
        }
        else if (memcached_success(rc)) {
            rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
        }
    }
    apr_thread_mutex_unlock(sh->lock);
    memcached_servers_reset(c->mc);
    if (memcached_success(rc)) {
        rc = memcached_server_push(c->mc, list);
    }
    memcached_server_list_free(list);
    if (!memcached_success(rc)) {
        /* left without servers: the next operation tries again */
        c->generation = 0;
        apr_snprintf(c->err, sizeof(c->err), "cannot take the discovered memcached nodes: %s",
                     memcached_strerror(c->mc, rc));
        return APR_EGENERAL;
    }
    lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, APR_SUCCESS,
                  LFLOGNO(01960) "%s: a connection now uses the %u discovered nodes of "
                                 "version %" APR_INT64_T_FMT,
                  c->be->display, memcached_server_count(c->mc), version);
    c->generation = generation;
    c->version = version;
    return APR_SUCCESS;
}

static apr_status_t mc_open_discovery(skv_conn_t **out, const skv_backend_t *be, void *shared,
                                      apr_pool_t *p)
{
    apr_status_t rv;

    /* a caller that is not a store: the connection keeps its nodes to itself */
    if (!shared && (rv = mc_share(&shared, be, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = mc_create(out, be, p)) != APR_SUCCESS) {
        return rv;
    }
    (*out)->shared = shared;
    return APR_SUCCESS;
}

/*
 * The background refresh: ask the endpoint; a new version replaces the list. *changed reports
 * a version the caller has not heard of yet (also one that a request's first discovery took),
 * with *why saying what the nodes are now ("version 7, 3 nodes: ..."), so that the caller logs
 * each list once.
 */
static apr_status_t mc_refresh(int *changed, const char **why, void *shared, apr_pool_t *p)
{
    mc_shared_t *sh = shared;
    apr_status_t rv;

    *changed = 0;
    if (!sh) {
        return APR_ENOTIMPL;
    }
    rv = mc_discover(why, sh, 0, p);
    apr_thread_mutex_lock(sh->lock);
    if (rv != APR_SUCCESS) {
        *why = sh->nodes
                   ? apr_psprintf(p, "%s; the %d nodes of version %" APR_INT64_T_FMT " are kept",
                                  *why, sh->nodes->nelts, sh->version)
                   : apr_psprintf(p, "%s; no nodes known yet", *why);
    }
    else if (sh->version != sh->reported) {
        *changed = 1;
        *why = apr_psprintf(p, "version %" APR_INT64_T_FMT ", %d node%s: %s", sh->version,
                            sh->nodes->nelts, sh->nodes->nelts == 1 ? "" : "s",
                            skv_discovery_describe(sh->nodes, MC_NODES_SHOWN, p));
        sh->reported = sh->version;
    }
    apr_thread_mutex_unlock(sh->lock);
    return rv;
}

/* The marker key of @p key into @p buf (MEMCACHED_MAX_KEY bytes). */
static apr_status_t marker_key(char *buf, apr_size_t *len, skv_conn_t *c, const char *key)
{
    apr_size_t klen = strlen(key);

    if (klen + MC_MARKER_LEN >= MEMCACHED_MAX_KEY) {
        apr_snprintf(c->err, sizeof(c->err), "memcached: key too long (%" APR_SIZE_T_FMT ")", klen);
        return APR_EGENERAL;
    }
    memcpy(buf, key, klen);
    memcpy(buf + klen, MC_MARKER, MC_MARKER_LEN + 1);
    *len = klen + MC_MARKER_LEN;
    return APR_SUCCESS;
}

/*
 * Whether @p rc says that a connection broke under the operation (a server restarted, a
 * connection closed while idle): an idempotent operation is then sent once more, on a new
 * connection. Harmless when the server is really gone: after a failed connect libmemcached
 * leaves it alone for retry_interval, so the second attempt fails at once. Never after a
 * timeout, which would double the wait.
 */
static int mc_broken(skv_conn_t *c, memcached_return_t rc)
{
    int err = memcached_last_error_errno(c->mc);

    switch (rc) {
    case MEMCACHED_CONNECTION_FAILURE:
    case MEMCACHED_WRITE_FAILURE:
    case MEMCACHED_READ_FAILURE:
    case MEMCACHED_ERRNO:
    case MEMCACHED_SOME_ERRORS:
        return err != ETIMEDOUT && err != EAGAIN && err != ECONNREFUSED;
    default:
        return 0;
    }
}

/* Whether to send an operation on @p key again after its failure @p rc (see mc_broken()). */
static int mc_retry(skv_conn_t *c, memcached_return_t rc, const char *key)
{
    if (memcached_success(rc) || !mc_broken(c, rc)) {
        return 0;
    }
    (void)mc_fail(c, rc, key);
    lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, APR_SUCCESS,
                  LFLOGNO(01900) "%s (connecting again, retrying once)", c->err);
    c->err[0] = '\0';
    return 1;
}

void skv_memcached_take(skv_value_t *val, int *found, const char *key, const char *mkey,
                        const char *rkey, apr_size_t rklen, const char *data, apr_size_t len,
                        apr_uint64_t cas, apr_time_t now, apr_pool_t *p)
{
    if (rklen == strlen(key) && !memcmp(rkey, key, rklen)) {
        val->data = apr_pstrmemdup(p, data, len);
        val->len = len;
        val->cas = cas;
        *found = 1;
    }
    else if (rklen == strlen(mkey) && !memcmp(rkey, mkey, rklen)) {
        char *s = apr_pstrmemdup(p, data, len);
        apr_time_t expires = (apr_time_t)apr_atoi64(s);

        val->expires_in = expires > 0 ? expires - now : -1;
    }
}

/* One multi-get of @p key and its marker @p mkey into @p val; the libmemcached outcome. */
static memcached_return_t mc_fetch(skv_value_t *val, int *found, skv_conn_t *c, const char *key,
                                   const char *mkey, apr_pool_t *p)
{
    const char *keys[2] = {key, mkey};
    size_t lens[2] = {strlen(key), strlen(mkey)};
    memcached_result_st res, *r;
    memcached_return_t rc;

    *found = 0;
    val->expires_in = -1;
    rc = memcached_mget_by_key(c->mc, key, lens[0], keys, lens, 2);
    if (!memcached_success(rc)) {
        return rc;
    }
    /* on the stack: memcached_fetch_result() frees a result it did not get this way when it
     * returns NULL at the end, so a heap one would be freed twice */
    if (!memcached_result_create(c->mc, &res)) {
        memcached_quit(c->mc); /* the replies are still on their way */
        return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
    }
    while ((r = memcached_fetch_result(c->mc, &res, &rc))) {
        skv_memcached_take(val, found, key, mkey, memcached_result_key_value(r),
                           memcached_result_key_length(r), memcached_result_value(r),
                           memcached_result_length(r), memcached_result_cas(r), apr_time_now(), p);
    }
    memcached_result_free(&res);
    if (rc == MEMCACHED_END || rc == MEMCACHED_NOTFOUND) {
        /* the fetch loop answers NOTFOUND for any failure before the first result (a timeout,
         * a reply that is not memcached's): the error it met is still recorded */
        memcached_return_t last = memcached_last_error(c->mc);

        return memcached_failed(last) && last != MEMCACHED_NOTFOUND && last != MEMCACHED_END
                   ? last
                   : MEMCACHED_SUCCESS;
    }
    return rc;
}

static apr_status_t mc_get(skv_value_t *val, skv_conn_t *c, const char *key, apr_pool_t *p)
{
    char mkey[MEMCACHED_MAX_KEY];
    apr_size_t mlen;
    memcached_return_t rc;
    apr_status_t status;
    int found;

    c->err[0] = '\0';
    if ((status = mc_sync(c)) != APR_SUCCESS
        || (status = marker_key(mkey, &mlen, c, key)) != APR_SUCCESS) {
        return status;
    }
    rc = mc_fetch(val, &found, c, key, mkey, p);
    if (mc_retry(c, rc, key)) {
        rc = mc_fetch(val, &found, c, key, mkey, p);
    }
    if (!memcached_success(rc)) {
        return mc_fail(c, rc, key);
    }
    if (!found) {
        return APR_NOTFOUND;
    }
    /* a marker in the past belongs to an earlier life of the key (rewritten since) */
    if (val->expires_in <= 0) {
        val->expires_in = -1;
    }
    return APR_SUCCESS;
}

static apr_status_t mc_add(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                           apr_interval_time_t ttl)
{
    apr_size_t klen = strlen(key);
    memcached_return_t rc;
    apr_status_t status;

    c->err[0] = '\0';
    if ((status = mc_sync(c)) != APR_SUCCESS) {
        return status;
    }
    rc = memcached_add_by_key(c->mc, key, klen, key, klen, data, len, mc_expiration(ttl), 0);
    if (rc == MEMCACHED_DATA_EXISTS || rc == MEMCACHED_NOTSTORED) {
        return APR_EEXIST;
    }
    return memcached_success(rc) ? APR_SUCCESS : mc_fail(c, rc, key);
}

static apr_status_t mc_cas(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                           apr_interval_time_t ttl, apr_uint64_t cas)
{
    apr_size_t klen = strlen(key);
    memcached_return_t rc;
    apr_status_t status;

    c->err[0] = '\0';
    if ((status = mc_sync(c)) != APR_SUCCESS) {
        return status;
    }
    rc = memcached_cas_by_key(c->mc, key, klen, key, klen, data, len, mc_expiration(ttl), 0, cas);
    switch (rc) {
    case MEMCACHED_DATA_EXISTS:
        return APR_EEXIST;
    case MEMCACHED_NOTFOUND:
        return APR_NOTFOUND;
    default:
        return memcached_success(rc) ? APR_SUCCESS : mc_fail(c, rc, key);
    }
}

static apr_status_t mc_replace(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                               apr_interval_time_t ttl)
{
    apr_size_t klen = strlen(key);
    memcached_return_t rc;
    apr_status_t status;

    c->err[0] = '\0';
    if ((status = mc_sync(c)) != APR_SUCCESS) {
        return status;
    }
    rc = memcached_replace_by_key(c->mc, key, klen, key, klen, data, len, mc_expiration(ttl), 0);
    if (mc_retry(c, rc, key)) {
        rc =
            memcached_replace_by_key(c->mc, key, klen, key, klen, data, len, mc_expiration(ttl), 0);
    }
    /* the binary protocol's "not stored" for a replace is the key's absence */
    if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_NOTFOUND) {
        return APR_NOTFOUND;
    }
    return memcached_success(rc) ? APR_SUCCESS : mc_fail(c, rc, key);
}

static apr_status_t mc_touch(skv_conn_t *c, const char *key, apr_interval_time_t ttl)
{
    apr_size_t klen = strlen(key), mlen;
    time_t expiration = mc_expiration(ttl);
    char mkey[MEMCACHED_MAX_KEY], when[32];
    memcached_return_t rc;
    apr_status_t status;

    c->err[0] = '\0';
    if ((status = mc_sync(c)) != APR_SUCCESS
        || (status = marker_key(mkey, &mlen, c, key)) != APR_SUCCESS) {
        return status;
    }
    rc = memcached_touch_by_key(c->mc, key, klen, key, klen, expiration);
    if (mc_retry(c, rc, key)) {
        rc = memcached_touch_by_key(c->mc, key, klen, key, klen, expiration);
    }
    if (rc == MEMCACHED_NOTFOUND) {
        return APR_NOTFOUND;
    }
    if (!memcached_success(rc)) {
        return mc_fail(c, rc, key);
    }
    apr_snprintf(when, sizeof(when), "%" APR_TIME_T_FMT, apr_time_now() + ttl);
    rc = memcached_set_by_key(c->mc, key, klen, mkey, mlen, when, strlen(when), expiration, 0);
    return memcached_success(rc) ? APR_SUCCESS : mc_fail(c, rc, key);
}

static apr_status_t mc_del(skv_conn_t *c, const char *key)
{
    apr_size_t klen = strlen(key), mlen;
    char mkey[MEMCACHED_MAX_KEY];
    memcached_return_t rc;
    apr_status_t status;

    c->err[0] = '\0';
    if ((status = mc_sync(c)) != APR_SUCCESS
        || (status = marker_key(mkey, &mlen, c, key)) != APR_SUCCESS) {
        return status;
    }
    rc = memcached_delete_by_key(c->mc, key, klen, key, klen, 0);
    if (mc_retry(c, rc, key)) {
        rc = memcached_delete_by_key(c->mc, key, klen, key, klen, 0);
    }
    if (rc == MEMCACHED_NOTFOUND) {
        return APR_NOTFOUND;
    }
    if (!memcached_success(rc)) {
        return mc_fail(c, rc, key);
    }
    /* best effort: a marker left behind expires with the TTL it was given */
    (void)memcached_delete_by_key(c->mc, key, klen, mkey, mlen, 0);
    return APR_SUCCESS;
}

/*
 * Healthy when at least one server answers: the keys of the others fail, but the store still
 * serves a share of the sessions, and the info says how many servers answered ("memcached
 * 1.6.18, 1/2 servers; 127.0.0.1:21002: CONNECTION FAILURE"), so a health check can tell.
 */
static apr_status_t mc_ping(const char **info, skv_conn_t *c, apr_pool_t *p)
{
    uint32_t n, i, up = 0;
    memcached_return_t rc, down_rc = MEMCACHED_SUCCESS;
    memcached_stat_st *st;
    const char *version = NULL, *down = "";
    char name[128];
    apr_status_t status;

    c->err[0] = '\0';
    if ((status = mc_sync(c)) != APR_SUCCESS) {
        *info = "";
        return status;
    }
    n = memcached_server_count(c->mc);
    if (!(st = memcached_stat(c->mc, NULL, &rc))) {
        *info = "";
        return mc_fail(c, rc, NULL);
    }
    for (i = 0; i < n; i++) {
        const memcached_instance_st *inst = memcached_server_instance_by_position(c->mc, i);
        memcached_return_t src;

        if (st[i].pid > 0) {
            ++up;
            version = version ? version : apr_pstrdup(p, st[i].version);
            continue;
        }
        src = memcached_server_error_return(inst);
        if (src == MEMCACHED_TIMEOUT) {
            memcached_quit(c->mc); /* a late answer must not meet the next command */
        }
        if (!*down) {
            down_rc = src;
            down =
                apr_psprintf(p, "; %s: %s", server_name(name, sizeof(name), inst),
                             memcached_success(src) ? "no answer" : memcached_strerror(c->mc, src));
        }
    }
    memcached_stat_free(c->mc, st);
    *info = apr_psprintf(
        p, "memcached %s, %u/%u servers%s%s", version ? version : "?", up, n,
        c->shared ? apr_psprintf(p, " (discovered, version %" APR_INT64_T_FMT ")", c->version) : "",
        down);
    if (!up) {
        apr_snprintf(c->err, sizeof(c->err), "%s", *info);
        return memcached_success(down_rc) ? APR_ECONNREFUSED : mc_status(down_rc, 0);
    }
    return APR_SUCCESS;
}

static const char *mc_error(skv_conn_t *c)
{
    return c->err;
}

/* The server of @p key on the ring, found by its name and port among the backend's servers
 * (libmemcached keeps its own copies of them). */
static int mc_server(skv_conn_t *c, const char *key)
{
    const memcached_instance_st *inst;
    memcached_return_t rc;
    const char *host;
    in_port_t port;
    int i;

    if (c->shared) {
        /* discovered nodes: no per-node down state (see the top of this file) */
        return -1;
    }
    if (c->be->servers->nelts == 1) {
        return 0;
    }
    if (!(inst = memcached_server_by_key(c->mc, key, strlen(key), &rc))) {
        return -1;
    }
    host = memcached_server_name(inst);
    port = memcached_server_port(inst);
    for (i = 0; i < c->be->servers->nelts; i++) {
        const skv_server_t *s = &APR_ARRAY_IDX(c->be->servers, i, skv_server_t);

        if (s->port == port && !strcmp(s->host, host)) {
            return i;
        }
    }
    return -1;
}

const skv_driver_t skv_driver_memcached = {
    "memcached", mc_open, mc_get,   mc_add,    mc_cas, mc_replace, mc_touch,
    mc_del,      mc_ping, mc_error, mc_server, NULL,   NULL,
};

const skv_driver_t skv_driver_memcached_discovery = {
    "memcached", mc_open_discovery, mc_get,   mc_add,    mc_cas,   mc_replace, mc_touch,
    mc_del,      mc_ping,           mc_error, mc_server, mc_share, mc_refresh,
};
