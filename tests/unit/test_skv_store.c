/* Unit tests of modules/session_kv/skv_store.c over the in-memory fake driver of unit_kv.h
 * (skv_driver.h semantics: cas tokens, TTLs on an injected clock, fault injection, servers that
 * hang, and a "concurrent writer" that changes or deletes a session between a request's load and
 * its compare-and-set). */
#include "unit.h"
#include "unit_kv.h"

#include "skv_envelope.h"
#include "skv_id.h"
#include "skv_store.h"

#define PREFIX   "skv:"
#define MINUTE   apr_time_from_sec(60)
#define IDLE     (30 * MINUTE)
#define LIFETIME (8 * 60 * MINUTE)
#define TOUCH    (2 * MINUTE)
#define MAX_SIZE 256
#define T0       UNIT_KV_T0            /* the fake clock's start */
#define RETRY    apr_time_from_sec(10) /* the backend's retry interval */
#define KEY_HEX  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* --- the fake driver (unit_kv.h) ----------------------------------------------------------- */

static const skv_keyring_t *keys; /* of the store, for put() and the hooks */

static int writes_seen(void)
{
    return fake.calls[F_ADD] + fake.calls[F_CAS] + fake.calls[F_REPLACE];
}

/* --- the store under test ----------------------------------------------------------------- */

static skv_backend_t backend = {
    .type = SKV_BACKEND_REDIS,
    .display = "fake://127.0.0.1",
    .connect_timeout = 200000,
    .io_timeout = 500000,
    .retry_interval = RETRY,
};

/* Give the backend @p n servers, 127.0.0.1:1001 and on. */
static void backend_servers(int n, apr_pool_t *p)
{
    int i;

    backend.servers = apr_array_make(p, n, sizeof(skv_server_t));
    for (i = 0; i < n; i++) {
        skv_server_t *srv = apr_array_push(backend.servers);

        srv->host = "127.0.0.1";
        srv->port = (apr_port_t)(1001 + i);
    }
}

static skv_stats_t stats;

static skv_store_conf_t conf_default(void)
{
    skv_store_conf_t c;

    memset(&c, 0, sizeof(c));
    c.backend = &backend;
    c.prefix = PREFIX;
    c.idle_timeout = IDLE;
    c.max_lifetime = LIFETIME;
    c.touch_interval = TOUCH;
    c.max_size = MAX_SIZE;
    c.merge = 1;
    c.max_attempts = 3;
    c.keys = NULL;
    c.max_conns = 2;
    c.driver = &fake_driver;
    c.now = fake_now;
    return c;
}

/* A store over a fake backend of @p servers servers. */
static skv_store_t *store_servers(const skv_store_conf_t *c, int servers, apr_pool_t *p)
{
    skv_store_t *st = NULL;

    fake_reset(p);
    keys = c->keys;
    fake.servers = servers;
    fake.io_timeout = c->backend->io_timeout;
    unit_log_capture(); /* what the store logs, for unit_logged() */
    unit_log_clear();
    backend_servers(servers, p);
    memset(&stats, 0, sizeof(stats));
    assert_int_equal(skv_store_create(&st, c, &stats, p), APR_SUCCESS);
    assert_non_null(st);
    assert_ptr_equal(skv_store_stats(st), &stats);
    /* connections are made on first use only */
    assert_int_equal(fake.calls[F_OPEN], 0);
    return st;
}

static skv_store_t *store_with(const skv_store_conf_t *c, apr_pool_t *p)
{
    return store_servers(c, 1, p);
}

static skv_store_t *store(apr_pool_t *p)
{
    skv_store_conf_t c = conf_default();

    return store_with(&c, p);
}

/* Put a session into the fake backend as the store would have written it, with a TTL. */
static void put(const char *key, apr_time_t created, apr_time_t written, const char *user,
                const char *data, apr_interval_time_t ttl)
{
    skv_record_t rec;
    const char *env;
    apr_size_t len;

    rec.created = created;
    rec.written = written;
    rec.user = user;
    rec.data = data;
    rec.len = strlen(data);
    assert_int_equal(skv_envelope_encode(&env, &len, &rec, keys, key, fake.pool), APR_SUCCESS);
    fake_put(key, env, len, ttl);
}

/* A stored session with a fresh id; its id. */
static const char *put_new(apr_time_t created, apr_time_t written, const char *data,
                           apr_interval_time_t ttl)
{
    const char *id;

    assert_int_equal(skv_id_generate(&id, fake.pool), APR_SUCCESS);
    put(skv_id_key(PREFIX, id, fake.pool), created, written, "ann", data, ttl);
    return id;
}

/* The session stored under @p key, decoded; 0 when there is none. */
static int stored(skv_record_t *rec, const char *key)
{
    fake_entry_t *e = fake_find(key);
    const char *why = NULL;

    if (!e) {
        return 0;
    }
    if (skv_envelope_decode(rec, &why, e->data, e->len, keys, key, fake.pool) != APR_SUCCESS) {
        fail_msg("stored value does not decode: %s", why);
    }
    return 1;
}

static int entries(void)
{
    return (int)apr_hash_count(fake.entries);
}

static skv_session_t *load_ok(skv_store_t *st, const char *id, apr_pool_t *p)
{
    skv_session_t *s = NULL;
    const char *why = NULL;
    apr_status_t rv = skv_store_load(&s, &why, st, id, fake.now, p);

    if (rv != APR_SUCCESS) {
        fail_msg("load: %d %s", rv, why ? why : "");
    }
    assert_non_null(s);
    return s;
}

/* A session as the glue makes one before its first save. */
static skv_session_t *session_new(apr_pool_t *p)
{
    skv_session_t *s = apr_pcalloc(p, sizeof(*s));

    s->expires_in = -1;
    return s;
}

static apr_status_t save(skv_session_t *s, const char **why, skv_store_t *st, const char *data,
                         const char *user, int regenerate, skv_merge_cb *merge, void *baton,
                         apr_pool_t *p)
{
    *why = NULL;
    return skv_store_save(s, why, st, data, strlen(data), user, regenerate, merge, baton, fake.now,
                          p);
}

/* The merge callback: what it saw, what it answers. */
typedef struct merge_t {
    int calls;
    skv_record_t seen;  /* the last current record, copied */
    const char *result; /* NULL: the current text with "&mine=1" appended */
    apr_status_t rv;
} merge_t;

static apr_status_t merge_cb(const char **data, apr_size_t *len, const skv_record_t *current,
                             void *baton, apr_pool_t *p)
{
    merge_t *m = baton;

    ++m->calls;
    assert_non_null(current);
    assert_non_null(current->data);
    m->seen = *current;
    m->seen.data = apr_pstrmemdup(p, current->data, current->len);
    m->seen.user = current->user ? apr_pstrdup(p, current->user) : NULL;
    if (m->rv != APR_SUCCESS) {
        return m->rv;
    }
    *data = m->result ? m->result : apr_pstrcat(p, current->data, "&mine=1", NULL);
    *len = strlen(*data);
    return APR_SUCCESS;
}

/* Concurrent writers, run inside cas() before it compares. */
static void hook_rewrite(const char *key)
{
    skv_record_t cur;

    assert_true(stored(&cur, key));
    put(key, cur.created, fake.now, "bob", "other=1", IDLE);
}

static void hook_delete(const char *key)
{
    fake_drop(key);
}

static void hook_garbage(const char *key)
{
    fake_put(key, "not an envelope", 15, IDLE);
}

/* --- tests -------------------------------------------------------------------------------- */

static void new_session_gets_id_on_save(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    skv_session_t *s = session_new(p), *s2 = session_new(p), *back;
    skv_record_t rec;
    const char *why;
    merge_t m = {0};

    /* nothing reaches the backend before the save, and the session has no id */
    assert_null(s->id);
    assert_null(s->key);
    assert_int_equal(fake.calls[F_GET] + writes_seen(), 0);

    assert_int_equal(save(s, &why, st, "a=1", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_non_null(s->id);
    assert_true(skv_id_valid(s->id, strlen(s->id)));
    assert_string_equal(s->key, skv_id_key(PREFIX, s->id, p));
    assert_int_equal(fake.calls[F_ADD], 1);
    assert_int_equal(writes_seen(), 1);
    assert_int_equal(m.calls, 0);
    assert_true(fake.ttl_of_last == IDLE);
    assert_int_equal(entries(), 1);
    /* the cookie value itself is not a key */
    assert_null(apr_hash_get(fake.entries, s->id, APR_HASH_KEY_STRING));

    assert_true(stored(&rec, s->key));
    assert_true(rec.created == T0);
    assert_true(rec.written == T0);
    assert_string_equal(rec.user, "ann");
    assert_string_equal(rec.data, "a=1");
    assert_true(s->rec.created == T0);
    assert_true(s->rec.written == T0);
    assert_int_equal(stats.writes, 1);

    /* another new session, another id */
    assert_int_equal(save(s2, &why, st, "b=2", NULL, 0, NULL, NULL, p), APR_SUCCESS);
    assert_string_not_equal(s2->id, s->id);
    assert_int_equal(entries(), 2);
    assert_true(stored(&rec, s2->key));
    assert_null(rec.user);
    assert_int_equal(stats.writes, 2);

    /* and it loads */
    fake.now += MINUTE;
    back = load_ok(st, s->id, p);
    assert_string_equal(back->rec.data, "a=1");
    assert_string_equal(back->rec.user, "ann");
    assert_string_equal(back->key, s->key);
}

static void load_hit_and_miss(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 10 * MINUTE, T0 - MINUTE, "x=1&y=2", IDLE - MINUTE), *why;
    const char *absent;
    skv_session_t *s;
    fake_entry_t *e;

    s = load_ok(st, id, p);
    e = fake_find(skv_id_key(PREFIX, id, p));
    assert_string_equal(s->id, id);
    assert_string_equal(s->key, skv_id_key(PREFIX, id, p));
    assert_true(s->rec.created == T0 - 10 * MINUTE);
    assert_true(s->rec.written == T0 - MINUTE);
    assert_string_equal(s->rec.user, "ann");
    assert_string_equal(s->rec.data, "x=1&y=2");
    assert_int_equal(s->rec.len, 7);
    assert_true(s->cas == e->cas);
    assert_true(s->expires_in == IDLE - MINUTE);
    assert_int_equal(stats.loads, 1);
    assert_int_equal(stats.hits, 1);
    assert_int_equal(stats.misses, 0);
    /* a load writes nothing */
    assert_int_equal(writes_seen() + fake.calls[F_TOUCH] + fake.calls[F_DEL], 0);

    assert_int_equal(skv_id_generate(&absent, p), APR_SUCCESS);
    s = NULL;
    assert_int_equal(skv_store_load(&s, &why, st, absent, fake.now, p), APR_NOTFOUND);
    assert_null(s);
    assert_int_equal(stats.loads, 2);
    assert_int_equal(stats.hits, 1);
    assert_int_equal(stats.misses, 1);
    assert_int_equal(stats.expired, 0);
    assert_int_equal(stats.err_other + stats.err_down + stats.err_timeout, 0);
    assert_int_equal(stats.ops, 2);
}

/* Memcached cannot tell the remaining TTL: idle is measured from the last write. */
static void load_expired_idle_by_written(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    skv_session_t *s = NULL;
    const char *why, *late, *edge, *fresh;

    fake.report_ttl = 0;
    /* the backend still holds them (its TTL is longer), but they are idle too long */
    late = put_new(T0 - 2 * IDLE, T0 - IDLE - 1, "late=1", IDLE);
    edge = put_new(T0 - 2 * IDLE, T0 - IDLE, "edge=1", IDLE);
    fresh = put_new(T0 - 2 * IDLE, T0 - IDLE + 1, "fresh=1", IDLE);

    assert_int_equal(skv_store_load(&s, &why, st, late, fake.now, p), APR_NOTFOUND);
    assert_null(s);
    /* ... and deleted */
    assert_null(fake_find(skv_id_key(PREFIX, late, p)));
    assert_int_equal(fake.calls[F_DEL], 1);
    assert_int_equal(skv_store_load(&s, &why, st, edge, fake.now, p), APR_NOTFOUND);
    assert_null(fake_find(skv_id_key(PREFIX, edge, p)));
    assert_int_equal(stats.expired, 2);
    assert_int_equal(stats.deletes, 2);
    assert_int_equal(stats.hits, 0);

    s = load_ok(st, fresh, p);
    assert_true(s->expires_in == -1);
    assert_int_equal(stats.hits, 1);
    assert_int_equal(stats.expired, 2);
}

/* Redis tells the remaining TTL: a session touched since its last write lives on; one whose
 * TTL ran out (served a little late by a backend with a coarse clock) and whose last write is
 * as old is expired. */
static void load_expired_idle_by_expires_in(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    skv_session_t *s = NULL;
    const char *why, *touched, *ran_out;

    fake.grace = apr_time_from_sec(2);
    /* written 40 minutes ago, touched 5 minutes ago: 25 minutes left */
    touched = put_new(T0 - 60 * MINUTE, T0 - 40 * MINUTE, "t=1", IDLE - 5 * MINUTE);
    ran_out = put_new(T0 - 60 * MINUTE, T0 - IDLE - 1, "r=1", 1);
    fake.now = T0;
    fake.now += 1; /* ran_out's TTL is over, within the backend's grace */

    s = load_ok(st, touched, p);
    assert_true(s->expires_in == IDLE - 5 * MINUTE - 1);
    assert_string_equal(s->rec.data, "t=1");

    assert_non_null(fake_find(skv_id_key(PREFIX, ran_out, p)));
    assert_int_equal(skv_store_load(&s, &why, st, ran_out, fake.now, p), APR_NOTFOUND);
    assert_null(fake_find(skv_id_key(PREFIX, ran_out, p)));
    assert_int_equal(stats.expired, 1);
    assert_int_equal(stats.deletes, 1);
    assert_int_equal(stats.hits, 1);
}

static void load_expired_absolute(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    skv_session_t *s = NULL;
    const char *why, *old, *edge, *young;
    skv_store_conf_t c;

    /* written a second ago, but created longer ago than the lifetime */
    old = put_new(T0 - LIFETIME - 1, T0 - apr_time_from_sec(1), "old=1", IDLE);
    edge = put_new(T0 - LIFETIME, T0 - apr_time_from_sec(1), "edge=1", IDLE);
    young = put_new(T0 - LIFETIME + 1, T0 - apr_time_from_sec(1), "young=1", IDLE);

    assert_int_equal(skv_store_load(&s, &why, st, old, fake.now, p), APR_NOTFOUND);
    assert_null(fake_find(skv_id_key(PREFIX, old, p)));
    assert_int_equal(skv_store_load(&s, &why, st, edge, fake.now, p), APR_NOTFOUND);
    assert_null(fake_find(skv_id_key(PREFIX, edge, p)));
    assert_int_equal(stats.expired, 2);
    assert_int_equal(stats.deletes, 2);
    load_ok(st, young, p);

    /* max_lifetime 0: no limit */
    c = conf_default();
    c.max_lifetime = 0;
    st = store_with(&c, p);
    old = put_new(T0 - 100 * LIFETIME, T0 - MINUTE, "old=1", IDLE);
    load_ok(st, old, p);
    assert_int_equal(stats.expired, 0);
}

/* Times that cannot be true (a broken or hostile backend) end the session like an expiry, and
 * do not overflow on the way; a node whose clock is ahead of ours is not refused. */
static void load_times_impossible(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    skv_session_t *s = NULL;
    const char *why;
    const apr_time_t bad[][2] = {
        {APR_INT64_MIN, T0 - MINUTE},
        {T0 - MINUTE, APR_INT64_MIN},
        {APR_INT64_MAX, T0},
        {T0, APR_INT64_MAX},
        {-1, T0},
        {T0 + apr_time_from_sec(7200), T0},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        const char *id = put_new(bad[i][0], bad[i][1], "a=1", IDLE);

        assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), APR_NOTFOUND);
        assert_null(fake_find(skv_id_key(PREFIX, id, p)));
    }
    assert_int_equal(stats.expired, sizeof(bad) / sizeof(bad[0]));
    load_ok(st, put_new(T0 + apr_time_from_sec(10), T0 + apr_time_from_sec(10), "ahead=1", IDLE),
            p);
}

static void load_bad_envelope(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    skv_session_t *s = NULL;
    const char *id, *why = NULL;

    assert_int_equal(skv_id_generate(&id, p), APR_SUCCESS);
    fake_put(skv_id_key(PREFIX, id, p), "PHPSESSID|a:0:{}", 16, IDLE);
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), APR_EINVAL);
    assert_null(s);
    assert_non_null(why);
    assert_int_equal(stats.err_other, 1);
    assert_int_equal(stats.hits + stats.misses, 0);
}

static void load_backend_errors(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0, T0, "a=1", IDLE), *why;
    skv_session_t *s = NULL;

    fake_fail(F_OPS, 1, 0, APR_TIMEUP);
    why = NULL;
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), APR_TIMEUP);
    assert_non_null(why);
    assert_non_null(strstr(why, "fake: timed out"));
    assert_int_equal(stats.err_timeout, 1);
    /* a timeout marks the server down: the next operation goes out after the retry interval */
    fake.now += RETRY;

    fake_fail(F_OPS, 1, 0, APR_ECONNREFUSED);
    why = NULL;
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), APR_ECONNREFUSED);
    assert_non_null(strstr(why, "fake: down"));
    assert_int_equal(stats.err_down, 1);
    /* that was the retry, and a refusal does not say the server is back */
    fake.now += RETRY;

    fake_fail(F_OPS, 1, 0, APR_EGENERAL);
    why = NULL;
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), APR_EGENERAL);
    assert_non_null(why);
    assert_int_equal(stats.err_other, 1);
    assert_null(s);

    assert_int_equal(stats.loads, 3);
    assert_int_equal(stats.hits + stats.misses + stats.expired, 0);
    assert_int_equal(stats.err_timeout, 1);
    assert_int_equal(stats.err_down, 1);
    /* the session is still there and loads once the backend is back */
    load_ok(st, id, p);
    assert_int_equal(stats.hits, 1);
}

static void save_unchanged_cas(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why;
    skv_session_t *s;
    skv_record_t rec;
    merge_t m = {0};

    s = load_ok(st, id, p);
    fake.now += apr_time_from_sec(1);
    assert_int_equal(save(s, &why, st, "a=2", "carl", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_CAS], 1);
    assert_int_equal(writes_seen(), 1);
    assert_int_equal(fake.calls[F_GET], 1);
    assert_int_equal(m.calls, 0);
    assert_true(fake.ttl_of_last == IDLE);
    /* same id */
    assert_string_equal(s->id, id);
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "a=2");
    assert_string_equal(rec.user, "carl");
    assert_true(rec.created == T0 - 5 * MINUTE);
    assert_true(rec.written == fake.now);
    assert_true(s->rec.written == fake.now);
    assert_true(s->expires_in == IDLE);
    assert_int_equal(stats.writes, 1);
    assert_int_equal(stats.conflicts + stats.merges + stats.regenerated, 0);
}

static void save_conflict_merges(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why;
    skv_session_t *s;
    skv_record_t rec;
    merge_t m = {0};

    s = load_ok(st, id, p);
    fake.hook = hook_rewrite;
    fake.hook_times = 1;
    assert_int_equal(save(s, &why, st, "a=1&mine=1", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    /* the merge saw what the other request stored */
    assert_int_equal(m.calls, 1);
    assert_string_equal(m.seen.data, "other=1");
    assert_int_equal(m.seen.len, 7);
    assert_string_equal(m.seen.user, "bob");
    assert_true(m.seen.created == T0 - 5 * MINUTE);
    /* ... and its result is what is stored, with this request's user */
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "other=1&mine=1");
    assert_string_equal(rec.user, "ann");
    assert_true(rec.created == T0 - 5 * MINUTE);
    assert_string_equal(s->id, id);
    assert_int_equal(fake.calls[F_CAS], 2);
    assert_int_equal(fake.calls[F_GET], 2);
    assert_int_equal(fake.calls[F_REPLACE] + fake.calls[F_ADD], 0);
    assert_int_equal(stats.conflicts, 1);
    assert_int_equal(stats.merges, 1);
    assert_int_equal(stats.writes, 1);
    assert_int_equal(entries(), 1);
}

static void save_conflict_retries(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why;
    skv_session_t *s;
    skv_record_t rec;
    merge_t m = {0};

    /* two conflicts in a row, the third attempt succeeds */
    s = load_ok(st, id, p);
    fake.hook = hook_rewrite;
    fake.hook_times = 2;
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(m.calls, 2);
    assert_int_equal(fake.calls[F_CAS], 3);
    assert_int_equal(stats.conflicts, 2);
    assert_int_equal(stats.merges, 2);
    assert_int_equal(stats.writes, 1);
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "other=1&mine=1");

    /* a conflict at every attempt: given up, the other request's session stays */
    s = load_ok(st, id, p);
    memset(&m, 0, sizeof(m));
    fake.hook_times = 3;
    why = NULL;
    assert_int_equal(save(s, &why, st, "a=3", "ann", 0, merge_cb, &m, p), APR_EEXIST);
    assert_non_null(why);
    assert_int_equal(fake.calls[F_CAS], 6);
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "other=1");
    assert_string_equal(rec.user, "bob");
    assert_int_equal(stats.conflicts, 5);
    assert_int_equal(stats.writes, 1);
}

/* Another request ended the session (a logout in another tab, a login that moved it to a new
 * id, an expiry) between this one's load and its save: nothing is written, no new id is made,
 * and the session stays ended, or a slow request would log the user in again. */
static void save_ended_meanwhile(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why = NULL;
    skv_session_t *s;
    merge_t m = {0};

    s = load_ok(st, id, p);
    fake.now += MINUTE;
    fake.hook = hook_delete;
    fake.hook_times = 1;
    assert_int_equal(save(s, &why, st, "a=1&cart=2", "ann", 0, merge_cb, &m, p), APR_NOTFOUND);
    assert_non_null(why);
    assert_non_null(strstr(why, "ended meanwhile"));
    assert_int_equal(m.calls, 0);
    /* the same id, nothing stored anywhere */
    assert_string_equal(s->id, id);
    assert_int_equal(entries(), 0);
    assert_int_equal(fake.calls[F_ADD] + fake.calls[F_REPLACE], 0);
    assert_int_equal(stats.dropped, 1);
    assert_int_equal(stats.writes, 0);

    /* ... also when it is ended after a conflict, before the newer copy is read */
    id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE);
    s = load_ok(st, id, p);
    fake.hook = hook_rewrite;
    fake.hook_times = 1;
    fake.end_at_get = 1;
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_NOTFOUND);
    assert_int_equal(m.calls, 0);
    assert_string_equal(s->id, id);
    assert_int_equal(entries(), 0);
    assert_int_equal(fake.calls[F_ADD], 0);
    assert_int_equal(stats.conflicts, 1);
    assert_int_equal(stats.dropped, 2);
    assert_int_equal(stats.writes, 0);
}

/* With last-write-wins the write is a replace: it never brings back an ended session either. */
static void save_last_write_wins_ended(void **state)
{
    apr_pool_t *p = *state;
    skv_store_conf_t c = conf_default();
    skv_store_t *st;
    const char *id, *why = NULL;
    skv_session_t *s;

    c.merge = 0;
    st = store_with(&c, p);
    id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE);
    s = load_ok(st, id, p);
    hook_delete(s->key);
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, NULL, NULL, p), APR_NOTFOUND);
    assert_non_null(strstr(why, "ended meanwhile"));
    assert_int_equal(fake.calls[F_REPLACE], 1);
    assert_int_equal(entries(), 0);
    assert_string_equal(s->id, id);
    assert_int_equal(stats.dropped, 1);
    assert_int_equal(stats.writes, 0);
}

static void save_last_write_wins(void **state)
{
    apr_pool_t *p = *state;
    skv_store_conf_t c = conf_default();
    skv_store_t *st;
    const char *id, *why;
    skv_session_t *s;
    skv_record_t rec;
    merge_t m = {0};

    c.merge = 0;
    st = store_with(&c, p);
    id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE);
    s = load_ok(st, id, p);
    /* another request writes meanwhile: overwritten, no merge */
    put(s->key, T0 - 5 * MINUTE, T0, "bob", "other=1", IDLE);
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_REPLACE], 1);
    assert_int_equal(fake.calls[F_CAS], 0);
    assert_int_equal(m.calls, 0);
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "a=2");
    assert_true(rec.created == T0 - 5 * MINUTE);
    assert_true(fake.ttl_of_last == IDLE);
    assert_int_equal(stats.conflicts + stats.merges, 0);
    assert_int_equal(stats.writes, 1);

    /* merging on, but no merge callback: a plain set as well */
    st = store(p);
    id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE);
    s = load_ok(st, id, p);
    assert_int_equal(save(s, &why, st, "a=3", "ann", 0, NULL, NULL, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_REPLACE], 1);
    assert_int_equal(fake.calls[F_CAS], 0);
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "a=3");
}

static void save_oversize(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why;
    char *big = apr_palloc(p, MAX_SIZE + 2);
    skv_session_t *s, *fresh = session_new(p);
    fake_entry_t before, *e;
    merge_t m = {0};

    memset(big, 'x', MAX_SIZE + 1);
    big[MAX_SIZE + 1] = '\0';
    s = load_ok(st, id, p);
    e = fake_find(s->key);
    before = *e;

    /* an existing session */
    assert_int_equal(save(s, &why, st, big, "ann", 0, merge_cb, &m, p), APR_ENOSPC);
    assert_non_null(why);
    assert_int_equal(writes_seen(), 0);
    assert_int_equal(stats.oversize, 1);
    assert_int_equal(stats.writes, 0);
    e = fake_find(s->key);
    assert_true(e->cas == before.cas);
    assert_int_equal(e->len, before.len);
    assert_memory_equal(e->data, before.data, before.len);
    /* regenerating it */
    assert_int_equal(save(s, &why, st, big, "ann", 1, merge_cb, &m, p), APR_ENOSPC);
    assert_string_equal(s->id, id);
    /* a new one: no id, nothing stored */
    assert_int_equal(save(fresh, &why, st, big, "ann", 0, merge_cb, &m, p), APR_ENOSPC);
    assert_null(fresh->id);
    assert_int_equal(entries(), 1);
    assert_int_equal(writes_seen() + fake.calls[F_DEL], 0);
    assert_int_equal(stats.oversize, 3);
    assert_int_equal(m.calls, 0);

    /* exactly max_size is fine */
    big[MAX_SIZE] = '\0';
    assert_int_equal(save(s, &why, st, big, "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(save(fresh, &why, st, big, "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(stats.oversize, 3);
    assert_int_equal(stats.writes, 2);
}

static void save_merge_oversize(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why;
    char *big = apr_palloc(p, MAX_SIZE + 2);
    skv_session_t *s;
    skv_record_t rec;
    fake_entry_t *e;
    apr_uint64_t cas;
    merge_t m = {0};

    memset(big, 'y', MAX_SIZE + 1);
    big[MAX_SIZE + 1] = '\0';
    m.result = big;
    s = load_ok(st, id, p);
    fake.hook = hook_rewrite;
    fake.hook_times = 1;
    why = NULL;
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_ENOSPC);
    assert_non_null(why);
    assert_int_equal(m.calls, 1);
    assert_int_equal(fake.calls[F_CAS], 1);
    assert_int_equal(stats.oversize, 1);
    assert_int_equal(stats.writes, 0);
    /* the other request's session stays as it was */
    e = fake_find(s->key);
    cas = e->cas;
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "other=1");
    assert_true(fake_find(s->key)->cas == cas);
    assert_int_equal(entries(), 1);
}

static void save_merge_error(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why;
    skv_session_t *s;
    skv_record_t rec;
    merge_t m = {0};

    m.rv = APR_EGENERAL;
    s = load_ok(st, id, p);
    fake.hook = hook_rewrite;
    fake.hook_times = 1;
    why = NULL;
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_EGENERAL);
    assert_non_null(why);
    assert_int_equal(fake.calls[F_CAS], 1);
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "other=1");
    assert_int_equal(stats.writes, 0);
}

/* A conflict with a stored value that does not decode: an error, counted as such. */
static void save_conflict_bad_envelope(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why;
    skv_session_t *s;
    merge_t m = {0};

    s = load_ok(st, id, p);
    fake.hook = hook_garbage;
    fake.hook_times = 1;
    why = NULL;
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_EINVAL);
    assert_non_null(why);
    assert_int_equal(m.calls, 0);
    assert_int_equal(stats.err_other, 1);
    assert_int_equal(stats.writes, 0);
    assert_string_equal(fake_find(s->key)->data, "not an envelope");
}

static void save_backend_errors(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why;
    skv_session_t *s, *fresh = session_new(p);
    skv_record_t rec;
    merge_t m = {0};

    s = load_ok(st, id, p);
    fake_fail(F_CAS, 1, 0, APR_TIMEUP);
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_TIMEUP);
    assert_non_null(why);
    assert_int_equal(stats.err_timeout, 1);
    assert_int_equal(stats.conflicts, 0);
    assert_int_equal(m.calls, 0);
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "a=1");
    fake.now += RETRY; /* the timeout marked the server down for that long */

    /* a new session that cannot be stored keeps no id: nothing to send as a cookie */
    fake_fail(F_ADD, 1, 0, APR_ECONNREFUSED);
    assert_int_equal(save(fresh, &why, st, "b=1", "ann", 0, merge_cb, &m, p), APR_ECONNREFUSED);
    assert_null(fresh->id);
    assert_null(fresh->key);
    assert_int_equal(stats.err_down, 1);
    assert_int_equal(entries(), 1);
    fake.now += RETRY; /* that was the retry, and a refusal does not say the server is back */

    /* the get after a conflict fails */
    fake.hook = hook_rewrite;
    fake.hook_times = 1;
    fake_fail(F_GET, 1, 0, APR_EGENERAL);
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_EGENERAL);
    assert_int_equal(stats.err_other, 1);
    assert_int_equal(m.calls, 0);
    assert_int_equal(stats.writes, 0);

    /* and once the backend is back, the same session saves (merging, as the other request
     * wrote meanwhile) */
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(stats.writes, 1);
    assert_string_equal(s->id, id);
}

static void regenerate(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1&user=ann", IDLE), *why;
    const char *old_key;
    skv_session_t *s, *back = NULL;
    skv_record_t rec;
    merge_t m = {0};

    s = load_ok(st, id, p);
    old_key = s->key;
    fake.now += MINUTE;
    assert_int_equal(save(s, &why, st, "a=1&user=ann", "ann", 1, merge_cb, &m, p), APR_SUCCESS);
    assert_string_not_equal(s->id, id);
    assert_true(skv_id_valid(s->id, strlen(s->id)));
    assert_string_equal(s->key, skv_id_key(PREFIX, s->id, p));
    /* the old id is gone, the data and the creation time moved */
    assert_null(fake_find(old_key));
    assert_int_equal(entries(), 1);
    assert_true(stored(&rec, s->key));
    assert_string_equal(rec.data, "a=1&user=ann");
    assert_string_equal(rec.user, "ann");
    assert_true(rec.created == T0 - 5 * MINUTE);
    assert_true(rec.written == fake.now);
    assert_true(s->rec.created == T0 - 5 * MINUTE);
    assert_int_equal(m.calls, 0);
    assert_int_equal(stats.regenerated, 1);
    assert_int_equal(stats.deletes, 1);
    assert_int_equal(stats.writes, 1);

    assert_int_equal(skv_store_load(&back, &why, st, id, fake.now, p), APR_NOTFOUND);
    back = load_ok(st, s->id, p);
    assert_string_equal(back->rec.data, "a=1&user=ann");

    /* the absolute lifetime still counts from the first creation */
    fake.now = T0 - 5 * MINUTE + LIFETIME;
    put(back->key, T0 - 5 * MINUTE, fake.now - MINUTE, "ann", "a=1", IDLE);
    assert_int_equal(skv_store_load(&back, &why, st, s->id, fake.now, p), APR_NOTFOUND);
}

/* A regeneration that cannot store the new id leaves the session where it was. */
static void regenerate_fails(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why, *old_key;
    skv_session_t *s;
    skv_record_t rec;
    merge_t m = {0};

    s = load_ok(st, id, p);
    old_key = s->key;
    fake_fail(F_ADD, 1, 0, APR_TIMEUP);
    assert_int_equal(save(s, &why, st, "a=2", "ann", 1, merge_cb, &m, p), APR_TIMEUP);
    assert_non_null(why);
    assert_string_equal(s->id, id);
    assert_string_equal(s->key, old_key);
    assert_int_equal(entries(), 1);
    assert_true(stored(&rec, old_key));
    assert_string_equal(rec.data, "a=1");
    assert_int_equal(stats.regenerated + stats.deletes + stats.writes, 0);
    assert_int_equal(stats.err_timeout, 1);

    /* a save after it (once the server is tried again) still finds the stored session */
    fake.now += RETRY;
    assert_int_equal(save(s, &why, st, "a=3", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(m.calls, 0);
    assert_true(stored(&rec, old_key));
    assert_string_equal(rec.data, "a=3");
}

/* A request that asks for a new id for a session that another request ended meanwhile (a
 * logout): the new id is not kept, nothing is stored, the session stays ended. */
static void regenerate_ended(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why = NULL;
    skv_session_t *s;
    merge_t m = {0};

    s = load_ok(st, id, p);
    hook_delete(s->key);
    assert_int_equal(save(s, &why, st, "a=1&user=ann", "ann", 1, merge_cb, &m, p), APR_NOTFOUND);
    assert_non_null(strstr(why, "ended meanwhile"));
    assert_string_equal(s->id, id);
    assert_int_equal(entries(), 0);
    assert_int_equal(fake.calls[F_ADD], 1);
    assert_int_equal(fake.calls[F_DEL], 2);
    assert_int_equal(stats.regenerated + stats.writes, 0);
    assert_int_equal(stats.dropped, 1);
}

/* Without a TTL from the backend, the touch interval counts from the last write. */
static void touch_by_written(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0, "a=1", IDLE), *why = NULL;
    skv_session_t *s;
    fake_entry_t *e;

    fake.report_ttl = 0;
    /* not yet: less than the interval since the write */
    fake.now = T0 + TOUCH - 1;
    s = load_ok(st, id, p);
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_TOUCH], 0);
    assert_int_equal(stats.touches, 0);

    /* the interval has passed */
    fake.now = T0 + TOUCH;
    s = load_ok(st, id, p);
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_TOUCH], 1);
    assert_true(fake.ttl_of_last == IDLE);
    e = fake_find(s->key);
    assert_true(e->expires == fake.now + IDLE);
    assert_int_equal(stats.touches, 1);
    assert_int_equal(writes_seen(), 0);
    /* once is enough */
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_TOUCH], 1);
    /* the next request cannot know of that touch, and measures from the write again */
    fake.now += 1;
    s = load_ok(st, id, p);
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_TOUCH], 2);
    assert_int_equal(stats.touches, 2);
}

/* With a TTL from the backend, the interval counts from the last write or touch. */
static void touch_by_expires_in(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    /* written 10 minutes ago, touched 1 minute ago */
    const char *id = put_new(T0 - 20 * MINUTE, T0 - 10 * MINUTE, "a=1", IDLE - MINUTE);
    const char *why = NULL, *id2;
    skv_session_t *s;

    s = load_ok(st, id, p);
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_TOUCH], 0);

    /* touched 2 minutes ago */
    fake.now += MINUTE;
    s = load_ok(st, id, p);
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_TOUCH], 1);
    assert_true(fake_find(s->key)->expires == fake.now + IDLE);
    assert_true(s->expires_in == IDLE);

    /* written 3 minutes ago and never touched */
    id2 = put_new(T0, fake.now - 3 * MINUTE, "b=1", IDLE - 3 * MINUTE);
    s = load_ok(st, id2, p);
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_TOUCH], 2);
    assert_int_equal(stats.touches, 2);
    assert_int_equal(writes_seen(), 0);
}

static void touch_after_save_and_errors(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 20 * MINUTE, T0 - 10 * MINUTE, "a=1", IDLE), *why = NULL;
    skv_session_t *s, *fresh = session_new(p);
    merge_t m = {0};

    /* a session saved in this request needs no touch */
    s = load_ok(st, id, p);
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(save(fresh, &why, st, "b=1", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(skv_store_touch(fresh, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_TOUCH], 0);

    /* a later request: errors are returned and counted; a failed touch can be tried again */
    fake.now += TOUCH;
    s = load_ok(st, id, p);
    fake_fail(F_OPS, 1, 0, APR_TIMEUP);
    why = NULL;
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_TIMEUP);
    assert_non_null(why);
    assert_int_equal(stats.err_timeout, 1);
    assert_int_equal(stats.touches, 0);
    fake.now += RETRY; /* the timeout marked the server down for that long */
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_SUCCESS);
    assert_int_equal(stats.touches, 1);

    /* a session gone between the load and the touch */
    s = load_ok(st, fresh->id, p);
    hook_delete(s->key);
    assert_int_equal(skv_store_touch(s, &why, st, fake.now, p), APR_NOTFOUND);
    assert_int_equal(stats.touches, 1);
}

static void destroy(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE), *why = NULL;
    skv_session_t *s, *back = NULL;

    s = load_ok(st, id, p);
    assert_int_equal(skv_store_destroy(s, &why, st, p), APR_SUCCESS);
    assert_int_equal(entries(), 0);
    assert_int_equal(stats.deletes, 1);
    assert_int_equal(skv_store_load(&back, &why, st, id, fake.now, p), APR_NOTFOUND);
    /* already gone: fine, nothing counted */
    assert_int_equal(skv_store_destroy(s, &why, st, p), APR_SUCCESS);
    assert_int_equal(stats.deletes, 1);

    /* backend errors */
    id = put_new(T0 - 5 * MINUTE, T0 - MINUTE, "a=1", IDLE);
    s = load_ok(st, id, p);
    fake_fail(F_OPS, 1, 0, APR_ECONNREFUSED);
    why = NULL;
    assert_int_equal(skv_store_destroy(s, &why, st, p), APR_ECONNREFUSED);
    assert_non_null(why);
    assert_int_equal(stats.err_down, 1);
    assert_int_equal(stats.deletes, 1);
    assert_int_equal(entries(), 1);
}

static void ping(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *info = NULL;

    assert_int_equal(skv_store_ping(&info, st, p), APR_SUCCESS);
    assert_non_null(info);
    assert_non_null(strstr(info, "fake 1.0"));
    fake_fail(F_OPS, 1, 0, APR_TIMEUP);
    info = NULL;
    assert_int_equal(skv_store_ping(&info, st, p), APR_TIMEUP);
    assert_non_null(info);
    assert_non_null(strstr(info, "timed out"));
    assert_int_equal(stats.err_timeout, 1);
    assert_int_equal(stats.ops, 2);
}

/* --- servers that do not answer -------------------------------------------------------------- */

#define IO_TIMEOUT apr_time_from_msec(500) /* the backend's */

/* A stored session's id whose key lives on @p server (of two). */
static const char *put_on(int server)
{
    const char *id;

    do {
        id = put_new(T0, T0, "a=1", IDLE);
    } while (fake_server_of(skv_id_key(PREFIX, id, fake.pool)) != server);
    return id;
}

/* A server that hangs: its first timeout marks it down (once, logged), then loads and saves
 * fail at once, without reaching the driver, until the retry interval has passed; then one
 * operation tries it again, and the answer marks it up (logged). */
static void hung_server_fails_fast(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0, T0, "a=1", IDLE), *why = NULL;
    skv_session_t *s = NULL, *fresh = session_new(p);
    merge_t m = {0};

    fake.hung = 1;
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), APR_TIMEUP);
    assert_true(fake.now == T0 + IO_TIMEOUT);
    assert_int_equal(fake.calls[F_GET], 1);
    assert_int_equal(stats.err_timeout, 1);
    assert_int_equal(stats.marked_down, 1);
    assert_true(unit_logged("[4] LF01012: fake 127.0.0.1:1001 marked down, no answer in time "
                            "(get: fake: timed out (hung))"));
    assert_true(unit_logged("tries it again in 10s"));

    /* meanwhile: at once, nothing reaches the driver, nothing is logged */
    unit_log_clear();
    fake.now += RETRY - 1;
    why = NULL;
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), SKV_STORE_DOWN);
    assert_non_null(strstr(why, "get: fake 127.0.0.1:1001 is marked down"));
    assert_int_equal(save(fresh, &why, st, "b=1", "ann", 0, merge_cb, &m, p), SKV_STORE_DOWN);
    assert_null(fresh->id);
    assert_true(fake.now == T0 + IO_TIMEOUT + RETRY - 1);
    assert_int_equal(fake.calls[F_GET] + writes_seen() + fake.calls[F_DEL], 1);
    assert_int_equal(stats.err_marked, 2);
    assert_int_equal(stats.err_timeout + stats.err_down + stats.err_other, 1);
    assert_int_equal(stats.ops, 1); /* a failure at once is no backend operation */
    assert_int_equal(stats.marked_down, 1);
    assert_false(unit_logged("LF0101"));

    /* the interval has passed and the server answers: the next load tries it, and gets it */
    fake.hung = 0;
    fake.now += 1;
    s = load_ok(st, id, p);
    assert_int_equal(fake.calls[F_GET], 2);
    assert_true(unit_logged("[6] LF01013: fake 127.0.0.1:1001 back up: answered again after "
                            "10.0s marked down; 2 operations failed at once meanwhile"));
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(stats.err_marked, 2);
    assert_int_equal(stats.marked_down, 1);
}

/* While it keeps hanging, one operation per interval waits for it, the interval counted from
 * the end of the failed retry; the failed retries are logged at info. */
static void hung_server_retried_once_per_interval(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0, T0, "a=1", IDLE), *why = NULL;
    skv_session_t *s = NULL;
    apr_time_t failed;
    int i, timeouts = 0, refused = 0;

    fake.hung = 1;
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), APR_TIMEUP);
    failed = fake.now;
    /* a minute of requests, one every 100 ms */
    for (i = 0; i < 600; i++) {
        apr_status_t rv;

        fake.now += apr_time_from_msec(100);
        rv = skv_store_load(&s, &why, st, id, fake.now, p);
        if (rv == APR_TIMEUP) {
            /* a retry: due an interval after the last failure */
            assert_true(fake.now - IO_TIMEOUT - failed >= RETRY);
            failed = fake.now;
            ++timeouts;
        }
        else {
            assert_int_equal(rv, SKV_STORE_DOWN);
            ++refused;
        }
    }
    /* 63.5 seconds on the clock (60 of requests, 3.5 waiting for timeouts): after the first
     * timeout, one retry every 10.5 seconds (the interval, then the retry's own timeout) */
    assert_int_equal(timeouts, 6);
    assert_int_equal(fake.calls[F_GET], 7);
    assert_int_equal(refused, 600 - 6);
    assert_int_equal(stats.marked_down, 1);
    assert_int_equal(stats.err_timeout, 7);
    assert_int_equal(stats.err_marked, 600 - 6);
    assert_true(unit_logged("[6] LF01014: fake 127.0.0.1:1001 still down, no answer to a retry "
                            "(get: fake: timed out (hung)): tried again in 10s"));
}

/* A refused connection is fast anyway: the server is not marked down, the next operation goes
 * to it again. */
static void refused_is_not_marked_down(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0, T0, "a=1", IDLE), *why = NULL;
    skv_session_t *s = NULL;

    fake_fail(F_OPS, 1, 0, APR_ECONNREFUSED);
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), APR_ECONNREFUSED);
    load_ok(st, id, p);
    assert_int_equal(fake.calls[F_GET], 2);
    assert_int_equal(stats.marked_down + stats.err_marked, 0);
    assert_false(unit_logged("LF0101"));
}

/* Two servers (memcached): the one that hangs is marked down, the sessions of the other are
 * served as before. */
static void down_per_server(void **state)
{
    apr_pool_t *p = *state;
    skv_store_conf_t c = conf_default();
    skv_store_t *st = store_servers(&c, 2, p);
    const char *on0 = put_on(0), *on1 = put_on(1), *why = NULL;
    skv_session_t *s = NULL;
    merge_t m = {0};

    fake.hung = 2;
    assert_int_equal(skv_store_load(&s, &why, st, on1, fake.now, p), APR_TIMEUP);
    assert_true(unit_logged("LF01012: fake 127.0.0.1:1002 marked down"));
    assert_int_equal(skv_store_load(&s, &why, st, on1, fake.now, p), SKV_STORE_DOWN);
    s = load_ok(st, on0, p);
    assert_int_equal(save(s, &why, st, "a=2", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_GET], 2);
    assert_int_equal(stats.marked_down, 1);
    assert_int_equal(stats.err_marked, 1);
}

/* The down state in memory shared by two stores (two child processes): what one learned by a
 * timeout, the other knows without one, and only one of them tries the server again. */
static void shared_between_processes(void **state)
{
    apr_pool_t *p = *state;
    skv_store_conf_t c = conf_default();
    skv_breaker_t *shared = apr_pcalloc(p, sizeof(*shared));
    skv_store_t *child1, *child2 = NULL;
    skv_stats_t stats2;
    const char *id, *why = NULL;
    skv_session_t *s = NULL;

    c.breakers = shared;
    child1 = store_with(&c, p);
    memset(&stats2, 0, sizeof(stats2));
    assert_int_equal(skv_store_create(&child2, &c, &stats2, p), APR_SUCCESS);
    id = put_new(T0, T0, "a=1", IDLE);

    fake.hung = 1;
    assert_int_equal(skv_store_load(&s, &why, child1, id, fake.now, p), APR_TIMEUP);
    assert_int_equal(skv_store_load(&s, &why, child2, id, fake.now, p), SKV_STORE_DOWN);
    assert_int_equal(fake.calls[F_GET], 1);
    assert_int_equal(stats2.err_marked, 1);

    /* due: child2 retries (and, the server still hanging, fails); child1 is refused meanwhile */
    fake.now += RETRY;
    assert_int_equal(skv_store_load(&s, &why, child2, id, fake.now, p), APR_TIMEUP);
    assert_int_equal(skv_store_load(&s, &why, child1, id, fake.now, p), SKV_STORE_DOWN);
    assert_int_equal(fake.calls[F_GET], 2);

    /* back: whichever child asks first after the interval marks it up for both */
    fake.hung = 0;
    fake.now += RETRY;
    load_ok(child1, id, p);
    load_ok(child2, id, p);
    assert_int_equal(fake.calls[F_GET], 4);
    assert_false(skv_breaker_is_down(shared));
}

/* The health check's ping always asks the server, and does not change its state. */
static void ping_while_down(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0, T0, "a=1", IDLE), *why = NULL, *info = NULL;
    skv_session_t *s = NULL;

    fake.hung = 1;
    assert_int_equal(skv_store_ping(&info, st, p), APR_TIMEUP);
    assert_int_equal(stats.marked_down, 0);
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), APR_TIMEUP);
    assert_int_equal(stats.marked_down, 1);
    assert_int_equal(skv_store_ping(&info, st, p), APR_TIMEUP);
    fake.hung = 0;
    assert_int_equal(skv_store_ping(&info, st, p), APR_SUCCESS);
    assert_int_equal(fake.calls[F_PING], 3);
    assert_int_equal(skv_store_load(&s, &why, st, id, fake.now, p), SKV_STORE_DOWN);
}

static void counters(void **state)
{
    apr_pool_t *p = *state;
    skv_store_t *st = store(p);
    const char *id = put_new(T0, T0, "a=1", IDLE), *why;
    skv_session_t *s;
    int i;

    skv_store_count_rejected(st);
    skv_store_count_rejected(st);
    assert_int_equal(stats.rejected, 2);
    assert_int_equal(stats.ops, 0);
    for (i = 0; i < 5; ++i) {
        s = load_ok(st, id, p);
    }
    assert_int_equal(skv_store_destroy(s, &why, st, p), APR_SUCCESS);
    assert_int_equal(stats.loads, 5);
    assert_int_equal(stats.hits, 5);
    assert_int_equal(stats.deletes, 1);
    assert_int_equal(stats.ops, 6);
    assert_true(stats.op_max_usec <= stats.op_usec);
    /* connections are reused, at most max_conns of them */
    assert_true(fake.calls[F_OPEN] >= 1 && fake.calls[F_OPEN] <= 2);
}

static void encrypted(void **state)
{
    apr_pool_t *p = *state;
    skv_store_conf_t c = conf_default();
    skv_keyring_t *kr = NULL;
    skv_store_t *st;
    skv_session_t *s = session_new(p), *back = NULL;
    const char *why = NULL, *id;
    fake_entry_t *e;
    merge_t m = {0};

    assert_int_equal(skv_keyring_parse(&kr, &why, KEY_HEX, p), APR_SUCCESS);
    c.keys = kr;
    st = store_with(&c, p);
    assert_int_equal(save(s, &why, st, "secret=42", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    e = fake_find(s->key);
    assert_int_equal(e->data[3], 1); /* flags: encrypted */
    back = load_ok(st, s->id, p);
    assert_string_equal(back->rec.data, "secret=42");
    assert_string_equal(back->rec.user, "ann");

    /* copied under another session's key: refused */
    assert_int_equal(skv_id_generate(&id, p), APR_SUCCESS);
    fake_put(skv_id_key(PREFIX, id, p), e->data, e->len, IDLE);
    back = NULL;
    assert_int_equal(skv_store_load(&back, &why, st, id, fake.now, p), APR_EINVAL);
    assert_null(back);
    assert_int_equal(stats.err_other, 1);

    /* a conflict and a merge, encrypted */
    s = load_ok(st, s->id, p);
    fake.hook = hook_rewrite;
    fake.hook_times = 1;
    assert_int_equal(save(s, &why, st, "secret=43", "ann", 0, merge_cb, &m, p), APR_SUCCESS);
    assert_int_equal(m.calls, 1);
    assert_string_equal(m.seen.data, "other=1");
    back = load_ok(st, s->id, p);
    assert_string_equal(back->rec.data, "other=1&mine=1");
}

/* Several requests of one user at once, each adding its own key to the session with
 * compare-and-set and merging: no change is lost, and the counters add up. */
#define THREADS 8
#define ROUNDS  100

typedef struct worker_t {
    skv_store_t *st;
    const char *id;
    int n;
    int saved;
    apr_status_t failed;
} worker_t;

/* The merge of the threaded test: the current text and this request's key (which the text it
 * saved ends with). */
static apr_status_t merge_append(const char **data, apr_size_t *len, const skv_record_t *current,
                                 void *baton, apr_pool_t *p)
{
    const char *mine = baton;

    *data = apr_pstrcat(p, current->data, mine, NULL);
    *len = strlen(*data);
    return APR_SUCCESS;
}

static void *worker_append(void *arg)
{
    worker_t *w = arg;
    apr_pool_t *p;
    int i;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        w->failed = APR_ENOMEM;
        return NULL;
    }
    for (i = 0; i < ROUNDS && !w->failed; ++i) {
        skv_session_t *s = NULL;
        const char *why = NULL, *mine = apr_psprintf(p, "&t%d_%d", w->n, i), *data;
        apr_status_t rv;

        rv = skv_store_load(&s, &why, w->st, w->id, fake.now, p);
        if (rv == APR_SUCCESS) {
            data = apr_pstrcat(p, s->rec.data, mine, NULL);
            rv = skv_store_save(s, &why, w->st, data, strlen(data), "ann", 0, merge_append,
                                (void *)mine, fake.now, p);
            if (rv == APR_SUCCESS) {
                ++w->saved;
            }
        }
        if (rv != APR_SUCCESS) {
            w->failed = rv;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return NULL;
}

static void threads_no_lost_update(void **state)
{
    apr_pool_t *p = *state;
    skv_store_conf_t c = conf_default();
    skv_store_t *st;
    pthread_t th[THREADS];
    worker_t w[THREADS];
    skv_record_t rec;
    const char *id;
    int i, r, saved = 0;

    c.max_attempts = 1000;
    c.max_size = 64 * 1024;
    st = store_with(&c, p);
    id = put_new(T0, T0, "start=1", IDLE);
    for (i = 0; i < THREADS; ++i) {
        w[i].st = st;
        w[i].id = id;
        w[i].n = i;
        w[i].saved = 0;
        w[i].failed = APR_SUCCESS;
        assert_int_equal(pthread_create(&th[i], NULL, worker_append, &w[i]), 0);
    }
    for (i = 0; i < THREADS; ++i) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failed, APR_SUCCESS);
        saved += w[i].saved;
    }
    assert_int_equal(saved, THREADS * ROUNDS);
    assert_true(stored(&rec, skv_id_key(PREFIX, id, p)));
    for (i = 0; i < THREADS; ++i) {
        for (r = 0; r < ROUNDS; ++r) {
            const char *mine = apr_psprintf(p, "&t%d_%d&", i, r);
            if (!strstr(apr_pstrcat(p, rec.data, "&", NULL), mine)) {
                fail_msg("lost %s", mine);
            }
        }
    }
    assert_int_equal(stats.writes, THREADS * ROUNDS);
    assert_int_equal(stats.loads, THREADS * ROUNDS);
    assert_int_equal(stats.hits, THREADS * ROUNDS);
    assert_int_equal(stats.merges, stats.conflicts);
    /* at most max_conns connections */
    assert_true(fake.calls[F_OPEN] >= 1 && fake.calls[F_OPEN] <= c.max_conns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(new_session_gets_id_on_save),
        UNIT_TEST(load_hit_and_miss),
        UNIT_TEST(load_expired_idle_by_written),
        UNIT_TEST(load_expired_idle_by_expires_in),
        UNIT_TEST(load_expired_absolute),
        UNIT_TEST(load_times_impossible),
        UNIT_TEST(load_bad_envelope),
        UNIT_TEST(load_backend_errors),
        UNIT_TEST(save_unchanged_cas),
        UNIT_TEST(save_conflict_merges),
        UNIT_TEST(save_conflict_retries),
        UNIT_TEST(save_ended_meanwhile),
        UNIT_TEST(save_last_write_wins_ended),
        UNIT_TEST(save_last_write_wins),
        UNIT_TEST(save_oversize),
        UNIT_TEST(save_merge_oversize),
        UNIT_TEST(save_merge_error),
        UNIT_TEST(save_conflict_bad_envelope),
        UNIT_TEST(save_backend_errors),
        UNIT_TEST(regenerate),
        UNIT_TEST(regenerate_fails),
        UNIT_TEST(regenerate_ended),
        UNIT_TEST(touch_by_written),
        UNIT_TEST(touch_by_expires_in),
        UNIT_TEST(touch_after_save_and_errors),
        UNIT_TEST(destroy),
        UNIT_TEST(ping),
        UNIT_TEST(hung_server_fails_fast),
        UNIT_TEST(hung_server_retried_once_per_interval),
        UNIT_TEST(refused_is_not_marked_down),
        UNIT_TEST(down_per_server),
        UNIT_TEST(shared_between_processes),
        UNIT_TEST(ping_while_down),
        UNIT_TEST(counters),
        UNIT_TEST(encrypted),
        UNIT_TEST(threads_no_lost_update),
    };
    return UNIT_RUN("skv_store", tests);
}
