// Package check holds the field validators shared by the configuration, the commands and the jobs.
//
// One rule for each value checked in two places: a bay label that passes
// `bayagent run --check` is one every command accepts, and a note a
// technician types is held to the same rule as a technician id. Each
// validator adds to a [Problems] list a [*FieldError] naming the field (its
// JSON path, e.g. "parts[2].quantity", or its configuration key), so that
// one call reports every problem of a command or a file.
//
// Text rules: valid UTF-8, no control characters (multi-line text may hold
// \n and \t), and no U+FFFD: encoding/json turns a lone UTF-16 surrogate
// ("\ud800") into U+FFFD, and a record must not keep a character the sender
// never typed.
package check

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors a FieldError wraps; compare with errors.Is.
var (
	// ErrInvalid: a field has a missing, malformed or out-of-range value.
	ErrInvalid = errors.New("invalid value")
	// ErrNoTechnician: an action that changes the vehicle or a job was asked
	// for without a technician id.
	ErrNoTechnician = errors.New("technician id required")
)

// Limits shared by the configuration, the commands and the jobs.
const (
	// MaxBay is the longest bay id.
	MaxBay = 32
	// MaxJobID is the longest job id.
	MaxJobID = 64
	// MaxTechnician is the longest technician id, in characters.
	MaxTechnician = 32
	// MaxCode is the longest code (settlement number, part number, test_no).
	MaxCode = 64
)

// FieldError is one problem with one field. Field is the JSON path of the
// field, e.g. "vin" or "parts[2].quantity", or a configuration key. It
// wraps ErrInvalid, or a more specific sentinel such as ErrNoTechnician.
type FieldError struct {
	Field   string
	Problem string
	Err     error // sentinel; ErrInvalid when nil
}

func (e *FieldError) Error() string { return e.Field + " " + e.Problem }

// Unwrap returns the sentinel the error wraps.
func (e *FieldError) Unwrap() error {
	if e.Err == nil {
		return ErrInvalid
	}
	return e.Err
}

// ValidationError lists every problem found, one per field. Its text is
// the problems separated by "; ", each starting with the field's name.
type ValidationError struct {
	Problems []*FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, so that errors.Is(err, ErrInvalid) and
// errors.As(err, new(*FieldError)) work.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Fields returns the fields an error names, in order and without repeats:
// those of a ValidationError or of a FieldError in err's chain.
func Fields(err error) []string {
	var out []string
	if v, ok := errors.AsType[*ValidationError](err); ok {
		for _, p := range v.Problems {
			if !contains(out, p.Field) {
				out = append(out, p.Field)
			}
		}
		return out
	}
	if f, ok := errors.AsType[*FieldError](err); ok {
		return []string{f.Field}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Problems collects FieldErrors.
type Problems []*FieldError

// Add records a problem with field (wrapping ErrInvalid).
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// AddErr records a problem with field wrapping sentinel.
func (p *Problems) AddErr(field string, sentinel error, format string, args ...any) {
	*p = append(*p, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...), Err: sentinel})
}

// Err returns nil, the single FieldError, or a ValidationError.
func (p Problems) Err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	return &ValidationError{Problems: p}
}

// JobID checks a job id: 1 to MaxJobID characters of A-Z a-z 0-9 . _ : / -,
// starting with a letter or digit (the alphabet of record.ValidJob).
func JobID(p *Problems, field, s string) {
	if !Token(s, MaxJobID, "._:/-") {
		p.Add(field, "must be 1 to %d characters of A-Z a-z 0-9 . _ : / - starting with a letter or digit: %q",
			MaxJobID, Clip(s))
	}
}

// Bay checks a bay id: 1 to MaxBay characters of A-Z a-z 0-9 . _ -,
// starting with a letter or digit.
func Bay(p *Problems, field, s string) {
	if !Token(s, MaxBay, "._-") {
		p.Add(field, "must be 1 to %d characters of A-Z a-z 0-9 . _ - starting with a letter or digit: %q",
			MaxBay, Clip(s))
	}
}

// Token reports whether s is 1 to maxLen ASCII letters and digits, with
// the characters of extra allowed after the first.
func Token(s string, maxLen int, extra string) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if i == 0 || strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

// Code checks a code such as a settlement number or a part number: 1 to
// MaxCode printable ASCII characters without spaces.
func Code(p *Problems, field, s string) {
	if s == "" {
		p.Add(field, "is required")
		return
	}
	if len(s) > MaxCode {
		p.Add(field, "must be at most %d characters, got %d", MaxCode, len(s))
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			p.Add(field, "must be printable ASCII without spaces: %q", Clip(s))
			return
		}
	}
}

// Technician checks a technician id: 1 to MaxTechnician letters (of any
// script), digits and . _ - @. An empty id wraps ErrNoTechnician.
func Technician(p *Problems, field, s string) {
	if s == "" {
		p.AddErr(field, ErrNoTechnician, "is required")
		return
	}
	n := 0
	for _, r := range s {
		n++
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@", r)) || r == utf8.RuneError {
			p.Add(field, "must be letters, digits and . _ - @ only: %q", Clip(s))
			return
		}
	}
	if n > MaxTechnician {
		p.Add(field, "must be at most %d characters, got %d", MaxTechnician, n)
	}
}

// Enum checks that s is one of allowed ("" passes unless required).
func Enum(p *Problems, field, s string, allowed []string, required bool) {
	if s == "" && !required {
		return
	}
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	p.Add(field, "must be one of %s: %q", strings.Join(allowed, ", "), Clip(s))
}

// Line checks one line of text: the text rules, no leading or trailing
// spaces, at most max characters.
func Line(p *Problems, field, s string, required bool, max int) {
	if !chars(p, field, s, required, max, false) {
		return
	}
	if strings.TrimSpace(s) != s {
		p.Add(field, "must not begin or end with spaces: %q", Clip(s))
	}
}

// Text checks free text, which may span lines (\n and \t allowed), at most
// max characters.
func Text(p *Problems, field, s string, required bool, max int) {
	chars(p, field, s, required, max, true)
}

func chars(p *Problems, field, s string, required bool, max int, multiline bool) bool {
	if strings.TrimSpace(s) == "" {
		if required {
			p.Add(field, "is required")
			return false
		}
		if s != "" {
			p.Add(field, "must not be only spaces")
		}
		return false
	}
	if !utf8.ValidString(s) {
		p.Add(field, "must be valid UTF-8")
		return false
	}
	n := 0
	for _, r := range s {
		n++
		if r == utf8.RuneError {
			p.Add(field, "must not contain U+FFFD (a character that could not be read, such as a lone UTF-16 surrogate)")
			return false
		}
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			p.Add(field, "must not contain the control character %U", r)
			return false
		}
	}
	if n > max {
		p.Add(field, "must be at most %d characters, got %d", max, n)
		return false
	}
	return true
}

// Digits reports whether s is exactly n ASCII digits.
func Digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Clip shortens a value quoted in an error message to at most 64 bytes,
// on a character boundary.
func Clip(s string) string { return ClipTo(s, 64) }

// ClipTo shortens s to at most max bytes, on a character boundary, and
// marks the cut with "...".
func ClipTo(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// ValidBay returns the problem with bay id s (see Bay), or nil.
func ValidBay(s string) error {
	var p Problems
	Bay(&p, "bay", s)
	return p.Err()
}

// ValidTechnician returns the problem with technician id s (see
// Technician), or nil: the bay screen checks a login's id with it.
func ValidTechnician(s string) error {
	var p Problems
	Technician(&p, "technician", s)
	return p.Err()
}
