package config

import (
	"github.com/bayagent/bayagent/agent/emission"
	"io"
	"log/slog"

	"github.com/bayagent/bayagent/agent/outbox"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/agent/vehicle"
	"github.com/bayagent/bayagent/drivers/analyzer"
)

// UplinkOptions returns the uplink's options from the uplink and device
// settings. Only the settings the file holds are set; Status and the
// timeouts are left for the agent (zero means the uplink's default).
func (c *Config) UplinkOptions() uplink.Options {
	u := c.Uplink
	return uplink.Options{
		Broker:             u.Broker,
		Prefix:             u.TopicPrefix,
		Shop:               c.Device.Shop,
		Device:             c.Device.ID,
		ClientID:           u.ClientID,
		CAFile:             u.CAFile,
		CertFile:           u.CertFile,
		KeyFile:            u.KeyFile,
		ServerName:         u.ServerName,
		AllowPlaintext:     u.AllowPlaintext,
		InsecureSkipVerify: u.InsecureSkipVerify,
		Username:           u.Username,
		PasswordEnv:        u.PasswordEnv,
		LookupEnv:          c.lookupEnv,
		InFlight:           u.InFlight,
		MaxPayload:         int(u.MaxPayload),
		KeepAlive:          u.KeepAlive.D(),
		SkipWriteProbe:     u.SkipWriteProbe,
	}
}

// VehicleOptions returns vehicle.Open's options for a CAN interface; Hub
// (for mem:) and Logger are for the agent to set.
func (c *Config) VehicleOptions() vehicle.Options {
	return vehicle.Options{IDBits: c.Vehicle.IDBits, P2: c.Vehicle.P2.D(), Protocol: c.Vehicle.Protocol}
}

// AnalyzerOptions returns analyzer.Open's options; Drivers and Logger are
// for the agent to set.
func (c *Config) AnalyzerOptions() analyzer.Options {
	return analyzer.Options{Method: c.Analyzer.Method}
}

// EmissionConfig returns the emission test procedures' numbers and limit
// sets: the file analyzer.procedures, or the built-in defaults.
func (c *Config) EmissionConfig() (emission.Config, error) {
	return emission.LoadConfigFile(c.Analyzer.Procedures)
}

// OutboxOptions returns outbox.Open's options; Sealer and Logger are for
// the agent to set. The file is Outbox.Path.
func (c *Config) OutboxOptions() outbox.Options {
	o := outbox.Options{
		MaxBytes:        int64(c.Outbox.MaxBytes),
		ArchiveMaxBytes: int64(c.Outbox.ArchiveMaxBytes),
		ArchiveMaxAge:   c.Outbox.ArchiveMaxAge.D(),
	}
	if o.ArchiveMaxBytes == 0 {
		o.ArchiveMaxBytes = -1 // none
	}
	if o.ArchiveMaxAge == 0 {
		o.ArchiveMaxAge = -1 // no limit
	}
	return o
}

// SlogLevel returns the slog level of log.level (info for an unknown one).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// NewHandler returns a slog handler writing to w in log.format at
// log.level.
func (l Log) NewHandler(w io.Writer) slog.Handler {
	o := &slog.HandlerOptions{Level: l.SlogLevel()}
	if l.Format == "json" {
		return slog.NewJSONHandler(w, o)
	}
	return slog.NewTextHandler(w, o)
}
