/* cw_shm — the shared memory of mod_cloudwatch (see cw_shm.h). */
#include <apr_strings.h>

#include "cw_shm.h"

apr_size_t cw_shm_size(int max_groups)
{
    return sizeof(cw_shm_t) + (apr_size_t)max_groups * sizeof(cw_slot_t);
}

apr_uint64_t cw_shm_layout(int max_groups)
{
    return ((apr_uint64_t)sizeof(cw_slot_t) << 32) | (apr_uint64_t)max_groups;
}

void cw_shm_init(cw_shm_t *sh, int max_groups)
{
    cw_slot_t *other = &sh->slots[max_groups];

    sh->nslots = (apr_uint32_t)max_groups;
    apr_cpystrn(other->vhost, CW_GROUP_OTHER, sizeof(other->vhost));
    apr_cpystrn(other->group, CW_GROUP_OTHER, sizeof(other->group));
    other->state = CW_SLOT_USED;
}

/* Names are kept cut to CW_NAME_MAX - 1 characters: hashed and compared the same way. */
static apr_uint32_t name_hash(const char *a, const char *b)
{
    apr_uint32_t h = 2166136261u; /* FNV-1a */
    int i;

    for (i = 0; a[i] && i < CW_NAME_MAX - 1; ++i) {
        h = (h ^ (unsigned char)a[i]) * 16777619u;
    }
    h = (h ^ 0xff) * 16777619u;
    for (i = 0; b[i] && i < CW_NAME_MAX - 1; ++i) {
        h = (h ^ (unsigned char)b[i]) * 16777619u;
    }
    return h;
}

/* How long a request waits for another that is claiming the slot it wants (CPU pauses: that
 * claim is two short copies, unless its thread was descheduled or its process killed there). */
#define CLAIM_SPINS (1u << 22)

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The state of @p s once the claim under way is over (CW_SLOT_USED, as a rule), or
 * CW_SLOT_STALLED when it takes too long: nobody waits for that slot again, and a claimer that
 * finishes after all still puts it in use. */
static apr_uint32_t wait_claimed(cw_slot_t *s)
{
    apr_uint32_t st, spins;

    for (spins = 0; spins < CLAIM_SPINS; ++spins) {
        if ((st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE)) != CW_SLOT_CLAIMING) {
            return st;
        }
        cpu_relax();
    }
    st = CW_SLOT_CLAIMING;
    if (__atomic_compare_exchange_n(&s->state, &st, CW_SLOT_STALLED, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        return CW_SLOT_STALLED;
    }
    return st;
}

cw_slot_t *cw_shm_slot(cw_shm_t *sh, const char *vhost, const char *group)
{
    apr_uint32_t n = sh->nslots, h = name_hash(vhost, group), k;

    for (k = 0; k < n; ++k) {
        cw_slot_t *s = &sh->slots[(h + k) % n];
        apr_uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

        if (st == CW_SLOT_FREE) {
            if (__atomic_compare_exchange_n(&s->state, &st, CW_SLOT_CLAIMING, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                apr_cpystrn(s->vhost, vhost, sizeof(s->vhost));
                apr_cpystrn(s->group, group, sizeof(s->group));
                __atomic_store_n(&s->state, CW_SLOT_USED, __ATOMIC_RELEASE);
                return s;
            }
            /* another request claimed it first (st is its state now): maybe for this group */
        }
        if (st == CW_SLOT_CLAIMING) {
            st = wait_claimed(s);
        }
        if (st == CW_SLOT_USED && !strncmp(s->vhost, vhost, CW_NAME_MAX - 1)
            && !strncmp(s->group, group, CW_NAME_MAX - 1)) {
            return s;
        }
    }
    return &sh->slots[n]; /* every slot in use: "other" */
}

int cw_shm_class(int status, int aborted)
{
    int cls = status / 100;

    if (aborted) {
        return CW_CABORTED;
    }
    return cls < 2 ? CW_C2XX : cls > 5 ? CW_C5XX : cls - 2;
}

void cw_shm_record(cw_slot_t *slot, const cw_shm_sample_t *m)
{
    cw_hist_add(&slot->latency, m->latency);
    if (m->has_ttfb) {
        cw_hist_add(&slot->ttfb, m->ttfb);
    }
    __atomic_fetch_add(&slot->classes[m->cls], 1, __ATOMIC_RELAXED);
    if (m->bytes_in) {
        __atomic_fetch_add(&slot->bytes_in, m->bytes_in, __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&slot->bytes_out, m->bytes_out, __ATOMIC_RELAXED);
}

static apr_uint64_t take64(apr_uint64_t *v)
{
    return __atomic_exchange_n(v, 0, __ATOMIC_ACQ_REL);
}

static void set64(apr_uint64_t *v, apr_uint64_t n)
{
    __atomic_store_n(v, n, __ATOMIC_RELAXED);
}

/* Keep the slot's figures of this interval for the status page. */
static void slot_remember(cw_slot_t *s, const cw_slot_snapshot_t *t)
{
    set64(&s->last_count, t->latency.count);
    set64(&s->last_p50, (apr_uint64_t)cw_hist_quantile(&t->latency, 0.50));
    set64(&s->last_p90, (apr_uint64_t)cw_hist_quantile(&t->latency, 0.90));
    set64(&s->last_p99, (apr_uint64_t)cw_hist_quantile(&t->latency, 0.99));
    set64(&s->last_max, t->latency.max);
    set64(&s->last_5xx, t->classes[CW_C5XX]);
}

apr_array_header_t *cw_shm_take(cw_shm_t *sh, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 16, sizeof(cw_slot_snapshot_t));
    cw_slot_snapshot_t *t = apr_palloc(p, sizeof(*t));
    apr_uint32_t i;
    int cl;

    for (i = 0; i <= sh->nslots; ++i) {
        cw_slot_t *slot = &sh->slots[i];
        apr_uint64_t any;

        if (__atomic_load_n(&slot->state, __ATOMIC_ACQUIRE) != CW_SLOT_USED) {
            continue;
        }
        t->vhost = slot->vhost;
        t->group = slot->group;
        cw_hist_take(&t->latency, &slot->latency);
        cw_hist_take(&t->ttfb, &slot->ttfb);
        any = t->latency.count;
        for (cl = 0; cl < CW_CLASSES; ++cl) {
            any |= t->classes[cl] = take64(&slot->classes[cl]);
        }
        t->bytes_in = take64(&slot->bytes_in);
        t->bytes_out = take64(&slot->bytes_out);
        slot_remember(slot, t);
        if (any) {
            *(cw_slot_snapshot_t *)apr_array_push(out) = *t;
        }
    }
    return out;
}

int cw_shm_pending(const cw_shm_t *sh)
{
    apr_uint32_t i, c;

    for (i = 0; i <= sh->nslots; ++i) {
        const cw_slot_t *slot = &sh->slots[i];

        for (c = 0; c < CW_CLASSES; ++c) {
            if (__atomic_load_n(&slot->classes[c], __ATOMIC_ACQUIRE)) {
                return 1;
            }
        }
    }
    return 0;
}

void cw_shm_pub_copy(cw_pub_status_t *out, const cw_shm_t *sh)
{
    const cw_pub_status_t *in = &sh->pub;

    out->last_attempt = __atomic_load_n(&in->last_attempt, __ATOMIC_RELAXED);
    out->last_success = __atomic_load_n(&in->last_success, __ATOMIC_RELAXED);
    out->last_interval = __atomic_load_n(&in->last_interval, __ATOMIC_RELAXED);
    out->intervals = __atomic_load_n(&in->intervals, __ATOMIC_RELAXED);
    out->requests_ok = __atomic_load_n(&in->requests_ok, __ATOMIC_RELAXED);
    out->requests_failed = __atomic_load_n(&in->requests_failed, __ATOMIC_RELAXED);
    out->datums = __atomic_load_n(&in->datums, __ATOMIC_RELAXED);
    out->rejected = __atomic_load_n(&in->rejected, __ATOMIC_RELAXED);
    out->dropped = __atomic_load_n(&in->dropped, __ATOMIC_RELAXED);
    out->backlog = __atomic_load_n(&in->backlog, __ATOMIC_RELAXED);
    out->bytes_sent = __atomic_load_n(&in->bytes_sent, __ATOMIC_RELAXED);
    out->last_status = __atomic_load_n(&in->last_status, __ATOMIC_RELAXED);
    memcpy(out->last_error, in->last_error, sizeof(out->last_error));
    out->last_error[sizeof(out->last_error) - 1] = '\0';
}
