#!/bin/sh
# Install sbox under PREFIX (default /usr/local):
#
#   ./install.sh [PREFIX]
#
#   PREFIX/bin/sbox
#   PREFIX/share/man/man1/sbox.1
#   PREFIX/share/sbox/profiles/                   shipped profiles
#   PREFIX/share/sbox/apparmor/sbox               AppArmor profile (Ubuntu 24.04+), not loaded
#   PREFIX/share/bash-completion/completions/sbox
#   PREFIX/share/zsh/site-functions/_sbox
#   PREFIX/share/fish/vendor_completions.d/sbox.fish
#
# DESTDIR, when set, is put in front of every path (for packaging). SBOX_BIN names a binary
# already built; otherwise 'cargo build --release' builds one.
set -eu
cd "$(dirname "$0")"
prefix=${1:-/usr/local}
case $prefix in
    /*) ;;
    *) echo "install.sh: PREFIX must be an absolute path: $prefix" >&2; exit 1 ;;
esac
dest=${DESTDIR:-}$prefix
bin=${SBOX_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --locked
    bin=target/$(rustc --print host-tuple)/release/sbox
fi

install -D -m 755 "$bin" "$dest/bin/sbox"
install -D -m 644 man/sbox.1 "$dest/share/man/man1/sbox.1"
install -d "$dest/share/sbox/profiles"
for p in profiles/*.toml; do
    if [ -e "$p" ]; then install -m 644 "$p" "$dest/share/sbox/profiles/"; fi
done
install -d "$dest/share/sbox/apparmor"
# The profile names the binary by path: this installation's.
sed "s|/usr/local/bin/sbox|$prefix/bin/sbox|" apparmor/sbox >"$dest/share/sbox/apparmor/sbox"
chmod 644 "$dest/share/sbox/apparmor/sbox"
for shell_file in bash:bash-completion/completions/sbox zsh:zsh/site-functions/_sbox \
    fish:fish/vendor_completions.d/sbox.fish; do
    shell=${shell_file%%:*}
    file=$dest/share/${shell_file#*:}
    install -d "$(dirname "$file")"
    "$bin" --completions "$shell" >"$file"
    chmod 644 "$file"
done
echo "installed sbox in $dest"
