# Runs as root in the guest (from sbox-vm-test.service): install sbox, wait for the lingering
# user's systemd, run the tests as that user in a real login session, power off (the unit does).
exec >/mnt/host/guest.log 2>&1
set -x
install -m 0755 /mnt/host/sbox /usr/local/bin/sbox
i=0
until systemctl is-active -q user@1000.service user@1001.service &&
	[ -S /run/user/1000/bus ] && [ -S /run/user/1001/bus ]; do
	i=$((i + 1))
	[ $i -gt 600 ] && break
	sleep 0.1
done
echo "user@1000 ready at $(cut -d' ' -f1 /proc/uptime) s guest uptime" >>/mnt/host/timing
: >/mnt/host/results.txt
chmod 0666 /mnt/host/results.txt
runuser -l tester -c 'sh /mnt/host/guest-test.sh /mnt/host/results.txt' >/mnt/host/guest-test.log 2>&1
runuser -l tester -c 'sh /mnt/host/guest-oci.sh /mnt/host/results.txt' >/mnt/host/guest-oci.log 2>&1
runuser -l nodeleg -c 'sh /mnt/host/guest-test.sh /mnt/host/results.txt' >>/mnt/host/guest-test.log 2>&1
echo END >>/mnt/host/results.txt
echo "tests done at $(cut -d' ' -f1 /proc/uptime) s guest uptime" >>/mnt/host/timing
sync
