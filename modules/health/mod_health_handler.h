/* mod_health_handler — the quick handler of mod_health: readiness, liveness and the drain
 * control, answered from the shared segment without waiting on any dependency.
 */
#ifndef MOD_HEALTH_HANDLER_H
#define MOD_HEALTH_HANDLER_H

#include <httpd.h>

#include "hc_check.h"

/**
 * Answer from the segment's results and the configuration of the main server @p s from now on;
 * in post_config, before the children fork (read only afterwards). Until then the handler
 * declines.
 */
void health_handler_attach(hc_shared_t *shared, server_rec *s);

/** The quick handler (first among quick handlers). */
int health_handler(request_rec *r, int lookup);

#endif /* MOD_HEALTH_HANDLER_H */
