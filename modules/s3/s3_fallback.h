/* s3_fallback — the old upload directory a location falls back to while its files move to S3
 * (S3FallbackDirectory): which file a key names there, opened so that nothing outside the
 * directory, no hidden file and no symbolic link can be served; and the bounded queue of the
 * copies into S3 (S3FallbackCopy) that holds each key once.
 * Pure core: APR only.
 */
#ifndef S3_FALLBACK_H
#define S3_FALLBACK_H

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_pools.h>

/**
 * The path below the fallback directory of @p key: the key without the location's @p prefix.
 * Refused (beyond what s3_key_from_path() refuses already): a key outside @p prefix, an empty
 * path or segment ("a//b", "a/": the file system would merge or drop it), a segment that is "."
 * or ".." or starts with '.' (hidden files: .htaccess, .git, .env), a backslash.
 * @param rel out: a pointer into @p key
 * @param why out on APR_NOTFOUND: why the key names no file, a static message for logs
 * @return APR_SUCCESS, or APR_NOTFOUND
 */
apr_status_t s3_fallback_path(const char **rel, const char **why, const char *key,
                              const char *prefix);

/**
 * Open the regular file @p rel below @p dir for reading, one segment at a time without following
 * a symbolic link (O_NOFOLLOW on every segment), so that neither a link nor a rename while it is
 * opened can lead out of @p dir. @p dir itself may be reached through links (it is configured).
 * @param file out: the open file, closed by a cleanup of @p p
 * @param finfo out: its information (fstat of the open file), finfo->fname = the path
 * @param why out on failure: what is wrong, static or from @p p, for logs
 * @param dir the fallback directory, absolute
 * @param rel a path from s3_fallback_path()
 * @return APR_SUCCESS; APR_NOTFOUND (missing, a link, not a regular file, a directory on the way
 *         that is not one), APR_EACCES (not readable by this process), or another open error
 */
apr_status_t s3_fallback_open(apr_file_t **file, apr_finfo_t *finfo, const char **why,
                              const char *dir, const char *rel, apr_pool_t *p);

/* --- the copies to S3 (S3FallbackCopy) ----------------------------------------------------- */

/** A file to copy into S3: what a background thread needs, copied into the queue's memory. */
typedef struct s3_fallback_copy_t {
    const char *key;  /* the object's key */
    const char *dir;  /* the fallback directory */
    const char *rel;  /* the file below it (s3_fallback_path()) */
    const char *type; /* the Content-Type it was served with, or NULL */
    /* not copied: they live as long as the configuration */
    void *target;         /* the caller's: where to store it (mod_s3: the section's runtime) */
    apr_off_t part_size;  /* S3PartSize of the section */
    const char *temp_dir; /* S3TempDir of the section, or NULL */
} s3_fallback_copy_t;

/** A bounded queue of copies, with the set of keys queued or being copied (thread-safe). */
typedef struct s3_fallback_queue_t s3_fallback_queue_t;

/**
 * A queue of at most @p capacity copies (queued or being copied), allocated from @p p (its
 * entries are malloc'd and freed as they end: @p p does not grow).
 */
apr_status_t s3_fallback_queue_create(s3_fallback_queue_t **q, int capacity, apr_pool_t *p);

/**
 * Queue a copy of @p c (copied).
 * @return APR_SUCCESS; APR_EEXIST when the key is queued or being copied already (one copy per
 *         key); APR_ENOSPC when the queue is full (the copy is skipped: a later request for the
 *         key queues it again)
 */
apr_status_t s3_fallback_queue_push(s3_fallback_queue_t *q, const s3_fallback_copy_t *c);

/**
 * Take the oldest queued copy; its key stays in the set until s3_fallback_queue_done().
 * @param c out: valid until s3_fallback_queue_done(@p c)
 * @return 1, or 0 when nothing is queued
 */
int s3_fallback_queue_pop(s3_fallback_queue_t *q, s3_fallback_copy_t **c);

/** The copy @p c (from s3_fallback_queue_pop()) ended: its key may be queued again. */
void s3_fallback_queue_done(s3_fallback_queue_t *q, s3_fallback_copy_t *c);

#endif /* S3_FALLBACK_H */
