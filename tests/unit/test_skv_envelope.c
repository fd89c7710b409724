/* Unit tests of modules/session_kv/skv_envelope.c: the stored form of a session (clear and
 * AES-256-GCM), key rings and rotation, tampering, moving, truncation, and key file parsing. */
#include "unit.h"

#include <apr_base64.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "skv_envelope.h"

#define HEAD    22 /* magic, version, flags, created, written, user_len */
#define KEY_ID  4
#define NONCE   12
#define TAG     16
#define BKEY    "skv:0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a"
#define BKEY_2  "skv:ea866a757e4c38babfa8127cbe9a409d3e1f93a00ff1488ff735fcf917afffd0"
#define KEY_OLD "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_NEW "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff"
#define CREATED APR_INT64_C(1700000000123456)
#define WRITTEN APR_INT64_C(1700000600654321)
#define SESSION "user=ann&cart=3&expiry=1700001800000000"

static skv_keyring_t *ring(const char *text, apr_pool_t *p)
{
    skv_keyring_t *kr = NULL;
    const char *why = NULL;

    if (skv_keyring_parse(&kr, &why, text, p) != APR_SUCCESS) {
        fail_msg("key ring refused: %s", why);
    }
    assert_non_null(kr);
    return kr;
}

static skv_record_t record(const char *user, const char *data, apr_size_t len)
{
    skv_record_t rec;

    rec.created = CREATED;
    rec.written = WRITTEN;
    rec.user = user;
    rec.data = data;
    rec.len = len;
    return rec;
}

/* Encode @p rec, or fail the test. */
static const char *encode(apr_size_t *len, const skv_record_t *rec, const skv_keyring_t *kr,
                          const char *key, apr_pool_t *p)
{
    const char *out = NULL;

    assert_int_equal(skv_envelope_encode(&out, len, rec, kr, key, p), APR_SUCCESS);
    assert_non_null(out);
    return out;
}

/* Decode @p len bytes copied to a buffer of exactly that size (so a read past the end is a
 * real overread for valgrind / ASan), returning the status and *why on failure. */
static apr_status_t decode(skv_record_t *rec, const char **why, const char *in, apr_size_t len,
                           const skv_keyring_t *kr, const char *key, apr_pool_t *p)
{
    char *copy = malloc(len ? len : 1);
    apr_status_t rv;

    memcpy(copy, in, len);
    memset(rec, 0, sizeof(*rec));
    *why = NULL;
    rv = skv_envelope_decode(rec, why, copy, len, kr, key, p);
    free(copy);
    if (rv != APR_SUCCESS) {
        assert_non_null(*why);
    }
    return rv;
}

static void assert_record(const skv_record_t *got, const skv_record_t *want)
{
    assert_true(got->created == want->created);
    assert_true(got->written == want->written);
    if (want->user && *want->user) {
        assert_non_null(got->user);
        assert_string_equal(got->user, want->user);
    }
    else {
        assert_null(got->user);
    }
    assert_int_equal(got->len, want->len);
    assert_memory_equal(got->data, want->data, want->len);
    assert_int_equal(got->data[got->len], '\0');
}

/* Whether the @p len bytes at @p b hold the text @p s. */
static int contains(const char *b, apr_size_t len, const char *s)
{
    apr_size_t n = strlen(s), i;

    for (i = 0; i + n <= len; ++i) {
        if (!memcmp(b + i, s, n)) {
            return 1;
        }
    }
    return 0;
}

static apr_uint64_t be64(const unsigned char *b)
{
    apr_uint64_t v = 0;
    int i;

    for (i = 0; i < 8; ++i) {
        v = (v << 8) | b[i];
    }
    return v;
}

/* The key id of a hex key: the first 4 bytes of the SHA-256 of its 32 bytes. */
static void key_id(unsigned char id[KEY_ID], unsigned char bytes[32], const char *hex)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    int i;

    for (i = 0; i < 32; ++i) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        bytes[i] = (unsigned char)strtoul(pair, NULL, 16);
    }
    SHA256(bytes, 32, md);
    memcpy(id, md, KEY_ID);
}

static void clear_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    static const char binary[] = "a\0b\xff\x01=&";
    skv_record_t recs[6], got;
    const char *why;
    int i;

    recs[0] = record(NULL, SESSION, strlen(SESSION));
    recs[1] = record("ann@example.com", SESSION, strlen(SESSION));
    recs[2] = record(NULL, "", 0);
    recs[3] = record("bob", "", 0);
    recs[4] = record("\xc3\xa9ve", binary, sizeof(binary) - 1);
    /* an empty user name is no user */
    recs[5] = record("", "x", 1);
    for (i = 0; i < 6; ++i) {
        apr_size_t len, ulen = recs[i].user ? strlen(recs[i].user) : 0;
        const unsigned char *b = (const unsigned char *)encode(&len, &recs[i], NULL, BKEY, p);

        /* the documented layout */
        assert_int_equal(len, HEAD + ulen + recs[i].len);
        assert_memory_equal(b, "SK\x01\x00", 4);
        assert_true(be64(b + 4) == (apr_uint64_t)CREATED);
        assert_true(be64(b + 12) == (apr_uint64_t)WRITTEN);
        assert_int_equal((b[20] << 8) | b[21], ulen);
        assert_memory_equal(b + HEAD, recs[i].user ? recs[i].user : "", ulen);
        assert_memory_equal(b + HEAD + ulen, recs[i].data, recs[i].len);

        assert_int_equal(decode(&got, &why, (const char *)b, len, NULL, BKEY, p), APR_SUCCESS);
        assert_record(&got, &recs[i]);
    }
}

static void encrypted_roundtrip(void **state)
{
    apr_pool_t *p = *state;
    skv_keyring_t *kr = ring(KEY_NEW "\n" KEY_OLD "\n", p);
    unsigned char id[KEY_ID], bytes[32];
    skv_record_t recs[3], got;
    const char *why;
    int i;

    key_id(id, bytes, KEY_NEW);
    recs[0] = record(NULL, SESSION, strlen(SESSION));
    recs[1] = record("ann@example.com", SESSION, strlen(SESSION));
    recs[2] = record(NULL, "", 0);
    for (i = 0; i < 3; ++i) {
        apr_size_t len, len2, ulen = recs[i].user ? strlen(recs[i].user) : 0;
        const char *env = encode(&len, &recs[i], kr, BKEY, p);
        const char *env2 = encode(&len2, &recs[i], kr, BKEY, p);
        const unsigned char *b = (const unsigned char *)env;

        assert_int_equal(len, HEAD + KEY_ID + NONCE + ulen + recs[i].len + TAG);
        assert_memory_equal(b, "SK\x01\x01", 4);
        assert_true(be64(b + 4) == (apr_uint64_t)CREATED);
        assert_true(be64(b + 12) == (apr_uint64_t)WRITTEN);
        assert_int_equal((b[20] << 8) | b[21], ulen);
        /* the first key of the ring encrypts */
        assert_memory_equal(b + HEAD, id, KEY_ID);
        /* a fresh nonce every time: the same record never gives the same bytes */
        assert_int_equal(len2, len);
        assert_memory_not_equal(b + HEAD + KEY_ID, env2 + HEAD + KEY_ID, NONCE);
        /* no plain text in it */
        if (recs[i].len) {
            assert_false(contains(env, len, "cart=3"));
        }
        if (ulen) {
            assert_false(contains(env, len, "ann@"));
        }

        assert_int_equal(decode(&got, &why, env, len, kr, BKEY, p), APR_SUCCESS);
        assert_record(&got, &recs[i]);
        assert_int_equal(decode(&got, &why, env2, len2, kr, BKEY, p), APR_SUCCESS);
        assert_record(&got, &recs[i]);
    }
}

/* Another implementation (a PHP admin tool, say) can read the envelope from the description in
 * skv_envelope.h alone: AES-256-GCM, the header up to the nonce then the backend key as
 * additional data, the user name and the text as the plain text. */
static void encrypted_independent(void **state)
{
    apr_pool_t *p = *state;
    skv_keyring_t *kr = ring(KEY_OLD, p);
    skv_record_t rec = record("ann", SESSION, strlen(SESSION));
    unsigned char id[KEY_ID], bytes[32], *plain;
    apr_size_t len, head = HEAD + KEY_ID + NONCE, body;
    const unsigned char *b = (const unsigned char *)encode(&len, &rec, kr, BKEY, p);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n;

    key_id(id, bytes, KEY_OLD);
    body = len - head - TAG;
    plain = apr_palloc(p, body + 16);
    assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL), 1);
    assert_int_equal(EVP_DecryptInit_ex(ctx, NULL, NULL, bytes, b + HEAD + KEY_ID), 1);
    assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &n, b, (int)head), 1);
    assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)BKEY, strlen(BKEY)),
                     1);
    assert_int_equal(EVP_DecryptUpdate(ctx, plain, &n, b + head, (int)body), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, (void *)(b + head + body)),
                     1);
    assert_int_equal(EVP_DecryptFinal_ex(ctx, plain + body, &n), 1);
    EVP_CIPHER_CTX_free(ctx);
    assert_memory_equal(plain, "ann" SESSION, body);
}

static void key_rotation(void **state)
{
    apr_pool_t *p = *state;
    skv_keyring_t *old = ring(KEY_OLD, p);
    skv_keyring_t *both = ring(KEY_NEW "\n" KEY_OLD, p);
    skv_keyring_t *fresh = ring(KEY_NEW, p);
    skv_record_t rec = record("ann", SESSION, strlen(SESSION)), got;
    unsigned char id_new[KEY_ID], bytes[32];
    apr_size_t len;
    const char *env, *why;

    key_id(id_new, bytes, KEY_NEW);
    assert_int_equal(skv_keyring_count(old), 1);
    assert_int_equal(skv_keyring_count(both), 2);

    /* written before the rotation, read after it */
    env = encode(&len, &rec, old, BKEY, p);
    assert_int_equal(decode(&got, &why, env, len, both, BKEY, p), APR_SUCCESS);
    assert_record(&got, &rec);

    /* written after it: with the new key, which the old ring does not know */
    env = encode(&len, &rec, both, BKEY, p);
    assert_memory_equal(env + HEAD, id_new, KEY_ID);
    assert_int_equal(decode(&got, &why, env, len, fresh, BKEY, p), APR_SUCCESS);
    assert_record(&got, &rec);
    assert_int_equal(decode(&got, &why, env, len, old, BKEY, p), APR_EINVAL);
    assert_non_null(strstr(why, "key"));

    /* the old key retired: what it wrote no longer decodes */
    env = encode(&len, &rec, old, BKEY, p);
    assert_int_equal(decode(&got, &why, env, len, fresh, BKEY, p), APR_EINVAL);
}

static void encrypted_without_ring(void **state)
{
    apr_pool_t *p = *state;
    skv_record_t rec = record("ann", SESSION, strlen(SESSION)), got;
    apr_size_t len;
    const char *env = encode(&len, &rec, ring(KEY_OLD, p), BKEY, p), *why;

    assert_int_equal(decode(&got, &why, env, len, NULL, BKEY, p), APR_EINVAL);
}

/* With a key ring, an envelope in clear is refused: otherwise anyone who can write to the
 * backend could forge a session, user name and times included, which is what the
 * authentication is there to prevent. */
static void clear_refused_with_ring(void **state)
{
    apr_pool_t *p = *state;
    skv_record_t rec = record("admin", SESSION, strlen(SESSION)), got;
    apr_size_t len;
    const char *env = encode(&len, &rec, NULL, BKEY, p), *why;

    assert_int_equal(decode(&got, &why, env, len, ring(KEY_OLD, p), BKEY, p), APR_EINVAL);
}

static void tampered(void **state)
{
    apr_pool_t *p = *state;
    skv_keyring_t *kr = ring(KEY_OLD, p);
    static const unsigned char flips[] = {0x01, 0x80, 0xff};
    skv_record_t recs[2], got;
    int r;

    recs[0] = record("ann", SESSION, strlen(SESSION));
    recs[1] = record(NULL, "", 0);
    for (r = 0; r < 2; ++r) {
        apr_size_t len, i, f;
        const char *env = encode(&len, &recs[r], kr, BKEY, p), *why;
        char *copy = apr_pmemdup(p, env, len);

        /* header, key id, nonce, user name, text, tag: every byte, every flip */
        for (i = 0; i < len; ++i) {
            for (f = 0; f < sizeof(flips); ++f) {
                copy[i] ^= (char)flips[f];
                if (decode(&got, &why, copy, len, kr, BKEY, p) != APR_EINVAL) {
                    fail_msg("record %d: byte %d ^ 0x%02x accepted", r, (int)i, flips[f]);
                }
                copy[i] ^= (char)flips[f];
            }
        }
        /* a byte more */
        copy = apr_palloc(p, len + 1);
        memcpy(copy, env, len);
        copy[len] = 'x';
        assert_int_equal(decode(&got, &why, copy, len + 1, kr, BKEY, p), APR_EINVAL);
        /* untouched, it still decodes */
        assert_int_equal(decode(&got, &why, env, len, kr, BKEY, p), APR_SUCCESS);
    }
}

static void moved(void **state)
{
    apr_pool_t *p = *state;
    skv_keyring_t *kr = ring(KEY_OLD, p);
    skv_record_t rec = record("ann", SESSION, strlen(SESSION)), got;
    apr_size_t len;
    const char *env = encode(&len, &rec, kr, BKEY, p), *why;

    assert_int_equal(decode(&got, &why, env, len, kr, BKEY_2, p), APR_EINVAL);
    assert_non_null(why);
    /* another prefix, a key one character shorter or longer */
    assert_int_equal(decode(&got, &why, env, len, kr, "x" BKEY, p), APR_EINVAL);
    assert_int_equal(decode(&got, &why, env, len, kr, BKEY "0", p), APR_EINVAL);
    assert_int_equal(decode(&got, &why, env, len, kr, "", p), APR_EINVAL);
    assert_int_equal(decode(&got, &why, env, len, kr, BKEY, p), APR_SUCCESS);
}

static void truncated_encrypted(void **state)
{
    apr_pool_t *p = *state;
    skv_keyring_t *kr = ring(KEY_OLD, p);
    skv_record_t recs[2], got;
    int r;

    recs[0] = record("ann@example.com", SESSION, strlen(SESSION));
    recs[1] = record(NULL, "", 0);
    for (r = 0; r < 2; ++r) {
        apr_size_t len, n;
        const char *env = encode(&len, &recs[r], kr, BKEY, p), *why;

        for (n = 0; n < len; ++n) {
            if (decode(&got, &why, env, n, kr, BKEY, p) != APR_EINVAL) {
                fail_msg("record %d: %d of %d bytes accepted", r, (int)n, (int)len);
            }
            /* without a key ring as well */
            assert_int_equal(decode(&got, &why, env, n, NULL, BKEY, p), APR_EINVAL);
        }
    }
}

/* A clear envelope holds no length of the text, so only a cut into the header or the user name
 * can be seen; a shorter text decodes as that text, and nothing is read past the end. */
static void truncated_clear(void **state)
{
    apr_pool_t *p = *state;
    skv_record_t rec = record("ann@example.com", SESSION, strlen(SESSION)), got;
    apr_size_t len, n, ulen = strlen("ann@example.com");
    const char *env = encode(&len, &rec, NULL, BKEY, p), *why;

    for (n = 0; n < len; ++n) {
        apr_status_t rv = decode(&got, &why, env, n, NULL, BKEY, p);
        if (n < HEAD + ulen) {
            if (rv != APR_EINVAL) {
                fail_msg("%d of %d bytes accepted", (int)n, (int)len);
            }
        }
        else {
            assert_int_equal(rv, APR_SUCCESS);
            assert_int_equal(got.len, n - HEAD - ulen);
            assert_memory_equal(got.data, SESSION, got.len);
        }
    }
}

static void not_an_envelope(void **state)
{
    apr_pool_t *p = *state;
    skv_record_t rec = record(NULL, "x", 1), got;
    apr_size_t len;
    const char *env = encode(&len, &rec, NULL, BKEY, p), *why;
    char *copy;

    assert_int_equal(decode(&got, &why, "", 0, NULL, BKEY, p), APR_EINVAL);
    assert_int_equal(decode(&got, &why, "user=ann&cart=3", 15, NULL, BKEY, p), APR_EINVAL);
    assert_int_equal(decode(&got, &why, "user=ann&cart=3&expiry=17", 25, NULL, BKEY, p),
                     APR_EINVAL);
    /* another version, another magic */
    copy = apr_pmemdup(p, env, len);
    copy[2] = 2;
    assert_int_equal(decode(&got, &why, copy, len, NULL, BKEY, p), APR_EINVAL);
    copy = apr_pmemdup(p, env, len);
    copy[0] = 's';
    assert_int_equal(decode(&got, &why, copy, len, NULL, BKEY, p), APR_EINVAL);
    /* a user name longer than what follows */
    copy = apr_pmemdup(p, env, len);
    copy[21] = 2;
    assert_int_equal(decode(&got, &why, copy, len, NULL, BKEY, p), APR_EINVAL);
    copy[20] = (char)0xff;
    assert_int_equal(decode(&got, &why, copy, len, NULL, BKEY, p), APR_EINVAL);
}

/* A user name that holds a NUL is refused: the encoder never writes one (it takes the name's
 * C length), and read as a C string it would be another name, or an empty one, which is not
 * "no user" (found by tests/fuzz/fuzz_skv_envelope.c: such an envelope decoded to a record that
 * encoded to different bytes). */
static void user_with_nul(void **state)
{
    apr_pool_t *p = *state;
    skv_record_t rec = record("an", "x=1", 3), got;
    apr_size_t len;
    const char *env = encode(&len, &rec, NULL, BKEY, p), *why;
    char *copy = apr_pmemdup(p, env, len);

    assert_int_equal(decode(&got, &why, copy, len, NULL, BKEY, p), APR_SUCCESS);
    copy[22 + 1] = '\0'; /* "a\0" */
    assert_int_equal(decode(&got, &why, copy, len, NULL, BKEY, p), APR_EINVAL);
    assert_string_equal(why, "malformed envelope: the user name holds a NUL byte");
    copy[22] = '\0'; /* "\0\0" */
    assert_int_equal(decode(&got, &why, copy, len, NULL, BKEY, p), APR_EINVAL);
}

static void times(void **state)
{
    apr_pool_t *p = *state;
    static const apr_time_t values[] = {0, 1, APR_INT64_C(0x0102030405060708), APR_INT64_MAX};
    skv_keyring_t *kr = ring(KEY_OLD, p);
    apr_size_t i;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); ++i) {
        skv_record_t rec = record(NULL, "x", 1), got;
        apr_size_t len;
        const char *env, *why;

        rec.created = values[i];
        rec.written = values[sizeof(values) / sizeof(values[0]) - 1 - i];
        env = encode(&len, &rec, NULL, BKEY, p);
        assert_int_equal(decode(&got, &why, env, len, NULL, BKEY, p), APR_SUCCESS);
        assert_record(&got, &rec);
        env = encode(&len, &rec, kr, BKEY, p);
        assert_int_equal(decode(&got, &why, env, len, kr, BKEY, p), APR_SUCCESS);
        assert_record(&got, &rec);
    }
}

static void long_user(void **state)
{
    apr_pool_t *p = *state;
    skv_keyring_t *kr = ring(KEY_OLD, p);
    char *user = apr_palloc(p, 65537);
    skv_record_t rec, got;
    apr_size_t len;
    const char *env, *why;

    memset(user, 'u', 65536);
    user[65536] = '\0';
    rec = record(user, SESSION, strlen(SESSION));
    assert_int_equal(skv_envelope_encode(&env, &len, &rec, NULL, BKEY, p), APR_EINVAL);
    assert_int_equal(skv_envelope_encode(&env, &len, &rec, kr, BKEY, p), APR_EINVAL);

    user[65535] = '\0';
    env = encode(&len, &rec, NULL, BKEY, p);
    assert_int_equal(decode(&got, &why, env, len, NULL, BKEY, p), APR_SUCCESS);
    assert_record(&got, &rec);
    env = encode(&len, &rec, kr, BKEY, p);
    assert_int_equal(decode(&got, &why, env, len, kr, BKEY, p), APR_SUCCESS);
    assert_record(&got, &rec);
}

/* --- key files --------------------------------------------------------------------------- */

static const char *parse_error(const char *text, apr_pool_t *p)
{
    skv_keyring_t *kr = NULL;
    const char *why = NULL;

    if (skv_keyring_parse(&kr, &why, text, p) != APR_EINVAL) {
        fail_msg("accepted: %s", text);
    }
    assert_non_null(why);
    return why;
}

/* The base64 of a hex key. */
static const char *b64_of(const char *hex, apr_pool_t *p)
{
    unsigned char id[KEY_ID], bytes[32];
    char *out = apr_palloc(p, apr_base64_encode_len(32));

    key_id(id, bytes, hex);
    apr_base64_encode_binary(out, bytes, 32);
    return out;
}

static void keyring_forms(void **state)
{
    apr_pool_t *p = *state;
    skv_record_t rec = record("ann", SESSION, strlen(SESSION)), got;
    const char *b64_old = b64_of(KEY_OLD, p), *env, *why;
    skv_keyring_t *hex, *b64, *upper;
    apr_size_t len;
    char *up = apr_pstrdup(p, KEY_NEW), *c;

    for (c = up; *c; ++c) {
        *c = (char)apr_toupper(*c);
    }
    hex = ring(KEY_OLD, p);
    b64 = ring(b64_old, p);
    upper = ring(apr_pstrcat(p, up, "\n", KEY_OLD, NULL), p);
    assert_int_equal(strlen(b64_old), 44);

    /* the same key written either way is the same key */
    env = encode(&len, &rec, hex, BKEY, p);
    assert_int_equal(decode(&got, &why, env, len, b64, BKEY, p), APR_SUCCESS);
    assert_int_equal(decode(&got, &why, env, len, upper, BKEY, p), APR_SUCCESS);
    env = encode(&len, &rec, b64, BKEY, p);
    assert_int_equal(decode(&got, &why, env, len, hex, BKEY, p), APR_SUCCESS);
    /* upper case hex is KEY_NEW */
    env = encode(&len, &rec, upper, BKEY, p);
    assert_int_equal(decode(&got, &why, env, len, ring(KEY_NEW, p), BKEY, p), APR_SUCCESS);
}

static void keyring_layout(void **state)
{
    apr_pool_t *p = *state;
    skv_record_t rec = record("ann", SESSION, strlen(SESSION)), got;
    const char *env, *why;
    apr_size_t len;
    skv_keyring_t *kr;

    /* comments, blank lines, CRLF, spaces around a key, no newline at the end */
    kr = ring(apr_pstrcat(p, "# session keys, newest first\r\n", "\r\n", "   \t\r\n", "  ", KEY_NEW,
                          "  \r\n", "#", KEY_OLD, " (retired)\r\n", "\t", b64_of(KEY_OLD, p), NULL),
              p);
    assert_int_equal(skv_keyring_count(kr), 2);
    env = encode(&len, &rec, kr, BKEY, p);
    assert_int_equal(decode(&got, &why, env, len, ring(KEY_NEW, p), BKEY, p), APR_SUCCESS);
    env = encode(&len, &rec, ring(KEY_OLD, p), BKEY, p);
    assert_int_equal(decode(&got, &why, env, len, kr, BKEY, p), APR_SUCCESS);
    /* a newline at the end */
    assert_int_equal(skv_keyring_count(ring(KEY_OLD "\n", p)), 1);
    assert_int_equal(skv_keyring_count(ring(KEY_OLD "\r\n\r\n", p)), 1);
}

static void keyring_errors(void **state)
{
    apr_pool_t *p = *state;
    const char *why, *b64 = b64_of(KEY_OLD, p);
    char *b64url = apr_pstrdup(p, b64_of(KEY_NEW, p)), *c;
    int has_special = 0;

    /* no key */
    parse_error("", p);
    parse_error("\n\n", p);
    parse_error("# no key yet\n\n# still none\n", p);

    /* a bad line, by its number (counting comments and blank lines), never quoting it */
    why = parse_error("# keys\n\n" KEY_NEW "\nnot-a-key-but-a-secret\n", p);
    assert_non_null(strstr(why, "line 4"));
    assert_null(strstr(why, "not-a-key"));
    why = parse_error("# keys\r\n" KEY_NEW "\r\n" KEY_OLD "0\r\n", p);
    assert_non_null(strstr(why, "line 3"));
    assert_null(strstr(why, KEY_OLD));
    why = parse_error("0102", p);
    assert_non_null(strstr(why, "line 1"));
    /* 63 and 65 hex digits, not hex, two keys on one line */
    parse_error(apr_pstrndup(p, KEY_OLD, 63), p);
    parse_error(KEY_OLD "a", p);
    parse_error(apr_pstrcat(p, "g", KEY_OLD + 1, NULL), p);
    parse_error(KEY_OLD " " KEY_NEW, p);
    /* base64 of 31 and 33 bytes, without its padding, with a character out of the alphabet */
    parse_error("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", p);
    parse_error("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", p);
    parse_error(apr_pstrndup(p, b64, 43), p);
    parse_error(apr_pstrcat(p, "*", b64 + 1, NULL), p);
    /* base64url is not base64 (when the key has a '+' or '/') */
    for (c = b64url; *c; ++c) {
        if (*c == '+' || *c == '/') {
            *c = *c == '+' ? '-' : '_';
            has_special = 1;
        }
    }
    if (has_special) {
        parse_error(b64url, p);
    }

    /* the same key twice, also written in another form */
    why = parse_error(KEY_OLD "\n" KEY_NEW "\n" KEY_OLD "\n", p);
    assert_non_null(strstr(why, "line 3"));
    why = parse_error(apr_pstrcat(p, KEY_OLD, "\n# again\n", b64, "\n", NULL), p);
    assert_non_null(strstr(why, "line 3"));
}

/* A key file: read, parsed; a file that is not there, or not a key file, says why. */
static void keyring_file(void **state)
{
    apr_pool_t *p = *state;
    char path[] = "/tmp/lf-keyring-XXXXXX";
    skv_keyring_t *kr = NULL;
    const char *why = NULL;
    apr_file_t *f;
    apr_size_t n;

    assert_int_equal(
        apr_file_mktemp(&f, path,
                        APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_EXCL, p),
        APR_SUCCESS);
    n = strlen("# keys\n" KEY_NEW "\n" KEY_OLD "\n");
    assert_int_equal(apr_file_write_full(f, "# keys\n" KEY_NEW "\n" KEY_OLD "\n", n, NULL),
                     APR_SUCCESS);
    apr_file_close(f);
    assert_int_equal(skv_keyring_load(&kr, &why, path, p), APR_SUCCESS);
    assert_int_equal(skv_keyring_count(kr), 2);

    assert_int_equal(apr_file_open(&f, path,
                                   APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_TRUNCATE,
                                   APR_FPROT_OS_DEFAULT, p),
                     APR_SUCCESS);
    assert_int_equal(apr_file_write_full(f, "secret-but-no-key\n", 18, NULL), APR_SUCCESS);
    apr_file_close(f);
    assert_int_equal(skv_keyring_load(&kr, &why, path, p), APR_EINVAL);
    assert_non_null(strstr(why, "line 1"));
    assert_null(strstr(why, "secret"));

    apr_file_remove(path, p);
    assert_true(APR_STATUS_IS_ENOENT(skv_keyring_load(&kr, &why, path, p)));
    assert_non_null(strstr(why, "No such file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(clear_roundtrip),
        UNIT_TEST(encrypted_roundtrip),
        UNIT_TEST(encrypted_independent),
        UNIT_TEST(key_rotation),
        UNIT_TEST(encrypted_without_ring),
        UNIT_TEST(clear_refused_with_ring),
        UNIT_TEST(tampered),
        UNIT_TEST(moved),
        UNIT_TEST(truncated_encrypted),
        UNIT_TEST(truncated_clear),
        UNIT_TEST(not_an_envelope),
        UNIT_TEST(user_with_nul),
        UNIT_TEST(times),
        UNIT_TEST(long_user),
        UNIT_TEST(keyring_forms),
        UNIT_TEST(keyring_layout),
        UNIT_TEST(keyring_errors),
        UNIT_TEST(keyring_file),
    };
    return UNIT_RUN("skv_envelope", tests);
}
