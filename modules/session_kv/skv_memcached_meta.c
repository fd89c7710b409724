/* skv_memcached_meta — a memcached driver speaking memcached's meta protocol (1.6: mg, ms, md,
 * mn) to one server over lf_conn, see skv_driver.h; for memcacheds:// (ElastiCache Serverless
 * for Memcached, which is one endpoint and takes TLS only).
 *
 * Why a protocol client written by hand: libmemcached (Debian 12's 1.1.4) cannot speak TLS, and
 * has no way to carry its bytes over a socket of one's own; ElastiCache Serverless takes TLS only
 * and not the binary protocol libmemcached uses here, but every memcached 1.6 text and meta
 * command but "me" (AWS: "Supported Memcached commands"). This is the one place where the
 * project writes a protocol client by hand, because it must. The meta protocol
 * is small, line-based and has what the store needs in single commands: a value with its CAS
 * token and its remaining time to live in one mg (so no "<key>#t" expiry marker as
 * skv_memcached.c needs), add, replace and compare-and-set as ms modes, touch as mg with T.
 * libmemcached keeps serving memcached:// (plain TCP, several servers on a ketama ring).
 *
 *   get      mg <key> v c t              VA <len> c<cas> t<ttl>\r\n<value>\r\n | EN
 *   add      ms <key> <len> T<ttl> ME    HD | NS (exists)
 *   cas      ms <key> <len> T<ttl> C<cas> HD | EX (changed) | NF (gone)
 *   replace  ms <key> <len> T<ttl> MR    HD | NS (no such key)
 *   touch    mg <key> T<ttl>             HD | EN
 *   del      md <key>                    HD | NF
 *   ping     version + mn                VERSION <v>, MN (mn proves the meta protocol)
 * (memcached's doc/protocol.txt, "Meta Get", "Meta Set", "Meta Delete", "Meta No-Op"; every
 * reply above checked against memcached 1.6.18. A write refused as too large,
 * "SERVER_ERROR object too large for cache", is APR_ENOSPC; memcached then drops the stored item
 * it was to replace.)
 *
 * Connection handling is the redis driver's (skv_redis.c): one connection per connection object,
 * made on first use within the connect timeout (and the handshake with it), each read and write
 * bounded by the I/O timeout; after an I/O error, end of file, timeout or a reply that is not
 * the protocol's the connection is closed, so that a late or stray reply never meets the next
 * command, and the next call connects afresh. A kept connection is checked with
 * lf_conn_idle_alive() before a command goes into it; one that dies while the command is on its
 * way is retried once on a new connection when the command is safe to send twice (get, replace,
 * touch, del, ping; not add and cas, which might have been done).
 *
 * Hostile replies: a reply line is at most SKV_MCMETA_MAX_LINE bytes and printable, a value at
 * most SKV_MCMETA_MAX_VALUE: the read buffer grows to what a valid reply needs, no further.
 * Keys are checked before anything is sent (a space or a newline would start another command).
 * Pure core: APR and lf_conn.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <apr_strings.h>

#include "lf_log.h"
#include "skv_driver.h"
#include "skv_memcached_meta.h"

/* Longer TTLs are taken by memcached as an absolute Unix time. */
#define MM_MAX_RELATIVE_TTL (30 * 24 * 3600)
/* memcached's longest key */
#define MM_MAX_KEY 250
/* A read buffer larger than this is released after its operation, not kept with the connection */
#define MM_KEEP_BUFFER (64 * 1024)

/* mm_run() flags */
#define MM_IDEMPOTENT 1 /* may be sent twice: retried once when a reused connection was dead */

/* Each driver defines the connection object its own way; they never meet. */
struct skv_conn_t {
    const skv_backend_t *be;
    const char *server; /* "host:port" for messages */
    lf_conn_t *net;     /* NULL until connected, and after an error */
    char *rbuf;         /* what came from the server (malloc), rlen bytes of rcap */
    apr_size_t rlen, rcap;
    apr_pool_t *tmp; /* for the replies of the operations that get no pool: cleared by each */
    char err[256];   /* the last error, "" when none */
};

static void mm_set_err(skv_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mm_set_err(skv_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = apr_snprintf(c->err, sizeof(c->err), "memcached %s: ", c->server);
    va_start(ap, fmt);
    apr_vsnprintf(c->err + n, sizeof(c->err) - (apr_size_t)n, fmt, ap);
    va_end(ap);
}

static void mm_release_buffer(skv_conn_t *c)
{
    free(c->rbuf);
    c->rbuf = NULL;
    c->rlen = c->rcap = 0;
}

static void mm_drop(skv_conn_t *c)
{
    lf_conn_close(c->net);
    c->net = NULL;
    mm_release_buffer(c);
}

static apr_status_t mm_cleanup(void *data)
{
    mm_drop(data);
    return APR_SUCCESS;
}

/* --- replies ----------------------------------------------------------------------------- */

/* Parse the decimal digits of the @p n bytes at @p s into @p v (no sign, no overflow). */
static int mm_uint(apr_uint64_t *v, const char *s, apr_size_t n)
{
    apr_uint64_t x = 0;
    apr_size_t i;

    if (!n || n > 20) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || x > (APR_UINT64_MAX - (apr_uint64_t)(s[i] - '0')) / 10) {
            return 0;
        }
        x = x * 10 + (apr_uint64_t)(s[i] - '0');
    }
    *v = x;
    return 1;
}

/* Whether the line @p line (@p n bytes) starts with the word @p w (then a space or its end). */
static int mm_word(const char *line, apr_size_t n, const char *w)
{
    apr_size_t wl = strlen(w);

    return n >= wl && !memcmp(line, w, wl) && (n == wl || line[wl] == ' ');
}

/* What an error line says (ERROR, CLIENT_ERROR, SERVER_ERROR), or APR_SUCCESS when it is none. */
static apr_status_t mm_error_line(const char **err, const char *line, apr_size_t n, apr_pool_t *p)
{
    if (mm_word(line, n, "ERROR")) {
        *err = "ERROR: the server does not know the command (the meta protocol needs memcached "
               "1.6 or later)";
        return APR_EGENERAL;
    }
    if (mm_word(line, n, "CLIENT_ERROR") || mm_word(line, n, "SERVER_ERROR")) {
        *err = apr_pstrmemdup(p, line, n > 200 ? 200 : n);
        /* memcached 1.6: "SERVER_ERROR object too large for cache" (the value is swallowed) */
        return strstr(*err, "too large") ? APR_ENOSPC : APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The reply line at @p buf: its length without CRLF in @p n; APR_INCOMPLETE, or an error. */
static apr_status_t mm_line(apr_size_t *n, const char **err, const char *buf, apr_size_t len)
{
    apr_size_t i, max = len < SKV_MCMETA_MAX_LINE + 2 ? len : SKV_MCMETA_MAX_LINE + 2;

    for (i = 0; i < max; i++) {
        if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n') {
            *n = i;
            return APR_SUCCESS;
        }
        if (buf[i] == '\r' && i + 1 == len) {
            return APR_INCOMPLETE;
        }
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e) {
            *err = "protocol error: a reply line that is not text";
            return APR_EGENERAL;
        }
    }
    if (len >= SKV_MCMETA_MAX_LINE + 2) {
        *err = "protocol error: a reply line longer than 1024 bytes";
        return APR_EGENERAL;
    }
    return APR_INCOMPLETE;
}

/* An unexpected reply line, quoted (it is printable, at most 40 bytes of it). */
static const char *mm_unexpected(const char *line, apr_size_t n, apr_pool_t *p)
{
    return apr_psprintf(p, "protocol error: unexpected reply '%.*s%s'", (int)(n > 40 ? 40 : n),
                        line, n > 40 ? "..." : "");
}

/* The flags of a VA line (after its length): c<cas> (required), t<ttl> (-1: none). */
static apr_status_t mm_value_flags(skv_value_t *val, const char **err, const char *s,
                                   const char *end)
{
    int have_cas = 0;

    val->expires_in = -1;
    while (s < end) {
        const char *tok = s, *sp = memchr(s, ' ', (apr_size_t)(end - s));
        apr_size_t tl = (apr_size_t)((sp ? sp : end) - tok);
        apr_uint64_t v;

        s = sp ? sp + 1 : end;
        if (!tl) {
            continue;
        }
        if (tok[0] == 'c') {
            if (!mm_uint(&v, tok + 1, tl - 1)) {
                *err = "protocol error: a bad cas token";
                return APR_EGENERAL;
            }
            val->cas = v;
            have_cas = 1;
        }
        else if (tok[0] == 't') {
            if (tl == 3 && !memcmp(tok, "t-1", 3)) {
                val->expires_in = -1; /* no expiry */
            }
            else if (!mm_uint(&v, tok + 1, tl - 1)) {
                *err = "protocol error: a bad TTL";
                return APR_EGENERAL;
            }
            else {
                /* more seconds than microseconds can count: not known either */
                val->expires_in = v <= (apr_uint64_t)(APR_INT64_MAX / APR_USEC_PER_SEC)
                                      ? (apr_interval_time_t)v * APR_USEC_PER_SEC
                                      : -1;
            }
        }
        /* other flags (W, X, Z: recache hints) do not concern a session */
    }
    if (!have_cas) {
        *err = "protocol error: a value without its cas token";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* A VA reply of get(): the line is @p n bytes at @p buf. */
static apr_status_t mm_value(skv_value_t *val, apr_size_t *used, const char **err, const char *buf,
                             apr_size_t n, apr_size_t len, apr_pool_t *p)
{
    const char *s = buf + 3, *end = buf + n, *sp;
    apr_uint64_t vlen;
    apr_size_t total;
    apr_status_t rv;

    if (n < 4) { /* "VA" alone */
        *err = "protocol error: a value without its length";
        return APR_EGENERAL;
    }
    sp = memchr(s, ' ', (apr_size_t)(end - s));
    if (!mm_uint(&vlen, s, (apr_size_t)((sp ? sp : end) - s))) {
        *err = "protocol error: a value without its length";
        return APR_EGENERAL;
    }
    if (vlen > SKV_MCMETA_MAX_VALUE) {
        *err = "protocol error: a value larger than " SKV_MCMETA_MAX_VALUE_TEXT;
        return APR_EGENERAL;
    }
    if ((rv = mm_value_flags(val, err, sp ? sp + 1 : end, end)) != APR_SUCCESS) {
        return rv;
    }
    total = n + 2 + (apr_size_t)vlen + 2;
    if (len < total) {
        *used = total;
        return APR_INCOMPLETE;
    }
    if (buf[total - 2] != '\r' || buf[total - 1] != '\n') {
        *err = "protocol error: a value not ended by CRLF";
        return APR_EGENERAL;
    }
    val->data = apr_pstrmemdup(p, buf + n + 2, (apr_size_t)vlen);
    val->len = (apr_size_t)vlen;
    *used = total;
    return APR_SUCCESS;
}

/* Whether the line (@p n bytes) is the code @p code, with or without flags after it. */
static int mm_code(const char *line, apr_size_t n, const char *code)
{
    return mm_word(line, n, code);
}

apr_status_t skv_memcached_meta_reply(skv_value_t *val, const char **info, apr_size_t *used,
                                      const char **err, skv_mcmeta_op_e op, const char *buf,
                                      apr_size_t len, apr_pool_t *p)
{
    apr_size_t n, n2;
    apr_status_t rv;

    *err = "";
    *used = 0;
    if ((unsigned)op > SKV_MCMETA_PING) {
        *err = "not a meta operation";
        return APR_EINVAL;
    }
    if ((rv = mm_line(&n, err, buf, len)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = mm_error_line(err, buf, n, p)) != APR_SUCCESS) {
        *used = n + 2;
        return rv;
    }
    switch (op) {
    case SKV_MCMETA_GET:
        if (mm_code(buf, n, "EN")) {
            *used = n + 2;
            return APR_NOTFOUND;
        }
        if (mm_code(buf, n, "VA")) {
            return mm_value(val, used, err, buf, n, len, p);
        }
        break;
    case SKV_MCMETA_ADD:
    case SKV_MCMETA_CAS:
    case SKV_MCMETA_REPLACE:
    case SKV_MCMETA_TOUCH:
    case SKV_MCMETA_DEL:
        *used = n + 2;
        if (mm_code(buf, n, "HD")) {
            return APR_SUCCESS;
        }
        if (op == SKV_MCMETA_ADD && mm_code(buf, n, "NS")) {
            return APR_EEXIST;
        }
        /* a cas whose item is gone is NF; NS (not stored) is a conflict all the same */
        if (op == SKV_MCMETA_CAS && (mm_code(buf, n, "EX") || mm_code(buf, n, "NS"))) {
            return APR_EEXIST;
        }
        if ((op == SKV_MCMETA_CAS || op == SKV_MCMETA_DEL) && mm_code(buf, n, "NF")) {
            return APR_NOTFOUND;
        }
        if ((op == SKV_MCMETA_REPLACE && mm_code(buf, n, "NS"))
            || (op == SKV_MCMETA_TOUCH && mm_code(buf, n, "EN"))) {
            return APR_NOTFOUND;
        }
        *used = 0;
        break;
    case SKV_MCMETA_PING:
        if (!mm_word(buf, n, "VERSION") || n < 9) {
            break;
        }
        if ((rv = mm_line(&n2, err, buf + n + 2, len - n - 2)) != APR_SUCCESS) {
            return rv;
        }
        if ((rv = mm_error_line(err, buf + n + 2, n2, p)) != APR_SUCCESS) {
            *used = n + 2 + n2 + 2;
            return rv;
        }
        if (!mm_code(buf + n + 2, n2, "MN")) {
            *err = mm_unexpected(buf + n + 2, n2, p);
            return APR_EGENERAL;
        }
        *info = apr_psprintf(p, "memcached %.*s", (int)(n - 8 > 64 ? 64 : n - 8), buf + 8);
        *used = n + 2 + n2 + 2;
        return APR_SUCCESS;
    }
    *err = mm_unexpected(buf, n, p);
    return APR_EGENERAL;
}

int skv_memcached_meta_key_ok(const char *key)
{
    apr_size_t i;

    for (i = 0; key[i]; i++) {
        if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] > 0x7e || i >= MM_MAX_KEY) {
            return 0;
        }
    }
    return i > 0;
}

/* --- the connection ---------------------------------------------------------------------- */

/* The TTL memcached wants: whole seconds rounded up, at least 1, absolute past 30 days. */
static apr_int64_t mm_ttl(apr_interval_time_t ttl)
{
    apr_int64_t s = (ttl + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;

    if (s < 1) {
        s = 1;
    }
    return s > MM_MAX_RELATIVE_TTL ? apr_time_sec(apr_time_now()) + s : s;
}

/* The connection failed with @p rv (lf_conn's status): record why, drop it, and answer the
 * driver's status. */
static apr_status_t mm_net_fail(skv_conn_t *c, apr_status_t rv)
{
    mm_set_err(c, "%s", lf_conn_error(c->net));
    mm_drop(c);
    return rv == APR_EOF || rv == APR_ECONNRESET ? APR_ECONNREFUSED : rv;
}

static apr_status_t mm_connect(skv_conn_t *c)
{
    const skv_backend_t *be = c->be;
    const skv_server_t *s = &APR_ARRAY_IDX(be->servers, 0, skv_server_t);
    apr_status_t rv;

    if (be->tls && !be->tls_config) {
        mm_set_err(c, "no TLS configuration");
        return APR_EINVAL;
    }
    rv = lf_conn_open(&c->net, s->host, s->port, be->tls ? be->tls_config : NULL,
                      be->connect_timeout, be->io_timeout);
    if (!c->net) {
        mm_set_err(c, "out of memory");
        return APR_ENOMEM;
    }
    if (rv != APR_SUCCESS) {
        return mm_net_fail(c, rv);
    }
    if (lf_log_is_level(LF_LOG_TRACE1)) {
        const char *tls = lf_conn_tls_info(c->net);

        lf_log_perror(LF_LOG_MARK, LF_LOG_TRACE1, APR_SUCCESS,
                      LFLOGNO(01940) "memcached %s: connected%s%s%s", c->server, tls ? " (" : "",
                      tls ? tls : "", tls ? ")" : "");
    }
    return APR_SUCCESS;
}

/* Send the @p n buffers of @p iov (lf_conn_writev: together when they fit one TLS record). */
static apr_status_t mm_send(skv_conn_t *c, const struct iovec *iov, int n)
{
    apr_status_t rv = lf_conn_writev(c->net, iov, n);

    return rv == APR_SUCCESS ? rv : mm_net_fail(c, rv);
}

/* Read the reply of @p op from the connection. */
static apr_status_t mm_receive(skv_value_t *val, const char **info, skv_conn_t *c,
                               skv_mcmeta_op_e op, apr_pool_t *p)
{
    const char *err = "";
    apr_size_t used = 0, need, got;
    apr_status_t rv;

    c->rlen = 0;
    for (;;) {
        if (c->rlen) {
            rv = skv_memcached_meta_reply(val, info, &used, &err, op, c->rbuf, c->rlen, p);
            if (rv != APR_INCOMPLETE) {
                break;
            }
        }
        else {
            used = 0;
        }
        /* room for what the reply needs (a value's length is known from its line), or more */
        need = used > c->rlen ? used : c->rlen + 4096;
        if (need > c->rcap) {
            apr_size_t cap = c->rcap ? c->rcap : 16 * 1024;
            char *b;

            while (cap < need) {
                cap *= 2;
            }
            if (!(b = realloc(c->rbuf, cap))) {
                mm_set_err(c, "out of memory");
                mm_drop(c);
                return APR_ENOMEM;
            }
            c->rbuf = b;
            c->rcap = cap;
        }
        got = c->rcap - c->rlen;
        if ((rv = lf_conn_read(c->net, c->rbuf + c->rlen, &got)) != APR_SUCCESS) {
            return mm_net_fail(c, rv);
        }
        c->rlen += got;
    }
    if (*err) {
        mm_set_err(c, "%s", err);
    }
    if ((rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST) && used != c->rlen) {
        mm_set_err(c, "protocol error: more than the reply came");
        rv = APR_EGENERAL;
    }
    /* anything but an answer leaves the connection in doubt: a new one for the next call */
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND && rv != APR_EEXIST) {
        mm_drop(c);
    }
    else if (c->rcap > MM_KEEP_BUFFER) {
        mm_release_buffer(c);
    }
    c->rlen = 0;
    return rv;
}

/*
 * Send the @p n buffers of @p iov in one round trip and read the reply of @p op, connecting
 * first when needed. Heals the connection (see the top of this file): @p flags say whether a
 * retry is safe.
 */
static apr_status_t mm_run(skv_value_t *val, const char **info, skv_conn_t *c, skv_mcmeta_op_e op,
                           const struct iovec *iov, int n, int flags, apr_pool_t *p)
{
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        int reused;

        /* a pooled connection the server closed while it sat idle (a restart, an idle timeout,
         * a proxy): a command that is not safe to repeat must not go into it */
        if (c->net && !lf_conn_idle_alive(c->net)) {
            mm_drop(c);
        }
        reused = c->net != NULL;
        if (!c->net && (rv = mm_connect(c)) != APR_SUCCESS) {
            return rv;
        }
        rv = mm_send(c, iov, n);
        if (rv == APR_SUCCESS) {
            rv = mm_receive(val, info, c, op, p);
        }
        if (rv == APR_ECONNREFUSED && attempt == 0 && reused && (flags & MM_IDEMPOTENT)) {
            lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, rv,
                          LFLOGNO(01941) "%s (connecting again, retrying once)", c->err);
            continue;
        }
        if (rv == APR_SUCCESS || rv == APR_NOTFOUND || rv == APR_EEXIST) {
            c->err[0] = '\0'; /* healed, if a first attempt failed */
        }
        return rv;
    }
    return rv;
}

/* Check @p key before any command is made of it. */
static apr_status_t mm_key(skv_conn_t *c, const char *key)
{
    c->err[0] = '\0';
    if (!skv_memcached_meta_key_ok(key)) {
        mm_set_err(c, "a key memcached cannot take (empty, longer than 250 bytes, or not "
                      "printable ASCII without space)");
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t mm_open(skv_conn_t **out, const skv_backend_t *be, void *shared, apr_pool_t *p)
{
    const skv_server_t *s = &APR_ARRAY_IDX(be->servers, 0, skv_server_t);
    skv_conn_t *c = apr_pcalloc(p, sizeof(*c));

    (void)shared;
    c->be = be;
    *out = c;
    c->server =
        apr_psprintf(p, strchr(s->host, ':') ? "[%s]:%u" : "%s:%u", s->host, (unsigned)s->port);
    if (apr_pool_create(&c->tmp, p) != APR_SUCCESS) {
        mm_set_err(c, "out of memory");
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, c, mm_cleanup, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

static apr_status_t mm_get(skv_value_t *val, skv_conn_t *c, const char *key, apr_pool_t *p)
{
    struct iovec iov[3];
    apr_status_t rv;

    if ((rv = mm_key(c, key)) != APR_SUCCESS) {
        return rv;
    }
    iov[0].iov_base = (void *)"mg ";
    iov[0].iov_len = 3;
    iov[1].iov_base = (void *)key;
    iov[1].iov_len = strlen(key);
    iov[2].iov_base = (void *)" v c t\r\n";
    iov[2].iov_len = 8;
    return mm_run(val, NULL, c, SKV_MCMETA_GET, iov, 3, MM_IDEMPOTENT, p);
}

/* An ms of @p op: the mode or compare flag is @p mode ("ME", "MR", "C<cas>"). */
static apr_status_t mm_store(skv_conn_t *c, skv_mcmeta_op_e op, const char *key, const char *data,
                             apr_size_t len, apr_interval_time_t ttl, const char *mode, int flags)
{
    char head[MM_MAX_KEY + 128];
    struct iovec iov[3];
    apr_status_t rv;

    if ((rv = mm_key(c, key)) != APR_SUCCESS) {
        return rv;
    }
    iov[0].iov_base = head;
    iov[0].iov_len = (apr_size_t)apr_snprintf(
        head, sizeof(head), "ms %s %" APR_SIZE_T_FMT " T%" APR_INT64_T_FMT " %s\r\n", key, len,
        mm_ttl(ttl), mode);
    iov[1].iov_base = (void *)data;
    iov[1].iov_len = len;
    iov[2].iov_base = (void *)"\r\n";
    iov[2].iov_len = 2;
    apr_pool_clear(c->tmp);
    return mm_run(NULL, NULL, c, op, iov, 3, flags, c->tmp);
}

static apr_status_t mm_add(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                           apr_interval_time_t ttl)
{
    return mm_store(c, SKV_MCMETA_ADD, key, data, len, ttl, "ME", 0);
}

static apr_status_t mm_cas(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                           apr_interval_time_t ttl, apr_uint64_t cas)
{
    char mode[32];

    apr_snprintf(mode, sizeof(mode), "C%" APR_UINT64_T_FMT, cas);
    return mm_store(c, SKV_MCMETA_CAS, key, data, len, ttl, mode, 0);
}

static apr_status_t mm_replace(skv_conn_t *c, const char *key, const char *data, apr_size_t len,
                               apr_interval_time_t ttl)
{
    return mm_store(c, SKV_MCMETA_REPLACE, key, data, len, ttl, "MR", MM_IDEMPOTENT);
}

static apr_status_t mm_touch(skv_conn_t *c, const char *key, apr_interval_time_t ttl)
{
    char cmd[MM_MAX_KEY + 64];
    struct iovec iov[1];
    apr_status_t rv;

    if ((rv = mm_key(c, key)) != APR_SUCCESS) {
        return rv;
    }
    iov[0].iov_base = cmd;
    iov[0].iov_len = (apr_size_t)apr_snprintf(cmd, sizeof(cmd), "mg %s T%" APR_INT64_T_FMT "\r\n",
                                              key, mm_ttl(ttl));
    apr_pool_clear(c->tmp);
    return mm_run(NULL, NULL, c, SKV_MCMETA_TOUCH, iov, 1, MM_IDEMPOTENT, c->tmp);
}

static apr_status_t mm_del(skv_conn_t *c, const char *key)
{
    char cmd[MM_MAX_KEY + 16];
    struct iovec iov[1];
    apr_status_t rv;

    if ((rv = mm_key(c, key)) != APR_SUCCESS) {
        return rv;
    }
    iov[0].iov_base = cmd;
    iov[0].iov_len = (apr_size_t)apr_snprintf(cmd, sizeof(cmd), "md %s\r\n", key);
    apr_pool_clear(c->tmp);
    return mm_run(NULL, NULL, c, SKV_MCMETA_DEL, iov, 1, MM_IDEMPOTENT, c->tmp);
}

static apr_status_t mm_ping(const char **info, skv_conn_t *c, apr_pool_t *p)
{
    struct iovec iov[1];

    c->err[0] = '\0';
    *info = "";
    iov[0].iov_base = (void *)"version\r\nmn\r\n";
    iov[0].iov_len = 13;
    return mm_run(NULL, info, c, SKV_MCMETA_PING, iov, 1, MM_IDEMPOTENT, p);
}

static const char *mm_error(skv_conn_t *c)
{
    return c->err;
}

/* One server holds every key. */
static int mm_server(skv_conn_t *c, const char *key)
{
    (void)c;
    (void)key;
    return 0;
}

const skv_driver_t skv_driver_memcached_meta = {
    "memcached", mm_open, mm_get,   mm_add,    mm_cas, mm_replace, mm_touch,
    mm_del,      mm_ping, mm_error, mm_server, NULL,   NULL,
};
