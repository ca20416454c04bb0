package clock_test

import (
	"fmt"
	"time"

	"github.com/bayagent/bayagent/agent/clock"
)

// A box booted with its clock weeks behind; NTP set it 40 seconds after
// boot. The record stamped 10 seconds after boot is corrected from the
// clock_sync reading.
func ExampleSync_Correct() {
	saved := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := clock.NewTracker("")
	rec := clock.Reading{Wall: saved.Add(10 * time.Second), Boot: "b", Mono: 10 * time.Second}
	tr.Observe(rec)
	s, _ := tr.Observe(clock.Reading{Wall: time.Date(2026, 1, 19, 9, 30, 0, 0, time.UTC), Synced: true, Boot: "b", Mono: 40 * time.Second})
	off, _ := s.Offset()
	fmt.Println("stamped:  ", rec.Wall.Format(time.DateTime))
	fmt.Println("corrected:", s.Correct(rec.Mono).Format(time.DateTime))
	fmt.Println("offset:   ", off)
	// Output:
	// stamped:   2026-01-01 00:00:10
	// corrected: 2026-01-19 09:29:30
	// offset:    441h29m20s
}
