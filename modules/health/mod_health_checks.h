/* mod_health_checks — mod_health's built-in check types (tcp, mysql, http, file). */
#ifndef MOD_HEALTH_CHECKS_H
#define MOD_HEALTH_CHECKS_H

#include <apr_pools.h>

/** Register the built-in check types as providers, in register_hooks. */
void health_register_builtin_checks(apr_pool_t *p);

#endif /* MOD_HEALTH_CHECKS_H */
