/* lf_parse — directive value parsers shared by all modules (see lf_parse.h). */
#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "lf_parse.h"

/* Parse leading decimal digits into *v; returns the first non-digit, or NULL on no digits or
 * overflow of apr_int64_t. */
static const char *parse_digits(apr_int64_t *v, const char *s)
{
    apr_int64_t n = 0;
    const char *c = s;

    for (; apr_isdigit(*c); ++c) {
        if (n > (APR_INT64_MAX - (*c - '0')) / 10) {
            return NULL;
        }
        n = n * 10 + (*c - '0');
    }
    if (c == s) {
        return NULL;
    }
    *v = n;
    return c;
}

/* Microseconds per duration unit, 0 for an unknown unit. */
static apr_int64_t duration_unit(const char *u)
{
    static const struct {
        const char *name;
        apr_int64_t usec;
    } units[] = {
        {"us", 1},
        {"ms", 1000},
        {"s", APR_USEC_PER_SEC},
        {"m", 60 * APR_USEC_PER_SEC},
        {"h", 3600 * APR_USEC_PER_SEC},
        {"d", 86400 * APR_USEC_PER_SEC},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); ++i) {
        if (!strcmp(u, units[i].name)) {
            return units[i].usec;
        }
    }
    return 0;
}

apr_status_t lf_parse_duration(apr_interval_time_t *out, const char *s, const char *default_unit)
{
    apr_int64_t n, mult;
    const char *rest;

    if (!s || !(rest = parse_digits(&n, s))) {
        return APR_EINVAL;
    }
    mult = duration_unit(*rest ? rest : default_unit);
    if (!mult || n > APR_INT64_MAX / mult) {
        return APR_EINVAL;
    }
    *out = n * mult;
    return APR_SUCCESS;
}

apr_status_t lf_parse_size(apr_off_t *out, const char *s)
{
    static const char suffixes[] = "KMGT";
    apr_int64_t n, mult = 1;
    const char *rest, *sfx;

    if (!s || !(rest = parse_digits(&n, s))) {
        return APR_EINVAL;
    }
    if (*rest) {
        sfx = strchr(suffixes, apr_toupper(*rest));
        if (!sfx) {
            return APR_EINVAL;
        }
        mult = (apr_int64_t)1 << (10 * (sfx - suffixes + 1));
        ++rest;
        if (*rest && strcasecmp(rest, "B") && strcasecmp(rest, "iB")) {
            return APR_EINVAL;
        }
    }
    if (n > APR_INT64_MAX / mult) {
        return APR_EINVAL;
    }
    *out = (apr_off_t)(n * mult);
    return APR_SUCCESS;
}

apr_status_t lf_parse_int(int *out, const char *s, int min, int max)
{
    apr_int64_t n;
    const char *rest;
    int neg = 0;

    if (s && *s == '-') {
        neg = 1;
        ++s;
    }
    if (!s || !(rest = parse_digits(&n, s)) || *rest) {
        return APR_EINVAL;
    }
    if (neg) {
        n = -n;
    }
    if (n < min || n > max) {
        return APR_EINVAL;
    }
    *out = (int)n;
    return APR_SUCCESS;
}

int lf_parse_is_host(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (!len || len > 255) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isgraph(s[i])) {
            return 0;
        }
    }
    return 1;
}

apr_status_t lf_parse_hostport(const char **host, apr_port_t *port, const char *s,
                               apr_port_t default_port, apr_pool_t *p)
{
    char *addr = NULL, *scope = NULL;
    apr_port_t prt = 0;

    if (!s || !*s || apr_parse_addr_port(&addr, &scope, &prt, s, p) != APR_SUCCESS || !addr
        || scope) {
        return APR_EINVAL;
    }
    if (!prt) {
        if (!default_port || s[strlen(s) - 1] == ':') {
            return APR_EINVAL;
        }
        prt = default_port;
    }
    *host = addr;
    *port = prt;
    return APR_SUCCESS;
}

apr_status_t lf_parse_hostport_list(apr_array_header_t **out, const char **bad, const char *s,
                                    apr_port_t default_port, apr_pool_t *p)
{
    apr_array_header_t *list = apr_array_make(p, 4, sizeof(lf_hostport_t));
    char *copy = apr_pstrdup(p, s ? s : ""), *state = NULL, *tok;

    for (tok = apr_strtok(copy, ", \t", &state); tok; tok = apr_strtok(NULL, ", \t", &state)) {
        lf_hostport_t *hp = apr_array_push(list);
        if (lf_parse_hostport(&hp->host, &hp->port, tok, default_port, p) != APR_SUCCESS) {
            *bad = tok;
            return APR_EINVAL;
        }
    }
    if (list->nelts == 0) {
        *bad = "";
        return APR_EINVAL;
    }
    *out = list;
    return APR_SUCCESS;
}

const char *lf_format_duration(apr_interval_time_t d, apr_pool_t *p)
{
    if (d % APR_USEC_PER_SEC) {
        return d % 1000 ? apr_psprintf(p, "%" APR_INT64_T_FMT "us", (apr_int64_t)d)
                        : apr_psprintf(p, "%" APR_INT64_T_FMT "ms", (apr_int64_t)(d / 1000));
    }
    d /= APR_USEC_PER_SEC;
    if (d && d % 60 == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "m", (apr_int64_t)(d / 60));
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT "s", (apr_int64_t)d);
}

apr_status_t lf_parse_path(const char **out, const char *path, const char *root, apr_pool_t *p)
{
    char *merged = NULL;
    apr_status_t rv = apr_filepath_merge(&merged, root, path, APR_FILEPATH_TRUENAME, p);

    /* what need not exist yet (a drain file, a file check's target) is still a good path */
    if (merged
        && (rv == APR_SUCCESS || APR_STATUS_IS_EPATHWILD(rv) || APR_STATUS_IS_ENOENT(rv)
            || APR_STATUS_IS_ENOTDIR(rv))) {
        *out = merged;
        return APR_SUCCESS;
    }
    return rv != APR_SUCCESS ? rv : APR_EBADPATH;
}
