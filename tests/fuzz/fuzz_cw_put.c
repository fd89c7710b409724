/* fuzz_cw_put — PutMetricData bodies (modules/cloudwatch/cw_put.c) from whatever the
 * configuration and the requests put into them: metric and dimension names and values (a
 * dimension value can come from a request's environment), any double (NaN, infinities,
 * denormals), histograms of any size, any body limit.
 *
 * Input: a byte of settings (max_bytes, gzip threshold), a namespace (NUL-terminated), then
 * datums until the input ends: a kind byte, name and unit (NUL-terminated), a dimension count
 * and that many name/value pairs, then the numbers (8 bytes each, a double). Every body must be
 * within max_bytes before compression, carry its datums (a gzip body inflates to such a body),
 * and spell each number so that strtod() reads it back within 15 significant digits.
 */
#include <math.h>
#include <stdlib.h>

#include <apr_strings.h>
#include <zlib.h>

#include "cw_put.h"
#include "fuzz.h"

#define MAX_DATUMS 64
#define MAX_PAIRS  1024 /* in all histograms together */

static double take_double(fuzz_in_t *in)
{
    unsigned char b[8] = {0};
    double v;
    int i;

    for (i = 0; i < 8; i++) {
        b[i] = (unsigned char)fuzz_byte(in);
    }
    memcpy(&v, b, sizeof(v));
    return v;
}

/* @p body inflated (it is gzip), NUL-terminated, from @p p. */
static const char *gunzip(const cw_put_body_t *body, size_t *len, apr_pool_t *p)
{
    z_stream zs;
    size_t cap = CW_PUT_MAX_BYTES + 1;
    char *out = apr_palloc(p, cap);
    int rc;

    memset(&zs, 0, sizeof(zs));
    FUZZ_CHECK(inflateInit2(&zs, 15 + 16) == Z_OK);
    zs.next_in = (Bytef *)(apr_uintptr_t)body->data;
    zs.avail_in = (uInt)body->len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)(cap - 1);
    rc = inflate(&zs, Z_FINISH);
    FUZZ_CHECK(rc == Z_STREAM_END);
    *len = zs.total_out;
    out[*len] = '\0';
    inflateEnd(&zs);
    return out;
}

/* Every number in @p body (the fields Value, StatisticValues.*, Values.member.*,
 * Counts.member.* of each "&MetricData.member.N.") against what was sent: the datums' numbers
 * in order. */
static void check_numbers(const char *body, const double *nums, int *next, int total)
{
    static const char member[] = "&MetricData.member.";
    const char *s;

    for (s = strstr(body, member); s; s = strstr(s + 1, member)) {
        const char *field = s + strlen(member), *eq, *amp;
        double v, want;
        char *end;

        field += strspn(field, "0123456789");
        FUZZ_CHECK(*field++ == '.');
        eq = strchr(field, '=');
        FUZZ_CHECK(eq != NULL);
        amp = strchr(eq, '&');
        if (strncmp(field, "Value=", 6) && strncmp(field, "StatisticValues.", 16)
            && strncmp(field, "Values.member.", 14) && strncmp(field, "Counts.member.", 14)) {
            continue;
        }
        FUZZ_CHECK(*next < total);
        want = nums[(*next)++];
        v = strtod(eq + 1, &end);
        FUZZ_CHECK(end == (amp ? amp : eq + 1 + strlen(eq + 1)));
        if (fabs(want) < 1e-100) {
            FUZZ_CHECK(v == 0);
        }
        else {
            FUZZ_CHECK(fabs(v - want) <= 1e-14 * fabs(want));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    unsigned settings = fuzz_byte(&in);
    apr_size_t max_bytes = (settings & 3) == 0 ? 0 : (settings & 3) == 1 ? 300 : 2000;
    apr_size_t gzip_over = (settings & 4) ? 100 : 0;
    const char *ns = fuzz_str(&in, p);
    cw_datum_t d[MAX_DATUMS];
    double *nums = apr_palloc(p, sizeof(double) * (MAX_DATUMS * 4 + 2 * MAX_PAIRS));
    int n = 0, total = 0, pairs = 0, expect = 0, valid = 1, i, k, next = 0, datums = 0;
    apr_array_header_t *bodies = NULL;
    apr_status_t rv;

    (void)cw_put_check_namespace(ns, p);
    memset(d, 0, sizeof(d));
    while (in.len && n < MAX_DATUMS) {
        cw_datum_t *x = &d[n];
        unsigned kind = fuzz_byte(&in), ndims;
        const char *why;
        cw_dimension_t *dims;

        x->kind = (cw_datum_kind_e)(kind % 3);
        x->name = fuzz_str(&in, p);
        x->unit = (kind & 4) ? fuzz_str(&in, p) : NULL;
        x->storage_resolution = (kind & 8) ? 1 : 0;
        x->timestamp = (kind & 16) ? apr_time_from_sec(1700000000) : 0;
        ndims = fuzz_byte(&in) % 34; /* a few more than CloudWatch takes */
        dims = apr_pcalloc(p, sizeof(*dims) * (ndims ? ndims : 1));
        for (k = 0; k < (int)ndims; k++) {
            dims[k].name = fuzz_str(&in, p);
            dims[k].value = fuzz_str(&in, p);
            why = cw_put_check_name(dims[k].name, "dimension name", p);
            FUZZ_CHECK(!why || *why);
            why = cw_put_check_name(dims[k].value, "dimension value", p);
            FUZZ_CHECK(!why || *why);
        }
        x->dimensions = dims;
        x->ndims = (int)ndims;
        why = cw_put_check_name(x->name, "metric name", p);
        FUZZ_CHECK(!why || *why);
        switch (x->kind) {
        case CW_DATUM_VALUE:
            nums[total++] = x->value = take_double(&in);
            expect++;
            break;
        case CW_DATUM_STATS:
            nums[total++] = x->count = take_double(&in);
            nums[total++] = x->sum = take_double(&in);
            nums[total++] = x->min = take_double(&in);
            nums[total++] = x->max = take_double(&in);
            expect++;
            break;
        case CW_DATUM_PAIRS: {
            /* a few pairs given, repeated up to a histogram larger than one datum takes */
            int given = (int)(fuzz_byte(&in) % 4), want = (int)fuzz_byte(&in) * 2;
            double *values, *counts, seed[8];

            for (k = 0; k < 2 * given; k++) {
                seed[k] = take_double(&in);
            }
            want = given && pairs + want <= MAX_PAIRS ? want : 0;
            pairs += want;
            values = apr_palloc(p, sizeof(double) * (want ? want : 1));
            counts = apr_palloc(p, sizeof(double) * (want ? want : 1));
            for (k = 0; k < want; k++) {
                values[k] = seed[2 * (k % given)];
                counts[k] = seed[2 * (k % given) + 1];
                nums[total++] = values[k];
                nums[total++] = counts[k];
            }
            x->values = values;
            x->counts = counts;
            x->npairs = want;
            expect += (want + CW_PUT_MAX_PAIRS - 1) / CW_PUT_MAX_PAIRS;
            break;
        }
        }
        /* a histogram without pairs is left out, dimensions and all */
        valid &= ndims <= CW_PUT_MAX_DIMENSIONS || (x->kind == CW_DATUM_PAIRS && !x->npairs);
        n++;
    }
    for (i = 0; i < total; i++) {
        valid &= isfinite(nums[i]) && fabs(nums[i]) <= 1e108;
    }

    rv = cw_put_bodies(&bodies, ns, d, n, max_bytes, gzip_over, p);
    if (rv != APR_SUCCESS) {
        /* a bad datum, or one too large for the limit */
        FUZZ_CHECK(rv == APR_EINVAL);
        FUZZ_CHECK(!valid || max_bytes);
        apr_pool_destroy(p);
        return 0;
    }
    FUZZ_CHECK(valid);
    for (i = 0; i < bodies->nelts; i++) {
        const cw_put_body_t *b = &APR_ARRAY_IDX(bodies, i, cw_put_body_t);
        const char *text = b->data;
        size_t len = b->len;

        FUZZ_CHECK(b->datums >= 1 && b->datums <= CW_PUT_MAX_DATUMS);
        FUZZ_CHECK(gzip_over || !b->gzip);
        if (b->gzip) {
            text = gunzip(b, &len, p);
            FUZZ_CHECK(len > gzip_over);
        }
        else {
            FUZZ_CHECK(!gzip_over || len <= gzip_over);
        }
        FUZZ_CHECK(len <= (max_bytes ? max_bytes : CW_PUT_MAX_BYTES));
        FUZZ_CHECK(strlen(text) == len);
        FUZZ_CHECK(!strncmp(text, "Action=PutMetricData&Version=2010-08-01&Namespace=", 50));
        /* form-encoded: nothing that needs escaping is left */
        FUZZ_CHECK(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                "-_.~%&=")
                   == len);
        check_numbers(text, nums, &next, total);
        datums += b->datums;
    }
    FUZZ_CHECK(next == total);
    FUZZ_CHECK(datums == expect);
    apr_pool_destroy(p);
    return 0;
}
