package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/record"
)

// errProblems makes verify exit 1 when the stream has problems; the report
// has already said which.
var errProblems = errors.New("the record stream has problems (see the report)")

// keyFiles collects repeated --key flags.
type keyFiles []string

func (k *keyFiles) String() string     { return fmt.Sprint(*k) }
func (k *keyFiles) Set(v string) error { *k = append(*k, v); return nil }

// runVerify checks a stream of sealed records (JSON lines) for gaps,
// duplicates, re-orders, broken hash links and bad signatures.
func runVerify(_ context.Context, e env, args []string) error {
	fs := newFlagSet(e, "verify", "[--key DEVICE.pub.json]... [--json] FILE|-")
	var keys keyFiles
	fs.Var(&keys, "key", "a device's public key (JSON from the box's state directory, or PEM with device=FILE); repeat per device")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.ParseArgs(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("give one FILE of records, or - for standard input")
	}
	ks, err := loadKeys(keys)
	if err != nil {
		return err
	}
	in := e.stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	var src record.KeySource
	if len(ks) > 0 {
		src = ks
	}
	rep := record.Verify(in, src)
	if *asJSON {
		if _, err := e.stdout.Write(append(rep.MarshalJSONIndent(), '\n')); err != nil {
			return err
		}
	} else if _, err := io.WriteString(e.stdout, rep.String()); err != nil {
		return err
	}
	switch {
	case rep.ReadError != "":
		return fmt.Errorf("read: %s", rep.ReadError)
	case !rep.OK():
		return errProblems
	}
	return nil
}

// loadKeys reads public keys: JSON files name their device; a PEM file is
// given as device=FILE.
func loadKeys(files []string) (record.Keys, error) {
	keys := record.Keys{}
	for _, arg := range files {
		device, path := "", arg
		if d, p, ok := cutDeviceFile(arg); ok {
			device, path = d, p
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		pub, named, err := devicekey.ParsePublic(data)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", path, err)
		}
		if named != "" {
			device = named
		}
		if device == "" {
			return nil, usagef("key %s names no device: give it as DEVICE=%s", path, path)
		}
		keys[device] = pub
	}
	return keys, nil
}

// cutDeviceFile splits "device=path" when the part before '=' has no path
// separator (a file name may contain '=').
func cutDeviceFile(s string) (device, path string, ok bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '/':
			return "", "", false
		case '=':
			return s[:i], s[i+1:], i > 0
		}
	}
	return "", "", false
}
