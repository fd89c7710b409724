/* skv_memcached_meta — what the memcached meta-protocol driver (skv_memcached_meta.c,
 * skv_driver_memcached_meta) makes of a server's replies, without a server: the bytes a server
 * sent go in, the status, the value and the error text the driver would answer come out, or
 * that the reply is not complete yet. The driver reads its connection through the same function;
 * the unit tests and the fuzzer (tests/fuzz/fuzz_skv_memcached_meta.c) feed it any bytes.
 * Pure core: APR.
 */
#ifndef SKV_MEMCACHED_META_H
#define SKV_MEMCACHED_META_H

#include <apr_pools.h>

#include "skv_driver.h"

/* The largest value a reply may announce: a stored value is at most SessionKVMaxSize (512 KiB)
 * in its envelope; a larger announcement is a protocol error, nothing is allocated for it. */
#define SKV_MCMETA_MAX_VALUE      (4 * 1024 * 1024)
#define SKV_MCMETA_MAX_VALUE_TEXT "4 MiB"
/* The longest reply line (without its value); a longer one is a protocol error. */
#define SKV_MCMETA_MAX_LINE 1024

/** The driver's round trips, by the command they send and the replies they read. */
typedef enum {
    SKV_MCMETA_GET = 0, /* mg <key> v c t: VA <len> c<cas> t<ttl> + value, or EN */
    SKV_MCMETA_ADD,     /* ms <key> <len> T<ttl> ME: HD, or NS (exists) */
    SKV_MCMETA_CAS,     /* ms <key> <len> T<ttl> C<cas>: HD, EX (changed), NF (gone) */
    SKV_MCMETA_REPLACE, /* ms <key> <len> T<ttl> MR: HD, or NS (no such key) */
    SKV_MCMETA_TOUCH,   /* mg <key> T<ttl>: HD, or EN */
    SKV_MCMETA_DEL,     /* md <key>: HD, or NF */
    SKV_MCMETA_PING     /* version, mn: VERSION <v> then MN (2 replies) */
} skv_mcmeta_op_e;

/**
 * Read the reply (for SKV_MCMETA_PING: both replies) of operation @p op at the start of the
 * @p len bytes at @p buf.
 * @param val out for SKV_MCMETA_GET when APR_SUCCESS: the value (data from @p p, NUL-terminated),
 *        its cas token and its remaining time to live (-1 when the item has none)
 * @param info out for SKV_MCMETA_PING when APR_SUCCESS: "memcached <version>", from @p p
 * @param used out: with a complete reply, the bytes it took; with APR_INCOMPLETE, the bytes the
 *        reply needs in all when known already (a value's length), else 0
 * @param err out: what is wrong (without the server's name), "" when nothing; from @p p or static
 * @return APR_INCOMPLETE (more bytes needed), or the driver's status (skv_driver.h): a reply
 *         that is not the meta protocol's, or too large, is APR_EGENERAL; a value the server
 *         refused as too large APR_ENOSPC; APR_EINVAL for an unknown @p op
 */
apr_status_t skv_memcached_meta_reply(skv_value_t *val, const char **info, apr_size_t *used,
                                      const char **err, skv_mcmeta_op_e op, const char *buf,
                                      apr_size_t len, apr_pool_t *p);

/**
 * Whether @p key can go into a meta command as it is: 1 to 250 bytes, printable ASCII without
 * space (the driver refuses any other key before it sends anything).
 */
int skv_memcached_meta_key_ok(const char *key);

#endif /* SKV_MEMCACHED_META_H */
