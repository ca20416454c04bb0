#!/usr/bin/env bash
# Installs bayagent on a box: the binary, the systemd unit, the configuration
# for one board (from firmware-config/), the system user and the directories.
#
# Usage (as root, from an unpacked release tarball or a source tree after
# `make build`):
#   scripts/install.sh --config firmware-config/pi4-pican2-nha506.yaml
#   scripts/install.sh                      # upgrade: keeps /etc/bayagent as it is
# Options:
#   --config FILE   the board's configuration; copied to /etc/bayagent/config.yaml
#                   only when that file does not exist yet (not overwritten)
#   --force         with --config: replace an existing /etc/bayagent/config.yaml,
#                   keeping the old one as config.yaml.bak-YYYYmmdd-HHMMSS
#   --prefix DIR    install under DIR instead of / (also: DESTDIR=DIR): no user is
#                   created, no owner changed, systemctl is not called. For packaging
#                   and tests; needs no root.
#   --binary FILE   the bayagent binary (default: ./bayagent of a release, or bin/bayagent)
#
# What it does (paths under the prefix):
#   user bayagent (system, no login, no home), in the groups dialout (serial),
#     gpio (GPIO, where it exists) and netdev (where it exists)
#   /usr/local/bin/bayagent                    0755
#   /etc/systemd/system/bayagent.service       0644
#   /etc/bayagent/                             0750 root:bayagent
#   /etc/bayagent/config.yaml                  0640 root:bayagent (not overwritten)
#   /etc/bayagent/bayagent.env                 0600 root (a template; not overwritten)
#   /var/lib/bayagent/                         0700 bayagent:bayagent (or device.state_dir of
#     the configuration, made writable for the unit by
#     /etc/systemd/system/bayagent.service.d/state-dir.conf)
#   /usr/local/share/bayagent/                 README.md and firmware-config/, for reference
# then `systemctl daemon-reload`, `enable` and (re)start when systemd runs.
set -euo pipefail

die() { echo "install.sh: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
prefix=${DESTDIR:-}
config=""
binary=""
force=no
while [ $# -gt 0 ]; do
  case "$1" in
    --config) [ $# -ge 2 ] || die "--config needs a file"; config=$2; shift 2 ;;
    --config=*) config=${1#*=}; shift ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a file"; binary=$2; shift 2 ;;
    --binary=*) binary=${1#*=}; shift ;;
    --force) force=yes; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# system: a real installation on this machine (users, owners, systemd).
system=yes
if [ -n "$prefix" ] && [ "$(cd "$prefix" 2>/dev/null && pwd)" != / ]; then
  system=no
  mkdir -p "$prefix"
  prefix=$(cd "$prefix" && pwd)
else
  prefix=""
fi
if [ "$system" = yes ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (or use --prefix DIR to install into a directory)"
fi

if [ -z "$binary" ]; then
  for b in "$root/bayagent" "$root/bin/bayagent"; do
    if [ -f "$b" ]; then binary=$b; break; fi
  done
fi
[ -n "$binary" ] && [ -f "$binary" ] || die "no bayagent binary (looked for $root/bayagent and $root/bin/bayagent; run 'make build' or give --binary FILE)"

etc="$prefix/etc/bayagent"
if [ -n "$config" ]; then
  [ -f "$config" ] || die "no such configuration file: $config"
elif [ ! -f "$etc/config.yaml" ]; then
  boards=$(cd "$root/firmware-config" 2>/dev/null && ls -1 ./*.yaml 2>/dev/null | sed 's|^\./|  firmware-config/|') || true
  die "no configuration yet: choose your board with --config FILE, one of:
${boards:-  (none found in $root/firmware-config)}"
fi

user=bayagent
if [ "$system" = yes ]; then
  if ! getent passwd "$user" >/dev/null; then
    command -v useradd >/dev/null || die "useradd not found: create the system user '$user' yourself"
    nologin=$(command -v nologin || echo /usr/sbin/nologin)
    useradd --system --user-group --no-create-home --home-dir /var/lib/bayagent --shell "$nologin" \
      --comment "Bayagent diagnostic gateway" "$user"
    echo "install.sh: created system user $user"
  fi
  for g in dialout gpio netdev; do
    if getent group "$g" >/dev/null; then usermod -a -G "$g" "$user"; fi
  done
fi

# owner USER:GROUP PATH: set the owner on a real installation only.
owner() { if [ "$system" = yes ]; then chown "$1" "$2"; fi; }

install -d -m 0755 "$prefix/usr/local/bin" "$prefix/etc/systemd/system" "$prefix/usr/local/share/bayagent"
install -d -m 0750 "$etc"
owner "root:$user" "$etc"
install -d -m 0700 "$prefix/var/lib/bayagent"
owner "$user:$user" "$prefix/var/lib/bayagent"

# The binary may be running: write a new file and rename it over the old one.
tmp="$prefix/usr/local/bin/.bayagent.new.$$"
install -m 0755 "$binary" "$tmp"
mv -f "$tmp" "$prefix/usr/local/bin/bayagent"

install -m 0644 "$root/scripts/bayagent.service" "$prefix/etc/systemd/system/bayagent.service"

share="$prefix/usr/local/share/bayagent"
if [ -f "$root/README.md" ]; then install -m 0644 "$root/README.md" "$share/README.md"; fi
if [ -d "$root/firmware-config" ]; then
  install -d -m 0755 "$share/firmware-config"
  for f in "$root"/firmware-config/*; do
    if [ -f "$f" ]; then install -m 0644 "$f" "$share/firmware-config/"; fi
  done
fi

if [ "$force" = yes ] && [ -z "$config" ]; then
  die "--force replaces the configuration: give the new one with --config FILE"
fi
if [ -f "$etc/config.yaml" ] && [ "$force" = yes ] && ! cmp -s "$config" "$etc/config.yaml"; then
  backup="$etc/config.yaml.bak-$(date +%Y%m%d-%H%M%S)"
  cp -p "$etc/config.yaml" "$backup"
  install -m 0640 "$config" "$etc/config.yaml"
  owner "root:$user" "$etc/config.yaml"
  echo "install.sh: replaced $etc/config.yaml with $config (the old one is $backup)"
elif [ -f "$etc/config.yaml" ]; then
  if [ -n "$config" ] && ! cmp -s "$config" "$etc/config.yaml"; then
    echo "install.sh: kept the existing $etc/config.yaml (not overwritten); $config differs (--force replaces it, keeping a backup)"
  fi
else
  install -m 0640 "$config" "$etc/config.yaml"
  owner "root:$user" "$etc/config.yaml"
  echo "install.sh: installed $config as $etc/config.yaml"
fi

# The unit may write only its state directory: follow device.state_dir.
state_dir=$(sed -n 's/^[[:space:]]\{1,\}state_dir:[[:space:]]*//p' "$etc/config.yaml" | head -n 1 |
  sed 's/[[:space:]]#.*$//; s/^["'"'"']//; s/["'"'"'][[:space:]]*$//; s/[[:space:]]*$//')
dropin="$prefix/etc/systemd/system/bayagent.service.d/state-dir.conf"
case "$state_dir" in
  ""|/var/lib/bayagent|/var/lib/bayagent/) rm -f "$dropin" ;;
  *'${'*) echo "install.sh: device.state_dir is $state_dir: make it writable for the unit yourself (ReadWritePaths= in a drop-in)" ;;
  /*)
    install -d -m 0700 "$prefix$state_dir"
    owner "$user:$user" "$prefix$state_dir"
    install -d -m 0755 "$(dirname "$dropin")"
    printf '# Written by scripts/install.sh: device.state_dir of /etc/bayagent/config.yaml.\n[Service]\nReadWritePaths=%s\n' "$state_dir" >"$dropin"
    chmod 0644 "$dropin"
    echo "install.sh: the state directory is $state_dir (writable for the unit: $dropin)"
    ;;
  *) die "device.state_dir must be an absolute path: $state_dir" ;;
esac

new_env=no
if [ ! -f "$etc/bayagent.env" ]; then
  new_env=yes
  (umask 077 && cat >"$etc/bayagent.env" <<'ENV'
# Environment of the bayagent service: per-box values that config.yaml
# references as ${NAME}, and the MQTT password (config.yaml only names the
# variable, in uplink.password_env). systemd reads this file as root before
# starting the agent; keep it root-owned, mode 0600.
BAYAGENT_DEVICE_ID=
BAYAGENT_SHOP=
BAYAGENT_COMPANY_NAME=
BAYAGENT_BROKER=ssl://records.example.org:8883
BAYAGENT_MQTT_USERNAME=
BAYAGENT_MQTT_PASSWORD=
BAYAGENT_COMMAND_KEY=
ENV
  )
  chmod 0600 "$etc/bayagent.env"
  owner root:root "$etc/bayagent.env"
fi

if [ ! -f "$prefix/var/lib/bayagent/screen.pin" ]; then
  echo "install.sh: the bay screen has no PIN yet (nobody can sign in): bayagent screen pin"
fi

if [ "$system" = no ]; then
  echo "install.sh: installed under $prefix (no user, owners or systemd changes)"
  exit 0
fi
if ! command -v systemctl >/dev/null || [ ! -d /run/systemd/system ]; then
  echo "install.sh: systemd is not running here: enable bayagent.service yourself"
  exit 0
fi
systemctl daemon-reload
systemctl enable bayagent.service
if [ "$new_env" = yes ]; then
  echo "install.sh: fill in $etc/bayagent.env, then: systemctl start bayagent"
  echo "  (the agent checks its configuration at start: journalctl -u bayagent shows every problem)"
else
  systemctl restart bayagent.service
  echo "install.sh: bayagent restarted; logs: journalctl -u bayagent -f"
fi
