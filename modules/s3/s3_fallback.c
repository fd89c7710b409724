/* s3_fallback — the old upload directory behind a location, and the queue of its copies into S3
 * (see s3_fallback.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdlib.h>

#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "s3_fallback.h"

apr_status_t s3_fallback_path(const char **rel, const char **why, const char *key,
                              const char *prefix)
{
    apr_size_t plen = prefix ? strlen(prefix) : 0;
    const char *s;

    if (strncmp(key, prefix ? prefix : "", plen)) {
        *why = "the key is outside the location's key prefix";
        return APR_NOTFOUND;
    }
    s = key + plen;
    if (!*s) {
        *why = "the key names the directory itself";
        return APR_NOTFOUND;
    }
    if (strchr(s, '\\')) {
        *why = "a backslash in the key";
        return APR_NOTFOUND;
    }
    for (const char *seg = s; seg;) {
        const char *end = strchr(seg, '/');
        if (seg == end || !*seg) {
            *why = "an empty segment in the key";
            return APR_NOTFOUND;
        }
        if (*seg == '.') {
            *why = "a segment of the key starts with '.' (hidden files are never served)";
            return APR_NOTFOUND;
        }
        seg = end ? end + 1 : NULL;
    }
    *rel = s;
    return APR_SUCCESS;
}

static apr_status_t close_fd(void *data)
{
    close((int)(apr_uintptr_t)data);
    return APR_SUCCESS;
}

apr_status_t s3_fallback_open(apr_file_t **file, apr_finfo_t *finfo, const char **why,
                              const char *dir, const char *rel, apr_pool_t *p)
{
    const char *seg = rel;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    apr_os_file_t osf;
    apr_status_t rv;

    if (fd < 0) {
        *why = "cannot open the directory";
        return APR_FROM_OS_ERROR(errno);
    }
    /* Directories on the way: O_NOFOLLOW refuses a link, O_DIRECTORY anything else. */
    for (const char *end; (end = strchr(seg, '/')); seg = end + 1) {
        int next = openat(fd, apr_pstrmemdup(p, seg, end - seg),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int err = errno;

        close(fd);
        if (next < 0) {
            *why = err == ELOOP || err == ENOTDIR ? "a directory on the way is a link or a file"
                   : err == ENOENT                ? "no such directory"
                   : err == EACCES ? "a directory on the way is not readable by httpd"
                                   : "cannot open a directory on the way";
            return err == ELOOP || err == ENOTDIR || err == ENOENT ? APR_NOTFOUND
                   : err == EACCES                                 ? APR_EACCES
                                                                   : APR_FROM_OS_ERROR(err);
        }
        fd = next;
    }
    /* O_NONBLOCK: a FIFO planted in the directory must not block the worker in open(). */
    osf = openat(fd, seg, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    rv = osf < 0 ? APR_FROM_OS_ERROR(errno) : APR_SUCCESS;
    close(fd);
    if (rv != APR_SUCCESS) {
        *why = APR_STATUS_IS_ENOENT(rv)         ? "no such file"
               : rv == APR_FROM_OS_ERROR(ELOOP) ? "the file is a symbolic link"
               : APR_STATUS_IS_EACCES(rv)       ? "the file is not readable by httpd"
                                                : "cannot open the file";
        return rv == APR_FROM_OS_ERROR(ELOOP) || APR_STATUS_IS_ENOENT(rv) ? APR_NOTFOUND
               : APR_STATUS_IS_EACCES(rv)                                 ? APR_EACCES
                                                                          : rv;
    }
    apr_pool_cleanup_register(p, (void *)(apr_uintptr_t)osf, close_fd, apr_pool_cleanup_null);
    if ((rv = apr_os_file_put(file, &osf, APR_FOPEN_READ, p)) == APR_SUCCESS) {
        rv = apr_file_info_get(finfo, APR_FINFO_NORM, *file);
    }
    if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
        *why = "cannot read the file's information";
        return rv;
    }
    if (finfo->filetype != APR_REG) {
        *why = "not a regular file";
        return APR_NOTFOUND;
    }
    finfo->fname = apr_pstrcat(p, dir, "/", rel, NULL);
    return APR_SUCCESS;
}

/* --- the copies to S3 ------------------------------------------------------------------------ */

/* A copy and its strings, in one malloc'd block. */
typedef struct entry_t {
    s3_fallback_copy_t c;
    int taken; /* popped: being copied */
    struct entry_t *next;
} entry_t;

struct s3_fallback_queue_t {
    apr_thread_mutex_t *lock;
    int capacity;
    int count;     /* queued or being copied */
    entry_t *head; /* oldest first, the copies being made included */
};

static apr_status_t queue_free(void *data)
{
    s3_fallback_queue_t *q = data;

    while (q->head) {
        entry_t *e = q->head;
        q->head = e->next;
        free(e);
    }
    return APR_SUCCESS;
}

apr_status_t s3_fallback_queue_create(s3_fallback_queue_t **out, int capacity, apr_pool_t *p)
{
    s3_fallback_queue_t *q = apr_pcalloc(p, sizeof(*q));
    apr_status_t rv;

    if ((rv = apr_thread_mutex_create(&q->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        return rv;
    }
    q->capacity = capacity;
    apr_pool_cleanup_register(p, q, queue_free, apr_pool_cleanup_null);
    *out = q;
    return APR_SUCCESS;
}

static char *put_string(char **at, const char *s)
{
    char *start = *at;
    apr_size_t n = strlen(s) + 1;

    memcpy(start, s, n);
    *at += n;
    return start;
}

apr_status_t s3_fallback_queue_push(s3_fallback_queue_t *q, const s3_fallback_copy_t *c)
{
    apr_size_t size = sizeof(entry_t) + strlen(c->key) + strlen(c->dir) + strlen(c->rel)
                      + (c->type ? strlen(c->type) : 0) + 4;
    entry_t *e, **tail;
    char *at;

    apr_thread_mutex_lock(q->lock);
    for (tail = &q->head; *tail; tail = &(*tail)->next) {
        if (!strcmp((*tail)->c.key, c->key)) {
            apr_thread_mutex_unlock(q->lock);
            return APR_EEXIST;
        }
    }
    if (q->count >= q->capacity || !(e = malloc(size))) {
        apr_thread_mutex_unlock(q->lock);
        return APR_ENOSPC;
    }
    at = (char *)(e + 1);
    e->c.key = put_string(&at, c->key);
    e->c.dir = put_string(&at, c->dir);
    e->c.rel = put_string(&at, c->rel);
    e->c.type = c->type ? put_string(&at, c->type) : NULL;
    e->c.target = c->target;
    e->c.part_size = c->part_size;
    e->c.temp_dir = c->temp_dir;
    e->taken = 0;
    e->next = NULL;
    *tail = e;
    q->count++;
    apr_thread_mutex_unlock(q->lock);
    return APR_SUCCESS;
}

int s3_fallback_queue_pop(s3_fallback_queue_t *q, s3_fallback_copy_t **c)
{
    entry_t *e;

    apr_thread_mutex_lock(q->lock);
    for (e = q->head; e && e->taken; e = e->next) {
    }
    if (e) {
        e->taken = 1;
        *c = &e->c;
    }
    apr_thread_mutex_unlock(q->lock);
    return e != NULL;
}

void s3_fallback_queue_done(s3_fallback_queue_t *q, s3_fallback_copy_t *c)
{
    entry_t **at;

    apr_thread_mutex_lock(q->lock);
    for (at = &q->head; *at; at = &(*at)->next) {
        if (&(*at)->c == c) {
            entry_t *e = *at;
            *at = e->next;
            q->count--;
            free(e);
            break;
        }
    }
    apr_thread_mutex_unlock(q->lock);
}
