// Package i18ntest finds English left in a text shown in Chinese.
//
// Tests of everything a technician reads (the scan report, the bay
// screen's pages, the demo's report) render it in Chinese and check it with
// [English] or [EnglishInPage]: a sentence or label that was not put
// through package i18n shows up as English words in a row. Codes, units,
// model names and the vehicle's own texts are single words or numbers and
// pass.
package i18ntest

import (
	"html"
	"regexp"
	"strings"
)

// englishPhrase is three English words in a row: a sentence or name left
// untranslated.
var englishPhrase = regexp.MustCompile(`[A-Za-z]{3,}[ :,]+[A-Za-z]{3,}[ :,]+[A-Za-z]{3,}`)

// English returns the first English phrase in s (three English words in a
// row), "" when there is none.
func English(s string) string { return englishPhrase.FindString(s) }

var (
	// marked is what a page marks as English on purpose: the system's own
	// detail beside a translated message (an error of the operating
	// system, a driver, the broker), with nothing nested in it.
	marked   = regexp.MustCompile(`(?s)<([a-z]+)[^>]*\blang="en"[^>]*>[^<]*</([a-z]+)>`)
	unseen   = regexp.MustCompile(`(?is)<(script|style|title)\b.*?</(script|style|title)>`)
	tag      = regexp.MustCompile(`(?s)<[^>]*>`)
	language = regexp.MustCompile(`(?s)<a[^>]*\bhreflang="en"[^>]*>[^<]*</a>`) // the language switch
)

// EnglishInPage returns the first English phrase in the text an HTML page
// shows (tags and attributes aside), leaving out what the page marks
// lang="en" and the switch to English; "" when there is none.
func EnglishInPage(page string) string {
	s := unseen.ReplaceAllString(page, " ")
	s = marked.ReplaceAllString(s, " ")
	s = language.ReplaceAllString(s, " ")
	s = tag.ReplaceAllString(s, "\n")
	for line := range strings.SplitSeq(html.UnescapeString(s), "\n") {
		if m := English(line); m != "" {
			return m + " (in " + strings.TrimSpace(line) + ")"
		}
	}
	return ""
}
