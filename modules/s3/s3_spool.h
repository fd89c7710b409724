/* s3_spool — holds one S3 part (or a whole small object) between the client and S3.
 *
 * Bytes collect in memory up to a limit and, beyond it, all of them move to a temporary file
 * (deleted on close, closed by a cleanup of the spool's pool). A running digest gives each part
 * its checksum without a second pass, the one the S3 client asks for: SHA-256 where the payload
 * is signed (x-amz-content-sha256, checked by S3 against the bytes it gets), or CRC32 where it is
 * not (x-amz-checksum-crc32 over HTTPS, checked by S3 too, at a fraction of the CPU). Only the
 * digests asked for run; no Content-MD5 besides, which would cost more CPU than everything else
 * of an upload for no further protection. The spool can be read any number of times, so a part
 * can be re-sent when an attempt fails.
 * s3_spool_read() and s3_spool_rewind() have the shapes of aws_http_read_fn and
 * aws_http_rewind_fn, so a spool plugs straight into an aws_http request as its body source.
 *
 * Pure core: APR, OpenSSL, s3_crc32; no httpd. Not thread-safe: one spool belongs to one request.
 */
#ifndef S3_SPOOL_H
#define S3_SPOOL_H

#include <apr_file_io.h>
#include <apr_pools.h>

typedef struct s3_spool_t s3_spool_t;

/** The running digests a spool can keep (flags of s3_spool_create()). */
#define S3_SPOOL_SHA256 0x1 /* s3_spool_sha256() */
#define S3_SPOOL_CRC32  0x2 /* s3_spool_crc32() */

/**
 * Create an empty spool. Its memory buffer is allocated on the first write and grows up to
 * @p mem_limit; past that the bytes go to a file made with apr_file_mktemp() in @p tmp_dir.
 * Everything it holds (buffer, file, digest contexts) is released when @p p is cleaned up.
 * @param sp out, allocated from @p p
 * @param mem_limit bytes kept in memory at most; 0 sends everything to the file
 * @param tmp_dir directory of the temporary file; NULL for apr_temp_dir_get()'s
 * @param digests the running digests to keep: S3_SPOOL_SHA256 and/or S3_SPOOL_CRC32
 * @return APR_SUCCESS, APR_ENOMEM, or why the temporary directory cannot be found
 */
apr_status_t s3_spool_create(s3_spool_t **sp, apr_size_t mem_limit, const char *tmp_dir,
                             unsigned int digests, apr_pool_t *p);

/**
 * Append @p len bytes. The write that crosses the memory limit creates the file (or reuses the
 * one an earlier part made) and moves the buffered bytes there; reads in progress keep their
 * position.
 * @return APR_SUCCESS, APR_ENOMEM, or the file's error (the tmp dir is missing or not writable,
 *         the disk is full); after an error the spool's content is undefined until a reset
 */
apr_status_t s3_spool_write(s3_spool_t *sp, const char *data, apr_size_t len);

/** The bytes written since creation or the last reset. */
apr_off_t s3_spool_size(const s3_spool_t *sp);

/** Whether the bytes are in the temporary file rather than in memory. */
int s3_spool_on_disk(const s3_spool_t *sp);

/**
 * The SHA-256 of the bytes written so far, computed on a copy of the running context, so
 * writing may go on and the spool stays readable.
 * @param sha256_hex out, 64 lowercase hex digits, allocated from @p p
 * @return APR_SUCCESS; APR_EINVAL when the spool does not keep it (S3_SPOOL_SHA256);
 *         APR_EGENERAL when OpenSSL fails
 */
apr_status_t s3_spool_sha256(const s3_spool_t *sp, const char **sha256_hex, apr_pool_t *p);

/**
 * The CRC32 (s3_crc32) of the bytes written so far, as S3's checksum headers carry it
 * (s3_crc32_b64(): "y/Q5Jg==" for "123456789"). Writing may go on.
 * @param crc32_b64 out, 8 characters, allocated from @p p
 * @return APR_SUCCESS; APR_EINVAL when the spool does not keep it (S3_SPOOL_CRC32)
 */
apr_status_t s3_spool_crc32(const s3_spool_t *sp, const char **crc32_b64, apr_pool_t *p);

/**
 * Read the next bytes (an aws_http_read_fn): up to @p *len bytes into @p buf, @p *len set to the
 * number read, 0 only at the end. Reading starts at the first byte after creation, a reset or a
 * rewind.
 * @param spool the s3_spool_t
 * @return APR_SUCCESS, the file's read error, or APR_EGENERAL when the file has fewer bytes
 *         than were written (truncated by someone else)
 */
apr_status_t s3_spool_read(char *buf, apr_size_t *len, void *spool);

/**
 * Start reading from the first byte again (an aws_http_rewind_fn), for another attempt.
 * @param spool the s3_spool_t
 * @return APR_SUCCESS
 */
apr_status_t s3_spool_rewind(void *spool);

/**
 * Empty the spool for the next part: size 0, digests restarted, reading rewound, back in memory.
 * The memory buffer is kept, and so is the file, truncated, for the next part that needs it.
 * @return APR_SUCCESS, the file's error from truncating, or APR_EGENERAL when OpenSSL fails
 */
apr_status_t s3_spool_reset(s3_spool_t *sp);

#endif /* S3_SPOOL_H */
