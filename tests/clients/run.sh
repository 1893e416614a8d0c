#!/usr/bin/env bash
# Real programs that drive bwrap, each run twice as an unprivileged user: once against Debian's
# /usr/bin/bwrap, once against a `bwrap` link to sbox. Every case must observe the same thing
# both times (exit statuses, outputs, files on the host). One line per case, then a closing
# line "N passed, N failed"; non-zero status on any failure.
#
# Usage:  tests/clients/run.sh [SBOX] [srt|flatpak|buildstream]...
#         (default: target/<host tuple>/release/sbox, all three clients)
# Environment:
#   SBOX_CLIENTS_PREFIX   where .ci/run installed srt (npm) and BuildStream (venv);
#                         default /var/tmp/sbox-clients
#   SBOX_CLIENTS_TIMEOUT  seconds for one client run (default 300); the whole script takes at
#                         most six of them
#   SBOX_CLIENTS_KEEP=1   keep the scratch directory (observations, logs)
#   SBOX_CLIENTS_STRICT=1 a difference listed in known-differences.txt fails too
#   CI                    when set, a missing prerequisite fails instead of skipping
# As root, the clients run as a system user `sboxclient` (created if missing: dbus-daemon
# and Flatpak need a passwd entry); otherwise as the calling user.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

sbox='' clients=()
for a in "$@"; do
	case $a in
	srt | flatpak | buildstream) clients+=("$a") ;;
	*) sbox=$a ;;
	esac
done
[ ${#clients[@]} -gt 0 ] || clients=(srt flatpak buildstream)
[ -n "$sbox" ] || sbox=$here/../../target/$(rustc --print host-tuple)/release/sbox
prefix=${SBOX_CLIENTS_PREFIX:-/var/tmp/sbox-clients}
limit=${SBOX_CLIENTS_TIMEOUT:-300}
passed=0 failed=0 skipped=0 known=0
# Differences not fixed yet, one "client/case  why" a line: reported as KNOWN, not
# counted as failures, until SBOX_CLIENTS_STRICT=1 or the line goes.
known_list=$here/known-differences.txt
[ "${SBOX_CLIENTS_STRICT:-}" = 1 ] && known_list=/dev/null

if [ ! -x "$sbox" ]; then
	echo "clients: $sbox: no such binary (cargo build --release first)"
	echo "0 passed, 1 failed"
	exit 1
fi

T=$(mktemp -d /tmp/sbox-clients.XXXXXX)
chmod 0755 "$T"
mkdir -p "$T/bin" "$T/lib" "$T/log"
cp "$sbox" "$T/bin/sbox"
ln -s sbox "$T/bin/bwrap"
cp "$here"/*.sh "$here"/*.py "$T/lib/"
chmod -R a+rX "$T"

if [ "$(id -u)" = 0 ]; then
	id -u sboxclient >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
			--user-group sboxclient
	uid=$(id -u sboxclient) gid=$(id -g sboxclient) user=sboxclient
	as_user=(setpriv --reuid "$uid" --regid "$gid" --clear-groups)
else
	uid=$(id -u) gid=$(id -g) user=$(id -un)
	as_user=()
fi

# As root, every process of the dedicated user still there after a client returned was left
# behind by it: name them, then end them by pid.
user_leftovers() {
	[ ${#as_user[@]} -gt 0 ] || {
		echo "not checked (not root)"
		return
	}
	local pids
	sleep 1 # what is exiting has exited
	pids=$(ps -o pid=,stat= -u "$uid" | awk '$2 !~ /^Z/ { print $1 }' | tr '\n' ' ')
	if [ -z "$pids" ]; then
		echo none
		return
	fi
	# shellcheck disable=SC2086
	ps -o comm= -p "$(echo $pids | tr ' ' ,)" | sort -u | tr '\n' ' ' | sed 's/ $//'
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
	sleep 0.5
}

cleanup() {
	[ ${#as_user[@]} -gt 0 ] && user_leftovers >/dev/null
	if [ "${SBOX_CLIENTS_KEEP:-}" = 1 ]; then echo "clients: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# What each client needs beyond this script: a missing one skips the client (fails in CI).
missing_for() {
	local m=()
	command -v /usr/bin/bwrap >/dev/null || m+=("bubblewrap (Debian package)")
	case $1 in
	srt)
		local v
		v=$(node --version 2>/dev/null | sed 's/^v//')
		if [ -z "$v" ]; then
			m+=("node")
		elif [ "$(printf '%s\n' "$v" 20.11.0 | sort -V | head -n 1)" != 20.11.0 ]; then
			m+=("node >= 20.11 (have $v)")
		fi
		[ -f "$prefix/srt/node_modules/@anthropic-ai/sandbox-runtime/dist/cli.js" ] ||
			m+=("@anthropic-ai/sandbox-runtime in $prefix/srt (.ci/run installs it)")
		for p in socat curl /usr/bin/python3; do command -v "$p" >/dev/null || m+=("$p"); done
		;;
	flatpak)
		for p in flatpak xdg-dbus-proxy dbus-daemon dbus-run-session busybox; do
			command -v "$p" >/dev/null || m+=("$p")
		done
		;;
	buildstream)
		[ -x "$prefix/bst/bin/bst" ] || m+=("BuildStream venv in $prefix/bst (.ci/run installs it)")
		command -v busybox >/dev/null || m+=("busybox")
		;;
	esac
	[ ${#m[@]} -eq 0 ] || {
		local IFS=,
		echo "${m[*]}"
	}
}

# run_client CLIENT VARIANT BWRAP: one run of a client's cases; observations under
# $T/obs/VARIANT/CLIENT, plus a case "finished-clean" made here.
run_client() {
	local client=$1 variant=$2 bwrap=$3 obs=$T/obs/$2/$1 rc t0
	rm -rf "$T/run"
	mkdir -p "$T/run" "$obs"
	chown "$uid:$gid" "$T/run" "$obs"
	t0=$(date +%s)
	(
		# Only the standard descriptors reach the client, as in CI.
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
		done
		exec timeout -k 10 "$limit" "${as_user[@]}" env -i \
			PATH=/usr/local/bin:/usr/bin:/bin HOME="$T/run/home" USER="$user" LOGNAME="$user" \
			SHELL=/bin/bash LANG=C.UTF-8 CLIENTS_PREFIX="$prefix" \
			bash "$T/lib/$client.sh" "$bwrap" "$T/run" "$obs" "$T/lib"
	) </dev/null >"$T/log/$client.$variant.log" 2>&1
	rc=$?
	local last
	last=$(ls -t "$obs" | head -n 1)
	{
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			echo "client run: killed after ${limit} s (last case: ${last%.err})"
		else
			echo "client run: status $rc"
		fi
		# The scripts end with status 0 whatever the cases saw; anything else is the harness.
		[ "$rc" = 0 ] || echo "unexpected client run status (want 0)"
		echo "left running: $(user_leftovers)"
	} >"$obs/finished-clean"
	echo "clients: $client with $variant: $(($(date +%s) - t0)) s"
	if [ "$rc" != 0 ]; then
		echo "clients: $client with $variant ended with status $rc; the end of its log:"
		tail -n 5 "$T/log/$client.$variant.log" | cut -c1-300 | sed 's/^/    . /'
	fi
}

# listed CLIENT/CASE: the reason given in the known-differences list, if the case is there.
listed() {
	local line
	line=$(grep -E "^$1[[:space:]]" "$known_list" 2>/dev/null | head -n 1)
	[ -n "$line" ] && echo "$line" | sed -E 's/^[^[:space:]]+[[:space:]]+//'
}

# compare CLIENT: one line per case, with the difference when the two runs disagree.
compare() {
	local client=$1 a=$T/obs/bwrap/$1 b=$T/obs/sbox/$1 name
	for name in $( (ls "$a"; ls "$b") | grep -v '\.err$' | sort -u); do
		if grep -q '^unexpected' "$a/$name" 2>/dev/null; then
			echo "FAIL $client/$name: Debian's bwrap does not behave as the case assumes:"
			grep '^unexpected' "$a/$name" | sed 's/^/    /'
			failed=$((failed + 1))
		elif [ ! -f "$a/$name" ] || [ ! -f "$b/$name" ]; then
			echo "FAIL $client/$name: ran under only one of bwrap and sbox"
			failed=$((failed + 1))
		elif cmp -s "$a/$name" "$b/$name"; then
			if why=$(listed "$client/$name"); then
				echo "PASS $client/$name (now agrees: drop it from known-differences.txt)"
			else
				echo "PASS $client/$name"
			fi
			passed=$((passed + 1))
		else
			if why=$(listed "$client/$name"); then
				echo "KNOWN $client/$name: $why (- bwrap, + sbox):"
				known=$((known + 1))
			else
				echo "FAIL $client/$name: sbox differs from bwrap (- bwrap, + sbox):"
				failed=$((failed + 1))
			fi
			diff -U0 "$a/$name" "$b/$name" | grep '^[-+][^-+]' | sed 's/^/    /'
			if [ -s "$b/$name.err" ]; then
				echo "    sbox run's stderr (errors first):"
				{ grep -E '^(sbox|bwrap): |[Ee]rror|Failed to|FAILURE' "$b/$name.err" || head -n 5 "$b/$name.err"; } |
					head -n 5 | cut -c1-300 | sed 's/^/    . /'
			fi
		fi
	done
}

for client in "${clients[@]}"; do
	why=$(missing_for "$client")
	if [ -n "$why" ]; then
		echo "SKIPPED: clients/$client: missing $why"
		if [ -n "${CI:-}" ]; then failed=$((failed + 1)); else skipped=$((skipped + 1)); fi
		continue
	fi
	run_client "$client" bwrap /usr/bin/bwrap
	run_client "$client" sbox "$T/bin/bwrap"
	compare "$client"
done

[ "$skipped" = 0 ] || echo "clients: $skipped client(s) skipped"
[ "$known" = 0 ] || echo "clients: $known known difference(s) (known-differences.txt), not counted (SBOX_CLIENTS_STRICT=1 counts them)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
