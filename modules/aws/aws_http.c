/* aws_http — libcurl transport with retries (see aws_http.h). */
#include <stdlib.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <curl/curl.h>

#include "aws_http.h"
#include "aws_sigv4.h"
#include "lf_log.h"

struct aws_http_client_t {
    aws_http_config_t cfg;
    apr_threadkey_t *handle_key; /* this thread's CURL handle; NULL with fresh_connection */
};

/* A response body kept up to a limit; the rest is counted, not stored. */
typedef struct body_buf_t {
    char *data;
    apr_size_t len, cap, limit;
    int limit_fails; /* more than limit cancels the transfer (APR_ENOSPC) */
    apr_pool_t *pool;
} body_buf_t;

/* One attempt's state, seen by the callbacks. Lives on aws_http_perform()'s stack: the handle
 * forgets every pointer to it (curl_easy_reset) before the attempt returns. */
typedef struct attempt_t {
    body_buf_t body;
    apr_table_t *headers;
    const aws_http_request_t *req;
    int status;             /* of the last status line seen (1xx, then the final one) */
    int sinking;            /* the answer goes to the request's sink: on_head was called */
    int body_read;          /* the body source was read from */
    apr_size_t sent;        /* bytes read from the body source */
    apr_status_t cancelled; /* what the source or the sink returned when it cancelled */
} attempt_t;

static void handle_destroy(void *handle)
{
    if (handle) {
        curl_easy_cleanup(handle);
    }
}

void aws_http_config_once(aws_http_config_t *cfg, apr_interval_time_t timeout)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->connect_timeout = timeout;
    cfg->timeout = timeout;
    cfg->low_speed_time = timeout;
    cfg->max_attempts = 1;
    cfg->no_proxy = 1;
    cfg->fresh_connection = 1;
}

apr_status_t aws_http_client_create(aws_http_client_t **client, const aws_http_config_t *cfg,
                                    apr_pool_t *p)
{
    aws_http_client_t *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    c->cfg = *cfg;
    if (!c->cfg.connect_timeout) {
        c->cfg.connect_timeout = apr_time_from_sec(3);
    }
    if (!c->cfg.timeout) {
        c->cfg.timeout = apr_time_from_sec(30);
    }
    if (!c->cfg.low_speed_time) {
        c->cfg.low_speed_time = apr_time_from_sec(15);
    }
    if (c->cfg.max_attempts < 1) {
        c->cfg.max_attempts = 3;
    }
    if (!c->cfg.backoff_base) {
        c->cfg.backoff_base = apr_time_from_msec(100);
    }
    if (!c->cfg.backoff_max) {
        c->cfg.backoff_max = apr_time_from_sec(5);
    }
    if (!c->cfg.max_body) {
        c->cfg.max_body = 1024 * 1024;
    }
    if (c->cfg.ca_file) {
        c->cfg.ca_file = apr_pstrdup(p, c->cfg.ca_file);
    }
    rv = c->cfg.fresh_connection ? APR_SUCCESS
                                 : apr_threadkey_private_create(&c->handle_key, handle_destroy, p);
    if (rv == APR_SUCCESS) {
        *client = c;
    }
    return rv;
}

/* This thread's handle: reused, so its connection cache keeps connections alive. */
static CURL *thread_handle(aws_http_client_t *c)
{
    void *h = NULL;

    apr_threadkey_private_get(&h, c->handle_key);
    if (h) {
        curl_easy_reset(h); /* options only: the connection cache stays */
        return h;
    }
    h = curl_easy_init();
    if (h && apr_threadkey_private_set(h, c->handle_key) != APR_SUCCESS) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
}

/* Keep part of an answer in memory, up to the limit; whether all of it fit. */
static int body_keep(body_buf_t *b, const char *ptr, apr_size_t n)
{
    apr_size_t keep = n;

    if (b->len + keep > b->limit) {
        keep = b->limit > b->len ? b->limit - b->len : 0;
    }
    if (keep) {
        if (b->len + keep > b->cap) {
            apr_size_t cap = b->cap ? b->cap : 4096;
            char *grown;
            while (cap < b->len + keep) {
                cap *= 2;
            }
            grown = apr_palloc(b->pool, cap + 1);
            if (b->len) {
                memcpy(grown, b->data, b->len);
            }
            b->data = grown;
            b->cap = cap;
        }
        memcpy(b->data + b->len, ptr, keep);
        b->len += keep;
    }
    return keep == n;
}

/* Whether this attempt's answer goes to the request's sink: only successful ones do, so that
 * errors are still parsed and retried, and the sink sees one answer only. */
static int sink_wanted(const attempt_t *a)
{
    return (a->req->on_head || a->req->on_data) && a->status >= 200 && a->status < 300;
}

/* Hand the head of the answer to the sink, once. */
static apr_status_t sink_start(attempt_t *a)
{
    apr_status_t rv = APR_SUCCESS;

    a->sinking = 1;
    if (a->req->on_head) {
        rv = a->req->on_head(a->status, a->headers, a->req->sink_baton);
    }
    if (rv != APR_SUCCESS) {
        a->cancelled = rv;
    }
    return rv;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *baton)
{
    attempt_t *a = baton;
    apr_size_t n = size * nmemb;
    apr_status_t rv;

    if (!a->sinking && sink_wanted(a) && sink_start(a) != APR_SUCCESS) {
        return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
    }
    if (a->sinking && a->req->on_data) {
        if (n && (rv = a->req->on_data(ptr, n, a->req->sink_baton)) != APR_SUCCESS) {
            a->cancelled = rv;
            return 0;
        }
        return n;
    }
    if (!body_keep(&a->body, ptr, n) && a->body.limit_fails) {
        a->cancelled = APR_ENOSPC;
        return 0;
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *baton)
{
    attempt_t *a = baton;
    apr_size_t len = size * nitems, left = a->req->body_len - a->sent;
    apr_status_t rv;

    if (len > left) {
        len = left; /* never more than announced in Content-Length */
    }
    if (!len) {
        return 0;
    }
    a->body_read = 1;
    if ((rv = a->req->read(buf, &len, a->req->read_baton)) != APR_SUCCESS) {
        a->cancelled = rv;
        return CURL_READFUNC_ABORT;
    }
    if (!len) {
        /* The source ended before body_len: the server would wait for the rest until a timeout,
         * and a short object must never be stored. */
        a->cancelled = APR_INCOMPLETE;
        return CURL_READFUNC_ABORT;
    }
    a->sent += len;
    return len;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *baton)
{
    attempt_t *a = baton;
    apr_size_t n = size * nmemb;
    const char *colon = memchr(line, ':', n), *end = line + n;

    if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
        const char *sp = memchr(line, ' ', n);
        apr_table_clear(a->headers); /* a new response (after 100 Continue) */
        a->status = sp ? atoi(sp + 1) : 0;
        return n;
    }
    if (colon) {
        const char *v = colon + 1;
        while (v < end && (*v == ' ' || *v == '\t')) {
            ++v;
        }
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
            --end;
        }
        apr_table_addn(a->headers, apr_pstrmemdup(a->body.pool, line, (apr_size_t)(colon - line)),
                       apr_pstrmemdup(a->body.pool, v, (apr_size_t)(end - v)));
    }
    return n;
}

/* Whether a transfer that failed with @p rc meets the same failure on every attempt. These say
 * something about our configuration, the URL or the peer's identity, which no retry changes:
 * three handshakes against a certificate we do not trust, and the backoff between them, would
 * only delay the answer. Everything else (resolving, connecting, a reset, a timeout, a handshake
 * cut short: CURLE_SSL_CONNECT_ERROR is also what a connection dropped mid-handshake gives) may
 * go otherwise next time, and is retried. */
static int transport_permanent(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL: /* a scheme we do not allow (CURLOPT_PROTOCOLS) */
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:          /* a feature this libcurl lacks */
    case CURLE_BAD_FUNCTION_ARGUMENT: /* our options: a bug, the same every time */
    case CURLE_UNKNOWN_OPTION:
    case CURLE_PEER_FAILED_VERIFICATION: /* untrusted, expired, or for another name */
    case CURLE_SSL_CACERT_BADFILE:       /* the CA file is missing or not PEM */
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: /* the OCSP answer stapled to the certificate */
    case CURLE_SSL_CERTPROBLEM:       /* our own certificate, if we had one */
    case CURLE_SSL_CIPHER:            /* no cipher in common with the peer */
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
#if LIBCURL_VERSION_NUM >= 0x074d00 /* 7.77 */
    case CURLE_SSL_CLIENTCERT:      /* the peer wants a client certificate */
#endif
        return 1;
    default:
        return 0;
    }
}

int aws_http_should_retry(int status, const char *error_code, int transport_code, int idempotent)
{
    if (!idempotent) {
        return 0; /* it may have taken effect: only the caller knows whether to repeat it */
    }
    if (transport_code != CURLE_OK) {
        return !transport_permanent((CURLcode)transport_code);
    }
    return aws_error_is_retryable(status, error_code);
}

/* Whether the caller wants no more attempts. */
static int give_up(const aws_http_request_t *req)
{
    return req->give_up && req->give_up(req->give_up_baton);
}

/* Wait @p wait before the next attempt, in slices, so a caller that gives up meanwhile does not
 * wait it out; whether it gave up. */
static int backoff(const aws_http_request_t *req, apr_interval_time_t wait)
{
    const apr_interval_time_t slice = apr_time_from_msec(50);

    while (wait > 0) {
        if (give_up(req)) {
            return 1;
        }
        apr_sleep(wait < slice ? wait : slice);
        wait -= slice;
    }
    return give_up(req);
}

apr_interval_time_t aws_http_backoff(int attempt, apr_interval_time_t base, apr_interval_time_t cap,
                                     apr_uint32_t random)
{
    apr_interval_time_t ceiling = base;

    while (--attempt > 0 && ceiling < cap) {
        ceiling *= 2;
    }
    if (ceiling > cap) {
        ceiling = cap;
    }
    return ceiling > 0 ? (apr_interval_time_t)(random % (apr_uint64_t)(ceiling + 1)) : 0;
}

static struct curl_slist *header_list(const apr_array_header_t *a, const apr_array_header_t *b,
                                      apr_pool_t *p)
{
    struct curl_slist *list = NULL;
    const apr_array_header_t *lists[2] = {a, b};
    int i, j, typed = 0;

    /* No "Expect: 100-continue" round trip: S3 answers errors after the body anyway. */
    list = curl_slist_append(list, "Expect:");
    for (j = 0; j < 2; ++j) {
        for (i = 0; lists[j] && i < lists[j]->nelts; ++i) {
            const aws_sigv4_header_t *h = &APR_ARRAY_IDX(lists[j], i, aws_sigv4_header_t);
            typed |= !strcasecmp(h->name, "Content-Type");
            list = curl_slist_append(list, apr_pstrcat(p, h->name, ": ", h->value, NULL));
        }
    }
    /* curl labels a body application/x-www-form-urlencoded unless told otherwise: S3 would
     * store every object with that type (and moto stores such a PUT as an empty object). */
    if (!typed) {
        list = curl_slist_append(list, "Content-Type:");
    }
    return list;
}

static apr_status_t free_slist(void *list)
{
    curl_slist_free_all(list);
    return APR_SUCCESS;
}

/* Milliseconds for curl, at least 1: 0 would mean none (or curl's default). */
static long to_ms(apr_interval_time_t t)
{
    return t < 1000 ? 1 : (long)(t / 1000);
}

/* CURLOPT_TIMEOUT_MS for a request: its own timeout, else the client's; none for -1. */
static long timeout_ms(const aws_http_request_t *req, const aws_http_client_t *c)
{
    apr_interval_time_t t = req->timeout ? req->timeout : c->cfg.timeout;

    if (t < 0) {
        return 0; /* long streams: the low-speed limit still catches a stalled peer */
    }
    return to_ms(t);
}

/* One attempt; fills @p r (status or transport_error) and returns curl's code. The handle is
 * reset before it returns: it keeps no pointer to @p a, to this stack frame or to @p p, only its
 * connections. */
static CURLcode attempt_once(aws_http_response_t *r, attempt_t *a, CURL *h, aws_http_client_t *c,
                             const aws_http_request_t *req, const apr_array_header_t *signed_hdrs,
                             apr_pool_t *p)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *list = header_list(req->headers, signed_hdrs, p);
    long status = 0;
    CURLcode rc;

    apr_pool_cleanup_register(p, list, free_slist, apr_pool_cleanup_null);
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* we run in httpd's threads */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to_ms(c->cfg.connect_timeout));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms(req, c));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    /* whole seconds for curl, rounded up: 0 would turn the stall limit off */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                     (long)apr_time_sec(c->cfg.low_speed_time + APR_USEC_PER_SEC - 1));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->cfg.ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.ca_file);
    }
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (c->cfg.no_proxy) {
        curl_easy_setopt(h, CURLOPT_PROXY, "");
    }
    if (c->cfg.fresh_connection) {
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    if (req->on_data) {
        /* Streams move in larger pieces: each piece costs a poll, a recv and a write to the
         * client; at curl's default 16 KiB that was a quarter of httpd's CPU on a download. */
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    }
    if (req->read) {
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    else if (req->read) {
        /* An upload of known length: a Content-Length, no chunked encoding (S3 refuses it). */
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, a);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
        if (strcmp(req->method, "PUT")) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        }
    }
    else if (!strcmp(req->method, "GET") && !req->body_len) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_reset(h); /* options only: the connection stays in the cache */
    if (rc == CURLE_OK) {
        a->status = (int)status;
        if (!a->sinking && sink_wanted(a)) {
            sink_start(a); /* a successful answer without a body (HEAD, 204) */
        }
    }
    if (a->cancelled) {
        /* Not a transport failure: the source or the sink (the client) said stop. */
        r->status = a->sinking || rc == CURLE_OK ? a->status : 0;
        r->transport_error = NULL;
        return rc;
    }
    if (rc != CURLE_OK) {
        r->status = 0;
        r->transport_error = apr_pstrdup(p, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return rc;
    }
    r->status = a->status;
    r->transport_error = NULL;
    return rc;
}

/* The URL without its query, for messages: a presigned URL carries its signature there. */
static const char *loggable_url(const char *url, apr_pool_t *p)
{
    const char *q = strchr(url, '?');

    return q ? apr_pstrmemdup(p, url, (apr_size_t)(q - url)) : url;
}

/* The attempts of aws_http_perform() on handle @p h. */
static apr_status_t perform_on(aws_http_response_t *r, CURL *h, aws_http_client_t *client,
                               const aws_http_request_t *req, apr_pool_t *p)
{
    apr_array_header_t *signed_hdrs = NULL;
    CURLcode rc = CURLE_OK;
    attempt_t a;
    apr_status_t rv;
    int max_attempts;

    max_attempts = req->max_attempts > 0 ? req->max_attempts : client->cfg.max_attempts;
    for (r->attempts = 1;; ++r->attempts) {
        apr_uint32_t random = 0;
        memset(&a, 0, sizeof(a));
        a.req = req;
        a.body.pool = p;
        a.body.limit = client->cfg.max_body;
        a.body.limit_fails = client->cfg.body_limit_fails;
        a.headers = apr_table_make(p, 16);
        if (req->sign && (rv = req->sign(&signed_hdrs, req, req->sign_baton, p)) != APR_SUCCESS) {
            r->transport_error = "cannot sign the request (no credentials?)";
            return rv;
        }
        rc = attempt_once(r, &a, h, client, req, signed_hdrs, p);
        r->headers = a.headers;
        r->body = a.body.data ? a.body.data : "";
        r->body_len = a.body.len;
        if (a.body.data) {
            a.body.data[a.body.len] = '\0';
        }
        r->error = NULL;
        if (r->body_len && (r->status >= 300 || strstr(r->body, "<Error>"))) {
            aws_error_parse(&r->error, r->body, r->body_len, p);
        }
        if (a.cancelled) {
            r->cancelled = a.cancelled; /* the client went away, or its body did: never again */
            break;
        }
        /* Not again when the sink already has part of this answer, when the body cannot be
         * sent a second time, or when the policy says no. */
        if (a.sinking || (a.body_read && !req->rewind) || r->attempts >= max_attempts
            || give_up(req)
            || !aws_http_should_retry(r->status, r->error ? r->error->code : NULL,
                                      r->transport_error ? (int)rc : CURLE_OK, req->idempotent)) {
            break;
        }
        if (req->read && req->rewind && (rv = req->rewind(req->read_baton)) != APR_SUCCESS) {
            /* The answer of this attempt stands: it says more than the source's failure. */
            lf_log_perror(LF_LOG_MARK, LF_LOG_DEBUG, rv,
                          LFLOGNO(00201) "%s %s: the body cannot be sent again, not retrying",
                          req->method, loggable_url(req->url, p));
            break;
        }
        apr_generate_random_bytes((unsigned char *)&random, sizeof(random));
        lf_log_perror(LF_LOG_MARK, LF_LOG_INFO, 0,
                      LFLOGNO(00200) "%s %s: %s, attempt %d of %d, retrying", req->method,
                      loggable_url(req->url, p),
                      r->transport_error ? r->transport_error
                      : r->error         ? r->error->code
                                         : apr_itoa(p, r->status),
                      r->attempts, max_attempts);
        if (backoff(req, aws_http_backoff(r->attempts, client->cfg.backoff_base,
                                          client->cfg.backoff_max, random))) {
            break;
        }
    }
    if (r->cancelled) {
        return r->cancelled;
    }
    if (r->transport_error) {
        return rc == CURLE_OPERATION_TIMEDOUT ? APR_TIMEUP : APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t aws_http_perform(aws_http_response_t **resp, aws_http_client_t *client,
                              const aws_http_request_t *req, apr_pool_t *p)
{
    aws_http_response_t *r = apr_pcalloc(p, sizeof(*r));
    CURL *h = client->cfg.fresh_connection ? curl_easy_init() : thread_handle(client);
    apr_status_t rv;

    *resp = r;
    if (!h) {
        r->transport_error = "cannot create a curl handle";
        return APR_ENOMEM;
    }
    rv = perform_on(r, h, client, req, p);
    if (client->cfg.fresh_connection) {
        curl_easy_cleanup(h);
    }
    return rv;
}
