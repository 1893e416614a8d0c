# An OCI runtime in front of another, for guest-oci.sh: keeps what the engine passed (the
# arguments; for create, config.json, the uid, user namespace map and cgroup it runs with),
# then runs the real runtime. Usage: guest-spy.sh REAL-RUNTIME LOG-PREFIX ARGS...
real=$1 log=$2
shift 2
echo "$*" >>"$log.log"
prev=
for a in "$@"; do
	[ "$prev" = --bundle ] && cp "$a/config.json" "$log.config.json"
	prev=$a
done
case " $* " in
*" create "*)
	echo "create: uid $(id -u), uid_map $(tr -s ' ' </proc/self/uid_map | tr '\n' ';'), cgroup $(cat /proc/self/cgroup), bus $DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR $XDG_RUNTIME_DIR" >>"$log.log"
	cg=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)
	echo "create: its cgroup $(ls -ldn "$cg"), controllers '$(cat "$cg/cgroup.controllers")', subtree_control '$(cat "$cg/cgroup.subtree_control")', procs $(tr '\n' ' ' <"$cg/cgroup.procs")" >>"$log.log"
	;;
esac
exec "$real" "$@"
