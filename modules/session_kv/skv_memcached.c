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
 * Pure core: APR and libmemcached.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <apr_strings.h>
#include <libmemcached/memcached.h>

#include "lf_log.h"
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

/* Each driver defines the connection object its own way; they never meet. */
struct skv_conn_t {
    const skv_backend_t *be;
    memcached_st *mc;
    int refused;   /* an allocation over MC_MAX_ALLOC was refused since the last operation */
    char err[256]; /* the last error, "" when none */
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

static apr_status_t mc_open(skv_conn_t **out, const skv_backend_t *be, void *shared, apr_pool_t *p)
{
    skv_conn_t *c = apr_pcalloc(p, sizeof(*c));
    apr_int64_t retry = (be->retry_interval + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;
    memcached_return_t rc = MEMCACHED_SUCCESS;
    int i;

    (void)shared;
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
    if ((status = marker_key(mkey, &mlen, c, key)) != APR_SUCCESS) {
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

    c->err[0] = '\0';
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

    c->err[0] = '\0';
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

    c->err[0] = '\0';
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
    if ((status = marker_key(mkey, &mlen, c, key)) != APR_SUCCESS) {
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
    if ((status = marker_key(mkey, &mlen, c, key)) != APR_SUCCESS) {
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
    uint32_t n = memcached_server_count(c->mc), i, up = 0;
    memcached_return_t rc, down_rc = MEMCACHED_SUCCESS;
    memcached_stat_st *st;
    const char *version = NULL, *down = "";
    char name[128];

    c->err[0] = '\0';
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
    *info = apr_psprintf(p, "memcached %s, %u/%u servers%s", version ? version : "?", up, n, down);
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
