/* aws_sigv4 — AWS Signature Version 4 (see aws_sigv4.h).
 *
 * Written against the published algorithm and checked by `make conformance` against the
 * official test vectors (aws-c-auth and botocore suites). libcurl's CURLOPT_AWS_SIGV4 is not
 * used: in the 7.88 that Debian 12 ships it mis-canonicalises (query order, header folding).
 */
#include <stdlib.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "aws_sigv4.h"

#define SHA256_LEN  32
#define ALGORITHM   "AWS4-HMAC-SHA256"
#define CACHE_SLOTS 8
/* The longest presigned URL AWS accepts: seven days. */
#define MAX_EXPIRES 604800

static const char hexdigits[] = "0123456789abcdef";

static char *hex(const unsigned char *b, apr_size_t n, apr_pool_t *p)
{
    char *s = apr_palloc(p, 2 * n + 1), *o = s;
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        *o++ = hexdigits[b[i] >> 4];
        *o++ = hexdigits[b[i] & 0xf];
    }
    *o = '\0';
    return s;
}

const char *aws_sigv4_sha256_hex(const void *data, apr_size_t len, apr_pool_t *p)
{
    unsigned char md[SHA256_LEN];
    unsigned int mdlen = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    return hex(md, SHA256_LEN, p);
}

static void hmac(unsigned char out[SHA256_LEN], const void *key, apr_size_t keylen, const char *msg)
{
    unsigned int outlen = SHA256_LEN;

    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &outlen);
}

/* --- encoding -------------------------------------------------------------------------------- */

static int unreserved(unsigned char c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

const char *aws_sigv4_uri_encode(const char *s, apr_size_t len, int keep_slash, apr_pool_t *p)
{
    static const char HEX[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, 3 * len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            *o++ = (char)c;
        }
        else {
            *o++ = '%';
            *o++ = HEX[c >> 4];
            *o++ = HEX[c & 0xf];
        }
    }
    *o = '\0';
    return out;
}

static int hexval(char c)
{
    return apr_isdigit(c) ? c - '0' : apr_isxdigit(c) ? (apr_tolower(c) - 'a' + 10) : -1;
}

/* Decode %XX escapes (nothing else: '+' stays '+'); a stray '%' stays as it is. */
static char *uri_decode(const char *s, apr_size_t len, apr_size_t *outlen, apr_pool_t *p)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    *outlen = (apr_size_t)(o - out);
    return out;
}

/* S3 mode: the path is taken as encoded once already; only what may not appear in a path is
 * encoded now. Existing escapes are kept (with upper-case hex), never encoded again. */
static const char *encode_once(const char *path, apr_pool_t *p)
{
    apr_size_t len = strlen(path), i;
    char *out = apr_palloc(p, 3 * len + 1), *o = out;

    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%' && i + 2 < len && hexval(path[i + 1]) >= 0 && hexval(path[i + 2]) >= 0) {
            *o++ = '%';
            *o++ = (char)apr_toupper(path[++i]);
            *o++ = (char)apr_toupper(path[++i]);
        }
        else if (unreserved(c) || c == '/') {
            *o++ = (char)c;
        }
        else {
            o += apr_snprintf(o, 4, "%%%02X", c);
        }
    }
    *o = '\0';
    return out;
}

/* Remove "." and ".." segments and empty segments (RFC 3986 5.2.4, plus collapsed slashes),
 * keeping a trailing slash. */
static const char *normalize_path(const char *path, apr_pool_t *p)
{
    apr_array_header_t *segs = apr_array_make(p, 8, sizeof(const char *));
    char *copy = apr_pstrdup(p, path), *state = NULL, *seg;
    apr_size_t len = strlen(path);
    int trailing = len > 0 && path[len - 1] == '/';
    const char *out;

    for (seg = apr_strtok(copy, "/", &state); seg; seg = apr_strtok(NULL, "/", &state)) {
        if (!strcmp(seg, ".")) {
            trailing = 1;
        }
        else if (!strcmp(seg, "..")) {
            if (segs->nelts) {
                apr_array_pop(segs);
            }
            trailing = 1;
        }
        else {
            APR_ARRAY_PUSH(segs, const char *) = seg;
            trailing = 0;
        }
    }
    if (len > 0 && path[len - 1] == '/') {
        trailing = 1;
    }
    out = apr_pstrcat(p, "/", apr_array_pstrcat(p, segs, '/'), NULL);
    if (trailing && segs->nelts) {
        out = apr_pstrcat(p, out, "/", NULL);
    }
    return out;
}

static const char *canonical_uri(const char *path, const aws_sigv4_params_t *params, apr_pool_t *p)
{
    if (!path || !*path) {
        path = "/";
    }
    if (params->normalize_path) {
        path = normalize_path(path, p);
    }
    return params->double_encode ? aws_sigv4_uri_encode(path, strlen(path), 1, p)
                                 : encode_once(path, p);
}

/* --- query ------------------------------------------------------------------------------------ */

typedef struct param_t {
    const char *key;   /* encoded */
    const char *value; /* encoded */
} param_t;

static int param_cmp(const void *a, const void *b)
{
    const param_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    return c ? c : strcmp(x->value, y->value);
}

/* The request's own query as canonical parameters: each key and value decoded, then encoded
 * the SigV4 way, whatever encoding the client used. */
static void add_query_params(apr_array_header_t *params, const char *query, apr_pool_t *p)
{
    const char *s = query, *amp, *eq;

    while (s && *s) {
        apr_size_t n, klen, vlen;
        param_t *pa;
        const char *k, *v = "";

        amp = strchr(s, '&');
        n = amp ? (apr_size_t)(amp - s) : strlen(s);
        if (n) {
            eq = memchr(s, '=', n);
            klen = eq ? (apr_size_t)(eq - s) : n;
            k = uri_decode(s, klen, &klen, p);
            vlen = 0;
            if (eq) {
                v = uri_decode(eq + 1, n - (apr_size_t)(eq - s) - 1, &vlen, p);
            }
            pa = apr_array_push(params);
            pa->key = aws_sigv4_uri_encode(k, klen, 0, p);
            pa->value = aws_sigv4_uri_encode(v, vlen, 0, p);
        }
        s = amp ? amp + 1 : NULL;
    }
}

static const char *canonical_query(apr_array_header_t *params, apr_pool_t *p)
{
    apr_array_header_t *parts = apr_array_make(p, params->nelts, sizeof(const char *));
    int i;

    qsort(params->elts, params->nelts, sizeof(param_t), param_cmp);
    for (i = 0; i < params->nelts; ++i) {
        const param_t *pa = &APR_ARRAY_IDX(params, i, param_t);
        APR_ARRAY_PUSH(parts, const char *) =
            apr_pstrcat(p, i ? "&" : "", pa->key, "=", pa->value, NULL);
    }
    return apr_array_pstrcat(p, parts, 0);
}

/* --- headers ---------------------------------------------------------------------------------- */

typedef struct cheader_t {
    const char *name;  /* lower case */
    const char *value; /* trimmed, inner runs of spaces collapsed; repeats joined by ',' */
} cheader_t;

static int cheader_cmp(const void *a, const void *b)
{
    return strcmp(((const cheader_t *)a)->name, ((const cheader_t *)b)->name);
}

static const char *trim_value(const char *v, apr_pool_t *p)
{
    char *out = apr_palloc(p, strlen(v) + 1), *o = out;
    int space = 0;

    while (apr_isspace(*v)) {
        ++v;
    }
    for (; *v; ++v) {
        if (apr_isspace(*v)) {
            space = 1;
            continue;
        }
        if (space && o != out) {
            *o++ = ' ';
        }
        space = 0;
        *o++ = *v;
    }
    *o = '\0';
    return out;
}

static int is_header(const char *name, const char *want)
{
    return !strcasecmp(name, want);
}

/* The headers to sign: the request's, less those the signer sets itself. */
static apr_array_header_t *signable_headers(const aws_sigv4_request_t *req, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(aws_sigv4_header_t));
    int i;

    for (i = 0; req->headers && i < req->headers->nelts; ++i) {
        const aws_sigv4_header_t *h = &APR_ARRAY_IDX(req->headers, i, aws_sigv4_header_t);
        if (is_header(h->name, "x-amz-date") || is_header(h->name, "x-amz-security-token")) {
            continue; /* replaced, never duplicated */
        }
        APR_ARRAY_PUSH(out, aws_sigv4_header_t) = *h;
    }
    return out;
}

static void drop_header(apr_array_header_t *headers, const char *name)
{
    int i, n = 0;

    for (i = 0; i < headers->nelts; ++i) {
        aws_sigv4_header_t *h = &APR_ARRAY_IDX(headers, i, aws_sigv4_header_t);
        if (!is_header(h->name, name)) {
            APR_ARRAY_IDX(headers, n++, aws_sigv4_header_t) = *h;
        }
    }
    headers->nelts = n;
}

void aws_sigv4_header_add(apr_array_header_t *headers, const char *name, const char *value)
{
    aws_sigv4_header_t *h = apr_array_push(headers);

    h->name = name;
    h->value = value;
}

/* Canonical headers block and signed header list of @p headers. */
static void canonical_headers(const char **block, const char **signed_list,
                              const apr_array_header_t *headers, apr_pool_t *p)
{
    apr_array_header_t *ch = apr_array_make(p, headers->nelts, sizeof(cheader_t));
    apr_array_header_t *lines = apr_array_make(p, headers->nelts, sizeof(const char *));
    apr_array_header_t *names = apr_array_make(p, headers->nelts, sizeof(const char *));
    int i, j;

    for (i = 0; i < headers->nelts; ++i) {
        const aws_sigv4_header_t *h = &APR_ARRAY_IDX(headers, i, aws_sigv4_header_t);
        char *lname = apr_pstrdup(p, h->name), *c;
        const char *value = trim_value(h->value ? h->value : "", p);
        for (c = lname; *c; ++c) {
            *c = (char)apr_tolower(*c);
        }
        for (j = 0; j < ch->nelts; ++j) {
            cheader_t *seen = &APR_ARRAY_IDX(ch, j, cheader_t);
            if (!strcmp(seen->name, lname)) {
                seen->value = apr_pstrcat(p, seen->value, ",", value, NULL);
                break;
            }
        }
        if (j == ch->nelts) {
            cheader_t *fresh = apr_array_push(ch);
            fresh->name = lname;
            fresh->value = value;
        }
    }
    /* Stable for equal names is not needed: names are unique after the merge above. */
    qsort(ch->elts, ch->nelts, sizeof(cheader_t), cheader_cmp);
    for (i = 0; i < ch->nelts; ++i) {
        const cheader_t *c = &APR_ARRAY_IDX(ch, i, cheader_t);
        APR_ARRAY_PUSH(lines, const char *) = apr_pstrcat(p, c->name, ":", c->value, "\n", NULL);
        APR_ARRAY_PUSH(names, const char *) = c->name;
    }
    *block = apr_array_pstrcat(p, lines, 0);
    *signed_list = apr_array_pstrcat(p, names, ';');
}

/* --- signing key ------------------------------------------------------------------------------ */

typedef struct cache_slot_t {
    char access_key[129];
    char date[9];
    char region[33];
    char service[33];
    unsigned char key[SHA256_LEN];
} cache_slot_t;

struct aws_sigv4_cache_t {
    apr_thread_mutex_t *mutex;
    cache_slot_t slots[CACHE_SLOTS];
    int next; /* round-robin replacement */
};

apr_status_t aws_sigv4_cache_create(aws_sigv4_cache_t **cache, apr_pool_t *p)
{
    aws_sigv4_cache_t *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT, p);

    if (rv == APR_SUCCESS) {
        *cache = c;
    }
    return rv;
}

static int slot_matches(const cache_slot_t *s, const aws_sigv4_params_t *params, const char *date)
{
    return !strcmp(s->access_key, params->access_key) && !strcmp(s->date, date)
           && !strcmp(s->region, params->region) && !strcmp(s->service, params->service);
}

static void derive_key(unsigned char key[SHA256_LEN], const aws_sigv4_params_t *params,
                       const char *date, apr_pool_t *p)
{
    const char *k0 = apr_pstrcat(p, "AWS4", params->secret_key, NULL);
    unsigned char a[SHA256_LEN], b[SHA256_LEN];

    hmac(a, k0, strlen(k0), date);
    hmac(b, a, SHA256_LEN, params->region);
    hmac(a, b, SHA256_LEN, params->service);
    hmac(key, a, SHA256_LEN, "aws4_request");
}

static void signing_key(unsigned char key[SHA256_LEN], const aws_sigv4_params_t *params,
                        const char *date, apr_pool_t *p)
{
    aws_sigv4_cache_t *c = params->cache;
    int i;

    /* Values too long for a slot are simply not cached. */
    if (!c || strlen(params->access_key) >= sizeof(c->slots[0].access_key)
        || strlen(params->region) >= sizeof(c->slots[0].region)
        || strlen(params->service) >= sizeof(c->slots[0].service)) {
        derive_key(key, params, date, p);
        return;
    }
    apr_thread_mutex_lock(c->mutex);
    for (i = 0; i < CACHE_SLOTS; ++i) {
        if (slot_matches(&c->slots[i], params, date)) {
            memcpy(key, c->slots[i].key, SHA256_LEN);
            apr_thread_mutex_unlock(c->mutex);
            return;
        }
    }
    derive_key(key, params, date, p);
    {
        cache_slot_t *s = &c->slots[c->next];
        c->next = (c->next + 1) % CACHE_SLOTS;
        apr_cpystrn(s->access_key, params->access_key, sizeof(s->access_key));
        apr_cpystrn(s->date, date, sizeof(s->date));
        apr_cpystrn(s->region, params->region, sizeof(s->region));
        apr_cpystrn(s->service, params->service, sizeof(s->service));
        memcpy(s->key, key, SHA256_LEN);
    }
    apr_thread_mutex_unlock(c->mutex);
}

/* --- the algorithm ---------------------------------------------------------------------------- */

const char *aws_sigv4_amz_date(apr_time_t t, apr_pool_t *p)
{
    apr_time_exp_t x;

    apr_time_exp_gmt(&x, t);
    return apr_psprintf(p, "%04d%02d%02dT%02d%02d%02dZ", x.tm_year + 1900, x.tm_mon + 1, x.tm_mday,
                        x.tm_hour, x.tm_min, x.tm_sec);
}

/* The value of @p n decimal digits at @p s (already checked to be digits). */
static int digits(const char *s, int n)
{
    int v = 0;

    while (n--) {
        v = v * 10 + (*s++ - '0');
    }
    return v;
}

apr_status_t aws_sigv4_parse_amz_date(apr_time_t *t, const char *s)
{
    apr_time_exp_t x;
    int i;

    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') {
        return APR_EINVAL;
    }
    for (i = 0; i < 15; ++i) {
        if (i != 8 && !apr_isdigit(s[i])) {
            return APR_EINVAL;
        }
    }
    memset(&x, 0, sizeof(x));
    x.tm_year = digits(s, 4) - 1900;
    x.tm_mon = digits(s + 4, 2) - 1;
    x.tm_mday = digits(s + 6, 2);
    x.tm_hour = digits(s + 9, 2);
    x.tm_min = digits(s + 11, 2);
    x.tm_sec = digits(s + 13, 2);
    if (x.tm_mon < 0 || x.tm_mon > 11 || x.tm_mday < 1 || x.tm_mday > 31 || x.tm_hour > 23
        || x.tm_min > 59 || x.tm_sec > 60) {
        return APR_EINVAL;
    }
    return apr_time_exp_gmt_get(t, &x);
}

static int params_ok(const aws_sigv4_params_t *params, const aws_sigv4_request_t *req)
{
    return params->access_key && *params->access_key && params->secret_key && *params->secret_key
           && params->region && *params->region && params->service && *params->service
           && req->method && *req->method;
}

/* Canonical request, string to sign and signature, from the parts both ways of signing share. */
static void finish(aws_sigv4_result_t *r, const aws_sigv4_request_t *req,
                   const aws_sigv4_params_t *params, const char *query, const char *headers,
                   const char *payload_hash, const char *amz_date, const char *scope, apr_pool_t *p)
{
    unsigned char key[SHA256_LEN], sig[SHA256_LEN];
    char date[9];

    r->canonical_request =
        apr_pstrcat(p, req->method, "\n", canonical_uri(req->path, params, p), "\n", query, "\n",
                    headers, "\n", r->signed_headers, "\n", payload_hash, NULL);
    r->string_to_sign = apr_pstrcat(
        p, ALGORITHM "\n", amz_date, "\n", scope, "\n",
        aws_sigv4_sha256_hex(r->canonical_request, strlen(r->canonical_request), p), NULL);
    apr_cpystrn(date, amz_date, sizeof(date));
    signing_key(key, params, date, p);
    hmac(sig, key, SHA256_LEN, r->string_to_sign);
    r->signature = hex(sig, SHA256_LEN, p);
}

static const char *payload_hash_of(const aws_sigv4_request_t *req, const aws_sigv4_params_t *params,
                                   apr_pool_t *p)
{
    return params->payload_hash
               ? params->payload_hash
               : aws_sigv4_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, p);
}

apr_status_t aws_sigv4_sign(aws_sigv4_result_t **result, const aws_sigv4_request_t *req,
                            const aws_sigv4_params_t *params, apr_pool_t *p)
{
    aws_sigv4_result_t *r = apr_pcalloc(p, sizeof(*r));
    const char *amz_date, *scope, *hash, *block;
    apr_array_header_t *headers, *qp = apr_array_make(p, 8, sizeof(param_t));

    if (!params_ok(params, req)) {
        return APR_EINVAL;
    }
    amz_date = aws_sigv4_amz_date(params->time, p);
    scope = apr_pstrcat(p, apr_pstrndup(p, amz_date, 8), "/", params->region, "/", params->service,
                        "/aws4_request", NULL);
    hash = payload_hash_of(req, params, p);

    headers = signable_headers(req, p);
    r->set_headers = apr_array_make(p, 4, sizeof(aws_sigv4_header_t));
    if (params->session_token) {
        aws_sigv4_header_add(r->set_headers, "X-Amz-Security-Token", params->session_token);
        if (!params->omit_session_token) {
            aws_sigv4_header_add(headers, "X-Amz-Security-Token", params->session_token);
        }
    }
    aws_sigv4_header_add(r->set_headers, "X-Amz-Date", amz_date);
    aws_sigv4_header_add(headers, "X-Amz-Date", amz_date);
    if (params->content_sha256_header) {
        drop_header(headers, "x-amz-content-sha256"); /* ours replaces any the request has */
        aws_sigv4_header_add(r->set_headers, "x-amz-content-sha256", hash);
        aws_sigv4_header_add(headers, "x-amz-content-sha256", hash);
    }
    canonical_headers(&block, &r->signed_headers, headers, p);
    add_query_params(qp, req->query, p);
    finish(r, req, params, canonical_query(qp, p), block, hash, amz_date, scope, p);
    aws_sigv4_header_add(r->set_headers, "Authorization",
                         apr_pstrcat(p, ALGORITHM " Credential=", params->access_key, "/", scope,
                                     ", SignedHeaders=", r->signed_headers,
                                     ", Signature=", r->signature, NULL));
    *result = r;
    return APR_SUCCESS;
}

static void add_param(apr_array_header_t *params, const char *key, const char *value, apr_pool_t *p)
{
    param_t *pa = apr_array_push(params);

    pa->key = key;
    pa->value = aws_sigv4_uri_encode(value, strlen(value), 0, p);
}

apr_status_t aws_sigv4_presign(aws_sigv4_result_t **result, const aws_sigv4_request_t *req,
                               const aws_sigv4_params_t *params, apr_pool_t *p)
{
    aws_sigv4_result_t *r = apr_pcalloc(p, sizeof(*r));
    apr_array_header_t *qp = apr_array_make(p, 16, sizeof(param_t)), *added;
    const char *amz_date, *scope, *block, *expires, *token_param = NULL;
    int i;

    if (!params_ok(params, req) || params->expires < 1 || params->expires > MAX_EXPIRES) {
        return APR_EINVAL;
    }
    amz_date = aws_sigv4_amz_date(params->time, p);
    scope = apr_pstrcat(p, apr_pstrndup(p, amz_date, 8), "/", params->region, "/", params->service,
                        "/aws4_request", NULL);
    expires = apr_psprintf(p, "%" APR_INT64_T_FMT, params->expires);
    canonical_headers(&block, &r->signed_headers, signable_headers(req, p), p);

    add_query_params(qp, req->query, p);
    /* The X-Amz-* parameters, in the order they are appended to the URL; all but the
     * signature (and an omitted token) are signed. */
    added = apr_array_make(p, 7, sizeof(param_t));
    add_param(added, "X-Amz-Algorithm", ALGORITHM, p);
    add_param(added, "X-Amz-Credential", apr_pstrcat(p, params->access_key, "/", scope, NULL), p);
    add_param(added, "X-Amz-Date", amz_date, p);
    add_param(added, "X-Amz-SignedHeaders", r->signed_headers, p);
    add_param(added, "X-Amz-Expires", expires, p);
    if (params->session_token) {
        add_param(added, "X-Amz-Security-Token", params->session_token, p);
        token_param = APR_ARRAY_IDX(added, added->nelts - 1, param_t).value;
    }
    for (i = 0; i < added->nelts; ++i) {
        const param_t *pa = &APR_ARRAY_IDX(added, i, param_t);
        if (pa->value != token_param || !params->omit_session_token) {
            APR_ARRAY_PUSH(qp, param_t) = *pa;
        }
    }
    finish(r, req, params, canonical_query(qp, p), block, payload_hash_of(req, params, p), amz_date,
           scope, p);
    add_param(added, "X-Amz-Signature", r->signature, p);

    {
        apr_array_header_t *parts = apr_array_make(p, added->nelts + 1, sizeof(const char *));
        if (req->query && *req->query) {
            APR_ARRAY_PUSH(parts, const char *) = req->query;
        }
        for (i = 0; i < added->nelts; ++i) {
            const param_t *pa = &APR_ARRAY_IDX(added, i, param_t);
            APR_ARRAY_PUSH(parts, const char *) =
                apr_pstrcat(p, parts->nelts ? "&" : "", pa->key, "=", pa->value, NULL);
        }
        r->query = apr_array_pstrcat(p, parts, 0);
    }
    *result = r;
    return APR_SUCCESS;
}
