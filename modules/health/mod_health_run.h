/* mod_health_run — the thread that runs mod_health's checks, in one process of the server. */
#ifndef MOD_HEALTH_RUN_H
#define MOD_HEALTH_RUN_H

#include <httpd.h>

#include "hc_check.h"

/**
 * Make the check thread's handle (a singleton of the lifecycle kit), in post_config.
 * @param s the main server, whose HealthCheck lines the thread runs
 * @param shared the segment the results go to; lives in the process pool
 * @param pconf owns the handle
 */
apr_status_t health_thread_create(server_rec *s, hc_shared_t *shared, apr_pool_t *pconf);

/** Start the check thread in a child (child_init); it stops when @p pchild goes. */
void health_thread_start(apr_pool_t *pchild);

#endif /* MOD_HEALTH_RUN_H */
