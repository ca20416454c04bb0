package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/obd"
)

// TestRunELM327 serves the profile as an ELM327 on a pty, reads the device
// path from stdout and talks to it through the ELM327 driver.
func TestRunELM327(t *testing.T) {
	stdout, _, stop := startRun(t, nil, " as ELM327 on ", "--profile", profile, "--elm327", "--baud", "115200")
	path := lastWord(stdout)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := elm327.Open(ctx, path+"@115200", elm327.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	resps, err := a.Do(ctx, obd.Request{Data: []byte{0x01, 0x00}, Expect: []obd.ECU{0x7E8, 0x7E9}})
	a.Close()
	if err != nil || len(resps) != 2 {
		t.Fatalf("0100: %v, %v; want answers from 7E8 and 7E9", resps, err)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunELM327FlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--profile", profile, "--elm327", "--iface", "mem:x"},
		{"--profile", profile, "--baud", "38400", "--iface", "mem:x"},
		{"--profile", profile, "--elm327", "--baud", "-1"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err == nil || !strings.Contains(stderr.String(), "usage: vehiclesim") {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
