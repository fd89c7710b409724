/* Unit tests of modules/s3/s3_crc32.c: the CRC32 is zlib's, bit for bit, for every length
 * around the folding's steps (64-byte blocks, 16-byte lanes, the tail under 16 bytes), at every
 * alignment, continued over pieces of any size, and for a part of S3's sizes; its base64 form is
 * botocore's. On a CPU with PCLMULQDQ this tests the folding, elsewhere zlib against itself. */
#include "unit.h"

#include <zlib.h>

#include "s3_crc32.h"

/* Pseudo-random bytes, the same for the same seed. */
static unsigned char *make_bytes(apr_size_t n, apr_uint32_t seed, apr_pool_t *p)
{
    unsigned char *b = apr_palloc(p, n ? n : 1);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (unsigned char)(seed >> 16);
    }
    return b;
}

static apr_uint32_t zlib_crc(apr_uint32_t crc, const unsigned char *b, apr_size_t n)
{
    return (apr_uint32_t)crc32(crc, b, (uInt)n);
}

static void check_values(void **state)
{
    apr_pool_t *p = *state;
    unsigned char zeros[256];

    print_message("s3_crc32 computes with %s\n", s3_crc32_method());
    assert_int_equal(s3_crc32_update(0, "", 0), 0);
    assert_int_equal(s3_crc32_update(0, "123456789", 9), 0xCBF43926u); /* the check value */
    assert_int_equal(s3_crc32_update(0, "The quick brown fox jumps over the lazy dog", 43),
                     0x414FA339u);
    memset(zeros, 0, sizeof(zeros));
    assert_int_equal(s3_crc32_update(0, zeros, sizeof(zeros)), zlib_crc(0, zeros, sizeof(zeros)));
    memset(zeros, 0xff, sizeof(zeros));
    assert_int_equal(s3_crc32_update(0, zeros, sizeof(zeros)), zlib_crc(0, zeros, sizeof(zeros)));
    (void)p;
}

/* Every length from 0 to 1100 (0 to 17 blocks of 64, every tail), at each of 16 alignments,
 * from a fresh start and continued from another CRC. */
static void every_length_and_alignment(void **state)
{
    apr_pool_t *p = *state;
    const unsigned char *data = make_bytes(1100 + 16, 7, p);
    apr_size_t n, off;

    for (off = 0; off < 16; ++off) {
        for (n = 0; n <= 1100; ++n) {
            const unsigned char *b = data + off;
            if (s3_crc32_update(0, b, n) != zlib_crc(0, b, n)
                || s3_crc32_update(0xDEADBEEFu, b, n) != zlib_crc(0xDEADBEEFu, b, n)) {
                fail_msg("CRC32 differs from zlib's at length %lu, offset %lu", (unsigned long)n,
                         (unsigned long)off);
            }
        }
    }
}

/* An S3 part's worth (5 MiB and a bit) in one call, and in uneven pieces as a spool gets them. */
static void a_part_in_pieces(void **state)
{
    apr_pool_t *p = *state;
    apr_size_t n = (5u << 20) + 12345, off = 0, step = 1;
    const unsigned char *data = make_bytes(n, 42, p);
    apr_uint32_t want = zlib_crc(0, data, n), crc = 0;

    assert_int_equal(s3_crc32_update(0, data, n), want);
    while (off < n) {
        apr_size_t k = step < n - off ? step : n - off;
        crc = s3_crc32_update(crc, data + off, k);
        off += k;
        step = step * 3 + 1; /* 1, 4, 13, 40, ... past 64 KiB reads */
        if (step > 300000) {
            step = 17;
        }
    }
    assert_int_equal(crc, want);
}

/* x-amz-checksum-crc32: base64 of the 4 bytes, most significant first (botocore's
 * httpchecksum.Crc32Checksum gives the same). */
static void base64_as_s3_wants_it(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(s3_crc32_b64(0xCBF43926u, p), "y/Q5Jg==");
    assert_string_equal(s3_crc32_b64(0x414FA339u, p), "QU+jOQ==");
    assert_string_equal(s3_crc32_b64(0, p), "AAAAAA==");
    assert_string_equal(s3_crc32_b64(0xFFFFFFFFu, p), "/////w==");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(check_values),
        UNIT_TEST(every_length_and_alignment),
        UNIT_TEST(a_part_in_pieces),
        UNIT_TEST(base64_as_s3_wants_it),
    };
    return UNIT_RUN("s3_crc32", tests);
}
