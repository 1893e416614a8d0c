/* A syscall-heavy loop for the seccomp cost: `syscalls getppid|ioctl N`.
 * getppid takes no argument (the kernel's seccomp action cache can answer it without running
 * the filter); ioctl's request is an argument the filter must look at (TIOCSTI is denied). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s getppid|ioctl N\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    int avail = 0;
    long bad = 0;
    if (strcmp(argv[1], "getppid") == 0) {
        for (long i = 0; i < n; i++)
            bad += syscall(SYS_getppid) < 0;
    } else if (strcmp(argv[1], "ioctl") == 0) {
        for (long i = 0; i < n; i++)
            bad += ioctl(fds[0], FIONREAD, &avail) != 0;
    } else {
        return 2;
    }
    return bad != 0;
}
