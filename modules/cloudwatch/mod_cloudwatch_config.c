/* mod_cloudwatch_config.c — the directives of mod_cloudwatch, create/merge of its per-directory
 * and server configuration, the effective settings (defaults applied when read, against one
 * default struct) and the checks across directives made before the server starts.
 */
#include <httpd.h>

#include <apr_strings.h>
#include <http_config.h>
#include <http_main.h>
#include <http_log.h>

#include "cw_put.h"
#include "lf_log.h"
#include "mod_cloudwatch_config.h"

APLOG_USE_MODULE(cloudwatch);
#include "lf_conf.h"

/* Whether "CloudWatch On" appears anywhere in the configuration being read (set while reading
 * it, in the one thread that does). */
static int configured;

static const cw_srv_conf srv_defaults = {
    "Lampfarm",            /* ns */
    NULL,                  /* region: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 */
    NULL,                  /* endpoint: https://monitoring.<region>.amazonaws.com */
    "default",             /* creds_kind: config, environment, profile, ECS, instance role */
    NULL,                  /* creds_arg */
    NULL,                  /* ca_file: the system's */
    60 * APR_USEC_PER_SEC, /* interval: CloudWatch's standard resolution */
    60,                    /* resolution: standard (high resolution costs more) */
    NULL,                  /* dim_sets: see cw_dims_default() */
    NULL,                  /* asg: from IMDS (the instance's aws:autoscaling:groupName tag) */
    NULL,                  /* instance_id: from IMDS */
    NULL,                  /* imds_endpoint: the SDKs' default */
    20,                    /* max_groups: each group is ~10 billed metrics per dimension set */
    15,                    /* backlog: 15 intervals (15 min) of a CloudWatch outage are kept */
    5 * APR_USEC_PER_SEC,  /* timeout: per attempt */
    3,                     /* attempts: with backoff and jitter */
    0,                     /* ttfb: off */
};

void *cw_config_create_dir(apr_pool_t *p, char *dir)
{
    cw_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->enabled = LF_UNSET;
    return c;
}

void *cw_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    cw_dir_conf *base = basev, *add = addv, *n = apr_pcalloc(p, sizeof(*n));

    n->enabled = LF_MERGE(add, base, enabled, LF_UNSET);
    n->group = LF_MERGE(add, base, group, NULL);
    return n;
}

void *cw_config_create_srv(apr_pool_t *p, server_rec *s)
{
    cw_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->interval = LF_UNSET;
    c->resolution = LF_UNSET;
    c->max_groups = LF_UNSET;
    c->backlog = LF_UNSET;
    c->timeout = LF_UNSET;
    c->attempts = LF_UNSET;
    c->ttfb = LF_UNSET;
    return c;
}

void cw_config_reset(void)
{
    configured = 0;
}

int cw_config_used(void)
{
    return configured;
}

int cw_config_enabled(request_rec *r)
{
    const cw_dir_conf *dc = ap_get_module_config(r->per_dir_config, &cloudwatch_module);

    return dc && dc->enabled == 1;
}

const cw_srv_conf *cw_config_server(server_rec *s, apr_pool_t *p)
{
    const cw_srv_conf *c = ap_get_module_config(s->module_config, &cloudwatch_module);
    cw_srv_conf *n = apr_pcalloc(p, sizeof(*n));
    const char *env;

    n->ns = c->ns ? c->ns : srv_defaults.ns;
    n->region = c->region;
    if (!n->region) {
        env = getenv("AWS_REGION");
        if (!env || !*env) {
            env = getenv("AWS_DEFAULT_REGION");
        }
        n->region = env && *env ? env : "us-east-1";
    }
    n->endpoint = c->endpoint
                      ? c->endpoint
                      : apr_pstrcat(p, "https://monitoring.", n->region, ".amazonaws.com", NULL);
    n->creds_kind = c->creds_kind ? c->creds_kind : srv_defaults.creds_kind;
    n->creds_arg = c->creds_arg;
    n->ca_file = c->ca_file;
    n->interval = LF_DEFAULT(c, srv_defaults, interval, LF_UNSET);
    n->resolution = LF_DEFAULT(c, srv_defaults, resolution, LF_UNSET);
    n->dim_sets = c->dim_sets;
    n->asg = c->asg;
    n->instance_id = c->instance_id;
    n->imds_endpoint = c->imds_endpoint;
    n->max_groups = LF_DEFAULT(c, srv_defaults, max_groups, LF_UNSET);
    n->backlog = LF_DEFAULT(c, srv_defaults, backlog, LF_UNSET);
    n->timeout = LF_DEFAULT(c, srv_defaults, timeout, LF_UNSET);
    n->attempts = LF_DEFAULT(c, srv_defaults, attempts, LF_UNSET);
    n->ttfb = LF_DEFAULT(c, srv_defaults, ttfb, LF_UNSET);
    return n;
}

/* --- setters --------------------------------------------------------------------------------- */

/* The server's settings when @p cmd may set them: publishing settings belong to the main server,
 * there is one publisher per httpd. */
static const char *srv_of(cw_srv_conf **c, cmd_parms *cmd)
{
    *c = ap_get_module_config(cmd->server->module_config, &cloudwatch_module);
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

static const char *set_enable(cmd_parms *cmd, void *dc, int on)
{
    (void)cmd;
    ((cw_dir_conf *)dc)->enabled = on;
    configured |= on;
    return NULL;
}

static const char *set_group(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err;

    if (cw_conf_group(&err, arg, cmd->pool) != APR_SUCCESS) {
        return err;
    }
    ((cw_dir_conf *)dc)->group = arg;
    return NULL;
}

/* One argument, read as the cw_conf_arg_t at cmd->info says. */
static const char *set_arg(cmd_parms *cmd, void *dc, const char *arg)
{
    cw_srv_conf *c;
    const char *err = srv_of(&c, cmd);

    (void)dc;
    if (!err) {
        cw_conf_set(c, &err, cmd->info, cmd->cmd->name, arg, cmd->pool);
    }
    return err;
}

/* A file, relative to the ServerRoot, as set_arg(). */
static const char *set_path(cmd_parms *cmd, void *dc, const char *arg)
{
    return set_arg(cmd, dc, ap_server_root_relative(cmd->pool, arg));
}

/* On|Off into the int field at the offset cmd->info. */
static const char *set_flag(cmd_parms *cmd, void *dc, int on)
{
    cw_srv_conf *c;
    const char *err = srv_of(&c, cmd);

    (void)dc;
    if (!err) {
        *(int *)((char *)c + (apr_size_t)cmd->info) = on;
    }
    return err;
}

static const char *set_credentials(cmd_parms *cmd, void *dc, const char *kind, const char *arg)
{
    cw_srv_conf *c;
    const char *err = srv_of(&c, cmd);

    (void)dc;
    if (!err) {
        cw_conf_credentials(c, &err, kind, arg, ap_server_root, cmd->pool);
    }
    return err;
}

/* One dimension set: AutoScalingGroupName, InstanceId, VirtualHost, Group or Name=Value. */
static const char *add_dim_set(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    cw_srv_conf *c;
    const char *err = srv_of(&c, cmd);

    (void)dc;
    if (!err) {
        cw_conf_add_dim_set(c, &err, argc, argv, cmd->pool);
    }
    return err;
}

const command_rec cw_config_cmds[] = {
    AP_INIT_FLAG(CW_ENABLE, set_enable, NULL, RSRC_CONF | ACCESS_CONF,
                 "On to measure the requests of this server or location"),
    AP_INIT_TAKE1(CW_GROUP, set_group, NULL, RSRC_CONF | ACCESS_CONF,
                  "the group (Group dimension) of the requests of this location"),
    AP_INIT_TAKE1(CW_NAMESPACE, set_arg, (void *)&cw_conf_ns, RSRC_CONF,
                  "the CloudWatch namespace"),
    AP_INIT_TAKE1(CW_REGION, set_arg, (void *)&cw_conf_region, RSRC_CONF, "the AWS region"),
    AP_INIT_TAKE1(
        CW_ENDPOINT, set_arg, (void *)&cw_conf_endpoint, RSRC_CONF,
        "the CloudWatch endpoint URL (default https://monitoring.<region>.amazonaws.com)"),
    AP_INIT_TAKE12(CW_CREDENTIALS, set_credentials, NULL, RSRC_CONF,
                   "default | keyfile PATH | profile NAME"),
    AP_INIT_TAKE1(CW_CA_FILE, set_path, (void *)&cw_conf_ca_file, RSRC_CONF,
                  "CA bundle for the endpoint's TLS certificate"),
    AP_INIT_TAKE1(CW_INTERVAL, set_arg, (void *)&cw_conf_interval, RSRC_CONF,
                  "how often the figures are sent (default 60s)"),
    AP_INIT_TAKE1(CW_TIMEOUT, set_arg, (void *)&cw_conf_timeout, RSRC_CONF,
                  "time for one PutMetricData attempt (default 5s)"),
    AP_INIT_TAKE1(CW_RESOLUTION, set_arg, (void *)&cw_conf_resolution, RSRC_CONF,
                  "60 (standard) or 1 (high resolution)"),
    AP_INIT_TAKE1(CW_MAX_GROUPS, set_arg, (void *)&cw_conf_max_groups, RSRC_CONF,
                  "the most groups (virtual host and group) measured apart; more go to 'other'"),
    AP_INIT_TAKE1(CW_BACKLOG, set_arg, (void *)&cw_conf_backlog, RSRC_CONF,
                  "intervals kept while CloudWatch cannot be reached (default 15)"),
    AP_INIT_TAKE1(CW_ATTEMPTS, set_arg, (void *)&cw_conf_attempts, RSRC_CONF,
                  "attempts per PutMetricData on throttling, 5xx or connection errors"),
    AP_INIT_TAKE_ARGV(CW_DIMENSIONS, add_dim_set, NULL, RSRC_CONF,
                      "one dimension set: AutoScalingGroupName InstanceId VirtualHost Group "
                      "Name=Value (repeat for several sets)"),
    AP_INIT_TAKE1(CW_ASG, set_arg, (void *)&cw_conf_asg, RSRC_CONF,
                  "the AutoScalingGroupName dimension (default: from the instance metadata)"),
    AP_INIT_TAKE1(CW_INSTANCE_ID, set_arg, (void *)&cw_conf_instance_id, RSRC_CONF,
                  "the InstanceId dimension (default: from the instance metadata)"),
    AP_INIT_TAKE1(CW_IMDS_ENDPOINT, set_arg, (void *)&cw_conf_imds_endpoint, RSRC_CONF,
                  "the instance metadata endpoint (default http://169.254.169.254)"),
    AP_INIT_FLAG(CW_TTFB, set_flag, (void *)APR_OFFSETOF(cw_srv_conf, ttfb), RSRC_CONF,
                 "On to measure the time to first byte as well"),
    {NULL},
};

/* --- checks across directives ---------------------------------------------------------------- */

int cw_config_check(server_rec *s, apr_pool_t *ptemp)
{
    const cw_srv_conf *c = cw_config_server(s, ptemp);
    aws_creds_provider_t *creds;
    const char *err = NULL;
    apr_status_t rv;

    if ((err = cw_put_check_namespace(c->ns, ptemp))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, LFLOGNO(03004) "%s: %s", CW_NAMESPACE, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (c->resolution == 1 && c->interval > apr_time_from_sec(60)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     LFLOGNO(03005) "%s 1 (high resolution) is pointless with a %s over 60 s",
                     CW_RESOLUTION, CW_INTERVAL);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* the credentials settings themselves (a key file that is missing or malformed) */
    if ((rv = cw_conf_creds(&creds, &err, c, ptemp)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, lf_log_status(rv), s, LFLOGNO(03006) "%s: %s",
                     CW_CREDENTIALS, err ? err : "cannot be used");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}
