package analyzer

import (
	"context"
	"errors"
	"io/fs"
	"testing"
)

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in   string
		want Address
		err  bool
	}{
		{in: "nha506:/dev/ttyUSB1", want: Address{Driver: "nha506", Port: "/dev/ttyUSB1"}},
		{in: "mqw511:/dev/ttyS0@9600", want: Address{Driver: "mqw511", Port: "/dev/ttyS0", Baud: 9600}},
		{in: "fga4100:/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0@19200",
			want: Address{Driver: "fga4100", Port: "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0-port0", Baud: 19200}},
		{in: "nht6:/dev/odd@name", want: Address{Driver: "nht6", Port: "/dev/odd@name"}},
		{in: "nha506", err: true},
		{in: ":/dev/ttyS0", err: true},
		{in: "NHA506:/dev/ttyS0", err: true},
		{in: "nha506:", err: true},
		{in: "nha506:@9600", err: true},
		{in: "nha506:/dev/x@0", err: true},
		{in: "nha506:/dev/x\n", err: true},
	}
	for _, tt := range tests {
		got, err := ParseAddress(tt.in)
		if tt.err {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("ParseAddress(%q) err = %v, want ErrBadAddress", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if again, err := ParseAddress(got.String()); err != nil || again != got {
			t.Errorf("String round trip %q: %+v, %v", got.String(), again, err)
		}
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"nha506:/dev/ttyUSB1", "mqw511:/dev/ttyS0@9600", "x:@", "a:b@99999999999", "nht6:/dev/a@b@9600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error not ErrBadAddress: %v", err)
			}
			return
		}
		if again, err := ParseAddress(a.String()); err != nil || again != a {
			t.Fatalf("round trip %+v -> %q -> %+v, %v", a, a.String(), again, err)
		}
	})
}

// vendorInstrument stands for a vendor's driver (an encrypted NHA-509): it
// offers a zero besides Read.
type vendorInstrument struct{ addr Address }

func (f *vendorInstrument) Read(context.Context) (Reading, error) {
	return Reading{Method: MethodRealtime, Instrument: InstrumentID{Model: "NHA-509", Port: f.addr.Port, Protocol: f.addr.Driver}}, nil
}
func (f *vendorInstrument) Zero(context.Context) error { return nil }
func (f *vendorInstrument) Close() error               { return nil }

func TestOpen(t *testing.T) {
	vendor := Driver{Name: "nha509", Baud: 115200, Open: func(a Address, _ Options) (Instrument, error) {
		return &vendorInstrument{addr: a}, nil
	}}
	tests := []struct {
		addr     string
		opts     Options
		wantBaud int
		wantErr  error
	}{
		{addr: "nha509:/dev/ttyUSB0", opts: Options{Drivers: []Driver{vendor}}, wantBaud: 115200},
		{addr: "nha509:/dev/ttyUSB0@9600", opts: Options{Drivers: []Driver{vendor}, Baud: 38400}, wantBaud: 9600},
		{addr: "nha509:/dev/ttyUSB0", opts: Options{Drivers: []Driver{vendor}, Baud: 38400}, wantBaud: 38400},
		{addr: "nha509:/dev/ttyUSB0", wantErr: ErrUnknownDriver},
		{addr: "nha506", wantErr: ErrBadAddress},
		{addr: "nht6:/dev/null", opts: Options{Method: MethodASM}, wantErr: ErrBadOptions},
		{addr: "mqy200:/dev/null", opts: Options{Method: MethodFreeAcceleration}, wantErr: ErrBadOptions},
		{addr: "nha506:/nonexistent/ttyUSB9", wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		inst, err := Open(tt.addr, tt.opts)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open(%q) err = %v, want %v", tt.addr, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tt.addr, err)
			continue
		}
		f := inst.(*vendorInstrument)
		if f.addr.Baud != tt.wantBaud {
			t.Errorf("Open(%q) baud %d, want %d", tt.addr, f.addr.Baud, tt.wantBaud)
		}
		if _, ok := inst.(Zeroer); !ok {
			t.Error("the vendor driver's zero is not found")
		}
		inst.Close()
	}
	if inst, err := Open("nha506:/dev/null@12345", Options{}); err == nil {
		inst.Close()
		t.Error("Open accepted baud 12345")
	}
}

func TestBuiltinCapabilities(t *testing.T) {
	type caps struct{ zero, leak, state, pump, peak bool }
	want := map[string]caps{
		"nha506": {true, true, true, true, false}, "fla502": {true, true, true, true, false},
		"nha503": {true, true, true, true, false}, "nha503v": {true, true, true, true, false},
		"mqw511": {false, false, false, true, false}, "nha501a": {true, false, false, true, false},
		"fla501": {true, false, false, true, false}, "mqw50a": {true, true, true, true, false},
		"fga4100": {true, false, false, true, false}, "nht6": {true, false, true, false, true},
		"mqy200": {true, false, true, false, true}, "fty100": {true, false, true, false, false},
	}
	ctors := map[string]Instrument{
		"nha506": NewNHA506(newLine(always(nil)), "t", fast), "fla502": NewFLA502(newLine(always(nil)), "t", fast),
		"nha503": NewNHA503(newLine(always(nil)), "t", fast), "nha503v": NewNHA503V(newLine(always(nil)), "t", fast),
		"mqw511": NewMQW511(newLine(always(nil)), "t", fast), "nha501a": NewNHA501A(newLine(always(nil)), "t", fast),
		"fla501": NewFLA501(newLine(always(nil)), "t", fast), "mqw50a": NewMQW50A(newLine(always(nil)), "t", fast),
		"fga4100": NewFGA4100(newLine(always(nil)), "t", fast), "nht6": NewNHT6(newLine(always(nil)), "t", fast),
		"mqy200": NewMQY200(newLine(always(nil)), "t", fast), "fty100": NewFTY100(newLine(always(nil)), "t", fast),
	}
	if len(Builtin()) != len(want) {
		t.Fatalf("%d built-in drivers, %d described", len(Builtin()), len(want))
	}
	for _, d := range Builtin() {
		inst, ok := ctors[d.Name]
		if !ok {
			t.Fatalf("no constructor for %s", d.Name)
		}
		_, z := inst.(Zeroer)
		_, l := inst.(LeakChecker)
		_, s := inst.(StateReader)
		_, p := inst.(Pumper)
		_, k := inst.(PeakReader)
		if got := (caps{z, l, s, p, k}); got != want[d.Name] {
			t.Errorf("%s: %+v, want %+v", d.Name, got, want[d.Name])
		}
		inst.Close()
	}
}
