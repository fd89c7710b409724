/* Unit tests of modules/cloudwatch/cw_put.c: every field of a PutMetricData body (decoded the way
 * the service decodes it), percent-encoding, numbers, splitting at 1000 datums, at 150 pairs and
 * at max_bytes, gzip, and CloudWatch's naming rules. */
#include "unit.h"

#include <stdio.h>
#include <zlib.h>

#include <apr_tables.h>
#include <apr_time.h>

#include "cw_put.h"

#define NS "Lampfarm/Web"

/* The fields of a body: every key once, in order; fails on a malformed body. */
typedef struct form_t {
    apr_array_header_t *keys, *values;
} form_t;

static int unhex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    fail_msg("bad hex digit '%c' (upper case expected)", c);
    return 0;
}

static const char *decode(const char *s, apr_size_t len, apr_pool_t *p)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        char c = s[i];
        if (c == '%') {
            assert_true(i + 2 < len);
            *o++ = (char)(unhex(s[i + 1]) * 16 + unhex(s[i + 2]));
            i += 2;
        }
        else {
            /* only unreserved characters travel as they are */
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                  || c == '-' || c == '_' || c == '.' || c == '~')) {
                fail_msg("'%c' not encoded", c);
            }
            *o++ = c;
        }
    }
    *o = '\0';
    return out;
}

static form_t *parse(const cw_put_body_t *body, apr_pool_t *p)
{
    form_t *f = apr_pcalloc(p, sizeof(*f));
    const char *s = body->data, *end = body->data + body->len;

    assert_false(body->gzip);
    f->keys = apr_array_make(p, 16, sizeof(const char *));
    f->values = apr_array_make(p, 16, sizeof(const char *));
    while (s < end) {
        const char *amp = memchr(s, '&', (apr_size_t)(end - s));
        const char *eq;
        int i;

        if (!amp) {
            amp = end;
        }
        eq = memchr(s, '=', (apr_size_t)(amp - s));
        assert_non_null(eq);
        APR_ARRAY_PUSH(f->keys, const char *) = decode(s, (apr_size_t)(eq - s), p);
        APR_ARRAY_PUSH(f->values, const char *) = decode(eq + 1, (apr_size_t)(amp - eq - 1), p);
        for (i = 0; i < f->keys->nelts - 1; ++i) {
            assert_string_not_equal(APR_ARRAY_IDX(f->keys, i, const char *),
                                    APR_ARRAY_IDX(f->keys, f->keys->nelts - 1, const char *));
        }
        s = amp + 1;
    }
    return f;
}

static const char *get(const form_t *f, const char *key)
{
    int i;

    for (i = 0; i < f->keys->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(f->keys, i, const char *), key)) {
            return APR_ARRAY_IDX(f->values, i, const char *);
        }
    }
    return NULL;
}

static void assert_field(const form_t *f, const char *key, const char *value)
{
    const char *v = get(f, key);

    if (!v) {
        fail_msg("no field %s", key);
    }
    assert_string_equal(v, value);
}

/* The body @p i of @p bodies, parsed. */
static form_t *body_form(apr_array_header_t *bodies, int i, apr_pool_t *p)
{
    return parse(&APR_ARRAY_IDX(bodies, i, cw_put_body_t), p);
}

static apr_time_t at(int y, int mo, int d, int h, int mi, int s)
{
    apr_time_exp_t t;
    apr_time_t r;

    memset(&t, 0, sizeof(t));
    t.tm_year = y - 1900;
    t.tm_mon = mo - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = mi;
    t.tm_sec = s;
    assert_int_equal(apr_time_exp_gmt_get(&r, &t), APR_SUCCESS);
    return r;
}

static const cw_dimension_t dims2[] = {{"Server", "www.example.com"}, {"Status", "2xx"}};

static void value_datum(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *bodies;
    cw_datum_t d;
    cw_put_body_t *b;
    form_t *f;

    memset(&d, 0, sizeof(d));
    d.name = "Requests";
    d.unit = "Count";
    d.dimensions = dims2;
    d.ndims = 2;
    d.kind = CW_DATUM_VALUE;
    d.value = 1234;
    d.timestamp = at(2026, 11, 25, 10, 0, 0);
    d.storage_resolution = 60;
    assert_int_equal(cw_put_bodies(&bodies, NS, &d, 1, 0, 0, p), APR_SUCCESS);
    assert_int_equal(bodies->nelts, 1);
    b = &APR_ARRAY_IDX(bodies, 0, cw_put_body_t);
    assert_int_equal(b->datums, 1);
    assert_int_equal(b->gzip, 0);
    assert_int_equal(strlen(b->data), b->len);
    /* as it travels */
#define START "Action=PutMetricData&Version=2010-08-01&Namespace=Lampfarm%2FWeb&"
    assert_true(!strncmp(b->data, START, strlen(START)));
    assert_non_null(strstr(b->data, "Timestamp=2026-11-25T10%3A00%3A00Z"));

    f = parse(b, p);
    assert_int_equal(f->keys->nelts, 3 + 9);
    assert_field(f, "Action", "PutMetricData");
    assert_field(f, "Version", "2010-08-01");
    assert_field(f, "Namespace", NS);
    assert_field(f, "MetricData.member.1.MetricName", "Requests");
    assert_field(f, "MetricData.member.1.Unit", "Count");
    assert_field(f, "MetricData.member.1.Dimensions.member.1.Name", "Server");
    assert_field(f, "MetricData.member.1.Dimensions.member.1.Value", "www.example.com");
    assert_field(f, "MetricData.member.1.Dimensions.member.2.Name", "Status");
    assert_field(f, "MetricData.member.1.Dimensions.member.2.Value", "2xx");
    assert_field(f, "MetricData.member.1.Timestamp", "2026-11-25T10:00:00Z");
    assert_field(f, "MetricData.member.1.StorageResolution", "60");
    assert_field(f, "MetricData.member.1.Value", "1234");

    /* unset unit, timestamp and resolution are not sent */
    d.unit = NULL;
    d.timestamp = 0;
    d.storage_resolution = 0;
    d.ndims = 0;
    d.dimensions = NULL;
    d.value = 0.5;
    assert_int_equal(cw_put_bodies(&bodies, NS, &d, 1, 0, 0, p), APR_SUCCESS);
    f = body_form(bodies, 0, p);
    assert_int_equal(f->keys->nelts, 3 + 2);
    assert_field(f, "MetricData.member.1.MetricName", "Requests");
    assert_field(f, "MetricData.member.1.Value", "0.5");
}

static void stats_and_pairs(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *bodies;
    static const double values[] = {0.012, 0.5, 3, 1500.25};
    static const double counts[] = {1, 40, 7, 1};
    cw_datum_t d[2];
    form_t *f;

    memset(d, 0, sizeof(d));
    d[0].name = "Bytes";
    d[0].unit = "Bytes";
    d[0].kind = CW_DATUM_STATS;
    d[0].count = 49;
    d[0].sum = 123456789;
    d[0].min = 0;
    d[0].max = 1e7;
    d[0].storage_resolution = 1;
    d[1].name = "Latency";
    d[1].unit = "Milliseconds";
    d[1].dimensions = dims2;
    d[1].ndims = 1;
    d[1].kind = CW_DATUM_PAIRS;
    d[1].values = values;
    d[1].counts = counts;
    d[1].npairs = 4;
    d[1].timestamp = at(2027, 1, 2, 3, 4, 5);
    assert_int_equal(cw_put_bodies(&bodies, NS, d, 2, 0, 0, p), APR_SUCCESS);
    assert_int_equal(bodies->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(bodies, 0, cw_put_body_t).datums, 2);
    f = body_form(bodies, 0, p);
    assert_int_equal(f->keys->nelts, 3 + 7 + 5 + 8);
    assert_field(f, "MetricData.member.1.MetricName", "Bytes");
    assert_field(f, "MetricData.member.1.Unit", "Bytes");
    assert_field(f, "MetricData.member.1.StorageResolution", "1");
    assert_field(f, "MetricData.member.1.StatisticValues.SampleCount", "49");
    assert_field(f, "MetricData.member.1.StatisticValues.Sum", "123456789");
    assert_field(f, "MetricData.member.1.StatisticValues.Minimum", "0");
    assert_field(f, "MetricData.member.1.StatisticValues.Maximum", "10000000");
    assert_field(f, "MetricData.member.2.MetricName", "Latency");
    assert_field(f, "MetricData.member.2.Unit", "Milliseconds");
    assert_field(f, "MetricData.member.2.Dimensions.member.1.Name", "Server");
    assert_field(f, "MetricData.member.2.Dimensions.member.1.Value", "www.example.com");
    assert_field(f, "MetricData.member.2.Timestamp", "2027-01-02T03:04:05Z");
    assert_field(f, "MetricData.member.2.Values.member.1", "0.012");
    assert_field(f, "MetricData.member.2.Counts.member.1", "1");
    assert_field(f, "MetricData.member.2.Values.member.2", "0.5");
    assert_field(f, "MetricData.member.2.Counts.member.2", "40");
    assert_field(f, "MetricData.member.2.Values.member.3", "3");
    assert_field(f, "MetricData.member.2.Counts.member.3", "7");
    assert_field(f, "MetricData.member.2.Values.member.4", "1500.25");
    assert_field(f, "MetricData.member.2.Counts.member.4", "1");
    assert_null(get(f, "MetricData.member.2.Values.member.5"));
}

static void encoding(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *bodies;
    static const cw_dimension_t dims[] = {{"Path #1", "/a b&c=d%e+f~g_h.i-j\xc3\xa9"}};
    cw_datum_t d;
    const char *data;
    form_t *f;

    memset(&d, 0, sizeof(d));
    d.name = "Requests: all";
    d.dimensions = dims;
    d.ndims = 1;
    assert_int_equal(cw_put_bodies(&bodies, "Lampfarm/My App", &d, 1, 0, 0, p), APR_SUCCESS);
    data = APR_ARRAY_IDX(bodies, 0, cw_put_body_t).data;
    assert_non_null(strstr(data, "Namespace=Lampfarm%2FMy%20App&"));
    assert_non_null(strstr(data, "MetricName=Requests%3A%20all&"));
    assert_non_null(strstr(data, "Name=Path%20%231&"));
    assert_non_null(strstr(data, "Value=%2Fa%20b%26c%3Dd%25e%2Bf~g_h.i-j%C3%A9&"));
    assert_null(strchr(data, '+'));
    assert_null(strchr(data, ' '));
    f = body_form(bodies, 0, p);
    assert_field(f, "Namespace", "Lampfarm/My App");
    assert_field(f, "MetricData.member.1.MetricName", "Requests: all");
    assert_field(f, "MetricData.member.1.Dimensions.member.1.Name", "Path #1");
    assert_field(f, "MetricData.member.1.Dimensions.member.1.Value",
                 "/a b&c=d%e+f~g_h.i-j\xc3\xa9");
}

/* The Value field of one datum of @p v, or NULL with *rv set when refused. */
static const char *number(double v, apr_status_t *rv, apr_pool_t *p)
{
    apr_array_header_t *bodies;
    cw_datum_t d;

    memset(&d, 0, sizeof(d));
    d.name = "N";
    d.value = v;
    *rv = cw_put_bodies(&bodies, NS, &d, 1, 0, 0, p);
    if (*rv != APR_SUCCESS) {
        assert_null(bodies);
        return NULL;
    }
    return get(body_form(bodies, 0, p), "MetricData.member.1.Value");
}

static void assert_number(double v, const char *expect, apr_pool_t *p)
{
    apr_status_t rv;
    const char *s = number(v, &rv, p);

    assert_int_equal(rv, APR_SUCCESS);
    assert_string_equal(s, expect);
}

static void numbers(void **state)
{
    apr_pool_t *p = *state;
    apr_uint64_t seed = 0x2545F4914F6CDD1DULL;
    apr_status_t rv;
    double zero = 0;
    int i;

    assert_number(0, "0", p);
    assert_number(-0.0, "0", p);
    assert_number(1, "1", p);
    assert_number(-4.5, "-4.5", p);
    assert_number(0.001, "0.001", p);
    assert_number(0.0315, "0.0315", p);
    assert_number(1e-5, "0.00001", p);
    assert_number(2.5e-7, "2.5e-7", p);
    assert_number(1234.5, "1234.5", p);
    assert_number(1.0 / 3, "0.333333333333333", p);
    assert_number(2.0 / 3, "0.666666666666667", p);
    assert_number(68719476735.0, "68719476735", p);
    assert_number(999999999999999.0, "999999999999999", p);
    assert_number(1e15, "1e15", p);
    assert_number(1e20, "1e20", p);
    assert_number(123456789012345678.0, "1.23456789012346e17", p);
    assert_number(0.9999999999999999, "1", p);
    assert_number(99.99999999999999, "100", p);
    assert_number(1e-200, "0", p);
    assert_number(1e108, "1e108", p);

    /* every value comes back from the text to 15 digits */
    for (i = 0; i < 20000; ++i) {
        union {
            apr_uint64_t u;
            double d;
        } x;
        double back;
        const char *s;

        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        /* exponents between about 1e-90 and 1e90 */
        x.u = (seed & 0x800FFFFFFFFFFFFFULL)
              | ((apr_uint64_t)(1023 - 300 + (seed >> 52) % 600) << 52);
        s = number(x.d, &rv, p);
        assert_int_equal(rv, APR_SUCCESS);
        back = strtod(s, NULL);
        assert_true((back - x.d) / x.d < 1e-14 && (x.d - back) / x.d < 1e-14);
    }

    /* what CloudWatch refuses is refused here */
    assert_null(number(zero / zero, &rv, p));
    assert_int_equal(rv, APR_EINVAL);
    assert_null(number(1 / zero, &rv, p));
    assert_int_equal(rv, APR_EINVAL);
    assert_null(number(-1 / zero, &rv, p));
    assert_int_equal(rv, APR_EINVAL);
    assert_null(number(1e200, &rv, p));
    assert_int_equal(rv, APR_EINVAL);
}

static void split_at_1000(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *bodies;
    cw_datum_t *d = apr_pcalloc(p, sizeof(*d) * 2500);
    int i, j, seen = 0;

    for (i = 0; i < 2500; ++i) {
        d[i].name = apr_psprintf(p, "m%d", i);
        d[i].value = i;
    }
    assert_int_equal(cw_put_bodies(&bodies, NS, d, 2500, 0, 0, p), APR_SUCCESS);
    assert_int_equal(bodies->nelts, 3);
    assert_int_equal(APR_ARRAY_IDX(bodies, 0, cw_put_body_t).datums, 1000);
    assert_int_equal(APR_ARRAY_IDX(bodies, 1, cw_put_body_t).datums, 1000);
    assert_int_equal(APR_ARRAY_IDX(bodies, 2, cw_put_body_t).datums, 500);
    for (i = 0; i < 3; ++i) {
        const cw_put_body_t *b = &APR_ARRAY_IDX(bodies, i, cw_put_body_t);
        form_t *f = parse(b, p);

        assert_true(b->len <= CW_PUT_MAX_BYTES);
        assert_int_equal(f->keys->nelts, 3 + 2 * b->datums);
        assert_field(f, "Namespace", NS);
        /* members numbered from 1 in each body, datums in order */
        for (j = 1; j <= b->datums; ++j, ++seen) {
            assert_field(f, apr_psprintf(p, "MetricData.member.%d.MetricName", j),
                         apr_psprintf(p, "m%d", seen));
            assert_field(f, apr_psprintf(p, "MetricData.member.%d.Value", j),
                         apr_psprintf(p, "%d", seen));
        }
    }
    assert_int_equal(seen, 2500);

    /* no datums: no bodies */
    assert_int_equal(cw_put_bodies(&bodies, NS, d, 0, 0, 0, p), APR_SUCCESS);
    assert_int_equal(bodies->nelts, 0);
}

static void split_pairs(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *bodies;
    double *values = apr_palloc(p, sizeof(double) * 400);
    double *counts = apr_palloc(p, sizeof(double) * 400);
    cw_datum_t d[3];
    form_t *f;
    int i, m, k, next = 0;
    static const int sizes[] = {150, 150, 100};

    for (i = 0; i < 400; ++i) {
        values[i] = 10 + i;
        counts[i] = 1 + i % 7;
    }
    memset(d, 0, sizeof(d));
    d[0].name = "Before";
    d[1].name = "Latency";
    d[1].unit = "Microseconds";
    d[1].dimensions = dims2;
    d[1].ndims = 2;
    d[1].kind = CW_DATUM_PAIRS;
    d[1].values = values;
    d[1].counts = counts;
    d[1].npairs = 400;
    d[1].timestamp = at(2026, 11, 25, 10, 1, 0);
    d[2].name = "After";
    assert_int_equal(cw_put_bodies(&bodies, NS, d, 3, 0, 0, p), APR_SUCCESS);
    assert_int_equal(bodies->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(bodies, 0, cw_put_body_t).datums, 5);
    f = body_form(bodies, 0, p);
    assert_field(f, "MetricData.member.1.MetricName", "Before");
    for (m = 2; m <= 4; ++m) {
        const char *pre = apr_psprintf(p, "MetricData.member.%d.", m);
        int n = sizes[m - 2];

        assert_field(f, apr_pstrcat(p, pre, "MetricName", NULL), "Latency");
        assert_field(f, apr_pstrcat(p, pre, "Unit", NULL), "Microseconds");
        assert_field(f, apr_pstrcat(p, pre, "Dimensions.member.1.Name", NULL), "Server");
        assert_field(f, apr_pstrcat(p, pre, "Dimensions.member.1.Value", NULL), "www.example.com");
        assert_field(f, apr_pstrcat(p, pre, "Dimensions.member.2.Name", NULL), "Status");
        assert_field(f, apr_pstrcat(p, pre, "Dimensions.member.2.Value", NULL), "2xx");
        assert_field(f, apr_pstrcat(p, pre, "Timestamp", NULL), "2026-11-25T10:01:00Z");
        for (k = 1; k <= n; ++k, ++next) {
            assert_field(f, apr_psprintf(p, "%sValues.member.%d", pre, k),
                         apr_psprintf(p, "%d", 10 + next));
            assert_field(f, apr_psprintf(p, "%sCounts.member.%d", pre, k),
                         apr_psprintf(p, "%d", 1 + next % 7));
        }
        assert_null(get(f, apr_psprintf(p, "%sValues.member.%d", pre, n + 1)));
    }
    assert_int_equal(next, 400);
    assert_field(f, "MetricData.member.5.MetricName", "After");
    assert_null(get(f, "MetricData.member.6.MetricName"));

    /* exactly 150 pairs stay one datum */
    d[1].npairs = 150;
    assert_int_equal(cw_put_bodies(&bodies, NS, &d[1], 1, 0, 0, p), APR_SUCCESS);
    assert_int_equal(APR_ARRAY_IDX(bodies, 0, cw_put_body_t).datums, 1);
    d[1].npairs = 151;
    assert_int_equal(cw_put_bodies(&bodies, NS, &d[1], 1, 0, 0, p), APR_SUCCESS);
    assert_int_equal(APR_ARRAY_IDX(bodies, 0, cw_put_body_t).datums, 2);

    /* an empty histogram is left out, and the numbering goes on without a gap */
    d[1].npairs = 0;
    assert_int_equal(cw_put_bodies(&bodies, NS, d, 3, 0, 0, p), APR_SUCCESS);
    assert_int_equal(APR_ARRAY_IDX(bodies, 0, cw_put_body_t).datums, 2);
    f = body_form(bodies, 0, p);
    assert_field(f, "MetricData.member.1.MetricName", "Before");
    assert_field(f, "MetricData.member.2.MetricName", "After");
    assert_int_equal(f->keys->nelts, 3 + 4);
    /* only empty histograms: nothing to send */
    assert_int_equal(cw_put_bodies(&bodies, NS, &d[1], 1, 0, 0, p), APR_SUCCESS);
    assert_int_equal(bodies->nelts, 0);
}

static void split_at_max_bytes(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *bodies;
    cw_datum_t *d = apr_pcalloc(p, sizeof(*d) * 200);
    int i, j, seen = 0;

    for (i = 0; i < 200; ++i) {
        d[i].name = apr_psprintf(p, "metric-%03d", i);
        d[i].unit = "Count";
        d[i].dimensions = dims2;
        d[i].ndims = 2;
        d[i].value = i;
    }
    assert_int_equal(cw_put_bodies(&bodies, NS, d, 200, 2000, 0, p), APR_SUCCESS);
    assert_true(bodies->nelts > 5);
    for (i = 0; i < bodies->nelts; ++i) {
        const cw_put_body_t *b = &APR_ARRAY_IDX(bodies, i, cw_put_body_t);
        form_t *f = parse(b, p);

        assert_true(b->len <= 2000);
        assert_true(b->datums >= 1);
        /* full: the next datum would not have fitted */
        if (i < bodies->nelts - 1) {
            assert_true(b->len > 2000 - 300);
        }
        for (j = 1; j <= b->datums; ++j, ++seen) {
            assert_field(f, apr_psprintf(p, "MetricData.member.%d.MetricName", j),
                         apr_psprintf(p, "metric-%03d", seen));
        }
        assert_null(get(f, apr_psprintf(p, "MetricData.member.%d.MetricName", j)));
    }
    assert_int_equal(seen, 200);
}

static void too_big(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *bodies = (apr_array_header_t *)1;
    cw_datum_t d[2];
    apr_array_header_t *ok;

    memset(d, 0, sizeof(d));
    d[0].name = "small";
    d[1].name = "a-rather-long-metric-name-that-takes-room";
    d[1].dimensions = dims2;
    d[1].ndims = 2;
    /* what one datum alone takes */
    assert_int_equal(cw_put_bodies(&ok, NS, &d[1], 1, 0, 0, p), APR_SUCCESS);
    assert_int_equal(
        cw_put_bodies(&bodies, NS, d, 2, APR_ARRAY_IDX(ok, 0, cw_put_body_t).len - 1, 0, p),
        APR_EINVAL);
    assert_null(bodies);
    /* and with exactly its size, it fits */
    assert_int_equal(
        cw_put_bodies(&bodies, NS, d, 2, APR_ARRAY_IDX(ok, 0, cw_put_body_t).len, 0, p),
        APR_SUCCESS);
    assert_int_equal(bodies->nelts, 2);

    /* too many dimensions */
    d[1].ndims = CW_PUT_MAX_DIMENSIONS + 1;
    assert_int_equal(cw_put_bodies(&bodies, NS, &d[1], 1, 0, 0, p), APR_EINVAL);
}

static const char *inflate_all(const cw_put_body_t *b, apr_size_t *len, apr_pool_t *p)
{
    z_stream zs;
    apr_size_t cap = b->len * 50 + 1024;
    char *out = apr_palloc(p, cap);

    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 31), Z_OK); /* gzip only */
    zs.next_in = (Bytef *)(apr_uintptr_t)b->data;
    zs.avail_in = (uInt)b->len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0);
    *len = zs.total_out;
    inflateEnd(&zs);
    return out;
}

static void gzip(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *plain, *zipped;
    cw_datum_t *d = apr_pcalloc(p, sizeof(*d) * 1500);
    const char *out;
    apr_size_t len;
    int i;

    for (i = 0; i < 1500; ++i) {
        d[i].name = "Requests";
        d[i].dimensions = dims2;
        d[i].ndims = 2;
        d[i].value = i % 10;
        d[i].timestamp = at(2026, 11, 25, 10, 0, 0);
    }
    /* 1000 + 500 datums; the first body is above the threshold, the second below */
    assert_int_equal(cw_put_bodies(&plain, NS, d, 1500, 0, 0, p), APR_SUCCESS);
    assert_int_equal(plain->nelts, 2);
    assert_int_equal(APR_ARRAY_IDX(plain, 0, cw_put_body_t).gzip, 0);
    assert_int_equal(APR_ARRAY_IDX(plain, 1, cw_put_body_t).gzip, 0);
    len = (APR_ARRAY_IDX(plain, 0, cw_put_body_t).len + APR_ARRAY_IDX(plain, 1, cw_put_body_t).len)
          / 2;
    assert_int_equal(cw_put_bodies(&zipped, NS, d, 1500, 0, len, p), APR_SUCCESS);
    assert_int_equal(zipped->nelts, 2);
    assert_int_equal(APR_ARRAY_IDX(zipped, 0, cw_put_body_t).gzip, 1);
    assert_int_equal(APR_ARRAY_IDX(zipped, 0, cw_put_body_t).datums, 1000);
    assert_int_equal(APR_ARRAY_IDX(zipped, 1, cw_put_body_t).gzip, 0);
    assert_true(APR_ARRAY_IDX(zipped, 0, cw_put_body_t).len
                < APR_ARRAY_IDX(plain, 0, cw_put_body_t).len / 5);
    out = inflate_all(&APR_ARRAY_IDX(zipped, 0, cw_put_body_t), &len, p);
    assert_int_equal(len, APR_ARRAY_IDX(plain, 0, cw_put_body_t).len);
    assert_memory_equal(out, APR_ARRAY_IDX(plain, 0, cw_put_body_t).data, len);
    assert_int_equal(APR_ARRAY_IDX(zipped, 1, cw_put_body_t).len,
                     APR_ARRAY_IDX(plain, 1, cw_put_body_t).len);

    /* at exactly the threshold: not compressed */
    len = APR_ARRAY_IDX(plain, 1, cw_put_body_t).len;
    assert_int_equal(cw_put_bodies(&zipped, NS, d + 1000, 500, 0, len, p), APR_SUCCESS);
    assert_int_equal(APR_ARRAY_IDX(zipped, 0, cw_put_body_t).gzip, 0);
    assert_int_equal(cw_put_bodies(&zipped, NS, d + 1000, 500, 0, len - 1, p), APR_SUCCESS);
    assert_int_equal(APR_ARRAY_IDX(zipped, 0, cw_put_body_t).gzip, 1);

    /* cw_put_gzip itself: RFC 1952 magic, and the empty input */
    {
        cw_put_body_t b;
        assert_int_equal(cw_put_gzip(&b.data, &b.len, "hello hello hello", 17, p), APR_SUCCESS);
        assert_true((unsigned char)b.data[0] == 0x1f && (unsigned char)b.data[1] == 0x8b);
        out = inflate_all(&b, &len, p);
        assert_int_equal(len, 17);
        assert_memory_equal(out, "hello hello hello", 17);
        assert_int_equal(cw_put_gzip(&b.data, &b.len, "", 0, p), APR_SUCCESS);
        out = inflate_all(&b, &len, p);
        assert_int_equal(len, 0);
    }
}

static void assert_refused(const char *why, const char *part)
{
    if (!why) {
        fail_msg("accepted, expected: ...%s...", part);
    }
    if (!strstr(why, part)) {
        fail_msg("'%s' does not say '%s'", why, part);
    }
}

static void namespaces(void **state)
{
    apr_pool_t *p = *state;
    char longer[300];

    assert_null(cw_put_check_namespace(NS, p));
    assert_null(cw_put_check_namespace("Lampfarm/Web Tier #2:a-b_c.d", p));
    assert_null(cw_put_check_namespace("x", p));
    assert_null(cw_put_check_namespace("MyAWS/Thing", p));
    assert_null(cw_put_check_namespace("aws/lower", p));
    assert_string_equal(cw_put_check_namespace("AWS/EC2", p),
                        "namespace 'AWS/EC2' starts with AWS/, which is reserved for AWS services");
    assert_refused(cw_put_check_namespace("AWS/X", p), "reserved for AWS services");
    assert_refused(cw_put_check_namespace(":x", p), "starts with ':'");
    assert_refused(cw_put_check_namespace("", p), "namespace is empty");
    assert_refused(cw_put_check_namespace("   ", p), "only spaces");
    assert_refused(cw_put_check_namespace("Lampfarm/W\xc3\xa9", p), "'\\xC3'");
    assert_refused(cw_put_check_namespace("Lamp,farm", p), "contains ','");
    assert_refused(cw_put_check_namespace("Lamp\tfarm", p), "not allowed");
    memset(longer, 'a', sizeof(longer));
    longer[255] = '\0';
    assert_null(cw_put_check_namespace(longer, p));
    longer[255] = 'a';
    longer[256] = '\0';
    assert_refused(cw_put_check_namespace(longer, p), "256 characters long, the most is 255");
}

static void names(void **state)
{
    apr_pool_t *p = *state;
    char longer[300];

    assert_null(cw_put_check_name("Requests", "metric name", p));
    assert_null(cw_put_check_name("5xx rate (%) ~ [a|b] {c} \"d\"", "metric name", p));
    assert_null(cw_put_check_name(":ok", "metric name", p));
    assert_null(cw_put_check_name(":ok", "dimension value", p));
    assert_refused(cw_put_check_name(":x", "dimension name", p),
                   "dimension name ':x' starts with ':'");
    assert_null(cw_put_check_name("Server", "dimension name", p));
    assert_refused(cw_put_check_name("", "metric name", p), "metric name is empty");
    assert_refused(cw_put_check_name("", "dimension value", p), "dimension value is empty");
    assert_refused(cw_put_check_name("  ", "dimension name", p), "only spaces");
    assert_refused(cw_put_check_name("caf\xc3\xa9", "dimension value", p), "contains byte 0xC3");
    assert_refused(cw_put_check_name("a\nb", "metric name", p), "contains byte 0x0A");
    assert_refused(cw_put_check_name("a\x7f", "metric name", p), "contains byte 0x7F");
    memset(longer, 'n', sizeof(longer));
    longer[255] = '\0';
    assert_null(cw_put_check_name(longer, "metric name", p));
    longer[255] = 'n';
    longer[256] = '\0';
    assert_refused(cw_put_check_name(longer, "dimension value", p),
                   "256 characters long, the most is 255");
    /* a long name is cut short in the message */
    assert_true(strlen(cw_put_check_name(longer, "metric name", p)) < 120);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(value_datum),   UNIT_TEST(stats_and_pairs),
        UNIT_TEST(encoding),      UNIT_TEST(numbers),
        UNIT_TEST(split_at_1000), UNIT_TEST(split_pairs),
        UNIT_TEST(too_big),       UNIT_TEST(split_at_max_bytes),
        UNIT_TEST(gzip),          UNIT_TEST(namespaces),
        UNIT_TEST(names),
    };
    return UNIT_RUN("cw_put", tests);
}
