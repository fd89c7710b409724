/* Unit tests of modules/session_kv/skv_backend.c: backend URLs, their defaults, every error,
 * and that a password shows in neither the display form nor an error. */
#include "unit.h"

#include "skv_backend.h"
#include "skv_mysql.h"

/* The password of the URLs below: it must never come back in a text. */
#define PW         "s3cr%40t-pw"
#define PW_DECODED "s3cr@t-pw"

/* The backend of @p url, or fail the test with the reason. */
static skv_backend_t *url_ok(const char *url, apr_pool_t *p)
{
    skv_backend_t *be = NULL;
    const char *why = NULL;

    if (skv_backend_parse(&be, &why, url, p) != APR_SUCCESS) {
        fail_msg("rejected \"%s\": %s", url, why ? why : "(no reason)");
    }
    assert_non_null(be);
    assert_null(strstr(be->display, "s3cr"));
    return be;
}

/* The reason @p url is rejected (the test fails if it is not). */
static const char *url_bad(const char *url, apr_pool_t *p)
{
    skv_backend_t *be = NULL;
    const char *why = NULL;

    if (skv_backend_parse(&be, &why, url, p) != APR_EINVAL) {
        fail_msg("accepted \"%s\"", url);
    }
    assert_null(be);
    assert_non_null(why);
    assert_null(strstr(why, "s3cr"));
    return why;
}

static const skv_server_t *server(const skv_backend_t *be, int i)
{
    assert_true(i < be->servers->nelts);
    return &APR_ARRAY_IDX(be->servers, i, skv_server_t);
}

static void memcached_urls(void **state)
{
    apr_pool_t *p = *state;
    skv_backend_t *be;

    be = url_ok("memcached://cache1:11311", p);
    assert_int_equal(be->type, SKV_BACKEND_MEMCACHED);
    assert_int_equal(be->servers->nelts, 1);
    assert_string_equal(server(be, 0)->host, "cache1");
    assert_int_equal(server(be, 0)->port, 11311);
    assert_string_equal(be->display, "memcached://cache1:11311");
    assert_ptr_equal(skv_backend_driver(be), &skv_driver_memcached);
    assert_null(be->user);
    assert_null(be->password);
    assert_int_equal(be->db, 0);

    /* default port, several servers, IPv6, scheme in any case, a trailing slash */
    be = url_ok("MemCached://a,10.0.0.2:11212,[::1]:11213,[fe80::1],b.example.com/", p);
    assert_int_equal(be->servers->nelts, 5);
    assert_string_equal(server(be, 0)->host, "a");
    assert_int_equal(server(be, 0)->port, 11211);
    assert_string_equal(server(be, 1)->host, "10.0.0.2");
    assert_int_equal(server(be, 1)->port, 11212);
    assert_string_equal(server(be, 2)->host, "::1");
    assert_int_equal(server(be, 2)->port, 11213);
    assert_string_equal(server(be, 3)->host, "fe80::1");
    assert_int_equal(server(be, 3)->port, 11211);
    assert_string_equal(server(be, 4)->host, "b.example.com");
    assert_int_equal(server(be, 4)->port, 11211);
    assert_int_equal(server(be, 4)->port, SKV_BACKEND_MEMCACHED_PORT);
    be = url_ok("memcached://h:1,h:65535", p);
    assert_int_equal(server(be, 0)->port, 1);
    assert_int_equal(server(be, 1)->port, 65535);
}

static void redis_urls(void **state)
{
    apr_pool_t *p = *state;
    skv_backend_t *be;

    be = url_ok("redis://localhost", p);
    assert_int_equal(be->type, SKV_BACKEND_REDIS);
    assert_ptr_equal(skv_backend_driver(be), &skv_driver_redis);
    assert_int_equal(be->servers->nelts, 1);
    assert_string_equal(server(be, 0)->host, "localhost");
    assert_int_equal(server(be, 0)->port, 6379);
    assert_int_equal(be->db, 0);
    assert_null(be->user);
    assert_null(be->password);
    assert_string_equal(be->display, "redis://localhost");

    be = url_ok("redis://r.example.com:6380/3", p);
    assert_string_equal(server(be, 0)->host, "r.example.com");
    assert_int_equal(server(be, 0)->port, 6380);
    assert_int_equal(be->db, 3);
    be = url_ok("REDIS://[::1]:7000/15", p);
    assert_string_equal(server(be, 0)->host, "::1");
    assert_int_equal(server(be, 0)->port, 7000);
    assert_int_equal(be->db, 15);
    be = url_ok("redis://[2001:db8::5]", p);
    assert_string_equal(server(be, 0)->host, "2001:db8::5");
    assert_int_equal(server(be, 0)->port, 6379);
    be = url_ok("redis://h/", p);
    assert_int_equal(be->db, 0);
    be = url_ok("redis://h/0", p);
    assert_int_equal(be->db, 0);
    assert_false(be->tls);

    /* the same over TLS; the port stays redis's (ElastiCache serves TLS on 6379) */
    be = url_ok("rediss://master.sessions.abc123.use1.cache.amazonaws.com", p);
    assert_int_equal(be->type, SKV_BACKEND_REDIS);
    assert_true(be->tls);
    assert_null(be->tls_config); /* the caller's: lf_tls_create() */
    assert_int_equal(server(be, 0)->port, 6379);
    assert_string_equal(be->display, "rediss://master.sessions.abc123.use1.cache.amazonaws.com");
    be = url_ok("RediSS://app:" PW "@[::1]:6380/4", p);
    assert_true(be->tls);
    assert_string_equal(be->user, "app");
    assert_string_equal(be->display, "rediss://app:***@[::1]:6380/4");
    assert_int_equal(be->db, 4);
    be = url_ok("rediss://app@cache", p);
    assert_string_equal(be->display, "rediss://***@cache");
}

/* memcacheds://: one server over TLS (ElastiCache Serverless), the meta-protocol driver */
static void memcacheds_urls(void **state)
{
    apr_pool_t *p = *state;
    skv_backend_t *be;

    be = url_ok("memcacheds://sessions-abc123.serverless.use1.cache.amazonaws.com", p);
    assert_int_equal(be->type, SKV_BACKEND_MEMCACHED);
    assert_true(be->tls);
    assert_null(be->tls_config); /* the caller's: lf_tls_create() */
    assert_int_equal(be->servers->nelts, 1);
    assert_int_equal(server(be, 0)->port, 11211);
    assert_string_equal(be->display,
                        "memcacheds://sessions-abc123.serverless.use1.cache.amazonaws.com");
    assert_ptr_equal(skv_backend_driver(be), &skv_driver_memcached_meta);
    be = url_ok("MemcacheDS://[::1]:11311/", p);
    assert_string_equal(server(be, 0)->host, "::1");
    assert_int_equal(server(be, 0)->port, 11311);
    /* plain memcached:// keeps libmemcached */
    be = url_ok("memcached://h", p);
    assert_false(be->tls);
    assert_ptr_equal(skv_backend_driver(be), &skv_driver_memcached);

    assert_string_equal(url_bad("memcacheds://a,b", p), "memcacheds takes one server");
    assert_string_equal(url_bad("memcacheds://", p), "no server (memcacheds://host[:port])");
    assert_string_equal(url_bad("memcacheds://u:" PW "@h", p),
                        "memcacheds takes no user or password");
    assert_string_equal(url_bad("memcacheds://h/x", p), "memcacheds takes no path");
    assert_string_equal(url_bad("memcacheds://h:0", p), "bad port in 'h:0'");
}

static void redis_auth(void **state)
{
    apr_pool_t *p = *state;
    skv_backend_t *be;

    /* a password alone */
    be = url_ok("redis://:" PW "@cache:6379/2", p);
    assert_null(be->user);
    assert_string_equal(be->password, PW_DECODED);
    assert_string_equal(be->display, "redis://:***@cache:6379/2");
    assert_string_equal(server(be, 0)->host, "cache");
    assert_int_equal(be->db, 2);

    /* an ACL user, percent-decoded */
    be = url_ok("redis://app%2Dsession:" PW "@cache", p);
    assert_string_equal(be->user, "app-session");
    assert_string_equal(be->password, PW_DECODED);
    assert_string_equal(be->display, "redis://app%2Dsession:***@cache");

    /* '@', ':' and '/' unescaped in the password: the user information ends at the last '@' */
    be = url_ok("redis://u:a:b@c/d@e:6390/1", p);
    assert_string_equal(be->user, "u");
    assert_string_equal(be->password, "a:b@c/d");
    assert_string_equal(server(be, 0)->host, "e");
    assert_int_equal(server(be, 0)->port, 6390);
    assert_int_equal(be->db, 1);
    assert_string_equal(be->display, "redis://u:***@e:6390/1");

    /* every byte but NUL can be escaped; '+' is a plus */
    be = url_ok("redis://:%e2%82%AC+%25@h", p);
    assert_string_equal(be->password, "\xe2\x82\xac+%");
}

static void defaults(void **state)
{
    apr_pool_t *p = *state;
    skv_backend_t *be = url_ok("redis://h", p);

    assert_int_equal(be->connect_timeout, 200 * 1000);
    assert_int_equal(be->io_timeout, 500 * 1000);
    assert_int_equal(be->retry_interval, 10 * 1000 * 1000);
    be = url_ok("memcached://h", p);
    assert_int_equal(be->connect_timeout, SKV_BACKEND_CONNECT_TIMEOUT);
    assert_int_equal(be->io_timeout, SKV_BACKEND_IO_TIMEOUT);
    assert_int_equal(be->retry_interval, SKV_BACKEND_RETRY_INTERVAL);
}

static void bad_scheme(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(url_bad("http://h", p),
                        "unknown scheme 'http' (use memcached://, memcacheds://, redis://, "
                        "rediss://, mysql:// or mysqls://)");
    assert_string_equal(url_bad("rediss://h:6379,h2", p), "redis takes one server");
    assert_string_equal(url_bad("memcache://h", p),
                        "unknown scheme 'memcache' (use memcached://, memcacheds://, redis://, "
                        "rediss://, mysql:// or mysqls://)");
    assert_string_equal(url_bad("h:11211", p),
                        "not a URL (use memcached://host:port or redis://host:port)");
    assert_string_equal(url_bad("", p),
                        "not a URL (use memcached://host:port or redis://host:port)");
    assert_string_equal(url_bad("://h", p),
                        "not a URL (use memcached://host:port or redis://host:port)");
    assert_string_equal(url_bad(NULL, p),
                        "not a URL (use memcached://host:port or redis://host:port)");
    /* a "scheme" that is not one is not quoted: it could be anything */
    assert_string_equal(url_bad("u:" PW "@h://x", p),
                        "not a URL (use memcached://host:port or redis://host:port)");
    assert_string_equal(url_bad("averyveryverylongscheme://h", p),
                        "not a URL (use memcached://host:port or redis://host:port)");
}

static void bad_servers(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(url_bad("memcached://", p),
                        "no server (memcached://host:port[,host:port...])");
    assert_string_equal(url_bad("memcached:///", p),
                        "no server (memcached://host:port[,host:port...])");
    assert_string_equal(url_bad("memcached://a,,b", p), "empty server in the list");
    assert_string_equal(url_bad("memcached://a,", p), "empty server in the list");
    assert_string_equal(url_bad("memcached://,a", p), "empty server in the list");
    assert_string_equal(url_bad("memcached://a:0", p), "bad port in 'a:0'");
    assert_string_equal(url_bad("memcached://a:65536", p), "bad port in 'a:65536'");
    assert_string_equal(url_bad("memcached://a:-1", p), "bad port in 'a:-1'");
    assert_string_equal(url_bad("memcached://a:x1", p), "bad port in 'a:x1'");
    assert_string_equal(url_bad("memcached://b,a:", p), "bad port in 'a:'");
    assert_string_equal(url_bad("memcached://:11211", p), "no host in ':11211'");
    assert_string_equal(url_bad("memcached://a b:1", p), "bad host name in 'a b:1'");
    assert_string_equal(url_bad("memcached://::1", p), "IPv6 addresses go in brackets: '[::1]'");
    assert_string_equal(url_bad("memcached://[::1:11211", p), "unclosed '[' in '[::1:11211'");
    assert_string_equal(url_bad("memcached://[]:1", p), "bad IPv6 address in '[]:1'");
    assert_string_equal(url_bad("memcached://[h]:1", p), "bad IPv6 address in '[h]:1'");
    assert_string_equal(url_bad("memcached://[::1]x", p), "bad server '[::1]x'");
    assert_string_equal(url_bad("memcached://[::1]:", p), "bad port in '[::1]:'");
    assert_string_equal(url_bad("memcached://u:" PW "@h", p),
                        "memcached takes no user or password");
    assert_string_equal(url_bad("memcached://h/1", p), "memcached takes no path");
    assert_string_equal(url_bad("memcached://h?x=1", p),
                        "no query (?...) or fragment (#...) in a backend URL");
    assert_string_equal(url_bad("redis://", p), "no host");
    assert_string_equal(url_bad("redis:///3", p), "no host");
    assert_string_equal(url_bad("redis://:" PW "@", p), "no host");
    assert_string_equal(url_bad("redis://a,b", p), "redis takes one server");
    assert_string_equal(url_bad("redis://:" PW "@a:1,b:2/0", p), "redis takes one server");
    assert_string_equal(url_bad("redis://h:99999", p), "bad port in 'h:99999'");
    assert_string_equal(url_bad("redis://:" PW "@h:port", p), "bad port in 'h:port'");
    assert_string_equal(url_bad("redis://h/16", p), "db must be 0-15");
    assert_string_equal(url_bad("redis://h/-1", p), "db must be 0-15");
    assert_string_equal(url_bad("redis://h/x", p), "db must be 0-15");
    assert_string_equal(url_bad("redis://h/1/2", p), "db must be 0-15");
    assert_string_equal(url_bad("redis://:" PW "@h/0?timeout=1", p),
                        "no query (?...) or fragment (#...) in a backend URL");
}

static void bad_auth(void **state)
{
    apr_pool_t *p = *state;
    skv_backend_t *be;
    const char *why = NULL;

    /* a user alone (its password from SessionKVPassword); what stands there may be a password
     * written without its ':', so the display hides it */
    assert_int_equal(skv_backend_parse(&be, &why, "redis://" PW "@h:7000/2", p), APR_SUCCESS);
    assert_non_null(be->user);
    assert_null(be->password);
    assert_string_equal(be->display, "redis://***@h:7000/2");
    assert_string_equal(url_bad("redis://@h", p), "nothing before '@'");
    assert_string_equal(url_bad("redis://" PW "%2@h", p), "bad percent escape in the user");
    assert_string_equal(url_bad("redis://" PW "%00@h", p), "bad percent escape in the user");
    assert_string_equal(url_bad("redis://u:@h", p), "empty password");
    assert_string_equal(url_bad("redis://:@h", p), "empty password");
    assert_string_equal(url_bad("redis://u:" PW "%2@h", p),
                        "bad percent escape in the user or password");
    assert_string_equal(url_bad("redis://u:" PW "%zz@h", p),
                        "bad percent escape in the user or password");
    assert_string_equal(url_bad("redis://u%:" PW "@h", p),
                        "bad percent escape in the user or password");
    assert_string_equal(url_bad("redis://u:" PW "%00@h", p),
                        "bad percent escape in the user or password");
}

/* mysql:// and mysqls://: a user, one server, a database and a table */
static void mysql_urls(void **state)
{
    apr_pool_t *p = *state;
    skv_backend_t *be;

    be = url_ok("mysql://sessions@db.abc123.us-east-1.rds.amazonaws.com/app", p);
    assert_int_equal(be->type, SKV_BACKEND_MYSQL);
    assert_ptr_equal(skv_backend_driver(be), &skv_driver_mysql);
    assert_false(be->tls);
    assert_int_equal(be->servers->nelts, 1);
    assert_string_equal(server(be, 0)->host, "db.abc123.us-east-1.rds.amazonaws.com");
    assert_int_equal(server(be, 0)->port, 3306);
    assert_string_equal(be->user, "sessions");
    assert_null(be->password);
    assert_string_equal(be->database, "app");
    assert_string_equal(be->table, "session_kv");
    assert_string_equal(be->display, "mysql://sessions@db.abc123.us-east-1.rds.amazonaws.com/app");
    /* the password is percent-decoded and hidden; a table of its own */
    be = url_ok("MySQLs://web%40app:" PW "@[::1]:3307/shop_db/web_sessions", p);
    assert_true(be->tls);
    assert_string_equal(be->user, "web@app");
    assert_string_equal(be->password, PW_DECODED);
    assert_string_equal(server(be, 0)->host, "::1");
    assert_int_equal(server(be, 0)->port, 3307);
    assert_string_equal(be->database, "shop_db");
    assert_string_equal(be->table, "web_sessions");
    assert_string_equal(be->display, "mysqls://web%40app:***@[::1]:3307/shop_db/web_sessions");
    /* an unescaped '@' or '/' in the password: the user information ends at the last '@' */
    be = url_ok("mysql://u:s3cr/@t@h/d", p);
    assert_string_equal(be->password, "s3cr/@t");
    assert_string_equal(be->display, "mysql://u:***@h/d");
}

static void mysql_bad(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(url_bad("mysql://h/d", p), "no user (mysql://user@host/database)");
    assert_string_equal(url_bad("mysql://@h/d", p), "no user (mysql://user@host/database)");
    assert_string_equal(url_bad("mysql://:" PW "@h/d", p), "no user (mysql://user@host/database)");
    assert_string_equal(url_bad("mysql://u:@h/d", p), "empty password");
    assert_string_equal(url_bad("mysql://u:" PW "%2@h/d", p),
                        "bad percent escape in the user or password");
    assert_string_equal(url_bad("mysql://u:" PW "@h", p),
                        "no database (mysql://user@host/database)");
    assert_string_equal(url_bad("mysql://u:" PW "@h/", p),
                        "no database (mysql://user@host/database)");
    assert_string_equal(url_bad("mysql://u:" PW "@h//t", p),
                        "no database (mysql://user@host/database)");
    assert_string_equal(url_bad("mysql://u@h/d/t;DROP", p),
                        "database and table names are letters, digits, '_' and '$' (at most 64)");
    assert_string_equal(url_bad("mysql://u@h/d`x", p),
                        "database and table names are letters, digits, '_' and '$' (at most 64)");
    assert_string_equal(url_bad("mysql://u@h/d/", p),
                        "database and table names are letters, digits, '_' and '$' (at most 64)");
    assert_string_equal(url_bad("mysql://u@h/d/t/x", p),
                        "database and table names are letters, digits, '_' and '$' (at most 64)");
    assert_string_equal(url_bad("mysql://u@h/d/"
                                "t234567890123456789012345678901234567890123456789012345678901234"
                                "5",
                                p),
                        "database and table names are letters, digits, '_' and '$' (at most 64)");
    assert_string_equal(url_bad("mysql://u:" PW "@h:0/d", p), "bad port in 'h:0'");
    assert_string_equal(url_bad("mysql://u:" PW "@a,b/d", p), "mysql takes one server");
    assert_string_equal(url_bad("mysqls://u:" PW "@h/d?ssl=1", p),
                        "no query (?...) or fragment (#...) in a backend URL");
}

/* The statements name the URL's table, and the sweep deletes in batches. */
static void mysql_statements(void **state)
{
    apr_pool_t *p = *state;
    int i;

    for (i = 0; i < SKV_SQL_COUNT; i++) {
        const char *sql = skv_mysql_sql((skv_mysql_sql_e)i, "web_sessions", p);

        assert_non_null(sql);
        assert_non_null(strstr(sql, "`web_sessions`"));
    }
    assert_non_null(strstr(skv_mysql_sql(SKV_SQL_SWEEP_SCAN, "t", p), "LIMIT 500"));
    assert_non_null(strstr(skv_mysql_sql(SKV_SQL_SWEEP, "t", p), "k > ? AND k <= ?"));
    assert_non_null(strstr(skv_mysql_sql(SKV_SQL_CAS, "t", p), "AND version = ?"));
    assert_null(skv_mysql_sql(SKV_SQL_COUNT, "t", p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(memcached_urls), UNIT_TEST(redis_urls),       UNIT_TEST(redis_auth),
        UNIT_TEST(defaults),       UNIT_TEST(bad_scheme),       UNIT_TEST(bad_servers),
        UNIT_TEST(bad_auth),       UNIT_TEST(memcacheds_urls),  UNIT_TEST(mysql_urls),
        UNIT_TEST(mysql_bad),      UNIT_TEST(mysql_statements),
    };

    return UNIT_RUN("skv_backend", tests);
}
