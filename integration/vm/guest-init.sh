#!/bin/sh
# First stage in the guest (PID 1 on the initramfs): move everything onto a tmpfs and
# switch_root, because pivot_root (which hull uses for every container) cannot leave the
# initial rootfs.
/bin/busybox mkdir -p /proc /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t tmpfs -o size=512m tmpfs /newroot
for d in bin lib lib64 usr etc tests hull-root; do
  [ -e "/$d" ] && /bin/busybox cp -a "/$d" /newroot/
done
/bin/busybox umount /proc
exec /bin/busybox switch_root /newroot /bin/sh /tests/guest-tests.sh
