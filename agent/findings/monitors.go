package findings

import (
	"slices"
	"sync"

	"github.com/bayagent/bayagent/drivers/j1939"
	"github.com/bayagent/bayagent/drivers/obd"
)

// MonitorNames lists every readiness monitor name a snapshot can carry
// (SAE J1979 spark and compression ignition, J1939 DM5), sorted: the names
// Rules.ReadinessExempt accepts.
func MonitorNames() []string { return slices.Clone(monitorNames()) }

var monitorNames = sync.OnceValue(func() []string {
	names := j1939.DM5MonitorNames()
	// The J1979 lists come from the decoder itself: PID 01 with byte B
	// saying spark (bit 3 clear) or compression (bit 3 set).
	for _, b := range []byte{0x00, 0x08} {
		if st, err := obd.DecodeMonitorStatus([]byte{0, b, 0, 0}); err == nil {
			for _, m := range st.Monitors {
				names = append(names, m.Name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
})

func knownMonitor(name string) bool {
	_, ok := slices.BinarySearch(monitorNames(), name)
	return ok
}
