package analyzer

import (
	"errors"
	"math"
	"slices"
	"testing"
	"testing/iotest"
	"time"
)

// parsers are every reply decoder, for FuzzParse.
var parsers = []func([]byte) ([]Quantity, []string, error){
	nhaParser(modelNHA506, 0), nhaParser(modelFLA502, 0), nhaParser(modelNHA503, 0), nhaParser(modelNHA503, 1),
	nhaParser(modelNHA503V, 0), noFlags(parseNHAAmbient), noFlags(parseMQW511Main), noFlags(parseFLA501Main),
	noFlags(parseMQW50AMain), noFlags(parseFGAMain), parseNHTRealtime, noFlags(parseNHTResult), noFlags(parseNHTPeak),
	parseFTYRealtime,
	func(b []byte) ([]Quantity, []string, error) { _, err := parseMQW50AStatus(b); return nil, nil, err },
	func(b []byte) ([]Quantity, []string, error) { _, err := parseFTYStatus(b); return nil, nil, err },
}

// FuzzParse feeds arbitrary bytes to every reply decoder: no panic; an
// accepted reply decodes to numbers, and a refusal is ErrBadFrame.
func FuzzParse(f *testing.F) {
	for i, s := range []string{frameNHA506Idle, frameFLA502, frameNHA503, frameNHA506Idle, frameNHA506Zeroed, frameNHAAmbient,
		frameMQW511, frameFLA501, frameMQW50A, frameFGA, frameNHT6Realtime, frameNHT6Result, frameNHT6Peak, frameFTY100Realtime} {
		f.Add(byte(i), unhex(f, s))
	}
	f.Add(byte(14), unhex(f, "06 61 0a 40 80 00 00 00 00 00 00"))
	f.Add(byte(15), unhex(f, "667479 02 00 00 00"))
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		q, _, err := parsers[int(which)%len(parsers)](b)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error not ErrBadFrame: %v", err)
			}
			return
		}
		for _, v := range q {
			if math.IsNaN(v.Value) {
				t.Fatalf("NaN: %v", q)
			}
		}
	})
}

// FuzzReadStream feeds arbitrary instrument bytes to each driver's Read and
// Zero: each returns before its deadline, never panics, gives only this
// package's errors, and never returns an implausible reading.
func FuzzReadStream(f *testing.F) {
	seeds := []struct {
		which byte
		frame string
	}{
		{0, frameNHA506Idle}, {0, "ff 00 42" + frameNHA506Idle}, {0, frameNHA506CO7FFF}, {1, frameFLA502}, {2, frameNHA503},
		{4, frameMQW511}, {6, frameFLA501}, {7, frameMQW50A}, {8, frameFGA}, {9, frameNHT6Result}, {9, "15 02"},
		{10, frameMQY200Realtime}, {11, frameFTY100Realtime}, {0, "05"}, {12, "05"}, {12, "01"}, {20, "06 61 0a 40 80 00 00 00 00 00 00"},
	}
	for _, s := range seeds {
		f.Add(s.which, unhex(f, s.frame))
	}
	f.Fuzz(func(t *testing.T, which byte, reply []byte) {
		l := newLine(always(reply))
		o := Options{Timeout: 30 * time.Millisecond, Gap: 10 * time.Millisecond, PollInterval: time.Millisecond,
			OperationTimeout: 40 * time.Millisecond, ZeroWait: time.Millisecond}
		rw := fragmented{iotest.HalfReader(l), l}
		n := int(which) % (2 * len(protocols))
		inst := protocols[n%len(protocols)].newProto(rw, "fuzz", o)
		defer inst.Close()
		start := time.Now()
		var err error
		if z, ok := inst.(Zeroer); ok && n >= len(protocols) {
			err = z.Zero(t.Context())
		} else {
			var r Reading
			r, err = inst.Read(t.Context())
			if err == nil {
				if len(r.Values) == 0 {
					t.Fatal("reading without values")
				}
				if perr := checkPlausible(r.Values, DefaultRanges()); perr != nil {
					t.Fatalf("implausible reading returned: %v", perr)
				}
			}
		}
		if took := time.Since(start); took > 5*time.Second { // generous: shared CI cores
			t.Fatalf("took %v", took)
		}
		known := []error{ErrNoResponse, ErrIncomplete, ErrBadFrame, ErrBusy, ErrNAK, ErrImplausible, ErrZeroFailed, ErrNotFinished, ErrClosed}
		if err != nil && !slices.ContainsFunc(known, func(e error) bool { return errors.Is(err, e) }) {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}
