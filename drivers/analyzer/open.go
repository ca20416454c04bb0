package analyzer

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/bayagent/bayagent/drivers/serialport"
)

// Options configures Open and the New* constructors. The zero value is ready
// to use.
type Options struct {
	// Drivers are extra drivers (for example a vendor's NHA-509 driver),
	// looked up by name before the built-in ones.
	Drivers []Driver
	// Baud is used when the address has no @baud; zero means the driver's
	// default. Used by Open only.
	Baud int
	// Timeout bounds each exchange when ctx allows longer; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Gap is the longest pause between two bytes of one reply; a longer
	// pause makes the reply a truncated bad frame, and the request is sent
	// again. Zero means DefaultGap.
	Gap time.Duration
	// Retries is how often a request is sent again after a bad frame; zero
	// means DefaultRetries, negative means never.
	Retries int
	// PollInterval is how often a running zero, leak check or calibration
	// is asked for its outcome; zero means DefaultPollInterval.
	PollInterval time.Duration
	// OperationTimeout bounds a zero, leak check or calibration when ctx
	// allows longer; zero means DefaultOperationTimeout.
	OperationTimeout time.Duration
	// ZeroWait is how long a zero takes on instruments that report no
	// outcome (NHA-501A, FLA-501, FGA-4100: the station code waits 30 s);
	// zero means DefaultZeroWait.
	ZeroWait time.Duration
	// Ranges replaces the plausible range of the quantities it names (see
	// DefaultRanges).
	Ranges map[string]Range
	// Method is stamped on gas analyzer readings (default MethodRealtime,
	// e.g. MethodTwoSpeedIdle when the job runs that test). For opacimeters
	// it selects what Read returns: MethodFreeAcceleration (default) or
	// MethodRealtime.
	Method string
	// Model overrides the driver's model name in readings (e.g. "FLA-502").
	Model string
	// Logger receives the one warning about bad frames and the one about
	// implausible readings; nil discards.
	Logger *slog.Logger
}

// Address is a parsed instrument address "driver:port[@baud]".
type Address struct {
	Driver string // e.g. "nha506"
	Port   string // e.g. "/dev/ttyUSB1"
	Baud   int    // zero when the address does not say
}

// String formats the address as ParseAddress reads it.
func (a Address) String() string {
	if a.Baud != 0 {
		return a.Driver + ":" + a.Port + "@" + strconv.Itoa(a.Baud)
	}
	return a.Driver + ":" + a.Port
}

// ParseAddress parses "driver:port[@baud]", e.g. "nha506:/dev/ttyUSB1" or
// "mqw511:/dev/ttyS0@9600". The driver name is lower-case letters, digits,
// '-' and '_'; the port is everything after the first ':' (it may itself
// contain ':'), up to an '@' followed only by digits.
func ParseAddress(s string) (Address, error) {
	name, port, ok := strings.Cut(s, ":")
	if !ok {
		return Address{}, fmt.Errorf("%w: %q: want driver:port[@baud]", ErrBadAddress, s)
	}
	if name == "" {
		return Address{}, fmt.Errorf("%w: %q: empty driver name", ErrBadAddress, s)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return Address{}, fmt.Errorf("%w: %q: driver name may hold only a-z, 0-9, '-' and '_'", ErrBadAddress, s)
		}
	}
	a := Address{Driver: name, Port: port}
	if i := strings.LastIndexByte(port, '@'); i >= 0 && allDigits(port[i+1:]) {
		baud, err := strconv.Atoi(port[i+1:])
		if err != nil || baud <= 0 {
			return Address{}, fmt.Errorf("%w: %q: bad baud rate", ErrBadAddress, s)
		}
		a.Port, a.Baud = port[:i], baud
	}
	if a.Port == "" {
		return Address{}, fmt.Errorf("%w: %q: empty port", ErrBadAddress, s)
	}
	if strings.ContainsAny(a.Port, "\x00\n\r") {
		return Address{}, fmt.Errorf("%w: %q: control character in port", ErrBadAddress, s)
	}
	return a, nil
}

func allDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Driver opens one kind of instrument. Built-in drivers open a serial line
// and run one of this package's protocols; a vendor driver can do anything
// behind the Instrument interface.
type Driver struct {
	// Name is the address prefix, e.g. "nha506".
	Name string
	// Model is the instrument the driver speaks to, for help texts.
	Model string
	// Baud is the default baud rate when neither the address nor
	// Options.Baud gives one.
	Baud int
	// Open opens the instrument at addr; addr.Baud is already resolved.
	Open func(addr Address, o Options) (Instrument, error)
}

// serialDriver builds a Driver that opens a serial line and runs newProto.
// check, when set, validates Options.Method.
func serialDriver(name string, baud int, model string, check func(string) error, newProto func(rw io.ReadWriter, port string, o Options) Instrument) Driver {
	return Driver{Name: name, Model: model, Baud: baud, Open: func(a Address, o Options) (Instrument, error) {
		if check != nil {
			if err := check(o.Method); err != nil {
				return nil, err
			}
		}
		p, err := serialport.Open(a.Port, a.Baud)
		if err != nil {
			return nil, fmt.Errorf("analyzer: %s: %w", a, err)
		}
		if o.Model == "" {
			o.Model = model
		}
		return newProto(p, a.Port, o), nil
	}}
}

// protocol is one built-in driver: its name, default baud rate, model, the
// check of Options.Method (nil: any gas method) and the protocol it runs.
type protocol struct {
	name     string
	baud     int
	model    string
	check    func(string) error
	newProto func(io.ReadWriter, string, Options) Instrument
}

// protocols are the built-in drivers, the one list Builtin and the tests
// (every protocol fuzzed) take them from.
var protocols = []protocol{
	{"nha506", 9600, modelNHA506.model, nil, func(rw io.ReadWriter, p string, o Options) Instrument { return NewNHA506(rw, p, o) }},
	{"fla502", 9600, modelFLA502.model, nil, func(rw io.ReadWriter, p string, o Options) Instrument { return NewFLA502(rw, p, o) }},
	{"nha503", 9600, modelNHA503.model, nil, func(rw io.ReadWriter, p string, o Options) Instrument { return NewNHA503(rw, p, o) }},
	{"nha503v", 9600, modelNHA503V.model, nil, func(rw io.ReadWriter, p string, o Options) Instrument { return NewNHA503V(rw, p, o) }},
	{"mqw511", 9600, "MQW-511", nil, func(rw io.ReadWriter, p string, o Options) Instrument { return NewMQW511(rw, p, o) }},
	{"nha501a", 9600, "NHA-501A", nil, func(rw io.ReadWriter, p string, o Options) Instrument { return NewNHA501A(rw, p, o) }},
	{"fla501", 9600, "FLA-501", nil, func(rw io.ReadWriter, p string, o Options) Instrument { return NewFLA501(rw, p, o) }},
	{"mqw50a", 9600, "MQW-50A", nil, func(rw io.ReadWriter, p string, o Options) Instrument { return NewMQW50A(rw, p, o) }},
	{"fga4100", 19200, "FGA-4100", nil, func(rw io.ReadWriter, p string, o Options) Instrument { return NewFGA4100(rw, p, o) }},
	{"nht6", 9600, modelNHT6.model, checkOpacimeterMethod, func(rw io.ReadWriter, p string, o Options) Instrument { return NewNHT6(rw, p, o) }},
	{"mqy200", 9600, modelMQY200.model, checkRealtimeOnly, func(rw io.ReadWriter, p string, o Options) Instrument { return NewMQY200(rw, p, o) }},
	{"fty100", 9600, "FTY-100", checkRealtimeOnly, func(rw io.ReadWriter, p string, o Options) Instrument { return NewFTY100(rw, p, o) }},
}

// Builtin returns the built-in drivers (see the package documentation for
// the instruments they speak to). Each call returns a new slice.
func Builtin() []Driver {
	ds := make([]Driver, len(protocols))
	for i, p := range protocols {
		ds[i] = serialDriver(p.name, p.baud, p.model, p.check, p.newProto)
	}
	return ds
}

// Open opens the instrument at an address "driver:port[@baud]" (see
// ParseAddress) with the driver of that name from o.Drivers or Builtin.
// Opening does not talk to the instrument: an absent one shows as
// ErrNoResponse on the first Read.
func Open(address string, o Options) (Instrument, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	d, ok := findDriver(a.Driver, o.Drivers)
	if !ok {
		return nil, fmt.Errorf("%w: %q (known: %s)", ErrUnknownDriver, a.Driver, strings.Join(driverNames(o.Drivers), ", "))
	}
	if d.Open == nil {
		return nil, fmt.Errorf("%w: driver %q has no Open func", ErrBadOptions, d.Name)
	}
	if a.Baud == 0 {
		a.Baud = o.Baud
	}
	if a.Baud == 0 {
		a.Baud = d.Baud
	}
	return d.Open(a, o)
}

func checkOpacimeterMethod(m string) error {
	if m != "" && m != MethodFreeAcceleration && m != MethodRealtime {
		return fmt.Errorf("%w: method %q: an opacimeter reads %q or %q", ErrBadOptions, m, MethodFreeAcceleration, MethodRealtime)
	}
	return nil
}

func checkRealtimeOnly(m string) error {
	if m != "" && m != MethodRealtime {
		return fmt.Errorf("%w: method %q: this opacimeter reads only %q", ErrBadOptions, m, MethodRealtime)
	}
	return nil
}

func findDriver(name string, extra []Driver) (Driver, bool) {
	for _, d := range extra {
		if d.Name == name {
			return d, true
		}
	}
	for _, d := range Builtin() {
		if d.Name == name {
			return d, true
		}
	}
	return Driver{}, false
}

func driverNames(extra []Driver) []string {
	var names []string
	for _, d := range append(append([]Driver(nil), extra...), Builtin()...) {
		names = append(names, d.Name)
	}
	return names
}
