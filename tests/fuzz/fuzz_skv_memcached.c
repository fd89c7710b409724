/* fuzz_skv_memcached — what the memcached driver (modules/session_kv/skv_memcached.c) makes of
 * the results of get()'s multi-get (skv_memcached_take()): a value for the session's key, and
 * the key's expiry marker, whose value is a number the driver parses. libmemcached reads the
 * protocol itself; whatever it hands over may hold any bytes a server sent.
 *
 * Input: results until the input ends: a byte (bits 0-1: the session key, its marker, another
 * key, a key that only starts like the session's), a length byte, that many bytes of value.
 */
#include <stdlib.h>

#include <apr_strings.h>

#include "fuzz.h"
#include "skv_memcached.h"

#define KEY  "skv:0123456789abcdef"
#define MKEY KEY "#t"
#define NOW  apr_time_from_sec(1700000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {KEY, MKEY, "skv:other", "skv:0123"};
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    const char *last_value = NULL, *last_marker = NULL;
    size_t last_len = 0, marker_len = 0;
    apr_uint64_t cas = 0, last_cas = 0;
    skv_value_t val;
    int found = 0;

    memset(&val, 0, sizeof(val));
    val.expires_in = -1;
    while (in.len) {
        unsigned sel = fuzz_byte(&in) & 3, n = fuzz_byte(&in);
        const char *rkey = keys[sel], *value;

        n = n > in.len ? (unsigned)in.len : n;
        value = (const char *)in.data;
        in.data += n;
        in.len -= n;
        cas++;
        skv_memcached_take(&val, &found, KEY, MKEY, rkey, strlen(rkey), value, n, cas, NOW, p);
        if (sel == 0) {
            last_value = value, last_len = n, last_cas = cas;
        }
        else if (sel == 1) {
            last_marker = value, marker_len = n;
        }
    }
    FUZZ_CHECK(found == (last_value != NULL));
    if (found) {
        FUZZ_CHECK(val.len == last_len && !memcmp(val.data, last_value, last_len));
        FUZZ_CHECK(val.data[val.len] == '\0' && val.cas == last_cas);
    }
    if (last_marker) {
        char *text = apr_pstrmemdup(p, last_marker, marker_len);
        long long expires = strtoll(text, NULL, 10);

        FUZZ_CHECK(val.expires_in == (expires > 0 ? (apr_time_t)expires - NOW : -1));
    }
    else {
        FUZZ_CHECK(val.expires_in == -1);
    }
    apr_pool_destroy(p);
    return 0;
}
