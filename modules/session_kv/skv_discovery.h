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
 * added or removed nodes move.
 * Pure core: APR only.
 */
#ifndef SKV_DISCOVERY_H
#define SKV_DISCOVERY_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>

/** The longest answer read (a cluster has at most 60 nodes of a few dozen bytes each). */
#define SKV_DISCOVERY_MAX 65536

/** What the configuration endpoint says. */
typedef struct skv_discovery_t {
    apr_int64_t version;       /* increases whenever the nodes change */
    apr_array_header_t *nodes; /* skv_server_t (skv_driver.h): its host name, else its IP */
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

#endif /* SKV_DISCOVERY_H */
