/* hc_conf — reading HealthCheck lines and the arguments of mod_health's other directives (see
 * hc_conf.h). */
#include <apr_lib.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <strings.h>

#include "lf_parse.h"
#include "hc_conf.h"

/* The defaults of a check's own options, as the directive's documentation states them. */
#define HC_CONF_INTERVAL (5 * APR_USEC_PER_SEC)
#define HC_CONF_TIMEOUT  (2 * APR_USEC_PER_SEC)
#define HC_CONF_RISE     2
#define HC_CONF_FALL     3
/* The shortest interval or timeout: a check thread ticks every 100ms. */
#define HC_CONF_MIN_DURATION (100 * 1000)

static int valid_name(const char *name)
{
    const char *c;

    for (c = name; *c; ++c) {
        if (!apr_isalnum(*c) && !strchr("_.-", *c)) {
            return 0;
        }
    }
    return c != name && c - name < HC_NAME_LEN;
}

/* Whether the word after the type is its target rather than the first option: anything but
 * key=value without a '/' (a URL's query may hold '='). hc_conf_target() reads it as an option
 * after all when the type takes no target. */
static int reads_as_target(const char *word)
{
    return *word && (!strchr(word, '=') || strchr(word, '/'));
}

/* One key=value word: mod_health's own options are read into @p hc, the others go to its
 * options table. */
static apr_status_t read_option(hc_conf_check_t *hc, const char **why, const char *word,
                                apr_pool_t *p)
{
    const char *eq = strchr(word, '=');
    const char *key = eq ? apr_pstrmemdup(p, word, eq - word) : word;
    const char *val = eq ? eq + 1 : "";

    if (!eq || !*key) {
        *why = apr_psprintf(p, "'%s' is not key=value", word);
        return APR_EINVAL;
    }
    if (!strcmp(key, "interval") || !strcmp(key, "timeout")) {
        apr_interval_time_t *d = key[0] == 'i' ? &hc->interval : &hc->timeout;
        if (lf_parse_duration(d, val, "s") != APR_SUCCESS || *d < HC_CONF_MIN_DURATION) {
            *why = apr_psprintf(p, "bad duration '%s' for %s (at least 100ms, e.g. 5s)", val, key);
            return APR_EINVAL;
        }
    }
    else if (!strcmp(key, "rise") || !strcmp(key, "fall")) {
        int *n = key[0] == 'r' ? &hc->params.rise : &hc->params.fall;
        if (lf_parse_int(n, val, 1, 100) != APR_SUCCESS) {
            *why = apr_psprintf(p, "bad %s '%s' (a number from 1 to 100)", key, val);
            return APR_EINVAL;
        }
    }
    else if (!strcmp(key, "severity")) {
        if (!strcmp(val, "critical")) {
            hc->severity = HC_SEV_CRITICAL;
        }
        else if (!strcmp(val, "degraded")) {
            hc->severity = HC_SEV_DEGRADED;
        }
        else {
            *why = apr_psprintf(p, "bad severity '%s' (critical or degraded)", val);
            return APR_EINVAL;
        }
    }
    else {
        apr_table_set(hc->options, key, val);
    }
    return APR_SUCCESS;
}

static apr_status_t check_timeout(const hc_conf_check_t *hc, const char **why, apr_pool_t *p)
{
    if (hc->timeout > hc->interval) {
        *why = apr_psprintf(p, "timeout must not exceed interval (check '%s')", hc->name);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t hc_conf_add(hc_conf_check_t **check, const char **why, apr_array_header_t *checks,
                         int argc, const char *const argv[], apr_pool_t *p)
{
    hc_conf_check_t hc;
    int i, next = 2;

    if (checks->nelts >= HC_MAX_CHECKS) {
        *why = apr_psprintf(p, "at most %d checks", HC_MAX_CHECKS);
        return APR_EINVAL;
    }
    if (argc < 2 || !*argv[0] || !*argv[1]) {
        *why = "expected <name> <type> [<target>] [key=value ...]";
        return APR_EINVAL;
    }
    memset(&hc, 0, sizeof(hc));
    hc.name = apr_pstrdup(p, argv[0]);
    hc.type = apr_pstrdup(p, argv[1]);
    if (!valid_name(hc.name)) {
        *why = apr_psprintf(p, "bad check name '%s' (letters, digits, '_.-', at most %d)", hc.name,
                            HC_NAME_LEN - 1);
        return APR_EINVAL;
    }
    for (i = 0; i < checks->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(checks, i, hc_conf_check_t).name, hc.name)) {
            *why = apr_psprintf(p, "duplicate check name '%s'", hc.name);
            return APR_EINVAL;
        }
    }
    hc.interval = HC_CONF_INTERVAL;
    hc.timeout = HC_CONF_TIMEOUT;
    hc.params.rise = HC_CONF_RISE;
    hc.params.fall = HC_CONF_FALL;
    hc.severity = HC_SEV_CRITICAL;
    hc.options = apr_table_make(p, 4);
    if (argc > 2 && reads_as_target(argv[2])) {
        hc.target = apr_pstrdup(p, argv[2]);
        next = 3;
    }
    for (i = next; i < argc; ++i) {
        if (read_option(&hc, why, argv[i], p) != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    if (check_timeout(&hc, why, p) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    *check = apr_array_push(checks);
    **check = hc;
    return APR_SUCCESS;
}

apr_status_t hc_conf_target(hc_conf_check_t *check, const char **why, int takes_target,
                            apr_pool_t *p)
{
    const apr_array_header_t *rest;
    apr_table_t *later;
    int i;

    if (takes_target) {
        if (!check->target) {
            *why = apr_psprintf(p, "missing target for check '%s' of type %s", check->name,
                                check->type);
            return APR_EINVAL;
        }
        return APR_SUCCESS;
    }
    if (!check->target) {
        return APR_SUCCESS;
    }
    /* The word was the line's first option: read it first, as the line has it. */
    later = check->options;
    check->options = apr_table_make(p, apr_table_elts(later)->nelts + 1);
    if (read_option(check, why, check->target, p) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    check->target = NULL;
    rest = apr_table_elts(later);
    for (i = 0; i < rest->nelts; ++i) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(rest, i, apr_table_entry_t);
        apr_table_set(check->options, e->key, e->val);
    }
    return check_timeout(check, why, p);
}

apr_status_t hc_conf_unused(const char **why, const hc_conf_check_t *check, apr_pool_t *p)
{
    const apr_array_header_t *left = apr_table_elts(check->options);

    if (left->nelts) {
        *why = apr_psprintf(p, "unknown option '%s' for type %s",
                            APR_ARRAY_IDX(left, 0, apr_table_entry_t).key, check->type);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t hc_conf_path(const char **path, const char **why, const char *arg, apr_pool_t *p)
{
    if (!strcasecmp(arg, "none")) {
        *path = "";
        return APR_SUCCESS;
    }
    if (arg[0] != '/') {
        *why = apr_psprintf(p, "'%s' is not a path starting with '/' (or none)", arg);
        return APR_EINVAL;
    }
    *path = arg;
    return APR_SUCCESS;
}

apr_status_t hc_conf_allow(apr_array_header_t *allow, const char **why, const char *arg,
                           apr_pool_t *p)
{
    char *addr, *mask;
    apr_ipsubnet_t *net;

    if (!strcasecmp(arg, "none")) {
        return APR_SUCCESS; /* an empty list: nobody gets details or drain control */
    }
    addr = apr_pstrdup(p, arg);
    if ((mask = strchr(addr, '/'))) {
        *mask++ = '\0';
    }
    if (apr_ipsubnet_create(&net, addr, mask, p) != APR_SUCCESS) {
        *why = apr_psprintf(p, "bad address '%s' (expected an IP or IP/bits)", arg);
        return APR_EINVAL;
    }
    APR_ARRAY_PUSH(allow, apr_ipsubnet_t *) = net;
    return APR_SUCCESS;
}

apr_status_t hc_conf_allow_loopback(apr_array_header_t **allow, apr_pool_t *p)
{
    const char *why;

    *allow = apr_array_make(p, 2, sizeof(apr_ipsubnet_t *));
    hc_conf_allow(*allow, &why, "127.0.0.1", p);
    hc_conf_allow(*allow, &why, "::1", p); /* refused where the system has no IPv6 */
    return APR_SUCCESS;
}

apr_status_t hc_conf_stall_timeout(apr_interval_time_t *timeout, const char **why, const char *arg,
                                   apr_pool_t *p)
{
    if (lf_parse_duration(timeout, arg, "s") != APR_SUCCESS || *timeout < APR_USEC_PER_SEC) {
        *why = apr_psprintf(p, "bad duration '%s' (at least 1s, e.g. 30s or 2m)", arg);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
