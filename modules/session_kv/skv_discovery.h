/* skv_discovery — ElastiCache Memcached auto-discovery: what the configuration endpoint of a
 * node-based cluster answers to `config get cluster`, read into a version and a list of nodes.
 *
 *   CONFIG cluster 0 <bytes>\r\n
 *   <version>\n
 *   <host>|<ip>|<port> <host>|<ip>|<port> ...\n
 *   \r\n
 *   END\r\n
 *
 * (<bytes> counts the two lines of the payload.) A client asks again about once a minute and
 * rebuilds its consistent-hashing ring only when the version changes, so that only the keys of
 * added or removed nodes move. skv_memcached.c asks; this file reads the answer and turns it into
 * the list of servers to connect to.
 * Pure core: APR only.
 */
#ifndef SKV_DISCOVERY_H
#define SKV_DISCOVERY_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>

/** The longest answer read (a cluster has at most 60 nodes of a few dozen bytes each). */
#define SKV_DISCOVERY_MAX 65536

/** What a client sends to the configuration endpoint. */
#define SKV_DISCOVERY_REQUEST "config get cluster\r\n"

/** One node as the configuration endpoint names it. */
typedef struct skv_discovery_node_t {
    const char *host; /* its DNS name; NULL when the answer gives none */
    const char *ip;   /* its IP address; NULL when the answer gives none (never both NULL) */
    apr_port_t port;
} skv_discovery_node_t;

/** What the configuration endpoint says. */
typedef struct skv_discovery_t {
    apr_int64_t version;       /* increases whenever the nodes change */
    apr_array_header_t *nodes; /* skv_discovery_node_t, as the answer lists them */
} skv_discovery_t;

/**
 * Read an answer to `config get cluster`.
 * @param out the version and the nodes, allocated from @p p
 * @param used out: the bytes of @p text the answer took (through "END\r\n"), 0 when @p text
 *        holds only part of it so far (read more, up to SKV_DISCOVERY_MAX)
 * @param why out on APR_EINVAL: what is wrong, from @p p
 * @return APR_SUCCESS (with *used 0: incomplete, read more); APR_EINVAL for an answer that is
 *         not one (an ERROR, a wrong header, a byte count that does not match, a node that is
 *         not host|ip|port, no node at all)
 */
apr_status_t skv_discovery_parse(skv_discovery_t *out, apr_size_t *used, const char **why,
                                 const char *text, apr_size_t len, apr_pool_t *p);

/**
 * The servers a plain-TCP client connects to for the nodes of @p d: each node's IP address when
 * the answer gives one (no DNS lookup per connection, and the same name on every web server, which
 * the consistent-hashing ring is built from), else its host name; sorted, duplicates dropped, so
 * that two answers listing the same nodes in another order give equal lists (skv_discovery_same()).
 * @param servers out: skv_server_t (skv_driver.h), allocated from @p p
 * @param max the most nodes taken
 * @param why out on APR_EINVAL: what is wrong, from @p p
 * @return APR_SUCCESS; APR_EINVAL when there are more than @p max distinct nodes
 */
apr_status_t skv_discovery_servers(apr_array_header_t **servers, const char **why,
                                   const skv_discovery_t *d, int max, apr_pool_t *p);

/** Whether two lists made by skv_discovery_servers() name the same servers. */
int skv_discovery_same(const apr_array_header_t *a, const apr_array_header_t *b);

/**
 * "127.0.0.1:21001, 127.0.0.1:21002 and 4 more": the servers of @p servers (skv_server_t) for a
 * log line, at most @p shown of them by name; from @p p.
 */
const char *skv_discovery_describe(const apr_array_header_t *servers, int shown, apr_pool_t *p);

#endif /* SKV_DISCOVERY_H */
