package agent

import (
	"errors"
	"path/filepath"

	"github.com/bayagent/bayagent/agent/command"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/uplink"
)

// NonceFileName is the file in the state directory that keeps the nonces
// of the signed commands seen, across restarts (see package command).
const NonceFileName = "command-nonces.json"

// authoriser returns the uplink's check of signed commands: with operator
// keys configured (uplink.command_keys), a command that changes the
// vehicle or a job runs only when one of them signed it for this box,
// recently, with a nonce not seen before (see package command). Without
// keys it returns nil: commands need no signature.
func (a *Agent) authoriser() func(uplink.Envelope) error {
	keys := a.cfg.Uplink.CommandPublicKeys()
	if len(keys) == 0 {
		return nil
	}
	v, err := command.NewVerifier(command.VerifierOptions{
		Shop: a.cfg.Device.Shop, Device: a.cfg.Device.ID, Keys: keys, Now: a.now, Synced: a.clock.Synced,
		NonceFile: filepath.Join(a.cfg.Device.StateDir, NonceFileName),
	})
	if err != nil {
		// The verifier refuses what was signed before this start for a while.
		a.noteErr(i18n.M("agent.nonce_store"), err)
	}
	return func(e uplink.Envelope) error {
		if s, ok := command.Lookup(e.Name); !ok || !s.Signed {
			return nil
		}
		err := v.Check(e.ID, e.Name, e.Args, command.Signature{TS: e.TS, Nonce: e.Nonce, Key: e.Key, Sig: e.Sig})
		switch {
		case err == nil:
			return nil
		case errors.Is(err, command.ErrReplayed):
			return uplink.WithCode(uplink.CodeReplayed, err)
		case errors.Is(err, command.ErrNonceStore):
			return uplink.WithCode(uplink.CodeInternal, err)
		default:
			return uplink.WithCode(uplink.CodeNotAuthorised, err)
		}
	}
}
