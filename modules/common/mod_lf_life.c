/* mod_lf_life.c — the lifecycle kit (see mod_lf_life.h): library initialisation, shared memory
 * across restarts, background threads stopped before their child exits, pools, secrets.
 * Glue: linked into every module.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_proc_mutex.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <curl/curl.h>

#include <http_main.h>
#include <unixd.h>

#include "lf_log.h"
#include "lf_secret.h"
#include "mod_lf_life.h"

/* --- libraries ------------------------------------------------------------------------------ */

#define LIBS_KEY "lampfarm:libs-initialised"

apr_status_t mod_lf_libs_init(void)
{
    void *done = NULL;

    /* The process pool outlives every generation and is the same for all our modules, while
     * each module's statics are its own: the flag lives there. */
    apr_pool_userdata_get(&done, LIBS_KEY, ap_pglobal);
    if (done) {
        return APR_SUCCESS;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return APR_EGENERAL;
    }
    apr_pool_userdata_set((void *)1, LIBS_KEY, apr_pool_cleanup_null, ap_pglobal);
    return APR_SUCCESS;
}

/* --- pools ---------------------------------------------------------------------------------- */

apr_status_t mod_lf_pool_create(apr_pool_t **out, apr_pool_t *parent)
{
    apr_allocator_t *allocator;
    apr_status_t rv;

    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        return rv;
    }
    apr_allocator_max_free_set(allocator, MOD_LF_POOL_MAX_FREE);
    if ((rv = apr_pool_create_ex(out, parent, NULL, allocator)) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return rv;
    }
    apr_allocator_owner_set(allocator, *out);
    return APR_SUCCESS;
}

/* --- shared memory -------------------------------------------------------------------------- */

/* In front of the caller's bytes: what they were made for. 64 bytes keep the caller's part
 * aligned for anything (cache lines included). */
typedef union shm_head {
    struct {
        apr_uint64_t layout;
        apr_size_t size;
    } h;
    char align[64];
} shm_head;

apr_status_t mod_lf_shm_attach(void **base, mod_lf_shm_e *how, const char *key, apr_size_t size,
                               apr_uint64_t layout, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    mod_lf_shm_e what = MOD_LF_SHM_NEW;
    apr_shm_t *shm = NULL;
    shm_head *head;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&shm, key, pproc);
    if (shm) {
        head = apr_shm_baseaddr_get(shm);
        if (head->h.layout == layout && head->h.size == size) {
            what = MOD_LF_SHM_KEPT;
        }
        else {
            /* children of the old generation keep their mapping until they exit */
            apr_pool_userdata_set(NULL, key, apr_pool_cleanup_null, pproc);
            apr_shm_destroy(shm);
            shm = NULL;
            what = MOD_LF_SHM_REPLACED;
        }
    }
    if (!shm) {
        if ((rv = apr_shm_create(&shm, sizeof(shm_head) + size, NULL, pproc)) != APR_SUCCESS) {
            return rv;
        }
        head = apr_shm_baseaddr_get(shm);
        memset(head, 0, sizeof(shm_head) + size);
        head->h.layout = layout;
        head->h.size = size;
        apr_pool_userdata_set(shm, key, apr_pool_cleanup_null, pproc);
    }
    *base = (char *)apr_shm_baseaddr_get(shm) + sizeof(shm_head);
    if (how) {
        *how = what;
    }
    return APR_SUCCESS;
}

/* --- runtime directory --------------------------------------------------------------------- */

apr_status_t mod_lf_runtime_dir(const char **path, const char *name, apr_pool_t *p)
{
    const char *dir = ap_runtime_dir_relative(p, name);
    apr_status_t rv;

    if (!dir) {
        return APR_EBADPATH;
    }
    rv = apr_dir_make(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE, p);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        return rv;
    }
    /* the children write there, and no one else reads it */
    if (geteuid() == 0 && chown(dir, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
        return errno;
    }
    if (chmod(dir, 0700) != 0) {
        return errno;
    }
    *path = dir;
    return APR_SUCCESS;
}

/* --- background threads --------------------------------------------------------------------- */

/* How often a singleton that waits for its turn tries the mutex. */
#define TURN_POLL apr_time_from_msec(100)

struct mod_lf_thread_t {
    const mod_lf_thread_spec *spec;
    void *data;
    int module_index;
    server_rec *s;
    apr_proc_mutex_t *turn; /* singleton: who runs it; NULL otherwise */
    /* singleton: in shared memory, whether the process that holds the turn has begun its last
     * stop() (set by it; reset by the next one to take the turn) */
    apr_uint32_t *holder_stopping;
    /* per child, from mod_lf_thread_start() */
    apr_thread_t *thread;
    apr_thread_mutex_t *lock; /* guards stopping, with wake */
    apr_thread_cond_t *wake;
    int stopping;     /* written under lock; read unlocked by mod_lf_thread_stopping() */
    apr_pool_t *pool; /* the thread's, own allocator */
};

#define LOG(t, level, rv, ...)                                                                     \
    ap_log_error(__FILE__, __LINE__, (t)->module_index, level, rv, (t)->s, __VA_ARGS__)

int mod_lf_thread_stopping(const mod_lf_thread_t *t)
{
    return __atomic_load_n(&t->stopping, __ATOMIC_ACQUIRE);
}

/* Sleep up to @p wait or until told to stop; whether told to stop. */
static int nap(mod_lf_thread_t *t, apr_interval_time_t wait)
{
    int stop;

    apr_thread_mutex_lock(t->lock);
    if (!t->stopping) {
        apr_thread_cond_timedwait(t->wake, t->lock, wait);
    }
    stop = t->stopping;
    apr_thread_mutex_unlock(t->lock);
    return stop;
}

/* Whether a last turn has anything to do. */
static int pending(const mod_lf_thread_t *t)
{
    return !t->spec->pending || t->spec->pending(t->data);
}

/* Got the turn: say whether we hold it only for a last stop(). */
static int took_turn(mod_lf_thread_t *t, int *last)
{
    *last = mod_lf_thread_stopping(t);
    __atomic_store_n(t->holder_stopping, (apr_uint32_t)*last, __ATOMIC_RELEASE);
    return 1;
}

/* A singleton's turn: wait for it while the child lives. Whether we hold it.
 * A child told to stop while waiting (its requests may have left data in shared memory) takes
 * a last turn (*last: start() and stop() only) if spec->last_turn asks for it, and only while
 * the holder is stopping too: a holder that lives on handles that data in its next run(); one
 * that has begun its last stop() may have looked already, so we wait (at most
 * spec->last_turn) for it to finish and look ourselves. */
static int take_turn(mod_lf_thread_t *t, int *last)
{
    apr_time_t until;

    for (;;) {
        if (apr_proc_mutex_trylock(t->turn) == APR_SUCCESS) {
            return took_turn(t, last);
        }
        if (nap(t, TURN_POLL)) {
            break;
        }
    }
    until = apr_time_now() + t->spec->last_turn;
    for (;;) {
        if (apr_proc_mutex_trylock(t->turn) == APR_SUCCESS) {
            return took_turn(t, last);
        }
        if (!__atomic_load_n(t->holder_stopping, __ATOMIC_ACQUIRE) || apr_time_now() >= until
            || !pending(t)) {
            return 0;
        }
        apr_sleep(apr_time_from_msec(20));
    }
}

static void *APR_THREAD_FUNC thread_main(apr_thread_t *thread, void *data)
{
    mod_lf_thread_t *t = data;
    const mod_lf_thread_spec *spec = t->spec;
    apr_pool_t *ptemp;
    apr_status_t rv;
    int held = 0, last = 0;

    (void)thread;
    if (t->turn) {
        if (!(held = take_turn(t, &last)) || (last && !pending(t))) {
            goto done;
        }
    }
    if ((rv = spec->start(t->data, t->pool)) != APR_SUCCESS) {
        LOG(t, APLOG_CRIT, rv, LFLOGNO(00300) "%s cannot start in pid %" APR_PID_T_FMT, spec->name,
            getpid());
        goto done;
    }
    LOG(t, APLOG_DEBUG, 0, LFLOGNO(00301) "%s runs in pid %" APR_PID_T_FMT "%s", spec->name,
        getpid(), last ? " for its last turn" : "");
    if (!last && apr_pool_create(&ptemp, t->pool) == APR_SUCCESS) {
        do {
            spec->run(t->data, ptemp);
            apr_pool_clear(ptemp);
        } while (!nap(t, spec->tick));
    }
    if (held) {
        __atomic_store_n(t->holder_stopping, 1, __ATOMIC_RELEASE);
    }
    if (spec->stop) {
        spec->stop(t->data);
    }
    LOG(t, APLOG_DEBUG, 0, LFLOGNO(00302) "%s stopped in pid %" APR_PID_T_FMT, spec->name,
        getpid());
done:
    if (held) {
        apr_proc_mutex_unlock(t->turn);
    }
    return NULL;
}

/* A pre-cleanup of pchild: it runs when the child begins to exit, before pchild's subpools and
 * cleanups go, and long before exit() runs the libraries' atexit teardown. Registered after
 * the thread started (pre-cleanups run last registered first), so whatever a module registers
 * later in its child_init is still there while the thread finishes. */
static apr_status_t thread_stop(void *data)
{
    mod_lf_thread_t *t = data;
    apr_status_t rv;

    apr_thread_mutex_lock(t->lock);
    __atomic_store_n(&t->stopping, 1, __ATOMIC_RELEASE);
    apr_thread_cond_broadcast(t->wake);
    apr_thread_mutex_unlock(t->lock);
    apr_thread_join(&rv, t->thread);
    return APR_SUCCESS;
}

apr_status_t mod_lf_thread_create_(mod_lf_thread_t **out, const mod_lf_thread_spec *spec,
                                   void *data, int module_index, server_rec *s, apr_pool_t *pconf)
{
    mod_lf_thread_t *t = apr_pcalloc(pconf, sizeof(*t));
    apr_status_t rv;

    t->spec = spec;
    t->data = data;
    t->module_index = module_index;
    t->s = s;
    /* One per generation: during a graceful restart the old generation's thread finishes its
     * work while the new one starts; both work on the same shared memory, which is safe. A
     * child killed while holding it does not block the others: APR's default mechanism on
     * Linux (a robust process-shared pthread mutex, or SysV semaphores with SEM_UNDO) is
     * released by the kernel. */
    if (spec->singleton) {
        apr_shm_t *shm;

        if ((rv = apr_proc_mutex_create(&t->turn, NULL, APR_LOCK_DEFAULT, pconf)) != APR_SUCCESS
            || (rv = apr_shm_create(&shm, sizeof(apr_uint32_t), NULL, pconf)) != APR_SUCCESS) {
            LOG(t, APLOG_CRIT, rv, LFLOGNO(00303) "cannot create the mutex of %s", spec->name);
            return rv;
        }
        t->holder_stopping = apr_shm_baseaddr_get(shm);
        *t->holder_stopping = 0;
    }
    *out = t;
    return APR_SUCCESS;
}

apr_status_t mod_lf_thread_start(mod_lf_thread_t *t, apr_pool_t *pchild)
{
    sigset_t async, old;
    apr_status_t rv;

    t->stopping = 0;
    if ((t->turn
         && (rv = apr_proc_mutex_child_init(&t->turn, apr_proc_mutex_lockfile(t->turn), pchild))
                != APR_SUCCESS)
        || (rv = apr_thread_mutex_create(&t->lock, APR_THREAD_MUTEX_DEFAULT, pchild)) != APR_SUCCESS
        || (rv = apr_thread_cond_create(&t->wake, pchild)) != APR_SUCCESS
        || (rv = mod_lf_pool_create(&t->pool, pchild)) != APR_SUCCESS) {
        LOG(t, APLOG_CRIT, rv, LFLOGNO(00304) "cannot set up %s in pid %" APR_PID_T_FMT,
            t->spec->name, getpid());
        return rv;
    }
    /* The thread inherits this mask: signals sent to the process reach the MPM's handlers on
     * the main thread, never a thread in the middle of a TLS handshake. */
    sigfillset(&async);
    sigdelset(&async, SIGSEGV);
    sigdelset(&async, SIGBUS);
    sigdelset(&async, SIGFPE);
    sigdelset(&async, SIGILL);
    sigdelset(&async, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &async, &old);
    rv = apr_thread_create(&t->thread, NULL, thread_main, t, pchild);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rv != APR_SUCCESS) {
        LOG(t, APLOG_CRIT, rv, LFLOGNO(00305) "cannot start %s in pid %" APR_PID_T_FMT,
            t->spec->name, getpid());
        return rv;
    }
    apr_pool_pre_cleanup_register(pchild, t, thread_stop);
    return APR_SUCCESS;
}

/* --- secrets -------------------------------------------------------------------------------- */

const char *mod_lf_secret(const char **secret, cmd_parms *cmd, const char *arg)
{
    const char *why;

    if (!strncmp(arg, "file:", 5)) {
        const char *path = ap_server_root_relative(cmd->temp_pool, arg + 5);
        if (!path) {
            return apr_psprintf(cmd->pool, "%s: invalid file name '%s'", cmd->cmd->name, arg + 5);
        }
        arg = apr_pstrcat(cmd->temp_pool, "file:", path, NULL);
    }
    if (lf_secret_load(secret, &why, arg, cmd->pool) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, why);
    }
    return NULL;
}
