package i18n

import (
	"io/fs"
	"testing"
)

// BenchmarkLoad measures reading the catalogue at its first use, beside
// reading its files' bytes alone (the baseline) and one Text lookup after it.
//
//	go test -run '^$' -bench . -benchmem ./agent/i18n
func BenchmarkLoad(b *testing.B) {
	b.Run("read-bytes", func(b *testing.B) {
		names, _ := fs.Glob(messageFiles, "messages/*.yaml")
		for b.Loop() {
			for _, n := range names {
				if _, err := fs.ReadFile(messageFiles, n); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			if m := load(messageFiles); len(m.problems) > 0 {
				b.Fatal(m.problems)
			}
		}
	})
	b.Run("text", func(b *testing.B) {
		for b.Loop() {
			_ = Text(Chinese, "reply.wrong_bay", "bay", "3", "asked", "4")
		}
	})
}
