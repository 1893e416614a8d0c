/* The kernel's floor for a sandbox start: clone(CLONE_NEWUSER|CLONE_NEWNS[|the rest of
 * --unshare-all]), write the id maps, [build a read-only root as sbox does], exec the
 * command; the parent waits. No argument parsing, no policy: what any sandbox built on these
 * namespaces pays at least.
 *
 *   floor [all] [root] [seccomp] CMD [ARGS...]
 *   all:  also CLONE_NEWPID|NEWNET|NEWIPC|NEWUTS|NEWCGROUP
 *   root: sbox's --ro-bind / / steps, with no error messages: make / private, open_tree(/,
 *         recursive clone), mount_setattr(read-only, recursive), a tmpfs attached on /tmp,
 *         the tree moved onto it, pivot_root(".", "."), umount2(".", MNT_DETACH)
 *   seccomp: no_new_privs and a one-instruction seccomp program (RET_ALLOW): what having any
 *         filter at all costs. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
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

static void check(long r, const char *what) {
    if (r < 0) {
        perror(what);
        _exit(1);
    }
}

static void ro_root(void) {
    check(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "private");
    int tree = syscall(SYS_open_tree, AT_FDCWD, "/",
                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    check(tree, "open_tree");
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    check(syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr),
          "mount_setattr");
    int fs = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    check(fs, "fsopen");
    check(syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "755", 0), "fsconfig");
    check(syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0), "fsconfig");
    int base = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    check(base, "fsmount");
    close(fs);
    check(syscall(SYS_move_mount, base, "", AT_FDCWD, "/tmp", MOVE_MOUNT_F_EMPTY_PATH), "move");
    check(syscall(SYS_move_mount, tree, "", base, "",
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH), "move");
    check(fchdir(tree), "fchdir");
    check(syscall(SYS_pivot_root, ".", "."), "pivot_root");
    check(umount2(".", MNT_DETACH), "umount2");
    check(chdir("/"), "chdir");
    close(tree);
    close(base);
}

static void allow_all_filter(void) {
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = 1, .filter = &allow};
    check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs");
    check(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), "seccomp");
}

int main(int argc, char **argv) {
    int i = 1, root = 0, filter = 0;
    long flags = CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "all") == 0)
            flags |= CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
        else if (strcmp(argv[i], "root") == 0)
            root = 1;
        else if (strcmp(argv[i], "seccomp") == 0)
            filter = 1;
        else
            break;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: %s [all] [root] [seccomp] CMD [ARGS...]\n", argv[0]);
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
        if (root)
            ro_root();
        if (filter)
            allow_all_filter();
        execvp(argv[i], argv + i);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
