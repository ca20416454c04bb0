package findings_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
)

// rawKey matches a catalogue key left in the output: a message missing
// from the catalogue.
var rawKey = regexp.MustCompile(`\b(findings|web|reply)\.[a-z0-9_.]+\b`)

func TestReport(t *testing.T) {
	for _, file := range []string{"scan-petrol-p0420.json", "scan-petrol-cleared.json", "scan-petrol-clean.json", "scan-diesel-truck-j1939.json"} {
		s := golden(t, file)
		res := findings.Evaluate(s, findings.DefaultRules(), "")
		for _, l := range i18n.Langs() {
			var b bytes.Buffer
			if err := findings.WriteReport(&b, s, res, l); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if k := rawKey.FindString(out); k != "" {
				t.Errorf("%s %s: message %s missing from the catalogue:\n%s", file, l, k, out)
			}
			if !strings.Contains(out, findings.VerdictText(res.Verdict, l)) {
				t.Errorf("%s %s: no verdict:\n%s", file, l, out)
			}
			for _, f := range res.Findings {
				if !strings.Contains(out, f.Action(l)) {
					t.Errorf("%s %s: finding %s without its action", file, l, f.Code)
				}
			}
		}
	}
}

// TestReportAligned: the columns of a Chinese report line up on a
// terminal, where a Chinese character takes two columns.
func TestReportAligned(t *testing.T) {
	var b bytes.Buffer
	s := golden(t, "scan-petrol-p0420.json")
	findings.WriteReport(&b, s, findings.Evaluate(s, findings.DefaultRules(), ""), i18n.Chinese)
	var cols []int
	inReadiness := false
	for _, line := range strings.Split(b.String(), "\n") {
		switch {
		case line == i18n.Text(i18n.Chinese, "findings.report.readiness"):
			inReadiness = true
		case inReadiness && strings.HasPrefix(line, "  "):
			label, _, _ := strings.Cut(line, "：")
			rest := line[len(label)+len("："):]
			pad := len(rest) - len(strings.TrimLeft(rest, " "))
			cols = append(cols, width(label)+2+pad)
		case inReadiness:
			inReadiness = false
		}
	}
	if len(cols) < 5 {
		t.Fatalf("readiness rows %v", cols)
	}
	for _, c := range cols {
		if c != cols[0] {
			t.Fatalf("readiness values start at columns %v, want one column", cols)
		}
	}
}

func width(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x2E80 {
			n++
		}
	}
	return n
}

// TestCatalogue: every finding, monitor and verdict has its messages.
func TestCatalogue(t *testing.T) {
	var keys []string
	for _, c := range findings.Codes() {
		keys = append(keys, "findings."+string(c), "findings."+string(c)+".do")
	}
	for _, m := range findings.MonitorNames() {
		keys = append(keys, "findings.monitor."+m)
	}
	for _, v := range []findings.Verdict{findings.Pass, findings.Fail, findings.NotReady} {
		keys = append(keys, "findings.verdict."+string(v), "findings.verdict."+string(v)+".means", "findings.verdict."+string(v)+".short")
	}
	for _, e := range []findings.Effect{findings.EffectFail, findings.EffectNotReady, findings.EffectAdvise} {
		keys = append(keys, "findings.effect."+string(e))
	}
	for _, k := range keys {
		if _, ok := i18n.Lookup(k); !ok {
			t.Errorf("no message %s", k)
		}
	}
}
