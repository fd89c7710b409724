/* skv_memcached — the memcached driver with ElastiCache auto-discovery, and what the memcached
 * driver (skv_memcached.c, skv_driver_memcached) makes of what a server returns for get(): the
 * results of its multi-get of a key and of the key's expiry marker. libmemcached reads the
 * protocol; skv_memcached_take() is where the driver reads the values, for the fuzzer
 * (tests/fuzz/fuzz_skv_memcached.c) too, which feeds it results made from any bytes.
 * Pure core: APR.
 */
#ifndef SKV_MEMCACHED_H
#define SKV_MEMCACHED_H

#include <apr_pools.h>
#include <apr_time.h>

#include "skv_driver.h"

/**
 * The memcached driver for the configuration endpoint of a node-based ElastiCache cluster: the
 * backend's one server is the endpoint, the nodes come from its `config get cluster` answer
 * (share(), refresh(); see skv_memcached.c). A store uses it when its configuration sets
 * skv_store_conf_t.driver to it (skv_backend_driver() cannot tell from the URL).
 */
extern const skv_driver_t skv_driver_memcached_discovery;

/**
 * Take one result of get()'s multi-get into @p val: for @p key, its value (data, len, cas;
 * *found set to 1); for the expiry marker @p mkey, whose value is the absolute expiry in decimal
 * Unix microseconds, expires_in relative to @p now (-1 when the marker is not a positive
 * number); a result for any other key changes nothing.
 * @param rkey the result's key, @p rklen bytes (not NUL-terminated)
 * @param data the result's value, @p len bytes (any bytes)
 * @param p holds the copy of the value
 */
void skv_memcached_take(skv_value_t *val, int *found, const char *key, const char *mkey,
                        const char *rkey, apr_size_t rklen, const char *data, apr_size_t len,
                        apr_uint64_t cas, apr_time_t now, apr_pool_t *p);

#endif /* SKV_MEMCACHED_H */
