// Package vehicle is the agent's view of the vehicle interface named by an
// address.
//
// The interface is ISO-TP over a CAN bus (can:, mem:, udp:, replay:) with the
// 11-bit or 29-bit identifiers of ISO 15765-4, SAE J1939 on the same buses
// (heavy diesel), or an ELM327 adapter on a serial line
// (elm327:/dev/ttyUSB0[@baud]). Probe finds the vehicle and its protocol;
// Scan, ClearDTCs and Present then work the same whichever protocol it speaks.
package vehicle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/isotp"
	"github.com/bayagent/bayagent/drivers/j1939"
	"github.com/bayagent/bayagent/drivers/obd"
)

// Protocols of Options.Protocol.
const (
	ProtocolAuto     = "auto"
	ProtocolISO15765 = "iso15765"
	ProtocolJ1939    = "j1939"
)

// Options configures Open. The zero value detects the addressing.
type Options struct {
	// Hub holds in-process buses for mem: addresses.
	Hub *canbus.MemHub
	// IDBits is 11 or 29 to skip detection on CAN; 0 detects.
	IDBits int
	// P2 overrides the ECU response window on CAN (default 50 ms).
	P2 time.Duration
	// Protocol is ProtocolAuto (""/"auto"), ProtocolISO15765 or
	// ProtocolJ1939; auto tries ISO 15765-4 first, then J1939.
	Protocol string
	// ELM327Protocol is the ELM327 protocol an adapter starts with
	// (elm327.Options.Protocol): empty lets the adapter try the protocol
	// it found last first; "A6" tries 6 first; "3" only ISO 9141-2.
	ELM327Protocol string
	Logger         *slog.Logger
}

// Link is an open vehicle interface.
type Link struct {
	// Transport carries OBD requests; on CAN it is set once the identifier
	// length is known (Options.IDBits, or a successful Probe).
	obd.Transport
	// Protocol describes the link for people and records, e.g.
	// "ISO 15765-4 CAN 11-bit (can:can0)".
	Protocol string

	addr    string
	opts    Options
	close   func() error
	voltage func(context.Context) (float64, error)
	mu      sync.Mutex
	conn    canbus.Conn     // CAN links only
	client  *isotp.Client   // CAN links, once the identifier length is known
	elm     *elm327.Adapter // ELM327 links only
	spec    string          // the ELM327 device spec
	j1939   bool            // the vehicle speaks J1939 on conn

	sess       scan.Session // what scans and live samples learnt about this link
	opened     time.Time    // when Open started
	setup      time.Duration
	discovered []obd.Response // the ELM327 search's answers, for the next scan's discovery
}

// ErrNoVoltage is returned by Voltage on links that cannot measure the
// vehicle's battery (a bare CAN interface).
var ErrNoVoltage = errors.New("vehicle: this interface cannot read the battery voltage")

// Open attaches to the vehicle interface at addr. It does not talk to the
// vehicle: Probe does.
func Open(ctx context.Context, addr string, opts Options) (*Link, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if hint := Hint(addr); hint != "" {
		return nil, fmt.Errorf("%w %q: no scheme; did you mean %s? (schemes: %s)", canbus.ErrBadAddress, addr, hint, Schemes())
	}
	start := time.Now()
	var l *Link
	var err error
	if spec, ok := strings.CutPrefix(addr, "elm327:"); ok {
		l, err = openELM327(ctx, spec, opts)
	} else {
		l, err = openCAN(ctx, addr, opts)
	}
	if err != nil {
		return nil, err
	}
	l.opened = start
	return l, nil
}

func openELM327(ctx context.Context, spec string, opts Options) (*Link, error) {
	a, err := elm327.Open(ctx, spec, elm327.Options{Logger: opts.Logger, Protocol: opts.ELM327Protocol})
	if err != nil {
		return nil, err
	}
	return &Link{
		Transport: a,
		Protocol:  fmt.Sprintf("%s, %s (elm327:%s)", a.Version(), a.Protocol(), spec),
		close:     a.Close,
		voltage:   a.Voltage,
		elm:       a,
		spec:      spec,
	}, nil
}

func openCAN(ctx context.Context, addr string, opts Options) (*Link, error) {
	switch opts.IDBits {
	case 0, 11, 29:
	default:
		return nil, fmt.Errorf("vehicle: CAN identifier bits must be 11, 29 or 0 (detect): %d", opts.IDBits)
	}
	conn, err := canbus.Open(ctx, addr, canbus.Options{Hub: opts.Hub, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	l := &Link{addr: addr, conn: conn, opts: opts}
	l.close = func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		var err error
		if l.client != nil {
			err = l.client.Close()
		}
		return errors.Join(err, conn.Close())
	}
	if opts.IDBits != 0 {
		l.useCAN(opts.IDBits)
	}
	return l, nil
}

// useCAN sets the CAN identifier length; called with l.mu held or before
// the Link is shared.
func (l *Link) useCAN(bits int) {
	if l.client != nil {
		l.client.Close()
	}
	l.client = isotp.NewClient(l.conn, isotp.Config{Extended: bits == 29, P2: l.opts.P2, Logger: l.opts.Logger})
	l.Transport = l.client
	l.Protocol = fmt.Sprintf("ISO 15765-4 CAN %d-bit (%s)", bits, l.addr)
}

// Probe reports whether a vehicle answers: a functional 0100 on CAN (trying
// 11-bit, then 29-bit identifiers while the length is not known), or on an
// ELM327 the same request, after the battery voltage shows a vehicle. It
// returns the ECUs that answered, or scan.ErrNoVehicle.
func (l *Link) Probe(ctx context.Context) ([]obd.ECU, error) {
	ecus, err := l.probe(ctx)
	if err == nil && l.setup == 0 {
		l.setup = time.Since(l.opened)
	}
	return ecus, err
}

// Setup is how long the interface took from Open to the first successful
// Probe: adapter reset and set-up, protocol search. Zero before.
func (l *Link) Setup() time.Duration { return l.setup }

func (l *Link) probe(ctx context.Context) ([]obd.ECU, error) {
	if l.conn == nil {
		return l.probeELM327(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.Protocol != ProtocolJ1939 {
		bits := []int{11, 29}
		if l.opts.IDBits != 0 {
			bits = []int{l.opts.IDBits}
		}
		for _, b := range bits {
			l.useCAN(b)
			ecus, err := ping(ctx, l.client)
			if err == nil {
				return ecus, nil
			}
			if !errors.Is(err, scan.ErrNoVehicle) {
				return nil, err
			}
		}
		if l.opts.Protocol == ProtocolISO15765 {
			return nil, scan.ErrNoVehicle
		}
	}
	// J1939: the ISO-TP client must not compete for the bus's frames.
	if l.client != nil {
		l.client.Close()
		l.client, l.Transport = nil, nil
	}
	if !scan.DetectJ1939(ctx, l.conn) {
		return nil, scan.ErrNoVehicle
	}
	l.j1939 = true
	l.Protocol = fmt.Sprintf("%s (%s)", scan.ProtocolJ1939, l.addr)
	return nil, nil
}

// Session is what the scans and live samples on this link learnt about it.
func (l *Link) Session() *scan.Session { return &l.sess }

// MaxPIDs is how many PIDs one request may carry through this link's
// transport (1 for an ELM327 on a K-line or J1850 vehicle), or 0 when the
// transport sets no limit of its own.
func (l *Link) MaxPIDs() int {
	if m, ok := l.Transport.(interface{ MaxPIDs() int }); ok {
		return m.MaxPIDs()
	}
	return 0
}

// J1939 reports whether the vehicle found by Probe speaks J1939.
func (l *Link) J1939() bool { return l.j1939 }

// Scan takes the vehicle's health snapshot in its protocol. Scans on one
// Link share a scan.Session (an adapter or ECU that does not batch is
// learnt once), and report the link's set-up time.
func (l *Link) Scan(ctx context.Context, opts scan.Options) (*scan.Snapshot, error) {
	opts.Protocol = l.Protocol
	if opts.Session == nil {
		opts.Session = &l.sess
	}
	if opts.Setup == 0 {
		opts.Setup = l.setup
	}
	if opts.Discovered == nil {
		// The protocol search's answers serve the first scan's discovery
		// only: later scans on the link ask the vehicle again.
		l.mu.Lock()
		opts.Discovered, l.discovered = l.discovered, nil
		l.mu.Unlock()
	}
	if l.j1939 {
		return scan.ScanJ1939(ctx, l.conn, opts)
	}
	if l.Transport == nil {
		return nil, scan.ErrNoVehicle
	}
	return scan.Scan(ctx, l, opts)
}

// ClearDTCs clears the vehicle's trouble codes (Mode 04 to the given ECUs,
// or J1939 DM11 to every controller that answers) and returns the ECUs
// that acknowledged. jobID and technician are what J1939's clear records.
func (l *Link) ClearDTCs(ctx context.Context, ecus []obd.ECU, jobID, technician string) ([]obd.ECU, error) {
	if l.j1939 {
		return l.clearJ1939(ctx, jobID, technician)
	}
	resps, err := l.Do(ctx, obd.Request{Data: []byte{0x04}, Expect: ecus})
	if err != nil {
		return nil, err
	}
	var ok []obd.ECU
	var refused []error
	for _, r := range inAddressOrder(resps) {
		if err := obd.CheckResponse(0x04, r.Data); err != nil {
			refused = append(refused, fmt.Errorf("ECU %s: %w", r.ECU, err))
			continue
		}
		ok = append(ok, r.ECU)
	}
	if len(ok) == 0 {
		return nil, errors.Join(append([]error{errors.New("vehicle: no ECU acknowledged the clear")}, refused...)...)
	}
	return ok, nil
}

func (l *Link) clearJ1939(ctx context.Context, jobID, technician string) ([]obd.ECU, error) {
	node := j1939.NewNode(l.conn, j1939.Config{Name: j1939.ToolName, Addresses: j1939.ToolAddresses(), Logger: l.opts.Logger})
	defer node.Close()
	if _, err := node.Claim(ctx); err != nil {
		return nil, fmt.Errorf("vehicle: J1939 address claim: %w", err)
	}
	var addrs []uint8
	for a := range node.Claims() {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	c := &j1939.Client{Node: node}
	res, err := c.ClearActive(ctx, j1939.ClearRequest{JobID: jobID, Technician: technician, ECUs: addrs})
	if err != nil {
		return nil, err
	}
	var ok []obd.ECU
	for _, e := range res.ECUs {
		if e.Acknowledged {
			ok = append(ok, obd.ECU(e.Address))
		}
	}
	slices.Sort(ok)
	if len(ok) == 0 {
		return nil, errors.New("vehicle: no J1939 controller acknowledged DM11")
	}
	return ok, nil
}

// MinVoltage is the battery voltage above which an ELM327 link assumes a
// vehicle is plugged in (an adapter on its own reads about 0 V).
const MinVoltage = 9.0

// probeELM327 returns the ECUs the adapter's protocol search found, without
// asking again; only when the search found none does it read the battery
// voltage (an adapter off the car reads about 0 V) and ask 0100 again.
func (l *Link) probeELM327(ctx context.Context) ([]obd.ECU, error) {
	if l.elm != nil {
		if found := l.elm.SearchAnswers(); len(found) > 0 {
			l.describeELM327()
			l.mu.Lock()
			l.discovered = found
			l.mu.Unlock()
			var ecus []obd.ECU
			for _, r := range inAddressOrder(found) {
				ecus = append(ecus, r.ECU)
			}
			return ecus, nil
		}
	}
	if v, err := l.Voltage(ctx); err == nil && v < MinVoltage {
		return nil, fmt.Errorf("%w: battery voltage %.1f V", scan.ErrNoVehicle, v)
	}
	if l.elm != nil {
		if err := l.elm.SearchErr(); errors.Is(err, elm327.ErrUnsupportedProtocol) {
			return nil, err
		}
	}
	ecus, err := ping(ctx, l.Transport)
	if err == nil {
		l.describeELM327()
	}
	return ecus, err
}

// describeELM327 names the link after the adapter and the protocol it found.
func (l *Link) describeELM327() {
	if l.elm != nil {
		l.Protocol = fmt.Sprintf("%s, %s (elm327:%s)", l.elm.Version(), l.elm.Protocol(), l.spec)
	}
}

func ping(ctx context.Context, t obd.Transport) ([]obd.ECU, error) {
	resps, err := t.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}})
	switch {
	case errors.Is(err, obd.ErrNoResponse):
		return nil, scan.ErrNoVehicle
	case errors.Is(err, elm327.ErrUnableToConnect), errors.Is(err, elm327.ErrCANError), errors.Is(err, elm327.ErrBusInit):
		// What an ELM327 says with no vehicle on the other side.
		return nil, fmt.Errorf("%w: %w", scan.ErrNoVehicle, err)
	}
	if err != nil {
		return nil, fmt.Errorf("vehicle: probe: %w", err)
	}
	var ecus []obd.ECU
	for _, r := range inAddressOrder(resps) {
		if obd.CheckResponse(0x01, r.Data) == nil {
			ecus = append(ecus, r.ECU)
		}
	}
	if len(ecus) == 0 {
		return nil, scan.ErrNoVehicle
	}
	return ecus, nil
}

// Present reports whether the vehicle is still there: a cheap 0100 that
// returns as soon as the ECUs seen before have answered, or J1939 traffic.
func (l *Link) Present(ctx context.Context, ecus []obd.ECU) bool {
	if l.j1939 {
		return scan.DetectJ1939(ctx, l.conn)
	}
	resps, err := l.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}, Expect: ecus})
	return err == nil && len(resps) > 0
}

// Voltage reads the vehicle's battery voltage where the interface can
// (an ELM327's ATRV); ErrNoVoltage otherwise.
func (l *Link) Voltage(ctx context.Context) (float64, error) {
	if l.voltage == nil {
		return 0, ErrNoVoltage
	}
	return l.voltage(ctx)
}

// Close stops the transport and detaches from the bus or adapter.
func (l *Link) Close() error { return l.close() }

// inAddressOrder returns the responses sorted by ECU address (stable): a
// transport returns them in arrival order, which varies with the ECUs'
// timing, and every list of ECUs the agent records or replies with is in
// address order, so that the same vehicle gives the same output.
func inAddressOrder(resps []obd.Response) []obd.Response {
	out := slices.Clone(resps)
	slices.SortStableFunc(out, func(a, b obd.Response) int { return cmp.Compare(a.ECU, b.ECU) })
	return out
}
