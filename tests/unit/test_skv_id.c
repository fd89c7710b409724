/* Unit tests of modules/session_kv/skv_id.c: session ids (43 characters of base64url, the
 * canonical last character), their validation, and the backend keys derived from them. */
#include "unit.h"

#include <apr_base64.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "skv_id.h"

/* 32 bytes 00 01 .. 1f in base64url; the vectors' SHA-256 come from Python's hashlib. */
#define ID_BYTES_0_31  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define KEY_BYTES_0_31 "ea866a757e4c38babfa8127cbe9a409d3e1f93a00ff1488ff735fcf917afffd0"
#define ID_ZERO        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define KEY_ZERO       "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a"

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int valid(const char *s)
{
    return skv_id_valid(s, strlen(s));
}

/* The bytes of a base64url text, decoded here independently of the code under test. */
static int decode(unsigned char *out, const char *id, apr_pool_t *p)
{
    char *std = apr_pstrdup(p, id), *c;

    for (c = std; *c; ++c) {
        *c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
    }
    return apr_base64_decode_binary(out, apr_pstrcat(p, std, "=", NULL));
}

static void generate(void **state)
{
    apr_pool_t *p = *state;
    apr_hash_t *seen = apr_hash_make(p);
    unsigned char raw[64];
    int i;

    for (i = 0; i < 2000; ++i) {
        const char *id = NULL;

        assert_int_equal(skv_id_generate(&id, p), APR_SUCCESS);
        assert_non_null(id);
        assert_int_equal(strlen(id), SKV_ID_LEN);
        assert_int_equal(strspn(id, B64URL), SKV_ID_LEN);
        assert_true(valid(id));
        /* 43 characters hold exactly the 32 random bytes */
        assert_int_equal(decode(raw, id, p), SKV_ID_BYTES);
        /* never the same twice */
        assert_null(apr_hash_get(seen, id, APR_HASH_KEY_STRING));
        apr_hash_set(seen, id, APR_HASH_KEY_STRING, id);
    }
}

static void valid_known(void **state)
{
    (void)state;
    assert_true(valid(ID_BYTES_0_31));
    assert_true(valid(ID_ZERO));
    assert_true(valid("__________________________________________8"));
    assert_true(valid("-----------------------------------------_8"));
}

static void valid_length(void **state)
{
    char buf[64];

    (void)state;
    assert_false(skv_id_valid("", 0));
    assert_false(valid("A"));
    /* 42 and 44 characters */
    assert_false(valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_false(valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    /* the length given counts, not the NUL: a valid id inside a longer text */
    memcpy(buf, ID_ZERO "AAAA", sizeof(ID_ZERO "AAAA"));
    assert_true(skv_id_valid(buf, SKV_ID_LEN));
    assert_false(skv_id_valid(buf, SKV_ID_LEN + 1));
    assert_false(skv_id_valid(buf, SKV_ID_LEN - 1));
    /* with the padding of standard base64 */
    assert_false(valid(ID_ZERO "="));
}

static void valid_alphabet(void **state)
{
    static const char bad[] = "+/= .%\"';,\t\n\x7f\x80\xff";
    char id[SKV_ID_LEN + 1];
    apr_size_t i, pos;

    (void)state;
    for (i = 0; i < sizeof(bad) - 1; ++i) {
        for (pos = 0; pos < SKV_ID_LEN - 1; pos += 7) {
            memcpy(id, ID_ZERO, sizeof(id));
            id[pos] = bad[i];
            if (skv_id_valid(id, SKV_ID_LEN)) {
                fail_msg("accepted 0x%02x at %d", (unsigned char)bad[i], (int)pos);
            }
        }
    }
    /* a NUL inside the length */
    memcpy(id, ID_ZERO, sizeof(id));
    id[20] = '\0';
    assert_false(skv_id_valid(id, SKV_ID_LEN));
    id[20] = 'A';
    id[SKV_ID_LEN - 1] = '\0';
    assert_false(skv_id_valid(id, SKV_ID_LEN));
}

/* 256 bits leave the 2 low bits of the last character's 6 at zero: 16 of the 64 characters can
 * end an id, and they are those whose index in the alphabet is a multiple of 4. */
static void valid_last_char(void **state)
{
    char id[SKV_ID_LEN + 1];
    int i, accepted = 0;

    (void)state;
    memcpy(id, ID_ZERO, sizeof(id));
    for (i = 0; i < 64; ++i) {
        id[SKV_ID_LEN - 1] = B64URL[i];
        if (skv_id_valid(id, SKV_ID_LEN)) {
            ++accepted;
            if (i % 4) {
                fail_msg("accepted the non-canonical last character '%c'", B64URL[i]);
            }
        }
        else if (!(i % 4)) {
            fail_msg("refused the canonical last character '%c'", B64URL[i]);
        }
    }
    assert_int_equal(accepted, 16);
    /* a character elsewhere is free */
    memcpy(id, ID_ZERO, sizeof(id));
    id[SKV_ID_LEN - 2] = 'B';
    assert_true(skv_id_valid(id, SKV_ID_LEN));
}

static void key(void **state)
{
    apr_pool_t *p = *state;
    const char *k, *id = NULL;

    assert_string_equal(skv_id_key("sess:", ID_BYTES_0_31, p), "sess:" KEY_BYTES_0_31);
    assert_string_equal(skv_id_key("", ID_ZERO, p), KEY_ZERO);
    assert_string_equal(skv_id_key("lampfarm/skv/", ID_ZERO, p), "lampfarm/skv/" KEY_ZERO);

    /* a fresh id: the prefix, then 64 lowercase hex digits; the id itself is not in it */
    assert_int_equal(skv_id_generate(&id, p), APR_SUCCESS);
    k = skv_id_key("s:", id, p);
    assert_int_equal(strlen(k), 2 + 64);
    assert_int_equal(strncmp(k, "s:", 2), 0);
    assert_int_equal(strspn(k + 2, "0123456789abcdef"), 64);
    assert_null(strstr(k, id));
    /* the same id, the same key; another id, another key */
    assert_string_equal(skv_id_key("s:", id, p), k);
    assert_string_not_equal(skv_id_key("s:", ID_ZERO, p), k);
}

/* SessionKVKeyPrefix: what memcached keys can start with, and not too long. */
static void prefix_check(void **state)
{
    char longest[SKV_ID_PREFIX_MAX + 2];

    (void)state;
    assert_null(skv_id_prefix_check("skv:"));
    assert_null(skv_id_prefix_check(""));
    assert_null(skv_id_prefix_check("lampfarm/skv/"));
    assert_string_equal(skv_id_prefix_check("my app:"), "no spaces or control characters");
    assert_string_equal(skv_id_prefix_check("a\tb"), "no spaces or control characters");
    assert_string_equal(skv_id_prefix_check("a\x7f"), "no spaces or control characters");
    memset(longest, 'x', SKV_ID_PREFIX_MAX);
    longest[SKV_ID_PREFIX_MAX] = '\0';
    assert_null(skv_id_prefix_check(longest));
    longest[SKV_ID_PREFIX_MAX] = 'x';
    longest[SKV_ID_PREFIX_MAX + 1] = '\0';
    assert_string_equal(skv_id_prefix_check(longest), "at most 100 characters");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(generate),       UNIT_TEST(valid_known),     UNIT_TEST(valid_length),
        UNIT_TEST(valid_alphabet), UNIT_TEST(valid_last_char), UNIT_TEST(key),
        UNIT_TEST(prefix_check),
    };
    return UNIT_RUN("skv_id", tests);
}
