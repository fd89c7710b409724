/* cw_conf — the settings of mod_cloudwatch, without httpd (see cw_conf.h). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "cw_conf.h"
#include "cw_dims.h"
#include "cw_put.h"
#include "cw_shm.h"
#include "lf_parse.h"

#define FIELD(f) APR_OFFSETOF(cw_srv_conf, f)

const cw_conf_arg_t cw_conf_ns = {CW_CONF_STR, FIELD(ns), 0, 0, 0, NULL};
const cw_conf_arg_t cw_conf_region = {CW_CONF_REGION, FIELD(region), 0, 0, 0, NULL};
const cw_conf_arg_t cw_conf_endpoint = {CW_CONF_URL, FIELD(endpoint), 0, 0, 0, NULL};
const cw_conf_arg_t cw_conf_ca_file = {CW_CONF_STR, FIELD(ca_file), 0, 0, 0, NULL};
/* 1 s (tests, high resolution) to 1 hour */
const cw_conf_arg_t cw_conf_interval = {
    CW_CONF_DURATION,        FIELD(interval),  APR_USEC_PER_SEC,
    3600 * APR_USEC_PER_SEC, APR_USEC_PER_SEC, "a whole number of seconds from 1s to 1h"};
const cw_conf_arg_t cw_conf_timeout = {CW_CONF_DURATION,
                                       FIELD(timeout),
                                       100 * 1000,
                                       60 * APR_USEC_PER_SEC,
                                       0,
                                       "a duration from 100ms to 60s"};
const cw_conf_arg_t cw_conf_resolution = {CW_CONF_RESOLUTION, FIELD(resolution), 0, 0, 0, NULL};
const cw_conf_arg_t cw_conf_max_groups = {CW_CONF_INT, FIELD(max_groups), 1, 1000, 0, "a number"};
const cw_conf_arg_t cw_conf_backlog = {CW_CONF_INT, FIELD(backlog),         1, 1440,
                                       0,           "a number of intervals"};
const cw_conf_arg_t cw_conf_attempts = {CW_CONF_INT, FIELD(attempts), 1, 10, 0, "a number"};
const cw_conf_arg_t cw_conf_asg = {CW_CONF_DIM_VALUE, FIELD(asg), 0, 0, 0, NULL};
const cw_conf_arg_t cw_conf_instance_id = {CW_CONF_DIM_VALUE, FIELD(instance_id), 0, 0, 0, NULL};
const cw_conf_arg_t cw_conf_imds_endpoint = {CW_CONF_URL, FIELD(imds_endpoint), 0, 0, 0, NULL};

apr_status_t cw_conf_set(cw_srv_conf *c, const char **why, const cw_conf_arg_t *a, const char *name,
                         const char *arg, apr_pool_t *p)
{
    char *field = (char *)c + a->offset;
    const char *v = arg, *err;
    apr_interval_time_t t;
    int n;

    *why = NULL;
    switch (a->kind) {
    case CW_CONF_STR:
        break;
    case CW_CONF_URL:
        if (strncasecmp(arg, "http://", 7) && strncasecmp(arg, "https://", 8)) {
            *why = apr_psprintf(p, "%s: '%s' is not an http:// or https:// URL", name, arg);
        }
        break;
    case CW_CONF_DIM_VALUE:
        v = strcasecmp(arg, "none") ? arg : "";
        if (*v && (err = cw_put_check_name(v, "dimension value", p))) {
            *why = apr_psprintf(p, "%s: %s", name, err);
        }
        break;
    case CW_CONF_REGION:
        if (!*arg || strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(arg)) {
            *why = apr_psprintf(p, "%s: '%s' is not a region name", name, arg);
        }
        break;
    case CW_CONF_RESOLUTION:
        if (strcmp(arg, "1") && strcmp(arg, "60")) {
            *why = apr_psprintf(p, "%s: '%s' is neither 60 (standard) nor 1 (high resolution)",
                                name, arg);
            return APR_EINVAL;
        }
        *(int *)field = atoi(arg);
        return APR_SUCCESS;
    case CW_CONF_INT:
        if (lf_parse_int(&n, arg, (int)a->min, (int)a->max) != APR_SUCCESS) {
            *why = apr_psprintf(p, "%s: '%s' is not %s from %d to %d", name, arg, a->what,
                                (int)a->min, (int)a->max);
            return APR_EINVAL;
        }
        *(int *)field = n;
        return APR_SUCCESS;
    case CW_CONF_DURATION:
        if (lf_parse_duration(&t, arg, "s") != APR_SUCCESS || t < a->min || t > a->max
            || (a->step && t % a->step)) {
            *why = apr_psprintf(p, "%s: '%s' is not %s", name, arg, a->what);
            return APR_EINVAL;
        }
        *(apr_interval_time_t *)field = t;
        return APR_SUCCESS;
    }
    if (*why) {
        return APR_EINVAL;
    }
    *(const char **)field = v;
    return APR_SUCCESS;
}

apr_status_t cw_conf_group(const char **why, const char *group, apr_pool_t *p)
{
    const char *err = cw_put_check_name(group, "group name", p);

    *why = NULL;
    if (err || strlen(group) >= CW_NAME_MAX) {
        *why = apr_psprintf(p, "%s: %s", CW_GROUP,
                            err ? err : "a group name has at most 63 characters");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t cw_conf_add_dim_set(cw_srv_conf *c, const char **why, int argc, char *const argv[],
                                 apr_pool_t *p)
{
    apr_array_header_t *set;
    const char *err;

    *why = NULL;
    if (cw_dims_parse(&set, &err, argc, argv, p) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s: %s", CW_DIMENSIONS, err);
        return APR_EINVAL;
    }
    if (!c->dim_sets) {
        c->dim_sets = apr_array_make(p, 2, sizeof(apr_array_header_t *));
    }
    APR_ARRAY_PUSH(c->dim_sets, apr_array_header_t *) = set;
    return APR_SUCCESS;
}

apr_status_t cw_conf_credentials(cw_srv_conf *c, const char **why, const char *kind,
                                 const char *arg, const char *root, apr_pool_t *p)
{
    *why = NULL;
    if (aws_creds_source_conf(&c->creds_kind, &c->creds_arg, kind, arg, root, p) != APR_SUCCESS) {
        *why = CW_CREDENTIALS ": " AWS_CREDS_SOURCE_SYNTAX;
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

const apr_array_header_t *cw_conf_dim_sets(const cw_srv_conf *conf, apr_pool_t *p)
{
    return conf->dim_sets ? conf->dim_sets : cw_dims_default(p);
}

apr_status_t cw_conf_creds(aws_creds_provider_t **out, const char **why, const cw_srv_conf *c,
                           apr_pool_t *p)
{
    aws_creds_config_t cc;

    memset(&cc, 0, sizeof(cc));
    aws_creds_config_set_source(&cc, c->creds_kind, c->creds_arg);
    cc.imds_endpoint = c->imds_endpoint;
    return aws_creds_provider_create(out, why, &cc, p);
}
