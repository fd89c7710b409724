/* cw_hist — a latency (or size) histogram that many processes update at once, lock-free.
 *
 * Logarithmic buckets in the style of HdrHistogram: values below 32 each have their own bucket;
 * above, every power of two is cut into 16 equal sub-buckets, so a bucket spans at most 1/16 of
 * its lower bound and its middle (the harmonic mean of its ends, where the arithmetic mean would
 * be off by up to 1/32) is within 1/33 (3.1%) of any value in it: the relative error
 * of a percentile computed from the buckets is at most CW_HIST_REL_ERROR. Values from
 * 2^CW_HIST_MAX_BITS on are counted in the last bucket (with their exact value in sum and max).
 *
 * A cw_hist_t is plain memory meant for shared memory: cw_hist_add() updates it with __atomic
 * built-ins (no lock, no system call), cw_hist_take() moves its contents into a private snapshot
 * and zeroes it, field by field with atomic exchanges, so a value added meanwhile is counted in
 * exactly one snapshot. The sample count of a snapshot is the sum of its buckets, so count and
 * buckets always agree.
 * Pure core: APR only.
 */
#ifndef CW_HIST_H
#define CW_HIST_H

#include <apr.h>
#include <apr_pools.h>

/** Sub-buckets per power of two. */
#define CW_HIST_SUB 16
/** Values up to 2^CW_HIST_MAX_BITS - 1 have their own buckets (2^36 us is 19 hours). */
#define CW_HIST_MAX_BITS 36
/** Buckets: 32 exact ones, then CW_HIST_SUB per power of two from 2^5 to 2^(MAX_BITS-1). */
#define CW_HIST_BUCKETS (32 + (CW_HIST_MAX_BITS - 5) * CW_HIST_SUB)
/** The relative error of a bucket's value against any value in it that callers may count on (it
 * is at most 1/33 by construction; 5% is what the module documents). */
#define CW_HIST_REL_ERROR 0.05

/** The shared histogram. All zero is an empty histogram (min is kept as ~min). */
typedef struct cw_hist_t {
    apr_uint64_t sum;     /* of the values added */
    apr_uint64_t min_inv; /* ~min: so that zeroed memory means "no minimum yet" */
    apr_uint64_t max;
    apr_uint64_t buckets[CW_HIST_BUCKETS];
} cw_hist_t;

/** A private copy, as cw_hist_take() leaves it. */
typedef struct cw_hist_snapshot_t {
    apr_uint64_t count; /* sum of the buckets */
    apr_uint64_t sum;
    apr_uint64_t min; /* 0 when count is 0 */
    apr_uint64_t max;
    apr_uint64_t buckets[CW_HIST_BUCKETS];
} cw_hist_snapshot_t;

/** The bucket of @p v. */
int cw_hist_bucket(apr_uint64_t v);

/** The value that stands for bucket @p b: its middle (the value itself below 32). */
double cw_hist_value(int b);

/** Count @p v in @p h (atomic, lock-free; safe from any thread of any process). */
void cw_hist_add(cw_hist_t *h, apr_uint64_t v);

/**
 * Move the contents of @p h into @p out and leave @p h empty (atomic exchanges). The counts and
 * sums of successive snapshots add up exactly to what was added; when an add races with the
 * take, its min or max can land in the other snapshot, so min and max are then kept within the
 * first and last non-empty buckets of @p out (and a snapshot with count 0 can have a sum).
 */
void cw_hist_take(cw_hist_snapshot_t *out, cw_hist_t *h);

/** Add snapshot @p from into @p into (to merge intervals or groups). */
void cw_hist_merge(cw_hist_snapshot_t *into, const cw_hist_snapshot_t *from);

/**
 * The non-empty buckets of @p s as CloudWatch Values/Counts pairs, lowest first, every value
 * once. The exact minimum and maximum are pairs of their own (count 1) and the other samples of
 * the first and last buckets stand at the middle of [min, bucket end] and [bucket start, max],
 * so the SampleCount, Minimum and Maximum that CloudWatch computes from the pairs are exact and
 * every sample is within 1/33 of its true value, hence so is Sum (unless values reached the top
 * bucket, which has no upper end). So there are at most (non-empty buckets + 2) pairs.
 * @param values out: the values, allocated from @p p (NULL when there are none)
 * @param counts out: the counts, allocated from @p p (NULL when there are none)
 * @param scale multiplies every value, the exact minimum and maximum included: 1 to publish as
 *        counted, 0.001 to publish microseconds as milliseconds
 * @return the number of pairs (0 for an empty snapshot)
 */
int cw_hist_pairs(double **values, double **counts, const cw_hist_snapshot_t *s, double scale,
                  apr_pool_t *p);

/**
 * The @p q quantile (0..1) of @p s from its buckets (the value of the bucket that holds the
 * sample of rank ceil(q * count), kept within [min, max]; the exact min for rank 1 and max for
 * the last); 0 for an empty snapshot.
 * For the status page and tests.
 */
double cw_hist_quantile(const cw_hist_snapshot_t *s, double q);

#endif /* CW_HIST_H */
