/* mod_health_private.h — what the glue files of mod_health share: configuration, the shared
 * memory segment and the check thread's entry points. Not installed.
 */
#ifndef MOD_HEALTH_PRIVATE_H
#define MOD_HEALTH_PRIVATE_H

#include <httpd.h>
#include <http_config.h>

#include "hc_check.h"
#include "mod_health.h"

/* Directive names, used in the command table and in every message about them. */
#define HEALTH_READY_PATH    "HealthReadyPath"
#define HEALTH_LIVE_PATH     "HealthLivePath"
#define HEALTH_DRAIN_PATH    "HealthDrainPath"
#define HEALTH_CHECK         "HealthCheck"
#define HEALTH_DETAILS_ALLOW "HealthDetailsAllow"
#define HEALTH_DRAIN_FILE    "HealthDrainFile"
#define HEALTH_DRAIN_TOKEN   "HealthDrainToken"
#define HEALTH_ENV           "HealthEnv"
#define HEALTH_STALL_TIMEOUT "HealthStallTimeout"

/** One HealthCheck line; configuration pool. */
typedef struct health_check {
    const char *name;
    const char *type;
    const char *target; /* NULL for types without one */
    const health_check_provider *provider;
    void *ctx;                    /* the provider's, from configure() */
    apr_interval_time_t interval; /* microseconds between runs */
    apr_interval_time_t timeout;  /* microseconds a run may take */
    hc_params_t params;           /* rise, fall */
    int severity;                 /* hc_severity_e */
} health_check;

/** Per-server configuration. NULL / -1 = unset; read through the accessors in mod_health.c. */
typedef struct health_srv_conf {
    const char *ready_path;    /* "" = disabled */
    const char *live_path;     /* "" = disabled */
    const char *drain_path;    /* "" = disabled */
    apr_array_header_t *allow; /* apr_ipsubnet_t *; empty = nobody */
    const char *env;           /* variable set on health requests */
    /* Main server only (the directives are global): */
    apr_array_header_t *checks; /* health_check, in configuration order */
    const char *drain_file;
    const char *drain_token;           /* the secret itself; never logged */
    apr_interval_time_t stall_timeout; /* microseconds; -1 = unset */
} health_srv_conf;

/** The shared segment: created once per parent process, kept across graceful restarts. */
typedef struct health_shared {
    apr_uint32_t generation;          /* bumped at every (re)start; old writers stop */
    apr_time_t started;               /* when this configuration generation started */
    apr_time_t heartbeat;             /* last tick of the check thread; 0 = never */
    apr_time_t drain_since;           /* draining via the API since; 0 = not */
    apr_uint32_t stall_logged;        /* LF04015 logged for this stall */
    hc_status_t slots[HC_MAX_CHECKS]; /* slot i belongs to check i */
} health_shared;

extern module AP_MODULE_DECLARE_DATA health_module;

/** The segment, set in post_config before the children fork; read-only pointer afterwards. */
extern health_shared *health_shm;

/**
 * Why @p path can never be checked: its directory does not exist or cannot be read; NULL if it
 * can. Allocated from @p p.
 */
const char *health_dir_error(const char *path, apr_pool_t *p);

/** Register the built-in check types (tcp, http, mysql, file) as providers. */
void health_register_builtin_checks(apr_pool_t *p);

/** Make the check thread's handle (a singleton of the lifecycle kit), in post_config. */
apr_status_t health_thread_create(server_rec *s, apr_pool_t *pconf);

/** Start the check thread in a child (child_init); it stops when @p pchild goes. */
void health_thread_start(apr_pool_t *pchild);

#endif /* MOD_HEALTH_PRIVATE_H */
