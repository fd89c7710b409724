/* replay — the main() of a fuzz target built without libFuzzer (build/fuzz-replay/fuzz_<x>):
 * runs LLVMFuzzerTestOneInput() once on each file named on the command line, and on each file
 * of each directory named there. `make unit` runs it over tests/fuzz/regressions/<x>/ (every
 * input that ever crashed the target) and tests/fuzz/corpus/<x>/, with the project's compiler
 * and without clang; a crash or a failed FUZZ_CHECK ends the run with a signal, as under
 * libFuzzer. Parsers must take linear time and memory, and a regression case of that kind
 * must fail here too: the process gets REPLAY_MEMORY of address space (a failed allocation
 * ends it: APR pools abort), and each input REPLAY_SECONDS (SIGALRM ends it). The case of
 * aws_error's quadratic text() needed 328 MB before its fix and 4 MB after.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define REPLAY_MEMORY  (256UL * 1024 * 1024) /* bytes of address space for the whole run */
#define REPLAY_SECONDS 10                    /* per input */

/* Not every target has an initializer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Run the target on one file; 0, or -1 when the file cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    do {
        if (len == cap) {
            unsigned char *more;

            cap = cap ? 2 * cap : 4096;
            if (!(more = realloc(buf, cap))) {
                fprintf(stderr, "replay: %s: out of memory\n", path);
                free(buf);
                fclose(f);
                return -1;
            }
            buf = more;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    /* an exact-size copy, so that a read past the input is past the allocation, as in libFuzzer */
    {
        unsigned char *exact = malloc(len ? len : 1);

        if (!exact) {
            free(buf);
            return -1;
        }
        memcpy(exact, buf, len);
        free(buf);
        alarm(REPLAY_SECONDS);
        LLVMFuzzerTestOneInput(exact, len);
        alarm(0);
        free(exact);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct rlimit mem = {REPLAY_MEMORY, REPLAY_MEMORY};
    int i, files = 0, failed = 0;

    if (setrlimit(RLIMIT_AS, &mem) != 0) {
        fprintf(stderr, "replay: cannot limit the address space: %s\n", strerror(errno));
        return 1;
    }
    if (LLVMFuzzerInitialize) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        DIR *dir;
        struct dirent *e;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            failed = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed |= replay_file(argv[i]) != 0;
            files++;
            continue;
        }
        if (!(dir = opendir(argv[i]))) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            failed = 1;
            continue;
        }
        while ((e = readdir(dir))) {
            char *path;

            if (e->d_name[0] == '.') {
                continue; /* ., .., and hidden files such as .gitkeep */
            }
            if (!(path = malloc(strlen(argv[i]) + strlen(e->d_name) + 2))) {
                failed = 1;
                break;
            }
            sprintf(path, "%s/%s", argv[i], e->d_name);
            failed |= replay_file(path) != 0;
            files++;
            free(path);
        }
        closedir(dir);
    }
    printf("%s: %d inputs replayed%s\n", argv[0], files, failed ? ", some could not be read" : "");
    return failed;
}
