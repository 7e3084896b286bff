/* A static probe for seccomp profiles: raw syscalls, one line each, "name=ok" or the errno's
 * name. Used by dock/tests/run.rs and integration/lib/podman.sh (built with cc -static).
 * The arguments are ones the kernel rejects, except unshare(CLONE_NEWNS) and a tmpfs on /dev,
 * which touch only the container's own mount namespace. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static void show(const char *name, long r) {
    const char *e = r == 0 ? "ok" : errno == EPERM ? "EPERM" : errno == ENOSYS ? "ENOSYS"
        : errno == EINVAL ? "EINVAL" : errno == EFAULT ? "EFAULT" : errno == ENOKEY ? "ENOKEY"
        : errno == ENOENT ? "ENOENT" : errno == EOPNOTSUPP ? "EOPNOTSUPP" : strerror(errno);
    printf("%s=%s\n", name, e);
}
int main(void) {
    show("unshare", syscall(SYS_unshare, 0x00020000L));
    show("mount", syscall(SYS_mount, "none", "/dev", "tmpfs", 0L, 0L));
    show("keyctl", syscall(SYS_keyctl, 0L, -1L, 0L));
    show("clone3", syscall(SYS_clone3, 0L, 0L));
    show("bpf", syscall(SYS_bpf, -1L, 0L, 0L));
    show("kexec_load", syscall(SYS_kexec_load, 0L, 0L, 0L, 0L));
    show("add_key", syscall(SYS_add_key, 0L, 0L, 0L, 0L, 0L));
    return 0;
}
