package analyzer

import "math"

// Range is the plausible span of one quantity, both ends included.
type Range struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// DefaultRanges returns the plausible range of every quantity the built-in
// drivers report, in the quantity's unit. They are inferred: the usual
// measuring ranges of the instruments (HC 0-10000 ppm, CO 0-10 %vol, CO2
// 0-18 %vol, O2 0-25 %vol, NO 0-5000 ppm, K 0-16 m^-1) with a margin, and
// room for the small negative values an analyzer reads after a zero. A
// quantity without a range (flow, in undocumented units) is not checked.
// Each call returns a new map.
func DefaultRanges() map[string]Range {
	k := Range{0, 30}
	return map[string]Range{
		QuantityHC:             {-100, 30000},
		QuantityCO:             {-1, 15},
		QuantityCO2:            {-1, 20},
		QuantityO2:             {-1, 25},
		QuantityNO:             {-100, 6000},
		QuantityLambda:         {0, 20},
		QuantityRPM:            {0, 10000},
		QuantityOilTemperature: {-40, 200},
		QuantityOpacityN:       {0, 100},
		QuantityOpacityK:       k,
		QuantityK1:             k,
		QuantityK2:             k,
		QuantityK3:             k,
		QuantityKMean:          k,
		QuantityIdleRPM:        {0, 10000},
		QuantityTemperature:    {-40, 70},
		QuantityPressure:       {50, 120},
		QuantityHumidity:       {0, 100},
	}
}

// checkPlausible returns an *ImplausibleError for the values of q outside
// their ranges in r, or nil.
func checkPlausible(q []Quantity, r map[string]Range) error {
	var bad []Implausible
	for _, v := range q {
		rg, ok := r[v.Name]
		if !ok {
			continue
		}
		if math.IsNaN(v.Value) || v.Value < rg.Min || v.Value > rg.Max {
			bad = append(bad, Implausible{Quantity: v, Range: rg})
		}
	}
	if bad == nil {
		return nil
	}
	return &ImplausibleError{Values: bad}
}
