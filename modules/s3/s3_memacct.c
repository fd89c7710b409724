/* s3_memacct — S3MemoryLimit's accounting per process, in shared memory (see s3_memacct.h).
 *
 * A slot is {pid, bytes}. Only its owner (the threads of process pid) adds to or subtracts from
 * its bytes. Taking a slot over (a free one, or one whose process is gone) goes through a marker:
 * the taker swaps the pid it saw for its own pid negated, empties the bytes, then writes its pid.
 * While the marker is there, nobody counts the slot, and the taker's own threads do not find it
 * as theirs, so no reservation lands in bytes that are about to be emptied. A taker killed in
 * between leaves its marker, which is found dead like any other pid.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "s3_memacct.h"

typedef struct memacct_slot_t {
    apr_int64_t pid;    /* owner; 0: free; < 0: being taken over by process -pid */
    apr_uint64_t bytes; /* reserved by the owner */
} memacct_slot_t;

struct s3_memacct_t {
    apr_uint32_t nslots;
    apr_uint32_t unused;    /* keeps the slots 8-byte aligned */
    memacct_slot_t slots[]; /* nslots of them */
};

apr_size_t s3_memacct_size(int nslots)
{
    return sizeof(s3_memacct_t) + (apr_size_t)(nslots > 0 ? nslots : 1) * sizeof(memacct_slot_t);
}

s3_memacct_t *s3_memacct_init(void *base, int nslots)
{
    s3_memacct_t *m = base;

    memset(base, 0, s3_memacct_size(nslots));
    m->nslots = (apr_uint32_t)(nslots > 0 ? nslots : 1);
    return m;
}

int s3_memacct_pid_alive(apr_int64_t pid)
{
    if (pid <= 0 || (apr_int64_t)(pid_t)pid != pid) {
        return 0;
    }
    /* EPERM: it exists, as another user (a child that changed its uid, or anybody's pid) */
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static apr_int64_t load_pid(const memacct_slot_t *s)
{
    return __atomic_load_n(&s->pid, __ATOMIC_SEQ_CST);
}

/* Take slot @p s over from @p seen (0, a dead pid or a dead taker's marker) for @p pid (or to
 * free it, @p pid 0); 0 when somebody else changed it first. */
static int take_over(memacct_slot_t *s, apr_int64_t seen, apr_int64_t taker, apr_int64_t pid)
{
    apr_int64_t marker = -taker;

    if (!__atomic_compare_exchange_n(&s->pid, &seen, marker, 0, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST)) {
        return 0;
    }
    __atomic_store_n(&s->bytes, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->pid, pid, __ATOMIC_SEQ_CST);
    return 1;
}

/* Whether the slot whose pid reads @p seen belongs to nobody that exists, for process @p self. */
static int abandoned(apr_int64_t seen, apr_int64_t self, s3_memacct_alive_fn *alive)
{
    if (seen > 0) {
        return seen != self && !alive(seen);
    }
    return seen < 0 && -seen != self && !alive(-seen);
}

/* The slot of @p pid: its own, else a free one, else one of a process that is gone; -1 when
 * every slot belongs to a process that exists. */
static int slot_of(s3_memacct_t *m, apr_int64_t pid, s3_memacct_alive_fn *alive)
{
    apr_uint32_t i;
    apr_int64_t seen;

    for (i = 0; i < m->nslots; ++i) {
        if (load_pid(&m->slots[i]) == pid) {
            return (int)i;
        }
    }
    for (i = 0; i < m->nslots; ++i) {
        if (load_pid(&m->slots[i]) == 0 && take_over(&m->slots[i], 0, pid, pid)) {
            return (int)i;
        }
    }
    for (i = 0; i < m->nslots; ++i) {
        seen = load_pid(&m->slots[i]);
        if (abandoned(seen, pid, alive) && take_over(&m->slots[i], seen, pid, pid)) {
            return (int)i;
        }
    }
    return -1;
}

apr_uint64_t s3_memacct_used(s3_memacct_t *m, apr_int64_t pid, s3_memacct_alive_fn *alive)
{
    apr_uint64_t total = 0, bytes;
    apr_uint32_t i;
    apr_int64_t seen;

    for (i = 0; i < m->nslots; ++i) {
        memacct_slot_t *s = &m->slots[i];
        seen = load_pid(s);
        if (seen <= 0) {
            continue; /* free, or being taken over: nothing reserved in it yet */
        }
        bytes = __atomic_load_n(&s->bytes, __ATOMIC_SEQ_CST);
        if (!bytes) {
            continue; /* nothing to count: no need to ask whether its process exists */
        }
        if (seen == pid || alive(seen)) {
            total += bytes;
        }
        else {
            take_over(s, seen, pid, 0); /* its process is gone: free it for the next one */
        }
    }
    return total;
}

apr_status_t s3_memacct_reserve(int *slot, s3_memacct_t *m, apr_int64_t pid, apr_uint64_t bytes,
                                apr_uint64_t cap, s3_memacct_alive_fn *alive)
{
    int i = slot_of(m, pid, alive);

    if (i < 0) {
        return APR_EAGAIN;
    }
    /* Add first, then count everybody: of two processes reserving at once, each sees the
     * other's bytes, so both may be refused but never both admitted over the cap. */
    __atomic_add_fetch(&m->slots[i].bytes, bytes, __ATOMIC_SEQ_CST);
    if (s3_memacct_used(m, pid, alive) > cap) {
        __atomic_sub_fetch(&m->slots[i].bytes, bytes, __ATOMIC_SEQ_CST);
        return APR_ENOSPC;
    }
    *slot = i;
    return APR_SUCCESS;
}

void s3_memacct_release(s3_memacct_t *m, int slot, apr_uint64_t bytes)
{
    if (slot >= 0 && (apr_uint32_t)slot < m->nslots) {
        __atomic_sub_fetch(&m->slots[slot].bytes, bytes, __ATOMIC_SEQ_CST);
    }
}
