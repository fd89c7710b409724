/* cw_hist — the lock-free shared histogram (see cw_hist.h). */
#include "cw_hist.h"

/* Values from 2^CW_HIST_MAX_BITS on share the last bucket, which has no upper bound. */
#define TOP_BUCKET (CW_HIST_BUCKETS - 1)

int cw_hist_bucket(apr_uint64_t v)
{
    int msb, sub;

    if (v < 32) {
        return (int)v;
    }
    msb = 63 - __builtin_clzll(v);
    if (msb >= CW_HIST_MAX_BITS) {
        return TOP_BUCKET;
    }
    /* the 4 bits below the leading one pick one of the 16 sub-buckets of [2^msb, 2^(msb+1)) */
    sub = (int)((v >> (msb - 4)) & (CW_HIST_SUB - 1));
    return 32 + (msb - 5) * CW_HIST_SUB + sub;
}

/* The smallest value of bucket @p b. */
static apr_uint64_t bucket_lo(int b)
{
    int msb;

    if (b < 32) {
        return (apr_uint64_t)b;
    }
    msb = 5 + (b - 32) / CW_HIST_SUB;
    return ((apr_uint64_t)1 << msb) + (apr_uint64_t)((b - 32) % CW_HIST_SUB) * (1ULL << (msb - 4));
}

/* The largest value bucket @p b was made for (the top bucket also takes every larger one). */
static apr_uint64_t bucket_hi(int b)
{
    if (b < 32) {
        return (apr_uint64_t)b;
    }
    return bucket_lo(b) + (1ULL << (5 + (b - 32) / CW_HIST_SUB - 4)) - 1;
}

/* The value with the same relative error against @p lo and @p hi, (hi - lo) / (hi + lo): for a
 * bucket that is at most 1/33 (the harmonic mean of its bounds, where the arithmetic middle
 * would be off by up to 1/32 at the low end). */
static double middle(apr_uint64_t lo, apr_uint64_t hi)
{
    double l = (double)lo, h = (double)hi;

    if (lo >= hi) {
        return l;
    }
    return 2.0 * l * h / (l + h);
}

double cw_hist_value(int b)
{
    if (b < 0) {
        b = 0;
    }
    else if (b > TOP_BUCKET) {
        b = TOP_BUCKET;
    }
    return middle(bucket_lo(b), bucket_hi(b));
}

void cw_hist_add(cw_hist_t *h, apr_uint64_t v)
{
    apr_uint64_t inv = ~v, cur;

    /* The extremes and the sum go first and the bucket last: a snapshot that counts the value in
     * its buckets (taken first by cw_hist_take) then normally also holds its sum, min and max. */
    cur = __atomic_load_n(&h->min_inv, __ATOMIC_RELAXED);
    while (inv > cur
           && !__atomic_compare_exchange_n(&h->min_inv, &cur, inv, 1, __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED)) {
        /* cur was reloaded: try again while v is still the smaller */
    }
    cur = __atomic_load_n(&h->max, __ATOMIC_RELAXED);
    while (
        v > cur
        && !__atomic_compare_exchange_n(&h->max, &cur, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        /* cur was reloaded: try again while v is still the larger */
    }
    __atomic_fetch_add(&h->sum, v, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->buckets[cw_hist_bucket(v)], 1, __ATOMIC_RELAXED);
}

void cw_hist_take(cw_hist_snapshot_t *out, cw_hist_t *h)
{
    apr_uint64_t min_inv;
    int b, first = -1, last = -1;

    out->count = 0;
    for (b = 0; b < CW_HIST_BUCKETS; ++b) {
        out->buckets[b] = __atomic_exchange_n(&h->buckets[b], 0, __ATOMIC_ACQ_REL);
        if (out->buckets[b]) {
            out->count += out->buckets[b];
            if (first < 0) {
                first = b;
            }
            last = b;
        }
    }
    out->sum = __atomic_exchange_n(&h->sum, 0, __ATOMIC_ACQ_REL);
    min_inv = __atomic_exchange_n(&h->min_inv, 0, __ATOMIC_ACQ_REL);
    out->max = __atomic_exchange_n(&h->max, 0, __ATOMIC_ACQ_REL);
    if (!out->count) {
        out->min = out->max = 0;
        return;
    }
    /* A value added while the fields were being exchanged one by one can have its extremes in
     * another snapshot than its bucket (count and sum stay exact over all snapshots). Keep the
     * snapshot consistent with itself: the minimum in the first non-empty bucket and the
     * maximum in the last, which is where they are whenever no add raced with this take. */
    out->min = min_inv ? ~min_inv : bucket_lo(first);
    if (out->min < bucket_lo(first)) {
        out->min = bucket_lo(first);
    }
    else if (first != TOP_BUCKET && out->min > bucket_hi(first)) {
        out->min = bucket_hi(first);
    }
    if (out->max < bucket_lo(last)) {
        out->max = bucket_lo(last);
    }
    else if (last != TOP_BUCKET && out->max > bucket_hi(last)) {
        out->max = bucket_hi(last);
    }
    if (out->max < out->min) {
        out->max = out->min; /* one bucket, the maximum unknown */
    }
}

void cw_hist_merge(cw_hist_snapshot_t *into, const cw_hist_snapshot_t *from)
{
    int b;

    into->sum += from->sum;
    if (!from->count) {
        return;
    }
    if (!into->count) {
        into->min = from->min;
        into->max = from->max;
    }
    else {
        into->min = from->min < into->min ? from->min : into->min;
        into->max = from->max > into->max ? from->max : into->max;
    }
    into->count += from->count;
    for (b = 0; b < CW_HIST_BUCKETS; ++b) {
        into->buckets[b] += from->buckets[b];
    }
}

typedef struct pairs_t {
    double *values, *counts;
    double scale;
    int n;
} pairs_t;

/* Append (@p v * scale, @p c), adding to the last pair when the value is the same: CloudWatch
 * wants every value of a Values list once. Values come in non-decreasing order. */
static void pairs_push(pairs_t *ps, double v, apr_uint64_t c)
{
    double sv = v * ps->scale;

    if (!c) {
        return;
    }
    if (ps->n && ps->values[ps->n - 1] == sv) {
        ps->counts[ps->n - 1] += (double)c;
        return;
    }
    ps->values[ps->n] = sv;
    ps->counts[ps->n] = (double)c;
    ps->n++;
}

int cw_hist_pairs(double **values, double **counts, const cw_hist_snapshot_t *s, double scale,
                  apr_pool_t *p)
{
    pairs_t ps = {NULL, NULL, scale, 0};
    int b, first = -1, last = -1, nonempty = 0;

    *values = *counts = NULL;
    for (b = 0; b < CW_HIST_BUCKETS; ++b) {
        if (s->buckets[b]) {
            if (first < 0) {
                first = b;
            }
            last = b;
            nonempty++;
        }
    }
    if (!nonempty) {
        return 0;
    }
    /* the first and the last bucket can each give one more pair */
    ps.values = apr_palloc(p, sizeof(double) * (apr_size_t)(nonempty + 2));
    ps.counts = apr_palloc(p, sizeof(double) * (apr_size_t)(nonempty + 2));

    for (b = first; b <= last; ++b) {
        apr_uint64_t c = s->buckets[b], lo = bucket_lo(b), hi = bucket_hi(b);

        if (!c) {
            continue;
        }
        /* What is known of the samples in this bucket: the ends of the histogram are exact. The
         * samples left at the value of the bucket are stood for by the middle of that range, so
         * each is within 1/33 of its true value and so is the Sum CloudWatch computes. */
        if (b == first) {
            lo = s->min;
        }
        if (b == last) {
            hi = s->max;
        }
        if (hi < lo) {
            hi = lo; /* only from an inconsistent snapshot; keeps the values in order */
        }
        if (b == first) {
            pairs_push(&ps, (double)lo, 1);
            c--;
        }
        if (b == last && c) {
            pairs_push(&ps, middle(lo, hi), c - 1);
            pairs_push(&ps, (double)hi, 1);
        }
        else {
            pairs_push(&ps, middle(lo, hi), c);
        }
    }
    *values = ps.values;
    *counts = ps.counts;
    return ps.n;
}

double cw_hist_quantile(const cw_hist_snapshot_t *s, double q)
{
    apr_uint64_t rank, seen = 0;
    double v = 0;
    int b;

    if (!s->count) {
        return 0;
    }
    if (q <= 0) {
        rank = 1;
    }
    else if (q >= 1) {
        rank = s->count;
    }
    else {
        double r = q * (double)s->count;
        rank = (apr_uint64_t)r;
        if ((double)rank < r) {
            rank++;
        }
        if (rank < 1) {
            rank = 1;
        }
    }
    /* the first and the last sample are known exactly */
    if (rank == 1) {
        return (double)s->min;
    }
    if (rank >= s->count) {
        return (double)s->max;
    }
    for (b = 0; b < CW_HIST_BUCKETS; ++b) {
        seen += s->buckets[b];
        if (seen >= rank) {
            v = cw_hist_value(b);
            break;
        }
    }
    /* the exact extremes are better than a bucket's middle (and the top bucket has no end) */
    if (v < (double)s->min) {
        v = (double)s->min;
    }
    if (v > (double)s->max) {
        v = (double)s->max;
    }
    return v;
}
