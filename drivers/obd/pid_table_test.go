package obd

import (
	"regexp"
	"slices"
	"testing"
)

// pidsFrom parses a list of PIDs written as hex pairs.
func pidsFrom(t *testing.T, s string) []PID {
	t.Helper()
	var out []PID
	for i := 0; i+1 < len(s); i += 3 {
		var p byte
		for _, c := range s[i : i+2] {
			p <<= 4
			switch {
			case c >= '0' && c <= '9':
				p |= byte(c - '0')
			case c >= 'A' && c <= 'F':
				p |= byte(c-'A') + 10
			default:
				t.Fatalf("bad hex %q", s[i:i+2])
			}
		}
		out = append(out, PID(p))
	}
	return out
}

// TestPIDCoverage pins down which Mode 01 PIDs of 00-A6 are decoded into
// values, which are only known by length, and which are not defined.
func TestPIDCoverage(t *testing.T) {
	decoded := pidsFrom(t, ""+
		"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F "+
		"20 21 22 23 24 25 26 27 28 29 2A 2B 2C 2D 2E 2F 30 31 32 33 34 35 36 37 38 39 3A 3B 3C 3D 3E 3F "+
		"40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F 50 51 52 53 54 55 56 57 58 59 5A 5B 5C 5D 5E 5F "+
		"60 61 62 63 64 65 66 67 68 69 6A 6B 6C 6D 6E 6F 70 71 72 73 74 75 76 77 78 79 7A 7B 7C 7D 7E 7F "+
		"80 81 82 83 84 85 86 87 89 8A 8D 8E 9A 9D 9E A0 A2 A4 A5 A6")
	rawOnly := pidsFrom(t, "88 8B 8C 8F 90 91 92 93 94 98 99 9B 9C 9F A1 A3")
	undefined := pidsFrom(t, "95 96 97")
	if len(decoded) != 148 || len(rawOnly) != 16 || len(decoded)+len(rawOnly)+len(undefined) != 0xA7 {
		t.Fatalf("lists: %d decoded, %d raw, %d undefined", len(decoded), len(rawOnly), len(undefined))
	}
	for p := 0; p <= 0xA6; p++ {
		pid := PID(p)
		d, ok := LookupPID(pid)
		switch {
		case slices.Contains(decoded, pid):
			if !ok || d.Raw || (len(d.Fields) == 0 && d.special == nil) {
				t.Errorf("PID %s should be decoded: %+v", pid, d)
			}
		case slices.Contains(rawOnly, pid):
			if !ok || !d.Raw || d.Length == 0 {
				t.Errorf("PID %s should be raw with a length: %+v", pid, d)
			}
		default:
			if ok {
				t.Errorf("PID %s should be undefined", pid)
			}
		}
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

func TestPIDTableConsistency(t *testing.T) {
	pidNames := map[string]PID{}
	for _, pid := range PIDs() {
		d, _ := LookupPID(pid)
		if d.PID != pid || d.Length <= 0 || d.Label == "" || !snakeCase.MatchString(d.Name) {
			t.Errorf("PID %s: bad definition %+v", pid, d)
		}
		if p, dup := pidNames[d.Name]; dup {
			t.Errorf("PID name %s used by %s and %s", d.Name, p, pid)
		}
		pidNames[d.Name] = pid
		for _, f := range d.Fields {
			if !snakeCase.MatchString(f.Name) || f.Label == "" || f.Min >= f.Max {
				t.Errorf("PID %s field %+v", pid, f)
			}
			if f.Support >= 8 {
				t.Errorf("PID %s field %s: support bit %d", pid, f.Name, f.Support)
			}
			if f.text == nil && f.bits > 0 && f.Unit == "" && f.Name != "recommended_gear" && f.Name != "transmission_gear" {
				t.Errorf("PID %s field %s: bit field without text", pid, f.Name)
			}
		}
	}
	// A few lengths the multi-PID splitter depends on.
	for pid, n := range map[PID]int{0x01: 4, 0x03: 2, 0x0C: 2, 0x14: 2, 0x24: 4, 0x4F: 4, 0x64: 5, 0x6D: 11, 0x70: 10, 0x7F: 13, 0x81: 41, 0xA6: 4} {
		if d, _ := LookupPID(pid); d.Length != n {
			t.Errorf("PID %s length %d, want %d", pid, d.Length, n)
		}
	}
}

func TestPIDString(t *testing.T) {
	if s := PID(0x0c).String(); s != "0C" {
		t.Errorf("String = %q", s)
	}
	if _, ok := LookupPID(0x95); ok {
		t.Error("LookupPID(95) found")
	}
	d, _ := LookupPID(0x0C)
	d.Fields[0].Name = "changed"
	if again, _ := LookupPID(0x0C); again.Fields[0].Name != "engine_speed" {
		t.Error("LookupPID exposes the table")
	}
}
