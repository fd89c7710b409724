/* fuzz_skv_envelope — what mod_session_kv reads back from memcached or redis
 * (modules/session_kv/skv_envelope.c), where anyone who can write to the backend can put any
 * bytes, and the key file of its encryption keys (skv_keyring_parse()).
 *
 * Input: one byte of mode, then the rest.
 *  - mode 0-2: the rest is an envelope, decoded without a key ring, with the target's ring
 *    and with a ring that lacks the first key. A clear envelope decoded without a ring must
 *    encode back to the same bytes, and, encrypted with the ring, decode to the same record.
 *  - mode 3: the rest is the text of a key file; a ring parsed from it must encrypt an envelope
 *    that it decrypts again, and nothing else.
 */
#include <apr_strings.h>

#include "fuzz.h"
#include "skv_envelope.h"

#define KEY "skv:0123456789abcdef"

static const char ring_text[] =
    "# the target's keys\n"
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n" /* bytes 0x20..0x3f */
    "\n";
static const char other_text[] =
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n";

static int same_record(const skv_record_t *a, const skv_record_t *b)
{
    return a->created == b->created && a->written == b->written
           && (a->user == NULL) == (b->user == NULL) && (!a->user || !strcmp(a->user, b->user))
           && a->len == b->len && !memcmp(a->data, b->data, a->len) && a->data[a->len] == '\0';
}

/* Encode @p rec with @p kr (may be NULL) and decode it again: the same record. */
static void round_trip(const skv_record_t *rec, const skv_keyring_t *kr, apr_pool_t *p)
{
    const char *env, *why = NULL;
    apr_size_t len;
    skv_record_t back;

    FUZZ_CHECK(skv_envelope_encode(&env, &len, rec, kr, KEY, p) == APR_SUCCESS);
    FUZZ_CHECK(skv_envelope_decode(&back, &why, env, len, kr, KEY, p) == APR_SUCCESS);
    FUZZ_CHECK(same_record(rec, &back));
    if (kr) {
        /* bound to the backend key: another key does not decrypt it */
        FUZZ_CHECK(skv_envelope_decode(&back, &why, env, len, kr, KEY "0", p) == APR_EINVAL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    apr_pool_t *p = fuzz_pool();
    unsigned mode = fuzz_byte(&in) & 3;
    size_t len;
    const char *rest = fuzz_rest(&in, &len, p), *why = NULL, *env;
    skv_keyring_t *ring = NULL, *other = NULL, *kr = NULL;
    skv_record_t rec;
    apr_size_t elen;
    apr_status_t rv;

    FUZZ_CHECK(skv_keyring_parse(&ring, &why, ring_text, p) == APR_SUCCESS);
    FUZZ_CHECK(skv_keyring_parse(&other, &why, other_text, p) == APR_SUCCESS);
    if (mode == 3) {
        rv = skv_keyring_parse(&kr, &why, rest, p);
        if (rv == APR_SUCCESS) {
            FUZZ_CHECK(skv_keyring_count(kr) >= 1);
            memset(&rec, 0, sizeof(rec));
            rec.created = 1;
            rec.written = 2;
            rec.user = "u";
            rec.data = "k=v";
            rec.len = 3;
            round_trip(&rec, kr, p);
            FUZZ_CHECK(skv_envelope_encode(&env, &elen, &rec, kr, KEY, p) == APR_SUCCESS);
            FUZZ_CHECK(skv_envelope_decode(&rec, &why, env, elen, other, KEY, p) == APR_EINVAL);
            FUZZ_CHECK(skv_envelope_decode(&rec, &why, env, elen, NULL, KEY, p) == APR_EINVAL);
        }
        else {
            FUZZ_CHECK(rv == APR_EINVAL && why);
            /* the message never quotes the file, which holds keys: it names a line at most */
            FUZZ_CHECK(!strcmp(why, "no key in the file") || !strncmp(why, "line ", 5));
            FUZZ_CHECK(strspn(why + 5, "0123456789") > 0 || why[0] == 'n');
        }
        apr_pool_destroy(p);
        return 0;
    }
    kr = mode == 0 ? NULL : mode == 1 ? ring : other;
    memset(&rec, 0, sizeof(rec));
    rv = skv_envelope_decode(&rec, &why, rest, len, kr, KEY, p);
    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(rv == APR_EINVAL && why && *why);
        apr_pool_destroy(p);
        return 0;
    }
    FUZZ_CHECK(rec.data && rec.data[rec.len] == '\0');
    FUZZ_CHECK(rec.len <= len);
    if (!kr) {
        /* clear: the bytes say all there is; encoding the record gives them back (the flags'
         * unused bits aside, which decoding ignores) */
        FUZZ_CHECK(skv_envelope_encode(&env, &elen, &rec, NULL, KEY, p) == APR_SUCCESS);
        FUZZ_CHECK(elen == len);
        FUZZ_CHECK(!memcmp(env, rest, 3) && !memcmp(env + 4, rest + 4, len - 4));
        round_trip(&rec, NULL, p);
        round_trip(&rec, ring, p);
    }
    else {
        round_trip(&rec, kr, p);
    }
    apr_pool_destroy(p);
    return 0;
}
