/* skv_discovery — ElastiCache Memcached auto-discovery answers, see skv_discovery.h. */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "lf_parse.h"
#include "skv_discovery.h"
#include "skv_driver.h"

#define TRAILER     "\r\nEND\r\n"
#define TRAILER_LEN 7
#define HEADER      "CONFIG cluster "

/* @p s (@p len bytes) for a message: at most 60 bytes, printable ASCII only. */
static const char *shown(const char *s, apr_size_t len, apr_pool_t *p)
{
    char *out = apr_pstrmemdup(p, s, len > 60 ? 60 : len);
    char *c;

    for (c = out; *c; c++) {
        if (!apr_isprint(*c)) {
            *c = '?';
        }
    }
    return out;
}

/* A decimal number of @p len bytes at @p s, within 0..max; -1 when it is not one. */
static apr_int64_t number(const char *s, apr_size_t len, apr_int64_t max)
{
    apr_int64_t v = 0;
    apr_size_t i;

    if (!len || len > 18) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isdigit(s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* The nodes line: "host|ip|port" separated by spaces. */
static const char *parse_nodes(apr_array_header_t *nodes, const char *s, apr_size_t len,
                               apr_pool_t *p)
{
    const char *end = s + len;

    while (s < end) {
        const char *sp = memchr(s, ' ', (apr_size_t)(end - s)), *bar1, *bar2;
        apr_size_t n = sp ? (apr_size_t)(sp - s) : (apr_size_t)(end - s);
        skv_discovery_node_t *node;
        apr_int64_t port;

        if (n) {
            bar1 = memchr(s, '|', n);
            bar2 = bar1 ? memchr(bar1 + 1, '|', n - (apr_size_t)(bar1 + 1 - s)) : NULL;
            if (!bar2 || memchr(bar2 + 1, '|', n - (apr_size_t)(bar2 + 1 - s))
                || (bar1 == s && bar2 == bar1 + 1)
                || (bar1 > s && !lf_parse_is_host(s, (apr_size_t)(bar1 - s)))
                || (bar2 > bar1 + 1 && !lf_parse_is_host(bar1 + 1, (apr_size_t)(bar2 - bar1 - 1)))
                || (port = number(bar2 + 1, n - (apr_size_t)(bar2 + 1 - s), 65535)) < 1) {
                return apr_psprintf(p, "node '%s' is not host|ip|port", shown(s, n, p));
            }
            node = apr_array_push(nodes);
            node->host = bar1 > s ? apr_pstrmemdup(p, s, (apr_size_t)(bar1 - s)) : NULL;
            node->ip =
                bar2 > bar1 + 1 ? apr_pstrmemdup(p, bar1 + 1, (apr_size_t)(bar2 - bar1 - 1)) : NULL;
            node->port = (apr_port_t)port;
        }
        s += n + 1;
    }
    return nodes->nelts ? NULL : "no node";
}

apr_status_t skv_discovery_parse(skv_discovery_t *out, apr_size_t *used, const char **why,
                                 const char *text, apr_size_t len, apr_pool_t *p)
{
    const char *eol = memchr(text, '\n', len), *payload, *nl, *sp;
    apr_int64_t bytes;
    apr_size_t hlen, avail;

    *used = 0;
    if (!eol) {
        if (len >= SKV_DISCOVERY_MAX) {
            *why = "no answer line";
            return APR_EINVAL;
        }
        return APR_SUCCESS; /* read more */
    }
    hlen = (apr_size_t)(eol - text);
    if (!hlen || text[hlen - 1] != '\r' || hlen < sizeof(HEADER) - 1
        || memcmp(text, HEADER, sizeof(HEADER) - 1)) {
        *why = apr_psprintf(p, "not an answer to config get cluster: '%s'",
                            shown(text, hlen && text[hlen - 1] == '\r' ? hlen - 1 : hlen, p));
        return APR_EINVAL;
    }
    /* "<flags> <bytes>\r" */
    sp = memchr(text + sizeof(HEADER) - 1, ' ', hlen - (sizeof(HEADER) - 1));
    if (!sp
        || number(text + sizeof(HEADER) - 1, (apr_size_t)(sp - text) - (sizeof(HEADER) - 1),
                  APR_INT32_MAX)
               < 0
        || (bytes = number(sp + 1, (apr_size_t)(eol - 1 - sp - 1), SKV_DISCOVERY_MAX)) < 0) {
        *why = apr_psprintf(p, "bad header '%s'", shown(text, hlen - 1, p));
        return APR_EINVAL;
    }
    payload = eol + 1;
    avail = len - (hlen + 1);
    if (avail < (apr_size_t)bytes + TRAILER_LEN) {
        return APR_SUCCESS; /* read more */
    }
    if (memcmp(payload + bytes, TRAILER, TRAILER_LEN)) {
        *why = "the answer does not end where its byte count says";
        return APR_EINVAL;
    }
    /* "<version>\n<nodes>\n" */
    if (!bytes || payload[bytes - 1] != '\n' || !(nl = memchr(payload, '\n', (apr_size_t)bytes))
        || nl == payload + bytes - 1
        || (out->version = number(payload, (apr_size_t)(nl - payload), APR_INT64_MAX / 10)) < 0) {
        *why = "no version line and nodes line";
        return APR_EINVAL;
    }
    out->nodes = apr_array_make(p, 4, sizeof(skv_discovery_node_t));
    if ((*why = parse_nodes(out->nodes, nl + 1, (apr_size_t)(payload + bytes - 1 - (nl + 1)), p))) {
        return APR_EINVAL;
    }
    *used = hlen + 1 + (apr_size_t)bytes + TRAILER_LEN;
    return APR_SUCCESS;
}

static int server_cmp(const void *a, const void *b)
{
    const skv_server_t *x = a, *y = b;
    int c = strcmp(x->host, y->host);

    return c ? c : (int)x->port - (int)y->port;
}

apr_status_t skv_discovery_servers(apr_array_header_t **servers, const char **why,
                                   const skv_discovery_t *d, int max, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, d->nodes->nelts, sizeof(skv_server_t));
    skv_server_t *s;
    int i, n = 0;

    for (i = 0; i < d->nodes->nelts; i++) {
        const skv_discovery_node_t *node = &APR_ARRAY_IDX(d->nodes, i, skv_discovery_node_t);

        s = apr_array_push(out);
        s->host = node->ip ? node->ip : node->host;
        s->port = node->port;
    }
    qsort(out->elts, (apr_size_t)out->nelts, sizeof(skv_server_t), server_cmp);
    s = (skv_server_t *)out->elts;
    for (i = 0; i < out->nelts; i++) {
        if (!n || server_cmp(&s[n - 1], &s[i])) {
            s[n++] = s[i];
        }
    }
    out->nelts = n;
    if (n > max) {
        *why = apr_psprintf(p, "%d nodes, more than the %d taken", n, max);
        return APR_EINVAL;
    }
    *servers = out;
    return APR_SUCCESS;
}

int skv_discovery_same(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int i;

    if (a->nelts != b->nelts) {
        return 0;
    }
    for (i = 0; i < a->nelts; i++) {
        if (server_cmp(&APR_ARRAY_IDX(a, i, skv_server_t), &APR_ARRAY_IDX(b, i, skv_server_t))) {
            return 0;
        }
    }
    return 1;
}

const char *skv_discovery_describe(const apr_array_header_t *servers, int shown, apr_pool_t *p)
{
    const char *out = "";
    int i;

    for (i = 0; i < servers->nelts && i < shown; i++) {
        const skv_server_t *s = &APR_ARRAY_IDX(servers, i, skv_server_t);

        out = apr_psprintf(p, strchr(s->host, ':') ? "%s%s[%s]:%u" : "%s%s%s:%u", out,
                           i ? ", " : "", s->host, (unsigned)s->port);
    }
    if (servers->nelts > shown) {
        out = apr_psprintf(p, "%s and %d more", out, servers->nelts - shown);
    }
    return out;
}
