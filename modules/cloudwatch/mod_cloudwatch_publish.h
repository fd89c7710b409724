/* mod_cloudwatch_publish.h — the publisher of mod_cloudwatch: one background thread per httpd
 * that empties the shared memory every interval and sends it with PutMetricData.
 */
#ifndef MOD_CLOUDWATCH_PUBLISH_H
#define MOD_CLOUDWATCH_PUBLISH_H

#include <httpd.h>

#include "cw_shm.h"
#include "mod_cloudwatch_config.h"

/** Where a stopping publisher leaves the backlog for the next one (DefaultRuntimeDir). */
#define CW_HANDOVER_DIR "lampfarm-cloudwatch"

/**
 * Make the publisher (post_config): a singleton thread of the lifecycle kit that measures
 * intervals out of @p shm and sends them.
 * @param s the main server (@p conf is its effective configuration)
 */
apr_status_t cw_publish_create(server_rec *s, const cw_srv_conf *conf, cw_shm_t *shm,
                               apr_pool_t *pconf);

/** Start the publisher's thread in a child (child_init); it stops when @p pchild goes. */
void cw_publish_child_init(apr_pool_t *pchild);

#endif /* MOD_CLOUDWATCH_PUBLISH_H */
