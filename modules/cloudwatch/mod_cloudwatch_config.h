/* mod_cloudwatch_config.h — the configuration of mod_cloudwatch, which every other glue file of
 * the module reads: directive names, the per-directory and server settings, the effective
 * settings with the defaults applied, and the checks made before the server starts.
 */
#ifndef MOD_CLOUDWATCH_CONFIG_H
#define MOD_CLOUDWATCH_CONFIG_H

#include <apr_tables.h>
#include <httpd.h>
#include <http_config.h>

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

extern module AP_MODULE_DECLARE_DATA cloudwatch_module;

/** Per directory: whether and as which group requests are measured. */
typedef struct cw_dir_conf {
    int enabled;       /* CloudWatch On|Off; LF_UNSET */
    const char *group; /* CloudWatchGroup; NULL: unset */
} cw_dir_conf;

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

/** The directives. */
extern const command_rec cw_config_cmds[];

void *cw_config_create_dir(apr_pool_t *p, char *dir);
void *cw_config_merge_dir(apr_pool_t *p, void *basev, void *addv);
void *cw_config_create_srv(apr_pool_t *p, server_rec *s);

/** Forget what the previous reading of the configuration saw (pre_config). */
void cw_config_reset(void);

/** Whether "CloudWatch On" appears anywhere in the configuration read: otherwise the module
 * makes no shared memory and no publisher. */
int cw_config_used(void);

/** Whether the requests of @p r's location are measured. */
int cw_config_enabled(request_rec *r);

/** @p s's publishing settings with the defaults applied (the main server's matter), from @p p. */
const cw_srv_conf *cw_config_server(server_rec *s, apr_pool_t *p);

/** The dimension sets in force: @p conf's, or the default ones (allocated from @p p). */
const apr_array_header_t *cw_config_dim_sets(const cw_srv_conf *conf, apr_pool_t *p);

/**
 * The credentials provider of @p c's CloudWatchCredentials (and CloudWatchIMDSEndpoint).
 * @param out allocated from @p p
 * @param why out on error: what is wrong, from @p p
 */
apr_status_t cw_config_creds(aws_creds_provider_t **out, const char **why, const cw_srv_conf *c,
                             apr_pool_t *p);

/** The checks across directives (check_config: httpd -t stops here); logs what is wrong.
 * @return OK, or HTTP_INTERNAL_SERVER_ERROR */
int cw_config_check(server_rec *s, apr_pool_t *ptemp);

#endif /* MOD_CLOUDWATCH_CONFIG_H */
