#!/usr/bin/env bash
# Brings up a SocketCAN interface for the vehicle's OBD-II bus.
# Usage: scripts/can-up.sh [IFACE] [BITRATE]     (default: can0 500000)
#        scripts/can-up.sh vcan0                 (a virtual bus on a laptop)
# Needs root (CAP_NET_ADMIN). ISO 15765-4 cars use 500000 or 250000 bit/s;
# most J1939 trucks 250000.
set -euo pipefail
iface=${1:-can0}
bitrate=${2:-500000}
case "$bitrate" in
  125000|250000|500000|1000000) ;;
  *) echo "can-up: bit rate must be 125000, 250000, 500000 or 1000000: $bitrate" >&2; exit 2 ;;
esac
if [[ "$iface" == vcan* ]]; then
  modprobe vcan 2>/dev/null || true
  ip link show "$iface" >/dev/null 2>&1 || ip link add dev "$iface" type vcan
  ip link set "$iface" up
  echo "can-up: $iface (virtual) is up"
  exit 0
fi
if ! ip link show "$iface" >/dev/null 2>&1; then
  echo "can-up: no interface $iface: is the CAN HAT's overlay enabled (dtoverlay=mcp2515-can0,... in /boot/config.txt)?" >&2
  exit 1
fi
ip link set "$iface" down 2>/dev/null || true
# restart-ms: recover from bus-off by itself; a 1000-frame queue for bursts.
ip link set "$iface" type can bitrate "$bitrate" restart-ms 100
ip link set "$iface" txqueuelen 1000
ip link set "$iface" up
echo "can-up: $iface is up at $bitrate bit/s"
