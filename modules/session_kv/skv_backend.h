/* skv_backend — the URL of a session store's backend, parsed into an skv_backend_t, and the
 * driver that serves it.
 *
 *   memcached://host:port[,host:port...]          (port 11211 by default; [::1]:11211 for IPv6)
 *   memcacheds://host[:port]                      (one server, over TLS: ElastiCache Serverless)
 *   redis://[user:password@]host[:port][/db]      (port 6379, db 0..15, default 0)
 *   rediss://[user:password@]host[:port][/db]     (the same over TLS)
 *   mysql://user[:password]@host[:port]/database[/table]   (port 3306, table session_kv)
 *   mysqls://user[:password]@host[:port]/database[/table]  (the same over TLS)
 *
 * In a redis or mysql URL the user and the password are percent-decoded, so any byte can be
 * written ("%40" for '@', "%3A" for ':', "%2F" for '/'); "redis://:password@host" gives a
 * password without a user (AUTH password), "redis://user:password@host" an ACL user (AUTH user
 * password). A mysql URL needs a user (its password may come from SessionKVPassword instead).
 * The password never appears in the display form nor in an error: the display form says "***"
 * instead, and errors describe the part of the URL that is wrong without quoting it.
 * Pure core: APR only.
 */
#ifndef SKV_BACKEND_H
#define SKV_BACKEND_H

#include <apr_pools.h>

#include "skv_driver.h"

/* The timeouts skv_backend_parse() gives a backend; the caller overrides them from its
 * configuration after parsing. */
#define SKV_BACKEND_CONNECT_TIMEOUT apr_time_from_msec(200) /* per connection attempt */
#define SKV_BACKEND_IO_TIMEOUT      apr_time_from_msec(500) /* per operation */
#define SKV_BACKEND_RETRY_INTERVAL  apr_time_from_sec(10)   /* a failed server is retried */

/** The default ports. */
#define SKV_BACKEND_MEMCACHED_PORT 11211
#define SKV_BACKEND_REDIS_PORT     6379

/**
 * Parse a backend URL (see the top of this file).
 * @param be out: the backend with the default timeouts, allocated from @p p
 * @param why out on APR_EINVAL: what is wrong, short and without the password, from @p p
 * @return APR_SUCCESS or APR_EINVAL
 */
apr_status_t skv_backend_parse(skv_backend_t **be, const char **why, const char *url,
                               apr_pool_t *p);

/** The driver of @p be: &skv_driver_memcached, &skv_driver_memcached_meta (memcached over TLS),
 * &skv_driver_redis or &skv_driver_mysql. */
const skv_driver_t *skv_backend_driver(const skv_backend_t *be);

#endif /* SKV_BACKEND_H */
