#!/usr/bin/env bash
# bin/procwatch install | uninstall: the systemd service for this checkout (run as root).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
unit=/etc/systemd/system/procwatch.service
case "${1:-}" in
install)
    [ "$(id -u)" -eq 0 ] || { echo "procwatch install: run as root" >&2; exit 2; }
    "$root/bin/procwatch" --version >/dev/null   # build now, not at the first boot
    install -d -m 0755 -o root -g root /etc/procwatch
    [ -f /etc/procwatch/procwatch.conf ] || install -m 0644 -o root -g root "$root/packaging/procwatch.conf" /etc/procwatch/procwatch.conf
    # the daemon refuses a config file that anyone but root could change (docs/security.md):
    # say so now, not at the first boot
    for f in /etc /etc/procwatch /etc/procwatch/procwatch.conf; do
        if [ "$(stat -L -c %u "$f")" != 0 ] || [ $(( 0$(stat -L -c %a "$f") & 022 )) -ne 0 ]; then
            echo "procwatch install: $f must be root's and not writable by group or others (chmod go-w), or the daemon refuses its config" >&2
            exit 1
        fi
    done
    sed "s|@ROOT@|$root|g" "$root/packaging/procwatch.service" >"$unit.tmp"
    mv "$unit.tmp" "$unit"
    # The thin client when it was built: no shell starts before each command (bash alone costs
    # ~2 ms, as much as the whole ps). It hands what it does not do to this checkout's bin/procwatch.
    if [ -x "$root/target/procwatch-native" ]; then
        ln -sf "$root/target/procwatch-native" /usr/local/bin/procwatch
    else
        ln -sf "$root/bin/procwatch" /usr/local/bin/procwatch
    fi
    # man pages and completion, generated from the commands' own --help (OperatorKit)
    mkdir -p /usr/local/share/man/man1 /usr/local/share/man/man8 /usr/local/share/bash-completion/completions
    PROCWATCH_NO_NATIVE=1 "$root/bin/procwatch" generate man1 >/usr/local/share/man/man1/procwatch.1
    PROCWATCH_NO_NATIVE=1 "$root/bin/procwatch" generate man8 >/usr/local/share/man/man8/procwatch-daemon.8
    PROCWATCH_NO_NATIVE=1 "$root/bin/procwatch" generate bash-completion >/usr/local/share/bash-completion/completions/procwatch
    systemctl daemon-reload
    systemctl enable --now procwatch.service
    echo "procwatch: installed $unit, /etc/procwatch/procwatch.conf, /usr/local/bin/procwatch, its man pages and bash completion; the daemon is running"
    ;;
uninstall)
    [ "$(id -u)" -eq 0 ] || { echo "procwatch uninstall: run as root" >&2; exit 2; }
    systemctl disable --now procwatch.service 2>/dev/null || true
    rm -f "$unit" /usr/local/bin/procwatch /usr/local/share/man/man1/procwatch.1 \
        /usr/local/share/man/man8/procwatch-daemon.8 /usr/local/share/bash-completion/completions/procwatch
    systemctl daemon-reload 2>/dev/null || true
    echo "procwatch: removed the service; /etc/procwatch and /var/lib/procwatch (history) are kept"
    ;;
*)
    echo "usage: procwatch install | uninstall" >&2
    exit 2
    ;;
esac
