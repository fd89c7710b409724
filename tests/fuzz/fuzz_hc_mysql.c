/* fuzz_hc_mysql — mod_health's reading of a MySQL server's greeting
 * (modules/health/hc_probe.c, hc_probe_mysql_parse()), or of the error packet a server sends
 * instead, as the "mysql" check receives it: in pieces, read after read.
 *
 * Input: the bytes the server sends (at most the 1024 that the check reads). Every prefix must
 * either need more bytes or give the answer the whole gives.
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "hc_probe.h"

#define GREETING_MAX 1024 /* what read_greeting() reads at most */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *version = NULL, *error = NULL, *v, *e;
    apr_status_t whole, rv;
    size_t k;

    if (size > GREETING_MAX) {
        size = GREETING_MAX;
    }
    whole = hc_probe_mysql_parse(&version, &error, data, size, p);
    FUZZ_CHECK(whole == APR_SUCCESS || whole == APR_INCOMPLETE || whole == APR_EGENERAL);
    FUZZ_CHECK(whole != APR_SUCCESS || version);
    FUZZ_CHECK(whole != APR_EGENERAL || (error && *error));
    FUZZ_CHECK(whole != APR_INCOMPLETE || size < GREETING_MAX);
    for (k = 0; k < size; k++) {
        v = e = NULL;
        rv = hc_probe_mysql_parse(&v, &e, data, k, p);
        if (rv == APR_INCOMPLETE) {
            continue;
        }
        FUZZ_CHECK(rv == whole);
        FUZZ_CHECK(rv != APR_SUCCESS || !strcmp(v, version));
        FUZZ_CHECK(rv != APR_EGENERAL || !strcmp(e, error));
        break; /* the check stops reading at the first answer */
    }
    apr_pool_destroy(p);
    return 0;
}
