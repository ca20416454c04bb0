#!/usr/bin/env bash
# Installs what the test suite needs on a Debian/Ubuntu machine that has only
# Go, gcc, make and git: qemu-user-static (the arm/arm64 runs), Mosquitto
# (the integration tests), fuse3 (fusermount3 for the power-loss tests'
# FUSE file system, agent/internal/powerfs; as root they mount directly and
# need only /dev/fuse), Chromium with a Chinese font (the bay screen's
# browser tests), PostgreSQL (the receiver's shared store) and, when asked
# for, RabbitMQ with its MQTT plugin (make test-brokers). Idempotent; does
# nothing when all are present. Installed services are not started: the
# tests start their own servers on private sockets and ports.
# Usage: scripts/install-test-tools.sh [qemu] [mosquitto] [fuse] [chromium] [postgresql] [rabbitmq]
#        (default: all but rabbitmq)
set -euo pipefail

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(qemu mosquitto fuse chromium postgresql)

pkgs=()
for w in "${want[@]}"; do
  case "$w" in
    qemu) command -v qemu-arm-static >/dev/null && command -v qemu-aarch64-static >/dev/null || pkgs+=(qemu-user-static) ;;
    mosquitto) command -v mosquitto >/dev/null && command -v mosquitto_pub >/dev/null || pkgs+=(mosquitto mosquitto-clients) ;;
    fuse) command -v fusermount3 >/dev/null || pkgs+=(fuse3) ;;
    # Debian's chromium (headless, driven by chromedp); the CJK font makes
    # the Chinese pages' screenshots readable.
    chromium)
      command -v chromium >/dev/null || pkgs+=(chromium)
      [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || pkgs+=(fonts-wqy-microhei) ;;
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || pkgs+=(postgresql) ;;
    rabbitmq) [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || compgen -G '/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server' >/dev/null || pkgs+=(rabbitmq-server) ;;
    *) echo "install-test-tools: unknown tool '$w' (known: qemu, mosquitto, fuse, chromium, postgresql, rabbitmq)" >&2; exit 2 ;;
  esac
done
[ ${#pkgs[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "install-test-tools: need ${pkgs[*]} but apt-get is not available; install them by hand" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-test-tools: installing ${pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Keep the packages' own services (PostgreSQL's cluster, RabbitMQ's node)
# from starting: policy-rc.d answering 101 tells invoke-rc.d not to.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
# The Debian mosquitto package would start a system broker on port 1883 (the
# policy-rc.d above keeps it off); the tests start their own brokers on free ports.
