/* s3_memacct — S3MemoryLimit's accounting: the spool memory that the uploads of all child
 * processes of a server have reserved, in shared memory, kept per process so that the total
 * counts only processes that still exist.
 *
 * One counter for the whole server (what came before) kept the reservations of a child that was
 * killed during an upload (kill -9, the OOM killer, a crash) until a full restart: its uploads
 * never released them, and the limit admitted fewer uploads for good. Here a process adds to and
 * subtracts from a slot that carries its pid; the total skips, and frees, the slots of processes
 * that are gone, and a process that needs a slot takes over a free one or one of a process that
 * is gone. Lock-free (__atomic built-ins): a process may die at any instruction, holding any lock.
 *
 * What it cannot see: a pid taken again by a later process before anybody looked. Until that
 * process exits too, the dead one's reservation then counts as the new one's (a pid comes back
 * only after the kernel went through its whole pid range, pid_max).
 *
 * Pure core: APR and POSIX, no httpd. The liveness check is injected, so the unit tests can let
 * processes die.
 */
#ifndef S3_MEMACCT_H
#define S3_MEMACCT_H

#include <apr_errno.h>
#include <apr_pools.h>

/** The accounting in a shared segment (opaque: it lives at the segment's base address). */
typedef struct s3_memacct_t s3_memacct_t;

/** Whether process @p pid still exists (a zombie still does, until its parent reaps it). */
typedef int s3_memacct_alive_fn(apr_int64_t pid);

/** The bytes of shared memory for @p nslots process slots. */
apr_size_t s3_memacct_size(int nslots);

/**
 * Lay the accounting out in fresh shared memory of s3_memacct_size(@p nslots) bytes at @p base:
 * no slot taken, nothing reserved. The number of slots is kept in the segment.
 * @param nslots at least the number of processes that may reserve at once, with room to spare:
 *        two threads of a process may each take a slot
 */
s3_memacct_t *s3_memacct_init(void *base, int nslots);

/**
 * Reserve @p bytes for process @p pid if the reservations of all processes that still exist,
 * these bytes included, stay within @p cap. The slots of processes that are gone are freed on
 * the way. Two processes that reserve at the same time may both be refused where one would have
 * fitted: never both admitted over the cap.
 * @param slot out on success: pass it to s3_memacct_release()
 * @return APR_SUCCESS; APR_ENOSPC over the cap; APR_EAGAIN when every slot belongs to a process
 *         that exists (more processes than slots)
 */
apr_status_t s3_memacct_reserve(int *slot, s3_memacct_t *m, apr_int64_t pid, apr_uint64_t bytes,
                                apr_uint64_t cap, s3_memacct_alive_fn *alive);

/** Give back @p bytes that s3_memacct_reserve() reserved in @p slot. */
void s3_memacct_release(s3_memacct_t *m, int slot, apr_uint64_t bytes);

/**
 * The bytes reserved by the processes that exist, as seen by process @p pid; the slots of those
 * that are gone are freed on the way.
 */
apr_uint64_t s3_memacct_used(s3_memacct_t *m, apr_int64_t pid, s3_memacct_alive_fn *alive);

/** The liveness check for real processes: kill(pid, 0). */
int s3_memacct_pid_alive(apr_int64_t pid);

#endif /* S3_MEMACCT_H */
