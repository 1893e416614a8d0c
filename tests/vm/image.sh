#!/bin/bash
# Build the Debian bookworm guest used by tests/vm/run.sh: kernel, initrd and an ext4 image
# with systemd, a user D-Bus and a lingering user "tester" (uid 1000) whose user@.service
# delegates memory, pids and cpu (bookworm's default), and a lingering user "nodeleg" (uid 1001)
# whose slice withholds memory. crun (the reference runtime of the OCI bench) and rootless
# podman (conmon, uidmap with subuid/subgid ranges for tester, slirp4netns, fuse-overlayfs,
# catatonit) for the OCI cases; containernetworking-plugins provides the virtual package
# container-network-stack that containers-common depends on (debootstrap can't pick one).
#
# Usage: image.sh OUTDIR      (as root; OUTDIR gets vmlinuz, initrd.img, rootfs.img)
# The result depends only on this file: run.sh caches it under a hash of it.
set -euo pipefail
out=$1
mkdir -p "$out"
root=$(mktemp -d /var/tmp/sbox-vm-root.XXXXXX)
trap 'rm -rf "$root"' EXIT

# The Debian mirror this machine already uses (the only network reachable here).
mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* |
	grep -oE 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)
if [ -z "$mirror" ]; then
	echo "image: no Debian mirror in /etc/apt/sources.list{,.d/*}: add the one this machine uses" >&2
	exit 1
fi

t0=$(date +%s)
debootstrap --variant=minbase \
	--include=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,udev,iproute2,procps,util-linux,kmod,initramfs-tools,linux-image-amd64,crun,podman,containernetworking-plugins,conmon,uidmap,slirp4netns,fuse-overlayfs,catatonit \
	bookworm "$root" "$mirror" >"$out/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$out/debootstrap.log"; exit 1; }
t1=$(date +%s)
echo "image: debootstrap $((t1 - t0)) s"

# A lingering user: logind starts user@1000.service at boot, which delegates memory pids cpu.
chroot "$root" useradd -m -u 1000 -s /bin/bash tester
mkdir -p "$root/var/lib/systemd/linger"
touch "$root/var/lib/systemd/linger/tester"
# Rootless podman maps these into its user namespace (through newuidmap/newgidmap).
for f in subuid subgid; do
	grep -qs '^tester:' "$root/etc/$f" || echo tester:100000:65536 >>"$root/etc/$f"
done
# A second lingering user whose slice withholds the memory controller: "not delegated".
chroot "$root" useradd -m -u 1001 -s /bin/bash nodeleg
touch "$root/var/lib/systemd/linger/nodeleg"
mkdir -p "$root/etc/systemd/system/user-1001.slice.d"
printf '[Slice]\nDisableControllers=memory\n' >"$root/etc/systemd/system/user-1001.slice.d/nomem.conf"
echo sbox-vm >"$root/etc/hostname"

# The stock kernel has virtio and ext4 as modules: a small initrd with just those.
printf '%s\n' virtio_pci virtio_blk ext4 >>"$root/etc/initramfs-tools/modules"
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
chroot "$root" update-initramfs -u -k all >/dev/null 2>&1
cp -L "$root/vmlinuz" "$out/vmlinuz"
cp -L "$root/initrd.img" "$out/initrd.img"

# A shorter boot: nothing periodic, no gettys.
for u in apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
	fstrim.timer e2scrub_all.timer e2scrub_reap.service getty@tty1.service \
	serial-getty@ttyS0.service systemd-timesyncd.service man-db.timer; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done

# The test entry point: mount the host's 9p share and run the script the host put there, so
# that changing the tests does not rebuild the image. Power off whatever happens.
cat >"$root/usr/local/sbin/sbox-vm-entry" <<'EOS'
#!/bin/sh
modprobe -a 9p 9pnet 9pnet_virtio
mkdir -p /mnt/host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host /mnt/host || exit 1
exec sh /mnt/host/guest-root.sh
EOS
chmod 755 "$root/usr/local/sbin/sbox-vm-entry"
cat >"$root/etc/systemd/system/sbox-vm-test.service" <<'EOS'
[Unit]
Description=sbox VM tests
After=systemd-logind.service systemd-user-sessions.service
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/sbox-vm-entry
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOS
ln -sf /etc/systemd/system/sbox-vm-test.service \
	"$root/etc/systemd/system/multi-user.target.wants/sbox-vm-test.service"
rm -rf "$root/var/cache/apt/archives/"*.deb

mkfs.ext4 -q -F -d "$root" "$out/rootfs.img.tmp" 2G
mv "$out/rootfs.img.tmp" "$out/rootfs.img"
echo "image: total $(($(date +%s) - t0)) s"
