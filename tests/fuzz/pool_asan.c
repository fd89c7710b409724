/* pool_asan — makes AddressSanitizer see overflows of APR pool allocations, for the fuzz targets
 * only (linked into each build/fuzz/fuzz_<x>, never into a module or the replay builds).
 *
 * Why: a pool hands out slices of one large block, so a write past the end of one allocation
 * lands in the next one, inside memory ASan considers valid, and nothing is reported. APR built
 * with APR_POOL_DEBUG makes every allocation its own malloc(), but Debian's libapr1 is not built
 * that way, and only Debian's packages are at hand.
 *
 * How: this file defines apr_palloc() and apr_pcalloc() (apr_pcalloc() is a macro over
 * apr_palloc() in a non-debug APR, but the symbol exists), apr_pvsprintf() and apr_psprintf().
 * A definition in the executable takes precedence over libapr-1.so's for every caller in the
 * process: our objects, libaprutil (apr_xml, apr_base64...) and libapr itself, whose own calls
 * go through its PLT (`objdump -d libapr-1.so.0`: apr_pstrdup, apr_pstrcat, apr_pmemdup,
 * apr_pstrndup, apr_array_make/push, apr_table_make and apr_pcalloc all call apr_palloc@plt).
 * apr_pvsprintf() is the one allocator in libapr that carves its result out of the pool's blocks
 * without apr_palloc(), so it is redefined here on top of apr_vsnprintf() (APR's formatter: the
 * %pp, %pm... conversions keep working). Each allocation is its own malloc(), with ASan's red
 * zones around it; the blocks of a pool are listed in a table keyed by the pool and freed by a
 * cleanup registered on the pool at its first allocation. That cleanup is the pool's first, so
 * it runs last, after every cleanup that may still read the pool's memory; clearing a pool
 * removes it, and the next allocation registers it again. A use after apr_pool_clear() or
 * apr_pool_destroy() is then a heap-use-after-free for ASan too.
 *
 * Checked by tests/fuzz/pool_check.c, which `make fuzz` runs first: a one-byte overflow past
 * apr_palloc(), apr_pcalloc(), apr_pstrdup(), apr_pstrcat(), apr_psprintf(), apr_pmemdup() and
 * an apr_array_make() buffer must each be reported by ASan as a heap-buffer-overflow, and a read
 * after apr_pool_clear() as a heap-use-after-free. If a future libapr bound its calls to itself
 * (-Bsymbolic, hidden aliases), that check fails instead of the fuzzers silently going blind.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

/* The non-debug apr_pools.h makes apr_pcalloc a macro: define the function under its name. */
#undef apr_pcalloc
void *apr_pcalloc(apr_pool_t *pool, apr_size_t size);

#define POOL_ASAN_BUCKETS 1024

/* The blocks handed out from one pool since it was created or last cleared. */
typedef struct pool_asan_rec {
    apr_pool_t *pool;
    void **blocks;
    size_t n, cap;
    struct pool_asan_rec *next;
} pool_asan_rec;

static pool_asan_rec *fuzz_pools[POOL_ASAN_BUCKETS];
static pthread_mutex_t pool_asan_mutex = PTHREAD_MUTEX_INITIALIZER;

static void pool_asan_oom(void)
{
    fputs("pool_asan: out of memory\n", stderr);
    abort();
}

static pool_asan_rec **pool_asan_slot(const apr_pool_t *pool)
{
    uintptr_t h = (uintptr_t)pool;

    h ^= h >> 17;
    h *= UINT64_C(0x9E3779B97F4A7C15);
    return &fuzz_pools[(h >> 20) % POOL_ASAN_BUCKETS];
}

/* The pool's cleanup: free its blocks and forget it. */
static apr_status_t pool_asan_release(void *data)
{
    pool_asan_rec *rec = data, **r;
    size_t i;

    pthread_mutex_lock(&pool_asan_mutex);
    for (r = pool_asan_slot(rec->pool); *r && *r != rec; r = &(*r)->next) {
    }
    if (*r) {
        *r = rec->next;
    }
    pthread_mutex_unlock(&pool_asan_mutex);
    for (i = 0; i < rec->n; i++) {
        free(rec->blocks[i]);
    }
    free(rec->blocks);
    free(rec);
    return APR_SUCCESS;
}

void *apr_palloc(apr_pool_t *pool, apr_size_t size)
{
    pool_asan_rec *rec, **slot;
    int fresh = 0;
    void *mem;

    pthread_mutex_lock(&pool_asan_mutex);
    slot = pool_asan_slot(pool);
    for (rec = *slot; rec && rec->pool != pool; rec = rec->next) {
    }
    if (!rec) {
        if (!(rec = calloc(1, sizeof(*rec)))) {
            pool_asan_oom();
        }
        rec->pool = pool;
        rec->next = *slot;
        *slot = rec;
        fresh = 1;
    }
    pthread_mutex_unlock(&pool_asan_mutex);
    if (fresh) {
        /* allocates its cleanup record with apr_palloc(): it finds rec listed already */
        apr_pool_cleanup_register(pool, rec, pool_asan_release, apr_pool_cleanup_null);
    }
    /* malloc(0) may answer NULL; a pool never does */
    if (!(mem = malloc(size ? size : 1))) {
        pool_asan_oom();
    }
    pthread_mutex_lock(&pool_asan_mutex);
    if (rec->n == rec->cap) {
        size_t cap = rec->cap ? 2 * rec->cap : 16;
        void **blocks = realloc(rec->blocks, cap * sizeof(*blocks));

        if (!blocks) {
            pool_asan_oom();
        }
        rec->blocks = blocks;
        rec->cap = cap;
    }
    rec->blocks[rec->n++] = mem;
    pthread_mutex_unlock(&pool_asan_mutex);
    return mem;
}

void *apr_pcalloc(apr_pool_t *pool, apr_size_t size)
{
    return memset(apr_palloc(pool, size), 0, size);
}

char *apr_pvsprintf(apr_pool_t *pool, const char *fmt, va_list ap)
{
    va_list measure;
    char *out;
    int len;

    va_copy(measure, ap);
    len = apr_vsnprintf(NULL, 0, fmt, measure); /* a length of 0 only counts */
    va_end(measure);
    if (len < 0) {
        return NULL;
    }
    out = apr_palloc(pool, (apr_size_t)len + 1);
    apr_vsnprintf(out, (apr_size_t)len + 1, fmt, ap);
    return out;
}

char *apr_psprintf(apr_pool_t *pool, const char *fmt, ...)
{
    va_list ap;
    char *out;

    va_start(ap, fmt);
    out = apr_pvsprintf(pool, fmt, ap);
    va_end(ap);
    return out;
}
