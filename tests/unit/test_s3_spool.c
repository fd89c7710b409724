/* Unit tests of modules/s3/s3_spool.c: memory and file storage, digests against OpenSSL's and
 * zlib's one-shot digests, the CRC32 as S3's checksum headers carry it, only the digests asked
 * for, reading twice after a rewind, reset and reuse, the temporary file's lifetime, and an
 * unusable temporary directory. */
#include "unit.h"

#include <dirent.h>
#include <sys/stat.h>

#include <apr_base64.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "s3_crc32.h"
#include "s3_spool.h"

#define BOTH (S3_SPOOL_SHA256 | S3_SPOOL_CRC32)

/* Pseudo-random bytes, the same for the same seed. */
static char *make_bytes(apr_size_t n, apr_uint32_t seed, apr_pool_t *p)
{
    char *b = apr_palloc(p, n ? n : 1);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (char)(seed >> 16);
    }
    return b;
}

static void expect_digests(s3_spool_t *sp, const char *data, apr_size_t n, apr_pool_t *p)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen, i;
    char hex[65];
    const char *sha;

    assert_int_equal(s3_spool_sha256(sp, &sha, p), APR_SUCCESS);
    assert_true(EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL));
    for (i = 0; i < mdlen; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    assert_string_equal(sha, hex);
    {
        const char *crc;
        assert_int_equal(s3_spool_crc32(sp, &crc, p), APR_SUCCESS);
        assert_string_equal(crc,
                            s3_crc32_b64((apr_uint32_t)crc32(0, (const Bytef *)data, (uInt)n), p));
    }
}

/* Read everything back in reads of @p step bytes and compare. */
static void expect_content(s3_spool_t *sp, const char *data, apr_size_t n, apr_size_t step,
                           apr_pool_t *p)
{
    char *got = apr_palloc(p, n + step);
    apr_size_t off = 0, len;

    for (;;) {
        len = step;
        assert_int_equal(s3_spool_read(got + off, &len, sp), APR_SUCCESS);
        if (len == 0) {
            break;
        }
        assert_true(len <= step);
        off += len;
        assert_true(off <= n);
    }
    assert_int_equal(off, n);
    assert_memory_equal(got, data, n);
    len = step;
    assert_int_equal(s3_spool_read(got, &len, sp), APR_SUCCESS); /* the end stays the end */
    assert_int_equal(len, 0);
}

/* Write @p n bytes in writes of varying sizes, check size, place, digests and content. */
static void round_trip(apr_size_t n, apr_size_t mem_limit, int on_disk, apr_pool_t *p)
{
    s3_spool_t *sp;
    const char *data = make_bytes(n, (apr_uint32_t)n, p);
    apr_size_t off = 0, w = 1;

    assert_int_equal(s3_spool_create(&sp, mem_limit, "/tmp", BOTH, p), APR_SUCCESS);
    while (off < n) {
        apr_size_t k = w < n - off ? w : n - off;
        assert_int_equal(s3_spool_write(sp, data + off, k), APR_SUCCESS);
        off += k;
        w = w * 3 + 1;
    }
    assert_int_equal(s3_spool_size(sp), n);
    assert_int_equal(s3_spool_on_disk(sp), on_disk);
    expect_digests(sp, data, n, p);
    expect_content(sp, data, n, 1000, p);
    assert_int_equal(s3_spool_rewind(sp), APR_SUCCESS);
    expect_content(sp, data, n, 65536, p);
    assert_int_equal(s3_spool_rewind(sp), APR_SUCCESS);
    expect_content(sp, data, n, 7, p);
    /* reading did not disturb the digests */
    expect_digests(sp, data, n, p);
}

static void below_the_memory_limit(void **state)
{
    round_trip(0, 1000, 0, *state);
    round_trip(1, 1000, 0, *state);
    round_trip(1000, 1000, 0, *state);
    round_trip(200000, 300000, 0, *state); /* the buffer grew past its first size */
}

static void above_the_memory_limit(void **state)
{
    round_trip(1001, 1000, 1, *state);
    round_trip(300000, 100000, 1, *state);
    round_trip(10, 0, 1, *state);
}

static void digests_of_nothing(void **state)
{
    apr_pool_t *p = *state;
    s3_spool_t *sp;
    const char *sha;

    assert_int_equal(s3_spool_create(&sp, 10, NULL, BOTH, p), APR_SUCCESS);
    assert_int_equal(s3_spool_sha256(sp, &sha, p), APR_SUCCESS);
    assert_string_equal(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(s3_spool_crc32(sp, &sha, p), APR_SUCCESS);
    assert_string_equal(sha, "AAAAAA==");
}

/* The value of x-amz-checksum-crc32, from parts written in pieces, in memory and on disk. The
 * expected values are botocore's (httpchecksum.Crc32Checksum). */
static void crc32_as_s3_sends_it(void **state)
{
    apr_pool_t *p = *state;
    s3_spool_t *sp;
    const char *crc;

    assert_int_equal(s3_spool_create(&sp, 4, "/tmp", S3_SPOOL_CRC32, p), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, "1234", 4), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, "56789", 5), APR_SUCCESS); /* spilled to the file */
    assert_true(s3_spool_on_disk(sp));
    assert_int_equal(s3_spool_crc32(sp, &crc, p), APR_SUCCESS);
    assert_string_equal(crc, "y/Q5Jg=="); /* CRC32("123456789") = 0xCBF43926, the check value */
    assert_int_equal(s3_spool_reset(sp), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, "The quick brown fox jumps over the lazy dog", 43),
                     APR_SUCCESS);
    assert_int_equal(s3_spool_crc32(sp, &crc, p), APR_SUCCESS);
    assert_string_equal(crc, "QU+jOQ=="); /* 0x414FA339 */
}

/* A spool keeps only the digests it was asked for, and says so when asked for another. */
static void only_the_digests_asked_for(void **state)
{
    apr_pool_t *p = *state;
    s3_spool_t *sp;
    const char *out = NULL;

    assert_int_equal(s3_spool_create(&sp, 100, "/tmp", S3_SPOOL_CRC32, p), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, "abc", 3), APR_SUCCESS);
    assert_int_equal(s3_spool_sha256(sp, &out, p), APR_EINVAL);
    assert_null(out);
    assert_int_equal(s3_spool_crc32(sp, &out, p), APR_SUCCESS);
    assert_string_equal(out, "NSRBwg=="); /* 0x352441C2 */

    assert_int_equal(s3_spool_create(&sp, 100, "/tmp", S3_SPOOL_SHA256, p), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, "abc", 3), APR_SUCCESS);
    out = NULL;
    assert_int_equal(s3_spool_crc32(sp, &out, p), APR_EINVAL);
    assert_null(out);
    assert_int_equal(s3_spool_sha256(sp, &out, p), APR_SUCCESS);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(s3_spool_reset(sp), APR_SUCCESS);
    assert_int_equal(s3_spool_crc32(sp, &out, p), APR_EINVAL);
}

/* Writing goes on after a read started and after digests were taken; a spill keeps the read. */
static void write_read_interleaved(void **state)
{
    apr_pool_t *p = *state;
    s3_spool_t *sp;
    const char *data = make_bytes(5000, 42, p);
    char buf[100];
    apr_size_t len = 100;

    assert_int_equal(s3_spool_create(&sp, 3000, "/tmp", BOTH, p), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, data, 2000), APR_SUCCESS);
    expect_digests(sp, data, 2000, p);
    assert_int_equal(s3_spool_read(buf, &len, sp), APR_SUCCESS);
    assert_int_equal(len, 100);
    assert_memory_equal(buf, data, 100);
    assert_int_equal(s3_spool_write(sp, data + 2000, 2000), APR_SUCCESS); /* spills */
    assert_true(s3_spool_on_disk(sp));
    len = 100;
    assert_int_equal(s3_spool_read(buf, &len, sp), APR_SUCCESS);
    assert_int_equal(len, 100);
    assert_memory_equal(buf, data + 100, 100);
    assert_int_equal(s3_spool_write(sp, data + 4000, 1000), APR_SUCCESS);
    len = 100;
    assert_int_equal(s3_spool_read(buf, &len, sp), APR_SUCCESS);
    assert_memory_equal(buf, data + 200, 100);
    assert_int_equal(s3_spool_rewind(sp), APR_SUCCESS);
    expect_content(sp, data, 5000, 333, p);
    expect_digests(sp, data, 5000, p);
}

static void reset_and_reuse(void **state)
{
    apr_pool_t *p = *state;
    s3_spool_t *sp;
    const char *big = make_bytes(50000, 1, p), *small = make_bytes(500, 2, p);
    const char *big2 = make_bytes(30000, 3, p);

    assert_int_equal(s3_spool_create(&sp, 10000, "/tmp", BOTH, p), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, big, 50000), APR_SUCCESS);
    assert_true(s3_spool_on_disk(sp));
    expect_content(sp, big, 50000, 4096, p);

    /* a small part after a big one: back in memory */
    assert_int_equal(s3_spool_reset(sp), APR_SUCCESS);
    assert_int_equal(s3_spool_size(sp), 0);
    assert_false(s3_spool_on_disk(sp));
    expect_digests(sp, "", 0, p);
    assert_int_equal(s3_spool_write(sp, small, 500), APR_SUCCESS);
    assert_false(s3_spool_on_disk(sp));
    expect_content(sp, small, 500, 4096, p);
    expect_digests(sp, small, 500, p);

    /* a shorter big part reuses the truncated file: no bytes of the first one remain */
    assert_int_equal(s3_spool_reset(sp), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, big2, 30000), APR_SUCCESS);
    assert_true(s3_spool_on_disk(sp));
    assert_int_equal(s3_spool_size(sp), 30000);
    expect_content(sp, big2, 30000, 4096, p);
    assert_int_equal(s3_spool_rewind(sp), APR_SUCCESS);
    expect_content(sp, big2, 30000, 100000, p);
    expect_digests(sp, big2, 30000, p);

    /* reset in the middle of a read */
    assert_int_equal(s3_spool_rewind(sp), APR_SUCCESS);
    {
        char buf[10];
        apr_size_t len = sizeof(buf);
        assert_int_equal(s3_spool_read(buf, &len, sp), APR_SUCCESS);
    }
    assert_int_equal(s3_spool_reset(sp), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, big, 50000), APR_SUCCESS);
    expect_content(sp, big, 50000, 65536, p);
    expect_digests(sp, big, 50000, p);
}

/* The files in @p dir. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void temp_file_gone_after_pool_destroy(void **state)
{
    apr_pool_t *p = *state, *sub;
    char *dir = apr_pstrdup(p, "/tmp/lf-unit-spool-XXXXXX");
    s3_spool_t *sp;
    const char *data = make_bytes(100, 9, p);

    assert_non_null(mkdtemp(dir));
    apr_pool_create(&sub, p);
    assert_int_equal(s3_spool_create(&sp, 10, dir, BOTH, sub), APR_SUCCESS);
    assert_int_equal(count_files(dir), 0); /* the file is made when needed */
    assert_int_equal(s3_spool_write(sp, data, 100), APR_SUCCESS);
    assert_int_equal(count_files(dir), 1);
    assert_int_equal(s3_spool_reset(sp), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, data, 100), APR_SUCCESS);
    assert_int_equal(count_files(dir), 1); /* reused, not another one */
    apr_pool_destroy(sub);
    assert_int_equal(count_files(dir), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void unusable_tmp_dir(void **state)
{
    apr_pool_t *p = *state;
    s3_spool_t *sp;
    const char *file = unit_write_temp(p, "not a directory");
    char buf[10];
    apr_size_t len = sizeof(buf);

    /* the directory is used only when the memory is full: creating succeeds */
    assert_int_equal(s3_spool_create(&sp, 4, "/nonexistent/lf-unit", BOTH, p), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, "abcd", 4), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, "e", 1), APR_ENOENT);
    assert_false(s3_spool_on_disk(sp));
    /* what was in memory is still there */
    assert_int_equal(s3_spool_read(buf, &len, sp), APR_SUCCESS);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "abcd", 4);

    assert_int_equal(s3_spool_create(&sp, 0, file, BOTH, p), APR_SUCCESS);
    assert_int_equal(s3_spool_write(sp, "a", 1), APR_ENOTDIR);
    unlink(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(below_the_memory_limit),
        UNIT_TEST(above_the_memory_limit),
        UNIT_TEST(digests_of_nothing),
        UNIT_TEST(write_read_interleaved),
        UNIT_TEST(reset_and_reuse),
        UNIT_TEST(temp_file_gone_after_pool_destroy),
        UNIT_TEST(unusable_tmp_dir),
        UNIT_TEST(crc32_as_s3_sends_it),
        UNIT_TEST(only_the_digests_asked_for),
    };
    return UNIT_RUN("s3_spool", tests);
}
