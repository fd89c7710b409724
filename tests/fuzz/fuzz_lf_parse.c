/* fuzz_lf_parse — the small parsers of modules/common/lf_parse.c: durations, sizes, bounded
 * integers, host:port and lists of them. They read configuration, and through it values that
 * reach the modules from elsewhere (upload tokens' numbers, backend URLs' ports, credentials
 * settings).
 *
 * Input: one byte that picks the default unit and port, then the value (up to a NUL). A
 * duration formatted with lf_format_duration() must parse back to itself; whatever parses must
 * be in range.
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "lf_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const units[] = {"s", "ms", "us", "m", "h", "d", "x", ""};
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    unsigned sel = fuzz_byte(&in);
    const char *s = fuzz_str(&in, p), *host = NULL, *bad = NULL;
    apr_interval_time_t d = -1, again = -1;
    apr_port_t port = 0, default_port = (sel & 8) ? 6379 : 0;
    apr_array_header_t *list = NULL;
    apr_off_t size_out = -1;
    int n = 0, i;

    if (lf_parse_duration(&d, s, units[sel & 7]) == APR_SUCCESS) {
        FUZZ_CHECK(d >= 0);
        FUZZ_CHECK(lf_parse_duration(&again, lf_format_duration(d, p), "s") == APR_SUCCESS);
        FUZZ_CHECK(again == d);
    }
    if (lf_parse_size(&size_out, s) == APR_SUCCESS) {
        FUZZ_CHECK(size_out >= 0);
    }
    if (lf_parse_int(&n, s, -100, 65535) == APR_SUCCESS) {
        FUZZ_CHECK(n >= -100 && n <= 65535);
        FUZZ_CHECK(lf_parse_int(&i, apr_itoa(p, n), -100, 65535) == APR_SUCCESS && i == n);
    }
    if (lf_parse_int(&n, s, INT32_MIN, INT32_MAX) == APR_SUCCESS) {
        FUZZ_CHECK(!strcmp(apr_itoa(p, n), s) || s[0] == '-' || s[0] == '0');
    }
    if (lf_parse_hostport(&host, &port, s, default_port, p) == APR_SUCCESS) {
        FUZZ_CHECK(host && *host && port > 0);
        FUZZ_CHECK(default_port || port != 0);
    }
    if (lf_parse_hostport_list(&list, &bad, s, default_port, p) == APR_SUCCESS) {
        FUZZ_CHECK(list->nelts >= 1);
        for (i = 0; i < list->nelts; i++) {
            const lf_hostport_t *hp = &APR_ARRAY_IDX(list, i, lf_hostport_t);
            FUZZ_CHECK(hp->host && *hp->host && hp->port > 0);
        }
    }
    else {
        FUZZ_CHECK(bad != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
