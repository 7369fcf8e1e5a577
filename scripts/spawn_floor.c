/* The floor under the exec rows of bench.sh: what running COMMAND once per task costs with no
 * supervision at all. P processes each posix_spawnp COMMAND N/P times with the task number as
 * its one argument (as xargs -n1 and supervisor exec pass the item) and wait for each; nothing
 * is captured, nothing is reported.
 *
 *     cc -O2 -o spawn_floor scripts/spawn_floor.c && ./spawn_floor N P COMMAND
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int spawn_range(long from, long to, char *command) {
    for (long i = from; i < to; i++) {
        char item[24];
        snprintf(item, sizeof item, "%ld", i + 1);
        char *argv[] = {command, item, NULL};
        pid_t pid;
        int status;
        if (posix_spawnp(&pid, command, NULL, NULL, argv, environ) != 0) return 1;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: spawn_floor N P COMMAND\n");
        return 2;
    }
    long n = atol(argv[1]), p = atol(argv[2]);
    if (n < 0 || p < 1) {
        fprintf(stderr, "spawn_floor: N must be >= 0 and P >= 1\n");
        return 2;
    }
    for (long k = 0; k < p; k++) {
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid == 0) _exit(spawn_range(n * k / p, n * (k + 1) / p, argv[3]));
    }
    int failed = 0, status;
    while (wait(&status) > 0)
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    return failed;
}
