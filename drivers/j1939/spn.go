package j1939

import "fmt"

// spnNames names common SPNs, emission-related ones first among them (SAE
// J1939-71/73 and the aftertreatment parameters of J1939DA).
var spnNames = map[uint32]string{
	27:   "Engine EGR 1 valve position",
	51:   "Engine throttle valve 1 position",
	84:   "Wheel-based vehicle speed",
	91:   "Accelerator pedal position 1",
	94:   "Engine fuel delivery pressure",
	96:   "Fuel level 1",
	97:   "Water in fuel indicator 1",
	98:   "Engine oil level",
	100:  "Engine oil pressure",
	101:  "Engine crankcase pressure",
	102:  "Engine intake manifold 1 pressure (boost pressure)",
	105:  "Engine intake manifold 1 temperature",
	108:  "Barometric pressure",
	110:  "Engine coolant temperature",
	111:  "Engine coolant level",
	157:  "Engine fuel 1 injector metering rail 1 pressure",
	158:  "Key switch battery potential",
	168:  "Battery potential / power input 1",
	171:  "Ambient air temperature",
	174:  "Engine fuel temperature 1",
	175:  "Engine oil temperature 1",
	190:  "Engine speed",
	247:  "Engine total hours of operation",
	412:  "Engine EGR 1 temperature",
	513:  "Actual engine percent torque",
	629:  "Controller 1",
	639:  "J1939 network 1",
	641:  "Engine variable geometry turbocharger actuator 1",
	651:  "Engine injector cylinder 1",
	652:  "Engine injector cylinder 2",
	653:  "Engine injector cylinder 3",
	654:  "Engine injector cylinder 4",
	655:  "Engine injector cylinder 5",
	656:  "Engine injector cylinder 6",
	1127: "Engine turbocharger 1 boost pressure",
	1136: "Engine ECU temperature",
	1172: "Engine turbocharger 1 compressor intake temperature",
	1176: "Engine turbocharger 1 compressor intake pressure",
	1209: "Engine exhaust pressure 1",
	1322: "Engine misfire for multiple cylinders",
	1323: "Engine cylinder 1 misfire rate",
	1324: "Engine cylinder 2 misfire rate",
	1325: "Engine cylinder 3 misfire rate",
	1326: "Engine cylinder 4 misfire rate",
	1327: "Engine cylinder 5 misfire rate",
	1328: "Engine cylinder 6 misfire rate",
	1569: "Engine protection torque derate",
	1761: "Aftertreatment 1 diesel exhaust fluid tank level",
	2791: "Engine EGR 1 valve 1 control",
	3031: "Aftertreatment 1 diesel exhaust fluid tank temperature",
	3216: "Aftertreatment 1 intake NOx 1",
	3226: "Aftertreatment 1 outlet NOx 1",
	3242: "Aftertreatment 1 diesel particulate filter intake gas temperature",
	3246: "Aftertreatment 1 diesel particulate filter outlet gas temperature",
	3251: "Aftertreatment 1 diesel particulate filter differential pressure",
	3361: "Aftertreatment 1 diesel exhaust fluid dosing unit",
	3364: "Aftertreatment 1 diesel exhaust fluid quality",
	3464: "Engine throttle actuator 1 control command",
	3516: "Aftertreatment 1 diesel exhaust fluid concentration",
	3556: "Aftertreatment 1 hydrocarbon doser 1",
	3719: "Aftertreatment 1 diesel particulate filter soot load percent",
	3720: "Aftertreatment 1 diesel particulate filter ash load percent",
	3936: "Aftertreatment diesel particulate filter system",
	4094: "NOx limits exceeded due to insufficient reagent quality",
	4096: "NOx limits exceeded due to empty reagent tank",
	4334: "Aftertreatment 1 diesel exhaust fluid doser 1 absolute pressure",
	4360: "Aftertreatment 1 SCR intake gas temperature",
	4363: "Aftertreatment 1 SCR outlet gas temperature",
	4364: "Aftertreatment 1 SCR conversion efficiency",
	4765: "Aftertreatment 1 diesel oxidation catalyst intake gas temperature",
	4766: "Aftertreatment 1 diesel oxidation catalyst outlet gas temperature",
	5246: "Aftertreatment SCR operator inducement severity",
	5394: "Aftertreatment 1 diesel exhaust fluid dosing valve",
}

// SPNName returns the name of a well-known SPN, or "unknown SPN n".
func SPNName(spn uint32) string {
	if s, ok := spnNames[spn]; ok {
		return s
	}
	return fmt.Sprintf("unknown SPN %d", spn)
}

// fmiText is the standard FMI list (J1939-73).
var fmiText = [32]string{
	0:  "data valid but above normal operational range - most severe level",
	1:  "data valid but below normal operational range - most severe level",
	2:  "data erratic, intermittent or incorrect",
	3:  "voltage above normal, or shorted to high source",
	4:  "voltage below normal, or shorted to low source",
	5:  "current below normal or open circuit",
	6:  "current above normal or grounded circuit",
	7:  "mechanical system not responding or out of adjustment",
	8:  "abnormal frequency or pulse width or period",
	9:  "abnormal update rate",
	10: "abnormal rate of change",
	11: "root cause not known",
	12: "bad intelligent device or component",
	13: "out of calibration",
	14: "special instructions",
	15: "data valid but above normal operating range - least severe level",
	16: "data valid but above normal operating range - moderately severe level",
	17: "data valid but below normal operating range - least severe level",
	18: "data valid but below normal operating range - moderately severe level",
	19: "received network data in error",
	20: "data drifted high",
	21: "data drifted low",
	31: "condition exists",
}

// FMIDescription describes a failure mode identifier (0-31).
func FMIDescription(fmi uint8) string {
	if int(fmi) < len(fmiText) && fmiText[fmi] != "" {
		return fmiText[fmi]
	}
	return fmt.Sprintf("FMI %d reserved for SAE assignment", fmi)
}
