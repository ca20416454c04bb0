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
		{"--profile", profile, "--tcp", "127.0.0.1:0", "--iface", "mem:x"},
		{"--profile", profile, "--elm327", "--tcp", "127.0.0.1:0", "--baud", "38400"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err == nil || !strings.Contains(stderr.String(), "usage: vehiclesim") {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// TestRunELM327TCP serves a K-line car as a Wi-Fi adapter with a clone's
// personality and reads it through the driver's tcp:// spec.
func TestRunELM327TCP(t *testing.T) {
	kline := strings.Replace(profile, "petrol-p0420", "petrol-iso9141", 1)
	stdout, _, stop := startRun(t, nil, " as a Wi-Fi ELM327 on ", "--profile", kline, "--elm327", "--tcp", "127.0.0.1:0", "--personality", "clone")
	spec := lastWord(stdout)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := elm327.Open(ctx, spec, elm327.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", spec, err)
	}
	resps, err := a.Do(ctx, obd.Request{Data: []byte{0x09, 0x02}})
	proto, version := a.Protocol(), a.Version()
	a.Close()
	if err != nil || len(resps) != 1 || resps[0].ECU != 0x10 {
		t.Fatalf("0902: %v, %v; want the engine at 10", resps, err)
	}
	if vin, err := obd.ParseVIN(resps[0].Data); err != nil || vin != "LFVBA11J063012345" {
		t.Errorf("VIN %q, %v", vin, err)
	}
	if proto != "ISO 9141-2" || version != "ELM327 v2.1" {
		t.Errorf("protocol %q, version %q", proto, version)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}
