/* hc_builtin — the built-in check types of mod_health: tcp, mysql, http and file. A check reads
 * its target and options once, when the configuration is read, and runs one of hc_probe's
 * probes each time it is due. Pure core: APR, libcurl through hc_probe; mod_health's glue
 * registers the types as providers.
 */
#ifndef HC_BUILTIN_H
#define HC_BUILTIN_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef enum {
    HC_BUILTIN_TCP = 0, /* target host:port: connect */
    HC_BUILTIN_MYSQL,   /* target host:port: the server's greeting */
    HC_BUILTIN_HTTP,    /* target http(s):// URL: GET, expect=<status>, cafile=<PEM> */
    HC_BUILTIN_FILE     /* target path: want=present|absent */
} hc_builtin_e;

/** A check of a built-in type, as configured; configuration pool. */
typedef struct hc_builtin_t {
    hc_builtin_e type;
    const char *host;    /* tcp, mysql */
    apr_port_t port;     /* tcp, mysql */
    const char *url;     /* http */
    int expect;          /* http: the status that passes; default 200 */
    const char *ca_file; /* http: CA certificates of an https target; NULL: the system's */
    const char *path;    /* file: absolute */
    int want_present;    /* file: pass while it exists (1, default) or while it does not (0) */
} hc_builtin_t;

/**
 * Read a check of built-in type @p type: its target and the options it takes, which it removes
 * from @p options (what is left is the caller's to refuse).
 * @param check out: allocated from @p p
 * @param why out on error: what is wrong, without the directive name, from @p p
 * @param root the server root, against which relative paths (the file, cafile=) are resolved
 * @return APR_SUCCESS, or APR_EINVAL with @p why
 */
apr_status_t hc_builtin_configure(hc_builtin_t **check, const char **why, hc_builtin_e type,
                                  const char *target, apr_table_t *options, const char *root,
                                  apr_pool_t *p);

/**
 * Run @p check once, for at most @p timeout.
 * @param error out on failure: why, from @p p
 * @return APR_SUCCESS when healthy
 */
apr_status_t hc_builtin_run(const char **error, const hc_builtin_t *check,
                            apr_interval_time_t timeout, apr_pool_t *p);

#endif /* HC_BUILTIN_H */
