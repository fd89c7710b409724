/* skv_envelope — what mod_session_kv stores under a session's backend key.
 *
 * The session itself is mod_session's encoded text; the envelope adds what the module needs to
 * enforce its timeouts and to notice a change of user, and optionally encrypts (AES-256-GCM)
 * everything that is not needed to find the key. Layout, all integers big-endian:
 *
 *     0   "SK"          magic
 *     2   1             format version
 *     3   flags         bit 0: encrypted
 *     4   created       8 bytes, Unix microseconds: the session's first write (absolute timeout)
 *     12  written       8 bytes, Unix microseconds: the last write (idle timeout, touch interval)
 *     20  user_len      2 bytes: length of the user name at the start of the body
 *     22  [key_id 4, nonce 12]    only when encrypted
 *         body          user name, then the session text; AES-256-GCM ciphertext when encrypted
 *         [tag 16]      only when encrypted
 *
 * Encryption authenticates the header and the backend key as additional data, so an envelope
 * cannot be moved to another session's key, and its times cannot be changed, without the
 * decryption failing. The key ring holds several keys: the first encrypts, all decrypt (key
 * rotation: add the new key first, keep the old one until every session written with it has
 * expired). A key's id is the first 4 bytes of its SHA-256.
 * Pure core: APR and OpenSSL.
 */
#ifndef SKV_ENVELOPE_H
#define SKV_ENVELOPE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/** A stored session, decoded. */
typedef struct skv_record_t {
    apr_time_t created; /* first write */
    apr_time_t written; /* last write */
    const char *user;   /* the authenticated user at the last write; NULL = none */
    const char *data;   /* mod_session's encoded session, NUL-terminated */
    apr_size_t len;     /* bytes of data */
} skv_record_t;

/** Encryption keys; the first encrypts. */
typedef struct skv_keyring_t skv_keyring_t;

/**
 * Read a key ring from the text of a key file: one key per line, 64 hex digits or the base64
 * of 32 bytes; empty lines and lines starting with '#' are skipped.
 * @param kr out, allocated from @p p (the key bytes are wiped by a cleanup on @p p)
 * @param why out on error: what is wrong, never a key, from @p p
 * @return APR_SUCCESS, or APR_EINVAL (no key, a line that is not a key, two equal keys)
 */
apr_status_t skv_keyring_parse(skv_keyring_t **kr, const char **why, const char *text,
                               apr_pool_t *p);

/**
 * Read a key ring from the key file @p path (skv_keyring_parse()).
 * @param why out on error: the file's error or what is wrong with its text, never a key, from
 *        @p p
 * @return APR_SUCCESS; the file's error; APR_EINVAL as skv_keyring_parse()
 */
apr_status_t skv_keyring_load(skv_keyring_t **kr, const char **why, const char *path,
                              apr_pool_t *p);

/** The number of keys in @p kr. */
int skv_keyring_count(const skv_keyring_t *kr);

/**
 * Encode @p rec for the backend key @p key.
 * @param out out: the envelope, allocated from @p p
 * @param kr the key ring, or NULL to store the body in clear
 * @return APR_SUCCESS, APR_EINVAL (user name longer than 65535 bytes), APR_EGENERAL (OpenSSL)
 */
apr_status_t skv_envelope_encode(const char **out, apr_size_t *outlen, const skv_record_t *rec,
                                 const skv_keyring_t *kr, const char *key, apr_pool_t *p);

/**
 * Decode an envelope read from the backend key @p key.
 * @param rec out: the record, its strings allocated from @p p
 * @param why out on error: a short reason for the log, static or from @p p
 * @param kr the key ring, or NULL when not configured (then an encrypted envelope is an error);
 *        with a key ring a clear envelope is an error too (else clearing the flag byte would
 *        pass forged text as a session), so turning encryption on ends the existing sessions
 * @return APR_SUCCESS, or APR_EINVAL (not an envelope, truncated, a NUL byte in the user name,
 *         unknown key, failed authentication)
 */
apr_status_t skv_envelope_decode(skv_record_t *rec, const char **why, const char *in,
                                 apr_size_t inlen, const skv_keyring_t *kr, const char *key,
                                 apr_pool_t *p);

#endif /* SKV_ENVELOPE_H */
