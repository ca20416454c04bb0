package i18n

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// TestCatalogue: every message file reads, and every entry has a
// well-formed key, both languages, Chinese that is Chinese, and the same
// placeholders in both.
func TestCatalogue(t *testing.T) {
	for _, err := range catalogue().problems {
		t.Error(err)
	}
	keys := Keys()
	if len(keys) < 700 { // 769 when the catalogue became files
		t.Fatalf("catalogue has %d keys: message files are missing", len(keys))
	}
	for _, k := range keys {
		e, _ := Lookup(k)
		if !keyPattern.MatchString(k) {
			t.Errorf("key %q: want <area>.<name> in [a-z0-9_.]", k)
		}
		if strings.TrimSpace(e.En) == "" || strings.TrimSpace(e.Zh) == "" {
			t.Errorf("%s: both languages are required: en %q, zh-CN %q", k, e.En, e.Zh)
			continue
		}
		if !strings.ContainsFunc(e.Zh, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			t.Errorf("%s: the zh-CN text %q has no Chinese in it", k, e.Zh)
		}
		if strings.ContainsFunc(e.En, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			t.Errorf("%s: the English text %q has Chinese in it", k, e.En)
		}
		if pe, pz := placeholders(e.En), placeholders(e.Zh); !slices.Equal(pe, pz) {
			t.Errorf("%s: placeholders differ: en %v, zh-CN %v", k, pe, pz)
		}
	}
}

// TestLoadProblems: a message file that cannot be read, an unknown field
// (a misspelt language) and a key defined twice, across files or in one,
// are reported, and what can be read is still used.
func TestLoadProblems(t *testing.T) {
	m := load(fstest.MapFS{
		"messages/a.yaml": {Data: []byte("a.one:\n  en: \"One\"\n  zh: \"一\"\n")},
		"messages/b.yaml": {Data: []byte("a.one:\n  en: \"Again\"\n  zh: \"再\"\nb.two:\n  en: \"Two\"\n  zh: \"二\"\n")},
		"messages/c.yaml": {Data: []byte("c.three:\n  en: \"Three\"\n  zh-CN: \"三\"\n")},
		"messages/d.yaml": {Data: []byte("d.four: [not, an, entry\n")},
		"messages/e.yaml": {Data: []byte("e.five:\n  en: \"Five\"\n  zh: \"五\"\ne.five:\n  en: \"5\"\n  zh: \"五\"\n")},
	})
	var got []string
	for _, err := range m.problems {
		got = append(got, err.Error())
	}
	want := []string{
		`messages/b.yaml: key "a.one" is already defined`,
		"messages/c.yaml: yaml: unmarshal errors:\n  line 3: field zh-CN not found",
		"messages/d.yaml: yaml:",
		`messages/e.yaml: yaml: unmarshal errors:` + "\n" + `  line 4: mapping key "e.five" already defined at line 1`,
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("problem %d: %q, want it to contain %q", i, got[i], want[i])
		}
	}
	if e := m.entries["a.one"]; e.En != "One" {
		t.Errorf("a.one: %+v, want the first definition", e)
	}
	if e := m.entries["b.two"]; e.Zh != "二" {
		t.Errorf("b.two: %+v, want the rest of a file with a duplicate", e)
	}
	if empty := load(fstest.MapFS{}); len(empty.problems) != 1 || len(empty.entries) != 0 {
		t.Errorf("no files: %v, %d entries", empty.problems, len(empty.entries))
	}
}

func TestText(t *testing.T) {
	const key = "reply.unknown_command"
	if got, want := Text(English, key, "cmd", "reboot"), `Unknown command "reboot".`; got != want {
		t.Errorf("en: %q, want %q", got, want)
	}
	if got, want := Text(Chinese, key, "cmd", "reboot"), "不支持的命令“reboot”。"; got != want {
		t.Errorf("zh-CN: %q, want %q", got, want)
	}
	if got := Text(English, key); !strings.Contains(got, "{cmd}") {
		t.Errorf("a missing argument must stay visible: %q", got)
	}
	if got := Text(Chinese, "no.such_key"); got != "no.such_key" {
		t.Errorf("unknown key: %q, want the key", got)
	}
	m := M("reply.wrong_bay", "bay", "3", "asked", "4")
	all := m.All()
	if all[English] != "This box serves bay 3, not bay 4." || all[Chinese] != "本设备属于 3 号工位，不是 4 号工位。" {
		t.Errorf("All: %q", all)
	}
}

func TestFill(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"{a} and {b}", "1 and two"},
		{"{b}{a}{a}", "two11"},
		{"braces { and {} and {A} and {1x} stay", "braces { and {} and {A} and {1x} stay"},
		{"{a", "{a"},
		{"{c} unknown", "{c} unknown"},
		{"中文{a}，{b}。", "中文1，two。"},
	} {
		if got := fill(c.in, []any{"a", 1, "b", "two", "odd"}); got != c.want {
			t.Errorf("fill(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := placeholders("{b} {a} {b} {x1} {"); !slices.Equal(got, []string{"a", "b", "x1"}) {
		t.Errorf("placeholders: %v", got)
	}
}

func TestParseLang(t *testing.T) {
	for in, want := range map[string]Lang{
		"en": English, "EN": English, "en-US": English, "en_GB.UTF-8": English,
		"zh": Chinese, "zh-CN": Chinese, "zh-cn": Chinese, "zh_CN.UTF-8": Chinese, "zh-Hans": Chinese,
		"zh-TW": Chinese, "cn": Chinese, " zh ": Chinese,
	} {
		got, err := ParseLang(in)
		if err != nil || got != want {
			t.Errorf("ParseLang(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fr", "de-DE", "C", "POSIX", "*"} {
		if l, err := ParseLang(in); err == nil {
			t.Errorf("ParseLang(%q) = %q, want an error", in, l)
		} else if !strings.Contains(err.Error(), "en or zh-CN") {
			t.Errorf("ParseLang(%q): the error must name the choices: %v", in, err)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		header   string
		fallback Lang
		want     Lang
	}{
		{"", Chinese, Chinese},
		{"", English, English},
		{"zh-CN,zh;q=0.9,en;q=0.8", English, Chinese},
		{"en-US,en;q=0.9,zh-CN;q=0.8", Chinese, English},
		{"fr-FR, en;q=0.5", Chinese, English},
		{"fr-FR", Chinese, Chinese},
		{"de;q=1, zh-TW;q=0.7, en;q=0.3", English, Chinese},
		{"en;q=0.4, zh;q=0.6", English, Chinese},
		{"en;q=0, *;q=0.1", Chinese, Chinese},
		{"zh;q=0, en;q=0", English, English},
		{"zh;q=x, en", Chinese, English},
		{"*", English, English},
		{"en;q=0.5, zh;q=0.5", Chinese, English}, // a tie: the earlier
		{" ;;, ,=,q=", Chinese, Chinese},
	} {
		if got := Negotiate(c.header, c.fallback); got != c.want {
			t.Errorf("Negotiate(%q, %s) = %s, want %s", c.header, c.fallback, got, c.want)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	f.Add("zh-CN,zh;q=0.9,en;q=0.8")
	f.Add("en;q=0, *;q=0.1")
	f.Fuzz(func(t *testing.T, h string) {
		if l := Negotiate(h, English); l != English && l != Chinese {
			t.Fatalf("Negotiate(%q) = %q", h, l)
		}
	})
}
