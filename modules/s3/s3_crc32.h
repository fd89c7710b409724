/* s3_crc32 — the CRC32 that S3 calls CRC32 (zlib's, the IEEE 802.3 polynomial), computed fast,
 * and written as S3's checksum headers carry it.
 *
 * Uploads over HTTPS are checked by S3 against a CRC32 of each part (x-amz-checksum-crc32), so
 * every byte uploaded goes through it once, while it is spooled. zlib computes it at about
 * 3 GB/s; on x86-64 CPUs with carry-less multiplication (PCLMULQDQ, every x86-64 server CPU since
 * 2010) it is folded 64 bytes at a time at several times that. Elsewhere zlib computes it.
 * Either way the result is zlib's crc32(), bit for bit.
 *
 * Pure core: APR and zlib, no httpd. Thread-safe: no state.
 */
#ifndef S3_CRC32_H
#define S3_CRC32_H

#include <apr_pools.h>

/**
 * Continue the CRC32 @p crc (0 to start) over @p len bytes at @p buf, as zlib's
 * crc32(crc, buf, len) does.
 * @return the CRC32 of everything so far
 */
apr_uint32_t s3_crc32_update(apr_uint32_t crc, const void *buf, apr_size_t len);

/** "pclmul" or "zlib": how s3_crc32_update() computes on this CPU (for tests and logs). */
const char *s3_crc32_method(void);

/**
 * @p crc as S3's checksum headers and ChecksumCRC32 elements carry it: base64 of its 4 bytes,
 * most significant first ("y/Q5Jg==" for the CRC32 of "123456789", 0xCBF43926).
 * @return 8 characters, allocated from @p p
 */
const char *s3_crc32_b64(apr_uint32_t crc, apr_pool_t *p);

#endif /* S3_CRC32_H */
