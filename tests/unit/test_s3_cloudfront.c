/* Unit tests of modules/s3/s3_cloudfront.c and of the CloudFront part of s3_conf.c: a signed URL
 * whose signature OpenSSL verifies with the public key over the exact policy CloudFront
 * rebuilds, CloudFront's URL-safe base64, the expiry from an injected clock, the custom policy,
 * and the clear errors for a missing, foreign, encrypted, non-RSA or short key file. */
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "lf_conf.h"
#include "s3_cloudfront.h"
#include "s3_conf.h"

/* One RSA 2048 key for the whole run (generating one takes a moment). */
static EVP_PKEY *test_key;

static const char *pem_of(EVP_PKEY *k, const EVP_CIPHER *enc, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    const char *s;

    assert_int_equal(PEM_write_bio_PrivateKey(bio, k, enc, (unsigned char *)(enc ? "pw" : NULL),
                                              enc ? 2 : 0, NULL, NULL),
                     1);
    len = BIO_get_mem_data(bio, &data);
    s = apr_pstrmemdup(p, data, (apr_size_t)len);
    BIO_free(bio);
    return s;
}

static const char *key_file(EVP_PKEY *k, const EVP_CIPHER *enc, apr_pool_t *p)
{
    return unit_write_temp(p, pem_of(k, enc, p));
}

static s3_cf_key_t *load_test_key(apr_pool_t *p)
{
    s3_cf_key_t *key = NULL;
    const char *why = NULL, *path = key_file(test_key, NULL, p);

    assert_int_equal(s3_cf_key_load(&key, &why, "K2JCJMDEHXQW5F", path, p), APR_SUCCESS);
    unlink(path);
    return key;
}

/* The bytes of CloudFront's URL-safe base64 @p s (the test's own decoder). */
static unsigned char *unbase64(apr_size_t *len, const char *s, apr_pool_t *p)
{
    char *std = apr_pstrdup(p, s), *c;
    unsigned char *out = apr_palloc(p, strlen(s));
    int n;

    for (c = std; *c; ++c) {
        assert_true(*c != '+' && *c != '=' && *c != '/'); /* none of base64's own */
        *c = *c == '-' ? '+' : *c == '_' ? '=' : *c == '~' ? '/' : *c;
    }
    n = EVP_DecodeBlock(out, (unsigned char *)std, (int)strlen(std));
    assert_true(n >= 0);
    *len = (apr_size_t)n - (strlen(s) && s[strlen(s) - 1] == '_')
           - (strlen(s) > 1 && s[strlen(s) - 2] == '_');
    return out;
}

/* The value of @p name in the query of @p url. */
static const char *param(const char *url, const char *name, apr_pool_t *p)
{
    const char *q = strchr(url, '?');
    char *copy, *tok, *last;

    assert_non_null(q);
    copy = apr_pstrdup(p, q + 1);
    for (tok = apr_strtok(copy, "&", &last); tok; tok = apr_strtok(NULL, "&", &last)) {
        apr_size_t n = strlen(name);
        if (!strncmp(tok, name, n) && tok[n] == '=') {
            return tok + n + 1;
        }
    }
    return NULL;
}

static int verifies(const char *policy, const unsigned char *sig, apr_size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok =
        EVP_DigestVerifyInit(ctx, NULL, EVP_sha1(), NULL, test_key) == 1
        && EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)policy, strlen(policy)) == 1;

    EVP_MD_CTX_free(ctx);
    return ok;
}

static void canned_policy_signed_url(void **state)
{
    apr_pool_t *p = *state;
    s3_cf_key_t *key = load_test_key(p);
    const char *url, *why = NULL, *res = "https://d111111abcdef8.cloudfront.net/pics/cat%201.jpg";
    const char *policy;
    const unsigned char *sig;
    apr_size_t siglen;

    assert_string_equal(s3_cf_object_url("d111111abcdef8.cloudfront.net", "pics/cat 1.jpg", p),
                        res);
    assert_string_equal(s3_cf_key_id(key), "K2JCJMDEHXQW5F");
    assert_int_equal(s3_cf_sign_url(&url, &why, key, res, 1767225600, NULL, p), APR_SUCCESS);
    assert_true(!strncmp(url, res, strlen(res)) && url[strlen(res)] == '?');
    assert_string_equal(param(url, "Expires", p), "1767225600");
    assert_string_equal(param(url, "Key-Pair-Id", p), "K2JCJMDEHXQW5F");
    assert_null(param(url, "Policy", p));
    /* the policy CloudFront rebuilds from the URL, byte for byte */
    policy = s3_cf_policy(res, 1767225600, NULL, 0, p);
    assert_string_equal(policy, "{\"Statement\":[{\"Resource\":\"https://d111111abcdef8.cloudfront"
                                ".net/pics/cat%201.jpg\",\"Condition\":{\"DateLessThan\":{\"AWS:"
                                "EpochTime\":1767225600}}}]}");
    sig = unbase64(&siglen, param(url, "Signature", p), p);
    assert_int_equal(siglen, 256);
    assert_true(verifies(policy, sig, siglen));
    /* another expiry or resource does not verify */
    assert_false(verifies(s3_cf_policy(res, 1767225601, NULL, 0, p), sig, siglen));
    assert_false(verifies(
        s3_cf_policy("https://d111111abcdef8.cloudfront.net/pics/dog.jpg", 1767225600, NULL, 0, p),
        sig, siglen));
}

static void custom_policy_signed_url(void **state)
{
    apr_pool_t *p = *state;
    s3_cf_key_t *key = load_test_key(p);
    const char *url, *why = NULL, *res = "https://cdn.example.com/a.png", *policy;
    const unsigned char *sig;
    apr_size_t siglen, plen;

    assert_int_equal(s3_cf_sign_url(&url, &why, key, res, 1767225600, "192.0.2.0/24", p),
                     APR_SUCCESS);
    assert_null(param(url, "Expires", p));
    policy = (const char *)unbase64(&plen, param(url, "Policy", p), p);
    policy = apr_pstrmemdup(p, policy, plen);
    assert_string_equal(policy, "{\"Statement\":[{\"Resource\":\"https://cdn.example.com/a.png\","
                                "\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":1767225600},"
                                "\"IpAddress\":{\"AWS:SourceIp\":\"192.0.2.0/24\"}}}]}");
    sig = unbase64(&siglen, param(url, "Signature", p), p);
    assert_true(verifies(policy, sig, siglen));
    /* a start time, in botocore's order of the conditions */
    assert_string_equal(s3_cf_policy(res, 20, "::1/128", 10, p),
                        "{\"Statement\":[{\"Resource\":\"https://cdn.example.com/a.png\","
                        "\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":20},"
                        "\"DateGreaterThan\":{\"AWS:EpochTime\":10},"
                        "\"IpAddress\":{\"AWS:SourceIp\":\"::1/128\"}}}]}");
}

static void url_safe_base64(void **state)
{
    apr_pool_t *p = *state;
    const unsigned char plus_slash[] = {0xfb, 0xff, 0xbf}; /* "+/+/" in base64 */
    unsigned char all[256];
    const char *s;
    apr_size_t i;

    assert_string_equal(s3_cf_base64(plus_slash, 3, p), "-~-~");
    assert_string_equal(s3_cf_base64("a", 1, p), "YQ__");
    assert_string_equal(s3_cf_base64("ab", 2, p), "YWI_");
    assert_string_equal(s3_cf_base64("", 0, p), "");
    for (i = 0; i < sizeof(all); ++i) {
        all[i] = (unsigned char)i;
    }
    s = s3_cf_base64(all, sizeof(all), p);
    assert_int_equal(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~"),
                     strlen(s));
}

static void expiry_from_the_clock(void **state)
{
    (void)state;
    /* signed at 1767225600.75 s for 300 s: whole seconds, from the clock given */
    assert_int_equal(s3_cf_expires(apr_time_from_sec(1767225600) + 750000, 300), 1767225900);
    assert_int_equal(s3_cf_expires(apr_time_from_sec(1000), 7 * 86400), 1000 + 7 * 86400);
}

/* The reason s3_cf_key_load() gives for @p path (the test fails if it loads). */
static const char *load_error(const char *path, apr_pool_t *p)
{
    s3_cf_key_t *key;
    const char *why = NULL;

    assert_int_not_equal(s3_cf_key_load(&key, &why, "K1", path, p), APR_SUCCESS);
    assert_non_null(why);
    assert_null(strstr(why, "PRIVATE KEY")); /* never the key file's content */
    return why;
}

static void bad_key_files(void **state)
{
    apr_pool_t *p = *state;
    EVP_PKEY *ec = EVP_EC_gen("P-256"), *small = EVP_RSA_gen(1024);
    const char *path;

    assert_non_null(strstr(load_error("/nonexistent/cf.pem", p),
                           "cannot read /nonexistent/cf.pem: No such file or directory"));
    path = unit_write_temp(p, "not a key\n");
    assert_string_equal(load_error(path, p),
                        apr_pstrcat(p, path, " holds no PEM private key", NULL));
    unlink(path);
    path = unit_write_temp(p, "");
    assert_string_equal(load_error(path, p),
                        apr_pstrcat(p, path, " is not a PEM private key (empty)", NULL));
    unlink(path);
    path = key_file(test_key, EVP_aes_256_cbc(), p);
    assert_non_null(strstr(load_error(path, p), " holds an encrypted private key: httpd cannot "
                                                "ask for its passphrase"));
    unlink(path);
    path = key_file(ec, NULL, p);
    assert_string_equal(load_error(path, p),
                        apr_pstrcat(p, path,
                                    " holds a 256-bit non-RSA key: CloudFront signs with 2048-bit "
                                    "RSA keys only (openssl genrsa -out KEY.pem 2048)",
                                    NULL));
    unlink(path);
    path = key_file(small, NULL, p);
    assert_non_null(strstr(load_error(path, p), " holds a 1024-bit RSA key"));
    unlink(path);
    /* a public key is no private key */
    {
        BIO *bio = BIO_new(BIO_s_mem());
        char *data;
        long len;
        PEM_write_bio_PUBKEY(bio, test_key);
        len = BIO_get_mem_data(bio, &data);
        path = unit_write_temp(p, apr_pstrmemdup(p, data, (apr_size_t)len));
        BIO_free(bio);
        assert_string_equal(load_error(path, p),
                            apr_pstrcat(p, path, " holds no PEM private key", NULL));
        unlink(path);
    }
    EVP_PKEY_free(ec);
    EVP_PKEY_free(small);
}

/* --- the directives (s3_conf.c) ---------------------------------------------------------- */

/* The message of a value @p set must refuse. */
static const char *refused(s3_conf_set_fn *set, const char *arg, apr_pool_t *p)
{
    s3_dir_conf *c = s3_conf_create(p);
    const char *why = NULL;

    if (set(c, &why, arg, p) != APR_EINVAL) {
        fail_msg("accepted \"%s\"", arg);
    }
    return why;
}

static void directives(void **state)
{
    apr_pool_t *p = *state;
    s3_dir_conf *c = s3_conf_create(p);
    const char *why = NULL, *path = key_file(test_key, NULL, p);

    assert_int_equal(s3_conf_set_cf_domain(c, &why, "d111111abcdef8.cloudfront.net", p),
                     APR_SUCCESS);
    assert_int_equal(s3_conf_set_cf_domain(c, &why, "localhost:8443", p), APR_SUCCESS);
    assert_string_equal(refused(s3_conf_set_cf_domain, "https://d1.cloudfront.net", p),
                        "S3CloudFrontDomain: 'https://d1.cloudfront.net' is not a host name such "
                        "as d111111abcdef8.cloudfront.net (no scheme, no path)");
    refused(s3_conf_set_cf_domain, "d1.cloudfront.net/x", p);
    refused(s3_conf_set_cf_domain, "a\"b", p);
    refused(s3_conf_set_cf_domain, ":80", p);
    assert_int_equal(s3_conf_set_cf_allow_ip(c, &why, "192.0.2.0/24", p), APR_SUCCESS);
    assert_int_equal(s3_conf_set_cf_allow_ip(c, &why, "2001:db8::/32", p), APR_SUCCESS);
    assert_string_equal(refused(s3_conf_set_cf_allow_ip, "192.0.2.1", p),
                        "S3CloudFrontAllowIP: '192.0.2.1' is not an address with a /prefix, e.g. "
                        "192.0.2.0/24");
    refused(s3_conf_set_cf_allow_ip, "192.0.2.0/33", p);
    refused(s3_conf_set_cf_allow_ip, "host/24", p);
    refused(s3_conf_set_cf_allow_ip, "192.0.2.0/", p);

    assert_int_equal(s3_conf_add_cf_key(c, &why, "K2JCJMDEHXQW5F", path, p), APR_SUCCESS);
    assert_int_equal(s3_conf_add_cf_key(c, &why, "K3NEXTKEY", path, p), APR_SUCCESS);
    assert_int_equal(s3_conf_add_cf_key(c, &why, "K4", path, p), APR_EINVAL);
    assert_string_equal(why, "S3CloudFrontKey: at most 2 per section: the key that signs, then "
                             "the next one during a rotation");
    assert_int_equal(c->cf_keys->nelts, 2);
    assert_string_equal(s3_cf_key_id(APR_ARRAY_IDX(c->cf_keys, 0, s3_cf_key_t *)),
                        "K2JCJMDEHXQW5F");
    c = s3_conf_create(p);
    assert_int_equal(s3_conf_add_cf_key(c, &why, "k-lower", path, p), APR_EINVAL);
    assert_string_equal(why, "S3CloudFrontKey: 'k-lower' is not a CloudFront public key id such "
                             "as K2JCJMDEHXQW5F (upper-case letters and digits)");
    assert_int_not_equal(s3_conf_add_cf_key(c, &why, "K1", "/nonexistent.pem", p), APR_SUCCESS);
    assert_string_equal(why, "S3CloudFrontKey K1: cannot read /nonexistent.pem: No such file or "
                             "directory");
    assert_null(c->cf_keys);
    unlink(path);
}

/* What s3_conf_check() says of @p c with the defaults applied, or NULL. */
static const char *check(const s3_dir_conf *c, apr_pool_t *p)
{
    const char *why = NULL;

    if (s3_conf_check(&why, s3_conf_effective(c, p), p) == APR_SUCCESS) {
        return NULL;
    }
    return why;
}

static void checks_across_fields(void **state)
{
    apr_pool_t *p = *state;
    s3_dir_conf *c = s3_conf_create(p), *base = s3_conf_create(p);
    const char *why, *path = key_file(test_key, NULL, p);

    c->bucket = "media";
    c->cf_domain = "d1.cloudfront.net";
    c->download = S3_DL_REDIRECT;
    assert_string_equal(check(c, p), "S3CloudFrontDomain d1.cloudfront.net without "
                                     "S3CloudFrontKey: CloudFront answers 403 to unsigned URLs of "
                                     "a distribution that restricts viewer access");
    assert_int_equal(s3_conf_add_cf_key(c, &why, "K1", path, p), APR_SUCCESS);
    assert_null(check(c, p));
    c->download = LF_UNSET; /* stream, the default */
    assert_string_equal(check(c, p),
                        "S3CloudFrontDomain needs S3Download redirect: only redirects go to "
                        "CloudFront");
    c->download = S3_DL_REDIRECT;
    c->cf_domain = NULL;
    assert_string_equal(check(c, p),
                        "S3CloudFrontKey or S3CloudFrontAllowIP without S3CloudFrontDomain");
    /* a section inherits the server's CloudFront settings, and may set its own keys */
    base->cf_domain = "d1.cloudfront.net";
    base->cf_keys = c->cf_keys;
    base->download = S3_DL_REDIRECT;
    c = s3_conf_merge(base, s3_conf_create(p), p);
    assert_string_equal(c->cf_domain, "d1.cloudfront.net");
    assert_ptr_equal(c->cf_keys, base->cf_keys);
    assert_null(check(c, p));
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(canned_policy_signed_url),
        UNIT_TEST(custom_policy_signed_url),
        UNIT_TEST(url_safe_base64),
        UNIT_TEST(expiry_from_the_clock),
        UNIT_TEST(bad_key_files),
        UNIT_TEST(directives),
        UNIT_TEST(checks_across_fields),
    };
    int failed;

    /* one key for every test: generating an RSA key takes a moment */
    if (!(test_key = EVP_RSA_gen(2048))) {
        return 1;
    }
    failed = UNIT_RUN("s3_cloudfront", tests);
    EVP_PKEY_free(test_key);
    return failed;
}
