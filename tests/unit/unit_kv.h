/* unit_kv.h — an in-memory fake of a key-value backend (skv_driver.h) for the unit tests of the
 * cores that sit on one (skv_store, skv_lease): add only if absent, cas tokens, TTLs on a fake
 * clock, servers that hang, faults injected into the nth call of an operation, and a
 * "concurrent writer" that changes a key inside cas() before it compares. One backend per test
 * program, in @c fake, made afresh by fake_reset(). Its operations are thread-safe: a test may
 * run several requests against it at once. Include after unit.h.
 */
#ifndef LF_UNIT_KV_H
#define LF_UNIT_KV_H

#include <apr_hash.h>
#include <apr_strings.h>

#include "skv_driver.h"

#define UNIT_KV_T0 APR_INT64_C(1700000000000000) /* the fake clock's start, microseconds */

/* The operations, as counted in fake.calls[] and named to fake_fail(); F_OPS: any. */
typedef enum { F_OPEN, F_GET, F_ADD, F_CAS, F_REPLACE, F_TOUCH, F_DEL, F_PING, F_OPS } fake_op_e;

typedef struct fake_entry_t {
    char *data; /* NUL-terminated */
    apr_size_t len;
    apr_uint64_t cas;
    apr_time_t expires; /* on the fake clock */
} fake_entry_t;

struct skv_conn_t {
    int id; /* 1, 2, ... in the order of open() */
};

static struct {
    apr_pool_t *pool;
    apr_hash_t *entries; /* key -> fake_entry_t */
    apr_time_t now;      /* the clock of the backend, and the "now" the tests pass */
    apr_uint64_t next_cas;
    int report_ttl;            /* get() reports expires_in (redis); else -1 (memcached) */
    apr_interval_time_t grace; /* an expired entry is still served this long (coarse clock) */
    int calls[F_OPS];
    apr_interval_time_t ttl_of_last; /* of the last write or touch */
    int conns;
    const char *error; /* what error() answers: the text of the last fault */
    /* fault injection (fake_fail): the call number @c fail_at (1 = the next one) of
     * @c fail_op (F_OPS: of any operation but open) fails with @c fail_rv, and so do the
     * @c fail_more calls of it after that one */
    fake_op_e fail_op;
    int fail_at, fail_more;
    apr_status_t fail_rv;
    /* servers: keys are on server (last hex digit & 1) when there are two; the servers whose
     * bit is set in @c hung answer every call with APR_TIMEUP (the call is counted) */
    int servers;
    int hung;
    apr_interval_time_t io_timeout; /* what a call to a hung server takes on the clock */
    /* the concurrent writer: runs at the start of the next @c hook_times cas() calls */
    void (*hook)(const char *key);
    int hook_times;
    /* another request ends the session just before the next get() (after a conflict) */
    int end_at_get;
} fake;

/* An empty backend of one server, its clock at UNIT_KV_T0, no faults; allocated from @p p. */
static void fake_reset(apr_pool_t *p)
{
    memset(&fake, 0, sizeof(fake));
    fake.pool = p;
    fake.entries = apr_hash_make(p);
    fake.now = UNIT_KV_T0;
    fake.next_cas = 1000;
    fake.report_ttl = 1;
    fake.fail_op = F_OPS;
    fake.error = "";
    fake.servers = 1;
}

/* Make the @p nth next call of @p op (F_OPS: of any operation) fail with @p rv, and the @p more
 * calls of it after that one. */
static __attribute__((unused)) void fake_fail(fake_op_e op, int nth, int more, apr_status_t rv)
{
    fake.fail_op = op;
    fake.fail_at = nth;
    fake.fail_more = more;
    fake.fail_rv = rv;
}

/* The server that holds @p key. */
static int fake_server_of(const char *key)
{
    const char *last = key + strlen(key) - 1;

    return fake.servers == 1 ? 0
                             : (int)(strchr("0123456789abcdef", *last) - "0123456789abcdef") & 1;
}

/* Count a call of @p op on @p key (NULL: every server; a ping), and whether a hung server or an
 * injected fault makes it fail. */
static apr_status_t fake_fault(fake_op_e op, const char *key)
{
    ++fake.calls[op];
    if (fake.hung && (!key || fake.hung & (1 << fake_server_of(key)))) {
        fake.now += fake.io_timeout; /* a hung server costs the whole timeout */
        fake.error = "fake: timed out (hung)";
        return APR_TIMEUP;
    }
    if (!fake.fail_at || (fake.fail_op != F_OPS && fake.fail_op != op)) {
        return APR_SUCCESS;
    }
    if (--fake.fail_at > 0) {
        return APR_SUCCESS;
    }
    if (fake.fail_more-- > 0) {
        fake.fail_at = 1;
    }
    fake.error = fake.fail_rv == APR_TIMEUP ? "fake: timed out" : "fake: down";
    return fake.fail_rv;
}

/* The live entry at @p key, or NULL (an expired one is dropped). */
static fake_entry_t *fake_find(const char *key)
{
    fake_entry_t *e = apr_hash_get(fake.entries, key, APR_HASH_KEY_STRING);

    if (e && fake.now >= e->expires + fake.grace) {
        apr_hash_set(fake.entries, key, APR_HASH_KEY_STRING, NULL);
        e = NULL;
    }
    return e;
}

/* Store @p data at @p key for @p ttl, with a new cas token, whatever was there. */
static void fake_put(const char *key, const char *data, apr_size_t len, apr_interval_time_t ttl)
{
    fake_entry_t *e = apr_pcalloc(fake.pool, sizeof(*e));

    assert_true(ttl > 0);
    e->data = apr_pstrmemdup(fake.pool, data, len);
    e->len = len;
    e->cas = ++fake.next_cas;
    e->expires = fake.now + ttl;
    fake.ttl_of_last = ttl;
    apr_hash_set(fake.entries, apr_pstrdup(fake.pool, key), APR_HASH_KEY_STRING, e);
}

/* Drop @p key. */
static void fake_drop(const char *key)
{
    apr_hash_set(fake.entries, key, APR_HASH_KEY_STRING, NULL);
}

static apr_status_t fake_open_unlocked(skv_conn_t **conn, const skv_backend_t *be, apr_pool_t *p)
{
    (void)be;
    ++fake.calls[F_OPEN];
    *conn = apr_pcalloc(p, sizeof(**conn));
    (*conn)->id = ++fake.conns;
    return APR_SUCCESS;
}

static apr_status_t fake_get_unlocked(skv_value_t *val, skv_conn_t *c, const char *key,
                                      apr_pool_t *p)
{
    apr_status_t rv = fake_fault(F_GET, key);
    fake_entry_t *e;

    (void)c;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (fake.end_at_get) {
        fake.end_at_get = 0;
        fake_drop(key);
    }
    if (!(e = fake_find(key))) {
        return APR_NOTFOUND;
    }
    val->data = apr_pstrmemdup(p, e->data, e->len);
    val->len = e->len;
    val->cas = e->cas;
    val->expires_in = fake.report_ttl ? e->expires - fake.now : -1;
    return APR_SUCCESS;
}

/* add (@p op F_ADD: only where there is no entry) and replace (F_REPLACE: only where there is). */
static apr_status_t fake_add_or_replace(fake_op_e op, const char *key, const char *data,
                                        apr_size_t len, apr_interval_time_t ttl)
{
    apr_status_t rv = fake_fault(op, key);
    int exists;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    exists = fake_find(key) != NULL;
    if (op == F_ADD && exists) {
        return APR_EEXIST;
    }
    if (op == F_REPLACE && !exists) {
        return APR_NOTFOUND;
    }
    fake_put(key, data, len, ttl);
    return APR_SUCCESS;
}

static apr_status_t fake_cas_unlocked(skv_conn_t *c, const char *key, const char *data,
                                      apr_size_t len, apr_interval_time_t ttl, apr_uint64_t cas)
{
    apr_status_t rv = fake_fault(F_CAS, key);
    fake_entry_t *e;

    (void)c;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (fake.hook_times > 0) {
        --fake.hook_times;
        fake.hook(key);
    }
    if (!(e = fake_find(key))) {
        return APR_NOTFOUND;
    }
    if (e->cas != cas) {
        return APR_EEXIST;
    }
    fake_put(key, data, len, ttl);
    return APR_SUCCESS;
}

static apr_status_t fake_touch_unlocked(skv_conn_t *c, const char *key, apr_interval_time_t ttl)
{
    apr_status_t rv = fake_fault(F_TOUCH, key);
    fake_entry_t *e;

    (void)c;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!(e = fake_find(key))) {
        return APR_NOTFOUND;
    }
    assert_true(ttl > 0);
    e->expires = fake.now + ttl;
    fake.ttl_of_last = ttl;
    return APR_SUCCESS;
}

static apr_status_t fake_del_unlocked(skv_conn_t *c, const char *key)
{
    apr_status_t rv = fake_fault(F_DEL, key);

    (void)c;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!fake_find(key)) {
        return APR_NOTFOUND;
    }
    fake_drop(key);
    return APR_SUCCESS;
}

static apr_status_t fake_ping_unlocked(const char **info, skv_conn_t *c, apr_pool_t *p)
{
    apr_status_t rv = fake_fault(F_PING, NULL);

    if (rv == APR_SUCCESS) {
        *info = apr_psprintf(p, "fake 1.0 conn %d", c->id);
    }
    return rv;
}

/* The backend answers one call at a time, as a real one does for one key. (The hooks run under
 * the lock: they use fake_put() and fake_drop(), never the driver.) */
static pthread_mutex_t fake_mutex = PTHREAD_MUTEX_INITIALIZER;

#define FAKE_LOCKED(call)                                                                          \
    do {                                                                                           \
        apr_status_t rv_;                                                                          \
        pthread_mutex_lock(&fake_mutex);                                                           \
        rv_ = call;                                                                                \
        pthread_mutex_unlock(&fake_mutex);                                                         \
        return rv_;                                                                                \
    } while (0)

static apr_status_t fake_open(skv_conn_t **conn, const skv_backend_t *be, void *shared,
                              apr_pool_t *p)
{
    (void)shared;
    FAKE_LOCKED(fake_open_unlocked(conn, be, p));
}

static apr_status_t fake_get(skv_value_t *val, skv_conn_t *c, const char *key, apr_pool_t *p)
{
    FAKE_LOCKED(fake_get_unlocked(val, c, key, p));
}

static apr_status_t fake_add(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                             apr_interval_time_t ttl)
{
    (void)c;
    FAKE_LOCKED(fake_add_or_replace(F_ADD, key, data, len, ttl));
}

static apr_status_t fake_cas(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                             apr_interval_time_t ttl, apr_uint64_t cas)
{
    FAKE_LOCKED(fake_cas_unlocked(c, key, data, len, ttl, cas));
}

static apr_status_t fake_replace(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                                 apr_interval_time_t ttl)
{
    (void)c;
    FAKE_LOCKED(fake_add_or_replace(F_REPLACE, key, data, len, ttl));
}

static apr_status_t fake_touch(skv_conn_t *c, const char *key, apr_interval_time_t ttl)
{
    FAKE_LOCKED(fake_touch_unlocked(c, key, ttl));
}

static apr_status_t fake_del(skv_conn_t *c, const char *key)
{
    FAKE_LOCKED(fake_del_unlocked(c, key));
}

static apr_status_t fake_ping(const char **info, skv_conn_t *c, apr_pool_t *p)
{
    FAKE_LOCKED(fake_ping_unlocked(info, c, p));
}

static const char *fake_error(skv_conn_t *c)
{
    (void)c;
    return fake.error;
}

static int fake_server(skv_conn_t *c, const char *key)
{
    (void)c;
    return fake_server_of(key);
}

static const skv_driver_t fake_driver = {
    "fake",   fake_open, fake_get,   fake_add,    fake_cas, fake_replace, fake_touch,
    fake_del, fake_ping, fake_error, fake_server, NULL,     NULL,
};

/* The fake clock, as a store's or a lease's clock. */
static __attribute__((unused)) apr_time_t fake_now(void)
{
    return fake.now;
}

#endif /* LF_UNIT_KV_H */
