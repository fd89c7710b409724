/* Unit tests of modules/cloudwatch/cw_hist.c: bucket bounds and their relative error, the top
 * clamp, add/take/merge, the Values/Counts pairs (exact count, min and max; Sum within 1/33),
 * quantiles, and many threads adding while another takes snapshots. */
#include "unit.h"

#include "cw_hist.h"

#define MAX_REL (1.0 / 33 + 1e-12)

/* the unit tests do not link libm */
static double dmax(double a, double b)
{
    return a > b ? a : b;
}

static double dmin(double a, double b)
{
    return a < b ? a : b;
}

static double dabs(double a)
{
    return a < 0 ? -a : a;
}

static apr_uint64_t xorshift(apr_uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rel_error(apr_uint64_t v)
{
    return dabs(cw_hist_value(cw_hist_bucket(v)) - (double)v) / (double)v;
}

static void exact_below_32(void **state)
{
    apr_uint64_t v;

    (void)state;
    for (v = 0; v < 32; ++v) {
        assert_int_equal(cw_hist_bucket(v), (int)v);
        assert_true(cw_hist_value((int)v) == (double)v);
    }
    assert_int_equal(cw_hist_bucket(32), 32);
    assert_int_equal(cw_hist_bucket(33), 32);
    assert_int_equal(cw_hist_bucket(34), 33);
}

/* Every bucket from its first to its last value: indexes follow each other and the value of a
 * bucket is within 1/33 of both ends (so of everything between). */
static void bucket_bounds(void **state)
{
    double worst = 0;
    int msb, sub, expect = 32;

    (void)state;
    for (msb = 5; msb < CW_HIST_MAX_BITS; ++msb) {
        for (sub = 0; sub < CW_HIST_SUB; ++sub, ++expect) {
            apr_uint64_t w = 1ULL << (msb - 4);
            apr_uint64_t lo = (1ULL << msb) + (apr_uint64_t)sub * w, hi = lo + w - 1;
            double v = cw_hist_value(expect);
            double e = dmax(dabs(v - (double)lo) / (double)lo, dabs(v - (double)hi) / (double)hi);

            assert_int_equal(cw_hist_bucket(lo), expect);
            assert_int_equal(cw_hist_bucket(hi), expect);
            assert_int_equal(cw_hist_bucket(lo - 1), expect - 1);
            assert_true(v >= (double)lo && v <= (double)hi);
            worst = dmax(worst, e);
        }
    }
    assert_int_equal(expect, CW_HIST_BUCKETS);
    assert_true(worst <= MAX_REL);
    assert_true(worst <= CW_HIST_REL_ERROR);
    /* and the bound is tight: the wide buckets come close to 1/33 */
    assert_true(worst > 1.0 / 34);
}

static void relative_error_sample(void **state)
{
    apr_uint64_t seed = 88172645463325252ULL, v;
    double x, worst = 0;
    int i, prev = -1;

    (void)state;
    /* a log grid over 1 .. 2^36, in order: buckets never go down */
    for (x = 1; x < 68719476736.0; x *= 1.003) {
        v = (apr_uint64_t)x;
        assert_true(cw_hist_bucket(v) >= prev);
        prev = cw_hist_bucket(v);
        worst = dmax(worst, rel_error(v));
        assert_true(rel_error(v) <= CW_HIST_REL_ERROR);
    }
    /* random values of every magnitude */
    for (i = 0; i < 200000; ++i) {
        int bits = 1 + (int)(xorshift(&seed) % CW_HIST_MAX_BITS);
        v = xorshift(&seed) & ((1ULL << bits) - 1);
        if (!v) {
            continue;
        }
        worst = dmax(worst, rel_error(v));
        assert_true(rel_error(v) <= CW_HIST_REL_ERROR);
    }
    assert_true(worst <= MAX_REL);
}

static void top_clamp(void **state)
{
    cw_hist_t h;
    cw_hist_snapshot_t s;
    apr_uint64_t big = 1ULL << 40;

    (void)state;
    assert_int_equal(cw_hist_bucket((1ULL << CW_HIST_MAX_BITS) - 1), CW_HIST_BUCKETS - 1);
    assert_int_equal(cw_hist_bucket(1ULL << CW_HIST_MAX_BITS), CW_HIST_BUCKETS - 1);
    assert_int_equal(cw_hist_bucket(~0ULL), CW_HIST_BUCKETS - 1);
    assert_true(cw_hist_value(CW_HIST_BUCKETS) == cw_hist_value(CW_HIST_BUCKETS - 1));
    assert_true(cw_hist_value(-1) == 0);

    memset(&h, 0, sizeof(h));
    cw_hist_add(&h, big);
    cw_hist_add(&h, big + 5);
    cw_hist_take(&s, &h);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.buckets[CW_HIST_BUCKETS - 1], 2);
    assert_int_equal(s.sum, 2 * big + 5);
    assert_int_equal(s.min, big);
    assert_int_equal(s.max, big + 5);
    /* the quantiles stay within the exact extremes */
    assert_true(cw_hist_quantile(&s, 0.5) >= (double)big);
    assert_true(cw_hist_quantile(&s, 1) == (double)(big + 5));
}

static void empty(void **state)
{
    apr_pool_t *p = *state;
    cw_hist_t h;
    cw_hist_snapshot_t s;
    double *values = (double *)1, *counts = (double *)1;
    int b;

    memset(&h, 0, sizeof(h));
    memset(&s, 0xff, sizeof(s));
    cw_hist_take(&s, &h);
    assert_int_equal(s.count, 0);
    assert_int_equal(s.sum, 0);
    assert_int_equal(s.min, 0);
    assert_int_equal(s.max, 0);
    for (b = 0; b < CW_HIST_BUCKETS; ++b) {
        assert_int_equal(s.buckets[b], 0);
    }
    assert_int_equal(cw_hist_pairs(&values, &counts, &s, 1, p), 0);
    assert_null(values);
    assert_null(counts);
    assert_true(cw_hist_quantile(&s, 0.5) == 0);
    assert_true(cw_hist_quantile(&s, 1) == 0);
}

static void add_take(void **state)
{
    cw_hist_t h, zero;
    cw_hist_snapshot_t s;

    (void)state;
    memset(&h, 0, sizeof(h));
    memset(&zero, 0, sizeof(zero));
    cw_hist_add(&h, 7);
    cw_hist_add(&h, 7);
    cw_hist_add(&h, 1000);
    cw_hist_add(&h, 0);
    cw_hist_add(&h, 123456);
    cw_hist_take(&s, &h);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.sum, 7 + 7 + 1000 + 0 + 123456);
    assert_int_equal(s.min, 0);
    assert_int_equal(s.max, 123456);
    assert_int_equal(s.buckets[7], 2);
    assert_int_equal(s.buckets[0], 1);
    assert_int_equal(s.buckets[cw_hist_bucket(1000)], 1);
    assert_int_equal(s.buckets[cw_hist_bucket(123456)], 1);
    /* taken means gone: the shared histogram is all zero again */
    assert_memory_equal(&h, &zero, sizeof(h));
    cw_hist_take(&s, &h);
    assert_int_equal(s.count, 0);

    /* a minimum of 0 is told apart from "no minimum" */
    cw_hist_add(&h, 0);
    cw_hist_take(&s, &h);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.min, 0);
    assert_int_equal(s.max, 0);
    cw_hist_add(&h, 50);
    cw_hist_take(&s, &h);
    assert_int_equal(s.min, 50);
    assert_int_equal(s.max, 50);
}

static void merge(void **state)
{
    cw_hist_t h;
    cw_hist_snapshot_t a, b, e;

    (void)state;
    memset(&h, 0, sizeof(h));
    cw_hist_add(&h, 100);
    cw_hist_add(&h, 200);
    cw_hist_take(&a, &h);
    cw_hist_add(&h, 50);
    cw_hist_add(&h, 100);
    cw_hist_add(&h, 5000);
    cw_hist_take(&b, &h);
    cw_hist_take(&e, &h);

    cw_hist_merge(&a, &b);
    assert_int_equal(a.count, 5);
    assert_int_equal(a.sum, 5450);
    assert_int_equal(a.min, 50);
    assert_int_equal(a.max, 5000);
    assert_int_equal(a.buckets[cw_hist_bucket(100)], 2);
    assert_int_equal(a.buckets[cw_hist_bucket(50)], 1);

    /* empty into full changes nothing; full into empty copies */
    cw_hist_merge(&a, &e);
    assert_int_equal(a.count, 5);
    assert_int_equal(a.min, 50);
    assert_int_equal(a.max, 5000);
    cw_hist_merge(&e, &a);
    assert_memory_equal(&e, &a, sizeof(a));
}

/* What a take that raced with adds can find: buckets without their min/max, or a min/max that
 * belongs to a value counted elsewhere. The snapshot stays consistent with itself. */
static void raced_fields(void **state)
{
    apr_pool_t *p = *state;
    cw_hist_t h;
    cw_hist_snapshot_t s;
    double *values, *counts;
    int np;

    memset(&h, 0, sizeof(h));
    h.buckets[cw_hist_bucket(1000)] = 3;
    h.sum = 3000;
    cw_hist_take(&s, &h);
    assert_int_equal(s.count, 3);
    assert_int_equal(cw_hist_bucket(s.min), cw_hist_bucket(1000));
    assert_int_equal(cw_hist_bucket(s.max), cw_hist_bucket(1000));
    assert_true(s.min <= s.max);
    np = cw_hist_pairs(&values, &counts, &s, 1, p);
    assert_true(np >= 1 && np <= 3);
    assert_true(counts[0] + (np > 1 ? counts[1] : 0) + (np > 2 ? counts[2] : 0) == 3);

    /* min and max of values that are not in the buckets */
    memset(&h, 0, sizeof(h));
    h.buckets[cw_hist_bucket(1000)] = 1;
    h.buckets[cw_hist_bucket(5000)] = 1;
    h.min_inv = ~(apr_uint64_t)7;
    h.max = 1ULL << 30;
    cw_hist_take(&s, &h);
    assert_int_equal(cw_hist_bucket(s.min), cw_hist_bucket(1000));
    assert_int_equal(cw_hist_bucket(s.max), cw_hist_bucket(5000));

    /* a sum without a count (its bucket went to the next snapshot) is kept for merging */
    memset(&h, 0, sizeof(h));
    h.sum = 42;
    h.min_inv = ~(apr_uint64_t)42;
    h.max = 42;
    cw_hist_take(&s, &h);
    assert_int_equal(s.count, 0);
    assert_int_equal(s.sum, 42);
    assert_int_equal(s.min, 0);
    assert_int_equal(s.max, 0);
}

/* Check the pairs of the values @p v[0..n) against what CloudWatch would compute from them. */
static void check_pairs(apr_pool_t *p, const apr_uint64_t *v, int n, double scale)
{
    cw_hist_t h;
    cw_hist_snapshot_t s;
    double *values, *counts, count = 0, sum = 0, truth = 0, mn, mx;
    apr_uint64_t tmin = ~0ULL, tmax = 0;
    int i, np;

    memset(&h, 0, sizeof(h));
    for (i = 0; i < n; ++i) {
        cw_hist_add(&h, v[i]);
        truth += (double)v[i];
        tmin = v[i] < tmin ? v[i] : tmin;
        tmax = v[i] > tmax ? v[i] : tmax;
    }
    cw_hist_take(&s, &h);
    np = cw_hist_pairs(&values, &counts, &s, scale, p);
    assert_true(np >= 1);
    mn = values[0];
    mx = values[0];
    for (i = 0; i < np; ++i) {
        assert_true(counts[i] >= 1);
        if (i) {
            assert_true(values[i] > values[i - 1]); /* each value once, in order */
        }
        count += counts[i];
        sum += values[i] * counts[i];
        mn = dmin(mn, values[i]);
        mx = dmax(mx, values[i]);
    }
    assert_true(count == (double)n);
    assert_true(mn == (double)tmin * scale);
    assert_true(mx == (double)tmax * scale);
    if (truth > 0) {
        assert_true(dabs(sum - truth * scale) <= truth * scale * MAX_REL);
        assert_true(dabs(sum - truth * scale) <= truth * scale * 0.05);
    }
    else {
        assert_true(sum == 0);
    }
}

static void pairs(void **state)
{
    apr_pool_t *p = *state;
    apr_uint64_t v[20000], seed = 2463534242ULL;
    int i;

    /* one sample; one value many times; two or three in one bucket */
    v[0] = 12345;
    check_pairs(p, v, 1, 1);
    for (i = 0; i < 10; ++i) {
        v[i] = 777;
    }
    check_pairs(p, v, 10, 1);
    v[0] = 992; /* bucket [992, 1023] */
    v[1] = 1023;
    check_pairs(p, v, 2, 1);
    v[2] = 1000;
    check_pairs(p, v, 3, 1);
    for (i = 0; i < 100; ++i) {
        v[i] = 992 + (apr_uint64_t)(i % 32);
    }
    check_pairs(p, v, 100, 1);
    /* small exact values; zero */
    for (i = 0; i < 32; ++i) {
        v[i] = (apr_uint64_t)i;
    }
    check_pairs(p, v, 32, 1);
    v[0] = 0;
    check_pairs(p, v, 1, 1);
    /* wide random samples, as is and as milliseconds */
    for (i = 0; i < 20000; ++i) {
        v[i] = 1 + xorshift(&seed) % (1ULL << (1 + i % 30));
    }
    check_pairs(p, v, 20000, 1);
    check_pairs(p, v, 20000, 0.001);
    /* skewed: almost all at the low end of their buckets */
    for (i = 0; i < 1000; ++i) {
        v[i] = (1ULL << (6 + i % 20)) + (i % 3);
    }
    check_pairs(p, v, 1000, 1);
}

static void quantiles(void **state)
{
    cw_hist_t h;
    cw_hist_snapshot_t s;
    apr_uint64_t v;
    double q;

    (void)state;
    memset(&h, 0, sizeof(h));
    for (v = 1; v <= 100000; ++v) {
        cw_hist_add(&h, v);
    }
    cw_hist_take(&s, &h);
    assert_int_equal(s.count, 100000);
    q = cw_hist_quantile(&s, 0.5);
    assert_true(dabs(q - 50000) <= 50000 * 0.05);
    q = cw_hist_quantile(&s, 0.9);
    assert_true(dabs(q - 90000) <= 90000 * 0.05);
    q = cw_hist_quantile(&s, 0.99);
    assert_true(dabs(q - 99000) <= 99000 * 0.05);
    assert_true(cw_hist_quantile(&s, 0) == 1);
    assert_true(cw_hist_quantile(&s, 1) == 100000);

    /* rank ceil(q * count): of 1..10 (exact buckets), p50 is 5 and p51 is 6 */
    for (v = 1; v <= 10; ++v) {
        cw_hist_add(&h, v);
    }
    cw_hist_take(&s, &h);
    assert_true(cw_hist_quantile(&s, 0.5) == 5);
    assert_true(cw_hist_quantile(&s, 0.51) == 6);
    assert_true(cw_hist_quantile(&s, 0.01) == 1);
}

/* --- many writers, one taker ------------------------------------------------------------------ */

#define WRITERS    8
#define PER_WRITER 200000

typedef struct writer_t {
    cw_hist_t *h;
    apr_uint64_t seed;
    apr_uint64_t sum, min, max;
} writer_t;

typedef struct taker_t {
    cw_hist_t *h;
    cw_hist_snapshot_t total;
    int stop; /* atomic */
    int takes_with_data;
} taker_t;

static void *writer_run(void *arg)
{
    writer_t *w = arg;
    int i;

    w->min = ~0ULL;
    for (i = 0; i < PER_WRITER; ++i) {
        apr_uint64_t v = xorshift(&w->seed) % (1ULL << (i % 34));
        cw_hist_add(w->h, v);
        w->sum += v;
        w->min = v < w->min ? v : w->min;
        w->max = v > w->max ? v : w->max;
    }
    return NULL;
}

static void *taker_run(void *arg)
{
    taker_t *t = arg;
    cw_hist_snapshot_t s;

    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        cw_hist_take(&s, t->h);
        if (s.count) {
            t->takes_with_data++;
        }
        cw_hist_merge(&t->total, &s);
    }
    return NULL;
}

static void concurrent(void **state)
{
    apr_pool_t *p = *state;
    cw_hist_t *h = apr_pcalloc(p, sizeof(*h));
    writer_t w[WRITERS];
    taker_t t;
    pthread_t wt[WRITERS], tt;
    cw_hist_snapshot_t s;
    apr_uint64_t sum = 0, mn = ~0ULL, mx = 0, count = 0;
    int i, b;

    memset(&t, 0, sizeof(t));
    t.h = h;
    assert_int_equal(pthread_create(&tt, NULL, taker_run, &t), 0);
    for (i = 0; i < WRITERS; ++i) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].h = h;
        w[i].seed = 0x9E3779B97F4A7C15ULL * (apr_uint64_t)(i + 1);
        assert_int_equal(pthread_create(&wt[i], NULL, writer_run, &w[i]), 0);
    }
    for (i = 0; i < WRITERS; ++i) {
        assert_int_equal(pthread_join(wt[i], NULL), 0);
        sum += w[i].sum;
        mn = w[i].min < mn ? w[i].min : mn;
        mx = w[i].max > mx ? w[i].max : mx;
    }
    __atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(tt, NULL), 0);
    cw_hist_take(&s, h);
    cw_hist_merge(&t.total, &s);

    assert_int_equal(t.total.count, (apr_uint64_t)WRITERS * PER_WRITER);
    assert_int_equal(t.total.sum, sum);
    for (b = 0; b < CW_HIST_BUCKETS; ++b) {
        count += t.total.buckets[b];
    }
    assert_int_equal(count, t.total.count);
    /* the extremes are exact unless an add raced with a take; always in the right bucket */
    assert_int_equal(cw_hist_bucket(t.total.min), cw_hist_bucket(mn));
    assert_int_equal(cw_hist_bucket(t.total.max), cw_hist_bucket(mx));
    print_message("concurrent: %d snapshots with data while writing\n", t.takes_with_data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(exact_below_32), UNIT_TEST(bucket_bounds), UNIT_TEST(relative_error_sample),
        UNIT_TEST(top_clamp),      UNIT_TEST(empty),         UNIT_TEST(add_take),
        UNIT_TEST(merge),          UNIT_TEST(raced_fields),  UNIT_TEST(pairs),
        UNIT_TEST(quantiles),      UNIT_TEST(concurrent),
    };
    return UNIT_RUN("cw_hist", tests);
}
