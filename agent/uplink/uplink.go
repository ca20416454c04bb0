// Package uplink publishes the box's sealed records over MQTT and answers
// remote commands.
//
// It publishes to the health-record system's broker (MQTT 3.1.1, paho), keeps
// a retained status, answers the commands with their replies and reply codes,
// and carries the live data feed.
//
// # Topics
//
// Every topic is rooted at a configurable prefix (default "bayagent"), the
// shop code and the device id ([DeviceTopics] makes them):
//
//	<prefix>/<shop>/<device>/records  device → broker, QoS 1, not retained: sealed records, one per message
//	<prefix>/<shop>/<device>/status   device → broker, QoS 1, retained: {"state":"online",...} or "offline"
//	<prefix>/<shop>/<device>/cmd      broker → device, QoS 1: {"id":"...","cmd":"open_job","args":{...}}
//	<prefix>/<shop>/<device>/reply    device → broker, QoS 1: {"id":"...","ok":true,"result":...}
//	                                  or {"id":"...","ok":false,"code":"...","error":"...","message":{"en":...,"zh-CN":...}}
//	<prefix>/<shop>/<device>/live     device → broker, QoS 0: live data samples, never stored
//
// A records message carries one record's wire JSON byte-exact (package
// record). The status payload is a JSON object with at least "state"
// ("online" or "offline"), "device", "shop" and "session" (random per
// connection), plus "time" and whatever Options.Status adds (version,
// vehicle, open job, outbox depth, ...). "online" is published on every
// connection and every Options.StatusInterval; "offline" is published on a
// graceful shutdown ("reason":"shutdown") and otherwise by the broker as the
// connection's last will ("reason":"connection lost").
//
// A broker ACL should let device D of shop S write <prefix>/S/D/# and read
// <prefix>/S/D/cmd and <prefix>/S/D/status.
//
// # Delivery
//
// Records come from a durable [Queue] in sequence order. Up to
// Options.InFlight records are published without waiting; a record is
// removed from the queue (Queue.Ack) only when its PUBACK arrived on the
// connection it was published on. When the connection is lost, every record
// not yet acknowledged is published again, oldest first, on the next
// connection: delivery is at-least-once and receivers de-duplicate by
// (device, seq). Within one connection records are published in sequence
// order. A record that cannot be published (larger than Options.MaxPayload,
// or empty) is quarantined, not retried forever.
//
// Reconnection uses a capped, jittered exponential backoff
// (Options.BackoffMin to Options.BackoffMax).
//
// # Write probe
//
// Mosquitto (like most brokers) answers an MQTT 3.1.1 publish the ACL
// denies with a normal PUBACK and drops the message: the protocol has no
// way to say "denied" (Mosquitto 2.0.11 then also closes the connection).
// Acknowledging records on such a PUBACK would lose them. So on every connection, before any record is published, the uplink
// subscribes to its own status topic, publishes "online" and waits up to
// Options.ProbeTimeout to receive that very message back. If it does not
// come back (or the broker closes the connection meanwhile), the
// connection is closed, [ErrWriteDenied] is reported (Stats, log), no record
// leaves the queue, and the uplink tries again after the backoff. This needs read access to the status
// topic; Options.SkipWriteProbe turns the probe off for brokers that do
// not grant it (then a denied publish loses records silently).
//
// # Commands
//
// A command is a JSON object with exactly the members "id" (1 to 128
// printable ASCII characters), "cmd" (a lowercase name) and optionally
// "args" (an object). Every command gets exactly one reply on the reply
// topic ([Reply]): malformed payloads get {"ok":false} with a [Code] and
// an error naming the problem (and the id when it could be read), valid
// ones are passed to the [Commander], one at a time in arrival order within
// each of its lanes (a command waiting for the vehicle never holds up one
// that does not need it). Every
// error reply carries a stable code (see [Codes]) and a message for people
// in English and Chinese (package i18n); a Commander chooses the code by
// returning an [*Error] (see [WithCode]). Retained commands are refused
// (they would run again on every reconnection); an empty message (a
// retained command being cleared) is ignored. Commands are not queued by
// the broker while the device is offline (clean session).
//
// # Security
//
// TLS with server verification is always on (Options.CAFile or the system
// roots) unless a development flag says otherwise: Options.AllowPlaintext
// for a tcp:// broker, Options.InsecureSkipVerify. Client certificates
// (mTLS) are supported. The password is read from the environment variable
// named by Options.PasswordEnv and never logged.
//
// # Shutdown
//
// When Run's context ends, the uplink stops publishing new records, waits up
// to Options.ShutdownTimeout for the PUBACKs of those in flight (acking
// them), answers queued commands with an error, sends pending replies,
// publishes the retained "offline" status, disconnects and returns.
package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/bayagent/bayagent/agent/record"
)

// Errors reported by the uplink. Returned and recorded errors wrap these;
// compare with errors.Is.
var (
	// ErrOptions: New was given invalid options.
	ErrOptions = errors.New("uplink: invalid options")
	// ErrConnect: the broker could not be reached or refused the connection.
	ErrConnect = errors.New("uplink: cannot connect to broker")
	// ErrConnectionLost: an established connection broke.
	ErrConnectionLost = errors.New("uplink: connection lost")
	// ErrWriteDenied: the broker acknowledged the status message but did not
	// deliver it back: it drops this device's publishes (ACL, wrong device
	// id or client certificate).
	ErrWriteDenied = errors.New("uplink: broker drops this device's publishes")
	// ErrSubscribeDenied: the broker refused a subscription (SUBACK 0x80).
	ErrSubscribeDenied = errors.New("uplink: broker refused subscription")
	// ErrPublish: a publish failed on an established connection.
	ErrPublish = errors.New("uplink: publish failed")
	// ErrQueue: the queue failed (read, ack or quarantine).
	ErrQueue = errors.New("uplink: queue error")
	// ErrNotConnected: PublishLive was called while no connection is up.
	ErrNotConnected = errors.New("uplink: not connected")
	// ErrLiveBusy: PublishLive found the live buffer full; the sample was
	// dropped.
	ErrLiveBusy = errors.New("uplink: live buffer full, sample dropped")
	// ErrTooLarge: a payload exceeds Options.MaxPayload.
	ErrTooLarge = errors.New("uplink: payload too large")
	// ErrAlreadyRunning: Run was called twice.
	ErrAlreadyRunning = errors.New("uplink: Run already called")

	// ErrCommandTooLarge: a command payload exceeds Options.MaxCommandBytes.
	ErrCommandTooLarge = errors.New("command too large")
	// ErrCommandSyntax: a command payload is not one JSON object.
	ErrCommandSyntax = errors.New("command is not a JSON object")
	// ErrCommandField: a command has an unknown, duplicate, missing or
	// invalid member.
	ErrCommandField = errors.New("invalid command field")
	// ErrUnknownCommand is what a Commander should wrap when it does not know
	// a command name.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrRetainedCommand: a command arrived as a retained message.
	ErrRetainedCommand = errors.New("retained commands are refused (they would run again on every reconnection)")
	// ErrBusy: too many commands are waiting; this one was not run.
	ErrBusy = errors.New("too many commands waiting; not run")
	// ErrShuttingDown: the agent is stopping; the command was not run.
	ErrShuttingDown = errors.New("agent shutting down; not run")
)

// Item is one record as the uplink sees it.
type Item struct {
	Seq     uint64
	Payload []byte // the sealed record's wire JSON, published byte-exact
}

// Queue is the durable outbox as the uplink sees it. Its methods are called
// from different goroutines.
type Queue interface {
	// Next returns up to n items with Seq > after (after 0 = from the
	// oldest), in ascending Seq order, blocking until at least one exists or
	// ctx ends (then it returns ctx's error).
	Next(ctx context.Context, after uint64, n int) ([]Item, error)
	// Ack removes records whose PUBACK was received. Seqs that are no longer
	// pending are ignored.
	Ack(seqs ...uint64) error
	// Quarantine sets aside a record that cannot be published, with a
	// reason.
	Quarantine(seq uint64, reason string) error
}

// Commander executes remote commands. Lane names the lane command name
// runs in: commands of one lane run one at a time, in arrival order; lanes
// run at the same time, so Command must be safe for concurrent use by
// different lanes. Lane must be quick and return one of a few fixed names
// (one goroutine serves each). Command must return when ctx ends. A result
// is encoded with encoding/json. An error chooses its reply code by being
// or wrapping an *Error (WithCode); an unknown name should give an error
// wrapping ErrUnknownCommand.
type Commander interface {
	Lane(name string) string
	Command(ctx context.Context, name string, args json.RawMessage) (result any, err error)
}

// Defaults for Options.
const (
	DefaultPrefix          = "bayagent"
	DefaultInFlight        = 512
	DefaultKeepAlive       = 30 * time.Second
	DefaultConnectTimeout  = 10 * time.Second
	DefaultProbeTimeout    = 10 * time.Second
	DefaultStatusInterval  = time.Minute
	DefaultBackoffMin      = 500 * time.Millisecond
	DefaultBackoffMax      = time.Minute
	DefaultShutdownTimeout = 5 * time.Second
	DefaultMaxCommandBytes = 64 << 10
	DefaultCommandQueue    = 16
	DefaultCommandIDs      = 1024
	DefaultCommandIDWindow = time.Hour
	DefaultLiveBuffer      = 64
	// MaxPacket is the largest MQTT packet (remaining length) there is.
	MaxPacket = 268435455
	// MaxInFlight is the largest Options.InFlight accepted.
	MaxInFlight = 10000
)

// Options configures an Uplink. Zero values mean the documented default.
type Options struct {
	// Broker is the broker URL: ssl://, tls:// or mqtts://host[:port]
	// (default port 8883), or tcp://host[:port] (1883) when AllowPlaintext.
	Broker string
	// Prefix is the topic prefix (default DefaultPrefix).
	Prefix string
	// Shop and Device name this box (see record.ValidShop and
	// record.ValidDevice); both are required.
	Shop, Device string
	// ClientID is the MQTT client id (default "bayagent-<shop>-<device>").
	ClientID string

	// CAFile is a PEM file of CAs that verify the broker; empty means the
	// system roots.
	CAFile string
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// mutual TLS; both or neither.
	CertFile, KeyFile string
	// ServerName overrides the name verified in the broker's certificate.
	ServerName string
	// AllowPlaintext permits a tcp:// broker URL (development only).
	AllowPlaintext bool
	// InsecureSkipVerify disables verification of the broker's certificate
	// (development only).
	InsecureSkipVerify bool
	// Username is the MQTT user name; PasswordEnv names the environment
	// variable holding the password (never logged).
	Username, PasswordEnv string
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)

	// InFlight is the number of records published and not yet acknowledged
	// (default DefaultInFlight, at most MaxInFlight).
	InFlight int
	// MaxPayload is the largest record published; larger ones are
	// quarantined. Set it to the broker's message size limit. Default and
	// maximum: what fits in an MQTT packet.
	MaxPayload int
	// KeepAlive is the MQTT keep-alive (default DefaultKeepAlive).
	KeepAlive time.Duration
	// ConnectTimeout bounds the TCP+TLS+CONNECT handshake and each
	// subscription (default DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// ProbeTimeout bounds the write probe (default DefaultProbeTimeout).
	ProbeTimeout time.Duration
	// SkipWriteProbe turns the write probe off (see the package doc).
	SkipWriteProbe bool
	// Status returns extra members of the status object (version, vehicle,
	// job, outbox depth, ...). It is called from the uplink's goroutines and
	// must be quick. The uplink's own members win on a name clash.
	Status func() map[string]any
	// StatusInterval is how often "online" is published again (default
	// DefaultStatusInterval; negative: only on connect and NotifyStatus).
	StatusInterval time.Duration
	// BackoffMin and BackoffMax bound the reconnection backoff (defaults
	// DefaultBackoffMin, DefaultBackoffMax).
	BackoffMin, BackoffMax time.Duration
	// ShutdownTimeout bounds the graceful part of shutdown (default
	// DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// MaxCommandBytes is the largest command payload accepted (default
	// DefaultMaxCommandBytes).
	MaxCommandBytes int
	// CommandQueue is how many commands may wait in each lane for the
	// Commander (default DefaultCommandQueue); more are answered with
	// ErrBusy.
	CommandQueue int
	// CommandIDs is how many command ids are remembered (default
	// DefaultCommandIDs) and CommandIDWindow for how long (default
	// DefaultCommandIDWindow): a command whose id is remembered is not run
	// again; its reply is sent again (a redelivered clear_dtcs does not
	// clear the car twice), or, while it still runs, nothing is.
	CommandIDs      int
	CommandIDWindow time.Duration
	// Authorise, when set, is asked before a command runs; an error is the
	// reply (with its code, see WithCode). The agent checks the signature
	// of commands that change the vehicle or a job with it.
	Authorise func(Envelope) error
	// Now gives the time for the command id window; nil means time.Now.
	Now func() time.Time
	// LiveQoS is the QoS of live data: 0 (default) or 1.
	LiveQoS int
	// LiveBuffer is how many live samples may wait to be sent (default
	// DefaultLiveBuffer); PublishLive drops samples beyond it.
	LiveBuffer int
}

// Uplink publishes records from a Queue and serves commands. Create it
// with New and start it with Run.
type Uplink struct {
	opts     Options
	q        Queue
	cmds     Commander
	log      *slog.Logger
	broker   string // normalised URL
	tls      *tls.Config
	password string
	topics   Topics

	started atomic.Bool
	inbox   chan inbound
	ids     *idWindow // command ids seen, with their replies
	live    chan []byte
	status  chan struct{}

	published, acked, quarantined, reconnects, republished atomic.Uint64
	liveSent, liveDropped, commands                        atomic.Uint64

	mu        sync.Mutex
	cur       *conn
	since     time.Time
	changed   chan struct{}
	lastErr   error
	lastErrAt time.Time
	lastAck   time.Time
}

// New validates opts and returns an Uplink. q and cmds are required; a nil
// log discards.
func New(opts Options, q Queue, cmds Commander, log *slog.Logger) (*Uplink, error) {
	if q == nil || cmds == nil {
		return nil, fmt.Errorf("%w: a queue and a commander are required", ErrOptions)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &Uplink{q: q, cmds: cmds, log: log, changed: make(chan struct{})}
	if err := u.setOptions(opts); err != nil {
		return nil, err
	}
	// The inbox only hands commands from paho's goroutine to the dispatcher;
	// the lanes are the bound (CommandQueue each).
	u.inbox = make(chan inbound, 4*u.opts.CommandQueue)
	u.ids = newIDWindow(u.opts.CommandIDs, u.opts.CommandIDWindow, u.opts.Now)
	u.live = make(chan []byte, u.opts.LiveBuffer)
	u.status = make(chan struct{}, 1)
	return u, nil
}

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, a...))
}

func (u *Uplink) setOptions(o Options) error {
	def := func(d *time.Duration, v time.Duration, name string) error {
		if *d < 0 {
			return bad("%s must not be negative: %v", name, *d)
		}
		if *d == 0 {
			*d = v
		}
		return nil
	}
	defInt := func(n *int, v, maxV int, name string) error {
		if *n < 0 || *n > maxV {
			return bad("%s must be between 1 and %d: %d", name, maxV, *n)
		}
		if *n == 0 {
			*n = v
		}
		return nil
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := validPrefix(o.Prefix); err != nil {
		return err
	}
	if err := record.ValidShop(o.Shop); err != nil {
		return bad("shop: %v", err)
	}
	if err := record.ValidDevice(o.Device); err != nil {
		return bad("device: %v", err)
	}
	if o.ClientID == "" {
		o.ClientID = "bayagent-" + o.Shop + "-" + o.Device
	}
	if len(o.ClientID) > 65535 || !utf8.ValidString(o.ClientID) {
		return bad("client id must be valid UTF-8 of at most 65535 bytes")
	}
	u.topics = DeviceTopics(o.Prefix, o.Shop, o.Device)

	for _, d := range []struct {
		p    *time.Duration
		v    time.Duration
		name string
	}{
		{&o.KeepAlive, DefaultKeepAlive, "keep-alive"},
		{&o.ConnectTimeout, DefaultConnectTimeout, "connect timeout"},
		{&o.ProbeTimeout, DefaultProbeTimeout, "probe timeout"},
		{&o.BackoffMin, DefaultBackoffMin, "backoff min"},
		{&o.BackoffMax, DefaultBackoffMax, "backoff max"},
		{&o.ShutdownTimeout, DefaultShutdownTimeout, "shutdown timeout"},
	} {
		if err := def(d.p, d.v, d.name); err != nil {
			return err
		}
	}
	if o.KeepAlive < time.Second {
		return bad("keep-alive must be at least 1s: %v", o.KeepAlive)
	}
	if o.BackoffMax < o.BackoffMin {
		return bad("backoff max (%v) must not be below backoff min (%v)", o.BackoffMax, o.BackoffMin)
	}
	if o.StatusInterval == 0 {
		o.StatusInterval = DefaultStatusInterval
	}
	if err := defInt(&o.InFlight, DefaultInFlight, MaxInFlight, "in-flight window"); err != nil {
		return err
	}
	maxPayload := MaxPacket - 4 - len(u.topics.Records)
	if err := defInt(&o.MaxPayload, maxPayload, maxPayload, "max payload"); err != nil {
		return err
	}
	if err := defInt(&o.MaxCommandBytes, DefaultMaxCommandBytes, 16<<20, "max command bytes"); err != nil {
		return err
	}
	if err := defInt(&o.CommandQueue, DefaultCommandQueue, 1024, "command queue"); err != nil {
		return err
	}
	if err := defInt(&o.LiveBuffer, DefaultLiveBuffer, 65536, "live buffer"); err != nil {
		return err
	}
	if err := defInt(&o.CommandIDs, DefaultCommandIDs, 1<<20, "command ids"); err != nil {
		return err
	}
	if o.CommandIDWindow == 0 {
		o.CommandIDWindow = DefaultCommandIDWindow
	}
	if o.CommandIDWindow < 0 {
		return bad("command id window must be positive: %v", o.CommandIDWindow)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LiveQoS != 0 && o.LiveQoS != 1 {
		return bad("live qos must be 0 or 1: %d", o.LiveQoS)
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if err := u.setBroker(&o); err != nil {
		return err
	}
	if o.PasswordEnv != "" {
		if o.Username == "" {
			return bad("password_env %s is set but username is empty (MQTT 3.1.1 needs a user name with a password)", o.PasswordEnv)
		}
		pw, ok := o.LookupEnv(o.PasswordEnv)
		if !ok {
			return bad("password_env: environment variable %s is not set", o.PasswordEnv)
		}
		u.password = pw
	}
	u.opts = o
	return nil
}

func validPrefix(p string) error {
	switch {
	case !utf8.ValidString(p) || strings.ContainsRune(p, 0):
		return bad("prefix must be valid UTF-8 without NUL: %q", p)
	case strings.ContainsAny(p, "+#"):
		return bad("prefix must not contain the wildcards + or #: %q", p)
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//"):
		return bad("prefix must not start or end with / or contain an empty level: %q", p)
	case strings.HasPrefix(p, "$"):
		return bad("prefix must not start with $ (reserved for the broker): %q", p)
	case len(p) > 1024:
		return bad("prefix longer than 1024 bytes")
	}
	return nil
}

func (u *Uplink) setBroker(o *Options) error {
	const want = "broker URL must be ssl://, tls://, mqtts:// or tcp:// (tcp:// only with allow_plaintext) followed by host[:port]"
	if o.Broker == "" {
		return bad("%s: empty", want)
	}
	p, err := url.Parse(o.Broker)
	if err != nil {
		// url.Error repeats the URL, credentials and all: say only what is wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return bad("%s: %q: %v", want, redactURL(o.Broker), err)
	}
	if p.User != nil {
		return bad("broker URL must not carry credentials; use username and password_env")
	}
	if p.Host == "" || p.Opaque != "" || (p.Path != "" && p.Path != "/") || p.RawQuery != "" || p.Fragment != "" {
		return bad("%s: got %q", want, redactURL(o.Broker))
	}
	host, port := p.Hostname(), p.Port()
	scheme := strings.ToLower(p.Scheme)
	plain := false
	switch scheme {
	case "ssl", "tls", "mqtts":
		if port == "" {
			port = "8883"
		}
	case "tcp":
		if !o.AllowPlaintext {
			return bad("broker URL %s is plain text: use ssl:// or set allow_plaintext (development only)", redactURL(o.Broker))
		}
		plain = true
		if port == "" {
			port = "1883"
		}
	default:
		return bad("%s: got scheme %q", want, p.Scheme)
	}
	u.broker = scheme + "://" + net.JoinHostPort(host, port)
	if (o.CertFile == "") != (o.KeyFile == "") {
		return bad("cert_file and key_file must be given together")
	}
	if plain {
		if o.CertFile != "" || o.CAFile != "" {
			return bad("ca_file, cert_file and key_file need a TLS broker URL (ssl://), got tcp://")
		}
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName, InsecureSkipVerify: o.InsecureSkipVerify}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if o.CAFile != "" {
		pool, err := ReadCA(o.CAFile)
		if err != nil {
			return bad("ca_file: %v", err)
		}
		cfg.RootCAs = pool
	}
	if o.CertFile != "" {
		c, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return bad("client certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	u.tls = cfg
	return nil
}

// ReadCA reads the PEM certificates of file into a pool, for a broker or
// server whose certificate they sign. A file with no PEM certificate in it
// is an error: a TLS connection would otherwise fail later, less clearly.
func ReadCA(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return pool, nil
}

// redactURL hides what may be credentials in a broker URL: everything
// between "://" and the last "@" of the authority, parsed or not.
func redactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		i = -3
	}
	rest := s[i+3:]
	end := len(rest)
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		end = j
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return s[:i+3] + "REDACTED" + rest[at:]
	}
	return s
}

// Topics returns the topics in use.
func (u *Uplink) Topics() Topics { return u.topics }

// Stats is a snapshot of the uplink's counters and state.
type Stats struct {
	Connected      bool
	ConnectedSince time.Time // zero when not connected
	Published      uint64    // record publishes, re-sends included
	Acked          uint64    // records removed from the queue on PUBACK
	Quarantined    uint64
	Republished    uint64 // records published again for `resend` (Republish)
	Reconnects     uint64 // connections established after the first
	LiveSent       uint64
	LiveDropped    uint64
	Commands       uint64    // commands answered
	LastUpload     time.Time // last Ack after a PUBACK
	LastError      error     // last error (nil if none yet); see the Err* values
	LastErrorAt    time.Time
}

// Stats returns a snapshot; safe for concurrent use.
func (u *Uplink) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	return Stats{
		Connected: u.cur != nil, ConnectedSince: u.since,
		Published: u.published.Load(), Acked: u.acked.Load(), Quarantined: u.quarantined.Load(),
		Republished: u.republished.Load(), Reconnects: u.reconnects.Load(), LiveSent: u.liveSent.Load(), LiveDropped: u.liveDropped.Load(),
		Commands: u.commands.Load(), LastUpload: u.lastAck, LastError: u.lastErr, LastErrorAt: u.lastErrAt,
	}
}

// Changed returns a channel that is closed at the next change of the
// connection state or of the last error (for a status LED, or tests).
func (u *Uplink) Changed() <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.changed
}

func (u *Uplink) notifyLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// setErr records err for Stats; the caller logs it.
func (u *Uplink) setErr(err error) {
	u.mu.Lock()
	u.lastErr, u.lastErrAt = err, time.Now()
	u.notifyLocked()
	u.mu.Unlock()
}

// NotifyStatus asks for the status to be published again soon (for
// example when a vehicle was connected). It never blocks.
func (u *Uplink) NotifyStatus() {
	select {
	case u.status <- struct{}{}:
	default:
	}
}

// PublishLive sends one live-data sample on the live topic (QoS
// Options.LiveQoS, not retained, never stored). It never blocks: without a
// connection it returns ErrNotConnected, and when samples are produced
// faster than they can be sent it drops them with ErrLiveBusy.
func (u *Uplink) PublishLive(payload []byte) error {
	if len(payload) > u.opts.MaxPayload {
		return fmt.Errorf("%w: live sample of %d bytes, limit %d", ErrTooLarge, len(payload), u.opts.MaxPayload)
	}
	if u.current() == nil {
		u.liveDropped.Add(1)
		return ErrNotConnected
	}
	select {
	case u.live <- append([]byte(nil), payload...):
		return nil
	default:
		u.liveDropped.Add(1)
		return ErrLiveBusy
	}
}
