/* hc_builtin — the built-in check types of mod_health (see hc_builtin.h). */
#include <apr_strings.h>
#include <apr_uri.h>

#include "lf_parse.h"
#include "hc_builtin.h"
#include "hc_probe.h"

static apr_status_t configure_endpoint(hc_builtin_t *c, const char **why, const char *target,
                                       apr_pool_t *p)
{
    if (lf_parse_hostport(&c->host, &c->port, target, 0, p) != APR_SUCCESS) {
        *why = apr_psprintf(p, "bad target '%s' (expected host:port)", target);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t configure_http(hc_builtin_t *c, const char **why, const char *target,
                                   apr_table_t *options, const char *root, apr_pool_t *p)
{
    const char *expect = apr_table_get(options, "expect");
    const char *ca_file = apr_table_get(options, "cafile"), *bad;
    apr_uri_t uri;

    if (apr_uri_parse(p, target, &uri) != APR_SUCCESS || !uri.scheme || !uri.hostname
        || (strcasecmp(uri.scheme, "http") && strcasecmp(uri.scheme, "https"))) {
        *why = apr_psprintf(p, "bad target '%s' (expected an http:// or https:// URL)", target);
        return APR_EINVAL;
    }
    c->url = target;
    c->expect = 200;
    if (expect && lf_parse_int(&c->expect, expect, 100, 599) != APR_SUCCESS) {
        *why = apr_psprintf(p, "bad expect '%s' (an HTTP status, 100 to 599)", expect);
        return APR_EINVAL;
    }
    apr_table_unset(options, "expect");
    if (ca_file) {
        /* Read here, as root, only to refuse a wrong path at startup: the check itself runs in
         * a child, so the file must be readable by httpd's User too. */
        if (strcasecmp(uri.scheme, "https")) {
            *why = "cafile= is for https:// targets";
            return APR_EINVAL;
        }
        if (lf_parse_path(&c->ca_file, ca_file, root, p) != APR_SUCCESS) {
            *why = apr_psprintf(p, "bad cafile '%s'", ca_file);
            return APR_EINVAL;
        }
        if (hc_probe_ca_file_check(&bad, c->ca_file, p) != APR_SUCCESS) {
            *why = apr_psprintf(p, "bad cafile '%s': %s", c->ca_file, bad);
            return APR_EINVAL;
        }
        apr_table_unset(options, "cafile");
    }
    return APR_SUCCESS;
}

static apr_status_t configure_file(hc_builtin_t *c, const char **why, const char *target,
                                   apr_table_t *options, const char *root, apr_pool_t *p)
{
    const char *want = apr_table_get(options, "want");

    if (lf_parse_path(&c->path, target, root, p) != APR_SUCCESS) {
        *why = apr_psprintf(p, "bad path '%s'", target);
        return APR_EINVAL;
    }
    if (hc_probe_dir_check(why, c->path, p) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    c->want_present = 1;
    if (want && !strcmp(want, "absent")) {
        c->want_present = 0;
    }
    else if (want && strcmp(want, "present")) {
        *why = apr_psprintf(p, "bad want '%s' (present or absent)", want);
        return APR_EINVAL;
    }
    apr_table_unset(options, "want");
    return APR_SUCCESS;
}

apr_status_t hc_builtin_configure(hc_builtin_t **check, const char **why, hc_builtin_e type,
                                  const char *target, apr_table_t *options, const char *root,
                                  apr_pool_t *p)
{
    hc_builtin_t *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    c->type = type;
    switch (type) {
    case HC_BUILTIN_HTTP:
        rv = configure_http(c, why, target, options, root, p);
        break;
    case HC_BUILTIN_FILE:
        rv = configure_file(c, why, target, options, root, p);
        break;
    default:
        rv = configure_endpoint(c, why, target, p);
    }
    if (rv == APR_SUCCESS) {
        *check = c;
    }
    return rv;
}

apr_status_t hc_builtin_run(const char **error, const hc_builtin_t *check,
                            apr_interval_time_t timeout, apr_pool_t *p)
{
    const char *version;

    switch (check->type) {
    case HC_BUILTIN_MYSQL:
        return hc_probe_mysql(&version, error, check->host, check->port, timeout, p);
    case HC_BUILTIN_HTTP:
        return hc_probe_http(error, check->url, check->expect, check->ca_file, timeout, p);
    case HC_BUILTIN_FILE:
        return hc_probe_file(error, check->path, check->want_present, p);
    default:
        return hc_probe_tcp(error, check->host, check->port, timeout, p);
    }
}
