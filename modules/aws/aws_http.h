/* aws_http — the transport to AWS endpoints, over libcurl.
 *
 * One curl handle per thread, reused so connections stay alive between requests; connect,
 * total and low-speed timeouts; TLS verification always on (CA file configurable); retries
 * with jittered exponential backoff on 500/502/503/504, throttling and connection errors (not on
 * failures that would recur, such as an untrusted certificate), only for requests that are safe
 * to repeat, each attempt signed anew; AWS error bodies parsed.
 * Pure core: APR, libcurl, no httpd.
 */
#ifndef AWS_HTTP_H
#define AWS_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "aws_error.h"

typedef struct aws_http_client_t aws_http_client_t;

/** Transport settings; zero fields take the defaults noted. */
typedef struct aws_http_config_t {
    apr_interval_time_t connect_timeout; /* default 3s */
    apr_interval_time_t timeout;         /* whole request, default 30s */
    apr_interval_time_t low_speed_time;  /* abort below 1 byte/s for this long; default 15s */
    int max_attempts;                    /* default 3 (1 = no retry) */
    apr_interval_time_t backoff_base;    /* default 100ms: first retry waits up to this */
    apr_interval_time_t backoff_max;     /* default 5s: no wait is longer */
    const char *ca_file;                 /* NULL: the system's CA store */
    apr_size_t max_body;                 /* response bodies kept in memory, default 1 MiB */
    int body_limit_fails; /* nonzero: an answer longer than max_body ends the transfer
                             (resp->cancelled = APR_ENOSPC) instead of being cut there */
    int no_proxy;         /* nonzero: never a proxy from the environment (link-local metadata
                             endpoints, health checks that measure the peer itself) */
    int fresh_connection; /* nonzero: each request on a connection of its own, closed after
                             it, and no curl handle kept per thread (metadata endpoints asked
                             rarely, health checks that measure a new connection each time) */
} aws_http_config_t;

typedef struct aws_http_request_t aws_http_request_t;

/**
 * A request body from a source (streaming): write up to @p *len bytes at @p buf and set @p *len
 * to the number written; 0 only at the end of the body. Anything but APR_SUCCESS cancels; so
 * does an end before body_len bytes (the transfer then fails with APR_INCOMPLETE).
 */
typedef apr_status_t aws_http_read_fn(char *buf, apr_size_t *len, void *baton);

/** Start the body again from its first byte, for another attempt. */
typedef apr_status_t aws_http_rewind_fn(void *baton);

/**
 * A successful (2xx) answer's status and headers, before its body. Anything but APR_SUCCESS
 * cancels the transfer.
 */
typedef apr_status_t aws_http_head_fn(int status, const apr_table_t *headers, void *baton);

/** Part of a successful (2xx) answer's body. Anything but APR_SUCCESS cancels the transfer. */
typedef apr_status_t aws_http_data_fn(const char *data, apr_size_t len, void *baton);

/**
 * Sign one attempt: return the headers to add (aws_sigv4_header_t), allocated from @p p.
 * Called before every attempt, so a retry carries a fresh date and credentials.
 */
typedef apr_status_t aws_http_sign_fn(apr_array_header_t **headers, const aws_http_request_t *req,
                                      void *baton, apr_pool_t *p);

struct aws_http_request_t {
    const char *method;
    const char *url;
    apr_array_header_t *headers; /* aws_sigv4_header_t, sent as they are */
    const void *body;
    apr_size_t body_len;
    int idempotent;         /* safe to send twice: only these are retried */
    aws_http_sign_fn *sign; /* NULL: send unsigned */
    void *sign_baton;

    /* Streaming, all optional. A body source replaces body (body_len bytes are read from it);
     * without a rewind function the request is not retried once its body was read. A sink
     * gets 2xx answers instead of memory (other answers are still kept and parsed); once
     * on_head was called, the request is not retried. */
    aws_http_read_fn *read;
    aws_http_rewind_fn *rewind;
    void *read_baton;
    aws_http_head_fn *on_head;
    aws_http_data_fn *on_data;
    void *sink_baton;
    apr_interval_time_t timeout; /* 0: the client's; -1: none (long streams: only the
                                    low-speed limit applies) */
    int max_attempts;            /* 0: the client's */
    /* Asked before another attempt and while waiting for it: nonzero ends the retries at
     * once (the last answer stands). NULL: never. For a background thread told to stop. */
    int (*give_up)(void *baton);
    void *give_up_baton;
};

/** What came back; allocated from the pool given to aws_http_perform(). */
typedef struct aws_http_response_t {
    int status; /* 0 when no HTTP answer came */
    apr_table_t *headers;
    const char *body; /* at most max_body bytes, NUL-terminated */
    apr_size_t body_len;
    aws_error_t *error;          /* the AWS error in the body, or NULL */
    const char *transport_error; /* why no answer came (curl's message), or NULL */
    apr_status_t cancelled;      /* what a source or sink returned when it cancelled, APR_ENOSPC
                                    for an answer over a max_body that fails, or 0 */
    int attempts;
} aws_http_response_t;

/**
 * Fill @p cfg for calls made once each (max_attempts 1) within @p timeout (connect, whole,
 * stall), on a connection of their own, never through a proxy: what endpoints that are not AWS
 * services want (instance metadata, container credentials, health checks); other fields zero.
 */
void aws_http_config_once(aws_http_config_t *cfg, apr_interval_time_t timeout);

/**
 * Create a client; its per-thread curl handles are released when their thread exits (with
 * fresh_connection, each request's handle is released before aws_http_perform() returns).
 * @param client out, allocated from @p p
 */
apr_status_t aws_http_client_create(aws_http_client_t **client, const aws_http_config_t *cfg,
                                    apr_pool_t *p);

/**
 * Send @p req, retrying as configured.
 * @param resp out, allocated from @p p, also when the status is an error
 * @return APR_SUCCESS when an HTTP answer came (any status); APR_TIMEUP or APR_EGENERAL when
 *         none did (resp->transport_error says why); resp->cancelled when a source or sink
 *         cancelled the transfer, or APR_ENOSPC for an answer longer than max_body when
 *         body_limit_fails is set
 */
apr_status_t aws_http_perform(aws_http_response_t **resp, aws_http_client_t *client,
                              const aws_http_request_t *req, apr_pool_t *p);

/**
 * Whether an attempt that ended so may be repeated (pure policy, see aws_http.c).
 * @param transport_code curl's CURLcode when no answer came, 0 (CURLE_OK) when one did. A
 *        failure that every attempt would meet again (certificate verification, the CA file, the
 *        URL, TLS settings) is not retried; resolving, connecting, resets and timeouts are.
 */
int aws_http_should_retry(int status, const char *error_code, int transport_code, int idempotent);

/**
 * The wait before retry number @p attempt (1 = first retry): "full jitter", a random share of
 * min(cap, base * 2^(attempt-1)); @p random is any 32-bit random number.
 */
apr_interval_time_t aws_http_backoff(int attempt, apr_interval_time_t base, apr_interval_time_t cap,
                                     apr_uint32_t random);

#endif /* AWS_HTTP_H */
