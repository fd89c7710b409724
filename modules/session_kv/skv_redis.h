/* skv_redis — what the redis driver (skv_redis.c, skv_driver_redis) makes of a server's
 * replies, without a server: the replies as hiredis's reader parsed them go in, the status, the
 * value and the error text that the driver would answer come out. For the unit tests and the
 * fuzzer (tests/fuzz/fuzz_skv_redis.c), which feed it replies made from any bytes.
 * Pure core: APR and hiredis.
 */
#ifndef SKV_REDIS_H
#define SKV_REDIS_H

#include <apr_pools.h>

#include "skv_driver.h"

struct redisReply;
struct redisReader;

/**
 * Bound what a reply can make @p reader allocate: at most 1024 array elements in all the arrays of
 * one reply (hiredis 0.14 allocates an array's table from its header alone, up to INT_MAX
 * elements). A reply past that fails the reader as out of memory, and leaves @p budget below 0.
 * @param budget the reader's count of elements left, kept by the caller as long as @p reader
 * @return 1, or 0 when out of memory (the reader is unchanged)
 */
int skv_redis_guard(struct redisReader *reader, int *budget);

/** The driver's round trips, by the replies they read. */
typedef enum {
    SKV_REDIS_CONNECT = 0, /* AUTH (when be has a password), SELECT (when be->db is not 0) */
    SKV_REDIS_GET,         /* GET, PTTL: 2 replies */
    SKV_REDIS_WRITE,       /* SET ... NX or XX (add, replace): 1 reply */
    SKV_REDIS_CAS,         /* EVALSHA or EVAL of the compare-and-set script: 1 reply */
    SKV_REDIS_INT,         /* PEXPIRE or DEL (touch, del): 1 reply */
    SKV_REDIS_PING         /* PING, INFO server, ROLE: 3 replies */
} skv_redis_op_e;

/**
 * What the redis driver answers when a server sends the replies @p r to operation @p op: first
 * the check every round trip makes (a failover reply: READONLY, LOADING, MASTERDOWN), then the
 * operation's own reading. Where the driver would retry on a new connection, the answer is the
 * one it gives when the retry gets the same replies.
 * @param val out for SKV_REDIS_GET: the value (data from @p p), when APR_SUCCESS
 * @param info out for SKV_REDIS_PING: "redis <version> <role>", from @p p
 * @param err out: the error text the driver keeps for error() ("" when none), the password
 *        masked, from @p p
 * @param be the backend the replies came from (its password is masked in @p err)
 * @param r the replies, @p n of them: as many as @p op reads
 * @return the driver's status (skv_driver.h), or APR_EINVAL when @p n does not fit @p op
 */
apr_status_t skv_redis_replies(skv_value_t *val, const char **info, const char **err,
                               const skv_backend_t *be, skv_redis_op_e op, struct redisReply **r,
                               int n, apr_pool_t *p);

#endif /* SKV_REDIS_H */
