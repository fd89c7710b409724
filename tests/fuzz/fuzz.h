/* fuzz.h — what every fuzz target (tests/fuzz/fuzz_<x>.c) includes: the libFuzzer entry points,
 * a pool per input, a cursor that carves the input into the arguments of the code under test,
 * and FUZZ_CHECK for the properties a target asserts.
 *
 * A target is built twice (tests/fuzz/fuzz.mk): with clang and libFuzzer, ASan and UBSan into
 * build/fuzz/ for `make fuzz`, and with the project's compiler and flags, linked with replay.c,
 * into build/fuzz-replay/, which `make unit` runs over the regression inputs and the corpus.
 * So this header and the targets are plain C that both compilers take without warnings.
 */
#ifndef LF_FUZZ_H
#define LF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

/* libFuzzer's entry points (replay.c calls them the same way). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property of the code under test does not hold: report where, and crash so that libFuzzer
 * keeps the input (and the replay fails). */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A pool for one input, a child of a process-wide pool made at the first call; the target
 * destroys it before it returns, so that ASan sees what outlives it (pool_asan.c). */
static inline apr_pool_t *fuzz_pool(void)
{
    static apr_pool_t *root;
    apr_pool_t *p;

    if (!root) {
        if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS) {
            abort();
        }
    }
    if (apr_pool_create(&p, root) != APR_SUCCESS) {
        abort();
    }
    return p;
}

/* The part of the input not taken yet. */
typedef struct fuzz_in_t {
    const uint8_t *data;
    size_t len;
} fuzz_in_t;

/* The next byte, 0 once the input is used up. */
static inline unsigned fuzz_byte(fuzz_in_t *in)
{
    unsigned b = 0;

    if (in->len) {
        b = in->data[0];
        in->data++;
        in->len--;
    }
    return b;
}

/* The bytes up to the next @p sep (which is taken and dropped) or the end, NUL-terminated,
 * from @p p; @p len (may be NULL) says how many. */
static inline char *fuzz_until(fuzz_in_t *in, int sep, size_t *len, apr_pool_t *p)
{
    const uint8_t *end = memchr(in->data, sep, in->len);
    size_t n = end ? (size_t)(end - in->data) : in->len;
    char *s = apr_pstrmemdup(p, (const char *)in->data, n);

    in->data += n + (end ? 1 : 0);
    in->len -= n + (end ? 1 : 0);
    if (len) {
        *len = n;
    }
    return s;
}

/* The next NUL-separated string: how string arguments are laid out in the inputs. */
static inline char *fuzz_str(fuzz_in_t *in, apr_pool_t *p)
{
    return fuzz_until(in, '\0', NULL, p);
}

/* The rest of the input, NUL-terminated, from @p p. */
static inline char *fuzz_rest(fuzz_in_t *in, size_t *len, apr_pool_t *p)
{
    char *s = apr_pstrmemdup(p, (const char *)in->data, in->len);

    if (len) {
        *len = in->len;
    }
    in->data += in->len;
    in->len = 0;
    return s;
}

/* A small deterministic generator (xorshift64*) seeded from the input, for choices that must
 * be the same every time the input is run (chunk sizes). */
static inline uint64_t fuzz_seed(const uint8_t *data, size_t len)
{
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ data[i]) * UINT64_C(1099511628211);
    }
    return h ? h : 1;
}

static inline uint64_t fuzz_next(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Whether the @p len bytes at @p s are well-formed UTF-8 (RFC 3629), written independently of
 * the parsers' own checks so that the targets can compare with it. */
static inline int fuzz_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i], need, k;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f, min = 0x80;
        }
        else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f, min = 0x800;
        }
        else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        }
        else {
            return 0;
        }
        if (len - i <= need) {
            return 0;
        }
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* Whether @p s holds only printable ASCII: what a header value built from hostile input may
 * hold (no CR, LF or other control character that could split or end it). */
static inline int fuzz_printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

#endif /* LF_FUZZ_H */
