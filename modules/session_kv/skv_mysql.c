/* skv_mysql — the driver of mysql:// and mysqls:// (see skv_mysql.h): every operation of
 * skv_driver.h is one prepared statement on the sessions' table.
 *
 *   get      SELECT v, version, expires - now WHERE k = ? AND expires > now
 *   add      INSERT ... ON DUPLICATE KEY UPDATE that changes the row only when it has expired:
 *            0 rows affected = a live row has the key (APR_EEXIST)
 *   cas      UPDATE ... SET version = version + 1 WHERE k = ? AND version = ? AND expires > now;
 *            0 rows: the row changed (APR_EEXIST) or is gone (APR_NOTFOUND), which one a SELECT
 *            of the key tells
 *   replace  the same without the version; touch: only expires; del: DELETE by key
 *   ping     SELECT VERSION()
 * Times are the database's (milliseconds since 1970 in UTC; each connection sets its time zone
 * to UTC), so the nodes of a farm agree on expiry whatever their clocks say. skv_store's own
 * idle and absolute timeouts apply on top, as with every driver.
 *
 * Expired rows: a row no statement sees any more is deleted by refresh(), which mod_session_kv's
 * per-child refresher thread calls every SessionKVDiscoveryInterval. The table has no index on
 * expires (every write moves expires: such an index cost the database more per write than the
 * sweep saves), so the sweep walks the primary key in ranges of 500 keys: the end of the next
 * range (SELECT MAX(k) of the next 500 keys after where the walk stands, a plain read that locks
 * nothing), then DELETE ... WHERE k > start AND k <= end AND expires < now, a scan of those 500
 * rows. At most SWEEP_SCANS ranges a call, of which SWEEP_BATCHES that deleted rows, each
 * followed by a short pause; the next call goes on where this one stopped, and the walk starts
 * over at the table's first key once past its last. On a connection of its own that is closed
 * after the sweep. One process sweeps a table at a time, farm-wide: the one that gets
 * GET_LOCK('skv_sweep:<db>.<table>') (the others skip their turn: concurrent range deletes would
 * deadlock each other). Each range is its own short transaction (autocommit), so a sweep never
 * holds more than 500 row locks nor locks for long; a range that meets a request's row lock (a
 * deadlock, a lock wait timeout) ends the sweep until the next interval.
 *
 * Why MariaDB Connector/C (libmariadb) and not APR-util's apr_dbd with its mysql driver, which
 * httpd's mod_session_dbd uses: apr_dbd_mysql (APR-util 1.6.3, dbd/apr_dbd_mysql.c,
 * dbd_mysql_open()) passes to mysql_real_connect() only the host, user, pass, dbname, port,
 * sock, the flag CLIENT_FOUND_ROWS, fldsz, group and reconnect parameters, so
 *   - it cannot turn on TLS, name a CA file or verify the server's certificate
 *     (MYSQL_OPT_SSL_CA, MYSQL_OPT_SSL_VERIFY_SERVER_CERT): only an option group ("group=")
 *     read from the option files of /etc, /etc/mysql or $MARIADB_HOME could, files outside
 *     httpd's configuration, found through a variable read once when the library first starts
 *     in the process, and when one is not found TLS is silently off;
 *   - it cannot set the read and write timeouts (MYSQL_OPT_READ_TIMEOUT, _WRITE_TIMEOUT), not
 *     even through an option file (Connector/C 3.3 has no key for them), and the client fixes
 *     a socket's timeouts when it connects: a database that stops answering would hold a worker
 *     for as long as TCP retransmits (minutes), and the store's breaker would never see a
 *     timeout;
 *   - it splits its parameter string at ' ', ',', ';' and '|', characters an RDS password may
 *     hold.
 * So this driver speaks to Connector/C, the library under apr_dbd_mysql (libmariadb), directly,
 * with the same prepared-statement protocol.
 *
 * Connections: one MYSQL handle per skv_conn_t, made at the first operation (open() does no
 * I/O), its statements prepared when first used. A client error (the connection broke, timed
 * out, or the server went away) or a server that says it cannot take writes now (read-only
 * during a failover) drops the handle, and the next operation connects afresh, to whatever the
 * host name points to then. Timeouts are whole seconds in Connector/C: the configured ones are
 * rounded up.
 * Pure core: APR, MariaDB Connector/C; no httpd.
 */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "skv_driver.h"
#include "skv_mysql.h"

/* The time of the database, in milliseconds since 1970 (the connection's time zone is UTC). */
#define NOW_MS "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)"

/* Ranges of one sweep: in all, and that deleted rows; the pause after one that deleted rows
 * (microseconds). */
#define SWEEP_SCANS   200
#define SWEEP_BATCHES 20
#define SWEEP_PAUSE   (50 * 1000)

struct skv_conn_t {
    const skv_backend_t *be;
    const skv_server_t *server;
    MYSQL *db;                       /* NULL = not connected */
    MYSQL_STMT *stmt[SKV_SQL_COUNT]; /* prepared on first use; NULL = not yet */
    const char *sql[SKV_SQL_COUNT];  /* their text */
    unsigned int errnum;             /* of the last error */
    int gone;                        /* the last error said the server closed the
                                        connection (not a timeout) */
    char err[512];
};

/* One sweeper per store and process: the connection of refresh() (the refresher thread's). */
typedef struct my_shared_t {
    const skv_backend_t *be;
    skv_conn_t *conn;
    apr_pool_t *pool;
    char walk[256]; /* the last key of the last range swept ("" = before the first) */
    unsigned long walk_len;
} my_shared_t;

const char *skv_mysql_sql(skv_mysql_sql_e which, const char *table, apr_pool_t *p)
{
    switch (which) {
    case SKV_SQL_GET:
        return apr_psprintf(p,
                            "SELECT v, version, expires - " NOW_MS " FROM `%s` WHERE k = ? AND "
                            "expires > " NOW_MS,
                            table);
    case SKV_SQL_EXISTS:
        return apr_psprintf(p, "SELECT version FROM `%s` WHERE k = ? AND expires > " NOW_MS, table);
    case SKV_SQL_ADD:
        /* an expired row of the same key is replaced (it may not be swept yet); a live one is
         * left as it is, which the server reports as 0 rows affected. The assignments run in
         * order and each reads the row's old expires: expires is assigned last. */
        return apr_psprintf(p,
                            "INSERT INTO `%s` (v, expires, k, version) VALUES (?, " NOW_MS
                            " + ?, ?, 1) ON DUPLICATE KEY UPDATE "
                            "v = IF(expires <= " NOW_MS ", VALUES(v), v), "
                            "version = IF(expires <= " NOW_MS ", version + 1, version), "
                            "expires = IF(expires <= " NOW_MS ", VALUES(expires), expires)",
                            table);
    case SKV_SQL_CAS:
        return apr_psprintf(p,
                            "UPDATE `%s` SET v = ?, version = version + 1, expires = " NOW_MS
                            " + ? WHERE k = ? AND version = ? AND expires > " NOW_MS,
                            table);
    case SKV_SQL_REPLACE:
        return apr_psprintf(p,
                            "UPDATE `%s` SET v = ?, version = version + 1, expires = " NOW_MS
                            " + ? WHERE k = ? AND expires > " NOW_MS,
                            table);
    case SKV_SQL_TOUCH:
        return apr_psprintf(
            p, "UPDATE `%s` SET expires = " NOW_MS " + ? WHERE k = ? AND expires > " NOW_MS, table);
    case SKV_SQL_DEL:
        return apr_psprintf(p, "DELETE FROM `%s` WHERE k = ?", table);
    case SKV_SQL_SWEEP_SCAN:
        return apr_psprintf(p,
                            "SELECT MAX(k) FROM (SELECT k FROM `%s` WHERE k > ? ORDER BY k "
                            "LIMIT %d) AS r",
                            table, SKV_MYSQL_SWEEP_BATCH);
    case SKV_SQL_SWEEP:
        return apr_psprintf(p, "DELETE FROM `%s` WHERE k > ? AND k <= ? AND expires < " NOW_MS,
                            table);
    case SKV_SQL_COUNT:
        break;
    }
    return NULL;
}

/* --- connection ------------------------------------------------------------------------------ */

/* Whole seconds, rounded up, at least 1: Connector/C's timeouts. */
static unsigned int whole_seconds(apr_interval_time_t t)
{
    apr_interval_time_t s = (t + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;

    return s < 1 ? 1 : (unsigned int)s;
}

static void my_disconnect(skv_conn_t *c)
{
    int i;

    for (i = 0; i < SKV_SQL_COUNT; i++) {
        if (c->stmt[i]) {
            mysql_stmt_close(c->stmt[i]);
            c->stmt[i] = NULL;
        }
    }
    if (c->db) {
        mysql_close(c->db);
        c->db = NULL;
    }
}

static apr_status_t my_cleanup(void *data)
{
    my_disconnect(data);
    return APR_SUCCESS;
}

/* Whether error @p err (of the client or the server) leaves the connection unusable, or the
 * server unable to take writes for now: the next operation connects afresh. */
static int my_fatal(unsigned int err)
{
    return (err >= CR_MIN_ERROR && err <= CR_MAX_ERROR) || err == ER_SERVER_SHUTDOWN
           || err == ER_CONNECTION_KILLED || err == ER_OPTION_PREVENTS_STATEMENT
           || err == ER_READ_ONLY_MODE || err == ER_NET_PACKET_TOO_LARGE;
}

/* The status of error @p err after an operation that took @p took. The client says "lost
 * connection" for a read that timed out and for a reset alike: the time tells them apart. */
static apr_status_t my_status(unsigned int err, apr_interval_time_t took,
                              apr_interval_time_t timeout)
{
    switch (err) {
    case ER_NET_PACKET_TOO_LARGE:
    case CR_NET_PACKET_TOO_LARGE:
    case ER_DATA_TOO_LONG:
        return APR_ENOSPC;
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_UNKNOWN_HOST:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
        return took >= (apr_interval_time_t)whole_seconds(timeout) * APR_USEC_PER_SEC * 9 / 10
                   ? APR_TIMEUP
                   : APR_ECONNREFUSED;
    default:
        return APR_EGENERAL;
    }
}

/* Record error @p err with @p msg on @p c (dropping the connection when it is fatal); the
 * status for the store. */
static apr_status_t my_fail(skv_conn_t *c, const char *what, unsigned int err, const char *msg,
                            apr_time_t start, apr_interval_time_t timeout)
{
    apr_interval_time_t took = apr_time_now() - start;
    apr_status_t rv = my_status(err, took, timeout);

    apr_snprintf(c->err, sizeof(c->err), "mysql %s:%u: %s: %s (%u)%s", c->server->host,
                 (unsigned)c->server->port, what, msg && *msg ? msg : "error", err,
                 rv == APR_TIMEUP ? ", no answer in time" : "");
    c->errnum = err;
    c->gone = rv == APR_ECONNREFUSED && err != CR_CONNECTION_ERROR && err != CR_CONN_HOST_ERROR
              && err != CR_UNKNOWN_HOST;
    if (my_fatal(err)) {
        my_disconnect(c);
    }
    return rv;
}

static apr_status_t my_connect(skv_conn_t *c)
{
    const skv_backend_t *be = c->be;
    unsigned int ct = whole_seconds(be->connect_timeout), io = whole_seconds(be->io_timeout);
    unsigned int proto = MYSQL_PROTOCOL_TCP;
    my_bool on = 1;
    apr_time_t start = apr_time_now();
    char init[128];
    MYSQL *db;

    if (c->db) {
        return APR_SUCCESS;
    }
    if (!(db = mysql_init(NULL))) {
        apr_cpystrn(c->err, "mysql: out of memory", sizeof(c->err));
        return APR_ENOMEM;
    }
    /* UTC for NOW(3); a row lock waited for no longer than an operation may take, so that the
     * server gives up before the client does */
    apr_snprintf(init, sizeof(init), "SET time_zone = '+00:00', innodb_lock_wait_timeout = %u", io);
    mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &io);
    mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &io);
    /* "localhost" would mean the local socket to the client library */
    mysql_options(db, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(db, MYSQL_INIT_COMMAND, init);
    if (be->tls) {
        mysql_options(db, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_options(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
        if (be->ca_file) {
            mysql_options(db, MYSQL_OPT_SSL_CA, be->ca_file);
        }
    }
    if (!mysql_real_connect(db, c->server->host, be->user, be->password, be->database,
                            c->server->port, NULL, 0)) {
        apr_status_t rv =
            my_fail(c, "connect", mysql_errno(db), mysql_error(db), start, be->connect_timeout);

        mysql_close(db);
        return rv;
    }
    c->db = db;
    return APR_SUCCESS;
}

/* Statement @p which of @p c, connected and prepared. */
static apr_status_t my_stmt(MYSQL_STMT **out, skv_conn_t *c, skv_mysql_sql_e which)
{
    apr_time_t start = apr_time_now();
    MYSQL_STMT *st;
    apr_status_t rv;

    if ((rv = my_connect(c)) != APR_SUCCESS) {
        return rv;
    }
    if (!c->stmt[which]) {
        if (!(st = mysql_stmt_init(c->db))) {
            return my_fail(c, "prepare", mysql_errno(c->db), mysql_error(c->db), start,
                           c->be->io_timeout);
        }
        if (mysql_stmt_prepare(st, c->sql[which], strlen(c->sql[which]))) {
            unsigned int err = mysql_stmt_errno(st);
            char msg[MYSQL_ERRMSG_SIZE];

            apr_cpystrn(msg, mysql_stmt_error(st), sizeof(msg));
            mysql_stmt_close(st);
            return my_fail(c, "prepare", err, msg, start, c->be->io_timeout);
        }
        c->stmt[which] = st;
    }
    *out = c->stmt[which];
    return APR_SUCCESS;
}

/* A parameter: bytes (the key, a value) or a number. */
static void bind_bytes(MYSQL_BIND *b, enum enum_field_types type, const char *data,
                       unsigned long *len)
{
    b->buffer_type = type;
    b->buffer = (void *)data;
    b->buffer_length = *len;
    b->length = len;
}

static void bind_number(MYSQL_BIND *b, long long *n, int is_unsigned)
{
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = n;
    b->is_unsigned = (my_bool)is_unsigned;
}

/* my_fail() for an error of statement @p st, whose result (if any) is released first: the
 * connection may be dropped, and the statement closed with it. */
static apr_status_t my_fail_stmt(skv_conn_t *c, MYSQL_STMT *st, const char *what, apr_time_t start)
{
    unsigned int err = mysql_stmt_errno(st);
    char msg[MYSQL_ERRMSG_SIZE];

    apr_cpystrn(msg, mysql_stmt_error(st), sizeof(msg));
    mysql_stmt_free_result(st);
    return my_fail(c, what, err, msg, start, c->be->io_timeout);
}

/* Run statement @p which with @p params once; see my_exec(). */
static apr_status_t my_exec_once(MYSQL_STMT **out, my_ulonglong *rows, skv_conn_t *c,
                                 skv_mysql_sql_e which, MYSQL_BIND *params)
{
    apr_time_t start = apr_time_now();
    MYSQL_STMT *st;
    apr_status_t rv;

    if ((rv = my_stmt(&st, c, which)) != APR_SUCCESS) {
        return rv;
    }
    if ((params && mysql_stmt_bind_param(st, params)) || mysql_stmt_execute(st)) {
        return my_fail_stmt(c, st, "execute", start);
    }
    if (mysql_stmt_field_count(st)) {
        if (mysql_stmt_store_result(st)) {
            return my_fail_stmt(c, st, "read", start);
        }
        *rows = mysql_stmt_num_rows(st);
    }
    else {
        *rows = mysql_stmt_affected_rows(st);
    }
    if (out) {
        *out = st;
    }
    return APR_SUCCESS;
}

/* Whether statement @p which may be sent twice: not add and cas, which may have been done
 * before the connection broke. */
static int my_repeatable(skv_mysql_sql_e which)
{
    return which != SKV_SQL_ADD && which != SKV_SQL_CAS;
}

/* Run statement @p which with @p params; the rows it changed (or found, for a SELECT, whose
 * result is then stored for fetching). A connection kept from an earlier call that the server
 * closed meanwhile (a restart, a failover, its wait_timeout) is found out only now: the
 * statement is then sent once more on a new connection when it is safe to send twice. */
static apr_status_t my_exec(MYSQL_STMT **out, my_ulonglong *rows, skv_conn_t *c,
                            skv_mysql_sql_e which, MYSQL_BIND *params)
{
    int kept = c->db != NULL;
    apr_status_t rv = my_exec_once(out, rows, c, which, params);

    if (rv != APR_SUCCESS && kept && c->gone && !c->db && my_repeatable(which)) {
        rv = my_exec_once(out, rows, c, which, params);
    }
    return rv;
}

/* Whether a live row holds @p key: APR_SUCCESS or APR_NOTFOUND. */
static apr_status_t my_exists(skv_conn_t *c, const char *key)
{
    MYSQL_BIND in[1];
    unsigned long klen = (unsigned long)strlen(key);
    my_ulonglong rows = 0;
    MYSQL_STMT *st;
    apr_status_t rv;

    memset(in, 0, sizeof(in));
    bind_bytes(&in[0], MYSQL_TYPE_STRING, key, &klen);
    rv = my_exec(&st, &rows, c, SKV_SQL_EXISTS, in);
    if (rv == APR_SUCCESS) {
        mysql_stmt_free_result(st);
    }
    return rv != APR_SUCCESS ? rv : rows ? APR_SUCCESS : APR_NOTFOUND;
}

/* --- the driver ------------------------------------------------------------------------------- */

static apr_status_t my_open(skv_conn_t **out, const skv_backend_t *be, void *shared, apr_pool_t *p)
{
    skv_conn_t *c = apr_pcalloc(p, sizeof(*c));
    int i;

    (void)shared;
    c->be = be;
    c->server = &APR_ARRAY_IDX(be->servers, 0, skv_server_t);
    for (i = 0; i < SKV_SQL_COUNT; i++) {
        c->sql[i] = skv_mysql_sql((skv_mysql_sql_e)i, be->table, p);
    }
    apr_pool_cleanup_register(p, c, my_cleanup, apr_pool_cleanup_null);
    *out = c;
    return APR_SUCCESS;
}

static apr_status_t my_get(skv_value_t *val, skv_conn_t *c, const char *key, apr_pool_t *p)
{
    apr_time_t start = apr_time_now();
    MYSQL_BIND in[1], res[3];
    unsigned long klen = (unsigned long)strlen(key), vlen = 0;
    long long version = 0, left = 0;
    my_ulonglong rows = 0;
    MYSQL_STMT *st;
    char *data;
    apr_status_t rv;
    int f;

    memset(in, 0, sizeof(in));
    bind_bytes(&in[0], MYSQL_TYPE_STRING, key, &klen);
    if ((rv = my_exec(&st, &rows, c, SKV_SQL_GET, in)) != APR_SUCCESS) {
        return rv;
    }
    if (!rows) {
        mysql_stmt_free_result(st);
        return APR_NOTFOUND;
    }
    /* the value's length first (a fetch into no buffer), then the value itself */
    memset(res, 0, sizeof(res));
    res[0].buffer_type = MYSQL_TYPE_BLOB;
    res[0].length = &vlen;
    bind_number(&res[1], &version, 1);
    bind_number(&res[2], &left, 0);
    if (mysql_stmt_bind_result(st, res)
        || ((f = mysql_stmt_fetch(st)) != 0 && f != MYSQL_DATA_TRUNCATED)) {
        return my_fail_stmt(c, st, "fetch", start);
    }
    data = apr_palloc(p, vlen + 1);
    res[0].buffer = data;
    res[0].buffer_length = vlen;
    if (vlen && mysql_stmt_fetch_column(st, &res[0], 0, 0)) {
        return my_fail_stmt(c, st, "fetch", start);
    }
    mysql_stmt_free_result(st);
    data[vlen] = '\0';
    val->data = data;
    val->len = vlen;
    val->cas = (apr_uint64_t)version;
    val->expires_in = left > 0 ? (apr_interval_time_t)left * 1000 : 0;
    return APR_SUCCESS;
}

/* Milliseconds of @p ttl, at least 1. */
static long long ttl_ms(apr_interval_time_t ttl)
{
    long long ms = (long long)(ttl / 1000);

    return ms < 1 ? 1 : ms;
}

/* Run write statement @p which, whose parameters are, in this order: the value (not for touch:
 * @p data NULL), the time to live, the key, and for cas the version @p cas. */
static apr_status_t my_write(my_ulonglong *rows, skv_conn_t *c, skv_mysql_sql_e which,
                             const char *key, const char *data, apr_size_t len,
                             apr_interval_time_t ttl, const apr_uint64_t *cas)
{
    MYSQL_BIND in[4];
    unsigned long klen = (unsigned long)strlen(key), vlen = (unsigned long)len;
    long long ms = ttl_ms(ttl), version = cas ? (long long)*cas : 0;
    int n = 0;

    memset(in, 0, sizeof(in));
    if (data) {
        bind_bytes(&in[n++], MYSQL_TYPE_BLOB, data, &vlen);
    }
    bind_number(&in[n++], &ms, 0);
    bind_bytes(&in[n++], MYSQL_TYPE_STRING, key, &klen);
    if (cas) {
        bind_number(&in[n], &version, 1);
    }
    return my_exec(NULL, rows, c, which, in);
}

static apr_status_t my_add(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                           apr_interval_time_t ttl)
{
    my_ulonglong rows = 0;
    apr_status_t rv = my_write(&rows, c, SKV_SQL_ADD, key, data, len, ttl, NULL);

    return rv != APR_SUCCESS ? rv : rows ? APR_SUCCESS : APR_EEXIST;
}

static apr_status_t my_cas(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                           apr_interval_time_t ttl, apr_uint64_t cas)
{
    my_ulonglong rows = 0;
    apr_status_t rv = my_write(&rows, c, SKV_SQL_CAS, key, data, len, ttl, &cas);

    if (rv != APR_SUCCESS || rows) {
        return rv;
    }
    /* nothing written: another write came first, or the session is gone */
    rv = my_exists(c, key);
    return rv == APR_SUCCESS ? APR_EEXIST : rv;
}

static apr_status_t my_replace(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                               apr_interval_time_t ttl)
{
    my_ulonglong rows = 0;
    apr_status_t rv = my_write(&rows, c, SKV_SQL_REPLACE, key, data, len, ttl, NULL);

    return rv != APR_SUCCESS ? rv : rows ? APR_SUCCESS : APR_NOTFOUND;
}

static apr_status_t my_touch(skv_conn_t *c, const char *key, apr_interval_time_t ttl)
{
    my_ulonglong rows = 0;
    apr_status_t rv = my_write(&rows, c, SKV_SQL_TOUCH, key, NULL, 0, ttl, NULL);

    if (rv != APR_SUCCESS || rows) {
        return rv;
    }
    /* 0 rows changed is also a touch within the same millisecond as the last one */
    return my_exists(c, key);
}

static apr_status_t my_del(skv_conn_t *c, const char *key)
{
    MYSQL_BIND in[1];
    unsigned long klen = (unsigned long)strlen(key);
    my_ulonglong rows = 0;
    apr_status_t rv;

    memset(in, 0, sizeof(in));
    bind_bytes(&in[0], MYSQL_TYPE_STRING, key, &klen);
    rv = my_exec(NULL, &rows, c, SKV_SQL_DEL, in);
    return rv != APR_SUCCESS ? rv : rows ? APR_SUCCESS : APR_NOTFOUND;
}

static apr_status_t my_ping(const char **info, skv_conn_t *c, apr_pool_t *p)
{
    apr_time_t start = apr_time_now();
    const char *cipher;
    MYSQL_RES *res;
    MYSQL_ROW row;
    apr_status_t rv;
    int attempt;

    for (attempt = 0;; attempt++) {
        int kept = c->db != NULL;

        if ((rv = my_connect(c)) != APR_SUCCESS) {
            return rv;
        }
        if (!mysql_query(c->db, "SELECT VERSION()") && (res = mysql_store_result(c->db))) {
            break;
        }
        rv = my_fail(c, "ping", mysql_errno(c->db), mysql_error(c->db), start, c->be->io_timeout);
        if (attempt || !kept || !c->gone) { /* see my_exec() */
            return rv;
        }
    }
    row = mysql_fetch_row(res);
    cipher = mysql_get_ssl_cipher(c->db);
    *info =
        apr_psprintf(p, "mysql %s, table %s.%s%s%s", row && row[0] ? row[0] : "?", c->be->database,
                     c->be->table, cipher ? ", TLS " : "", cipher ? cipher : "");
    mysql_free_result(res);
    return APR_SUCCESS;
}

static const char *my_error(skv_conn_t *c)
{
    return c->err;
}

static int my_server(skv_conn_t *c, const char *key)
{
    (void)c;
    (void)key;
    return 0;
}

static apr_status_t my_share(void **shared, const skv_backend_t *be, apr_pool_t *p)
{
    my_shared_t *sh = apr_pcalloc(p, sizeof(*sh));

    sh->be = be;
    sh->pool = p;
    *shared = sh;
    return APR_SUCCESS;
}

/* Whether @p c got the sweep lock of its table: GET_LOCK(), one sweeper at a time on the
 * database, whichever node and child it is in; released when the connection closes. */
static apr_status_t my_sweep_lock(int *mine, skv_conn_t *c)
{
    apr_time_t start = apr_time_now();
    MYSQL_RES *res;
    MYSQL_ROW row;
    char q[128];
    apr_status_t rv;

    if ((rv = my_connect(c)) != APR_SUCCESS) {
        return rv;
    }
    /* names are plain identifiers (skv_backend.c); a lock name has at most 64 characters */
    apr_snprintf(q, sizeof(q), "SELECT GET_LOCK('skv_sweep:%.26s.%.26s', 0)", c->be->database,
                 c->be->table);
    if (mysql_query(c->db, q) || !(res = mysql_store_result(c->db))) {
        return my_fail(c, "lock", mysql_errno(c->db), mysql_error(c->db), start, c->be->io_timeout);
    }
    row = mysql_fetch_row(res);
    *mine = row && row[0] && !strcmp(row[0], "1");
    mysql_free_result(res);
    return APR_SUCCESS;
}

/* The end of the sweep's next range after @p sh->walk, in @p end (@p *end_len; 0: no key after
 * it, the walk is past the table's last key). */
static apr_status_t my_sweep_range(char *end, unsigned long *end_len, my_shared_t *sh)
{
    apr_time_t start = apr_time_now();
    MYSQL_BIND in[1], res[1];
    my_ulonglong rows = 0;
    my_bool null = 1;
    MYSQL_STMT *st;
    apr_status_t rv;
    int f;

    memset(in, 0, sizeof(in));
    bind_bytes(&in[0], MYSQL_TYPE_STRING, sh->walk, &sh->walk_len);
    if ((rv = my_exec(&st, &rows, sh->conn, SKV_SQL_SWEEP_SCAN, in)) != APR_SUCCESS) {
        return rv;
    }
    memset(res, 0, sizeof(res));
    res[0].buffer_type = MYSQL_TYPE_STRING;
    res[0].buffer = end;
    res[0].buffer_length = sizeof(sh->walk);
    res[0].length = end_len;
    res[0].is_null = &null;
    *end_len = 0;
    if (rows
        && (mysql_stmt_bind_result(st, res)
            || ((f = mysql_stmt_fetch(st)) != 0 && f != MYSQL_DATA_TRUNCATED))) {
        return my_fail_stmt(sh->conn, st, "fetch", start);
    }
    mysql_stmt_free_result(st);
    if (null || *end_len >= sizeof(sh->walk)) { /* keys are at most 255 bytes (VARBINARY(255)) */
        *end_len = 0;
    }
    return APR_SUCCESS;
}

/* The sweep of expired rows (see the top of this file). */
static apr_status_t my_refresh(int *changed, const char **why, void *shared, apr_pool_t *p)
{
    my_shared_t *sh = shared;
    my_ulonglong rows = 0, deleted = 0;
    MYSQL_BIND in[2];
    char end[sizeof(sh->walk)];
    unsigned long end_len = 0;
    apr_status_t rv;
    int i, batches = 0, mine = 0;

    *changed = 0;
    if (!sh->conn && (rv = my_open(&sh->conn, sh->be, NULL, sh->pool)) != APR_SUCCESS) {
        *why = "out of memory";
        return rv;
    }
    rv = my_sweep_lock(&mine, sh->conn);
    for (i = 0; rv == APR_SUCCESS && mine && i < SWEEP_SCANS && batches < SWEEP_BATCHES; i++) {
        if ((rv = my_sweep_range(end, &end_len, sh)) != APR_SUCCESS) {
            break;
        }
        if (!end_len) { /* past the last key: the next call starts over */
            sh->walk_len = 0;
            break;
        }
        memset(in, 0, sizeof(in));
        bind_bytes(&in[0], MYSQL_TYPE_STRING, sh->walk, &sh->walk_len);
        bind_bytes(&in[1], MYSQL_TYPE_STRING, end, &end_len);
        if ((rv = my_exec(NULL, &rows, sh->conn, SKV_SQL_SWEEP, in)) != APR_SUCCESS) {
            if (sh->conn->errnum == ER_LOCK_DEADLOCK || sh->conn->errnum == ER_LOCK_WAIT_TIMEOUT) {
                rv = APR_SUCCESS; /* a request's statement held a row: the next sweep goes on */
            }
            break;
        }
        memcpy(sh->walk, end, end_len);
        sh->walk_len = end_len;
        if (rows) {
            deleted += rows;
            batches++;
            apr_sleep(SWEEP_PAUSE); /* let the requests' statements in between */
        }
    }
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "deleting expired sessions: %s", sh->conn->err);
    }
    else if (mine) {
        *why = apr_psprintf(p, "%" APR_UINT64_T_FMT " expired sessions deleted",
                            (apr_uint64_t)deleted);
    }
    else {
        *why = "another process sweeps the table now";
    }
    /* the database's connections are counted (max_connections): this one is not kept for the
     * next interval, and its sweep lock goes with it */
    my_disconnect(sh->conn);
    return rv;
}

const skv_driver_t skv_driver_mysql = {
    "mysql", my_open, my_get,   my_add,    my_cas,   my_replace, my_touch,
    my_del,  my_ping, my_error, my_server, my_share, my_refresh,
};

/* --- the startup check -------------------------------------------------------------------------
 */

/* What column @p name of type @p type (information_schema's DATA_TYPE) with key @p key lacks,
 * or NULL. */
static const char *column_wrong(const char *name, const char *type, const char *key)
{
    if (!strcasecmp(name, "k")) {
        if (strcasecmp(type, "varbinary") && strcasecmp(type, "binary")
            && strcasecmp(type, "varchar") && strcasecmp(type, "char")) {
            return "k must be VARBINARY(255)";
        }
        return strcasecmp(key, "PRI") ? "k must be the primary key" : NULL;
    }
    if (!strcasecmp(name, "v")) {
        /* BLOB holds 64 KiB: less than a session of the default SessionKVMaxSize and its
         * envelope */
        return strcasecmp(type, "mediumblob") && strcasecmp(type, "longblob")
                   ? "v must be MEDIUMBLOB"
                   : NULL;
    }
    if (!strcasecmp(name, "version") || !strcasecmp(name, "expires")) {
        return strcasecmp(type, "bigint") ? "version and expires must be BIGINT" : NULL;
    }
    return NULL;
}

apr_status_t skv_mysql_check(const char **why, const skv_backend_t *be, apr_pool_t *p)
{
    const char *fix = "create it with the SQL of /usr/share/" SKV_MYSQL_SQL_FILE
                      " (modules/session_kv/sql/session_kv.mysql.sql in the source)";
    const char *q = apr_psprintf(p,
                                 "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_KEY FROM "
                                 "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                                 "AND TABLE_NAME = '%s'",
                                 be->table);
    apr_time_t start = apr_time_now();
    apr_pool_t *cp;
    skv_conn_t *c;
    MYSQL_STMT *st;
    MYSQL_RES *res;
    MYSQL_ROW row;
    apr_status_t rv;
    int found = 0, i;

    if ((rv = apr_pool_create(&cp, p)) != APR_SUCCESS) {
        *why = "out of memory";
        return rv;
    }
    my_open(&c, be, NULL, cp);
    if ((rv = my_connect(c)) != APR_SUCCESS) {
        *why = apr_pstrdup(p, c->err);
        if (c->errnum == ER_BAD_DB_ERROR) { /* the server answered: no such database */
            rv = APR_EINVAL;
        }
        goto done;
    }
    if (mysql_query(c->db, q) || !(res = mysql_store_result(c->db))) {
        rv = my_fail(c, "reading the table's columns", mysql_errno(c->db), mysql_error(c->db),
                     start, be->io_timeout);
        *why = apr_pstrdup(p, c->err);
        goto done;
    }
    *why = NULL;
    while ((row = mysql_fetch_row(res))) {
        const char *wrong;

        if (!row[0] || !row[1]) {
            continue;
        }
        if (!strcasecmp(row[0], "k") || !strcasecmp(row[0], "v") || !strcasecmp(row[0], "version")
            || !strcasecmp(row[0], "expires")) {
            found++;
        }
        wrong = column_wrong(row[0], apr_pstrdup(p, row[1]), row[2] ? row[2] : "");
        if (wrong && !*why) {
            *why = wrong;
        }
    }
    mysql_free_result(res);
    if (!found && !*why) {
        *why = apr_psprintf(p, "table %s.%s does not exist: %s", be->database, be->table, fix);
        rv = APR_EINVAL;
        goto done;
    }
    if (!*why && found < 4) {
        *why = "it lacks some of the columns k, v, version, expires";
    }
    if (*why) {
        *why = apr_psprintf(p, "table %s.%s is not a sessions table: %s; %s", be->database,
                            be->table, *why, fix);
        rv = APR_EINVAL;
        goto done;
    }
    /* the statements themselves: the privileges, and anything the columns did not tell */
    for (i = 0; i < SKV_SQL_COUNT; i++) {
        if ((rv = my_stmt(&st, c, (skv_mysql_sql_e)i)) != APR_SUCCESS) {
            *why = apr_psprintf(p, "table %s.%s: %s", be->database, be->table, c->err);
            rv = rv == APR_EGENERAL ? APR_EINVAL : rv;
            goto done;
        }
    }
    rv = APR_SUCCESS;
done:
    apr_pool_destroy(cp);
    return rv;
}
