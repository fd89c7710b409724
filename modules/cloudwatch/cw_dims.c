/* cw_dims — the dimension sets of mod_cloudwatch (see cw_dims.h). */
#include <apr_strings.h>

#include "cw_dims.h"
#include "cw_put.h"

static const struct {
    const char *name;
    cw_dim_kind_e kind;
} known[] = {{"AutoScalingGroupName", CW_DIM_ASG},
             {"InstanceId", CW_DIM_INSTANCE},
             {"VirtualHost", CW_DIM_VHOST},
             {"Group", CW_DIM_GROUP}};

#define NKNOWN ((int)(sizeof(known) / sizeof(known[0])))

apr_status_t cw_dims_parse(apr_array_header_t **set, const char **why, int argc, char *const *argv,
                           apr_pool_t *p)
{
    apr_array_header_t *s;
    const char *err;
    int i, k;

    *set = NULL;
    *why = NULL;
    if (argc < 1) {
        *why = "needs at least one dimension (or None)";
        return APR_EINVAL;
    }
    if (argc > CW_PUT_MAX_DIMENSIONS) {
        *why = apr_psprintf(p, "%d dimensions; CloudWatch takes at most %d per metric", argc,
                            CW_PUT_MAX_DIMENSIONS);
        return APR_EINVAL;
    }
    s = apr_array_make(p, argc, sizeof(cw_dim_t));
    if (argc == 1 && !strcasecmp(argv[0], "None")) {
        *set = s; /* no dimensions at all */
        return APR_SUCCESS;
    }
    for (i = 0; i < argc; ++i) {
        cw_dim_t *d = apr_array_push(s);
        const char *eq = strchr(argv[i], '=');

        if (eq) {
            d->kind = CW_DIM_STATIC;
            d->name = apr_pstrmemdup(p, argv[i], (apr_size_t)(eq - argv[i]));
            d->value = eq + 1;
            if ((err = cw_put_check_name(d->value, "dimension value", p))) {
                *why = err;
                return APR_EINVAL;
            }
        }
        else {
            for (k = 0; k < NKNOWN && strcasecmp(argv[i], known[k].name); ++k) {
            }
            if (k == NKNOWN) {
                *why = apr_psprintf(p,
                                    "unknown dimension '%s' (AutoScalingGroupName, InstanceId, "
                                    "VirtualHost, Group, or Name=Value)",
                                    argv[i]);
                return APR_EINVAL;
            }
            d->kind = known[k].kind;
            d->name = known[k].name;
        }
        if ((err = cw_put_check_name(d->name, "dimension name", p))) {
            *why = err;
            return APR_EINVAL;
        }
        for (k = 0; k < i; ++k) {
            if (!strcmp(APR_ARRAY_IDX(s, k, cw_dim_t).name, d->name)) {
                *why = apr_psprintf(p, "dimension '%s' twice", d->name);
                return APR_EINVAL;
            }
        }
    }
    *set = s;
    return APR_SUCCESS;
}

const apr_array_header_t *cw_dims_default(apr_pool_t *p)
{
    apr_array_header_t *sets = apr_array_make(p, 2, sizeof(apr_array_header_t *)), *set;
    cw_dim_t *d;

    set = apr_array_make(p, 1, sizeof(cw_dim_t));
    d = apr_array_push(set);
    d->kind = CW_DIM_ASG;
    d->name = "AutoScalingGroupName";
    APR_ARRAY_PUSH(sets, apr_array_header_t *) = set;
    set = apr_array_copy(p, set);
    d = apr_array_push(set);
    d->kind = CW_DIM_GROUP;
    d->name = "Group";
    APR_ARRAY_PUSH(sets, apr_array_header_t *) = set;
    return sets;
}

int cw_dims_use(const apr_array_header_t *sets, cw_dim_kind_e kind)
{
    int s, k;

    for (s = 0; s < sets->nelts; ++s) {
        const apr_array_header_t *set = APR_ARRAY_IDX(sets, s, const apr_array_header_t *);

        for (k = 0; k < set->nelts; ++k) {
            if (APR_ARRAY_IDX(set, k, cw_dim_t).kind == kind) {
                return 1;
            }
        }
    }
    return 0;
}
