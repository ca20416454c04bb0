package isotp

import (
	"bytes"
	"errors"
	"testing"
)

// step is one frame fed to a Reassembler and what it must produce.
type step struct {
	in      string
	msg     string // hex of the completed message, "" for none
	flow    FlowNeed
	err     error
	aborted bool
}

func TestReassembler(t *testing.T) {
	const vin = "4902013147314A433534343452373235323336373" // 20 bytes
	tests := []struct {
		name  string
		bs    uint8
		max   int
		steps []step
	}{
		{name: "single frame", steps: []step{{in: "04 41 0C 1A F8 AA AA AA", msg: "410C1AF8"}}},
		{name: "VIN in three frames", steps: []step{
			{in: "10 14 49 02 01 31 47 31", flow: SendContinue},
			{in: "21 4A 43 35 34 34 34 52"},
			{in: "22 37 32 35 32 33 36 37", msg: vin[:40]},
		}},
		{name: "unpadded last CF", steps: []step{
			{in: "10 08 01 02 03 04 05 06", flow: SendContinue},
			{in: "21 07 08", msg: "0102030405060708"},
		}},
		{name: "block size 2 asks for FC after each block", bs: 2, steps: []step{
			{in: "10 1A 00 01 02 03 04 05", flow: SendContinue},
			{in: "21 06 07 08 09 0A 0B 0C"},
			{in: "22 0D 0E 0F 10 11 12 13", flow: SendContinue},
			{in: "23 14 15 16 17 18 19 AA", msg: "000102030405060708090A0B0C0D0E0F10111213141516171819"},
		}},
		{name: "wrong SN aborts", steps: []step{
			{in: "10 14 49 02 01 31 47 31", flow: SendContinue},
			{in: "22 4A 43 35 34 34 34 52", err: ErrWrongSN},
			{in: "23 37 32 35 32 33 36 37", err: ErrUnexpectedFrame},
		}},
		{name: "CF when idle", steps: []step{{in: "21 01 02 03 04 05 06 07", err: ErrUnexpectedFrame}}},
		{name: "FC is not for the receiver", steps: []step{{in: "30 00 00", err: ErrUnexpectedFrame}}},
		{name: "SF interrupts", steps: []step{
			{in: "10 14 49 02 01 31 47 31", flow: SendContinue},
			{in: "02 41 00", msg: "4100", aborted: true},
			{in: "21 4A 43 35 34 34 34 52", err: ErrUnexpectedFrame},
		}},
		{name: "FF restarts", steps: []step{
			{in: "10 14 49 02 01 31 47 31", flow: SendContinue},
			{in: "10 09 01 02 03 04 05 06", flow: SendContinue, aborted: true},
			{in: "21 07 08 09", msg: "010203040506070809"},
		}},
		{name: "overflow over 4095", steps: []step{
			{in: "10 00 00 00 10 00 01 02", flow: SendOverflow, err: ErrOverflow},
			{in: "21 01 02 03 04 05 06 07", err: ErrUnexpectedFrame},
		}},
		{name: "single frame over MaxLen", max: 2, steps: []step{{in: "03 41 00 01", err: ErrOverflow}}},
		{name: "overflow over MaxLen", max: 16, steps: []step{{in: "10 14 49 02 01 31 47 31", flow: SendOverflow, err: ErrOverflow}}},
		{name: "escape form accepted under MaxLen", max: 5000, steps: []step{
			{in: "10 00 00 00 10 00 01 02", flow: SendContinue},
		}},
		{name: "short CF aborts", steps: []step{
			{in: "10 14 49 02 01 31 47 31", flow: SendContinue},
			{in: "21 4A 43", err: ErrBadLength},
		}},
		{name: "malformed frame keeps message", steps: []step{
			{in: "10 08 01 02 03 04 05 06", flow: SendContinue},
			{in: "F5 DE AD", err: ErrBadPCI},
			{in: "21 07 08", msg: "0102030405060708"},
		}},
		{name: "SN wraps after 15", steps: append([]step{{in: "10 76 00 00 00 00 00 00", flow: SendContinue}},
			func() []step {
				var s []step
				for i := 1; i <= 16; i++ {
					sn := "0123456789ABCDEF"[i%16]
					s = append(s, step{in: "2" + string(sn) + " 00 00 00 00 00 00 00"})
				}
				s[15].msg = "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
				return s
			}()...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Reassembler{BlockSize: tt.bs, MaxLen: tt.max}
			for i, s := range tt.steps {
				res, err := r.Feed(hx(t, s.in))
				if !errors.Is(err, s.err) {
					t.Fatalf("step %d: err = %v, want %v", i, err, s.err)
				}
				if want := hx(t, s.msg); !bytes.Equal(res.Message, want) || (res.Message == nil) != (s.msg == "") {
					t.Fatalf("step %d: message = % X, want %s", i, res.Message, s.msg)
				}
				if res.Flow != s.flow {
					t.Fatalf("step %d: flow = %d, want %d", i, res.Flow, s.flow)
				}
				if (res.Aborted != nil) != s.aborted || (res.Aborted != nil && !errors.Is(res.Aborted, ErrInterrupted)) {
					t.Fatalf("step %d: aborted = %v, want %v", i, res.Aborted, s.aborted)
				}
			}
		})
	}
}

func TestReassemblerReset(t *testing.T) {
	var r Reassembler
	if _, err := r.Feed(hx(t, "10 14 49 02 01 31 47 31")); err != nil {
		t.Fatal(err)
	}
	if !r.InProgress() {
		t.Fatal("InProgress = false after first frame")
	}
	r.Reset()
	if r.InProgress() {
		t.Fatal("InProgress = true after Reset")
	}
	if _, err := r.Feed(hx(t, "21 4A 43 35 34 34 34 52")); !errors.Is(err, ErrUnexpectedFrame) {
		t.Fatalf("CF after Reset: err = %v", err)
	}
}

// FuzzReassembler feeds a stream of frames (each prefixed with its length,
// 0-8) to a Reassembler and checks its invariants.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0}, uint8(0), 0)
	f.Add(append([]byte{8}, hx(f, "02010CAAAAAAAAAA")...), uint8(0), 0)
	f.Add(join(hx(f, "1014490201314731"), hx(f, "214A433534343452"), hx(f, "2237323532333637")), uint8(0), 0)
	f.Add(join(hx(f, "101A000102030405"), hx(f, "2106070809"), hx(f, "220D0E0F10111213"), hx(f, "2314151617")), uint8(2), 0)
	f.Add(join(hx(f, "1000000010000102"), hx(f, "2101020304050607")), uint8(0), 5000)
	f.Add(join(hx(f, "1014490201314731"), hx(f, "224A433534343452")), uint8(1), 0)
	f.Add(join(hx(f, "1014490201314731"), hx(f, "0241"), hx(f, "300000"), hx(f, "F5DEAD")), uint8(0), 20)
	f.Fuzz(func(t *testing.T, stream []byte, bs uint8, maxLen int) {
		maxLen %= 1 << 16
		r := Reassembler{BlockSize: bs, MaxLen: maxLen}
		limit := r.maxLen()
		declared := -1
		for len(stream) > 0 {
			n := min(int(stream[0])%9, len(stream)-1)
			data := stream[1 : 1+n]
			stream = stream[1+n:]
			if p, err := Parse(data); err == nil && (p.Kind == SingleFrame || p.Kind == FirstFrame) {
				declared = int(p.Length)
			}
			res, err := r.Feed(data)
			if err != nil && res.Message != nil {
				t.Fatalf("message and error together: %v", err)
			}
			if res.Flow == SendOverflow && !errors.Is(err, ErrOverflow) {
				t.Fatalf("overflow flow without ErrOverflow: %v", err)
			}
			if res.Message != nil {
				if len(res.Message) != declared {
					t.Fatalf("message of %d bytes, declared %d", len(res.Message), declared)
				}
				if len(res.Message) > limit || len(res.Message) == 0 {
					t.Fatalf("message of %d bytes, limit %d", len(res.Message), limit)
				}
				if r.InProgress() {
					t.Fatal("in progress after a completed message")
				}
			}
			if r.InProgress() && (len(r.buf) >= r.total || r.total > limit) {
				t.Fatalf("bad state: %d of %d bytes, limit %d", len(r.buf), r.total, limit)
			}
		}
	})
}

// join builds a fuzz stream: each frame prefixed with its length.
func join(frames ...[]byte) []byte {
	var out []byte
	for _, fr := range frames {
		out = append(out, byte(len(fr)))
		out = append(out, fr...)
	}
	return out
}
