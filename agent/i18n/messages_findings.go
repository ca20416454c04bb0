package i18n

// findingsMessages are what a snapshot means (package findings), for the
// bay screen and the scan report: "findings.<code>" says what was found,
// "findings.<code>.do" what to do next; then the verdict, the labels of
// readiness monitors, counters, live values and analyzer quantities.
var findingsMessages = Catalogue{
	"findings.verdict.pass":            {En: "OBD pre-check: PASS", Zh: "OBD 预检：通过"},
	"findings.verdict.fail":            {En: "OBD pre-check: FAIL", Zh: "OBD 预检：不通过"},
	"findings.verdict.not_ready":       {En: "OBD pre-check: NOT READY", Zh: "OBD 预检：未就绪"},
	"findings.verdict.pass.short":      {En: "pass", Zh: "通过"},
	"findings.verdict.fail.short":      {En: "fail", Zh: "不通过"},
	"findings.verdict.not_ready.short": {En: "not ready", Zh: "未就绪"},
	"findings.verdict.pass.means":      {En: "Nothing in the OBD data would fail the OBD check of an emission inspection.", Zh: "OBD 数据中没有会导致排放检验 OBD 检查不合格的项目。"},
	"findings.verdict.fail.means":      {En: "The OBD check of an emission inspection would fail: repair first.", Zh: "排放检验的 OBD 检查将不合格，请先维修。"},
	"findings.verdict.not_ready.means": {En: "Monitors have not run yet: an inspection station would send the vehicle back to be driven.", Zh: "部分监测尚未完成，检验站会要求车辆行驶后再来复检。"},

	"findings.effect.fail":      {En: "fails", Zh: "不合格"},
	"findings.effect.not_ready": {En: "not ready", Zh: "未就绪"},
	"findings.effect.advise":    {En: "note", Zh: "提示"},

	"findings.no_communication": {
		En: "The vehicle did not answer: no control unit responded.",
		Zh: "车辆无应答：没有控制单元响应。",
	},
	"findings.no_communication.do": {
		En: "Check that the ignition is on, the interface sits fully in the OBD port, and the port's fuse is good; then scan again. An inspection station counts no communication as a failed OBD check.",
		Zh: "检查点火开关已打开、诊断接头已插紧、OBD 接口保险丝完好，然后重新读取。检验站会把无法通讯判为 OBD 检查不合格。",
	},
	"findings.mil_on": {
		En: "The MIL is on; confirmed codes: {dtcs}.",
		Zh: "故障指示灯亮，已确认故障码：{dtcs}。",
	},
	"findings.mil_on.do": {
		En: "Repair the faults behind these codes: with the MIL on the OBD check fails. Clear the codes only after the repair, then drive until the monitors are complete.",
		Zh: "请排除这些故障码对应的故障：故障灯亮时 OBD 检查不合格。维修完成后再清码，然后行驶至各项监测完成。",
	},
	"findings.permanent_dtcs": {
		En: "Permanent codes stored: {dtcs}.",
		Zh: "存在永久故障码：{dtcs}。",
	},
	"findings.permanent_dtcs.do": {
		En: "A permanent code cannot be cleared with a tool: it goes by itself once the monitor that set it has run and passed. After the repair, drive the vehicle through that monitor's conditions and scan again.",
		Zh: "永久故障码无法用诊断仪清除，只有对应监测重新运行并通过后才会自动消失。维修后请按该监测的运行条件行驶，再重新读取。",
	},
	"findings.readiness_incomplete": {
		En: "Readiness monitors not complete: {monitors}.",
		Zh: "未就绪的监测项：{monitors}。",
	},
	"findings.readiness_incomplete.do": {
		En: "Drive a full drive cycle (cold start, idle, steady town and highway driving) until these monitors are complete, then scan again before the inspection.",
		Zh: "请完成一个完整驾驶循环（冷启动、怠速、市区和高速匀速行驶），直到这些监测完成，检验前再读取一次。",
	},
	"findings.vin_mismatch": {
		En: "The VIN read from the vehicle ({vin}) differs from the job's ({expected}).",
		Zh: "从车辆读取的 VIN（{vin}）与工单上的（{expected}）不一致。",
	},
	"findings.vin_mismatch.do": {
		En: "Check that this is the job's vehicle and that the job's VIN is right. A control unit fitted from another vehicle must be programmed with this vehicle's VIN: the inspection compares it with the registration.",
		Zh: "请确认车辆与工单一致、工单 VIN 填写正确。若更换过其他车辆的控制单元，须重新写入本车 VIN：检验时会与行驶证核对。",
	},
	"findings.vin_missing": {
		En: "The vehicle did not report its VIN.",
		Zh: "车辆未报告 VIN。",
	},
	"findings.vin_missing.do": {
		En: "China 6 vehicles must report it: check with the manufacturer's tool whether the engine control unit has its VIN written. Older vehicles may not report one.",
		Zh: "国六车辆必须能读出 VIN：请用原厂诊断仪检查发动机控制单元是否写入 VIN。较老车型可能不支持。",
	},
	"findings.vin_invalid": {
		En: "The VIN the vehicle reports ({vin}) is not valid (check digit or characters).",
		Zh: "车辆报告的 VIN（{vin}）无效（校验位或字符错误）。",
	},
	"findings.vin_invalid.do": {
		En: "Compare it with the VIN on the vehicle; a control unit with a wrong VIN must be programmed again.",
		Zh: "请与车身 VIN 核对；VIN 错误的控制单元需要重新写入。",
	},
	"findings.scr_inducement": {
		En: "SCR inducement active ({dtcs}, controller {ecus}): the engine is or will be derated (torque or speed limited).",
		Zh: "SCR 驾驶性能限制已激活（{dtcs}，控制单元 {ecus}）：发动机已经或即将限扭/限速。",
	},
	"findings.scr_inducement.do": {
		En: "Check the AdBlue (DEF) level and quality, the dosing unit and the NOx sensors, and repair the fault; the derate ends once the system has checked the repair. A vehicle in inducement fails the inspection.",
		Zh: "请检查尿素液位和品质、尿素喷射单元及氮氧传感器并排除故障；系统确认修复后限制才会解除。处于限制状态的车辆检验不合格。",
	},
	"findings.codes_cleared_recently": {
		En: "Trouble codes were cleared recently: {counters}.",
		Zh: "近期清除过故障码：{counters}。",
	},
	"findings.codes_cleared_recently.do": {
		En: "An inspection station sees this too, and the readiness monitors will not be complete. Drive the vehicle until every monitor is complete before the inspection; do not clear codes just before one.",
		Zh: "检验站同样能看到清码记录，且就绪状态会未完成。请行驶至所有监测完成后再去检验，不要在检验前清码。",
	},
	"findings.pending_dtcs": {
		En: "Pending codes: {dtcs} (a fault seen once, not yet confirmed).",
		Zh: "待定故障码：{dtcs}（故障出现过一次，尚未确认）。",
	},
	"findings.pending_dtcs.do": {
		En: "If the fault is seen again on the next drive cycle the code is confirmed and lights the MIL: check its cause now.",
		Zh: "若下一个驾驶循环再次出现，该码将被确认并点亮故障灯，建议现在排查原因。",
	},
	"findings.stored_dtcs_without_mil": {
		En: "Confirmed codes that do not light the MIL: {dtcs}.",
		Zh: "未点亮故障灯的已确认故障码：{dtcs}。",
	},
	"findings.stored_dtcs_without_mil.do": {
		En: "They do not fail the OBD check, but the customer's fault may be among them: repair them as part of the job.",
		Zh: "这些故障码不影响 OBD 检查，但可能与客户报修的故障有关，请一并处理。",
	},
	"findings.red_stop_lamp": {
		En: "Red stop lamp on (controller {ecus}).",
		Zh: "红色停车灯亮（控制单元 {ecus}）。",
	},
	"findings.red_stop_lamp.do": {
		En: "A serious fault: the vehicle should not be driven. Read this controller's active codes and repair before the vehicle leaves.",
		Zh: "严重故障，车辆不应继续行驶。请读取该控制单元的当前故障码并在出厂前修复。",
	},
	"findings.amber_warning_lamp": {
		En: "Amber warning lamp on (controller {ecus}).",
		Zh: "黄色警告灯亮（控制单元 {ecus}）。",
	},
	"findings.amber_warning_lamp.do": {
		En: "A fault that needs attention soon: read this controller's active codes.",
		Zh: "存在需要尽快处理的故障，请读取该控制单元的当前故障码。",
	},
	"findings.protect_lamp": {
		En: "Protect lamp on (controller {ecus}).",
		Zh: "保护灯亮（控制单元 {ecus}）。",
	},
	"findings.protect_lamp.do": {
		En: "A system outside its limits (for example coolant or oil): check it before the vehicle is driven.",
		Zh: "有系统超出正常范围（如冷却液或机油），请在车辆行驶前检查。",
	},
	"findings.scr_fault": {
		En: "Active codes of the AdBlue (DEF) and NOx control system: {dtcs}.",
		Zh: "尿素及氮氧控制系统当前故障码：{dtcs}。",
	},
	"findings.scr_fault.do": {
		En: "Left unrepaired these lead to an SCR inducement (engine derate). Check the AdBlue level and quality, the dosing system and the NOx sensors.",
		Zh: "若不修复将触发 SCR 驾驶性能限制（发动机限扭）。请检查尿素液位和品质、喷射系统及氮氧传感器。",
	},
	"findings.scr_inducement_previously": {
		En: "An SCR inducement was active before ({dtcs}, previously active).",
		Zh: "曾经激活过 SCR 驾驶性能限制（{dtcs}，历史故障码）。",
	},
	"findings.scr_inducement_previously.do": {
		En: "Ask the driver about power loss and make sure its cause was repaired.",
		Zh: "请向驾驶员了解是否出现过动力下降，并确认原因已排除。",
	},
	"findings.scan_incomplete": {
		En: "{count} answers of the vehicle could not be used; everything else was read.",
		Zh: "车辆有 {count} 条应答无法使用，其余数据已正常读取。",
	},
	"findings.scan_incomplete.do": {
		En: "If something you need is missing, scan again; an adapter or control unit that answers only partly is noted in the record.",
		Zh: "如缺少需要的数据，请重新读取；应答不完整的接头或控制单元会记入记录。",
	},

	"findings.report.vehicle":       {En: "Vehicle", Zh: "车辆"},
	"findings.report.not_reported":  {En: "(not reported)", Zh: "（未读到）"},
	"findings.report.invalid":       {En: "INVALID: {problem}", Zh: "无效：{problem}"},
	"findings.report.protocol":      {En: "Protocol", Zh: "通讯协议"},
	"findings.report.obd_standard":  {En: "OBD standard", Zh: "OBD 标准"},
	"findings.report.ignition":      {En: "Ignition", Zh: "点火方式"},
	"findings.report.odometer":      {En: "Odometer", Zh: "里程表"},
	"findings.report.mil":           {En: "MIL", Zh: "故障指示灯"},
	"findings.report.mil_on":        {En: "ON", Zh: "亮"},
	"findings.report.mil_off":       {En: "off", Zh: "灭"},
	"findings.report.mil_state":     {En: "{state} ({n} confirmed emission DTCs)", Zh: "{state}（{n} 个已确认排放故障码）"},
	"findings.report.todo":          {En: "What to do: {action}", Zh: "处理建议：{action}"},
	"findings.report.ecus":          {En: "Control units", Zh: "控制单元"},
	"findings.report.no_name":       {En: "(no name)", Zh: "（无名称）"},
	"findings.report.dtcs":          {En: "Trouble codes (stored {stored}, pending {pending}, permanent {permanent})", Zh: "故障码（已确认 {stored}，待定 {pending}，永久 {permanent}）"},
	"findings.report.dtcs_previous": {En: "Trouble codes (active {stored}, previously active {previous})", Zh: "故障码（当前 {stored}，历史 {previous}）"},
	"findings.report.dtc.stored":    {En: "stored", Zh: "已确认"},
	"findings.report.dtc.pending":   {En: "pending", Zh: "待定"},
	"findings.report.dtc.permanent": {En: "permanent", Zh: "永久"},
	"findings.report.dtc.previous":  {En: "previous", Zh: "历史"},
	"findings.report.none":          {En: "none", Zh: "无"},
	"findings.report.freeze_frame":  {En: "Freeze frame ({dtc}, ECU {ecu})", Zh: "冻结帧（{dtc}，控制单元 {ecu}）"},
	"findings.report.readiness":     {En: "Readiness", Zh: "就绪状态"},
	"findings.report.complete":      {En: "complete", Zh: "完成"},
	"findings.report.not_complete":  {En: "NOT COMPLETE", Zh: "未完成"},
	"findings.report.live":          {En: "Live data", Zh: "主要数据流"},
	"findings.report.problems":      {En: "Answers that could not be used", Zh: "无法使用的应答"},
	"findings.report.stats":         {En: "Scan: {requests} requests in {duration}", Zh: "读取：{requests} 次请求，用时 {duration}"},

	"findings.or_more":                      {En: "{value} or more", Zh: "{value}及以上"},
	"findings.unit.km":                      {En: "{n} km", Zh: "{n} 公里"},
	"findings.unit.min":                     {En: "{n} min", Zh: "{n} 分钟"},
	"findings.counter.distance_since_clear": {En: "distance since codes cleared", Zh: "清码后行驶里程"},
	"findings.counter.time_since_clear":     {En: "engine time since codes cleared", Zh: "清码后发动机运行时间"},
	"findings.counter.warmups_since_clear":  {En: "warm-ups since codes cleared", Zh: "清码后暖机次数"},
	"findings.counter.distance_with_mil":    {En: "distance with the MIL on", Zh: "故障灯亮后行驶里程"},
	"findings.counter.time_with_mil":        {En: "engine time with the MIL on", Zh: "故障灯亮后运行时间"},

	"findings.monitor.misfire":                   {En: "Misfire", Zh: "失火"},
	"findings.monitor.fuel_system":               {En: "Fuel system", Zh: "燃油系统"},
	"findings.monitor.components":                {En: "Comprehensive components", Zh: "综合部件"},
	"findings.monitor.catalyst":                  {En: "Catalyst", Zh: "催化器"},
	"findings.monitor.heated_catalyst":           {En: "Heated catalyst", Zh: "加热催化器"},
	"findings.monitor.evap":                      {En: "Evaporative system", Zh: "蒸发系统"},
	"findings.monitor.secondary_air":             {En: "Secondary air", Zh: "二次空气系统"},
	"findings.monitor.ac_refrigerant":            {En: "A/C refrigerant", Zh: "空调制冷剂"},
	"findings.monitor.o2_sensor":                 {En: "Oxygen sensor", Zh: "氧传感器"},
	"findings.monitor.o2_heater":                 {En: "Oxygen sensor heater", Zh: "氧传感器加热器"},
	"findings.monitor.egr_vvt":                   {En: "EGR/VVT system", Zh: "EGR/VVT 系统"},
	"findings.monitor.nmhc_catalyst":             {En: "NMHC catalyst", Zh: "非甲烷碳氢催化器"},
	"findings.monitor.nox_scr":                   {En: "NOx/SCR aftertreatment", Zh: "NOx/SCR 后处理"},
	"findings.monitor.boost_pressure":            {En: "Boost pressure", Zh: "增压压力"},
	"findings.monitor.exhaust_gas_sensor":        {En: "Exhaust gas sensor", Zh: "排气传感器"},
	"findings.monitor.exhaust_gas_sensor_heater": {En: "Exhaust gas sensor heater", Zh: "排气传感器加热器"},
	"findings.monitor.pm_filter":                 {En: "PM filter (DPF)", Zh: "颗粒捕集器 DPF"},
	"findings.monitor.cold_start_aid":            {En: "Cold start aid", Zh: "冷启动辅助"},

	"findings.ignition.spark":       {En: "spark (petrol)", Zh: "点燃式（汽油）"},
	"findings.ignition.compression": {En: "compression (diesel)", Zh: "压燃式（柴油）"},

	"findings.value.fuel_system_1_status":     {En: "Fuel system 1 status", Zh: "燃油系统1状态"},
	"findings.value.fuel_system_2_status":     {En: "Fuel system 2 status", Zh: "燃油系统2状态"},
	"findings.value.engine_speed":             {En: "Engine speed", Zh: "发动机转速"},
	"findings.value.vehicle_speed":            {En: "Vehicle speed", Zh: "车速"},
	"findings.value.coolant_temperature":      {En: "Coolant temperature", Zh: "冷却液温度"},
	"findings.value.intake_air_temperature":   {En: "Intake air temperature", Zh: "进气温度"},
	"findings.value.maf_air_flow":             {En: "Air flow (MAF)", Zh: "空气流量"},
	"findings.value.throttle_position":        {En: "Throttle position", Zh: "节气门开度"},
	"findings.value.engine_load":              {En: "Engine load", Zh: "发动机负荷"},
	"findings.value.stft_bank1":               {En: "Short-term fuel trim bank 1", Zh: "短期燃油修正 第1列"},
	"findings.value.ltft_bank1":               {En: "Long-term fuel trim bank 1", Zh: "长期燃油修正 第1列"},
	"findings.value.control_module_voltage":   {En: "Control module voltage", Zh: "控制模块电压"},
	"findings.value.fuel_tank_level":          {En: "Fuel level", Zh: "燃油液位"},
	"findings.value.engine_hours":             {En: "Engine hours", Zh: "发动机累计运行时间"},
	"findings.value.odometer":                 {En: "Odometer", Zh: "总里程"},
	"findings.value.intake_manifold_pressure": {En: "Intake manifold pressure", Zh: "进气歧管压力"},
	"findings.value.timing_advance":           {En: "Timing advance", Zh: "点火提前角"},

	"findings.method.realtime":          {En: "real-time reading", Zh: "实时读数"},
	"findings.method.two_speed_idle":    {En: "two-speed idle", Zh: "双怠速法"},
	"findings.method.asm":               {En: "ASM steady-state", Zh: "稳态工况法"},
	"findings.method.free_acceleration": {En: "free acceleration", Zh: "自由加速法"},
	"findings.method.ambient":           {En: "ambient conditions", Zh: "环境参数"},

	"findings.quantity.hc":                  {En: "HC", Zh: "HC 碳氢"},
	"findings.quantity.co":                  {En: "CO", Zh: "CO 一氧化碳"},
	"findings.quantity.co2":                 {En: "CO2", Zh: "CO2 二氧化碳"},
	"findings.quantity.o2":                  {En: "O2", Zh: "O2 氧气"},
	"findings.quantity.no":                  {En: "NO", Zh: "NO 一氧化氮"},
	"findings.quantity.lambda":              {En: "Lambda", Zh: "过量空气系数 λ"},
	"findings.quantity.rpm":                 {En: "Engine speed", Zh: "发动机转速"},
	"findings.quantity.oil_temperature":     {En: "Oil temperature", Zh: "油温"},
	"findings.quantity.flow":                {En: "Flow", Zh: "流量"},
	"findings.quantity.opacity_n":           {En: "Opacity N", Zh: "不透光度 N"},
	"findings.quantity.opacity_k":           {En: "Light absorption K", Zh: "光吸收系数 K"},
	"findings.quantity.k1":                  {En: "K, 1st acceleration", Zh: "第1次加速 K 值"},
	"findings.quantity.k2":                  {En: "K, 2nd acceleration", Zh: "第2次加速 K 值"},
	"findings.quantity.k3":                  {En: "K, 3rd acceleration", Zh: "第3次加速 K 值"},
	"findings.quantity.k_mean":              {En: "K, mean of three", Zh: "三次平均 K 值"},
	"findings.quantity.idle_rpm":            {En: "Idle speed", Zh: "怠速转速"},
	"findings.quantity.ambient_temperature": {En: "Ambient temperature", Zh: "环境温度"},
	"findings.quantity.ambient_pressure":    {En: "Ambient pressure", Zh: "大气压力"},
	"findings.quantity.ambient_humidity":    {En: "Humidity", Zh: "相对湿度"},
}

func init() { add(findingsMessages) }
