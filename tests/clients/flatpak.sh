# Flatpak (Debian's), driven through FLATPAK_BWRAP: a runtime and an app built here from a
# busybox root, installed --user from a local repository, then run, built and entered.
# Started by run.sh as the unprivileged user; see lib.sh. Everything lives under $RUN.
# shellcheck source=tests/clients/lib.sh
. "$4/lib.sh"
export FLATPAK_BWRAP=$BWRAP
export HOME=$RUN/home XDG_RUNTIME_DIR=$RUN/xdg-run
export XDG_DATA_HOME=$HOME/.local/share XDG_CONFIG_HOME=$HOME/.config XDG_CACHE_HOME=$HOME/.cache
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$RUN/shared"
chmod 0700 "$XDG_RUNTIME_DIR"
app=org.sbox.Hello

# A bus configuration of our own: no service directories, so nothing is activated (no portals).
cat >"$RUN/bus.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
# `flatpak install` of an app asks the system bus for its parental-controls check: a private
# bus for that (DBUS_SYSTEM_BUS_ADDRESS), so the machine's own is never touched.
dbus-daemon --config-file="$RUN/bus.conf" --address="unix:path=$XDG_RUNTIME_DIR/system-bus" \
	--nofork --nopidfile 2>>"$RUN/system-bus.log" &
sysbus=$!
trap 'kill "$sysbus" 2>/dev/null; wait "$sysbus"' EXIT
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/system-bus
wait_for "$XDG_RUNTIME_DIR/system-bus"

# The runtime: a busybox root (built by sbox --mkroot, no sandbox involved) as /usr.
mkdir -p "$RUN/runtime"
"$LIB/../bin/sbox" --mkroot "$RUN/runtime/files" --busybox >/dev/null || exit 1
rmdir "$RUN/runtime/files/"{proc,dev,sys,tmp}
cat >"$RUN/runtime/metadata" <<'EOF'
[Runtime]
name=org.sbox.Platform
runtime=org.sbox.Platform/x86_64/master
sdk=org.sbox.Platform/x86_64/master
EOF
flatpak build-export --runtime --files=files "$RUN/repo" "$RUN/runtime" >/dev/null || exit 1
flatpak remote-add --user --no-gpg-verify local "file://$RUN/repo" || exit 1

# Installing runs the host's triggers under bwrap.
begin install-runtime
t 60 flatpak install -y --noninteractive --user local org.sbox.Platform >/dev/null
obs "status: $?"
obs "installed: $(flatpak list --user --runtime --columns=application 2>&1 | tr '\n' ' ')"

# `flatpak build`: a trivial app. --env with values starting with '-' as Flatpak's own
# defaults have them (MAKEFLAGS, LDFLAGS).
begin build
flatpak build-init "$RUN/app" $app org.sbox.Platform org.sbox.Platform master 2>>"$OBS/$CASE.err"
t 60 flatpak build --env=MAKEFLAGS=-j4 --env=LDFLAGS=-L/app/lib "$RUN/app" sh -c '
	mkdir -p /app/bin
	cat > /app/bin/hello <<EOF
#!/bin/sh
echo "hello from \$FLATPAK_ID, uid \$(id -u), args: \$*"
echo "LESS=\$LESS"
grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status
ls /dev | tr "\n" " "; echo
stat -c "%n %a" / /app /usr /tmp /dev/shm /run/user/\$(id -u) /.flatpak-info /etc/passwd /etc/group
[ -S /run/flatpak/bus ] && echo "session bus: proxied" || echo "session bus: none"
EOF
	chmod 755 /app/bin/hello
	echo "built as uid $(id -u), in $(pwd), MAKEFLAGS=$MAKEFLAGS LDFLAGS=$LDFLAGS"' >"$RUN/out"
obs "status: $?"
out "$RUN/out"

begin install-app
{
	flatpak build-finish --command=hello "$RUN/app" &&
		flatpak build-export "$RUN/repo" "$RUN/app"
} >/dev/null 2>>"$OBS/$CASE.err"
obs "export: $?"
t 60 flatpak install -y --noninteractive --user local $app >/dev/null
obs "status: $?"
obs "installed: $(flatpak list --user --app --columns=application 2>&1 | tr '\n' ' ')"

# `flatpak run` in a session with a D-Bus session bus: Flatpak starts xdg-dbus-proxy under
# bwrap too (its arguments and a sync pipe passed as inherited descriptors).
begin run
t 60 dbus-run-session --config-file="$RUN/bus.conf" -- \
	flatpak run --env=LESS=-R $app one two >"$RUN/out"
obs "status: $?"
out "$RUN/out"

# `flatpak kill` of a running app: Flatpak signals the sandbox it found through --info-fd.
begin kill
rm -f "$RUN/shared/"*
t 60 dbus-run-session --config-file="$RUN/bus.conf" -- sh -c '
	shared=$1 app=$2
	flatpak run --filesystem="$shared" --command=sh $app -c "touch $shared/started; sleep 104" &
	i=0
	while [ ! -e "$shared/started" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	flatpak kill $app
	echo "kill status: $?"
	wait
	echo "run status: $?"
' sh "$RUN/shared" $app >"$RUN/out"
obs "status: $?"
out "$RUN/out"
sleep 0.5
expect "left running" "$(leftovers "sleep 104")" none

# SIGTERM to `flatpak run --die-with-parent` (Flatpak execs bwrap: the signal reaches bwrap)
# while the app traps SIGTERM: bubblewrap dies of it and the sandbox goes with it.
begin terminate
rm -f "$RUN/shared/"*
t 60 dbus-run-session --config-file="$RUN/bus.conf" -- sh -c '
	shared=$1 app=$2
	flatpak run --die-with-parent --filesystem="$shared" --command=sh $app -c "
		trap \"echo trapped > $shared/trapped\" TERM; touch $shared/started; sleep 106; echo after" &
	pid=$!
	i=0
	while [ ! -e "$shared/started" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	kill -TERM $pid
	wait $pid
	echo "run status: $?"
' sh "$RUN/shared" $app >"$RUN/out"
obs "status: $?"
out "$RUN/out"
sleep 0.5
expect "left running" "$(leftovers "sleep 106")" none
obs "trap ran: $([ -e "$RUN/shared/trapped" ] && echo yes || echo no)"

# `flatpak enter` into a running app (setns into the --info-fd child-pid's namespaces). First
# 4 s pass: Flatpak removes an instance whose .ref (held through --lock-file) is more than 3 s
# old and not locked.
begin enter
rm -f "$RUN/shared/"*
t 90 dbus-run-session --config-file="$RUN/bus.conf" -- sh -c '
	shared=$1 app=$2
	flatpak run --filesystem="$shared" --command=sh $app -c "
		echo \$FLATPAK_ID > $shared/started
		i=0
		while [ ! -e $shared/stop ] && [ \$i -lt 400 ]; do sleep 0.1; i=\$((i + 1)); done
		echo stopped" > "$shared/run.out" &
	i=0
	while [ ! -e "$shared/started" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 4
	instance=$(flatpak ps --columns=instance,application | awk -v a=$app "\$2 == a { print \$1; exit }")
	echo "instance found: $([ -n "$instance" ] && echo yes || echo no)"
	flatpak enter "$instance" sh -c "echo entered; ls /app/bin; grep ^name= /.flatpak-info"
	echo "enter status: $?"
	touch "$shared/stop"
	wait
	echo "run status: $?"
	cat "$shared/run.out"
' sh "$RUN/shared" $app >"$RUN/out"
obs "status: $?"
out "$RUN/out"
