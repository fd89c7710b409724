/* s3_form — a streaming multipart/form-data parser (RFC 7578 on RFC 2046), for uploads that a
 * browser POSTs and mod_s3 streams on to S3.
 *
 * Push API: the caller feeds the request body in chunks of any size and gets a callback per part
 * and per run of part data, as the data arrives. Memory stays bounded: one part's header block
 * (limited) and at most the length of a delimiter held back because it might start one; a part
 * is never collected whole.
 *
 * What it accepts, and why:
 *  - lines end in CRLF, as RFC 2046 and every browser send them. Bodies with bare-LF line ends
 *    are rejected (at the first delimiter line) rather than tolerated: recognising "\n--boundary"
 *    as a delimiter would cut binary files that happen to hold it, and a body that mixes both
 *    would be read differently from how it was meant;
 *  - the first delimiter may open the body or follow a preamble; preamble and epilogue are
 *    ignored; transport padding (spaces, tabs) after a delimiter is allowed;
 *  - each part needs "Content-Disposition: form-data; name=..."; "filename*=UTF-8''..." (or
 *    ISO-8859-1, RFC 5987) wins over "filename="; header names are case-insensitive; folded
 *    header lines are rejected; other headers are ignored.
 *
 * Pure core: APR only, no httpd.
 */
#ifndef S3_FORM_H
#define S3_FORM_H

#include <apr_pools.h>

typedef struct s3_form_parser_t s3_form_parser_t;

/**
 * What a parser calls; all three are required. The strings passed to part_begin stay valid until
 * the part's part_end (they live in a pool the parser clears per part). part_data gets at least
 * one byte per call. part_end is called only for a part that was closed by a well-formed
 * delimiter line: a body that breaks off inside a part never ends it. Any status but APR_SUCCESS
 * stops the parser, and that status is returned from s3_form_parser_feed() (now and later) and
 * from s3_form_parser_finish().
 */
typedef struct s3_form_callbacks_t {
    apr_status_t (*part_begin)(void *baton, const char *name,
                               const char *filename,      /* NULL: not a file field */
                               const char *content_type); /* NULL if none given */
    apr_status_t (*part_data)(void *baton, const char *data, apr_size_t len);
    apr_status_t (*part_end)(void *baton);
} s3_form_callbacks_t;

/** Limits against hostile bodies; a zero field takes its default. */
typedef struct s3_form_limits_t {
    apr_size_t max_header; /* bytes of one part's header block, CRLFs included; default 8 KiB */
    int max_parts;         /* parts in the body; default 64 */
} s3_form_limits_t;

#define S3_FORM_DEFAULT_MAX_HEADER (8 * 1024)
#define S3_FORM_DEFAULT_MAX_PARTS  64

/**
 * Create a parser for a body sent with the request header @p content_type_header, which must be
 * "multipart/form-data" with a boundary parameter (quoted or not, 1 to 70 characters of RFC 2046).
 * @param parser out, allocated from @p p, which also holds the header buffer and a per-part pool
 * @param why out: on APR_EINVAL, a static message ("not multipart/form-data",
 *        "multipart/form-data without a boundary", "multipart/form-data with an invalid
 *        boundary")
 * @param cb the callbacks, kept by reference (must live as long as the parser)
 * @param limits NULL for the defaults; copied
 * @return APR_SUCCESS or APR_EINVAL
 */
apr_status_t s3_form_parser_create(s3_form_parser_t **parser, const char **why,
                                   const char *content_type_header, const s3_form_callbacks_t *cb,
                                   void *baton, const s3_form_limits_t *limits, apr_pool_t *p);

/**
 * Feed the next @p len bytes of the body; chunking makes no difference to the callbacks' results.
 * @return APR_SUCCESS; APR_EINVAL when the body is malformed or over a limit
 *         (s3_form_parser_error() says why); or what a callback returned to stop the parser.
 *         Once a feed failed, every later call returns the same status.
 */
apr_status_t s3_form_parser_feed(s3_form_parser_t *parser, const char *data, apr_size_t len);

/**
 * The body has ended.
 * @return APR_SUCCESS when the closing delimiter was seen; APR_EINVAL ("truncated body: no
 *         closing boundary") when not; or the status of an earlier failure.
 */
apr_status_t s3_form_parser_finish(s3_form_parser_t *parser);

/**
 * Why the parser failed: a static message for the last APR_EINVAL ("part without
 * Content-Disposition", "part header too long", "too many parts", ...), "stopped by a callback"
 * when a callback stopped it, NULL while it has not failed.
 */
const char *s3_form_parser_error(const s3_form_parser_t *parser);

#endif /* S3_FORM_H */
