package scan

import (
	"fmt"
	"testing"

	"github.com/bayagent/bayagent/drivers/obd"
)

func TestBatches(t *testing.T) {
	pids := []obd.PID{0x04, 0x05, 0x06, 0x95, 0x0C, 0x0D, 0x0E, 0x0F, 0x96}
	got := fmt.Sprint(batches(pids, 6))
	want := "[[04 05 06 0C 0D 0E] [0F] [95] [96]]"
	if got != want {
		t.Errorf("batches = %s, want %s (unknown PIDs 95 and 96 alone)", got, want)
	}
}
