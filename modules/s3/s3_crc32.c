/* s3_crc32 — CRC32 by carry-less multiplication where the CPU has it, zlib's otherwise (see
 * s3_crc32.h).
 *
 * The folding follows "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
 * Instruction" (V. Gopal, E. Ozturk et al., Intel, 2009), in its bit-reflected form, the one
 * that fits a CRC whose bits are taken least significant first. Its constants are derived in
 * the comments below; tests/unit/test_s3_crc32.c compares every length and alignment that
 * matters with zlib.
 *
 * Why not zlib's crc32() alone: Debian 12's zlib (1.2.13) computes it 8 bytes at a time, about
 * 3 GB/s here, and with it an upload through mod_s3 over TLS cost 2.38 times the CPU of curl
 * sending the same body (tests/bench/s3.sh; issue 15 asked for 2 at most); this path does 8 to
 * 12 GB/s and brought it to 1.98 (docs/benchmarks.md). zlib stays the reference and the
 * fallback on every other CPU.
 */
#include <apr_base64.h>
#include <zlib.h>

#include "s3_crc32.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define S3_CRC32_CLMUL 1
#include <immintrin.h>
#else
#define S3_CRC32_CLMUL 0
#endif

#if S3_CRC32_CLMUL

/* The constants, for P(x) = 0x104C11DB7. With K(n) = reflect32(x^n mod P(x)) << 1, a 33-bit
 * value: one carry-less multiplication by K(n) moves 64 bits n bits further along the message
 * (modulo P), so a 128-bit lane is folded onto the one n bits later by multiplying its two halves
 * by K(n + 32) and K(n - 32).
 * (Python: r = 1; n times: r <<= 1, r ^= P if r >> 32; then reverse the 32 bits, shift left 1.) */
#define K1 0x154442bd4ULL /* K(4*128 + 32): lane onto the lane 4 lanes (64 bytes) on */
#define K2 0x1c6e41596ULL /* K(4*128 - 32) */
#define K3 0x1751997d0ULL /* K(128 + 32): lane onto the next lane */
#define K4 0x0ccaa009eULL /* K(128 - 32) */
#define K5 0x163cd6124ULL /* K(64): 64 bits onto the last 32 */
#define P_ 0x1db710641ULL /* reflect33(P(x)) */
#define MU 0x1f7011641ULL /* reflect33(floor(x^64 / P(x))), for the Barrett reduction */

/* The bit-reflected CRC register (zlib's value inverted) after @p len bytes at @p p, starting
 * from @p crc. @p len is at least 64 and a multiple of 16. */
__attribute__((target("pclmul,sse4.1"))) static apr_uint32_t
clmul_fold(apr_uint32_t crc, const unsigned char *p, apr_size_t len)
{
    const __m128i k1k2 = _mm_set_epi64x((long long)K2, (long long)K1);
    const __m128i k3k4 = _mm_set_epi64x((long long)K4, (long long)K3);
    const __m128i k5 = _mm_set_epi64x(0, (long long)K5);
    const __m128i pmu = _mm_set_epi64x((long long)MU, (long long)P_);
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i a, b, c, d, t;

    /* Four lanes of 16 bytes; the register goes into the first message bits. */
    a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)crc));
    b = _mm_loadu_si128((const __m128i *)(p + 16));
    c = _mm_loadu_si128((const __m128i *)(p + 32));
    d = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64;
    len -= 64;

    /* Each lane onto the lane 64 bytes on, four independent chains. */
    for (; len >= 64; p += 64, len -= 64) {
        a = _mm_xor_si128(
            _mm_xor_si128(_mm_clmulepi64_si128(a, k1k2, 0x00), _mm_clmulepi64_si128(a, k1k2, 0x11)),
            _mm_loadu_si128((const __m128i *)p));
        b = _mm_xor_si128(
            _mm_xor_si128(_mm_clmulepi64_si128(b, k1k2, 0x00), _mm_clmulepi64_si128(b, k1k2, 0x11)),
            _mm_loadu_si128((const __m128i *)(p + 16)));
        c = _mm_xor_si128(
            _mm_xor_si128(_mm_clmulepi64_si128(c, k1k2, 0x00), _mm_clmulepi64_si128(c, k1k2, 0x11)),
            _mm_loadu_si128((const __m128i *)(p + 32)));
        d = _mm_xor_si128(
            _mm_xor_si128(_mm_clmulepi64_si128(d, k1k2, 0x00), _mm_clmulepi64_si128(d, k1k2, 0x11)),
            _mm_loadu_si128((const __m128i *)(p + 48)));
    }

    /* The four lanes into one, then 16 bytes at a time. */
#define FOLD16(x, next)                                                                            \
    _mm_xor_si128(                                                                                 \
        _mm_xor_si128(_mm_clmulepi64_si128(x, k3k4, 0x00), _mm_clmulepi64_si128(x, k3k4, 0x11)),   \
        next)
    a = FOLD16(a, b);
    a = FOLD16(a, c);
    a = FOLD16(a, d);
    for (; len >= 16; p += 16, len -= 16) {
        a = FOLD16(a, _mm_loadu_si128((const __m128i *)p));
    }
#undef FOLD16

    /* 128 bits to 64, to 32 (plus 32 zero bits), then Barrett: the remainder mod P. */
    a = _mm_xor_si128(_mm_srli_si128(a, 8), _mm_clmulepi64_si128(a, k3k4, 0x10));
    a = _mm_xor_si128(_mm_srli_si128(a, 4),
                      _mm_clmulepi64_si128(_mm_and_si128(a, low32), k5, 0x00));
    t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), pmu, 0x10), low32);
    a = _mm_xor_si128(a, _mm_clmulepi64_si128(t, pmu, 0x00));
    return (apr_uint32_t)_mm_extract_epi32(a, 1);
}

/* Whether this CPU can run clmul_fold(). (Reads what libgcc found at startup: no state here.) */
static int clmul_usable(void)
{
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

#endif /* S3_CRC32_CLMUL */

apr_uint32_t s3_crc32_update(apr_uint32_t crc, const void *buf, apr_size_t len)
{
    const unsigned char *p = buf;

#if S3_CRC32_CLMUL
    if (len >= 64 && clmul_usable()) {
        apr_size_t n = len & ~(apr_size_t)15;
        crc = ~clmul_fold(~crc, p, n);
        p += n;
        len -= n;
    }
#endif
    /* the rest (under 16 bytes after folding), or all of it; zlib counts in uInt */
    while (len) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (apr_uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
}

const char *s3_crc32_method(void)
{
#if S3_CRC32_CLMUL
    if (clmul_usable()) {
        return "pclmul";
    }
#endif
    return "zlib";
}

const char *s3_crc32_b64(apr_uint32_t crc, apr_pool_t *p)
{
    unsigned char be[4];
    char *b64 = apr_palloc(p, apr_base64_encode_len(sizeof(be)));

    be[0] = (unsigned char)(crc >> 24);
    be[1] = (unsigned char)(crc >> 16);
    be[2] = (unsigned char)(crc >> 8);
    be[3] = (unsigned char)crc;
    apr_base64_encode_binary(b64, be, sizeof(be));
    return b64;
}
