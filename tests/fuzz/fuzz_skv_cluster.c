/* fuzz_skv_cluster — what the redis driver makes of a cluster's replies
 * (modules/session_kv/skv_cluster.c): raw RESP bytes go through hiredis's reader, guarded as on
 * a connection (skv_redis_guard), and each reply into skv_cluster_map_parse() (a CLUSTER SLOTS
 * answer) and skv_cluster_redirect() (a MOVED or ASK error); the rest of the input, as a key,
 * into skv_cluster_slot().
 *
 * Input: the key (NUL-terminated), then the bytes the server sends. A map must point every slot
 * at one of its nodes or at none, and every node must have a host and a port; a redirection must
 * name a slot in range, a host and a port.
 */
#include <hiredis/hiredis.h>

#include "fuzz.h"
#include "skv_cluster.h"
#include "skv_redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    const char *key = fuzz_str(&in, p);
    size_t len;
    const char *resp = fuzz_rest(&in, &len, p);
    redisReader *reader = redisReaderCreate();
    int budget, i;

    FUZZ_CHECK(skv_cluster_slot(key, strlen(key)) < SKV_CLUSTER_SLOTS);
    FUZZ_CHECK(reader != NULL && skv_redis_guard(reader, &budget));
    if (redisReaderFeed(reader, resp, len) == REDIS_OK) {
        for (i = 0; i < 4; i++) {
            void *reply = NULL;
            skv_cluster_map_t *map = NULL;
            skv_cluster_redirect_t to;
            const char *why = NULL;

            if (redisReaderGetReply(reader, &reply) != REDIS_OK || !reply) {
                break;
            }
            if (skv_cluster_map_parse(&map, &why, reply, "from.example", p) == APR_SUCCESS) {
                int s, n;

                for (n = 0; n < map->n; n++) {
                    FUZZ_CHECK(map->nodes[n].host && *map->nodes[n].host && map->nodes[n].port);
                }
                for (s = 0; s < SKV_CLUSTER_SLOTS; s++) {
                    FUZZ_CHECK(map->slot[s] >= -1 && map->slot[s] < map->n);
                }
            }
            else {
                FUZZ_CHECK(why && *why);
            }
            if (skv_cluster_redirect(&to, reply, "from.example", p)) {
                FUZZ_CHECK(to.slot < SKV_CLUSTER_SLOTS && to.port > 0 && to.host);
            }
            freeReplyObject(reply);
        }
    }
    redisReaderFree(reader);
    apr_pool_destroy(p);
    return 0;
}
