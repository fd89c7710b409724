/* lf_conn — one client connection to a backend that does not speak HTTP (redis today), over TCP
 * or TLS through the same calls, so that a driver has one code path for both. libcurl keeps
 * doing HTTPS; this is for the drivers whose client libraries have no TLS of their own
 * (hiredis 0.14 keeps the protocol, its bytes go through here).
 *
 * TLS (lf_tls_t, one per backend, shared by every connection of a process): certificate
 * verification always on, against the system's trust store (Debian's ca-certificates holds
 * Amazon Root CA 1-4) or a CA file; the server's name checked against the name connected to
 * (a DNS name, or an IP address in the certificate's IP SANs); SNI for DNS names; TLS 1.2 or
 * later; and session resumption, so that reconnecting to a server costs an abbreviated
 * handshake, not a full one.
 *
 * Every wait is bounded: the connect and the handshake by the connect timeout, each read and
 * write by the I/O timeout. The socket is non-blocking throughout and waits are poll()s, so no
 * signal or SO_RCVTIMEO is involved. Writes may raise SIGPIPE on a connection the peer closed:
 * httpd ignores SIGPIPE in its children, as must any other program using this.
 * Pure core: APR, OpenSSL and POSIX sockets.
 */
#ifndef LF_CONN_H
#define LF_CONN_H

#include <apr_pools.h>
#include <sys/uio.h>

#include <apr_network_io.h>
#include <apr_time.h>

/** A TLS client configuration with its cache of sessions; thread-safe once made. */
typedef struct lf_tls_t lf_tls_t;

/** One connection; used by one thread at a time. */
typedef struct lf_conn_t lf_conn_t;

/**
 * Make a TLS client configuration: its trust store is loaded now, so that a CA file that cannot
 * be read stops startup rather than every connection.
 * @param tls out, allocated from @p p; released (with its OpenSSL objects) by a cleanup of @p p
 * @param ca_file PEM file of the CAs to trust; NULL for the system's trust store
 * @param why out on error: what is wrong, from @p p
 * @return APR_SUCCESS; APR_EINVAL when @p ca_file holds no usable certificate; APR_ENOMEM
 */
apr_status_t lf_tls_create(lf_tls_t **tls, const char *ca_file, const char **why, apr_pool_t *p);

/**
 * Connect to @p host : @p port (every address it resolves to, in turn, within the connect
 * timeout), and with @p tls make the TLS handshake within the same time, resuming the session
 * of an earlier connection to the same host and port when there is one.
 * @param conn out: the connection, also on failure (lf_conn_error() says why); release it with
 *        lf_conn_close(). Allocated with malloc: connections come and go for the life of a
 *        process, a pool would only grow.
 * @param tls NULL for plain TCP
 * @return APR_SUCCESS; APR_TIMEUP (no connection or handshake in time); APR_ECONNREFUSED (the
 *         name does not resolve, or every address refused); APR_EGENERAL (the handshake
 *         failed: a certificate that does not verify, a server that does not speak TLS);
 *         APR_ENOMEM (with *conn NULL)
 */
apr_status_t lf_conn_open(lf_conn_t **conn, const char *host, apr_port_t port, lf_tls_t *tls,
                          apr_interval_time_t connect_timeout, apr_interval_time_t io_timeout);

/**
 * Send all of @p len bytes, waiting at most the I/O timeout each time the socket is full.
 * @return APR_SUCCESS; APR_TIMEUP; APR_ECONNRESET (the connection broke); APR_EGENERAL (TLS)
 */
apr_status_t lf_conn_write(lf_conn_t *conn, const void *buf, apr_size_t len);

/**
 * Send the @p n pieces of @p iov as lf_conn_write() sends one: pieces that fit in one TLS record
 * together (a command, a pipeline of them) go in one write, so that the server gets one record
 * and one read; larger ones are written as they are, without a copy.
 * @return as lf_conn_write()
 */
apr_status_t lf_conn_writev(lf_conn_t *conn, const struct iovec *iov, int n);

/**
 * Read what has come, at least one byte and at most @p *len, waiting at most the I/O timeout.
 * @param len in: the room in @p buf; out: the bytes read
 * @return APR_SUCCESS; APR_EOF (the server closed the connection); APR_TIMEUP; APR_ECONNRESET;
 *         APR_EGENERAL (TLS)
 */
apr_status_t lf_conn_read(lf_conn_t *conn, void *buf, apr_size_t *len);

/**
 * Whether a connection that should be idle (no reply owed) can take a request: not closed by
 * the server, and nothing unexpected waiting in it. Reads, without waiting, what TLS sends
 * between requests (TLS 1.3 session tickets).
 */
int lf_conn_idle_alive(lf_conn_t *conn);

/** Why the last call on @p conn failed, "" when none; the OpenSSL reason for TLS errors. */
const char *lf_conn_error(const lf_conn_t *conn);

/** "TLSv1.3, resumed" (the protocol, and whether the handshake resumed a session); NULL for TCP. */
const char *lf_conn_tls_info(const lf_conn_t *conn);

/** Close @p conn (NULL: nothing) and release it. */
void lf_conn_close(lf_conn_t *conn);

#endif /* LF_CONN_H */
