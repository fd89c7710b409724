/* skv_backend — backend URLs (see skv_backend.h).
 *
 * A hand-written parser rather than apr_uri_parse(): each kind of mistake gets its own message,
 * and the user information is cut at the last '@' so that a password holding an unescaped '@'
 * or '/' still parses, instead of leaking into a "bad host" message.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "lf_parse.h"
#include "skv_backend.h"
#include "skv_mysql.h"

/* The longest scheme quoted back in an error (longer ones are not quoted at all). */
#define SKV_SCHEME_MAX 16

#define SKV_HINT_URL "use memcached://host:port or redis://host:port"

/* Whether the @p len bytes at @p s look like a URL scheme, safe to quote in a message. */
static int scheme_plain(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (!len || len > SKV_SCHEME_MAX || !apr_isalpha(s[0])) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if (!apr_isalnum(s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.') {
            return 0;
        }
    }
    return 1;
}

/* Whether @p s (length @p len) is a plausible host name or IPv4 address. */
static int host_plain(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (!apr_isalnum(s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_') {
            return 0;
        }
    }
    return len > 0;
}

/* Whether @p s (length @p len) is a plausible IPv6 address (without brackets). */
static int host_ipv6(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (!apr_isxdigit(s[i]) && s[i] != ':' && s[i] != '.') {
            return 0;
        }
    }
    return memchr(s, ':', len) != NULL;
}

/*
 * Parse the @p len bytes at @p s as "host", "host:port" or "[v6]:port" into @p srv.
 * Returns NULL, or why not (from @p p). The text holds no secret: callers pass what follows
 * the user information.
 */
static const char *parse_server(skv_server_t *srv, const char *s, apr_size_t len,
                                apr_port_t default_port, apr_pool_t *p)
{
    const char *host = s, *end = s + len, *port = NULL;
    apr_size_t hlen;
    int n;

    if (!len) {
        return "no host";
    }
    if (*s == '[') {
        const char *close = memchr(s, ']', len);

        if (!close) {
            return apr_psprintf(p, "unclosed '[' in '%.*s'", (int)len, s);
        }
        host = s + 1;
        hlen = (apr_size_t)(close - host);
        if (!host_ipv6(host, hlen)) {
            return apr_psprintf(p, "bad IPv6 address in '%.*s'", (int)len, s);
        }
        if (close + 1 < end) {
            if (close[1] != ':') {
                return apr_psprintf(p, "bad server '%.*s'", (int)len, s);
            }
            port = close + 2;
        }
    }
    else {
        const char *colon = memchr(s, ':', len);

        hlen = colon ? (apr_size_t)(colon - s) : len;
        if (colon && memchr(colon + 1, ':', (apr_size_t)(end - colon - 1))) {
            return apr_psprintf(p, "IPv6 addresses go in brackets: '[%.*s]'", (int)len, s);
        }
        if (!hlen) {
            return apr_psprintf(p, "no host in '%.*s'", (int)len, s);
        }
        if (!host_plain(host, hlen)) {
            return apr_psprintf(p, "bad host name in '%.*s'", (int)len, s);
        }
        port = colon ? colon + 1 : NULL;
    }
    if (port
        && lf_parse_int(&n, apr_pstrndup(p, port, (apr_size_t)(end - port)), 1, 65535)
               != APR_SUCCESS) {
        return apr_psprintf(p, "bad port in '%.*s'", (int)len, s);
    }
    srv->host = apr_pstrndup(p, host, hlen);
    srv->port = port ? (apr_port_t)n : default_port;
    return NULL;
}

/* The value of the hex digit @p c. */
static int hex_value(char c)
{
    return apr_isdigit(c) ? c - '0' : apr_tolower(c) - 'a' + 10;
}

/* Decode the percent escapes of the @p len bytes at @p s; NULL when one is bad or gives NUL. */
static const char *percent_decode(const char *s, apr_size_t len, apr_pool_t *p)
{
    char *out = apr_palloc(p, len + 1), *o = out, c;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        if (i + 2 >= len || !apr_isxdigit(s[i + 1]) || !apr_isxdigit(s[i + 2])) {
            return NULL;
        }
        c = (char)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
        if (!c) {
            return NULL;
        }
        *o++ = c;
        i += 2;
    }
    *o = '\0';
    return out;
}

static const char *parse_memcached(skv_backend_t *be, const char *rest, apr_pool_t *p)
{
    apr_size_t len = strlen(rest), n;
    const char *list, *comma;

    if (strchr(rest, '@')) {
        return be->tls ? "memcacheds takes no user or password"
                       : "memcached takes no user or password";
    }
    if (len && rest[len - 1] == '/') {
        --len; /* "memcached://host:port/" is fine */
    }
    if (memchr(rest, '?', len) || memchr(rest, '#', len)) {
        return "no query (?...) or fragment (#...) in a backend URL";
    }
    if (memchr(rest, '/', len)) {
        return be->tls ? "memcacheds takes no path" : "memcached takes no path";
    }
    if (!len) {
        return be->tls ? "no server (memcacheds://host[:port])"
                       : "no server (memcached://host:port[,host:port...])";
    }
    if (be->tls && memchr(rest, ',', len)) {
        return "memcacheds takes one server";
    }
    be->servers = apr_array_make(p, 2, sizeof(skv_server_t));
    list = apr_pstrndup(p, rest, len);
    do {
        const char *why;

        comma = strchr(list, ',');
        n = comma ? (apr_size_t)(comma - list) : strlen(list);
        if (!n) {
            return "empty server in the list";
        }
        why = parse_server(apr_array_push(be->servers), list, n, SKV_BACKEND_MEMCACHED_PORT, p);
        if (why) {
            return why;
        }
        list += n + 1;
    } while (comma);
    return NULL;
}

/* The user information of a redis URL: the @p len bytes at @p info, before the last '@'. */
static const char *parse_redis_auth(skv_backend_t *be, const char *info, apr_size_t len,
                                    apr_pool_t *p)
{
    const char *colon = memchr(info, ':', len), *scheme = be->tls ? "rediss" : "redis";
    const char *user, *password;

    if (!colon) {
        /* a user alone: the password comes from SessionKVPassword. The display hides the user
         * part all the same, in case it is a password written without its ':' */
        user = percent_decode(info, len, p);
        if (!user) {
            return "bad percent escape in the user";
        }
        if (!*user) {
            return "nothing before '@'";
        }
        be->user = user;
        be->display = apr_psprintf(p, "%s://***@%s", scheme, info + len + 1);
        return NULL;
    }
    user = percent_decode(info, (apr_size_t)(colon - info), p);
    password = percent_decode(colon + 1, (apr_size_t)(info + len - colon - 1), p);
    if (!user || !password) {
        return "bad percent escape in the user or password";
    }
    if (!*password) {
        return "empty password";
    }
    be->user = *user ? user : NULL;
    be->password = password;
    be->display =
        apr_psprintf(p, "%s://%.*s:***@%s", scheme, (int)(colon - info), info, info + len + 1);
    return NULL;
}

static const char *parse_redis(skv_backend_t *be, const char *rest, apr_pool_t *p)
{
    const char *at = strrchr(rest, '@'), *hostpart = at ? at + 1 : rest, *why;
    apr_size_t hlen = strcspn(hostpart, "/");

    if (at && (why = parse_redis_auth(be, rest, (apr_size_t)(at - rest), p))) {
        return why;
    }
    if (strpbrk(hostpart, "?#")) {
        return "no query (?...) or fragment (#...) in a backend URL";
    }
    if (memchr(hostpart, ',', hlen)) {
        return "redis takes one server";
    }
    be->servers = apr_array_make(p, 1, sizeof(skv_server_t));
    why = parse_server(apr_array_push(be->servers), hostpart, hlen, SKV_BACKEND_REDIS_PORT, p);
    if (why) {
        return why;
    }
    if (hostpart[hlen] == '/' && hostpart[hlen + 1]
        && lf_parse_int(&be->db, hostpart + hlen + 1, 0, 15) != APR_SUCCESS) {
        return "db must be 0-15";
    }
    return NULL;
}

/* Whether @p s is a plain MySQL identifier: letters, digits, '_' and '$', at most 64 bytes, so
 * that it can be written into SQL as it is (and quoted in a message). */
static int sql_name(const char *s)
{
    apr_size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$");

    return n && n <= 64 && !s[n];
}

/* mysql[s]://user[:password]@host[:port]/database[/table] */
static const char *parse_mysql(skv_backend_t *be, const char *rest, apr_pool_t *p)
{
    const char *at = strrchr(rest, '@'), *hostpart = at ? at + 1 : rest, *colon, *why;
    const char *scheme = be->tls ? "mysqls" : "mysql", *path, *slash;
    apr_size_t hlen = strcspn(hostpart, "/");

    if (!at) {
        return "no user (mysql://user@host/database)";
    }
    colon = memchr(rest, ':', (apr_size_t)(at - rest));
    be->user = percent_decode(rest, (apr_size_t)((colon ? colon : at) - rest), p);
    if (!be->user) {
        return "bad percent escape in the user or password";
    }
    if (!*be->user) {
        return "no user (mysql://user@host/database)";
    }
    if (colon) {
        be->password = percent_decode(colon + 1, (apr_size_t)(at - colon - 1), p);
        if (!be->password) {
            return "bad percent escape in the user or password";
        }
        if (!*be->password) {
            return "empty password";
        }
    }
    if (strpbrk(hostpart, "?#")) {
        return "no query (?...) or fragment (#...) in a backend URL";
    }
    if (memchr(hostpart, ',', hlen)) {
        return "mysql takes one server";
    }
    be->servers = apr_array_make(p, 1, sizeof(skv_server_t));
    why = parse_server(apr_array_push(be->servers), hostpart, hlen, SKV_MYSQL_PORT, p);
    if (why) {
        return why;
    }
    path = hostpart[hlen] == '/' ? hostpart + hlen + 1 : "";
    slash = strchr(path, '/');
    be->database = slash ? apr_pstrndup(p, path, (apr_size_t)(slash - path)) : path;
    be->table = slash ? slash + 1 : SKV_MYSQL_TABLE;
    if (!*be->database) {
        return "no database (mysql://user@host/database)";
    }
    if (!sql_name(be->database) || !sql_name(be->table)) {
        return "database and table names are letters, digits, '_' and '$' (at most 64)";
    }
    be->display = apr_psprintf(p, "%s://%.*s%s@%s", scheme, (int)((colon ? colon : at) - rest),
                               rest, colon ? ":***" : "", hostpart);
    return NULL;
}

apr_status_t skv_backend_parse(skv_backend_t **out, const char **why, const char *url,
                               apr_pool_t *p)
{
    skv_backend_t *be = apr_pcalloc(p, sizeof(*be));
    const char *sep = url ? strstr(url, "://") : NULL, *rest, *err;
    apr_size_t slen;

    if (!sep || !scheme_plain(url, (apr_size_t)(sep - url))) {
        *why = "not a URL (" SKV_HINT_URL ")";
        return APR_EINVAL;
    }
    slen = (apr_size_t)(sep - url);
    rest = sep + 3;
    be->display = apr_pstrdup(p, url);
    be->connect_timeout = SKV_BACKEND_CONNECT_TIMEOUT;
    be->io_timeout = SKV_BACKEND_IO_TIMEOUT;
    be->retry_interval = SKV_BACKEND_RETRY_INTERVAL;
    if (slen == 9 && !strncasecmp(url, "memcached", slen)) {
        be->type = SKV_BACKEND_MEMCACHED;
        err = parse_memcached(be, rest, p);
    }
    else if (slen == 10 && !strncasecmp(url, "memcacheds", slen)) {
        be->type = SKV_BACKEND_MEMCACHED;
        be->tls = 1;
        err = parse_memcached(be, rest, p);
    }
    else if (slen == 5 && !strncasecmp(url, "redis", slen)) {
        be->type = SKV_BACKEND_REDIS;
        err = parse_redis(be, rest, p);
    }
    else if (slen == 6 && !strncasecmp(url, "rediss", slen)) {
        be->type = SKV_BACKEND_REDIS;
        be->tls = 1;
        err = parse_redis(be, rest, p);
    }
    else if (slen == 5 && !strncasecmp(url, "mysql", slen)) {
        be->type = SKV_BACKEND_MYSQL;
        err = parse_mysql(be, rest, p);
    }
    else if (slen == 6 && !strncasecmp(url, "mysqls", slen)) {
        be->type = SKV_BACKEND_MYSQL;
        be->tls = 1;
        err = parse_mysql(be, rest, p);
    }
    else {
        err = apr_psprintf(p,
                           "unknown scheme '%.*s' (use memcached://, memcacheds://, redis://, "
                           "rediss://, mysql:// or mysqls://)",
                           (int)slen, url);
    }
    if (err) {
        *why = err;
        return APR_EINVAL;
    }
    *out = be;
    return APR_SUCCESS;
}

const skv_driver_t *skv_backend_driver(const skv_backend_t *be)
{
    switch (be->type) {
    case SKV_BACKEND_MEMCACHED:
        /* libmemcached has no TLS: the meta protocol over lf_conn instead */
        return be->tls ? &skv_driver_memcached_meta : &skv_driver_memcached;
    case SKV_BACKEND_REDIS:
        return &skv_driver_redis;
    case SKV_BACKEND_MYSQL:
        return &skv_driver_mysql;
    }
    return NULL;
}
