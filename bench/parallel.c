/* `parallel CONC TOTAL CMD ARGS...`: run CMD TOTAL times, CONC at a time (fork + execvp, no
 * shell), and print "runs=… failures=… seconds=… per_second=…". Exits 1 if any run failed. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s CONC TOTAL CMD [ARGS...]\n", argv[0]);
        return 2;
    }
    int conc = atoi(argv[1]);
    long total = atol(argv[2]);
    char **cmd = argv + 3;
    long started = 0, done = 0, failed = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int running = 0;
    while (done < total) {
        while (running < conc && started < total) {
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                failed++;
                done++;
                started++;
                continue;
            }
            if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0)
                    dup2(null, 1);
                execvp(cmd[0], cmd);
                _exit(127);
            }
            started++;
            running++;
        }
        int st;
        pid_t pid = wait(&st);
        if (pid < 0) {
            perror("wait");
            return 2;
        }
        running--;
        done++;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("runs=%ld failures=%ld seconds=%.3f per_second=%.1f\n", done, failed, s, done / s);
    return failed != 0;
}
