/* cw_put — CloudWatch PutMetricData request bodies (Query protocol, Version 2010-08-01).
 *
 * Turns a list of datums into one or more application/x-www-form-urlencoded bodies within
 * CloudWatch's limits: at most CW_PUT_MAX_DATUMS datums and max_bytes bytes per request (the
 * service takes 1000 and 1 MB), at most CW_PUT_MAX_PAIRS Values/Counts pairs per datum (a
 * histogram with more non-empty buckets becomes several datums of the same metric, which
 * CloudWatch adds up exactly), at most CW_PUT_MAX_DIMENSIONS dimensions. Bodies larger than a
 * threshold can be gzip-compressed (Content-Encoding: gzip; the signature covers the compressed
 * bytes). Also the checks of names against CloudWatch's rules, for startup.
 * Pure core: APR, APR-util, zlib.
 */
#ifndef CW_PUT_H
#define CW_PUT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define CW_PUT_MAX_DATUMS     1000
#define CW_PUT_MAX_BYTES      (1000 * 1000)
#define CW_PUT_MAX_PAIRS      150
#define CW_PUT_MAX_DIMENSIONS 30
/** Longest namespace, metric name, dimension name or value (characters). */
#define CW_PUT_MAX_NAME 255

typedef struct cw_dimension_t {
    const char *name;
    const char *value;
} cw_dimension_t;

typedef enum {
    CW_DATUM_VALUE = 0, /* one Value */
    CW_DATUM_STATS,     /* StatisticValues: count, sum, min, max */
    CW_DATUM_PAIRS,     /* Values/Counts (a histogram) */
} cw_datum_kind_e;

/** One metric of one interval. Strings and arrays are borrowed, not copied. */
typedef struct cw_datum_t {
    const char *name;
    const char *unit;                 /* "Microseconds", "Count", "Bytes", "Percent", ... */
    const cw_dimension_t *dimensions; /* may be NULL when ndims is 0 */
    int ndims;
    cw_datum_kind_e kind;
    double value;                  /* CW_DATUM_VALUE */
    double count, sum, min, max;   /* CW_DATUM_STATS */
    const double *values, *counts; /* CW_DATUM_PAIRS */
    int npairs;                    /* CW_DATUM_PAIRS; 0: the datum is left out */
    apr_time_t timestamp;          /* 0: none (CloudWatch takes the time of receipt) */
    int storage_resolution;        /* 1 or 60; 0: not sent (60) */
} cw_datum_t;

/** A request body. */
typedef struct cw_put_body_t {
    const char *data;
    apr_size_t len;
    int datums; /* datums in it, after splitting histograms */
    int gzip;   /* data is gzip-compressed: send Content-Encoding: gzip */
} cw_put_body_t;

/**
 * The PutMetricData bodies that carry @p n datums into @p ns.
 * Values are written with up to 15 significant digits ("1234", "0.001", "2.5e-7"), whatever the
 * locale; magnitudes below 1e-100 as 0. A datum whose kind is CW_DATUM_PAIRS and npairs 0 is
 * left out; one with more than CW_PUT_MAX_PAIRS pairs becomes several datums with the same name,
 * unit, dimensions and timestamp.
 * @param bodies out: cw_put_body_t, allocated from @p p, in the order of the datums
 * @param max_bytes the largest body before compression (0: CW_PUT_MAX_BYTES)
 * @param gzip_over compress a body larger than this many bytes (0: never)
 * @return APR_SUCCESS; APR_EINVAL when a single datum does not fit in max_bytes, has more than
 *         CW_PUT_MAX_DIMENSIONS dimensions or a value CloudWatch rejects (NaN, infinite, beyond
 *         1e108 in magnitude); APR_EGENERAL when zlib fails
 */
apr_status_t cw_put_bodies(apr_array_header_t **bodies, const char *ns, const cw_datum_t *d, int n,
                           apr_size_t max_bytes, apr_size_t gzip_over, apr_pool_t *p);

/**
 * gzip-compress @p len bytes at @p in (RFC 1952, what Content-Encoding: gzip means).
 * @param out out: allocated from @p p
 * @param out_len out: the length of @p out
 * @return APR_SUCCESS, or APR_EGENERAL when zlib fails
 */
apr_status_t cw_put_gzip(const char **out, apr_size_t *out_len, const char *in, apr_size_t len,
                         apr_pool_t *p);

/**
 * Whether @p ns is a namespace CloudWatch accepts for custom metrics: 1 to 255 characters of
 * letters, digits and ". - _ / # : " and space, not only spaces, not starting with ":" or
 * "AWS/".
 * @return NULL when it is, else what is wrong (allocated from @p p)
 */
const char *cw_put_check_namespace(const char *ns, apr_pool_t *p);

/**
 * Whether @p s is a metric name, dimension name or dimension value CloudWatch accepts:
 * 1 to 255 characters, printable ASCII, not only spaces; a dimension name does not start with
 * ":" (the rule applies when @p what is "dimension name").
 * @param what what it is, for the message ("metric name", "dimension name", "dimension value")
 * @return NULL when it is, else what is wrong (allocated from @p p)
 */
const char *cw_put_check_name(const char *s, const char *what, apr_pool_t *p);

#endif /* CW_PUT_H */
