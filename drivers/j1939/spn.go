package j1939

import (
	"fmt"

	"github.com/bayagent/bayagent/drivers/internal/lang"
)

// name is a table entry in both table languages.
type name struct{ en, zh string }

func (n name) in(zh bool) string {
	if zh {
		return n.zh
	}
	return n.en
}

// spnNames names common SPNs, emission-related ones first among them (SAE
// J1939-71/73 and the aftertreatment parameters of J1939DA), in English and
// Chinese (zh-CN, in the terms of Chinese heavy-duty service manuals: DEF is
// 尿素 / 尿素溶液, DPF 柴油颗粒过滤器, DOC 柴油氧化催化器).
var spnNames = map[uint32]name{
	27:   {"Engine EGR 1 valve position", "发动机EGR 1阀位置"},
	51:   {"Engine throttle valve 1 position", "发动机节气门1位置"},
	84:   {"Wheel-based vehicle speed", "基于车轮的车速"},
	91:   {"Accelerator pedal position 1", "加速踏板位置1"},
	94:   {"Engine fuel delivery pressure", "发动机燃油输送压力"},
	96:   {"Fuel level 1", "燃油液位1"},
	97:   {"Water in fuel indicator 1", "燃油含水指示1"},
	98:   {"Engine oil level", "发动机机油液位"},
	100:  {"Engine oil pressure", "发动机机油压力"},
	101:  {"Engine crankcase pressure", "发动机曲轴箱压力"},
	102:  {"Engine intake manifold 1 pressure (boost pressure)", "发动机进气歧管1压力（增压压力）"},
	105:  {"Engine intake manifold 1 temperature", "发动机进气歧管1温度"},
	108:  {"Barometric pressure", "大气压力"},
	110:  {"Engine coolant temperature", "发动机冷却液温度"},
	111:  {"Engine coolant level", "发动机冷却液液位"},
	157:  {"Engine fuel 1 injector metering rail 1 pressure", "发动机燃油1喷油器计量油轨1压力"},
	158:  {"Key switch battery potential", "钥匙开关蓄电池电压"},
	168:  {"Battery potential / power input 1", "蓄电池电压/电源输入1"},
	171:  {"Ambient air temperature", "环境空气温度"},
	174:  {"Engine fuel temperature 1", "发动机燃油温度1"},
	175:  {"Engine oil temperature 1", "发动机机油温度1"},
	190:  {"Engine speed", "发动机转速"},
	247:  {"Engine total hours of operation", "发动机累计运行小时数"},
	412:  {"Engine EGR 1 temperature", "发动机EGR 1温度"},
	513:  {"Actual engine percent torque", "发动机实际扭矩百分比"},
	629:  {"Controller 1", "控制器1"},
	639:  {"J1939 network 1", "J1939网络1"},
	641:  {"Engine variable geometry turbocharger actuator 1", "发动机可变几何涡轮增压器执行器1"},
	651:  {"Engine injector cylinder 1", "发动机气缸1喷油器"},
	652:  {"Engine injector cylinder 2", "发动机气缸2喷油器"},
	653:  {"Engine injector cylinder 3", "发动机气缸3喷油器"},
	654:  {"Engine injector cylinder 4", "发动机气缸4喷油器"},
	655:  {"Engine injector cylinder 5", "发动机气缸5喷油器"},
	656:  {"Engine injector cylinder 6", "发动机气缸6喷油器"},
	1127: {"Engine turbocharger 1 boost pressure", "发动机涡轮增压器1增压压力"},
	1136: {"Engine ECU temperature", "发动机ECU温度"},
	1172: {"Engine turbocharger 1 compressor intake temperature", "发动机涡轮增压器1压气机进口温度"},
	1176: {"Engine turbocharger 1 compressor intake pressure", "发动机涡轮增压器1压气机进口压力"},
	1209: {"Engine exhaust pressure 1", "发动机排气压力1"},
	1322: {"Engine misfire for multiple cylinders", "发动机多缸失火"},
	1323: {"Engine cylinder 1 misfire rate", "发动机气缸1失火率"},
	1324: {"Engine cylinder 2 misfire rate", "发动机气缸2失火率"},
	1325: {"Engine cylinder 3 misfire rate", "发动机气缸3失火率"},
	1326: {"Engine cylinder 4 misfire rate", "发动机气缸4失火率"},
	1327: {"Engine cylinder 5 misfire rate", "发动机气缸5失火率"},
	1328: {"Engine cylinder 6 misfire rate", "发动机气缸6失火率"},
	1569: {"Engine protection torque derate", "发动机保护性扭矩降额"},
	1761: {"Aftertreatment 1 diesel exhaust fluid tank level", "后处理1尿素箱液位"},
	2791: {"Engine EGR 1 valve 1 control", "发动机EGR 1阀1控制"},
	3031: {"Aftertreatment 1 diesel exhaust fluid tank temperature", "后处理1尿素箱温度"},
	3216: {"Aftertreatment 1 intake NOx 1", "后处理1进口NOx 1"},
	3226: {"Aftertreatment 1 outlet NOx 1", "后处理1出口NOx 1"},
	3242: {"Aftertreatment 1 diesel particulate filter intake gas temperature", "后处理1柴油颗粒过滤器进口气体温度"},
	3246: {"Aftertreatment 1 diesel particulate filter outlet gas temperature", "后处理1柴油颗粒过滤器出口气体温度"},
	3251: {"Aftertreatment 1 diesel particulate filter differential pressure", "后处理1柴油颗粒过滤器压差"},
	3361: {"Aftertreatment 1 diesel exhaust fluid dosing unit", "后处理1尿素计量喷射单元"},
	3364: {"Aftertreatment 1 diesel exhaust fluid quality", "后处理1尿素品质"},
	3464: {"Engine throttle actuator 1 control command", "发动机节气门执行器1控制指令"},
	3516: {"Aftertreatment 1 diesel exhaust fluid concentration", "后处理1尿素浓度"},
	3556: {"Aftertreatment 1 hydrocarbon doser 1", "后处理1碳氢喷射器1"},
	3719: {"Aftertreatment 1 diesel particulate filter soot load percent", "后处理1柴油颗粒过滤器碳载量百分比"},
	3720: {"Aftertreatment 1 diesel particulate filter ash load percent", "后处理1柴油颗粒过滤器灰分载量百分比"},
	3936: {"Aftertreatment diesel particulate filter system", "后处理柴油颗粒过滤器系统"},
	4094: {"NOx limits exceeded due to insufficient reagent quality", "反应剂品质不足导致NOx超限"},
	4096: {"NOx limits exceeded due to empty reagent tank", "反应剂箱空导致NOx超限"},
	4334: {"Aftertreatment 1 diesel exhaust fluid doser 1 absolute pressure", "后处理1尿素喷射器1绝对压力"},
	4360: {"Aftertreatment 1 SCR intake gas temperature", "后处理1 SCR进口气体温度"},
	4363: {"Aftertreatment 1 SCR outlet gas temperature", "后处理1 SCR出口气体温度"},
	4364: {"Aftertreatment 1 SCR conversion efficiency", "后处理1 SCR转化效率"},
	4765: {"Aftertreatment 1 diesel oxidation catalyst intake gas temperature", "后处理1柴油氧化催化器进口气体温度"},
	4766: {"Aftertreatment 1 diesel oxidation catalyst outlet gas temperature", "后处理1柴油氧化催化器出口气体温度"},
	5246: {"Aftertreatment SCR operator inducement severity", "后处理SCR驾驶员诱导（限扭）严重等级"},
	5394: {"Aftertreatment 1 diesel exhaust fluid dosing valve", "后处理1尿素计量阀"},
}

// SPNName returns the English name of a well-known SPN, or "unknown SPN n";
// it is SPNNameIn(spn, "en").
func SPNName(spn uint32) string { return SPNNameIn(spn, lang.English) }

// SPNNameIn returns the name of a well-known SPN in the language of tag
// (Chinese for "zh", "zh-CN" and other "zh" tags, English for any other), or
// "unknown SPN n" (未知SPN n).
func SPNNameIn(spn uint32, tag string) string {
	zh := lang.IsChinese(tag)
	if n, ok := spnNames[spn]; ok {
		return n.in(zh)
	}
	if zh {
		return fmt.Sprintf("未知SPN %d", spn)
	}
	return fmt.Sprintf("unknown SPN %d", spn)
}

// fmiText is the standard FMI list (J1939-73); FMIs 22-30 are reserved.
var fmiText = [32]name{
	0:  {"data valid but above normal operational range - most severe level", "数据有效但高于正常工作范围-最严重级别"},
	1:  {"data valid but below normal operational range - most severe level", "数据有效但低于正常工作范围-最严重级别"},
	2:  {"data erratic, intermittent or incorrect", "数据不稳定、间歇或不正确"},
	3:  {"voltage above normal, or shorted to high source", "电压高于正常值或对高电位短路"},
	4:  {"voltage below normal, or shorted to low source", "电压低于正常值或对低电位短路"},
	5:  {"current below normal or open circuit", "电流低于正常值或开路"},
	6:  {"current above normal or grounded circuit", "电流高于正常值或电路搭铁"},
	7:  {"mechanical system not responding or out of adjustment", "机械系统无响应或调整失当"},
	8:  {"abnormal frequency or pulse width or period", "频率、脉宽或周期异常"},
	9:  {"abnormal update rate", "更新速率异常"},
	10: {"abnormal rate of change", "变化率异常"},
	11: {"root cause not known", "根本原因未知"},
	12: {"bad intelligent device or component", "智能装置或部件损坏"},
	13: {"out of calibration", "超出标定"},
	14: {"special instructions", "特殊说明"},
	15: {"data valid but above normal operating range - least severe level", "数据有效但高于正常工作范围-最轻级别"},
	16: {"data valid but above normal operating range - moderately severe level", "数据有效但高于正常工作范围-中等严重级别"},
	17: {"data valid but below normal operating range - least severe level", "数据有效但低于正常工作范围-最轻级别"},
	18: {"data valid but below normal operating range - moderately severe level", "数据有效但低于正常工作范围-中等严重级别"},
	19: {"received network data in error", "接收的网络数据有误"},
	20: {"data drifted high", "数据向高漂移"},
	21: {"data drifted low", "数据向低漂移"},
	31: {"condition exists", "状况存在"},
}

// FMIDescription describes a failure mode identifier (0-31) in English; it
// is FMIDescriptionIn(fmi, "en").
func FMIDescription(fmi uint8) string { return FMIDescriptionIn(fmi, lang.English) }

// FMIDescriptionIn describes a failure mode identifier (0-31) in the
// language of tag; a reserved or out-of-range FMI is "FMI n reserved for SAE
// assignment" (FMI n 为SAE预留).
func FMIDescriptionIn(fmi uint8, tag string) string {
	zh := lang.IsChinese(tag)
	if int(fmi) < len(fmiText) && fmiText[fmi].en != "" {
		return fmiText[fmi].in(zh)
	}
	if zh {
		return fmt.Sprintf("FMI %d 为SAE预留", fmi)
	}
	return fmt.Sprintf("FMI %d reserved for SAE assignment", fmi)
}

// DescribeIn describes the trouble code spn/fmi in the language of tag:
// "<SPN name>: <FMI description>", with a full-width colon in Chinese. A
// screen showing an obd.DTC whose J1939 field is set calls
// DescribeIn(d.J1939.SPN, d.J1939.FMI, tag).
func DescribeIn(spn uint32, fmi uint8, tag string) string {
	sep := ": "
	if lang.IsChinese(tag) {
		sep = "："
	}
	return SPNNameIn(spn, tag) + sep + FMIDescriptionIn(fmi, tag)
}
