/* skv_cluster — key slots, the slot map and redirections of a Redis Cluster, see skv_cluster.h.
 *
 * The CRC16 is written here: none of the libraries the project uses has the XMODEM variant
 * (zlib has CRC32, OpenSSL none, hiredis 0.14 no cluster support at all). A key is short (a
 * prefix and 43 characters of hash), so a bit at a time costs nothing worth a table.
 */
#include <string.h>

#include <apr_strings.h>
#include <hiredis/hiredis.h>

#include "lf_parse.h"
#include "skv_cluster.h"

/* More nodes than ElastiCache allows (500 shards), well within the map's short indexes. */
#define SKV_CLUSTER_MAX_NODES 1024

static unsigned crc16_xmodem(const unsigned char *s, apr_size_t len)
{
    unsigned crc = 0;
    apr_size_t i;
    int b;

    for (i = 0; i < len; i++) {
        crc ^= (unsigned)s[i] << 8;
        for (b = 0; b < 8; b++) {
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
        }
    }
    return crc;
}

unsigned skv_cluster_slot(const char *key, apr_size_t len)
{
    const char *open = memchr(key, '{', len), *close;

    if (open) {
        apr_size_t rest = len - (apr_size_t)(open - key) - 1;

        close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) {
            key = open + 1;
            len = (apr_size_t)(close - open - 1);
        }
    }
    return crc16_xmodem((const unsigned char *)key, len) % SKV_CLUSTER_SLOTS;
}

/* The index of @p host : @p port in @p map, added when new; -1 when there are too many. */
static int map_node(skv_cluster_map_t *map, apr_array_header_t *nodes, const char *host,
                    apr_port_t port)
{
    skv_cluster_node_t *n;
    int i;

    for (i = 0; i < nodes->nelts; i++) {
        n = &APR_ARRAY_IDX(nodes, i, skv_cluster_node_t);
        if (n->port == port && !strcmp(n->host, host)) {
            return i;
        }
    }
    if (nodes->nelts >= SKV_CLUSTER_MAX_NODES) {
        return -1;
    }
    n = apr_array_push(nodes);
    n->host = host;
    n->port = port;
    map->nodes = (skv_cluster_node_t *)nodes->elts;
    map->n = nodes->nelts;
    return i;
}

/* The host a node entry of CLUSTER SLOTS names: its "hostname" metadata, else its endpoint,
 * else @p from_host; NULL when the entry is malformed. */
static const char *node_host(const redisReply *node, const char *from_host, apr_pool_t *p)
{
    const redisReply *ep = node->element[0];
    apr_size_t i;

    if (node->elements >= 4 && node->element[3]->type == REDIS_REPLY_ARRAY) {
        const redisReply *meta = node->element[3];

        for (i = 0; i + 1 < meta->elements; i += 2) {
            const redisReply *k = meta->element[i], *v = meta->element[i + 1];

            if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING
                && !strcmp(k->str, "hostname") && lf_parse_is_host(v->str, v->len)) {
                return apr_pstrmemdup(p, v->str, v->len);
            }
        }
    }
    if (ep->type != REDIS_REPLY_STRING) {
        return NULL;
    }
    if (ep->len == 0 || (ep->len == 1 && ep->str[0] == '?')) {
        return from_host;
    }
    return lf_parse_is_host(ep->str, ep->len) ? apr_pstrmemdup(p, ep->str, ep->len) : NULL;
}

apr_status_t skv_cluster_map_parse(skv_cluster_map_t **out, const char **why, const redisReply *r,
                                   const char *from_host, apr_pool_t *p)
{
    skv_cluster_map_t *map = apr_palloc(p, sizeof(*map));
    apr_array_header_t *nodes = apr_array_make(p, 4, sizeof(skv_cluster_node_t));
    apr_size_t i;

    if (r->type == REDIS_REPLY_ERROR) {
        *why = apr_psprintf(p, "CLUSTER SLOTS: %s", r->str);
        return APR_EINVAL;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        *why = "CLUSTER SLOTS: no slot ranges";
        return APR_EINVAL;
    }
    memset(map, 0, sizeof(*map));
    memset(map->slot, 0xff, sizeof(map->slot)); /* -1: no node */
    for (i = 0; i < r->elements; i++) {
        const redisReply *range = r->element[i], *node;
        const char *host;
        long long start, end, s;
        int idx;

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3
            || range->element[0]->type != REDIS_REPLY_INTEGER
            || range->element[1]->type != REDIS_REPLY_INTEGER
            || range->element[2]->type != REDIS_REPLY_ARRAY) {
            *why = apr_psprintf(p, "CLUSTER SLOTS: range %lu is not start, end, node",
                                (unsigned long)i);
            return APR_EINVAL;
        }
        start = range->element[0]->integer;
        end = range->element[1]->integer;
        if (start < 0 || end < start || end >= SKV_CLUSTER_SLOTS) {
            *why = apr_psprintf(
                p, "CLUSTER SLOTS: range %lu has slots %" APR_INT64_T_FMT "-%" APR_INT64_T_FMT,
                (unsigned long)i, (apr_int64_t)start, (apr_int64_t)end);
            return APR_EINVAL;
        }
        node = range->element[2];
        if (node->elements < 2 || node->element[1]->type != REDIS_REPLY_INTEGER
            || node->element[1]->integer < 1 || node->element[1]->integer > 65535
            || !(host = node_host(node, from_host, p))) {
            *why =
                apr_psprintf(p, "CLUSTER SLOTS: range %lu has no usable primary", (unsigned long)i);
            return APR_EINVAL;
        }
        if ((idx = map_node(map, nodes, host, (apr_port_t)node->element[1]->integer)) < 0) {
            *why = "CLUSTER SLOTS: too many nodes";
            return APR_EINVAL;
        }
        for (s = start; s <= end; s++) {
            map->slot[s] = (short)idx;
        }
    }
    *out = map;
    return APR_SUCCESS;
}

int skv_cluster_redirect(skv_cluster_redirect_t *out, const redisReply *r, const char *from_host,
                         apr_pool_t *p)
{
    const char *s, *sp, *colon;
    int slot, port;

    if (r->type != REDIS_REPLY_ERROR || !r->str) {
        return 0;
    }
    if (!strncmp(r->str, "MOVED ", 6)) {
        out->ask = 0;
        s = r->str + 6;
    }
    else if (!strncmp(r->str, "ASK ", 4)) {
        out->ask = 1;
        s = r->str + 4;
    }
    else {
        return 0;
    }
    if (!(sp = strchr(s, ' ')) || !(colon = strrchr(sp + 1, ':'))
        || lf_parse_int(&slot, apr_pstrmemdup(p, s, (apr_size_t)(sp - s)), 0, SKV_CLUSTER_SLOTS - 1)
               != APR_SUCCESS
        || lf_parse_int(&port, colon + 1, 1, 65535) != APR_SUCCESS
        || memchr(sp + 1, ' ', (apr_size_t)(colon - sp - 1))) {
        return 0;
    }
    if (colon > sp + 1 && !lf_parse_is_host(sp + 1, (apr_size_t)(colon - sp - 1))) {
        return 0;
    }
    out->slot = (unsigned)slot;
    out->port = (apr_port_t)port;
    out->host =
        colon > sp + 1 ? apr_pstrmemdup(p, sp + 1, (apr_size_t)(colon - sp - 1)) : from_host;
    return 1;
}
