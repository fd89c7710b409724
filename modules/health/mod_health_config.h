/* mod_health_config — mod_health's directives, its per-server configuration and the effective
 * values read from it (defaults applied). Every other glue file of mod_health depends on this
 * one, and this one on none of them.
 */
#ifndef MOD_HEALTH_CONFIG_H
#define MOD_HEALTH_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "hc_conf.h"
#include "mod_lf_health.h"

/** Per-server configuration. NULL / LF_UNSET = unset; read through the accessors below. */
typedef struct health_srv_conf {
    const char *ready_path;    /* "" = disabled */
    const char *live_path;     /* "" = disabled */
    const char *drain_path;    /* "" = disabled */
    apr_array_header_t *allow; /* apr_ipsubnet_t *; empty = nobody */
    const char *env;           /* variable set on health requests */
    /* Main server only (the directives are global): */
    apr_array_header_t *checks; /* hc_conf_check_t, in configuration order */
    const char *drain_file;
    const char *drain_token;           /* the secret itself; never logged */
    apr_interval_time_t stall_timeout; /* microseconds; LF_UNSET = unset */
} health_srv_conf;

extern module AP_MODULE_DECLARE_DATA health_module;

/** The directive table of health_module. */
extern const command_rec health_cmds[];

/** create_server_config of health_module: every field unset. */
void *health_conf_create(apr_pool_t *p, server_rec *s);

/** merge_server_config of health_module. */
void *health_conf_merge(apr_pool_t *p, void *basev, void *addv);

/**
 * Make what the defaults need (the loopback subnets of HealthDetailsAllow), in pre_config.
 * @param pconf the configuration pool, which owns them
 */
apr_status_t health_conf_pre_config(apr_pool_t *pconf);

/**
 * Resolve every HealthCheck line of the main server @p s to its type's provider and let the
 * provider read the line: once the whole configuration is read, so that the module providing
 * a type may be loaded after the lines that use it.
 * @return NULL, or what is wrong ("HealthCheck: ... (line N of FILE)"), from @p pconf
 */
const char *health_conf_resolve_checks(server_rec *s, apr_pool_t *pconf);

/** The configuration of @p s, as set; read its values through the accessors below. */
const health_srv_conf *health_conf(const server_rec *s);

/* The effective values of a configuration: the value set, else the default. */
const char *health_conf_ready_path(const health_srv_conf *c);
const char *health_conf_live_path(const health_srv_conf *c);
const char *health_conf_drain_path(const health_srv_conf *c);
const char *health_conf_env(const health_srv_conf *c);
/** HealthDetailsAllow: apr_ipsubnet_t *, loopback by default; empty = nobody. */
const apr_array_header_t *health_conf_allow(const health_srv_conf *c);
/** HealthStallTimeout, in microseconds (main server). */
apr_interval_time_t health_conf_stall_timeout(const health_srv_conf *c);

#endif /* MOD_HEALTH_CONFIG_H */
