/* The kernel's floor for a sandbox start: clone(CLONE_NEWUSER|CLONE_NEWNS[|the rest of
 * --unshare-all]), write the id maps, exec the command; the parent waits. No mounts, no root
 * switch, no policy: what any sandbox built on these namespaces pays at least.
 * `floor [all] CMD [ARGS...]` */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, s, strlen(s)) < 0) {
        perror(path);
        _exit(1);
    }
    close(fd);
}

int main(int argc, char **argv) {
    int i = 1;
    long flags = CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD;
    if (i < argc && strcmp(argv[i], "all") == 0) {
        flags |= CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
        i++;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: %s [all] CMD [ARGS...]\n", argv[0]);
        return 2;
    }
    uid_t uid = getuid();
    gid_t gid = getgid();
    long pid = syscall(SYS_clone, flags, 0, 0, 0, 0);
    if (pid < 0) {
        perror("clone");
        return 1;
    }
    if (pid == 0) {
        char map[64];
        put("/proc/self/setgroups", "deny");
        snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
        put("/proc/self/uid_map", map);
        snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
        put("/proc/self/gid_map", map);
        execvp(argv[i], argv + i);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
