#!/bin/bash
# Boot a Debian bookworm guest with systemd under qemu and run sbox's resource-limit tests
# inside it as a normal lingering user (uid 1000), whose user@.service delegates memory, pids
# and cpu. The host prints the results and a closing line "N passed, M failed".
#
# Usage (as root):  tests/vm/run.sh [path/to/sbox]      (default: target/<host tuple>/release/sbox)
# Environment:      SBOX_VM_CACHE (default /var/tmp/sbox-vm): where the image is cached,
#                   keyed by a hash of tests/vm/image.sh
#                   SBOX_VM_TIMEOUT (default 900): seconds before the VM is killed
#                   SBOX_VM_KEEP=1: keep the share directory (console log, results)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sbox=$(realpath "${1:-$here/../../target/$(rustc --print host-tuple)/release/sbox}")
cache=${SBOX_VM_CACHE:-/var/tmp/sbox-vm}
[ -x "$sbox" ] || { echo "vm: $sbox: no such binary (cargo build --release first)"; exit 2; }

missing=
command -v debootstrap >/dev/null || missing="$missing debootstrap"
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86"
command -v mkfs.ext4 >/dev/null || missing="$missing e2fsprogs"
[ -x /bin/busybox ] || missing="$missing busybox-static"
if [ -n "$missing" ]; then
	echo "vm: installing$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

# The image: built once per recipe, shared by concurrent runs (flock).
hash=$(sha256sum "$here/image.sh" | cut -c1-16)
img=$cache/$hash
mkdir -p "$cache"
t0=$(date +%s)
(
	flock 9
	if [ ! -f "$img/rootfs.img" ]; then
		echo "vm: building the guest image in $img (about 2 minutes)"
		# Images of older recipes go (a running qemu keeps its open file).
		find "$cache" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
		bash "$here/image.sh" "$img"
	fi
) 9>"$cache/.lock"
t1=$(date +%s)
echo "vm: image ready in $((t1 - t0)) s"

share=$(mktemp -d /var/tmp/sbox-vm-share.XXXXXX)
[ "${SBOX_VM_KEEP:-}" = 1 ] || trap 'rm -rf "$share"' EXIT
chmod 0777 "$share"
cp "$sbox" "$share/sbox"
cp "$here"/guest-*.sh "$share/"
# The OCI cases' bundle and podman image: a static busybox (the host's busybox-static).
cp /bin/busybox "$share/busybox"
chmod 0755 "$share/sbox" "$share/busybox"
chmod 0644 "$share"/guest-*.sh

# TCG unless the CPU really has hardware virtualization (a PVM /dev/kvm hangs a stock kernel).
accel=tcg
if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && ! grep -q '^kvm_pvm' /proc/modules; then
	accel=kvm
fi
echo "vm: booting (accel=$accel)"
rc=0
timeout "${SBOX_VM_TIMEOUT:-900}" qemu-system-x86_64 \
	-machine q35,accel=$accel -cpu max -m 2G -smp 2 \
	-nographic -no-reboot -nic none -snapshot \
	-drive file="$img/rootfs.img",format=raw,if=virtio \
	-kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 panic=-1 systemd.unified_cgroup_hierarchy=1 quiet" \
	-virtfs local,path="$share",mount_tag=host,security_model=none \
	</dev/null >"$share/console.log" 2>&1 || rc=$?
t2=$(date +%s)
echo "vm: guest ran $((t2 - t1)) s (qemu status $rc)"
[ -f "$share/timing" ] && sed 's/^/vm: /' "$share/timing"

if [ ! -s "$share/results.txt" ]; then
	echo "vm: no results from the guest; last lines of its console:"
	tail -n 40 "$share/console.log" | sed 's/^/  | /'
	echo "0 passed, 1 failed"
	exit 1
fi
cat "$share/results.txt"
if [ -s "$share/guest.log" ] && grep -q '^FAIL' "$share/results.txt"; then
	echo "vm: guest log:"
	tail -n 60 "$share/guest.log" | sed 's/^/  | /'
	if [ -s "$share/guest-oci.log" ]; then
		echo "vm: guest-oci log:"
		tail -n 60 "$share/guest-oci.log" | sed 's/^/  | /'
	fi
fi
passed=$(grep -c '^PASS' "$share/results.txt" || true)
failed=$(grep -c '^FAIL' "$share/results.txt" || true)
grep -q '^END' "$share/results.txt" || { echo "vm: the guest tests did not finish"; failed=$((failed + 1)); }
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
