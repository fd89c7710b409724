/* mod_health_checks — the built-in check types of mod_health (tcp, mysql, http, file),
 * registered as providers like any other module's (mod_lf_health.h). What they do is in the
 * core (hc_builtin); here only the server root is added.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_main.h>
#include <ap_provider.h>

#include "hc_builtin.h"
#include "mod_lf_health.h"
#include "mod_health_checks.h"

APLOG_USE_MODULE(health);

static const char *configure(hc_builtin_e type, void **ctx, const char *target,
                             apr_table_t *options, apr_pool_t *p)
{
    hc_builtin_t *check;
    const char *why;

    if (hc_builtin_configure(&check, &why, type, target, options, ap_server_root, p)
        != APR_SUCCESS) {
        return why;
    }
    *ctx = check;
    return NULL;
}

static const char *configure_tcp(void **ctx, const char *target, apr_table_t *options,
                                 apr_pool_t *p)
{
    return configure(HC_BUILTIN_TCP, ctx, target, options, p);
}

static const char *configure_mysql(void **ctx, const char *target, apr_table_t *options,
                                   apr_pool_t *p)
{
    return configure(HC_BUILTIN_MYSQL, ctx, target, options, p);
}

static const char *configure_http(void **ctx, const char *target, apr_table_t *options,
                                  apr_pool_t *p)
{
    return configure(HC_BUILTIN_HTTP, ctx, target, options, p);
}

static const char *configure_file(void **ctx, const char *target, apr_table_t *options,
                                  apr_pool_t *p)
{
    return configure(HC_BUILTIN_FILE, ctx, target, options, p);
}

static apr_status_t run(const char **error, void *ctx, server_rec *s, apr_interval_time_t timeout,
                        apr_pool_t *p)
{
    (void)s;
    return hc_builtin_run(error, ctx, timeout, p);
}

static const health_check_provider tcp_check = {HEALTH_TARGET_REQUIRED, configure_tcp, run};
static const health_check_provider mysql_check = {HEALTH_TARGET_REQUIRED, configure_mysql, run};
static const health_check_provider http_check = {HEALTH_TARGET_REQUIRED, configure_http, run};
static const health_check_provider file_check = {HEALTH_TARGET_REQUIRED, configure_file, run};

void health_register_builtin_checks(apr_pool_t *p)
{
    ap_register_provider(p, HEALTH_PROVIDER_GROUP, "tcp", HEALTH_PROVIDER_VERSION, &tcp_check);
    ap_register_provider(p, HEALTH_PROVIDER_GROUP, "mysql", HEALTH_PROVIDER_VERSION, &mysql_check);
    ap_register_provider(p, HEALTH_PROVIDER_GROUP, "http", HEALTH_PROVIDER_VERSION, &http_check);
    ap_register_provider(p, HEALTH_PROVIDER_GROUP, "file", HEALTH_PROVIDER_VERSION, &file_check);
}
