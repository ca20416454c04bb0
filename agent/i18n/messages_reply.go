package i18n

// replyMessages are the messages of error replies on the reply topic, one
// per reply code (see package uplink), keyed "reply.<code>".
var replyMessages = Catalogue{
	"reply.bad_command": {
		En: "The command could not be read: it is not a valid command message.",
		Zh: "无法识别该命令：命令报文格式不正确。",
	},
	"reply.command_too_large": {
		En: "The command is too large.",
		Zh: "命令报文过大。",
	},
	"reply.unknown_command": {
		En: "Unknown command \"{cmd}\".",
		Zh: "不支持的命令“{cmd}”。",
	},
	"reply.retained_command": {
		En: "Retained commands are refused: send the command as a normal message, not retained.",
		Zh: "不接受保留消息形式的命令，请以普通消息发送。",
	},
	"reply.not_authorised": {
		En: "This command changes the vehicle or the job and must be signed with an operator key this box trusts; it was not run.",
		Zh: "该命令会改动车辆或工单，必须用本设备信任的操作员密钥签名；命令未执行。",
	},
	"reply.replayed": {
		En: "This signed command was already received, or its time is too far from the box's clock; it was not run. Sign it again.",
		Zh: "该签名命令已收到过，或其时间与设备时钟相差过大；命令未执行，请重新签名发送。",
	},
	"reply.busy": {
		En: "Too many commands are waiting; this one was not run. Try again shortly.",
		Zh: "等待执行的命令过多，本条未执行，请稍后重试。",
	},
	"reply.shutting_down": {
		En: "The box is shutting down; the command was not run.",
		Zh: "设备正在关机，命令未执行。",
	},
	"reply.bad_argument": {
		En: "Invalid command arguments: {fields}.",
		Zh: "命令参数有误：{fields}。",
	},
	"reply.technician_required": {
		En: "A technician ID is required for this action.",
		Zh: "此操作需要填写技师工号。",
	},
	"reply.wrong_bay": {
		En: "This box serves bay {bay}, not bay {asked}.",
		Zh: "本设备属于 {bay} 号工位，不是 {asked} 号工位。",
	},
	"reply.no_open_job": {
		En: "No job is open at this bay. Open a job first.",
		Zh: "本工位没有未结工单，请先开工单。",
	},
	"reply.job_already_open": {
		En: "This bay already has an open job. Close or cancel it first.",
		Zh: "本工位已有未结工单，请先结算或取消该工单。",
	},
	"reply.job_id_used": {
		En: "This job number was used before; a job number is never reused.",
		Zh: "该工单号已被使用过，工单号不能重复使用。",
	},
	"reply.phase_not_allowed": {
		En: "That phase is not allowed now: once the repair has started, nothing can be recorded as before the repair.",
		Zh: "当前不能记录该阶段：维修开始后，不能再记录为维修前的数据。",
	},
	"reply.job_full": {
		En: "This job holds the most events it may; settle it and open a new job.",
		Zh: "该工单的记录条数已达上限，请结算后另开工单。",
	},
	"reply.emission_not_passed": {
		En: "This emission repair cannot close: its last after-repair emission test did not pass, or there is none. Run the test again, or give the reason and the responsible technician for closing anyway.",
		Zh: "该尾气维修工单不能结算：维修后最后一次尾气检测未合格或尚未检测。请重新检测，或填写原因及负责技术员后强制结算。",
	},
	"reply.storage_full": {
		En: "The box's record storage is full (offline for a long time?); nothing new is stored until it has uploaded.",
		Zh: "设备记录存储已满（可能长时间断网），上传完成前不能保存新记录。",
	},
	"reply.not_stored": {
		En: "The record could not be stored and nothing was changed. Try again.",
		Zh: "记录未能保存，未作任何更改，请重试。",
	},
	"reply.job_not_saved": {
		En: "The record was stored, but the job file could not be saved (storage full?). The bay is stopped until it can; call support if this lasts.",
		Zh: "记录已保存，但工单文件未能写入（存储空间已满？）。恢复保存前本工位暂停；如持续出现请联系技术支持。",
	},
	"reply.bay_stopped": {
		En: "The bay is stopped: the box could not save the job (storage full?). Nothing is recorded until it can; call support if this lasts.",
		Zh: "本工位已暂停：设备无法保存工单（存储空间已满？）。恢复保存前不会记录任何数据；如持续出现请联系技术支持。",
	},
	"reply.vehicle_not_connected": {
		En: "No vehicle is connected: plug the interface into the OBD port and switch the ignition on.",
		Zh: "未连接车辆：请将诊断接头插入 OBD 接口并打开点火开关。",
	},
	"reply.vehicle_busy": {
		En: "A command is still working with the vehicle; try again when it has finished.",
		Zh: "车辆上的操作尚未完成，请等其完成后再试。",
	},
	"reply.vehicle_error": {
		En: "The vehicle or its interface did not answer as needed. Check the connection and the ignition, then try again.",
		Zh: "车辆或诊断接头应答异常，请检查连接和点火开关后重试。",
	},
	"reply.not_supported": {
		En: "This vehicle or instrument does not support that command.",
		Zh: "该车辆或仪器不支持此命令。",
	},
	"reply.no_analyzer": {
		En: "No exhaust analyzer is configured on this box.",
		Zh: "本设备未配置尾气分析仪。",
	},
	"reply.analyzer_error": {
		En: "The exhaust analyzer did not answer properly. Check its cable and power, then try again.",
		Zh: "尾气分析仪无应答或应答异常，请检查线缆和电源后重试。",
	},
	"reply.internal": {
		En: "The box could not run the command; see its log.",
		Zh: "设备未能执行该命令，请查看设备日志。",
	},
}

func init() { add(replyMessages) }
