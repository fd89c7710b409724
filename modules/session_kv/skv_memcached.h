/* skv_memcached — what the memcached driver (skv_memcached.c, skv_driver_memcached) makes of
 * what a server returns for get(): the results of its multi-get of a key and of the key's
 * expiry marker. libmemcached reads the protocol; this is where the driver reads the values.
 * For the fuzzer (tests/fuzz/fuzz_skv_memcached.c), which feeds it results made from any bytes.
 * Pure core: APR.
 */
#ifndef SKV_MEMCACHED_H
#define SKV_MEMCACHED_H

#include <apr_pools.h>
#include <apr_time.h>

#include "skv_driver.h"

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
