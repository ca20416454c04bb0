package uplink

import (
	"context"
	"fmt"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Republish publishes records again on the records topic, QoS 1, on the
// current connection, and returns once the broker acknowledged every one
// of them (or something failed: then it returns how many were
// acknowledged, in order, before the failure). It serves the `resend`
// command: the records come from the outbox's archive, already
// acknowledged once, so they are not taken from or acknowledged to the
// Queue. At most Options.InFlight of them are in flight at once; payloads
// larger than Options.MaxPayload are refused with ErrTooLarge before
// anything is sent. Without a connection it returns ErrNotConnected.
func (u *Uplink) Republish(ctx context.Context, payloads [][]byte) (int, error) {
	for i, p := range payloads {
		if len(p) == 0 || len(p) > u.opts.MaxPayload {
			return 0, fmt.Errorf("%w: record %d of the resend is %d bytes (limit %d)", ErrTooLarge, i, len(p), u.opts.MaxPayload)
		}
	}
	c := u.current()
	if c == nil || c.ctx.Err() != nil {
		return 0, ErrNotConnected
	}
	window := make([]mqtt.Token, 0, u.opts.InFlight)
	acked := 0
	drain := func(keep int) error {
		for len(window) > keep {
			if err := wait(ctx, c, window[0]); err != nil {
				return fmt.Errorf("%w: resend: %w", ErrPublish, err)
			}
			window = window[1:]
			acked++
		}
		return nil
	}
	for _, p := range payloads {
		if err := drain(u.opts.InFlight - 1); err != nil {
			return acked, err
		}
		window = append(window, c.client.Publish(u.topics.Records, 1, false, p))
		u.published.Add(1)
	}
	if err := drain(0); err != nil {
		return acked, err
	}
	u.republished.Add(uint64(acked))
	return acked, nil
}
