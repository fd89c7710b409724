/* skv_envelope — the stored form of a session (see skv_envelope.h for the layout). */
#include <string.h>

#include <apr_base64.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "skv_envelope.h"

#define ENV_VERSION   1
#define ENV_ENCRYPTED 0x01
#define ENV_HEAD      22 /* magic, version, flags, created, written, user_len */
#define ENV_KEY_ID    4
#define ENV_NONCE     12
#define ENV_TAG       16
#define KEY_BYTES     32

typedef struct skv_key_t {
    unsigned char id[ENV_KEY_ID];
    unsigned char bytes[KEY_BYTES];
} skv_key_t;

struct skv_keyring_t {
    apr_array_header_t *keys; /* skv_key_t */
};

static apr_status_t keyring_wipe(void *data)
{
    skv_keyring_t *kr = data;

    OPENSSL_cleanse(kr->keys->elts, (size_t)kr->keys->nelts * sizeof(skv_key_t));
    return APR_SUCCESS;
}

/* One key line: 64 hex digits or base64 of 32 bytes; 0 when it is neither. */
static int key_from_text(unsigned char out[KEY_BYTES], const char *line, apr_pool_t *p)
{
    apr_size_t len = strlen(line), i;

    if (len == 2 * KEY_BYTES && strspn(line, "0123456789abcdefABCDEF") == len) {
        for (i = 0; i < KEY_BYTES; ++i) {
            char pair[3] = {line[2 * i], line[2 * i + 1], '\0'};
            out[i] = (unsigned char)strtoul(pair, NULL, 16);
        }
        return 1;
    }
    if (len == 44 && line[43] == '='
        && strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") == 43) {
        unsigned char *raw = apr_palloc(p, apr_base64_decode_len(line));
        if (apr_base64_decode_binary(raw, line) == KEY_BYTES) {
            memcpy(out, raw, KEY_BYTES);
            OPENSSL_cleanse(raw, KEY_BYTES);
            return 1;
        }
    }
    return 0;
}

apr_status_t skv_keyring_parse(skv_keyring_t **kr, const char **why, const char *text,
                               apr_pool_t *p)
{
    skv_keyring_t *ring = apr_pcalloc(p, sizeof(*ring));
    char *copy = apr_pstrdup(p, text), *line, *last = NULL;
    int lineno = 0, i;

    ring->keys = apr_array_make(p, 2, sizeof(skv_key_t));
    apr_pool_cleanup_register(p, ring, keyring_wipe, apr_pool_cleanup_null);
    for (line = copy; line; line = last) {
        skv_key_t *k;
        char *end;

        last = strchr(line, '\n');
        if (last) {
            *last++ = '\0';
        }
        ++lineno;
        line += strspn(line, " \t\r");
        for (end = line + strlen(line); end > line && strchr(" \t\r", end[-1]); --end) {
        }
        *end = '\0';
        if (!*line || *line == '#') {
            continue;
        }
        k = apr_array_push(ring->keys);
        if (!key_from_text(k->bytes, line, p)) {
            *why = apr_psprintf(p,
                                "line %d is not a key (64 hex digits or the base64 of 32 "
                                "bytes, e.g. from `openssl rand -hex 32`)",
                                lineno);
            goto fail;
        }
        {
            unsigned char md[SHA256_DIGEST_LENGTH];
            SHA256(k->bytes, KEY_BYTES, md);
            memcpy(k->id, md, ENV_KEY_ID);
        }
        for (i = 0; i < ring->keys->nelts - 1; ++i) {
            if (!memcmp(APR_ARRAY_IDX(ring->keys, i, skv_key_t).id, k->id, ENV_KEY_ID)) {
                *why = apr_psprintf(p, "line %d repeats an earlier key", lineno);
                goto fail;
            }
        }
    }
    OPENSSL_cleanse(copy, strlen(text));
    if (!ring->keys->nelts) {
        *why = "no key in the file";
        return APR_EINVAL;
    }
    *kr = ring;
    return APR_SUCCESS;
fail:
    OPENSSL_cleanse(copy, strlen(text));
    return APR_EINVAL;
}

int skv_keyring_count(const skv_keyring_t *kr)
{
    return kr->keys->nelts;
}

static void put64(unsigned char *b, apr_uint64_t v)
{
    int i;

    for (i = 7; i >= 0; --i, v >>= 8) {
        b[i] = (unsigned char)(v & 0xff);
    }
}

static apr_uint64_t get64(const unsigned char *b)
{
    apr_uint64_t v = 0;
    int i;

    for (i = 0; i < 8; ++i) {
        v = (v << 8) | b[i];
    }
    return v;
}

/* AES-256-GCM over @p in into @p out (same length) with the header and @p key as additional
 * data; @p tag is written when encrypting and checked when decrypting. */
static apr_status_t gcm(int encrypt, unsigned char *out, const unsigned char *in, apr_size_t len,
                        const unsigned char *aad, apr_size_t aad_len, const char *key,
                        const skv_key_t *k, const unsigned char *nonce, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    apr_status_t rv = APR_EGENERAL;
    int n = 0;

    if (!ctx || EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ENV_NONCE, NULL) != 1
        || EVP_CipherInit_ex(ctx, NULL, NULL, k->bytes, nonce, encrypt) != 1
        || EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1
        || EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)key, (int)strlen(key)) != 1
        || (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)) {
        goto done;
    }
    if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ENV_TAG, tag) != 1) {
        goto done;
    }
    if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1) {
        goto done;
    }
    if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ENV_TAG, tag) != 1) {
        goto done;
    }
    rv = APR_SUCCESS;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

apr_status_t skv_envelope_encode(const char **out, apr_size_t *outlen, const skv_record_t *rec,
                                 const skv_keyring_t *kr, const char *key, apr_pool_t *p)
{
    apr_size_t ulen = rec->user ? strlen(rec->user) : 0;
    apr_size_t head = ENV_HEAD + (kr ? ENV_KEY_ID + ENV_NONCE : 0);
    apr_size_t body = ulen + rec->len, total = head + body + (kr ? ENV_TAG : 0);
    unsigned char *b;

    if (ulen > 0xffff) {
        return APR_EINVAL;
    }
    b = apr_palloc(p, total + 1);
    b[0] = 'S';
    b[1] = 'K';
    b[2] = ENV_VERSION;
    b[3] = kr ? ENV_ENCRYPTED : 0;
    put64(b + 4, (apr_uint64_t)rec->created);
    put64(b + 12, (apr_uint64_t)rec->written);
    b[20] = (unsigned char)(ulen >> 8);
    b[21] = (unsigned char)(ulen & 0xff);
    if (ulen) {
        memcpy(b + head, rec->user, ulen);
    }
    if (rec->len) {
        memcpy(b + head + ulen, rec->data, rec->len);
    }
    if (kr) {
        const skv_key_t *k = &APR_ARRAY_IDX(kr->keys, 0, skv_key_t);
        unsigned char *nonce = b + ENV_HEAD + ENV_KEY_ID;

        memcpy(b + ENV_HEAD, k->id, ENV_KEY_ID);
        /* random 96-bit nonces: the GCM limit of 2^32 messages per key is far away for
         * sessions, and nothing has to be kept in step between servers */
        if (RAND_bytes(nonce, ENV_NONCE) != 1
            || gcm(1, b + head, b + head, body, b, head, key, k, nonce, b + head + body)
                   != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    b[total] = '\0';
    *out = (const char *)b;
    *outlen = total;
    return APR_SUCCESS;
}

apr_status_t skv_envelope_decode(skv_record_t *rec, const char **why, const char *in,
                                 apr_size_t inlen, const skv_keyring_t *kr, const char *key,
                                 apr_pool_t *p)
{
    const unsigned char *b = (const unsigned char *)in;
    apr_size_t head = ENV_HEAD, ulen, body;
    unsigned char *plain;
    int encrypted;

    if (inlen < ENV_HEAD || b[0] != 'S' || b[1] != 'K' || b[2] != ENV_VERSION) {
        *why = "not a session envelope (written by something else?)";
        return APR_EINVAL;
    }
    encrypted = b[3] & ENV_ENCRYPTED;
    if (kr && !encrypted) {
        /* the flags byte is authenticated only inside an encrypted envelope: accepting a clear
         * one here would let anyone who can write to the backend forge a session (user and
         * times included), or strip the encryption off a stored one by clearing bit 0 */
        *why = "the session is not encrypted and a SessionKVEncryptionKeyFile is configured";
        return APR_EINVAL;
    }
    if (encrypted) {
        head += ENV_KEY_ID + ENV_NONCE;
    }
    ulen = ((apr_size_t)b[20] << 8) | b[21];
    if (inlen < head + ulen + (encrypted ? ENV_TAG : 0)) {
        *why = "truncated envelope";
        return APR_EINVAL;
    }
    body = inlen - head - (encrypted ? ENV_TAG : 0);
    plain = apr_palloc(p, body + 1);
    if (encrypted) {
        const skv_key_t *k = NULL;
        int i;

        if (!kr) {
            *why = "the session is encrypted and no SessionKVEncryptionKeyFile is configured";
            return APR_EINVAL;
        }
        for (i = 0; i < kr->keys->nelts && !k; ++i) {
            if (!memcmp(APR_ARRAY_IDX(kr->keys, i, skv_key_t).id, b + ENV_HEAD, ENV_KEY_ID)) {
                k = &APR_ARRAY_IDX(kr->keys, i, skv_key_t);
            }
        }
        if (!k) {
            *why = "the session was encrypted with a key that is not in the key file";
            return APR_EINVAL;
        }
        if (gcm(0, plain, b + head, body, b, head, key, k, b + ENV_HEAD + ENV_KEY_ID,
                (unsigned char *)b + head + body)
            != APR_SUCCESS) {
            *why = "the session does not decrypt (tampered with, or stored under another key)";
            return APR_EINVAL;
        }
    }
    else {
        memcpy(plain, b + head, body);
    }
    /* the encoder writes a C string's length: a NUL inside would make it another name */
    if (memchr(plain, '\0', ulen)) {
        *why = "malformed envelope: the user name holds a NUL byte";
        return APR_EINVAL;
    }
    plain[body] = '\0';
    rec->created = (apr_time_t)get64(b + 4);
    rec->written = (apr_time_t)get64(b + 12);
    rec->user = ulen ? apr_pstrmemdup(p, (const char *)plain, ulen) : NULL;
    rec->data = (const char *)plain + ulen;
    rec->len = body - ulen;
    return APR_SUCCESS;
}

apr_status_t skv_keyring_load(skv_keyring_t **kr, const char **why, const char *path, apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n = 0;
    apr_status_t rv;
    char *text = NULL;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p);
    if (rv == APR_SUCCESS) {
        if ((rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) == APR_SUCCESS) {
            n = (apr_size_t)fi.size;
            text = apr_pcalloc(p, n + 1);
            rv = apr_file_read_full(f, text, n, &n);
        }
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        char buf[120];

        *why = apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
        return rv;
    }
    rv = skv_keyring_parse(kr, why, text, p);
    OPENSSL_cleanse(text, n); /* the keys stay in the ring only */
    return rv;
}
