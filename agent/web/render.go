package web

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
)

//go:embed assets
var assets embed.FS

var (
	tmplOnce sync.Once
	tmpl     *template.Template
	tmplErr  error
)

// parseTemplates parses the embedded templates once.
func parseTemplates() error {
	tmplOnce.Do(func() {
		tmpl, tmplErr = template.New("").Funcs(funcs).ParseFS(assets, "assets/*.tmpl")
	})
	return tmplErr
}

var funcs = template.FuncMap{
	"num":          findings.FormatNumber,
	"verdict":      findings.VerdictText,
	"verdictMeans": findings.VerdictExplain,
	"effect":       func(e string, l i18n.Lang) string { return findings.EffectText(findings.Effect(e), l) },
	"pagePath":     func(page string) string { return cmp.Or(backPages[page], "/") },
	"rows":         func(n int) []int { return make([]int, n) },
	// A sub-template gets the view and its part of the page:
	// {{template "scan" (withView $ .Scan)}} gives it .V and .Part.
	"withView": func(v *view, part any) any {
		return struct {
			V    *view
			Part any
		}{v, part}
	},
}

// view is what every template gets: the reader's language and session,
// and the page's data.
type view struct {
	Lang       i18n.Lang
	Other      i18n.Lang // the language the switch offers
	Page       string    // now, job, live, box, report, login
	CSRF       string
	Technician string
	Flash      *flash
	JobActions bool
	Now        time.Time
	Data       any
}

// T returns the bay screen's message key ("web." is prefixed) in the
// reader's language, with name/value arguments.
func (v *view) T(key string, args ...any) string { return i18n.Text(v.Lang, "web."+key, args...) }

// M returns a message of any area of the catalogue (its full key).
func (v *view) M(key string, args ...any) string { return i18n.Text(v.Lang, key, args...) }

// FlashText is the flash message in the reader's language.
func (v *view) FlashText() shown {
	if v.Flash == nil || v.Flash.text == nil {
		return shown{}
	}
	return v.Flash.text(v)
}

// shown is a text in the reader's language with, beside it, the system's
// untranslated detail (see [Problem]); the template "shown" marks the
// detail as English.
type shown struct{ Text, Detail string }

// says is a text without detail.
func says(text string) shown { return shown{Text: text} }

// Time formats t in the box's time zone, as a technician reads it.
func (v *view) Time(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// Ago says how long ago t was, in the reader's language.
func (v *view) Ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := v.Now.Sub(t)
	switch {
	case d < time.Minute:
		return v.T("ago.seconds", "n", max(0, int(d.Seconds())))
	case d < time.Hour:
		return v.T("ago.minutes", "n", int(d.Minutes()))
	case d < 48*time.Hour:
		return v.T("ago.hours", "n", int(d.Hours()))
	}
	return v.T("ago.days", "n", int(d.Hours()/24))
}

// render writes the named template to w (to a buffer first, so that a
// template error gives a clean 500 rather than half a page).
func render(w http.ResponseWriter, status int, name string, v *view) {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name, v); err != nil {
		http.Error(w, "internal error: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderString renders a fragment for the event stream.
func renderString(name string, v *view) (string, error) {
	var b strings.Builder
	if err := tmpl.ExecuteTemplate(&b, name, v); err != nil {
		return "", fmt.Errorf("web: template %s: %w", name, err)
	}
	return b.String(), nil
}

// writeEvent writes one server-sent event whose data may span lines.
func writeEvent(w io.Writer, event, data string) error {
	var b strings.Builder
	b.WriteString("event: ")
	b.WriteString(event)
	b.WriteByte('\n')
	for line := range strings.SplitSeq(data, "\n") {
		b.WriteString("data: ")
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}
