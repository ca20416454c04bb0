// Package i18n holds every message a person reads, in English and Simplified Chinese.
//
// The people at the bay read Chinese; integrators, logs and the wire
// contracts are in English. Whatever a technician or a shop's software
// shows to a person (error replies, the bay screen, the scan report,
// findings, command-line help) is looked up here by key, in the reader's
// language, so that each text exists once, in both languages.
//
// # Languages
//
// [Lang] is one of [English] ("en") and [Chinese] ("zh-CN", Simplified
// Chinese as written in mainland China). [ParseLang] reads a --lang flag
// value or a locale ("zh", "zh_CN.UTF-8", "en-US"); [Negotiate] picks one
// from an HTTP Accept-Language header. Any Chinese variant is served the
// Simplified text (closer to the reader than English); anything else that is
// not English falls back to the caller's default.
//
// # Looking up a message
//
//	i18n.Text(i18n.Chinese, "reply.bad_argument", "fields", "vin")
//	// 命令参数有误：vin
//
// Arguments come as name/value pairs, like log/slog's. A message names its
// arguments in braces, {name}; each language may place them differently,
// and both must use the same names (a test checks). A missing argument is
// left as {name} so the gap shows; an unknown key returns the key itself.
// [Message] holds a key and its arguments until the reader's language is
// known (an error reply carries it and renders both languages).
//
// # Adding messages
//
// The catalogue is data, kept in the YAML files of the folder messages/
// and built into the program: one file per area (reply.yaml for command
// replies, web.yaml for the bay screen, and so on), so that whoever writes
// or checks the wording edits text, not Go. To add a message, add an
// entry to your area's file:
//
//	web.login.title:
//	  en: "Sign in"
//	  zh: "登录"
//
// A key is "<area>.<name>" in lowercase letters, digits, '_' and '.'. A new
// area is a new file; nothing else changes.
//
// # Details no catalogue holds
//
// An error of the operating system, a driver or the broker has no
// translation: it is shown as the detail beside a message of the
// catalogue that says what failed ("诊断接头 can:can0 出错" and, beside it,
// the driver's own words), marked lang="en" on the bay screen. Tests check
// what a technician reads, rendered in Chinese, with package i18ntest: no
// English phrase may be left outside such a detail.
//
// TestCatalogue fails when a file cannot be read, when a key is defined
// twice or malformed, when a language is missing, when the Chinese text
// has no Chinese in it, or when the two languages name different
// placeholders. Write the Chinese as
// a technician in a Chinese workshop would read it: plain, short, with the
// usual workshop terms (故障码, 工单, 尾气分析仪), not a word-by-word
// translation.
package i18n

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Lang is a language messages are written in.
type Lang string

// The languages of the catalogue.
const (
	// English is the language of logs, wire contracts and integrators.
	English Lang = "en"
	// Chinese is Simplified Chinese as written in mainland China.
	Chinese Lang = "zh-CN"
)

// Langs returns the languages of the catalogue, English first.
func Langs() []Lang { return []Lang{English, Chinese} }

// String returns the language tag, "en" or "zh-CN".
func (l Lang) String() string { return string(l) }

// ParseLang reads a language from a --lang flag value, a language tag or a
// POSIX locale: "en", "en-US", "en_GB.UTF-8" are English; "zh", "zh-CN",
// "zh-Hans", "zh_CN.UTF-8", "cn" (and any other Chinese) are Chinese.
// Case does not matter. Anything else is an error naming the choices.
func ParseLang(s string) (Lang, error) {
	if l, ok := match(s); ok {
		return l, nil
	}
	return "", fmt.Errorf("i18n: unknown language %q (want en or zh-CN)", s)
}

// match maps one tag or locale onto a language of the catalogue.
func match(s string) (Lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(s, ".@"); i >= 0 { // zh_CN.UTF-8, en_US@euro
		s = s[:i]
	}
	s = strings.ReplaceAll(s, "_", "-")
	primary, _, _ := strings.Cut(s, "-")
	switch primary {
	case "en":
		return English, true
	case "zh", "cn", "cmn":
		return Chinese, true
	}
	return "", false
}

// Negotiate picks the language for an HTTP Accept-Language header (RFC
// 9110 section 12.5.4): the acceptable language with the highest weight,
// the earlier on a tie; "*" or an empty or unusable header gives fallback.
// A language with q=0 is never chosen.
func Negotiate(acceptLanguage string, fallback Lang) Lang {
	best, bestQ := fallback, 0.0
	for part := range strings.SplitSeq(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			name, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(name), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		tag = strings.TrimSpace(tag)
		l, ok := match(tag)
		if tag == "*" {
			l, ok = fallback, true
		}
		if ok && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// Entry is one message in both languages.
type Entry struct {
	En string `yaml:"en"` // English
	Zh string `yaml:"zh"` // Simplified Chinese
}

// In returns the entry's text in language l (English for a language the
// catalogue does not have).
func (e Entry) In(l Lang) string {
	if l == Chinese {
		return e.Zh
	}
	return e.En
}

// messageFiles hold the catalogue, one file per area (see "Adding
// messages").
//
//go:embed messages/*.yaml
var messageFiles embed.FS

// catalogue is every message of messageFiles, read on first use.
var catalogue = sync.OnceValue(func() messages { return load(messageFiles) })

// messages are the entries read from a folder of message files.
type messages struct {
	entries map[string]Entry
	// problems are what could not be read: a file that is not a map of
	// entries in both languages (a key twice in one file is such a
	// file), a key already defined in another file. TestCatalogue reports
	// them. What a decoder gives of a bad file and the first definition
	// of a key stay in use, and the other files are still read, so a bad
	// file never stops the program; a message that is missing shows as
	// its key.
	problems []error
}

// load reads every messages/*.yaml file of fsys.
func load(fsys fs.FS) messages {
	m := messages{entries: map[string]Entry{}}
	names, _ := fs.Glob(fsys, "messages/*.yaml") // the pattern is valid
	if len(names) == 0 {
		m.problems = append(m.problems, errors.New("i18n: no message files in messages/"))
	}
	for _, name := range names {
		var file map[string]Entry
		b, err := fs.ReadFile(fsys, name)
		if err == nil {
			d := yaml.NewDecoder(bytes.NewReader(b))
			d.KnownFields(true)
			err = d.Decode(&file)
		}
		if err != nil {
			m.problems = append(m.problems, fmt.Errorf("i18n: %s: %w", name, err))
		}
		for _, k := range slices.Sorted(maps.Keys(file)) {
			if _, dup := m.entries[k]; dup {
				m.problems = append(m.problems, fmt.Errorf("i18n: %s: key %q is already defined in another file", name, k))
				continue
			}
			m.entries[k] = file[k]
		}
	}
	return m
}

// Keys returns every key of the catalogue, sorted.
func Keys() []string { return slices.Sorted(maps.Keys(catalogue().entries)) }

// Lookup returns the entry for key.
func Lookup(key string) (Entry, bool) {
	e, ok := catalogue().entries[key]
	return e, ok
}

// Text returns the message key in language l with its placeholders
// replaced by args, given as name/value pairs ("field", "vin", "max", 17).
// Values are formatted with fmt.Sprint. An unknown key returns the key.
func Text(l Lang, key string, args ...any) string {
	e, ok := Lookup(key)
	if !ok {
		return key
	}
	return fill(e.In(l), args)
}

// Message is a key with its arguments, rendered once the reader's language
// is known.
type Message struct {
	Key  string
	Args []any // name/value pairs, see Text
}

// M returns the message key with args (name/value pairs).
func M(key string, args ...any) Message { return Message{Key: key, Args: args} }

// In renders the message in language l.
func (m Message) In(l Lang) string { return Text(l, m.Key, m.Args...) }

// All renders the message in every language of the catalogue.
func (m Message) All() map[Lang]string {
	out := make(map[Lang]string, 2)
	for _, l := range Langs() {
		out[l] = m.In(l)
	}
	return out
}

// fill replaces each {name} of s by the value named name in args.
func fill(s string, args []any) string {
	if len(args) == 0 || !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	for {
		i, name, j := nextPlaceholder(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		if v, ok := arg(args, name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i:j])
		}
		s = s[j:]
	}
}

func arg(args []any, name string) (string, bool) {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == name {
			return fmt.Sprint(args[i+1]), true
		}
	}
	return "", false
}

// nextPlaceholder finds the first {name} in s: its start, the name, and the
// index after it; start is -1 when there is none. A brace that does not
// open a valid name is text.
func nextPlaceholder(s string) (start int, name string, end int) {
	for off := 0; ; {
		i := strings.IndexByte(s[off:], '{')
		if i < 0 {
			return -1, "", 0
		}
		i += off
		j := i + 1
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] == '_' || j > i+1 && s[j] >= '0' && s[j] <= '9') {
			j++
		}
		if j > i+1 && j < len(s) && s[j] == '}' {
			return i, s[i+1 : j], j + 1
		}
		off = i + 1
	}
}

// placeholders returns the sorted, distinct placeholder names of s.
func placeholders(s string) []string {
	var names []string
	for {
		i, name, j := nextPlaceholder(s)
		if i < 0 {
			break
		}
		names = append(names, name)
		s = s[j:]
	}
	slices.Sort(names)
	return slices.Compact(names)
}
