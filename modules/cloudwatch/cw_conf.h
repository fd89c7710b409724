/* cw_conf — the settings of mod_cloudwatch, without httpd: the directive names, the server's
 * publishing settings, what each server directive's argument may be and where it goes (the
 * cmd->info of its command_rec, which the glue's setters in mod_cloudwatch_config.c hand to
 * cw_conf_set()), and what the settings make: the dimension sets and the credentials provider.
 * Errors read "<Directive>: <what is wrong>", as httpd shows them.
 * Pure core: APR.
 */
#ifndef CW_CONF_H
#define CW_CONF_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "aws_creds.h"

#define CW_ENABLE        "CloudWatch"
#define CW_GROUP         "CloudWatchGroup"
#define CW_NAMESPACE     "CloudWatchNamespace"
#define CW_REGION        "CloudWatchRegion"
#define CW_ENDPOINT      "CloudWatchEndpoint"
#define CW_CREDENTIALS   "CloudWatchCredentials"
#define CW_CA_FILE       "CloudWatchCAFile"
#define CW_INTERVAL      "CloudWatchInterval"
#define CW_RESOLUTION    "CloudWatchStorageResolution"
#define CW_DIMENSIONS    "CloudWatchDimensions"
#define CW_ASG           "CloudWatchAutoScalingGroup"
#define CW_INSTANCE_ID   "CloudWatchInstanceId"
#define CW_MAX_GROUPS    "CloudWatchMaxGroups"
#define CW_BACKLOG       "CloudWatchBacklog"
#define CW_TTFB          "CloudWatchTimeToFirstByte"
#define CW_TIMEOUT       "CloudWatchTimeout"
#define CW_ATTEMPTS      "CloudWatchAttempts"
#define CW_IMDS_ENDPOINT "CloudWatchIMDSEndpoint"

/** Publishing settings: main server only (one publisher per httpd). */
typedef struct cw_srv_conf {
    const char *ns;
    const char *region;
    const char *endpoint;   /* NULL: https://monitoring.<region>.amazonaws.com */
    const char *creds_kind; /* "default", "keyfile", "profile" */
    const char *creds_arg;
    const char *ca_file;
    apr_interval_time_t interval; /* microseconds */
    int resolution;               /* 1 or 60 */
    apr_array_header_t *dim_sets; /* apr_array_header_t * of cw_dim_t; NULL: defaults */
    const char *asg;              /* NULL: from IMDS; "" (none): left out */
    const char *instance_id;      /* NULL: from IMDS */
    const char *imds_endpoint;    /* NULL: the AWS default */
    int max_groups;
    int backlog;                 /* intervals */
    apr_interval_time_t timeout; /* per PutMetricData attempt */
    int attempts;                /* per PutMetricData request */
    int ttfb;                    /* measure the time to first byte too */
} cw_srv_conf;

/** How a server directive's argument is read. */
typedef enum {
    CW_CONF_STR = 0,    /* as it is */
    CW_CONF_URL,        /* an http:// or https:// URL */
    CW_CONF_DIM_VALUE,  /* a dimension value, or none ("": the dimension is left out) */
    CW_CONF_REGION,     /* a region name */
    CW_CONF_RESOLUTION, /* 60 (standard) or 1 (high resolution), into an int */
    CW_CONF_INT,        /* a whole number from min to max, into an int */
    CW_CONF_DURATION,   /* a duration from min to max (microseconds), a multiple of step (0: any),
                           seconds unless a unit is given, into an apr_interval_time_t */
} cw_conf_kind_e;

/** What a server directive takes and where it goes: the cmd->info of its command_rec. */
typedef struct cw_conf_arg_t {
    cw_conf_kind_e kind;
    apr_size_t offset;          /* of the field in cw_srv_conf */
    apr_int64_t min, max, step; /* CW_CONF_INT, CW_CONF_DURATION */
    const char *what;           /* CW_CONF_INT, CW_CONF_DURATION: what is expected, for errors */
} cw_conf_arg_t;

/* The server directives that take one argument, but CloudWatchCAFile (a path the glue makes
 * relative to the ServerRoot, then sets as cw_conf_ca_file). */
extern const cw_conf_arg_t cw_conf_ns, cw_conf_region, cw_conf_endpoint, cw_conf_ca_file,
    cw_conf_interval, cw_conf_timeout, cw_conf_resolution, cw_conf_max_groups, cw_conf_backlog,
    cw_conf_attempts, cw_conf_asg, cw_conf_instance_id, cw_conf_imds_endpoint;

/**
 * Read @p arg as @p a says into its field of @p c.
 * @param why out on error: "<name>: <what is wrong>", allocated from @p p
 * @param name the directive's name, for @p why
 * @param arg kept (not copied) when the field is a string: it must live as long as @p c
 * @return APR_SUCCESS, or APR_EINVAL (the field is left as it was)
 */
apr_status_t cw_conf_set(cw_srv_conf *c, const char **why, const cw_conf_arg_t *a, const char *name,
                         const char *arg, apr_pool_t *p);

/**
 * Check a CloudWatchGroup: a dimension value CloudWatch takes that fits a group slot.
 * @param why out on error: "CloudWatchGroup: <what is wrong>", allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t cw_conf_group(const char **why, const char *group, apr_pool_t *p);

/**
 * Add one CloudWatchDimensions line (cw_dims_parse()) to @p c's dimension sets.
 * @param why out on error: "CloudWatchDimensions: <what is wrong>", allocated from @p p
 * @param p the configuration pool: the set and @p c's array of sets are allocated from it;
 *        @p argv must live as long
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t cw_conf_add_dim_set(cw_srv_conf *c, const char **why, int argc, char *const argv[],
                                 apr_pool_t *p);

/**
 * Set @p c's CloudWatchCredentials: "default", "keyfile PATH" (relative to @p root) or
 * "profile NAME" (aws_creds_source_conf()).
 * @param arg NULL after "default"
 * @param why out on error: "CloudWatchCredentials: <the syntax>"
 * @param p the configuration pool: what is kept in @p c is allocated from it
 * @return APR_SUCCESS, or APR_EINVAL
 */
apr_status_t cw_conf_credentials(cw_srv_conf *c, const char **why, const char *kind,
                                 const char *arg, const char *root, apr_pool_t *p);

/** The dimension sets in force: @p conf's, or the default ones (allocated from @p p). */
const apr_array_header_t *cw_conf_dim_sets(const cw_srv_conf *conf, apr_pool_t *p);

/**
 * The credentials provider of @p c's CloudWatchCredentials (and CloudWatchIMDSEndpoint).
 * @param out allocated from @p p
 * @param why out on error: what is wrong, from @p p
 */
apr_status_t cw_conf_creds(aws_creds_provider_t **out, const char **why, const cw_srv_conf *c,
                           apr_pool_t *p);

#endif /* CW_CONF_H */
