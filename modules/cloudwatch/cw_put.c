/* cw_put — PutMetricData request bodies and CloudWatch's naming rules (see cw_put.h). */
#include <math.h> /* isfinite(), a macro: no libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <zlib.h>

#include "cw_put.h"

#define HEADER "Action=PutMetricData&Version=2010-08-01&Namespace="

/* CloudWatch rejects values outside about 8.5e-109 .. 1.2e108 in magnitude. */
#define NUM_TOO_LARGE 1e108
#define NUM_TOO_SMALL 1e-100

/* A growing string in a pool. */
typedef struct buf_t {
    apr_pool_t *p;
    char *data;
    apr_size_t len, cap;
} buf_t;

static void buf_init(buf_t *b, apr_size_t cap, apr_pool_t *p)
{
    b->p = p;
    b->cap = cap < 64 ? 64 : cap;
    b->data = apr_palloc(p, b->cap);
    b->len = 0;
}

static void buf_add(buf_t *b, const char *s, apr_size_t n)
{
    if (b->len + n + 1 > b->cap) {
        apr_size_t cap = (b->len + n + 1) * 2;
        char *d = apr_palloc(b->p, cap);
        memcpy(d, b->data, b->len);
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_str(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_' || c == '.' || c == '~';
}

/* @p s percent-encoded as RFC 3986 says (what SigV4 signs, too): unreserved characters as they
 * are, every other byte as %XX. */
static void buf_enc(buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *c;
    char esc[3];

    for (c = (const unsigned char *)s; *c; ++c) {
        if (unreserved(*c)) {
            buf_add(b, (const char *)c, 1);
        }
        else {
            esc[0] = '%';
            esc[1] = hex[*c >> 4];
            esc[2] = hex[*c & 15];
            buf_add(b, esc, 3);
        }
    }
}

/* @p v in at most 15 significant digits, "1234", "0.001", "2.5e-7", with a '.' whatever the
 * locale: libc's printf follows LC_NUMERIC (which a module loaded next to us may set), and
 * apr_snprintf writes ".001", "1.e-5" and NaN as "0.e+79". So the digits and the exponent come
 * from "%.14e" (exact rounding; its decimal point, whatever it is, is skipped) and are laid out
 * here. APR_EINVAL for a value that CloudWatch rejects (not finite, or too large). */
static apr_status_t buf_num(buf_t *b, double v)
{
    char sci[64], digits[16], out[48];
    double a = v < 0 ? -v : v;
    const char *c;
    int e, k = 0, i, o = 0;

    if (!isfinite(v) || a > NUM_TOO_LARGE) {
        return APR_EINVAL;
    }
    if (a < NUM_TOO_SMALL) {
        buf_str(b, "0");
        return APR_SUCCESS;
    }
    if (v < 0) {
        out[o++] = '-';
    }
    if (a < 1e15 && a == (double)(apr_int64_t)a) {
        apr_snprintf(out + o, sizeof(out) - (apr_size_t)o, "%" APR_INT64_T_FMT, (apr_int64_t)a);
        buf_str(b, out);
        return APR_SUCCESS;
    }
    /* "d<point>dddddddddddddde[+-]x": 15 digits, then the exponent */
    snprintf(sci, sizeof(sci), "%.14e", a);
    for (c = sci; *c && *c != 'e' && k < 15; ++c) {
        if (*c >= '0' && *c <= '9') {
            digits[k++] = *c;
        }
    }
    c = strchr(sci, 'e');
    if (k != 15 || !c) {
        return APR_EGENERAL; /* not what C99 says %e writes */
    }
    e = atoi(c + 1);
    while (k > 1 && digits[k - 1] == '0') {
        --k;
    }
    digits[k] = '\0';
    if (e >= 15 || e < -5) {
        /* d.ddde±x */
        out[o++] = digits[0];
        if (k > 1) {
            out[o++] = '.';
            for (i = 1; i < k; ++i) {
                out[o++] = digits[i];
            }
        }
        apr_snprintf(out + o, sizeof(out) - (apr_size_t)o, "e%d", e);
    }
    else if (e >= 0) {
        /* the integral part, then the fraction if digits are left */
        for (i = 0; i <= e; ++i) {
            out[o++] = i < k ? digits[i] : '0';
        }
        if (k > e + 1) {
            out[o++] = '.';
            for (i = e + 1; i < k; ++i) {
                out[o++] = digits[i];
            }
        }
        out[o] = '\0';
    }
    else {
        out[o++] = '0';
        out[o++] = '.';
        for (i = -1; i > e; --i) {
            out[o++] = '0';
        }
        for (i = 0; i < k; ++i) {
            out[o++] = digits[i];
        }
        out[o] = '\0';
    }
    buf_str(b, out);
    return APR_SUCCESS;
}

/* "&MetricData.member.<n>.<field>=" */
static void buf_field(buf_t *b, int n, const char *field)
{
    char num[16];

    buf_str(b, "&MetricData.member.");
    apr_snprintf(num, sizeof(num), "%d", n);
    buf_str(b, num);
    buf_str(b, ".");
    buf_str(b, field);
    buf_str(b, "=");
}

static void buf_int(buf_t *b, int v)
{
    char num[16];

    apr_snprintf(num, sizeof(num), "%d", v);
    buf_str(b, num);
}

/* The fields of datum @p d as member @p n of a body, with pairs [from, to) for CW_DATUM_PAIRS. */
static apr_status_t render(buf_t *b, const cw_datum_t *d, int n, int from, int to)
{
    apr_status_t rv = APR_SUCCESS;
    char field[96];
    int i;

    if (d->ndims < 0 || d->ndims > CW_PUT_MAX_DIMENSIONS) {
        return APR_EINVAL;
    }
    buf_field(b, n, "MetricName");
    buf_enc(b, d->name);
    if (d->unit) {
        buf_field(b, n, "Unit");
        buf_enc(b, d->unit);
    }
    for (i = 0; i < d->ndims; ++i) {
        apr_snprintf(field, sizeof(field), "Dimensions.member.%d.Name", i + 1);
        buf_field(b, n, field);
        buf_enc(b, d->dimensions[i].name);
        apr_snprintf(field, sizeof(field), "Dimensions.member.%d.Value", i + 1);
        buf_field(b, n, field);
        buf_enc(b, d->dimensions[i].value);
    }
    if (d->timestamp) {
        apr_time_exp_t t;
        char ts[32];

        apr_time_exp_gmt(&t, d->timestamp);
        apr_snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900,
                     t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
        buf_field(b, n, "Timestamp");
        buf_enc(b, ts);
    }
    if (d->storage_resolution) {
        buf_field(b, n, "StorageResolution");
        buf_int(b, d->storage_resolution);
    }
    switch (d->kind) {
    case CW_DATUM_VALUE:
        buf_field(b, n, "Value");
        rv = buf_num(b, d->value);
        break;
    case CW_DATUM_STATS:
        buf_field(b, n, "StatisticValues.SampleCount");
        if ((rv = buf_num(b, d->count)) != APR_SUCCESS) {
            break;
        }
        buf_field(b, n, "StatisticValues.Sum");
        if ((rv = buf_num(b, d->sum)) != APR_SUCCESS) {
            break;
        }
        buf_field(b, n, "StatisticValues.Minimum");
        if ((rv = buf_num(b, d->min)) != APR_SUCCESS) {
            break;
        }
        buf_field(b, n, "StatisticValues.Maximum");
        rv = buf_num(b, d->max);
        break;
    case CW_DATUM_PAIRS:
        for (i = from; i < to && rv == APR_SUCCESS; ++i) {
            apr_snprintf(field, sizeof(field), "Values.member.%d", i - from + 1);
            buf_field(b, n, field);
            if ((rv = buf_num(b, d->values[i])) != APR_SUCCESS) {
                break;
            }
            apr_snprintf(field, sizeof(field), "Counts.member.%d", i - from + 1);
            buf_field(b, n, field);
            rv = buf_num(b, d->counts[i]);
        }
        break;
    default:
        rv = APR_EINVAL;
    }
    return rv;
}

/* The body being filled. */
typedef struct body_t {
    apr_array_header_t *bodies; /* cw_put_body_t, done */
    buf_t head;                 /* the header, rendered once */
    buf_t cur;                  /* header + the datums so far */
    int datums;
    apr_size_t max_bytes, gzip_over;
    apr_pool_t *p;
} body_t;

/* Close the body in progress (if it has datums) into the result, compressed if large. */
static apr_status_t body_finish(body_t *bb)
{
    cw_put_body_t *out;
    apr_status_t rv = APR_SUCCESS;

    if (!bb->datums) {
        goto leave;
    }
    out = apr_array_push(bb->bodies);
    out->datums = bb->datums;
    out->gzip = 0;
    if (bb->gzip_over && bb->cur.len > bb->gzip_over) {
        if ((rv = cw_put_gzip(&out->data, &out->len, bb->cur.data, bb->cur.len, bb->p))
            != APR_SUCCESS) {
            goto leave;
        }
        out->gzip = 1;
    }
    else {
        out->data = apr_pstrmemdup(bb->p, bb->cur.data, bb->cur.len);
        out->len = bb->cur.len;
    }
    bb->cur.len = 0;
    buf_add(&bb->cur, bb->head.data, bb->head.len);
    bb->datums = 0;
leave:
    return rv;
}

/* Add datum @p d (pairs [from, to)) to the body in progress, or to a new one. */
static apr_status_t body_add(body_t *bb, buf_t *scratch, const cw_datum_t *d, int from, int to)
{
    apr_status_t rv;

    if (bb->datums == CW_PUT_MAX_DATUMS && (rv = body_finish(bb)) != APR_SUCCESS) {
        goto leave;
    }
    scratch->len = 0;
    if ((rv = render(scratch, d, bb->datums + 1, from, to)) != APR_SUCCESS) {
        goto leave;
    }
    if (bb->cur.len + scratch->len > bb->max_bytes) {
        if (!bb->datums) {
            rv = APR_EINVAL; /* does not fit even alone */
            goto leave;
        }
        if ((rv = body_finish(bb)) != APR_SUCCESS) {
            goto leave;
        }
        /* as member 1 of a new body: shorter, and alone in it */
        scratch->len = 0;
        if ((rv = render(scratch, d, 1, from, to)) != APR_SUCCESS) {
            goto leave;
        }
        if (bb->cur.len + scratch->len > bb->max_bytes) {
            rv = APR_EINVAL;
            goto leave;
        }
    }
    buf_add(&bb->cur, scratch->data, scratch->len);
    bb->datums++;
leave:
    return rv;
}

apr_status_t cw_put_bodies(apr_array_header_t **bodies, const char *ns, const cw_datum_t *d, int n,
                           apr_size_t max_bytes, apr_size_t gzip_over, apr_pool_t *p)
{
    apr_pool_t *tmp = NULL;
    apr_status_t rv;
    body_t bb;
    buf_t scratch;
    int i, from;

    *bodies = NULL;
    if ((rv = apr_pool_create(&tmp, p)) != APR_SUCCESS) {
        goto leave;
    }
    memset(&bb, 0, sizeof(bb));
    bb.bodies = apr_array_make(p, 1, sizeof(cw_put_body_t));
    bb.max_bytes = max_bytes ? max_bytes : CW_PUT_MAX_BYTES;
    bb.gzip_over = gzip_over;
    bb.p = p;
    buf_init(&bb.head, 256, tmp);
    buf_str(&bb.head, HEADER);
    buf_enc(&bb.head, ns);
    buf_init(&bb.cur, bb.max_bytes < 65536 ? bb.max_bytes + 1 : 65536, tmp);
    buf_add(&bb.cur, bb.head.data, bb.head.len);
    buf_init(&scratch, 4096, tmp);

    for (i = 0; i < n; ++i) {
        if (d[i].kind != CW_DATUM_PAIRS) {
            rv = body_add(&bb, &scratch, &d[i], 0, 0);
        }
        else {
            /* a histogram with more pairs than a datum takes: several datums of one metric,
             * which CloudWatch adds up as one */
            for (from = 0, rv = APR_SUCCESS; from < d[i].npairs && rv == APR_SUCCESS;
                 from += CW_PUT_MAX_PAIRS) {
                int to =
                    from + CW_PUT_MAX_PAIRS < d[i].npairs ? from + CW_PUT_MAX_PAIRS : d[i].npairs;
                rv = body_add(&bb, &scratch, &d[i], from, to);
            }
        }
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }
    if ((rv = body_finish(&bb)) != APR_SUCCESS) {
        goto leave;
    }
    *bodies = bb.bodies;
leave:
    if (tmp) {
        apr_pool_destroy(tmp);
    }
    return rv;
}

apr_status_t cw_put_gzip(const char **out, apr_size_t *out_len, const char *in, apr_size_t len,
                         apr_pool_t *p)
{
    z_stream zs;
    apr_status_t rv = APR_EGENERAL;
    unsigned char *buf;
    uLong cap;
    int inited = 0;

    *out = NULL;
    *out_len = 0;
    if (len > (apr_size_t)0xFFFFFFFFU) {
        goto leave; /* more than zlib takes in one call; bodies are 1 MB at most */
    }
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip wrapper (RFC 1952) rather than zlib's (RFC 1950) */
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        goto leave;
    }
    inited = 1;
    /* deflateBound() after deflateInit2() counts the gzip header: one call finishes */
    cap = deflateBound(&zs, (uLong)len);
    buf = apr_palloc(p, cap);
    zs.next_in = (Bytef *)(apr_uintptr_t)in; /* zlib does not write to its input */
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        goto leave;
    }
    *out = (const char *)buf;
    *out_len = (apr_size_t)zs.total_out;
    rv = APR_SUCCESS;
leave:
    if (inited) {
        deflateEnd(&zs);
    }
    return rv;
}

/* @p s for a message: quoted, at most 40 characters, bytes outside printable ASCII as \xNN. */
static const char *quote(const char *s, apr_pool_t *p)
{
    buf_t b;
    const unsigned char *c;
    int n = 0;

    buf_init(&b, 64, p);
    buf_str(&b, "'");
    for (c = (const unsigned char *)s; *c && n < 40; ++c, ++n) {
        if (*c >= 0x20 && *c < 0x7f) {
            buf_add(&b, (const char *)c, 1);
        }
        else {
            buf_str(&b, apr_psprintf(p, "\\x%02X", *c));
        }
    }
    buf_str(&b, *c ? "...'" : "'");
    return b.data;
}

/* Common to every name: 1 to CW_PUT_MAX_NAME characters, not only spaces. */
static const char *check_length(const char *s, const char *what, apr_pool_t *p)
{
    apr_size_t len = strlen(s);

    if (!len) {
        return apr_psprintf(p, "%s is empty", what);
    }
    if (len > CW_PUT_MAX_NAME) {
        return apr_psprintf(p, "%s %s is %" APR_SIZE_T_FMT " characters long, the most is %d", what,
                            quote(s, p), len, CW_PUT_MAX_NAME);
    }
    if (strspn(s, " ") == len) {
        return apr_psprintf(p, "%s is only spaces", what);
    }
    return NULL;
}

const char *cw_put_check_namespace(const char *ns, apr_pool_t *p)
{
    const char *why;
    const unsigned char *c;

    if ((why = check_length(ns, "namespace", p)) != NULL) {
        return why;
    }
    for (c = (const unsigned char *)ns; *c; ++c) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
              || strchr(".-_/#: ", *c))) {
            return apr_psprintf(p,
                                "namespace %s contains %s, which is not allowed (letters, digits, "
                                "space and . - _ / # : are)",
                                quote(ns, p), quote(apr_pstrndup(p, (const char *)c, 1), p));
        }
    }
    if (ns[0] == ':') {
        return apr_psprintf(p, "namespace %s starts with ':', which is not allowed", quote(ns, p));
    }
    if (!strncmp(ns, "AWS/", 4)) {
        return apr_psprintf(p, "namespace %s starts with AWS/, which is reserved for AWS services",
                            quote(ns, p));
    }
    return NULL;
}

const char *cw_put_check_name(const char *s, const char *what, apr_pool_t *p)
{
    const char *why;
    const unsigned char *c;

    if ((why = check_length(s, what, p)) != NULL) {
        return why;
    }
    for (c = (const unsigned char *)s; *c; ++c) {
        if (*c < 0x20 || *c >= 0x7f) {
            return apr_psprintf(p,
                                "%s %s contains byte 0x%02X, which is not allowed (printable "
                                "ASCII is)",
                                what, quote(s, p), *c);
        }
    }
    if (s[0] == ':' && !strcmp(what, "dimension name")) {
        return apr_psprintf(p, "%s %s starts with ':', which is not allowed", what, quote(s, p));
    }
    return NULL;
}
