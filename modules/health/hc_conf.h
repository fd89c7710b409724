/* hc_conf — a HealthCheck line read into a check's settings: its name, type and target,
 * mod_health's own options (interval, timeout, rise, fall, severity) with their defaults, and
 * the options left for the check type's provider. Pure core: APR only.
 *
 * The type is not looked up here: a module that provides it may be loaded after the line, so
 * mod_health's glue resolves every check once the whole configuration is read (check_config),
 * then settles the word after the type with hc_conf_target() and, after the provider took its
 * options, refuses any left with hc_conf_unused().
 */
#ifndef HC_CONF_H
#define HC_CONF_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "hc_check.h"

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

#endif /* HC_CONF_H */
