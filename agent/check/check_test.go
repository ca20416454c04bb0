package check

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestProblems(t *testing.T) {
	var p Problems
	if p.Err() != nil {
		t.Fatal("no problems, an error")
	}
	Technician(&p, "technician", "")
	Bay(&p, "bay", "Bay 3")
	Text(&p, "text", "a\uFFFDb", true, 10)
	Text(&p, "note", "line 1\nline 2\tend", true, 100)
	Line(&p, "plate", " 浙A12345", true, 16)
	Code(&p, "test_no", "33 01")
	Enum(&p, "phase", "later", []string{"before_repair", "after_repair"}, false)
	JobID(&p, "job_id", "J-1")
	err := p.Err()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 6 {
		t.Fatalf("%v", err)
	}
	if !errors.Is(err, ErrNoTechnician) || !errors.Is(err, ErrInvalid) {
		t.Errorf("%v: want ErrNoTechnician and ErrInvalid", err)
	}
	if got := Fields(err); !slices.Equal(got, []string{"technician", "bay", "text", "plate", "test_no", "phase"}) {
		t.Errorf("Fields = %v", got)
	}
	for _, want := range []string{"technician is required", `bay must be 1 to 32 characters`, "text must not contain U+FFFD",
		"plate must not begin or end with spaces", "test_no must be printable ASCII", `phase must be one of before_repair, after_repair: "later"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	var one Problems
	Bay(&one, "device.bay", "-x")
	if got := Fields(one.Err()); !slices.Equal(got, []string{"device.bay"}) {
		t.Errorf("Fields of one problem = %v", got)
	}
	if ValidBay("bay-3") != nil || ValidBay("") == nil || ValidBay(strings.Repeat("b", MaxBay+1)) == nil {
		t.Error("ValidBay")
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("工", 30) // 90 bytes
	got := Clip(long)
	if !strings.HasSuffix(got, "...") || len(got) > 67 || !strings.HasPrefix(long, strings.TrimSuffix(got, "...")) {
		t.Errorf("Clip = %q", got)
	}
	if Clip("short") != "short" {
		t.Error("short value clipped")
	}
	// Byte 300 of this one is inside a character.
	long = "E" + strings.Repeat("格式错误", 100)
	got = ClipTo(long, 300)
	if !utf8.ValidString(got) || len(got) > 303 || !strings.HasPrefix(long, strings.TrimSuffix(got, "...")) {
		t.Errorf("ClipTo(300): %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
}
