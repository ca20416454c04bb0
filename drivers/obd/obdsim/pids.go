package obdsim

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/bayagent/bayagent/drivers/obd"
)

// dataPIDs returns, in ascending order, the Mode 01/02 PIDs that values (keyed
// by value name, as in obd.Value.Name) set, after checking that every one of
// them encodes. Derived PIDs (the bitmaps and the monitor status) have no
// value names, so they cannot be set this way.
func dataPIDs(values map[string]float64) ([]obd.PID, error) {
	index := valueIndex()
	var set obd.PIDSet
	for _, name := range slices.Sorted(maps.Keys(values)) {
		pid, ok := index[name]
		if !ok {
			return nil, fmt.Errorf("%w: %q is not a value name of any encodable PID", ErrUnknownValue, name)
		}
		set.Add(pid)
	}
	pids := set.List()
	for _, pid := range pids {
		if _, err := obd.EncodePID(pid, values); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnknownValue, err)
		}
	}
	return pids, nil
}

// valueIndex maps every value name of the encodable PIDs in the obd table to
// its PID. PID 02 (the DTC that stored a freeze frame) is left out: it is
// FreezeFrame.DTC. Built once; read-only.
var valueIndex = sync.OnceValue(func() map[string]obd.PID {
	index := make(map[string]obd.PID)
	for _, pid := range obd.PIDs() {
		d, _ := obd.LookupPID(pid)
		if !d.Encodable() || pid == 0x02 {
			continue
		}
		for _, f := range d.Fields {
			index[f.Name] = pid
		}
	}
	return index
})
