package i18n

// emissionMessages are what the emission test procedures (package
// agent/emission) and the instrument's state show a technician: prompts,
// verdicts, abort reasons, and the names they are built from.
var emissionMessages = Catalogue{
	"emission.method.two_speed_idle":    {En: "Two-speed idle test", Zh: "双怠速法检测"},
	"emission.method.free_acceleration": {En: "Free acceleration test", Zh: "自由加速法检测"},

	"emission.step.check":        {En: "instrument check", Zh: "仪器检查"},
	"emission.step.warm_up":      {En: "engine warm-up", Zh: "发动机预热"},
	"emission.step.precondition": {En: "preconditioning", Zh: "预置工况"},
	"emission.step.high_idle":    {En: "high idle", Zh: "高怠速"},
	"emission.step.idle":         {En: "idle", Zh: "怠速"},
	"emission.step.purge":        {En: "purging acceleration", Zh: "吹拂加速"},
	"emission.step.accelerate":   {En: "free acceleration", Zh: "自由加速"},
	"emission.step.release":      {En: "idle between accelerations", Zh: "加速间怠速"},
	"emission.step.done":         {En: "done", Zh: "完成"},

	"emission.prompt.check": {
		En: "Checking the instrument: keep the probe out of the exhaust.",
		Zh: "正在检查仪器：取样探头请勿插入排气管。",
	},
	"emission.prompt.zero": {
		En: "Zeroing the analyzer: keep the probe in clean air.",
		Zh: "分析仪调零中：取样探头置于洁净空气中。",
	},
	"emission.prompt.calibrate": {
		En: "Calibrating the opacimeter: keep the probe out of the exhaust.",
		Zh: "不透光烟度计校准中：取样探头请勿插入排气管。",
	},
	"emission.prompt.warm_up": {
		En: "Warm up the engine: oil {oil} °C, the test needs {min} °C.",
		Zh: "请预热发动机：当前油温 {oil} °C，检测需达到 {min} °C。",
	},
	"emission.prompt.precondition": {
		En: "Insert the probe 400 mm into the tailpipe and hold {min}-{max} rpm for {s} s.",
		Zh: "将取样探头插入排气管400毫米，保持转速 {min}-{max} 转/分 {s} 秒。",
	},
	"emission.prompt.high_idle": {
		En: "Hold high idle: {min}-{max} rpm.",
		Zh: "保持高怠速：{min}-{max} 转/分。",
	},
	"emission.prompt.idle": {
		En: "Release the pedal and let the engine idle at {min}-{max} rpm.",
		Zh: "松开油门，发动机怠速运转：{min}-{max} 转/分。",
	},
	"emission.prompt.fa_idle": {
		En: "Insert the probe into the tailpipe and let the engine idle at {min}-{max} rpm.",
		Zh: "将取样探头插入排气管，发动机怠速运转：{min}-{max} 转/分。",
	},
	"emission.prompt.purge": {
		En: "Purge {n} of {of}: floor the accelerator quickly, release it at governed speed.",
		Zh: "第{n}次吹拂（共{of}次）：迅速将油门踩到底，达到断油转速后松开。",
	},
	"emission.prompt.accelerate": {
		En: "Acceleration {n} of {of}: floor the accelerator quickly, release it at governed speed.",
		Zh: "第{n}次自由加速（共{of}次）：迅速将油门踩到底，达到断油转速后松开。",
	},
	"emission.prompt.release": {
		En: "Release the pedal and let the engine idle at {min}-{max} rpm.",
		Zh: "松开油门，发动机怠速运转：{min}-{max} 转/分。",
	},
	"emission.prompt.done.pass":    {En: "The test is over: PASS.", Zh: "检测结束：合格。"},
	"emission.prompt.done.fail":    {En: "The test is over: FAIL.", Zh: "检测结束：不合格。"},
	"emission.prompt.done.aborted": {En: "The test is over: ABORTED.", Zh: "检测结束：检测中止。"},

	"emission.verdict.pass": {
		En: "{method}: PASS (limit set {set}).",
		Zh: "{method}：合格（限值{set}）。",
	},
	"emission.verdict.fail": {
		En: "{method}: FAIL (limit set {set}): {failures}.",
		Zh: "{method}：不合格（限值{set}）：{failures}。",
	},
	"emission.verdict.aborted": {
		En: "{method}: ABORTED: {reason}.",
		Zh: "{method}：检测中止：{reason}。",
	},
	"emission.verdict.unverified": {
		En: "The limits are unverified defaults, not the platform's.",
		Zh: "所用限值为未经核实的默认值，并非平台下发的限值。",
	},
	"emission.failure.gas": {
		En: "{mode} {gas} {value}{unit} above the limit {limit}{unit}",
		Zh: "{mode}{gas} {value}{unit}，超过限值 {limit}{unit}",
	},
	"emission.failure.lambda": {
		En: "lambda {value} outside {min}-{max}",
		Zh: "过量空气系数λ {value}，超出 {min}-{max}",
	},
	"emission.failure.k": {
		En: "mean K {value} m⁻¹ above the limit {limit} m⁻¹",
		Zh: "光吸收系数平均值 {value} m⁻¹，超过限值 {limit} m⁻¹",
	},

	"emission.abort.instrument_warming_up": {
		En: "the instrument is still warming up ({left} s left)",
		Zh: "仪器仍在预热（剩余 {left} 秒）",
	},
	"emission.abort.zero_failed": {
		En: "the instrument's zero or calibration failed",
		Zh: "仪器调零或校准失败",
	},
	"emission.abort.instrument_error": {
		En: "the instrument did not answer properly ({err})",
		Zh: "仪器通讯异常（{err}）",
	},
	"emission.abort.oil_too_cold": {
		En: "the oil did not reach {min} °C within {s} s (last {oil} °C)",
		Zh: "{s} 秒内油温未达到 {min} °C（最后读数 {oil} °C）",
	},
	"emission.abort.no_oil_temperature": {
		En: "no oil temperature: neither the instrument nor the vehicle reports one",
		Zh: "无法读取油温：仪器和车辆均未提供油温数据",
	},
	"emission.abort.engine_not_in_window": {
		En: "the engine did not reach {min}-{max} rpm within {s} s for the {step} (last {rpm} rpm)",
		Zh: "{step}阶段 {s} 秒内转速未达到 {min}-{max} 转/分（最后读数 {rpm} 转/分）",
	},
	"emission.abort.rpm_out_of_window": {
		En: "the engine left {min}-{max} rpm during the {step} ({rpm} rpm)",
		Zh: "{step}阶段转速超出 {min}-{max} 转/分（{rpm} 转/分）",
	},
	"emission.abort.no_engine_speed": {
		En: "no engine speed from the instrument or the vehicle",
		Zh: "仪器和车辆均无法提供发动机转速",
	},
	"emission.abort.diluted": {
		En: "the sample is diluted during the {step} (CO+CO2 {value} %vol, below {min} %vol): check the probe and the exhaust for leaks",
		Zh: "{step}阶段样气被稀释（CO+CO2 {value}%，低于 {min}%）：请检查取样探头插入深度及排气管是否漏气",
	},
	"emission.abort.too_few_readings": {
		En: "too few valid readings during the {step} ({valid} of {n})",
		Zh: "{step}阶段有效读数过少（{valid}/{n}）",
	},
	"emission.abort.no_acceleration": {
		En: "the accelerator was not pressed within {s} s",
		Zh: "{s} 秒内未踩下油门",
	},
	"emission.abort.governed_speed_not_reached": {
		En: "acceleration {n} reached only {rpm} rpm, below {min} rpm",
		Zh: "第{n}次加速仅达到 {rpm} 转/分，低于 {min} 转/分",
	},
	"emission.abort.cancelled": {En: "the test was cancelled", Zh: "检测已取消"},

	"emission.instrument.ready":          {En: "ready", Zh: "就绪"},
	"emission.instrument.measuring":      {En: "measuring", Zh: "测量中"},
	"emission.instrument.warming_up":     {En: "warming up", Zh: "预热中"},
	"emission.instrument.leak_check":     {En: "leak check running", Zh: "泄漏检查中"},
	"emission.instrument.zeroing":        {En: "zeroing", Zh: "调零中"},
	"emission.instrument.calibrating":    {En: "calibrating", Zh: "校准中"},
	"emission.instrument.fault":          {En: "fault", Zh: "故障"},
	"emission.instrument.unknown":        {En: "state unknown", Zh: "状态未知"},
	"emission.instrument.not_answering":  {En: "not answering", Zh: "无响应"},
	"emission.instrument.zero_due":       {En: "zero due before the next test", Zh: "下次检测前需调零"},
	"emission.instrument.leak_check_due": {En: "leak check due (daily)", Zh: "需进行每日泄漏检查"},
	"emission.instrument.leak_check_ok":  {En: "leak check passed", Zh: "泄漏检查通过"},
	"emission.instrument.leak_found":     {En: "leak check failed: the sample line leaks", Zh: "泄漏检查不合格：取样管路漏气"},
	"emission.instrument.zero_ok":        {En: "zero done", Zh: "调零完成"},
	"emission.instrument.zero_failed":    {En: "zero failed", Zh: "调零失败"},
	"emission.instrument.cap_probe":      {En: "Cap the probe for the leak check.", Zh: "请堵住取样探头进行泄漏检查。"},
}

func init() { add(emissionMessages) }
