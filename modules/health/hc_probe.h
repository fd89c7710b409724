/* hc_probe — the built-in checks of mod_health: TCP connect, HTTP(S) GET, the MySQL/MariaDB
 * greeting and a file. Each runs once, blocks for at most its timeout (name resolution
 * included: libcurl resolves with its own timeout) and says why it failed. Pure core: APR and
 * libcurl, no httpd; called from mod_health's check thread and from the unit tests.
 */
#ifndef HC_PROBE_H
#define HC_PROBE_H

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_time.h>

/**
 * Connect to @p host : @p port within @p timeout, then close.
 * @param error out on failure, allocated from @p p
 * @return APR_SUCCESS, APR_TIMEUP, or another error
 */
apr_status_t hc_probe_tcp(const char **error, const char *host, apr_port_t port,
                          apr_interval_time_t timeout, apr_pool_t *p);

/**
 * Connect and read a MySQL/MariaDB server greeting (protocol 10) within @p timeout; no
 * credentials are sent. An error packet in its place (too many connections, host blocked)
 * fails the check with the server's message.
 * @param version out on success: the server version string, allocated from @p p
 * @param error out on failure, allocated from @p p
 */
apr_status_t hc_probe_mysql(const char **version, const char **error, const char *host,
                            apr_port_t port, apr_interval_time_t timeout, apr_pool_t *p);

/**
 * GET @p url (http or https, TLS verified, no proxy, no redirects followed) within
 * @p timeout; succeeds when the status is @p expect.
 * @param ca_file the CA certificates (PEM) that an https peer's certificate is verified
 *        against; NULL for the system's store. Verification is never turned off.
 * @param error out on failure, allocated from @p p
 */
apr_status_t hc_probe_http(const char **error, const char *url, int expect, const char *ca_file,
                           apr_interval_time_t timeout, apr_pool_t *p);

/**
 * Whether @p path can serve as hc_probe_http()'s CA file: a file that can be read and holds at
 * least one PEM certificate. For the configuration, so that a wrong path stops startup instead
 * of failing every run.
 * @param why out on failure: what is wrong, without the path, allocated from @p p
 * @return APR_SUCCESS, the error reading it, or APR_EINVAL when it holds no PEM certificate
 */
apr_status_t hc_probe_ca_file_check(const char **why, const char *path, apr_pool_t *p);

/**
 * Whether the directory of @p path exists and can be read, so that a file there can ever be
 * checked (a drain file, a file check): a wrong path stops startup instead of never matching.
 * @param why out on failure: "cannot read directory of '<path>'", allocated from @p p
 * @return APR_SUCCESS; the error reading it, APR_ENOTDIR or APR_EACCES
 */
apr_status_t hc_probe_dir_check(const char **why, const char *path, apr_pool_t *p);

/**
 * Succeeds when @p path exists (@p want_present) or does not (!@p want_present).
 * @param error out on failure, allocated from @p p
 */
apr_status_t hc_probe_file(const char **error, const char *path, int want_present, apr_pool_t *p);

/**
 * Parse a MySQL greeting packet (4-byte header included).
 * @return APR_SUCCESS with @p version set; APR_INCOMPLETE if more bytes are needed;
 *         APR_EGENERAL with @p error set for an error packet or another protocol
 */
apr_status_t hc_probe_mysql_parse(const char **version, const char **error,
                                  const unsigned char *buf, apr_size_t len, apr_pool_t *p);

#endif /* HC_PROBE_H */
