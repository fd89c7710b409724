/* pool_check — proves that the fuzz targets' ASan sees overflows of pool allocations (see
 * fuzz_pool.c): each case does one bad access to memory from a pool; run alone, a case must be
 * stopped by ASan with the report named in `make fuzz`'s check (heap-buffer-overflow, or
 * heap-use-after-free for the last one). A case that returns means ASan did not see it.
 *
 *     build/fuzz/pool_check palloc|pcalloc|pstrdup|pstrcat|psprintf|pmemdup|array|cleared
 */
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

/* Through a volatile pointer, so that the compiler cannot see (or drop) the bad access. */
static void poke(char *volatile at)
{
    *at = 'x';
}

static char peek(const char *volatile at)
{
    return *at;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    apr_pool_t *p;
    char *s;

    apr_initialize();
    apr_pool_create(&p, NULL);
    /* something allocated before, so that an overflow would land in a neighbour in a real pool */
    (void)apr_palloc(p, 100);
    if (!strcmp(what, "palloc")) {
        s = apr_palloc(p, 10);
        poke(s + 10);
    }
    else if (!strcmp(what, "pcalloc")) {
        s = apr_pcalloc(p, 10);
        poke(s + 10);
    }
    else if (!strcmp(what, "pstrdup")) {
        s = apr_pstrdup(p, "abc"); /* inside libapr: apr_pstrdup -> apr_pmemdup -> apr_palloc */
        poke(s + 4);
    }
    else if (!strcmp(what, "pstrcat")) {
        s = apr_pstrcat(p, "ab", "cd", NULL);
        poke(s + 5);
    }
    else if (!strcmp(what, "psprintf")) {
        s = apr_psprintf(p, "%d-%s", 42, "x");
        poke(s + 5);
    }
    else if (!strcmp(what, "pmemdup")) {
        s = apr_pmemdup(p, "abcdef", 6);
        poke(s + 6);
    }
    else if (!strcmp(what, "array")) {
        apr_array_header_t *a = apr_array_make(p, 2, sizeof(int));
        APR_ARRAY_PUSH(a, int) = 1;
        poke(a->elts + 2 * sizeof(int));
    }
    else if (!strcmp(what, "cleared")) {
        s = apr_pstrdup(p, "abc");
        apr_pool_clear(p);
        printf("%c\n", peek(s));
    }
    else {
        fprintf(stderr, "usage: %s palloc|pcalloc|pstrdup|pstrcat|psprintf|pmemdup|array|cleared\n",
                argv[0]);
        return 2;
    }
    fprintf(stderr, "pool_check: %s: ASan did not report the bad access\n", what);
    return 1;
}
