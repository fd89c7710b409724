/* s3_cloudfront — CloudFront signed URLs (see s3_cloudfront.h).
 */
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <arpa/inet.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "s3_cloudfront.h"
#include "s3_key.h"

/* CloudFront takes 2048-bit RSA public keys only: a key of another size could never verify. */
#define CF_KEY_BITS 2048
/* A PEM RSA key of 2048 bits is under 2 KB; anything far larger is not one. */
#define CF_PEM_MAX (64 * 1024)

struct s3_cf_key {
    const char *id;
    EVP_PKEY *pkey;
};

static apr_status_t free_pkey(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

/* Called by OpenSSL only for an encrypted key: refuse, and note that it was. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(int *)u = 1;
    return -1;
}

apr_status_t s3_cf_key_load(s3_cf_key_t **key, const char **why, const char *id, const char *path,
                            apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t len;
    apr_status_t rv;
    char *pem, err[120];
    BIO *bio;
    EVP_PKEY *pkey;
    int encrypted = 0;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    }
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot read %s: %s", path, apr_strerror(rv, err, sizeof(err)));
        return rv;
    }
    if (fi.size <= 0 || fi.size > CF_PEM_MAX) {
        apr_file_close(f);
        *why = apr_psprintf(p, "%s is not a PEM private key (%s)", path,
                            fi.size ? "too large" : "empty");
        return APR_EINVAL;
    }
    len = (apr_size_t)fi.size;
    pem = apr_palloc(p, len);
    rv = apr_file_read_full(f, pem, len, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        OPENSSL_cleanse(pem, len);
        *why = apr_psprintf(p, "cannot read %s: %s", path, apr_strerror(rv, err, sizeof(err)));
        return rv;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &encrypted) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(pem, len); /* the key lives on in pkey only */
    ERR_clear_error();
    if (!pkey) {
        *why = encrypted ? apr_psprintf(p,
                                        "%s holds an encrypted private key: httpd cannot ask for "
                                        "its passphrase; store it unencrypted, readable by root "
                                        "only (openssl rsa -in ENCRYPTED -out %s)",
                                        path, path)
                         : apr_psprintf(p, "%s holds no PEM private key", path);
        return APR_EINVAL;
    }
    if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA || EVP_PKEY_bits(pkey) != CF_KEY_BITS) {
        *why = apr_psprintf(p,
                            "%s holds a %d-bit %s key: CloudFront signs with 2048-bit RSA keys "
                            "only (openssl genrsa -out KEY.pem 2048)",
                            path, EVP_PKEY_bits(pkey),
                            EVP_PKEY_base_id(pkey) == EVP_PKEY_RSA ? "RSA" : "non-RSA");
        EVP_PKEY_free(pkey);
        return APR_EINVAL;
    }
    *key = apr_pcalloc(p, sizeof(**key));
    (*key)->id = apr_pstrdup(p, id);
    (*key)->pkey = pkey;
    apr_pool_cleanup_register(p, pkey, free_pkey, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

const char *s3_cf_key_id(const s3_cf_key_t *key)
{
    return key->id;
}

const char *s3_cf_base64(const void *data, apr_size_t len, apr_pool_t *p)
{
    char *out = apr_palloc(p, 4 * ((len + 2) / 3) + 1), *c;

    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    for (c = out; *c; ++c) {
        *c = *c == '+' ? '-' : *c == '=' ? '_' : *c == '/' ? '~' : *c;
    }
    return out;
}

const char *s3_cf_policy(const char *resource, apr_int64_t expires, const char *allow_ip,
                         apr_int64_t start, apr_pool_t *p)
{
    /* The conditions in the order botocore's CloudFrontSigner writes them, so that both sign the
     * same bytes; CloudFront itself parses a custom policy as JSON. */
    const char *after =
        start ? apr_psprintf(p, ",\"DateGreaterThan\":{\"AWS:EpochTime\":%" APR_INT64_T_FMT "}",
                             start)
              : "";
    const char *from =
        allow_ip ? apr_psprintf(p, ",\"IpAddress\":{\"AWS:SourceIp\":\"%s\"}", allow_ip) : "";

    return apr_psprintf(p,
                        "{\"Statement\":[{\"Resource\":\"%s\",\"Condition\":{\"DateLessThan\":"
                        "{\"AWS:EpochTime\":%" APR_INT64_T_FMT "}%s%s}}]}",
                        resource, expires, after, from);
}

/* RSA-SHA1 (PKCS#1 v1.5) of @p data with @p key. */
static apr_status_t sign_sha1(const unsigned char **sig, apr_size_t *siglen, const char **why,
                              const s3_cf_key_t *key, const char *data, apr_pool_t *p)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 0;
    unsigned char *out = NULL;
    int ok;

    ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha1(), NULL, key->pkey) == 1
         && EVP_DigestSign(ctx, NULL, &len, (const unsigned char *)data, strlen(data)) == 1
         && (out = apr_palloc(p, len))
         && EVP_DigestSign(ctx, out, &len, (const unsigned char *)data, strlen(data)) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        unsigned long e = ERR_get_error();
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        ERR_clear_error();
        *why =
            apr_psprintf(p, "cannot sign with key pair %s: %s", key->id, e ? buf : "out of memory");
        return APR_EGENERAL;
    }
    *sig = out;
    *siglen = len;
    return APR_SUCCESS;
}

apr_status_t s3_cf_sign_url(const char **signed_url, const char **why, const s3_cf_key_t *key,
                            const char *url, apr_int64_t expires, const char *allow_ip,
                            apr_pool_t *p)
{
    const char *policy = s3_cf_policy(url, expires, allow_ip, 0, p);
    const unsigned char *sig;
    apr_size_t siglen;
    apr_status_t rv;

    if ((rv = sign_sha1(&sig, &siglen, why, key, policy, p)) != APR_SUCCESS) {
        return rv;
    }
    if (allow_ip) {
        *signed_url = apr_pstrcat(p, url, "?Policy=", s3_cf_base64(policy, strlen(policy), p),
                                  "&Signature=", s3_cf_base64(sig, siglen, p),
                                  "&Key-Pair-Id=", key->id, NULL);
    }
    else {
        *signed_url = apr_psprintf(p, "%s?Expires=%" APR_INT64_T_FMT "&Signature=%s&Key-Pair-Id=%s",
                                   url, expires, s3_cf_base64(sig, siglen, p), key->id);
    }
    return APR_SUCCESS;
}

apr_int64_t s3_cf_expires(apr_time_t now, apr_int64_t lifetime)
{
    return (apr_int64_t)apr_time_sec(now) + lifetime;
}

const char *s3_cf_object_url(const char *domain, const char *key, apr_pool_t *p)
{
    return apr_pstrcat(p, "https://", domain, "/", s3_key_url_path(key, p), NULL);
}

apr_status_t s3_cf_check_cidr(const char **why, const char *cidr)
{
    const char *slash = strchr(cidr, '/');
    char addr[64], *end;
    unsigned char buf[16];
    long bits;
    int v6;

    if (!slash || slash == cidr || (apr_size_t)(slash - cidr) >= sizeof(addr)) {
        *why = "is not an address with a /prefix, e.g. 192.0.2.0/24";
        return APR_EINVAL;
    }
    memcpy(addr, cidr, (apr_size_t)(slash - cidr));
    addr[slash - cidr] = '\0';
    v6 = strchr(addr, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1) {
        *why = "has no IPv4 or IPv6 address before the /prefix";
        return APR_EINVAL;
    }
    bits = strtol(slash + 1, &end, 10);
    if (!apr_isdigit(slash[1]) || *end || bits < 0 || bits > (v6 ? 128 : 32)) {
        *why = "has a /prefix that is not a number of bits of the address";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
