/* hc_conf — mod_health's directives read into values: a HealthCheck line into a check's
 * settings (its name, type and target, mod_health's own options — interval, timeout, rise,
 * fall, severity — with their defaults, and the options left for the check type's provider),
 * and the arguments of the endpoint paths, HealthDetailsAllow and HealthStallTimeout. Pure
 * core: APR only.
 *
 * The type is not looked up here: a module that provides it may be loaded after the line, so
 * mod_health's glue resolves every check once the whole configuration is read (check_config),
 * then settles the word after the type with hc_conf_target() and, after the provider took its
 * options, refuses any left with hc_conf_unused().
 */
#ifndef HC_CONF_H
#define HC_CONF_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "hc_check.h"

/* Directive names, used in the command table and in every message about them (the core's
 * too). */
#define HEALTH_READY_PATH    "HealthReadyPath"
#define HEALTH_LIVE_PATH     "HealthLivePath"
#define HEALTH_DRAIN_PATH    "HealthDrainPath"
#define HEALTH_CHECK         "HealthCheck"
#define HEALTH_DETAILS_ALLOW "HealthDetailsAllow"
#define HEALTH_DRAIN_FILE    "HealthDrainFile"
#define HEALTH_DRAIN_TOKEN   "HealthDrainToken"
#define HEALTH_ENV           "HealthEnv"
#define HEALTH_STALL_TIMEOUT "HealthStallTimeout"

/* The check type's provider (mod_lf_health.h), which only the glue knows. */
struct health_check_provider;

/** One HealthCheck line; every field from the configuration pool. */
typedef struct hc_conf_check_t {
    const char *name;
    const char *type;
    const char *target;           /* the word after the type unless it reads as an option, else
                                     NULL; settled by hc_conf_target() */
    apr_table_t *options;         /* key=value options for the type's provider, in line order */
    apr_interval_time_t interval; /* microseconds between runs; default 5s */
    apr_interval_time_t timeout;  /* microseconds a run may take; default 2s, at most interval */
    hc_params_t params;           /* rise (default 2), fall (default 3) */
    int severity;                 /* hc_severity_e; default critical */
    /* Filled in by the glue: */
    const char *file; /* where the line is, for messages after the configuration is read */
    int line;
    const struct health_check_provider *provider; /* NULL until resolved */
    void *ctx;                                    /* the provider's, from its configure() */
} hc_conf_check_t;

/**
 * Read one HealthCheck line, `<name> <type> [<target>] [key=value ...]`, and append it to
 * @p checks.
 * @param check out: the new element of @p checks
 * @param why out on error: what is wrong, without the directive name, allocated from @p p
 * @param checks the lines read so far (hc_conf_check_t), for the limit and duplicate names
 * @param argc @p argv the line's words after the directive name
 * @param p the configuration pool
 * @return APR_SUCCESS; APR_EINVAL (nothing appended) for a bad line
 */
apr_status_t hc_conf_add(hc_conf_check_t **check, const char **why, apr_array_header_t *checks,
                         int argc, const char *const argv[], apr_pool_t *p);

/**
 * Settle the word after the type once the type is known: a type that takes a target needs
 * one; for a type that takes none, the word is read as the line's first option.
 * @param takes_target whether the check's type takes a target
 * @param why out on error: what is wrong, without the directive name, allocated from @p p
 * @return APR_SUCCESS; APR_EINVAL for a missing target or a bad option
 */
apr_status_t hc_conf_target(hc_conf_check_t *check, const char **why, int takes_target,
                            apr_pool_t *p);

/**
 * Refuse options that the type's provider did not take (it removes those it accepts).
 * @param why out on error: the first one left, without the directive name, from @p p
 * @return APR_SUCCESS, or APR_EINVAL when any is left
 */
apr_status_t hc_conf_unused(const char **why, const hc_conf_check_t *check, apr_pool_t *p);

/**
 * Read the path of an endpoint (HealthReadyPath, HealthLivePath, HealthDrainPath).
 * @param path out: @p arg, or "" for none (the endpoint is off)
 * @param why out on error: what is wrong, without the directive name, from @p p
 * @return APR_SUCCESS, or APR_EINVAL for a word that is neither a path from '/' nor none
 */
apr_status_t hc_conf_path(const char **path, const char **why, const char *arg, apr_pool_t *p);

/**
 * Append the clients of one HealthDetailsAllow word ("addr" or "addr/bits", as
 * mod_authz_host reads them) to @p allow; "none" appends nothing.
 * @param allow apr_ipsubnet_t *, from @p p
 * @param why out on error: what is wrong, without the directive name, from @p p
 * @param p the configuration pool: owns the subnet
 * @return APR_SUCCESS, or APR_EINVAL for a word that is no address
 */
apr_status_t hc_conf_allow(apr_array_header_t *allow, const char **why, const char *arg,
                           apr_pool_t *p);

/**
 * The clients HealthDetailsAllow lets in when it is not set: loopback, IPv4 and (where the
 * system has it) IPv6.
 * @param allow out: apr_ipsubnet_t *, from @p p
 */
apr_status_t hc_conf_allow_loopback(apr_array_header_t **allow, apr_pool_t *p);

/**
 * Read HealthStallTimeout: a duration of at least one second.
 * @param timeout out: microseconds
 * @param why out on error: what is wrong, without the directive name, from @p p
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t hc_conf_stall_timeout(apr_interval_time_t *timeout, const char **why, const char *arg,
                                   apr_pool_t *p);

#endif /* HC_CONF_H */
