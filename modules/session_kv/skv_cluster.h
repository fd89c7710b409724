/* skv_cluster — what the redis driver needs to know of a Redis Cluster (node-based ElastiCache
 * with cluster mode on, and ElastiCache Serverless): which of the 16384 hash slots a key is in,
 * which node serves each slot (from CLUSTER SLOTS), and where a MOVED or ASK reply sends a
 * command. Pure functions over replies as hiredis's reader parsed them, for the driver, the unit
 * tests and the fuzzer.
 * Pure core: APR and hiredis (its reply type only).
 */
#ifndef SKV_CLUSTER_H
#define SKV_CLUSTER_H

#include <apr_network_io.h>
#include <apr_pools.h>

struct redisReply;

/** The number of hash slots of a Redis Cluster. */
#define SKV_CLUSTER_SLOTS 16384

/**
 * The hash slot of a key: CRC16 (XMODEM) of the key modulo 16384, or of its hash tag when it has
 * one (the bytes between the first '{' and the first '}' after it, when there are any), so that
 * keys with the same tag ("skv:{abc}", "skv:{abc}#t") are in one slot.
 */
unsigned skv_cluster_slot(const char *key, apr_size_t len);

/** One node of the map. */
typedef struct skv_cluster_node_t {
    const char *host; /* the endpoint the node announces: its host name when it has one */
    apr_port_t port;
} skv_cluster_node_t;

/** Which primary serves each slot. */
typedef struct skv_cluster_map_t {
    skv_cluster_node_t *nodes; /* the primaries, each once */
    int n;
    short slot[SKV_CLUSTER_SLOTS]; /* index into nodes; -1: no node serves it */
} skv_cluster_map_t;

/**
 * Read the reply to CLUSTER SLOTS: for each range, its start, end and primary (host, port, id,
 * and since redis 7 a map of metadata with "hostname"), then its replicas (ignored: the driver
 * reads and writes on primaries). A node's host is its "hostname" when it announces one
 * (ElastiCache does on TLS clusters, whose certificates name hosts, not addresses), else the
 * first field, unless that is empty or "?" (an unknown endpoint): then the host the reply came
 * from, @p from_host.
 * @param map out, allocated from @p p
 * @param why out on APR_EINVAL: what is wrong with the reply, from @p p
 * @return APR_SUCCESS; APR_EINVAL for a reply that is not a slot map (an error, a wrong shape,
 *         a slot out of range, a port out of range, no range at all)
 */
apr_status_t skv_cluster_map_parse(skv_cluster_map_t **map, const char **why,
                                   const struct redisReply *r, const char *from_host,
                                   apr_pool_t *p);

/** Where a redirection sends a command. */
typedef struct skv_cluster_redirect_t {
    int ask;       /* 1: ASK (this command only, after ASKING), 0: MOVED (the slot moved) */
    unsigned slot; /* the slot */
    const char *host;
    apr_port_t port;
} skv_cluster_redirect_t;

/**
 * Whether the reply @p r is "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (the host
 * may be empty: the node that answered, @p from_host; an IPv6 address is written without
 * brackets, the port follows the last ':').
 * @param out the redirection, strings from @p p
 * @return 1 when it is one, 0 otherwise (any other reply, or one that does not parse)
 */
int skv_cluster_redirect(skv_cluster_redirect_t *out, const struct redisReply *r,
                         const char *from_host, apr_pool_t *p);

#endif /* SKV_CLUSTER_H */
