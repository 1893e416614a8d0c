# The npm agent-sandbox wrapper (@anthropic-ai/sandbox-runtime, CLI `srt`), driven through its
# settings file's `bwrapPath`. Started by run.sh as the unprivileged user; see lib.sh.
# shellcheck source=tests/clients/lib.sh
. "$4/lib.sh"
cli=$CLIENTS_PREFIX/srt/node_modules/@anthropic-ai/sandbox-runtime/dist/cli.js

mkdir -p "$RUN/work/locked" "$RUN/data/secret" "$RUN/www-a" "$RUN/www-b" "$RUN/home"
echo "public text" >"$RUN/data/public.txt"
echo "secret text" >"$RUN/data/secret/key.txt"
echo "served from a" >"$RUN/www-a/index.txt"
echo "served from b" >"$RUN/www-b/index.txt"

# Two HTTP servers on 127.0.0.1 only: a is on the proxy's allowlist, b is not.
servers=()
for w in a b; do
	/usr/bin/python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$RUN/www-$w" \
		>"$RUN/www-$w.log" 2>&1 &
	servers+=($!)
done
trap 'kill "${servers[@]}" 2>/dev/null; wait "${servers[@]}"' EXIT
port() {
	local i=0
	until grep -q 'port [0-9]' "$1" 2>/dev/null || [ "$i" -gt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	sed -n 's/.* port \([0-9]*\).*/\1/p' "$1" | head -n 1
}
port_a=$(port "$RUN/www-a.log")
port_b=$(port "$RUN/www-b.log")

cat >"$RUN/settings.json" <<EOF
{
  "network": {"allowedDomains": ["127.0.0.1:$port_a"], "deniedDomains": []},
  "filesystem": {
    "denyRead": ["$RUN/data/secret"],
    "allowRead": [],
    "allowWrite": ["$RUN/work"],
    "denyWrite": ["$RUN/work/locked"]
  },
  "bwrapPath": "$BWRAP"
}
EOF

# The mode for nested sandboxes (Docker): the host's /proc bound instead of a fresh one.
sed 's/^  "bwrapPath"/  "enableWeakerNestedSandbox": true,\n  "bwrapPath"/' "$RUN/settings.json" \
	>"$RUN/settings-weaker.json"

# The wrapper, from the work directory; `-c` takes a shell command string.
srt=(node "$cli" --settings "$RUN/settings.json" -c)
cd "$RUN/work" || exit 1

# run CASE CMD: one case that runs CMD in the sandbox and records status and stdout.
run() {
	begin "$1"
	t 60 "${srt[@]}" "$2" >"$RUN/out"
	obs "status: $?"
	out "$RUN/out"
}

run read-allowed "cat $RUN/data/public.txt"
run read-denied "cat $RUN/data/secret/key.txt; echo cat: \$?"
grep -q '^  | cat: 1$' "$OBS/read-denied" || obs "unexpected read-denied: cat did not fail"

run write-allowed "echo written > $RUN/work/out.txt; echo echo: \$?"
expect "host file" "$(cat "$RUN/work/out.txt" 2>/dev/null)" written

run write-denied "echo a > $RUN/data/out.txt; echo outside: \$?; echo b > $RUN/work/locked/out.txt; echo denyWrite: \$?"
expect "host files" "$(ls "$RUN/data/out.txt" "$RUN/work/locked/out.txt" 2>/dev/null | wc -l)" 0

# Through srt's proxy (its socat bridge into the sandbox's network namespace); NO_PROXY names
# 127.0.0.1, so curl is told to use the proxy explicitly. srt starts the bridge in the
# background just before the command: wait until it listens.
curl_via_proxy='for i in $(seq 50); do (: </dev/tcp/localhost/${http_proxy##*:}) 2>/dev/null && break; sleep 0.1; done
curl -sS --max-time 20 --noproxy "" --proxy "$http_proxy" -w " http=%{http_code}\n"'
run http-allowed "$curl_via_proxy http://127.0.0.1:$port_a/index.txt"
grep -q 'served from a' "$OBS/http-allowed" || obs "unexpected http-allowed: no page"
run http-denied "$curl_via_proxy -o /dev/null http://127.0.0.1:$port_b/index.txt; curl -sS --max-time 5 --noproxy '*' http://127.0.0.1:$port_a/index.txt; echo direct: \$?"
grep -q 'http=403' "$OBS/http-denied" || obs "unexpected http-denied: not refused by the proxy"

run exit-status "echo before exit; exit 7"

# The sandbox as the command sees it: ids, credentials, devices, the filesystem's modes, the
# unix-socket block of srt's own seccomp helper.
run inside "id -u; id -g; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; \
ls /dev | tr '\n' ' '; echo; stat -c '%n %a %U' /dev/shm /dev/pts /tmp /proc $RUN/work; \
ls /proc/self/fd | wc -l; /usr/bin/python3 -c 'import socket; socket.socket(socket.AF_UNIX)' 2>&1 | tail -n 1; \
printenv JAVA_TOOL_OPTIONS | cut -c1-11; \
echo processes seen: \$(ls -d /proc/[0-9]* | wc -l)"

# A signal to the wrapper: SIGTERM to srt alone, as a timeout sends it; SIGINT to its process
# group, as a terminal's Ctrl-C does (srt passes SIGINT to its shell only, which waits for
# bwrap). srt must return, and the sandboxed command must be gone (srt relies on bwrap's
# --die-with-parent for that).
signal_case() { # CASE SIGNAL TARGET MARKER [PREFIX]
	begin "$1"
	rm -f "$RUN/work/started" "$RUN/work/finished"
	# Job control: the job gets its own process group, and keeps SIGINT (a plain `&` would
	# ignore it).
	set -m
	"${srt[@]}" "${5:-}echo started > $RUN/work/started; sleep $4; echo finished > $RUN/work/finished" \
		>"$RUN/out" 2>>"$OBS/$CASE.err" &
	local pid=$! i=0
	set +m
	wait_for "$RUN/work/started" 150 || obs "unexpected: the command never started"
	sleep 0.5
	if [ "$3" = group ]; then kill -s "$2" -- "-$pid"; else kill -s "$2" "$pid"; fi
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		obs "srt: still running 10 s after SIG$2"
		kill -KILL "$pid"
	fi
	wait "$pid"
	obs "status: $?"
	out "$RUN/out"
	sleep 1
	expect "left running" "$(leftovers "sleep $4")" none
	expect "command finished" "$([ -e "$RUN/work/finished" ] && echo yes || echo no)" no
}
signal_case sigterm TERM process 101
signal_case sigint INT group 102
# A command that ignores SIGTERM (and its children with it) still goes.
signal_case sigterm-ignored TERM process 105 "trap '' TERM; "

begin weaker-nested
t 60 node "$cli" --settings "$RUN/settings-weaker.json" -c "cat $RUN/data/public.txt; \
cat $RUN/data/secret/key.txt; echo cat: \$?; echo x > $RUN/data/out.txt; echo write: \$?; \
grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; stat -c '%n %a' /proc/self/uid_map; \
exit 3" >"$RUN/out"
obs "status: $?"
out "$RUN/out"

# The standard streams pass through: a pipe in, both outputs out.
begin stdio
printf 'line one\nline two\n' | t 60 "${srt[@]}" 'cat; echo to stderr >&2; echo done' >"$RUN/out"
obs "status: $?"
out "$RUN/out"
expect stderr "$(grep -c 'to stderr' "$OBS/$CASE.err")" 1

begin background-child
start=$(date +%s)
t 60 "${srt[@]}" "sleep 103 & echo spawned" >"$RUN/out"
obs "status: $?"
out "$RUN/out"
expect "returned within 10 s" "$([ $(($(date +%s) - start)) -lt 10 ] && echo yes || echo no)" yes
sleep 1
expect "left running" "$(leftovers "sleep 103")" none

# What srt and bwrap leave on the host (srt removes the mount points bwrap created).
begin host-files
find "$RUN/work" "$RUN/data" -printf '%P %y %m\n' | sort >"$RUN/out"
out "$RUN/out"
