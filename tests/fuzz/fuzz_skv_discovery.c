/* fuzz_skv_discovery — what the memcached driver makes of an ElastiCache configuration
 * endpoint's answer to `config get cluster` (modules/session_kv/skv_discovery.c), from any
 * bytes. An answer read must fit in the bytes given and name at least one node, each with a
 * host or an IP and a port, and give the driver at least one server to connect to; one refused
 * must say why.
 */
#include "fuzz.h"
#include "skv_discovery.h"
#include "skv_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *text = apr_pmemdup(p, data, size ? size : 1);
    skv_discovery_t d;
    const char *why = NULL;
    apr_array_header_t *servers;
    apr_size_t used = 0;
    int i;

    if (skv_discovery_parse(&d, &used, &why, text, size, p) == APR_SUCCESS) {
        FUZZ_CHECK(used <= size);
        if (used) {
            FUZZ_CHECK(d.version >= 0 && d.nodes->nelts > 0);
            for (i = 0; i < d.nodes->nelts; i++) {
                const skv_discovery_node_t *n = &APR_ARRAY_IDX(d.nodes, i, skv_discovery_node_t);

                FUZZ_CHECK((n->host || n->ip) && (!n->host || *n->host) && (!n->ip || *n->ip)
                           && n->port > 0);
            }
            /* what the driver connects to: as many or fewer (duplicates), each with a host */
            if (skv_discovery_servers(&servers, &why, &d, 100000, p) == APR_SUCCESS) {
                FUZZ_CHECK(servers->nelts > 0 && servers->nelts <= d.nodes->nelts);
                FUZZ_CHECK(skv_discovery_same(servers, servers));
                for (i = 0; i < servers->nelts; i++) {
                    FUZZ_CHECK(*APR_ARRAY_IDX(servers, i, skv_server_t).host);
                }
            }
        }
    }
    else {
        FUZZ_CHECK(why && *why && used == 0);
    }
    apr_pool_destroy(p);
    return 0;
}
