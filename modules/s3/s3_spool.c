/* s3_spool — a part spool in memory, then in a temporary file, with running digests (see
 * s3_spool.h).
 *
 * The memory buffer is malloc'ed and grown with realloc, freed by the pool cleanup, rather than
 * taken from the pool: a pool keeps every outgrown buffer until the request ends, which would
 * double the memory a spool really needs.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_base64.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "s3_crc32.h"
#include "s3_spool.h"

/* The first allocation of the memory buffer; it doubles from there up to the limit. */
#define S3_SPOOL_FIRST_BUF (64 * 1024)

struct s3_spool_t {
    apr_pool_t *pool;
    const char *tmp_dir;
    apr_size_t mem_limit; /* bytes */
    char *mem;            /* malloc'ed, NULL until the first write */
    apr_size_t mem_cap;   /* bytes allocated at mem */
    apr_size_t mem_len;   /* bytes held in mem while not on disk */
    apr_file_t *file;     /* NULL until the first spill; kept (truncated) across resets */
    int on_disk;          /* the bytes are in file, mem is unused */
    int file_at_read;     /* the file offset is at rpos, not at the end */
    apr_off_t size;       /* bytes written */
    apr_off_t rpos;       /* bytes read since the last rewind */
    unsigned int digests; /* S3_SPOOL_SHA256 | S3_SPOOL_CRC32: the ones kept */
    EVP_MD_CTX *sha256;   /* NULL unless S3_SPOOL_SHA256 */
    apr_uint32_t crc32;   /* the running CRC32, when S3_SPOOL_CRC32 */
};

static apr_status_t spool_cleanup(void *data)
{
    s3_spool_t *sp = data;

    free(sp->mem);
    sp->mem = NULL;
    EVP_MD_CTX_free(sp->sha256);
    sp->sha256 = NULL;
    return APR_SUCCESS;
}

static apr_status_t digests_init(s3_spool_t *sp)
{
    if (sp->sha256 && !EVP_DigestInit_ex(sp->sha256, EVP_sha256(), NULL)) {
        return APR_EGENERAL;
    }
    sp->crc32 = 0;
    return APR_SUCCESS;
}

apr_status_t s3_spool_create(s3_spool_t **out, apr_size_t mem_limit, const char *tmp_dir,
                             unsigned int digests, apr_pool_t *p)
{
    s3_spool_t *sp = apr_pcalloc(p, sizeof(*sp));
    apr_status_t rv;

    if (!tmp_dir && (rv = apr_temp_dir_get(&tmp_dir, p)) != APR_SUCCESS) {
        return rv;
    }
    sp->pool = p;
    sp->tmp_dir = apr_pstrdup(p, tmp_dir);
    sp->mem_limit = mem_limit;
    sp->digests = digests;
    apr_pool_cleanup_register(p, sp, spool_cleanup, apr_pool_cleanup_null);
    if ((digests & S3_SPOOL_SHA256) && !(sp->sha256 = EVP_MD_CTX_new())) {
        return APR_ENOMEM;
    }
    if ((rv = digests_init(sp)) != APR_SUCCESS) {
        return rv;
    }
    *out = sp;
    return APR_SUCCESS;
}

/* Room for @p need bytes (at most mem_limit) in the memory buffer. */
static apr_status_t mem_reserve(s3_spool_t *sp, apr_size_t need)
{
    apr_size_t cap = sp->mem_cap ? sp->mem_cap : S3_SPOOL_FIRST_BUF;
    char *mem;

    if (need <= sp->mem_cap) {
        return APR_SUCCESS;
    }
    while (cap < need) {
        cap = cap > sp->mem_limit / 2 ? sp->mem_limit : cap * 2;
    }
    if (cap > sp->mem_limit) {
        cap = sp->mem_limit;
    }
    if (!(mem = realloc(sp->mem, cap))) {
        return APR_ENOMEM;
    }
    sp->mem = mem;
    sp->mem_cap = cap;
    return APR_SUCCESS;
}

/* Move the bytes to the file, making it on the first spill. */
static apr_status_t spill(s3_spool_t *sp)
{
    apr_status_t rv;

    if (!sp->file) {
        char *tmpl = apr_pstrcat(sp->pool, sp->tmp_dir, "/lampfarm-s3-XXXXXX", NULL);

        rv = apr_file_mktemp(&sp->file, tmpl,
                             APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                                 | APR_FOPEN_BINARY | APR_FOPEN_DELONCLOSE,
                             sp->pool);
        if (rv != APR_SUCCESS) {
            sp->file = NULL;
            return rv;
        }
    }
    /* the file is empty here (new or truncated by a reset) and its offset at 0 */
    if (sp->mem_len && (rv = apr_file_write_full(sp->file, sp->mem, sp->mem_len, NULL))) {
        return rv;
    }
    sp->on_disk = 1;
    sp->file_at_read = 0;
    sp->mem_len = 0;
    return APR_SUCCESS;
}

apr_status_t s3_spool_write(s3_spool_t *sp, const char *data, apr_size_t len)
{
    apr_status_t rv;

    if (!len) {
        return APR_SUCCESS;
    }
    if (!sp->on_disk && len <= sp->mem_limit - sp->mem_len) {
        if ((rv = mem_reserve(sp, sp->mem_len + len)) != APR_SUCCESS) {
            return rv;
        }
        memcpy(sp->mem + sp->mem_len, data, len);
        sp->mem_len += len;
    }
    else {
        if (!sp->on_disk && (rv = spill(sp)) != APR_SUCCESS) {
            return rv;
        }
        if (sp->file_at_read) {
            apr_off_t end = 0;
            if ((rv = apr_file_seek(sp->file, APR_END, &end)) != APR_SUCCESS) {
                return rv;
            }
            sp->file_at_read = 0;
        }
        if ((rv = apr_file_write_full(sp->file, data, len, NULL)) != APR_SUCCESS) {
            return rv;
        }
    }
    if (sp->sha256 && !EVP_DigestUpdate(sp->sha256, data, len)) {
        return APR_EGENERAL;
    }
    if (sp->digests & S3_SPOOL_CRC32) {
        sp->crc32 = s3_crc32_update(sp->crc32, data, len);
    }
    sp->size += (apr_off_t)len;
    return APR_SUCCESS;
}

apr_off_t s3_spool_size(const s3_spool_t *sp)
{
    return sp->size;
}

int s3_spool_on_disk(const s3_spool_t *sp)
{
    return sp->on_disk;
}

/* Finish a copy of @p running, leaving it going on. */
static apr_status_t digest_peek(unsigned char *md, unsigned int *mdlen, const EVP_MD_CTX *running)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    apr_status_t rv = APR_EGENERAL;

    if (c && EVP_MD_CTX_copy_ex(c, running) && EVP_DigestFinal_ex(c, md, mdlen)) {
        rv = APR_SUCCESS;
    }
    EVP_MD_CTX_free(c);
    return rv;
}

apr_status_t s3_spool_sha256(const s3_spool_t *sp, const char **sha256_hex, apr_pool_t *p)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen, i;
    apr_status_t rv;

    char *h;

    if (!sp->sha256) {
        return APR_EINVAL;
    }
    if ((rv = digest_peek(md, &mdlen, sp->sha256)) != APR_SUCCESS) {
        return rv;
    }
    h = apr_palloc(p, 2 * mdlen + 1);
    for (i = 0; i < mdlen; i++) {
        h[2 * i] = hex[md[i] >> 4];
        h[2 * i + 1] = hex[md[i] & 0x0f];
    }
    h[2 * mdlen] = '\0';
    *sha256_hex = h;
    return APR_SUCCESS;
}

apr_status_t s3_spool_crc32(const s3_spool_t *sp, const char **crc32_b64, apr_pool_t *p)
{
    if (!(sp->digests & S3_SPOOL_CRC32)) {
        return APR_EINVAL;
    }
    *crc32_b64 = s3_crc32_b64(sp->crc32, p);
    return APR_SUCCESS;
}

apr_status_t s3_spool_read(char *buf, apr_size_t *len, void *spool)
{
    s3_spool_t *sp = spool;
    apr_size_t n = *len;
    apr_status_t rv;

    if ((apr_off_t)n > sp->size - sp->rpos) {
        n = (apr_size_t)(sp->size - sp->rpos);
    }
    if (n == 0) {
        *len = 0;
        return APR_SUCCESS;
    }
    if (!sp->on_disk) {
        memcpy(buf, sp->mem + sp->rpos, n);
    }
    else {
        if (!sp->file_at_read) {
            apr_off_t at = sp->rpos;
            if ((rv = apr_file_seek(sp->file, APR_SET, &at)) != APR_SUCCESS) {
                return rv;
            }
            sp->file_at_read = 1;
        }
        rv = apr_file_read(sp->file, buf, &n);
        if (rv == APR_EOF) {
            /* shorter than written: someone truncated it under us */
            return APR_EGENERAL;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    sp->rpos += (apr_off_t)n;
    *len = n;
    return APR_SUCCESS;
}

apr_status_t s3_spool_rewind(void *spool)
{
    s3_spool_t *sp = spool;

    sp->rpos = 0;
    sp->file_at_read = 0; /* the next read seeks */
    return APR_SUCCESS;
}

apr_status_t s3_spool_reset(s3_spool_t *sp)
{
    apr_status_t rv;

    if (sp->file) {
        apr_off_t zero = 0;
        if ((rv = apr_file_trunc(sp->file, 0)) != APR_SUCCESS
            || (rv = apr_file_seek(sp->file, APR_SET, &zero)) != APR_SUCCESS) {
            return rv;
        }
    }
    sp->on_disk = 0;
    sp->file_at_read = 0;
    sp->mem_len = 0;
    sp->size = 0;
    sp->rpos = 0;
    return digests_init(sp);
}
