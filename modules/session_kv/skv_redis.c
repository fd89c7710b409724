/* skv_redis — the redis driver (hiredis for the protocol, lf_conn for the wire), see
 * skv_driver.h.
 *
 * hiredis 0.14 (Debian 12's) has no TLS and no way to give it a socket of one's own, but its
 * command formatter and its reply reader are public: the driver formats with the one, reads
 * with the other, and carries the bytes over an lf_conn connection, plain TCP for redis:// and
 * TLS for rediss://, one code path. One connection per connection object, made on first use:
 * connect (and handshake) within the connect timeout, every read and write bounded by the I/O
 * timeout, then AUTH (with the ACL user when there is one) and SELECT, pipelined. AUTH's password
 * is the backend's, or with a password_fn (ElastiCache IAM tokens) one asked for at each
 * connect; a connection that authenticated reauth_after ago is replaced before its next use.
 *
 * Healing: after an I/O error, end of file or timeout the connection is closed and the next call
 * connects afresh. A reply starting with READONLY, LOADING or MASTERDOWN means that this server
 * cannot take the command now, typically because a failover moved the primary elsewhere (on
 * ElastiCache the endpoint's DNS name then points to the new primary): the connection is closed
 * too, and a write is retried once on a new connection at once. Before a command goes into a
 * connection kept from an earlier call, lf_conn_idle_alive() checks without waiting that the
 * server has not closed it meanwhile (a restart, an idle timeout, a middlebox); one that dies while
 * the command is on its way is retried once on a new connection when the command is safe to send
 * twice (get, replace, touch, del, ping; not add and cas, which might have been done). After a
 * timeout the store leaves the server alone for the retry interval (skv_breaker.h), so that a
 * server that hangs is not waited for by every connection in turn.
 *
 * Compare-and-set: the token of a value is the first 64 bits of its SHA-1, and cas() runs a
 * Lua script that compares the token with the stored value's (redis.sha1hex) and writes only
 * when they are equal, atomically. The script goes by EVALSHA, and by EVAL when the server
 * does not know it yet (NOSCRIPT), which also caches it there.
 *
 * Hostile replies: hiredis 0.14's reader allocates an array's table of elements as soon as it has
 * read the array's header, before any element arrived, for up to INT_MAX elements: a server (or
 * anything on the wire) answering "*399999999" made the worker allocate 3.2 GB from 12 bytes.
 * hiredis 0.14 has no limit of its own for this (later versions have maxelements), so
 * skv_redis_guard() gives each reader a copy of hiredis's reply functions whose createArray
 * refuses a reply of more than RD_MAX_ELEMENTS elements in all its arrays; the reader then fails
 * as out of memory, which the driver reports as a protocol error and drops the connection. The
 * driver's replies are small (ROLE has three elements and one per replica).
 *
 * The password (or token) never appears in an error text: error() scrubs it even from server
 * replies.
 * What the driver makes of the replies is in the rd_*_replies() functions, which
 * skv_redis_replies() also runs on replies a test or the fuzzer made, without a server.
 * Pure core: APR, hiredis, OpenSSL, lf_conn and pthread_once.
 */
#include <pthread.h>
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "lf_log.h"
#include "skv_driver.h"
#include "skv_redis.h"

/* The compare-and-set script: 1 written, 0 no such key, -1 the value changed. */
static const char rd_cas_script[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return 0 end\n"
    "if string.sub(redis.sha1hex(v), 1, 16) ~= ARGV[1] then return -1 end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
    "return 1\n";

/* Commands sent in one round trip, formatted once, so that a retry can send them again. */
#define RD_MAX_CMDS 3
typedef struct rd_cmds_t {
    int n;
    char *cmd[RD_MAX_CMDS]; /* from redisFormatCommand, released by rd_cmds_free() */
    int len[RD_MAX_CMDS];
} rd_cmds_t;

/* rd_run() flags */
#define RD_WRITE      1 /* a write: retried once on a new connection after a failover reply */
#define RD_IDEMPOTENT 2 /* may be sent twice: retried once when a reused connection was dead */

/* Each driver defines the connection object its own way; they never meet. */
struct skv_conn_t {
    const skv_backend_t *be;
    const char *server;  /* "host:port" for messages */
    lf_conn_t *net;      /* NULL until connected, and after an error */
    redisReader *reader; /* with net: what came from the server, parsed */
    int elements;        /* the reader's budget of array elements (skv_redis_guard) */
    char *secret;        /* with be->password_fn: the password of this connection (malloc) */
    apr_time_t authed;   /* when net authenticated */
    char script_sha[41]; /* SHA-1 of rd_cas_script, lowercase hex */
    char err[256];       /* the last error, "" when none */
};

/* hiredis's own reply functions, but createArray within a budget per reply; the budget is an int
 * the reader's privdata points to, below 0 once a reply went past it. */
#define RD_MAX_ELEMENTS 1024
static redisReplyObjectFunctions rd_guarded;
static void *(*rd_create_array)(const redisReadTask *, int);
static pthread_once_t rd_guarded_once = PTHREAD_ONCE_INIT;

static void *rd_guarded_array(const redisReadTask *task, int elements)
{
    int *budget = task->privdata;

    if (!task->parent) {
        *budget = RD_MAX_ELEMENTS; /* a new reply */
    }
    if (*budget < 0 || elements > *budget) {
        *budget = -1;
        return NULL;
    }
    *budget -= elements;
    return rd_create_array(task, elements);
}

static void rd_guarded_init(void)
{
    redisReader *r = redisReaderCreate();

    if (r) {
        rd_guarded = *r->fn;
        rd_create_array = rd_guarded.createArray;
        rd_guarded.createArray = rd_guarded_array;
        redisReaderFree(r);
    }
}

int skv_redis_guard(redisReader *reader, int *budget)
{
    pthread_once(&rd_guarded_once, rd_guarded_init);
    if (!rd_create_array) {
        return 0;
    }
    *budget = RD_MAX_ELEMENTS;
    reader->fn = &rd_guarded;
    reader->privdata = budget;
    return 1;
}

static void rd_drop(skv_conn_t *c)
{
    lf_conn_close(c->net);
    c->net = NULL;
    if (c->secret) {
        OPENSSL_clear_free(c->secret, strlen(c->secret));
        c->secret = NULL;
    }
    if (c->reader) {
        redisReaderFree(c->reader);
        c->reader = NULL;
    }
}

static apr_status_t rd_cleanup(void *data)
{
    rd_drop(data);
    return APR_SUCCESS;
}

/*
 * Set the error text "redis host:port: <message>", with every copy of the password masked as
 * "***". In one pass over the text, copied into the buffer: a mask is never searched again (a
 * password such as "*" was replaced in place over and over, and one shorter than the mask made
 * the text grow past the buffer), and the copy stops at the buffer's end. The text is formatted
 * in a larger buffer first, so that a server's long message cut short still has every copy of
 * the password whole; one cut by that larger buffer's end is masked as well.
 */
static void rd_set_err(skv_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rd_set_err(skv_conn_t *c, const char *fmt, ...)
{
    const char *pw = c->secret ? c->secret : c->be->password, *s;
    apr_size_t pwlen = pw ? strlen(pw) : 0, max = sizeof(c->err) - 1, o = 0, k;
    char text[4 * sizeof(c->err)];
    va_list ap;
    int n;

    n = apr_snprintf(text, sizeof(text), "redis %s: ", c->server);
    va_start(ap, fmt);
    apr_vsnprintf(text + n, sizeof(text) - (apr_size_t)n, fmt, ap);
    va_end(ap);
    for (s = text; *s && o < max;) {
        if (pwlen && !strncmp(s, pw, pwlen)) {
            for (k = 0; k < 3 && o < max; k++) {
                c->err[o++] = '*';
            }
            s += pwlen;
        }
        else {
            c->err[o++] = *s++;
        }
    }
    /* all of the text copied, but it was cut short when formatted: a copy of the password cut
     * with it shows its start at the end */
    if (!*s && pwlen > 1 && strlen(text) == sizeof(text) - 1) {
        for (k = pwlen - 1; k > 0; k--) {
            if (k <= o && !memcmp(c->err + o - k, pw, k)) {
                memset(c->err + o - k, '*', k);
                break;
            }
        }
    }
    c->err[o] = '\0';
}

/* Milliseconds of a TTL, rounded up, at least 1. */
static long long rd_msec(apr_interval_time_t ttl)
{
    long long ms = (long long)((ttl + 999) / 1000);

    return ms < 1 ? 1 : ms;
}

/* The connection failed with @p rv (lf_conn's status): record why, drop it, and answer the
 * driver's status. */
static apr_status_t rd_net_fail(skv_conn_t *c, apr_status_t rv)
{
    rd_set_err(c, "%s", lf_conn_error(c->net));
    rd_drop(c);
    return rv == APR_EOF || rv == APR_ECONNRESET ? APR_ECONNREFUSED : rv;
}

/* The reader refused what came: the connection cannot be read any further. */
static apr_status_t rd_reader_fail(skv_conn_t *c)
{
    apr_status_t rv = APR_EGENERAL;

    if (c->reader->err == REDIS_ERR_OOM && c->elements < 0) {
        rd_set_err(c, "protocol error: a reply of more than %d elements", RD_MAX_ELEMENTS);
    }
    else if (c->reader->err == REDIS_ERR_OOM) {
        rd_set_err(c, "out of memory");
        rv = APR_ENOMEM;
    }
    else {
        rd_set_err(c, "protocol error: %s", c->reader->errstr);
    }
    rd_drop(c);
    return rv;
}

static void rd_free_replies(redisReply **r, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (r[i]) {
            freeReplyObject(r[i]);
            r[i] = NULL;
        }
    }
}

/* Whether @p r says the server cannot serve now: the failover replies. Scripts wrap the
 * error of the command that failed inside them ("ERR ... -READONLY ..."). */
static int rd_failover_reply(const redisReply *r)
{
    static const char *const words[] = {"READONLY", "LOADING", "MASTERDOWN"};
    apr_size_t i;

    if (r->type != REDIS_REPLY_ERROR || !r->str) {
        return 0;
    }
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        apr_size_t n = strlen(words[i]);
        const char *s = strstr(r->str, words[i]);

        if (s && (s == r->str || s[-1] == '-') && (s[n] == ' ' || s[n] == '\0')) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t rd_reply_fail(skv_conn_t *c, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR) {
        rd_set_err(c, "%s", r->str);
    }
    else {
        rd_set_err(c, "unexpected reply (type %d)", r->type);
    }
    return APR_EGENERAL;
}

/* Whether one of the @p n replies says that the server cannot serve now: APR_EGENERAL with the
 * error set, else APR_SUCCESS. */
static apr_status_t rd_failover_replies(skv_conn_t *c, redisReply **r, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (rd_failover_reply(r[i])) {
            rd_set_err(c, "%s", r[i]->str);
            return APR_EGENERAL;
        }
    }
    return APR_SUCCESS;
}

/* Whether connecting to @p be sends AUTH. */
static int rd_auth(const skv_backend_t *be)
{
    return be->password || be->password_fn;
}

/* The password of the next connect: be's, or a new one from its password_fn (IAM tokens),
 * kept in c->secret for as long as the connection, so that error texts mask it. */
static apr_status_t rd_password(const char **password, skv_conn_t *c)
{
    const skv_backend_t *be = c->be;
    const char *why = "out of memory";
    apr_status_t rv = APR_ENOMEM;
    apr_pool_t *tmp;

    *password = be->password;
    if (!be->password_fn) {
        return APR_SUCCESS;
    }
    /* a pool of its own: the connection object's is not for every reconnect */
    if (apr_pool_create_unmanaged_ex(&tmp, NULL, NULL) == APR_SUCCESS) {
        *password = NULL;
        rv = be->password_fn(password, &why, be->password_baton, tmp);
        if (rv == APR_SUCCESS && !*password) {
            why = "none given";
            rv = APR_EGENERAL;
        }
        else if (rv == APR_SUCCESS && !(c->secret = strdup(*password))) {
            why = "out of memory";
            rv = APR_ENOMEM;
        }
        *password = c->secret;
        apr_pool_destroy(tmp);
    }
    if (rv != APR_SUCCESS) {
        rd_set_err(c, "no password for AUTH: %s", why);
        return rv == APR_ENOMEM ? rv : APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The replies to AUTH and/or SELECT. */
static apr_status_t rd_connect_replies(skv_conn_t *c, redisReply **r, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (r[i]->type == REDIS_REPLY_ERROR) {
            /* AUTH comes first when there is one */
            rd_set_err(c, "%s failed: %s", rd_auth(c->be) && !i ? "AUTH" : "SELECT", r[i]->str);
            return APR_EGENERAL;
        }
    }
    return APR_SUCCESS;
}

/* Append a command formatted as hiredis' redisFormatCommand() does (%s, %b, %d, %lld). */
static apr_status_t rd_cmd(skv_conn_t *c, rd_cmds_t *q, const char *fmt, ...)
{
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = redisvFormatCommand(&q->cmd[q->n], fmt, ap);
    va_end(ap);
    if (len < 0) {
        q->cmd[q->n] = NULL;
        rd_set_err(c, "out of memory");
        return APR_ENOMEM;
    }
    q->len[q->n++] = len;
    return APR_SUCCESS;
}

static void rd_cmds_free(rd_cmds_t *q)
{
    int i;

    for (i = 0; i < q->n; i++) {
        redisFreeCommand(q->cmd[i]);
    }
    q->n = 0;
}

/* The next reply of the server, reading from the connection as long as the reader needs more. */
static apr_status_t rd_reply(redisReply **r, skv_conn_t *c)
{
    char buf[16 * 1024];

    for (;;) {
        void *reply = NULL;
        apr_size_t len = sizeof(buf);
        apr_status_t rv;

        if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
            return rd_reader_fail(c);
        }
        if (reply) {
            *r = reply;
            return APR_SUCCESS;
        }
        if ((rv = lf_conn_read(c->net, buf, &len)) != APR_SUCCESS) {
            return rd_net_fail(c, rv);
        }
        if (redisReaderFeed(c->reader, buf, len) != REDIS_OK) {
            return rd_reader_fail(c);
        }
    }
}

/* Write the commands of @p q together (lf_conn_writev): over TLS each write is a record of its
 * own (and a system call on either side), and a round trip is what the server answers at once. */
static apr_status_t rd_send(skv_conn_t *c, const rd_cmds_t *q)
{
    struct iovec iov[RD_MAX_CMDS];
    int i;

    for (i = 0; i < q->n; i++) {
        iov[i].iov_base = q->cmd[i];
        iov[i].iov_len = (apr_size_t)q->len[i];
    }
    return lf_conn_writev(c->net, iov, q->n);
}

/* Send @p q in one round trip on the current connection and read the replies into @p r. */
static apr_status_t rd_roundtrip(redisReply **r, skv_conn_t *c, const rd_cmds_t *q)
{
    apr_status_t rv;
    int i;

    for (i = 0; i < q->n; i++) {
        r[i] = NULL;
    }
    if ((rv = rd_send(c, q)) != APR_SUCCESS) {
        return rd_net_fail(c, rv);
    }
    for (i = 0; i < q->n; i++) {
        if ((rv = rd_reply(&r[i], c)) != APR_SUCCESS) {
            rd_free_replies(r, i);
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* Connect, authenticate and select the database. */
static apr_status_t rd_connect(skv_conn_t *c)
{
    const skv_backend_t *be = c->be;
    const skv_server_t *s = &APR_ARRAY_IDX(be->servers, 0, skv_server_t);
    redisReply *r[RD_MAX_CMDS];
    rd_cmds_t q = {0};
    const char *password;
    apr_status_t rv;

    if ((rv = rd_password(&password, c)) != APR_SUCCESS) {
        return rv;
    }
    if (be->tls && !be->tls_config) {
        rd_set_err(c, "no TLS configuration");
        return APR_EINVAL;
    }
    rv = lf_conn_open(&c->net, s->host, s->port, be->tls ? be->tls_config : NULL,
                      be->connect_timeout, be->io_timeout);
    if (!c->net) {
        rd_set_err(c, "out of memory");
        return APR_ENOMEM;
    }
    if (rv != APR_SUCCESS) {
        return rd_net_fail(c, rv);
    }
    if (!(c->reader = redisReaderCreate()) || !skv_redis_guard(c->reader, &c->elements)) {
        rd_set_err(c, "out of memory");
        rd_drop(c);
        return APR_ENOMEM;
    }
    if (password) {
        rv = be->user ? rd_cmd(c, &q, "AUTH %s %s", be->user, password)
                      : rd_cmd(c, &q, "AUTH %s", password);
    }
    if (rv == APR_SUCCESS && be->db) {
        rv = rd_cmd(c, &q, "SELECT %d", be->db);
    }
    if (rv == APR_SUCCESS && q.n && (rv = rd_roundtrip(r, c, &q)) == APR_SUCCESS) {
        rv = rd_connect_replies(c, r, q.n);
        rd_free_replies(r, q.n);
    }
    if (rv != APR_SUCCESS) {
        rd_drop(c);
    }
    c->authed = apr_time_now();
    rd_cmds_free(&q);
    if (rv == APR_SUCCESS && lf_log_is_level(LF_LOG_TRACE1)) {
        const char *tls = lf_conn_tls_info(c->net);

        lf_log_perror(LF_LOG_MARK, LF_LOG_TRACE1, APR_SUCCESS,
                      LFLOGNO(01920) "redis %s: connected%s%s%s", c->server, tls ? " (" : "",
                      tls ? tls : "", tls ? ")" : "");
    }
    return rv;
}

/*
 * Run the commands of @p q in one round trip, connecting first when needed; the replies are in
 * @p r on success (free them with rd_free_replies()). Heals the connection (see the top of
 * this file): @p flags say which retries are safe.
 */
static apr_status_t rd_run(redisReply **r, skv_conn_t *c, const rd_cmds_t *q, int flags)
{
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        int reused;

        /* a pooled connection the server closed while it sat idle (a restart, an idle timeout,
         * a proxy): a command that is not safe to repeat must not go into it */
        if (c->net && !lf_conn_idle_alive(c->net)) {
            rd_drop(c);
        }
        /* a connection that authenticated long ago is replaced before the server drops it */
        if (c->net && c->be->reauth_after
            && (apr_time_now() - c->authed >= c->be->reauth_after || apr_time_now() < c->authed)) {
            lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, APR_SUCCESS,
                          LFLOGNO(01015) "redis %s: replacing a connection that authenticated "
                                         "%" APR_TIME_T_FMT " s ago",
                          c->server, apr_time_sec(apr_time_now() - c->authed));
            rd_drop(c);
        }
        reused = c->net != NULL;
        if (!c->net && (rv = rd_connect(c)) != APR_SUCCESS) {
            return rv;
        }
        if ((rv = rd_roundtrip(r, c, q)) != APR_SUCCESS) {
            if (attempt == 0 && reused && (flags & RD_IDEMPOTENT) && rv == APR_ECONNREFUSED) {
                lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, rv,
                              LFLOGNO(01921) "%s (connecting again, retrying once)", c->err);
                continue;
            }
            return rv;
        }
        if (rd_failover_replies(c, r, q->n) == APR_SUCCESS) {
            c->err[0] = '\0'; /* healed, if a first attempt failed */
            return APR_SUCCESS;
        }
        rd_free_replies(r, q->n);
        rd_drop(c);
        rv = APR_EGENERAL;
        if (attempt == 0 && (flags & RD_WRITE)) {
            lf_log_perror(LF_LOG_MARK, LF_LOG_INFO, APR_SUCCESS,
                          LFLOGNO(01922) "%s (connecting again, retrying once)", c->err);
            continue;
        }
        return rv;
    }
    return rv;
}

/* The cas token of a value: the first 64 bits of its SHA-1, big-endian. */
static apr_uint64_t rd_token(const char *data, apr_size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    apr_uint64_t t = 0;

    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha1(), NULL) || mdlen < 8) {
        return 0; /* compares unequal to every stored value: a conflict, never a lost write */
    }
    for (i = 0; i < 8; i++) {
        t = t << 8 | md[i];
    }
    return t;
}

static apr_status_t rd_open(skv_conn_t **out, const skv_backend_t *be, void *shared, apr_pool_t *p)
{
    const skv_server_t *s = &APR_ARRAY_IDX(be->servers, 0, skv_server_t);
    skv_conn_t *c = apr_pcalloc(p, sizeof(*c));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;

    (void)shared;
    c->be = be;
    *out = c; /* on failure too: error() says why */
    c->server =
        apr_psprintf(p, strchr(s->host, ':') ? "[%s]:%u" : "%s:%u", s->host, (unsigned)s->port);
    if (!EVP_Digest(rd_cas_script, strlen(rd_cas_script), md, &mdlen, EVP_sha1(), NULL)) {
        rd_set_err(c, "SHA-1 not available");
        return APR_EGENERAL;
    }
    for (i = 0; i < mdlen && i < 20; i++) {
        apr_snprintf(c->script_sha + 2 * i, 3, "%02x", md[i]);
    }
    apr_pool_cleanup_register(p, c, rd_cleanup, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* The replies to GET and PTTL. */
static apr_status_t rd_get_replies(skv_value_t *val, skv_conn_t *c, redisReply **r, apr_pool_t *p)
{
    if (r[0]->type == REDIS_REPLY_NIL) {
        return APR_NOTFOUND;
    }
    if (r[0]->type != REDIS_REPLY_STRING) {
        return rd_reply_fail(c, r[0]);
    }
    val->data = apr_pstrmemdup(p, r[0]->str, r[0]->len);
    val->len = r[0]->len;
    val->cas = rd_token(r[0]->str, r[0]->len);
    /* PTTL: milliseconds, or -1 (no expiry), -2 (gone meanwhile); more than microseconds can
     * count is not known either */
    val->expires_in = r[1]->type == REDIS_REPLY_INTEGER && r[1]->integer >= 0
                              && r[1]->integer <= APR_INT64_MAX / 1000
                          ? (apr_interval_time_t)r[1]->integer * 1000
                          : -1;
    return APR_SUCCESS;
}

static apr_status_t rd_get(skv_value_t *val, skv_conn_t *c, const char *key, apr_pool_t *p)
{
    apr_size_t klen = strlen(key);
    redisReply *r[RD_MAX_CMDS];
    rd_cmds_t q = {0};
    apr_status_t rv;

    c->err[0] = '\0';
    if ((rv = rd_cmd(c, &q, "GET %b", key, klen)) == APR_SUCCESS
        && (rv = rd_cmd(c, &q, "PTTL %b", key, klen)) == APR_SUCCESS) {
        rv = rd_run(r, c, &q, RD_IDEMPOTENT);
    }
    rd_cmds_free(&q);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = rd_get_replies(val, c, r, p);
    rd_free_replies(r, 2);
    return rv;
}

/* The reply of a write: OK, or nil when a condition failed (APR_EEXIST). */
static apr_status_t rd_write_reply(skv_conn_t *c, const redisReply *r)
{
    if (r->type == REDIS_REPLY_NIL) {
        return APR_EEXIST;
    }
    return r->type == REDIS_REPLY_STATUS ? APR_SUCCESS : rd_reply_fail(c, r);
}

/* Run one write command (SET ... NX or XX). */
static apr_status_t rd_write(skv_conn_t *c, rd_cmds_t *q, int flags)
{
    redisReply *r[RD_MAX_CMDS];
    apr_status_t rv = rd_run(r, c, q, flags);

    rd_cmds_free(q);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = rd_write_reply(c, r[0]);
    rd_free_replies(r, 1);
    return rv;
}

static apr_status_t rd_add(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                           apr_interval_time_t ttl)
{
    rd_cmds_t q = {0};
    apr_status_t rv;

    c->err[0] = '\0';
    rv = rd_cmd(c, &q, "SET %b %b PX %lld NX", key, strlen(key), data, len, rd_msec(ttl));
    return rv == APR_SUCCESS ? rd_write(c, &q, RD_WRITE) : rv;
}

static apr_status_t rd_replace(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                               apr_interval_time_t ttl)
{
    rd_cmds_t q = {0};
    apr_status_t rv;

    c->err[0] = '\0';
    rv = rd_cmd(c, &q, "SET %b %b PX %lld XX", key, strlen(key), data, len, rd_msec(ttl));
    if (rv == APR_SUCCESS) {
        rv = rd_write(c, &q, RD_WRITE | RD_IDEMPOTENT);
    }
    /* XX answers nil when the key does not exist */
    return rv == APR_EEXIST ? APR_NOTFOUND : rv;
}

/* The reply of the compare-and-set script: 1 written, 0 no such key, -1 the value changed. */
static apr_status_t rd_cas_reply(skv_conn_t *c, const redisReply *r)
{
    if (r->type != REDIS_REPLY_INTEGER) {
        return rd_reply_fail(c, r);
    }
    return r->integer == 1 ? APR_SUCCESS : r->integer == 0 ? APR_NOTFOUND : APR_EEXIST;
}

static apr_status_t rd_cas(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                           apr_interval_time_t ttl, apr_uint64_t cas)
{
    apr_size_t klen = strlen(key);
    redisReply *r[RD_MAX_CMDS];
    char token[17];
    rd_cmds_t q = {0};
    apr_status_t rv;
    int scripted;

    c->err[0] = '\0';
    apr_snprintf(token, sizeof(token), "%016" APR_UINT64_T_HEX_FMT, cas);
    for (scripted = 0; scripted < 2; scripted++) {
        rv = scripted ? rd_cmd(c, &q, "EVAL %s 1 %b %s %b %lld", rd_cas_script, key, klen, token,
                               data, len, rd_msec(ttl))
                      : rd_cmd(c, &q, "EVALSHA %s 1 %b %s %b %lld", c->script_sha, key, klen, token,
                               data, len, rd_msec(ttl));
        if (rv == APR_SUCCESS) {
            rv = rd_run(r, c, &q, RD_WRITE);
        }
        rd_cmds_free(&q);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (scripted || r[0]->type != REDIS_REPLY_ERROR || strncmp(r[0]->str, "NOSCRIPT", 8)) {
            break;
        }
        rd_free_replies(r, 1); /* the server does not know the script yet */
    }
    rv = rd_cas_reply(c, r[0]);
    rd_free_replies(r, 1);
    return rv;
}

/* The reply of a command answering 1 when it did something, 0 when the key does not exist. */
static apr_status_t rd_int_reply(skv_conn_t *c, const redisReply *r)
{
    if (r->type != REDIS_REPLY_INTEGER) {
        return rd_reply_fail(c, r);
    }
    return r->integer == 0 ? APR_NOTFOUND : APR_SUCCESS;
}

/* Run one command answering an integer (PEXPIRE, DEL). */
static apr_status_t rd_int(skv_conn_t *c, rd_cmds_t *q)
{
    redisReply *r[RD_MAX_CMDS];
    apr_status_t rv = rd_run(r, c, q, RD_WRITE | RD_IDEMPOTENT);

    rd_cmds_free(q);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = rd_int_reply(c, r[0]);
    rd_free_replies(r, 1);
    return rv;
}

static apr_status_t rd_touch(skv_conn_t *c, const char *key, apr_interval_time_t ttl)
{
    rd_cmds_t q = {0};
    apr_status_t rv;

    c->err[0] = '\0';
    rv = rd_cmd(c, &q, "PEXPIRE %b %lld", key, strlen(key), rd_msec(ttl));
    return rv == APR_SUCCESS ? rd_int(c, &q) : rv;
}

static apr_status_t rd_del(skv_conn_t *c, const char *key)
{
    rd_cmds_t q = {0};
    apr_status_t rv;

    c->err[0] = '\0';
    rv = rd_cmd(c, &q, "DEL %b", key, strlen(key));
    return rv == APR_SUCCESS ? rd_int(c, &q) : rv;
}

/* The value of "field:" in an INFO reply, from @p p; NULL when absent. */
static const char *rd_info_field(const redisReply *r, const char *field, apr_pool_t *p)
{
    const char *s;
    apr_size_t n = strlen(field);

    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
        return NULL;
    }
    for (s = r->str; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL) {
        if (!strncmp(s, field, n) && s[n] == ':') {
            return apr_pstrndup(p, s + n + 1, strcspn(s + n + 1, "\r\n"));
        }
    }
    return NULL;
}

/* The replies to PING, INFO server and ROLE; APR_EAGAIN (with the error set) when the server
 * is not the primary. */
static apr_status_t rd_ping_replies(const char **info, skv_conn_t *c, redisReply **r, apr_pool_t *p)
{
    const char *version, *role;

    if (r[0]->type != REDIS_REPLY_STATUS) {
        return rd_reply_fail(c, r[0]);
    }
    version = rd_info_field(r[1], "redis_version", p);
    role = r[2]->type == REDIS_REPLY_ARRAY && r[2]->elements > 0
                   && r[2]->element[0]->type == REDIS_REPLY_STRING
               ? apr_pstrdup(p, r[2]->element[0]->str)
               : NULL;
    *info =
        apr_pstrcat(p, "redis ", version ? version : "?", role ? " " : "", role ? role : "", NULL);
    if (!role || !strcmp(role, "master")) {
        return APR_SUCCESS;
    }
    rd_set_err(c, "connected to a %s, not a primary", role);
    return APR_EAGAIN;
}

/*
 * PING, with the version (INFO server) and the role (ROLE) in the same round trip. A user
 * without the right to INFO or ROLE still gets a healthy answer. Connected to a replica, the
 * connection is made again once (a failover moves the endpoint); still a replica, the ping
 * fails: every write would.
 */
static apr_status_t rd_ping(const char **info, skv_conn_t *c, apr_pool_t *p)
{
    redisReply *r[RD_MAX_CMDS];
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    c->err[0] = '\0';
    *info = "";
    for (attempt = 0; attempt < 2; attempt++) {
        rd_cmds_t q = {0};

        if ((rv = rd_cmd(c, &q, "PING")) == APR_SUCCESS
            && (rv = rd_cmd(c, &q, "INFO server")) == APR_SUCCESS
            && (rv = rd_cmd(c, &q, "ROLE")) == APR_SUCCESS) {
            rv = rd_run(r, c, &q, RD_IDEMPOTENT);
        }
        rd_cmds_free(&q);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = rd_ping_replies(info, c, r, p);
        rd_free_replies(r, 3);
        if (rv != APR_EAGAIN) {
            return rv;
        }
        rd_drop(c);
    }
    return APR_EGENERAL;
}

static const char *rd_error(skv_conn_t *c)
{
    return c->err;
}

/* One server holds every key. */
static int rd_server(skv_conn_t *c, const char *key)
{
    (void)c;
    (void)key;
    return 0;
}

apr_status_t skv_redis_replies(skv_value_t *val, const char **info, const char **err,
                               const skv_backend_t *be, skv_redis_op_e op, redisReply **r, int n,
                               apr_pool_t *p)
{
    static const int counts[] = {-1, 2, 1, 1, 1, 3}; /* by op; CONNECT: from be */
    skv_conn_t *c;
    apr_status_t rv;

    *err = "";
    if ((unsigned)op > SKV_REDIS_PING
        || n != (op == SKV_REDIS_CONNECT ? rd_auth(be) + (be->db != 0) : counts[op])) {
        *err = "not the replies of that operation";
        return APR_EINVAL;
    }
    if ((rv = rd_open(&c, be, NULL, p)) != APR_SUCCESS) {
        *err = apr_pstrdup(p, c->err);
        return rv;
    }
    /* as rd_connect() and rd_run() see them */
    rv = op == SKV_REDIS_CONNECT ? rd_connect_replies(c, r, n) : rd_failover_replies(c, r, n);
    if (rv == APR_SUCCESS) {
        switch (op) {
        case SKV_REDIS_CONNECT:
            break;
        case SKV_REDIS_GET:
            rv = rd_get_replies(val, c, r, p);
            break;
        case SKV_REDIS_WRITE:
            rv = rd_write_reply(c, r[0]);
            break;
        case SKV_REDIS_CAS:
            rv = rd_cas_reply(c, r[0]);
            break;
        case SKV_REDIS_INT:
            rv = rd_int_reply(c, r[0]);
            break;
        case SKV_REDIS_PING:
            /* a replica again after connecting anew: what rd_ping() answers then */
            if ((rv = rd_ping_replies(info, c, r, p)) == APR_EAGAIN) {
                rv = APR_EGENERAL;
            }
            break;
        }
    }
    *err = apr_pstrdup(p, c->err);
    return rv;
}

const skv_driver_t skv_driver_redis = {
    "redis", rd_open, rd_get,   rd_add,    rd_cas, rd_replace, rd_touch,
    rd_del,  rd_ping, rd_error, rd_server, NULL,   NULL,
};
