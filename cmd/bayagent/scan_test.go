package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/scan"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim/elmsimtest"
	"github.com/bayagent/bayagent/drivers/j1939"
	"github.com/bayagent/bayagent/drivers/obd"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// wantLines fails t for each of wants that the output (named what in the
// message) lacks.
func wantLines(t *testing.T, what, output string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(output, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, output)
		}
	}
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestScanGolden runs `bayagent scan --sim PROFILE --json` for every vehicle
// profile and compares the snapshot with testdata/golden/scan-PROFILE.json
// (timing fields zeroed). Run with -update to rewrite the golden files after a
// deliberate change, then review the diff.
func TestScanGolden(t *testing.T) {
	for _, name := range []string{"petrol-p0420", "petrol-clean", "petrol-cleared", "petrol-29bit", "petrol-nobatch", "petrol-iso9141", "diesel-truck-j1939"} {
		for _, via := range []string{"can", "elm327"} {
			if via == "elm327" && strings.Contains(name, "j1939") {
				continue // an ELM327 does not speak J1939
			}
			kline := strings.Contains(name, "iso9141")
			if via == "can" && kline {
				continue // a K-line car is reached through an ELM327 only
			}
			t.Run(name+"/"+via, func(t *testing.T) {
				profile := filepath.Join("..", "..", "testdata", "vehicles", name+".yaml")
				code, stdout, stderr := runCmd(t, "scan", "--sim", profile, "--via", via, "--json", "--p2", "500ms")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				var snap scan.Snapshot
				if err := json.Unmarshal([]byte(stdout), &snap); err != nil {
					t.Fatalf("output is not a snapshot: %v\n%s", err, stdout)
				}
				wantProto := map[string]string{"can": "ISO 15765-4 CAN", "elm327": "ELM327"}[via]
				if strings.Contains(name, "j1939") {
					wantProto = "SAE J1939"
				}
				if !strings.HasPrefix(snap.Protocol, wantProto) {
					t.Errorf("protocol %q, want %s...", snap.Protocol, wantProto)
				}
				// The golden file holds what must not depend on the path
				// to the vehicle or on the clock.
				snap.Protocol = ""
				snap.Stats.Started = time.Time{}
				snap.Stats.Duration = 0
				snap.Stats.Setup = 0
				got, err := json.MarshalIndent(&snap, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				golden := filepath.Join("..", "..", "testdata", "golden", "scan-"+name+".json")
				if *update && (via == "can" || kline) {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/bayagent -run TestScanGolden -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("snapshot differs from %s:\n%s", golden, lineDiff(string(want), string(got)))
				}
			})
		}
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

func TestScanReport(t *testing.T) {
	profile := filepath.Join("..", "..", "testdata", "vehicles", "petrol-p0420.yaml")
	code, stdout, stderr := runCmd(t, "scan", "--sim", profile, "--p2", "500ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	wantLines(t, "report", stdout,
		"LFV2A21K8A4052691", "MIL:", "ON", "P0420", "Catalyst System Efficiency Below Threshold",
		"P0171", "P0300", "P0700", "Catalyst", "NOT COMPLETE", "123456.7 km", "OBD pre-check: FAIL", "255 or more",
		// Mode 06: the failed catalyst test and the O2 sensor close to its limit.
		"On-board monitor tests (Mode 06)", "Catalyst monitor bank 1            TID 01  0.7852 ratio  0 .. 0.75   FAILED",
		"O2 sensor monitor bank 1 sensor 2  TID 07  0.412 V       0.4 .. 1.1  pass, CLOSE TO LIMIT")
}

// TestScanReportChinese: --lang zh prints the same report in Chinese.
func TestScanReportChinese(t *testing.T) {
	for _, tc := range []struct{ profile, flag string }{{"petrol-p0420", "zh"}, {"diesel-truck-j1939", "zh-CN"}} {
		code, stdout, stderr := runCmd(t, "scan", "--sim", filepath.Join("..", "..", "testdata", "vehicles", tc.profile+".yaml"), "--p2", "500ms", "--lang", tc.flag)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.profile, code, stderr)
		}
		want := []string{"OBD 预检：不通过", "故障指示灯", "处理建议：", "就绪状态"}
		if tc.profile == "petrol-p0420" {
			desc, _ := obd.DescribeDTCIn("P0420", "zh-CN")
			want = append(want, desc, "255及以上", "催化器：", "未完成", "车载监测测试结果（模式 06）", "催化器监测 第1列", "未通过", "通过，接近限值")
		} else {
			want = append(want, j1939.DescribeIn(3226, 0, "zh-CN"), "SCR")
		}
		for _, w := range want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: Chinese report lacks %q:\n%s", tc.profile, w, stdout)
			}
		}
		if strings.Contains(stdout, "What to do") {
			t.Errorf("%s: English left in the Chinese report:\n%s", tc.profile, stdout)
		}
	}
	if code, _, stderr := runCmd(t, "scan", "--sim", "x.yaml", "--lang", "fr"); code != exitUsage || !strings.Contains(stderr, `invalid value "fr" for flag -lang`) {
		t.Errorf("--lang fr: exit %d, %s", code, stderr)
	}
}

// TestScanErrors: each failure is one clear line on stderr and a non-zero exit.
func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nvin: 123\nbogus_field: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no source", []string{"scan"}, exitUsage, "give exactly one of --iface or --sim"},
		{"both sources", []string{"scan", "--iface", "mem:x", "--sim", bad}, exitUsage, "give exactly one"},
		{"unknown flag", []string{"scan", "--frobnicate"}, exitUsage, "frobnicate"},
		{"missing profile", []string{"scan", "--sim", filepath.Join(dir, "nope.yaml")}, exitError, "nope.yaml"},
		{"bad profile", []string{"scan", "--sim", bad}, exitError, "bogus_field"},
		{"bad address", []string{"scan", "--iface", "serial0"}, exitError, "bad bus address"},
		{"no bus", []string{"scan", "--iface", "can:nosuchcan0"}, exitError, "nosuchcan0"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "bayagent ") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
}

// TestScanTCP scans the simulator's TCP listener the way a Wi-Fi dongle is
// scanned, `bayagent scan --iface elm327:tcp://127.0.0.1:PORT`, and
// compares the snapshot with the one read through the pseudo-terminal path
// (`--sim ... --via elm327`): the same apart from how the vehicle was
// reached and the timing.
func TestScanTCP(t *testing.T) {
	profile := filepath.Join("..", "..", "testdata", "vehicles", "petrol-p0420.yaml")
	addr := elmsimtest.TCP(t, elmsimtest.Load(t, profile, elmsim.Options{}))
	snapshot := func(args ...string) scan.Snapshot {
		t.Helper()
		code, stdout, stderr := runCmd(t, append([]string{"scan", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("scan %v: exit %d: %s", args, code, stderr)
		}
		var s scan.Snapshot
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("not a snapshot: %v\n%s", err, stdout)
		}
		return s
	}
	tcp := snapshot("--iface", "elm327:tcp://"+addr)
	pty := snapshot("--sim", profile, "--via", "elm327")
	if !strings.Contains(tcp.Protocol, "elm327:tcp://"+addr) || !strings.Contains(tcp.Protocol, "ISO 15765-4") {
		t.Errorf("protocol %q", tcp.Protocol)
	}
	if tcp.Stats.Setup <= 0 {
		t.Errorf("set-up time not reported: %+v", tcp.Stats)
	}
	for _, s := range []*scan.Snapshot{&tcp, &pty} {
		s.Protocol, s.Stats = "", scan.Stats{}
	}
	tj, _ := json.MarshalIndent(tcp, "", " ")
	pj, _ := json.MarshalIndent(pty, "", " ")
	if !bytes.Equal(tj, pj) {
		t.Errorf("TCP and pty snapshots differ:\n%s", lineDiff(string(pj), string(tj)))
	}
}

// TestLangFlag: --lang wins; without it the first locale variable that is
// set decides (LC_ALL, LC_MESSAGES, LANG), and a locale of a language the
// catalogue lacks gives English.
func TestLangFlag(t *testing.T) {
	for _, tc := range []struct {
		lcAll, lcMessages, lang string
		args                    []string
		want                    i18n.Lang
	}{
		{lang: "zh_CN.UTF-8", want: i18n.Chinese},
		{lang: "zh_CN.UTF-8", args: []string{"--lang", "en"}, want: i18n.English},
		{lang: "en_US.UTF-8", args: []string{"--lang", "zh"}, want: i18n.Chinese},
		{lcAll: "en_GB.UTF-8", lang: "zh_CN.UTF-8", want: i18n.English},
		{lcMessages: "zh_TW.UTF-8", lang: "en_US.UTF-8", want: i18n.Chinese},
		{lang: "fr_FR.UTF-8", want: i18n.English},
		{want: i18n.English},
	} {
		t.Setenv("LC_ALL", tc.lcAll)
		t.Setenv("LC_MESSAGES", tc.lcMessages)
		t.Setenv("LANG", tc.lang)
		var out bytes.Buffer
		fs := newFlagSet(env{stdout: &out, stderr: &out}, "scan", "")
		lang := addLangFlag(fs, "the report")
		if err := fs.ParseArgs(tc.args); err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if *lang != tc.want {
			t.Errorf("LC_ALL=%q LC_MESSAGES=%q LANG=%q %v: %s, want %s", tc.lcAll, tc.lcMessages, tc.lang, tc.args, *lang, tc.want)
		}
	}
}
