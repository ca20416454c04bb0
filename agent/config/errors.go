package config

import (
	"errors"
	"fmt"
)

// Errors of this package. Every problem Parse and Validate report is a
// *FieldError that wraps one of these; compare with errors.Is.
var (
	// ErrInvalid: a value is out of range, malformed or inconsistent with
	// another one.
	ErrInvalid = errors.New("config: invalid value")
	// ErrUnknownKey: the file has a key this version does not know (a typo,
	// or a setting of another version).
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrSecret: the file holds a secret (a password) instead of naming the
	// environment variable that holds it.
	ErrSecret = errors.New("config: secret in the configuration file")
	// ErrEnv: a ${VAR} reference is malformed or names an unset variable.
	ErrEnv = errors.New("config: environment variable")
	// ErrSyntax: the file is not one YAML document of the expected shape.
	ErrSyntax = errors.New("config: syntax")
	// ErrTooLarge: the file is larger than MaxFileBytes.
	ErrTooLarge = errors.New("config: file too large")
)

// FieldError is one problem with one setting. Field is the key path as
// written in the file ("uplink.qos"), or "" for the file as a whole; Line is
// the line of that key in the file, or 0 when unknown (a Config built in
// code). Msg says what is wrong and what is allowed; Err, when set, is the
// underlying error (for example the uplink's own validation error).
type FieldError struct {
	Field string
	Line  int
	Msg   string
	Err   error
	kind  error // the sentinel of this package it matches
}

func (e *FieldError) Error() string {
	s := e.Field
	if s == "" {
		s = "config"
	}
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Line)
	}
	switch {
	case e.Msg != "" && e.Err != nil:
		return s + ": " + e.Msg + ": " + e.Err.Error()
	case e.Err != nil:
		return s + ": " + e.Err.Error()
	default:
		return s + ": " + e.Msg
	}
}

// Unwrap returns the package's sentinel (ErrInvalid, ErrUnknownKey, ...)
// and Err.
func (e *FieldError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}
