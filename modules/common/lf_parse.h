/* lf_parse — the small parsers every module's directives need: durations, sizes, bounded
 * integers, host:port and lists of them. Pure functions: APR only, no httpd.
 */
#ifndef LF_PARSE_H
#define LF_PARSE_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/** One "host:port" entry of a list. */
typedef struct lf_hostport_t {
    const char *host; /* without brackets for IPv6 */
    apr_port_t port;
} lf_hostport_t;

/**
 * Parse a duration: digits followed by a unit "us", "ms", "s", "m", "h" or "d"; a bare number is
 * in @p default_unit (one of the same units). Examples: "250ms", "5s", "2m".
 * @return APR_SUCCESS, or APR_EINVAL for anything else (empty, negative, unknown unit, overflow).
 */
apr_status_t lf_parse_duration(apr_interval_time_t *out, const char *s, const char *default_unit);

/**
 * Parse a size in bytes: digits with an optional suffix K, M, G or T (powers of 1024; "KB",
 * "KiB" accepted, case-insensitive). Examples: "512", "16M", "1G".
 * @return APR_SUCCESS, or APR_EINVAL.
 */
apr_status_t lf_parse_size(apr_off_t *out, const char *s);

/**
 * Parse a decimal integer in [min, max], nothing else around it.
 * @return APR_SUCCESS, or APR_EINVAL.
 */
apr_status_t lf_parse_int(int *out, const char *s, int min, int max);

/**
 * Whether the @p len bytes at @p s can be a host to connect to, as a server names one in a
 * reply (a name or an address): 1 to 255 printable characters, no space, no NUL.
 */
int lf_parse_is_host(const char *s, apr_size_t len);

/**
 * Parse "host:port", "[v6addr]:port" or, when @p default_port is not 0, a bare host.
 * @param host out, allocated from @p p
 * @return APR_SUCCESS, or APR_EINVAL (no host, bad or missing port).
 */
apr_status_t lf_parse_hostport(const char **host, apr_port_t *port, const char *s,
                               apr_port_t default_port, apr_pool_t *p);

/**
 * Parse a list of host:port entries separated by commas and/or spaces.
 * @param out array of lf_hostport_t, allocated from @p p; at least one entry on success
 * @param bad out: on APR_EINVAL, the offending entry (from @p p)
 */
apr_status_t lf_parse_hostport_list(apr_array_header_t **out, const char **bad, const char *s,
                                    apr_port_t default_port, apr_pool_t *p);

/**
 * @p path made absolute against @p root (the server root), as httpd's ap_server_root_relative()
 * does for a configuration's file names, so that core files resolve paths the glue's way.
 * @param out the path, allocated from @p p
 * @return APR_SUCCESS, or why it cannot be merged (a bad path)
 */
apr_status_t lf_parse_path(const char **out, const char *path, const char *root, apr_pool_t *p);

/** Format a duration for messages and configs ("250ms", "5s", "2m"), allocated from @p p. */
const char *lf_format_duration(apr_interval_time_t d, apr_pool_t *p);

#endif /* LF_PARSE_H */
