/* mod_lf_health.h — the health-check contract between modules, for glue files only: how a
 * module contributes a check type to mod_health.
 *
 * A module contributes a check type by registering a provider in group "lampfarm-health":
 *
 *     static const health_check_provider my_check = { HEALTH_TARGET_NONE, my_configure, my_run };
 *     ap_register_provider(p, HEALTH_PROVIDER_GROUP, "session-kv", HEALTH_PROVIDER_VERSION,
 *                          &my_check);
 *
 * and an operator uses it as `HealthCheck sessions session-kv [options]`. mod_health looks the
 * type up once the whole configuration is read (check_config), so the order of the LoadModule
 * lines does not matter. mod_health's own types (tcp, http, mysql, file) are registered the
 * same way.
 */
#ifndef MOD_LF_HEALTH_H
#define MOD_LF_HEALTH_H

#include <apr_tables.h>
#include <apr_time.h>
#include <httpd.h>

#define HEALTH_PROVIDER_GROUP   "lampfarm-health"
#define HEALTH_PROVIDER_VERSION "1"

/** Whether a check type takes a target argument after its type. */
typedef enum { HEALTH_TARGET_NONE = 0, HEALTH_TARGET_REQUIRED } health_target_e;

typedef struct health_check_provider {
    health_target_e target;

    /**
     * Called once the configuration is read (mod_health's check_config, every module loaded),
     * once per HealthCheck line of this type.
     * @param ctx out: the provider's context for this check, allocated from @p p
     * @param target the target argument (NULL for HEALTH_TARGET_NONE)
     * @param options the line's key=value options that mod_health itself does not use; the
     *        provider removes (apr_table_unset) the ones it accepts; any left is an error
     * @param p the configuration pool
     * @return NULL, or what is wrong (without the directive name), allocated from @p p
     */
    const char *(*configure)(void **ctx, const char *target, apr_table_t *options, apr_pool_t *p);

    /**
     * Run the check once, from mod_health's check thread pool (never from a request). May block
     * for at most @p timeout.
     * @param error out on failure: a short reason for the details and the error log, from @p p
     * @param s the main server, for the provider's own configuration
     * @param p a pool cleared after the run
     * @return APR_SUCCESS when healthy
     */
    apr_status_t (*run)(const char **error, void *ctx, server_rec *s, apr_interval_time_t timeout,
                        apr_pool_t *p);
} health_check_provider;

#endif /* MOD_LF_HEALTH_H */
