package canbus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
)

// Options configures Open. The zero value is usable for every scheme but
// mem:, which needs Hub.
type Options struct {
	// Hub holds the buses that mem:NAME addresses name. Required for mem:.
	Hub *MemHub
	// Realtime paces a replay: bus by the log's timestamps. By default
	// frames are returned as fast as they are read.
	Realtime bool
	// Logger receives diagnostics (dropped datagrams, receive overruns,
	// a receiver that stopped). Nil discards them.
	Logger *slog.Logger
}

// maxIfNameLen is the longest Linux network interface name (IFNAMSIZ-1).
const maxIfNameLen = 15

// Open attaches a new node to the bus named by addr (see the package doc for
// the schemes). ctx bounds the opening only. An unknown scheme or malformed
// address gives ErrBadAddress; other failures wrap ErrNoHub, ErrNoInterface,
// ErrNotLoopback or the operating system's error.
//
// Conns for can:, udp: and mem: also have an Overruns() int64 method that
// counts received frames dropped because Receive was not called fast enough.
func Open(ctx context.Context, addr string, opts Options) (Conn, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("canbus: open %s: %w", addr, err)
	}
	scheme, rest, ok := strings.Cut(addr, ":")
	if !ok {
		return nil, badAddress(addr, "no scheme; want can:, mem:, udp: or replay:")
	}
	switch scheme {
	case "can":
		if rest == "" || len(rest) > maxIfNameLen || strings.ContainsAny(rest, "/: \t") {
			return nil, badAddress(addr, "want can:IFNAME, e.g. can:can0")
		}
		return dialSocketCAN(ctx, addr, rest, log)
	case "mem":
		if rest == "" {
			return nil, badAddress(addr, "want mem:NAME, e.g. mem:bay1")
		}
		if opts.Hub == nil {
			return nil, fmt.Errorf("%w: open %s: set Options.Hub to a *MemHub shared by the bus's nodes", ErrNoHub, addr)
		}
		return opts.Hub.Bus(rest).Connect(), nil
	case "udp":
		group, err := parseUDPGroup(rest)
		if err != nil {
			return nil, badAddress(addr, err.Error())
		}
		ifaces, err := net.Interfaces()
		if err != nil {
			return nil, fmt.Errorf("canbus: open %s: list interfaces: %w", addr, err)
		}
		lo, err := loopbackMulticast(addr, ifaces)
		if err != nil {
			return nil, err
		}
		u, err := dialUDP(addr, group, lo, log)
		if err != nil {
			return nil, err
		}
		return newSockConn(addr, u, log), nil
	case "replay":
		if rest == "" {
			return nil, badAddress(addr, "want replay:PATH")
		}
		f, err := os.Open(rest)
		if err != nil {
			return nil, fmt.Errorf("canbus: open %s: %w", addr, err)
		}
		return newReplay(addr, f, opts.Realtime), nil
	default:
		return nil, badAddress(addr, fmt.Sprintf("unknown scheme %q; want can:, mem:, udp: or replay:", scheme))
	}
}

func badAddress(addr, why string) error {
	return fmt.Errorf("%w %q: %s", ErrBadAddress, addr, why)
}
