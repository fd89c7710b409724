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
 * Clusters (node-based ElastiCache with cluster mode on, and ElastiCache Serverless, which is a
 * cluster behind one name): the URL names one server, the seed (the configuration endpoint).
 * The first operation of each process asks it CLUSTER SLOTS; a map means a cluster, an error
 * (cluster support disabled, an unknown command, no permission) a server alone, and nothing
 * changes for it. The map is the store's, shared by its connections in the process (share()),
 * and read under a reference count. Each operation touches one key, so it goes to the primary of
 * that key's slot (skv_cluster.h), by the host name the node announces: ElastiCache's TLS
 * certificates name hosts, never addresses. Every connection object holds a connection per
 * primary it used (RD_MAX_LINKS at most, the least recently used closed first), so a process
 * opens at most SessionKVConnections to each primary. Replicas are never used, and so never the
 * read port of a Serverless endpoint (6380): reads and writes go to primaries. A MOVED reply
 * (a slot moved, a failover) sends the command to the node it names and the map is asked for
 * again, one connection at a time per process and at most every RD_REFRESH_GAP; an ASK reply
 * (a slot being moved) sends it to the named node after ASKING, this once; TRYAGAIN and
 * CLUSTERDOWN are waited out with doubling pauses within the I/O timeout; a primary that refuses
 * connections makes the connection ask for a new map and, when a replica took its place, go there
 * (a command that might have been done only when it is safe to repeat). The compare-and-set
 * script is loaded on each node by the EVAL after its first NOSCRIPT. A cluster has database 0
 * only: SELECT fails every connect with the reason. No down state per server for a cluster
 * (server() answers -1): the cluster fails over a primary that stops answering itself.
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
 * Pure core: APR, hiredis, OpenSSL, lf_conn, skv_cluster and pthreads.
 */
#include <pthread.h>
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "lf_log.h"
#include "skv_cluster.h"
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
#define RD_MAX_CMDS 6 /* three commands, each after ASKING */
typedef struct rd_cmds_t {
    int n;
    char *cmd[RD_MAX_CMDS]; /* from redisFormatCommand, released by rd_cmds_free() */
    int len[RD_MAX_CMDS];
} rd_cmds_t;

/* rd_run() flags */
#define RD_WRITE      1 /* a write: retried once on a new connection after a failover reply */
#define RD_IDEMPOTENT 2 /* may be sent twice: retried once when a reused connection was dead */

/* One connection to one server: the URL's (the seed), or a primary of a cluster. */
typedef struct rd_link_t {
    char host[256]; /* as the map or a redirection names it: a host name, or an address */
    apr_port_t port;
    char server[272];    /* "host:port" for messages */
    lf_conn_t *net;      /* NULL until connected, and after an error */
    redisReader *reader; /* with net: what came from the server, parsed */
    int elements;        /* the reader's budget of array elements (skv_redis_guard) */
    char *secret;        /* with be->password_fn: the password of this connection (malloc) */
    apr_time_t authed;   /* when net authenticated */
    apr_uint64_t used;   /* when it was last used, in operations of its skv_conn_t */
} rd_link_t;

/* What a server is, as far as the driver knows. */
typedef enum { RD_UNKNOWN = 0, RD_ALONE, RD_CLUSTER } rd_mode_e;

/* A slot map, shared by the connections using it: the last one to let go frees it. */
typedef struct rd_map_t {
    skv_cluster_map_t *m;
    apr_pool_t *pool; /* unmanaged: made and freed on any thread */
    int refs;         /* under rd_shared_t.lock */
} rd_map_t;

/* What the connections of one store in one process share (share()): whether the server is a
 * cluster, and its slot map; one refresh of it at a time. */
typedef struct rd_shared_t {
    const skv_backend_t *be;
    pthread_mutex_t lock;
    rd_mode_e mode;
    rd_map_t *map;        /* RD_CLUSTER: the current map; NULL until the first */
    int refreshing;       /* a connection is asking for a new map */
    apr_time_t refreshed; /* when the last refresh began */
} rd_shared_t;

/* Connections to the seed and the primaries of a cluster, per connection object: the seed, and
 * at most this many primaries at once (the least recently used is closed for a new one). */
#define RD_MAX_LINKS 32

/* Each driver defines the connection object its own way; they never meet. */
struct skv_conn_t {
    const skv_backend_t *be;
    rd_shared_t *sh;               /* the store's (share()), or the connection's own */
    rd_link_t *link[RD_MAX_LINKS]; /* [0] the seed; the others made on demand */
    rd_link_t *cur;                /* the link of the current command, for error texts */
    apr_uint64_t ops;              /* operations so far: the clock of rd_link_t.used */
    int sent;                      /* whether the last rd_run() sent its commands */
    apr_pool_t *pool;              /* the connection object's */
    char script_sha[41];           /* SHA-1 of rd_cas_script, lowercase hex */
    char err[256];                 /* the last error, "" when none */
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

static void rd_drop(rd_link_t *l)
{
    lf_conn_close(l->net);
    l->net = NULL;
    if (l->secret) {
        OPENSSL_clear_free(l->secret, strlen(l->secret));
        l->secret = NULL;
    }
    if (l->reader) {
        redisReaderFree(l->reader);
        l->reader = NULL;
    }
}

static apr_status_t rd_cleanup(void *data)
{
    skv_conn_t *c = data;
    int i;

    for (i = 0; i < RD_MAX_LINKS; i++) {
        if (c->link[i]) {
            rd_drop(c->link[i]);
        }
    }
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
    const char *pw = c->cur->secret ? c->cur->secret : c->be->password, *s;
    apr_size_t pwlen = pw ? strlen(pw) : 0, max = sizeof(c->err) - 1, o = 0, k;
    char text[4 * sizeof(c->err)];
    va_list ap;
    int n;

    n = apr_snprintf(text, sizeof(text), "redis %s: ", c->cur->server);
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
    rd_set_err(c, "%s", lf_conn_error(c->cur->net));
    rd_drop(c->cur);
    return rv == APR_EOF || rv == APR_ECONNRESET ? APR_ECONNREFUSED : rv;
}

/* The reader refused what came: the connection cannot be read any further. */
static apr_status_t rd_reader_fail(skv_conn_t *c)
{
    apr_status_t rv = APR_EGENERAL;

    if (c->cur->reader->err == REDIS_ERR_OOM && c->cur->elements < 0) {
        rd_set_err(c, "protocol error: a reply of more than %d elements", RD_MAX_ELEMENTS);
    }
    else if (c->cur->reader->err == REDIS_ERR_OOM) {
        rd_set_err(c, "out of memory");
        rv = APR_ENOMEM;
    }
    else {
        rd_set_err(c, "protocol error: %s", c->cur->reader->errstr);
    }
    rd_drop(c->cur);
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
 * kept in c->cur->secret for as long as the connection, so that error texts mask it. */
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
        else if (rv == APR_SUCCESS && !(c->cur->secret = strdup(*password))) {
            why = "out of memory";
            rv = APR_ENOMEM;
        }
        *password = c->cur->secret;
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
            int select = !rd_auth(c->be) || i;

            rd_set_err(c, "%s failed: %s%s", select ? "SELECT" : "AUTH", r[i]->str,
                       select && strstr(r[i]->str, "cluster mode")
                           ? " (a cluster has database 0 only: remove the /<db> from the URL)"
                           : "");
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

        if (redisReaderGetReply(c->cur->reader, &reply) != REDIS_OK) {
            return rd_reader_fail(c);
        }
        if (reply) {
            *r = reply;
            return APR_SUCCESS;
        }
        if ((rv = lf_conn_read(c->cur->net, buf, &len)) != APR_SUCCESS) {
            return rd_net_fail(c, rv);
        }
        if (redisReaderFeed(c->cur->reader, buf, len) != REDIS_OK) {
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
    return lf_conn_writev(c->cur->net, iov, q->n);
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

/* Connect the current link, authenticate and select the database. */
static apr_status_t rd_connect(skv_conn_t *c)
{
    const skv_backend_t *be = c->be;
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
    rv = lf_conn_open(&c->cur->net, c->cur->host, c->cur->port, be->tls ? be->tls_config : NULL,
                      be->connect_timeout, be->io_timeout);
    if (!c->cur->net) {
        rd_set_err(c, "out of memory");
        return APR_ENOMEM;
    }
    if (rv != APR_SUCCESS) {
        return rd_net_fail(c, rv);
    }
    if (!(c->cur->reader = redisReaderCreate())
        || !skv_redis_guard(c->cur->reader, &c->cur->elements)) {
        rd_set_err(c, "out of memory");
        rd_drop(c->cur);
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
        rd_drop(c->cur);
    }
    c->cur->authed = apr_time_now();
    rd_cmds_free(&q);
    if (rv == APR_SUCCESS && lf_log_is_level(LF_LOG_TRACE1)) {
        const char *tls = lf_conn_tls_info(c->cur->net);

        lf_log_perror(LF_LOG_MARK, LF_LOG_TRACE1, APR_SUCCESS,
                      LFLOGNO(01920) "redis %s: connected%s%s%s", c->cur->server, tls ? " (" : "",
                      tls ? tls : "", tls ? ")" : "");
    }
    return rv;
}

/*
 * Run the commands of @p q in one round trip on the current link, connecting first when needed;
 * the replies are in @p r on success (free them with rd_free_replies()). Heals the connection
 * (see the top of this file): @p flags say which retries are safe. c->sent says afterwards
 * whether the commands went out (on failure: they may have been done).
 */
static apr_status_t rd_run(redisReply **r, skv_conn_t *c, const rd_cmds_t *q, int flags)
{
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    c->sent = 0;
    for (attempt = 0; attempt < 2; attempt++) {
        int reused;

        /* a pooled connection the server closed while it sat idle (a restart, an idle timeout,
         * a proxy): a command that is not safe to repeat must not go into it */
        if (c->cur->net && !lf_conn_idle_alive(c->cur->net)) {
            rd_drop(c->cur);
        }
        /* a connection that authenticated long ago is replaced before the server drops it */
        if (c->cur->net && c->be->reauth_after
            && (apr_time_now() - c->cur->authed >= c->be->reauth_after
                || apr_time_now() < c->cur->authed)) {
            lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, APR_SUCCESS,
                          LFLOGNO(01015) "redis %s: replacing a connection that authenticated "
                                         "%" APR_TIME_T_FMT " s ago",
                          c->cur->server, apr_time_sec(apr_time_now() - c->cur->authed));
            rd_drop(c->cur);
        }
        reused = c->cur->net != NULL;
        if (!c->cur->net && (rv = rd_connect(c)) != APR_SUCCESS) {
            return rv;
        }
        c->sent = 1;
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
        rd_drop(c->cur);
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

/* --- clusters ------------------------------------------------------------------------------ */

/* Redirections followed for one operation (a slot that moves twice while it is asked for). */
#define RD_MAX_HOPS 5
/* Refreshes of the slot map begin at most this often per process, but after a MOVED. */
#define RD_REFRESH_GAP apr_time_from_msec(100)
/* The first and the longest pause before asking again after TRYAGAIN or CLUSTERDOWN. */
#define RD_PAUSE_MIN apr_time_from_msec(10)
#define RD_PAUSE_MAX apr_time_from_msec(200)

static rd_mode_e rd_mode(rd_shared_t *sh)
{
    return __atomic_load_n(&sh->mode, __ATOMIC_ACQUIRE);
}

/* Let go of a reference to @p m; the last one frees it. */
static void rd_map_release(rd_shared_t *sh, rd_map_t *m)
{
    int last;

    if (!m) {
        return;
    }
    pthread_mutex_lock(&sh->lock);
    last = --m->refs == 0;
    pthread_mutex_unlock(&sh->lock);
    if (last) {
        apr_pool_destroy(m->pool);
    }
}

/* The current map with a reference taken (rd_map_release()), or NULL when there is none. */
static rd_map_t *rd_map_take(rd_shared_t *sh)
{
    rd_map_t *m;

    pthread_mutex_lock(&sh->lock);
    if ((m = sh->map)) {
        m->refs++;
    }
    pthread_mutex_unlock(&sh->lock);
    return m;
}

static void rd_link_init(rd_link_t *l, const char *host, apr_port_t port)
{
    apr_cpystrn(l->host, host, sizeof(l->host));
    l->port = port;
    apr_snprintf(l->server, sizeof(l->server), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
                 (unsigned)port);
}

/* The link to @p host : @p port (at most 255 bytes, as skv_cluster makes sure), made when there
 * is none yet; with RD_MAX_LINKS in use, the least recently used primary's is closed for it (the
 * operation that asks needs no other at the time). */
static rd_link_t *rd_link(skv_conn_t *c, const char *name, apr_port_t port)
{
    rd_link_t *l = NULL, *lru = NULL;
    char host[sizeof(l->host)];
    int i;

    apr_cpystrn(host, name, sizeof(host)); /* name may be in the link about to be reused */
    for (i = 0; i < RD_MAX_LINKS && (l = c->link[i]); i++) {
        if (l->port == port && !strcmp(l->host, host)) {
            l->used = c->ops;
            return l;
        }
        if (i > 0 && (!lru || l->used < lru->used)) {
            lru = l;
        }
    }
    if (i < RD_MAX_LINKS) {
        l = c->link[i] = apr_pcalloc(c->pool, sizeof(*l));
    }
    else {
        l = lru;
        rd_drop(l);
        memset(l, 0, sizeof(*l));
    }
    rd_link_init(l, host, port);
    l->used = c->ops;
    return l;
}

/* Ask the server of @p l for its slot map (CLUSTER SLOTS).
 * @return APR_SUCCESS with *out a new map (one reference); APR_ENOTIMPL when the server says it
 *         is not a cluster (any error reply: cluster support disabled, an unknown command, no
 *         permission); else why not, with the error set */
static apr_status_t rd_slots(rd_map_t **out, skv_conn_t *c, rd_link_t *l)
{
    redisReply *r[RD_MAX_CMDS];
    skv_cluster_map_t *map;
    rd_cmds_t q = {0};
    const char *why;
    apr_pool_t *mp;
    apr_status_t rv;

    c->cur = l;
    if ((rv = rd_cmd(c, &q, "CLUSTER SLOTS")) == APR_SUCCESS) {
        rv = rd_run(r, c, &q, RD_IDEMPOTENT);
    }
    rd_cmds_free(&q);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (r[0]->type == REDIS_REPLY_ERROR) {
        rd_set_err(c, "CLUSTER SLOTS: %s", r[0]->str);
        rd_free_replies(r, 1);
        return APR_ENOTIMPL;
    }
    if ((rv = apr_pool_create_unmanaged_ex(&mp, NULL, NULL)) != APR_SUCCESS) {
        rd_free_replies(r, 1);
        rd_set_err(c, "out of memory");
        return rv;
    }
    rv = skv_cluster_map_parse(&map, &why, r[0], l->host, mp);
    rd_free_replies(r, 1);
    if (rv != APR_SUCCESS) {
        rd_set_err(c, "%s", why);
        apr_pool_destroy(mp);
        return APR_EGENERAL;
    }
    *out = apr_pcalloc(mp, sizeof(**out));
    (*out)->m = map;
    (*out)->pool = mp;
    (*out)->refs = 1;
    return APR_SUCCESS;
}

/*
 * Learn whether the server is a cluster and, when it is, its slot map: ask the seed (the URL's
 * server: ElastiCache's configuration endpoint), and when it does not answer, each primary of
 * the map known so far. One connection at a time per process asks, at most every RD_REFRESH_GAP
 * once the mode is known; the others go on with what they have (a redirection names the node).
 * @return APR_SUCCESS (a new map); APR_ENOTIMPL (not a cluster); APR_EBUSY (another connection
 *         is asking, or one asked a moment ago); else why no server answered, with the error set
 */
static apr_status_t rd_refresh(skv_conn_t *c)
{
    rd_shared_t *sh = c->sh;
    rd_link_t *cur = c->cur;
    rd_map_t *old, *m = NULL, *prev = NULL;
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    int i;

    pthread_mutex_lock(&sh->lock);
    if (sh->refreshing
        || (sh->mode != RD_UNKNOWN && now >= sh->refreshed
            && now - sh->refreshed < RD_REFRESH_GAP)) {
        pthread_mutex_unlock(&sh->lock);
        return APR_EBUSY;
    }
    sh->refreshing = 1;
    sh->refreshed = now;
    if ((old = sh->map)) {
        old->refs++;
    }
    pthread_mutex_unlock(&sh->lock);

    rv = rd_slots(&m, c, c->link[0]);
    /* the seed did not answer: a connection of the moment to each primary in turn (the links
     * are the operations', which the caller may be holding) */
    for (i = 0; old && i < old->m->n && rv != APR_SUCCESS && rv != APR_ENOTIMPL; i++) {
        const skv_cluster_node_t *n = &old->m->nodes[i];

        if (n->port != c->link[0]->port || strcmp(n->host, c->link[0]->host)) {
            rd_link_t other = {0};

            rd_link_init(&other, n->host, n->port);
            rv = rd_slots(&m, c, &other);
            rd_drop(&other);
        }
    }
    c->cur = cur;

    pthread_mutex_lock(&sh->lock);
    if (rv == APR_SUCCESS) {
        prev = sh->map;
        sh->map = m;
        __atomic_store_n(&sh->mode, RD_CLUSTER, __ATOMIC_RELEASE);
    }
    else if (rv == APR_ENOTIMPL && sh->mode == RD_UNKNOWN) {
        __atomic_store_n(&sh->mode, RD_ALONE, __ATOMIC_RELEASE);
    }
    sh->refreshing = 0;
    pthread_mutex_unlock(&sh->lock);
    rd_map_release(sh, prev);
    rd_map_release(sh, old);
    if (rv == APR_SUCCESS) {
        lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, APR_SUCCESS,
                      LFLOGNO(01923) "redis %s: a cluster of %d primaries", c->link[0]->server,
                      m->m->n);
    }
    return rv;
}

/*
 * Where a command for @p key goes: the seed when the server is not a cluster (or @p key is NULL),
 * else the primary the slot map names for the key's slot. The first operation of a process
 * learns what the server is.
 * @return APR_SUCCESS; the error of learning it when the seed did not answer
 */
static apr_status_t rd_route(rd_link_t **out, skv_conn_t *c, const char *key)
{
    rd_map_t *m;
    apr_status_t rv;
    int i;

    *out = c->link[0];
    if (rd_mode(c->sh) == RD_UNKNOWN && (rv = rd_refresh(c)) != APR_SUCCESS && rv != APR_ENOTIMPL
        && rv != APR_EBUSY) {
        return rv;
    }
    /* a server alone has no map: no lock taken on its every operation */
    if (key && rd_mode(c->sh) == RD_CLUSTER && (m = rd_map_take(c->sh))) {
        if ((i = m->m->slot[skv_cluster_slot(key, strlen(key))]) >= 0) {
            *out = rd_link(c, m->m->nodes[i].host, m->m->nodes[i].port);
        }
        rd_map_release(c->sh, m);
    }
    return APR_SUCCESS;
}

/* The commands of @p q each after ASKING, into @p aq: the ASKINGs are aq's own, the commands
 * @p q's (rd_asking_free()). */
static apr_status_t rd_asking(rd_cmds_t *aq, skv_conn_t *c, const rd_cmds_t *q)
{
    apr_status_t rv;
    int i;

    aq->n = 0;
    for (i = 0; i < q->n; i++) {
        if ((rv = rd_cmd(c, aq, "ASKING")) != APR_SUCCESS) {
            return rv;
        }
        aq->cmd[aq->n] = q->cmd[i];
        aq->len[aq->n++] = q->len[i];
    }
    return APR_SUCCESS;
}

static void rd_asking_free(rd_cmds_t *aq)
{
    int i;

    for (i = 0; i < aq->n; i += 2) {
        redisFreeCommand(aq->cmd[i]);
    }
    aq->n = 0;
}

/* The replies of the commands after ASKING, moved to the front of @p r; ASKING's freed. */
static void rd_asking_replies(redisReply **r, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        freeReplyObject(r[2 * i]);
        r[i] = r[2 * i + 1];
    }
}

/* What a reply asks of a cluster client. */
typedef enum { RD_DONE = 0, RD_MOVED, RD_ASK, RD_TRYAGAIN, RD_CLUSTERDOWN } rd_redirect_e;

/* Whether one of the @p n replies redirects the command (to the node in @p to, when MOVED or
 * ASK), or asks to wait (TRYAGAIN, CLUSTERDOWN); the reply's text in the error. */
static rd_redirect_e rd_redirected(skv_cluster_redirect_t *to, skv_conn_t *c, redisReply **r, int n,
                                   apr_pool_t **tmp)
{
    int i;

    for (i = 0; i < n; i++) {
        const char *s = r[i]->type == REDIS_REPLY_ERROR && r[i]->str ? r[i]->str : "";

        if (!strncmp(s, "TRYAGAIN", 8) || !strncmp(s, "CLUSTERDOWN", 11)) {
            rd_set_err(c, "%s", s);
            return s[0] == 'T' ? RD_TRYAGAIN : RD_CLUSTERDOWN;
        }
        if (strncmp(s, "MOVED ", 6) && strncmp(s, "ASK ", 4)) {
            continue;
        }
        rd_set_err(c, "%s", s);
        if (!*tmp && apr_pool_create_unmanaged_ex(tmp, NULL, NULL) != APR_SUCCESS) {
            *tmp = NULL;
            return RD_DONE; /* the reply stands, as an error */
        }
        if (skv_cluster_redirect(to, r[i], c->cur->host, *tmp)) {
            return to->ask ? RD_ASK : RD_MOVED;
        }
    }
    return RD_DONE;
}

/*
 * A primary of a cluster failed @p rv: ask for a new map (a failover may have promoted its
 * replica), and say whether it names another primary for @p key, in @p l, and the commands may
 * go there: they never went out, or @p flags say they are safe to send twice. Not after a timeout
 * (the new map is for the next operations: this one had its time). The error stays the first.
 */
static int rd_reroute(rd_link_t **l, skv_conn_t *c, const char *key, apr_status_t rv, int flags)
{
    char err[sizeof(c->err)], host[sizeof((*l)->host)];
    apr_port_t port = (*l)->port;
    int again;

    if (rd_mode(c->sh) != RD_CLUSTER || (rv != APR_ECONNREFUSED && rv != APR_TIMEUP)) {
        return 0;
    }
    memcpy(err, c->err, sizeof(err));
    apr_cpystrn(host, (*l)->host, sizeof(host));
    again = rd_refresh(c) == APR_SUCCESS && rv == APR_ECONNREFUSED
            && (!c->sent || (flags & RD_IDEMPOTENT)) && rd_route(l, c, key) == APR_SUCCESS
            && ((*l)->port != port || strcmp((*l)->host, host));
    memcpy(c->err, err, sizeof(err));
    return again;
}

/*
 * Run the commands of @p q, which touch @p key only (NULL: none), where the key lives: rd_run()
 * on the link rd_route() picks, following MOVED (to the named primary, refreshing the map) and
 * ASK (ASKING before each command, on the named node, this once), waiting after TRYAGAIN and
 * CLUSTERDOWN (pauses doubling from RD_PAUSE_MIN, within the I/O timeout), and going to another
 * primary when one cannot be reached (rd_reroute()); at most RD_MAX_HOPS times in all.
 */
static apr_status_t rd_exec(redisReply **r, skv_conn_t *c, const char *key, const rd_cmds_t *q,
                            int flags)
{
    apr_time_t deadline = apr_time_now() + c->be->io_timeout;
    apr_interval_time_t pause = RD_PAUSE_MIN;
    skv_cluster_redirect_t to;
    rd_cmds_t aq = {0};
    apr_pool_t *tmp = NULL;
    rd_link_t *l;
    apr_status_t rv;
    int hops = 0, ask = 0;

    c->ops++;
    if ((rv = rd_route(&l, c, key)) != APR_SUCCESS) {
        return rv;
    }
    for (;;) {
        rd_redirect_e what;

        c->cur = l;
        rd_asking_free(&aq);
        if (ask && (rv = rd_asking(&aq, c, q)) != APR_SUCCESS) {
            break;
        }
        if ((rv = rd_run(r, c, ask ? &aq : q, flags)) != APR_SUCCESS) {
            if (hops++ < RD_MAX_HOPS && rd_reroute(&l, c, key, rv, flags)) {
                ask = 0;
                continue;
            }
            break;
        }
        if (ask) {
            rd_asking_replies(r, q->n);
        }
        if ((what = rd_redirected(&to, c, r, q->n, &tmp)) == RD_DONE) {
            break;
        }
        rd_free_replies(r, q->n);
        rv = APR_EGENERAL;
        ask = 0;
        if (what == RD_TRYAGAIN || what == RD_CLUSTERDOWN) {
            if (apr_time_now() + pause > deadline) {
                break;
            }
            apr_sleep(pause);
            pause = pause * 2 > RD_PAUSE_MAX ? RD_PAUSE_MAX : pause * 2;
            /* no primary for the slot: one may have been promoted meanwhile */
            if (what == RD_CLUSTERDOWN && rd_refresh(c) == APR_SUCCESS
                && (rv = rd_route(&l, c, key)) != APR_SUCCESS) {
                break;
            }
            continue;
        }
        if (hops++ >= RD_MAX_HOPS) {
            break;
        }
        if (what == RD_MOVED) {
            rd_refresh(c); /* the map is out of date; this command goes where MOVED says */
        }
        ask = what == RD_ASK;
        l = rd_link(c, to.host, to.port);
    }
    rd_asking_free(&aq);
    if (tmp) {
        apr_pool_destroy(tmp);
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

static apr_status_t rd_shared_cleanup(void *data)
{
    rd_shared_t *sh = data;

    if (sh->map) {
        apr_pool_destroy(sh->map->pool); /* no connection uses it: theirs are gone first */
        sh->map = NULL;
    }
    pthread_mutex_destroy(&sh->lock);
    return APR_SUCCESS;
}

static apr_status_t rd_share(void **shared, const skv_backend_t *be, apr_pool_t *p)
{
    rd_shared_t *sh = apr_pcalloc(p, sizeof(*sh));

    sh->be = be;
    if (pthread_mutex_init(&sh->lock, NULL)) {
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, sh, rd_shared_cleanup, apr_pool_cleanup_null);
    *shared = sh;
    return APR_SUCCESS;
}

static apr_status_t rd_open(skv_conn_t **out, const skv_backend_t *be, void *shared, apr_pool_t *p)
{
    const skv_server_t *s = &APR_ARRAY_IDX(be->servers, 0, skv_server_t);
    skv_conn_t *c = apr_pcalloc(p, sizeof(*c));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    apr_status_t rv;

    c->be = be;
    c->pool = p;
    *out = c; /* on failure too: error() says why */
    c->cur = c->link[0] = apr_pcalloc(p, sizeof(rd_link_t));
    rd_link_init(c->link[0], s->host, s->port);
    if (strlen(s->host) >= sizeof(c->link[0]->host)) {
        rd_set_err(c, "host name too long");
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(p, c, rd_cleanup, apr_pool_cleanup_null);
    /* a connection of no store knows the server for itself */
    if (!(c->sh = shared) && (rv = rd_share((void **)&c->sh, be, p)) != APR_SUCCESS) {
        rd_set_err(c, "out of memory");
        return rv;
    }
    if (!EVP_Digest(rd_cas_script, strlen(rd_cas_script), md, &mdlen, EVP_sha1(), NULL)) {
        rd_set_err(c, "SHA-1 not available");
        return APR_EGENERAL;
    }
    for (i = 0; i < mdlen && i < 20; i++) {
        apr_snprintf(c->script_sha + 2 * i, 3, "%02x", md[i]);
    }
    return APR_SUCCESS;
}

/* Whether two maps (each may be NULL) send every slot to the same node. */
static int rd_map_same(const rd_map_t *a, const rd_map_t *b)
{
    int i;

    if (!a || !b || a->m->n != b->m->n || memcmp(a->m->slot, b->m->slot, sizeof(a->m->slot))) {
        return a == b;
    }
    for (i = 0; i < a->m->n; i++) {
        if (a->m->nodes[i].port != b->m->nodes[i].port
            || strcmp(a->m->nodes[i].host, b->m->nodes[i].host)) {
            return 0;
        }
    }
    return 1;
}

/* refresh(): ask a cluster for its map on a connection of this call's own, so that the map is
 * never older than the caller's interval, even when no MOVED says it changed (a primary that
 * stopped answering and was replaced). The first operation of the process learns what the server
 * is; a server alone has nothing to refresh. */
static apr_status_t rd_refresh_shared(int *changed, const char **why, void *shared, apr_pool_t *p)
{
    rd_shared_t *sh = shared;
    rd_map_t *before, *after;
    skv_conn_t *c;
    apr_status_t rv;

    *changed = 0;
    if (rd_mode(sh) != RD_CLUSTER) {
        return rd_mode(sh) == RD_ALONE ? APR_ENOTIMPL : APR_SUCCESS;
    }
    if ((rv = rd_open(&c, sh->be, sh, p)) != APR_SUCCESS) {
        *why = apr_pstrdup(p, c->err);
        return rv;
    }
    before = rd_map_take(sh);
    rv = rd_refresh(c);
    after = rd_map_take(sh);
    if ((*changed = !rd_map_same(before, after)) && after) {
        *why = apr_psprintf(p, "a cluster of %d primaries", after->m->n);
    }
    rd_map_release(sh, before);
    rd_map_release(sh, after);
    if (rv == APR_SUCCESS || rv == APR_EBUSY) {
        return APR_SUCCESS;
    }
    *why = apr_pstrdup(p, c->err);
    return rv == APR_ENOTIMPL ? APR_EGENERAL : rv;
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
        rv = rd_exec(r, c, key, &q, RD_IDEMPOTENT);
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

/* Run one write command (SET ... NX or XX) on @p key. */
static apr_status_t rd_write(skv_conn_t *c, const char *key, rd_cmds_t *q, int flags)
{
    redisReply *r[RD_MAX_CMDS];
    apr_status_t rv = rd_exec(r, c, key, q, flags);

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
    return rv == APR_SUCCESS ? rd_write(c, key, &q, RD_WRITE) : rv;
}

static apr_status_t rd_replace(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                               apr_interval_time_t ttl)
{
    rd_cmds_t q = {0};
    apr_status_t rv;

    c->err[0] = '\0';
    rv = rd_cmd(c, &q, "SET %b %b PX %lld XX", key, strlen(key), data, len, rd_msec(ttl));
    if (rv == APR_SUCCESS) {
        rv = rd_write(c, key, &q, RD_WRITE | RD_IDEMPOTENT);
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
            rv = rd_exec(r, c, key, &q, RD_WRITE);
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

/* Run one command answering an integer (PEXPIRE, DEL) on @p key. */
static apr_status_t rd_int(skv_conn_t *c, const char *key, rd_cmds_t *q)
{
    redisReply *r[RD_MAX_CMDS];
    apr_status_t rv = rd_exec(r, c, key, q, RD_WRITE | RD_IDEMPOTENT);

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
    return rv == APR_SUCCESS ? rd_int(c, key, &q) : rv;
}

static apr_status_t rd_del(skv_conn_t *c, const char *key)
{
    rd_cmds_t q = {0};
    apr_status_t rv;

    c->err[0] = '\0';
    rv = rd_cmd(c, &q, "DEL %b", key, strlen(key));
    return rv == APR_SUCCESS ? rd_int(c, key, &q) : rv;
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

/* The replies to PING, INFO server, and ROLE (a server alone) or CLUSTER INFO (a cluster: a
 * text); APR_EAGAIN (with the error set) when a server alone is not the primary. */
static apr_status_t rd_ping_replies(const char **info, skv_conn_t *c, redisReply **r, apr_pool_t *p)
{
    const char *version, *role, *state, *size;

    if (r[0]->type != REDIS_REPLY_STATUS) {
        return rd_reply_fail(c, r[0]);
    }
    version = rd_info_field(r[1], "redis_version", p);
    if ((state = rd_info_field(r[2], "cluster_state", p))) {
        size = rd_info_field(r[2], "cluster_size", p);
        *info = apr_psprintf(p, "redis %s cluster %s, %s shards", version ? version : "?", state,
                             size ? size : "?");
        if (strcmp(state, "ok")) {
            rd_set_err(c, "the cluster's state is %s (CLUSTER INFO)", state);
            return APR_EGENERAL;
        }
        return APR_SUCCESS;
    }
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
 * fails: every write would. A cluster answers for itself (CLUSTER INFO, from the seed, which
 * may be a replica: the cluster's state is what tells whether every slot has a primary).
 */
static apr_status_t rd_ping(const char **info, skv_conn_t *c, apr_pool_t *p)
{
    redisReply *r[RD_MAX_CMDS];
    rd_link_t *seed;
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    c->err[0] = '\0';
    *info = "";
    if ((rv = rd_route(&seed, c, NULL)) != APR_SUCCESS) {
        return rv;
    }
    for (attempt = 0; attempt < 2; attempt++) {
        rd_cmds_t q = {0};

        if ((rv = rd_cmd(c, &q, "PING")) == APR_SUCCESS
            && (rv = rd_cmd(c, &q, "INFO server")) == APR_SUCCESS
            && (rv = rd_cmd(c, &q, rd_mode(c->sh) == RD_CLUSTER ? "CLUSTER INFO" : "ROLE"))
                   == APR_SUCCESS) {
            rv = rd_exec(r, c, NULL, &q, RD_IDEMPOTENT);
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
        rd_drop(seed);
    }
    return APR_EGENERAL;
}

static const char *rd_error(skv_conn_t *c)
{
    return c->err;
}

/* One server holds every key; a cluster has no down state of the store's: it fails a primary
 * that stops answering over to a replica itself, and the map then names the new one. */
static int rd_server(skv_conn_t *c, const char *key)
{
    (void)key;
    return rd_mode(c->sh) == RD_CLUSTER ? -1 : 0;
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
    "redis", rd_open, rd_get,   rd_add,    rd_cas,   rd_replace,        rd_touch,
    rd_del,  rd_ping, rd_error, rd_server, rd_share, rd_refresh_shared,
};
