// Package lang tells which of the drivers' two table languages a tag asks for.
//
// The description tables of drivers/obd and drivers/j1939 are written in
// English ("en") and simplified Chinese ("zh-CN"). Callers pass a BCP 47
// language tag as the bay screen or the command line knows it; this package
// is the one place that decides what counts as Chinese, so that both drivers
// answer a tag the same way.
package lang

import "strings"

// Tags the driver tables are written in.
const (
	English = "en"
	Chinese = "zh-CN"
)

// IsChinese reports whether tag asks for Chinese: "zh" alone or followed by
// "-" or "_" and any subtags ("zh-CN", "zh_CN", "zh-Hans-CN"), in any case.
// Traditional-script tags (zh-TW, zh-Hant) get the simplified table too: a
// Chinese reader is better served by it than by English. Every other tag,
// the empty one included, means English.
func IsChinese(tag string) bool {
	if len(tag) < 2 || !strings.EqualFold(tag[:2], "zh") {
		return false
	}
	return len(tag) == 2 || tag[2] == '-' || tag[2] == '_'
}
