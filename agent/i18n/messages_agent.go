package i18n

// agentMessages are the agent's own errors as the bay screen shows them
// (the status's last_error and broker_error), keyed "agent.<name>". The
// English text is the status message's last_error as it is on the wire,
// before ": <detail>".
var agentMessages = Catalogue{
	"agent.screen_stopped":        {En: "bay screen stopped", Zh: "工位诊断屏已停止"},
	"agent.jobs_not_recovered":    {En: "open jobs not brought up to their records", Zh: "未结工单未能按记录恢复"},
	"agent.outbox_full":           {En: "outbox full: new records are refused until the uplink drains it", Zh: "缓存已满：上传腾出空间前不再保存新记录"},
	"agent.button_scan":           {En: "button: scan", Zh: "按键：诊断读取失败"},
	"agent.button_reading":        {En: "button: reading", Zh: "按键：尾气读数失败"},
	"agent.chain_unsynced_boot":   {En: "chain file: the unsynchronised boot not noted", Zh: "记录链文件：未能记下本次开机时钟未同步"},
	"agent.clock_sync_not_stored": {En: "clock_sync record not stored (tried again)", Zh: "时钟同步记录未能保存（将重试）"},
	"agent.chain_clock_sync_boot": {En: "chain file: the boot of the clock_sync record not noted", Zh: "记录链文件：未能记下时钟同步记录所属的开机"},
	"agent.presence_connected":    {En: "record vehicle connected", Zh: "未能保存车辆连接记录"},
	"agent.plug_in_scan":          {En: "snapshot on plug-in", Zh: "车辆连接后的自动读取失败"},
	"agent.presence_left":         {En: "record vehicle left", Zh: "未能保存车辆断开记录"},
	"agent.nonce_store":           {En: "signed commands: the nonces seen before this start could not be read; commands signed before it are refused for 5 minutes", Zh: "签名命令：无法读取本次启动前已收到的随机数记录，启动前签名的命令在 5 分钟内一律拒绝"},
	"agent.vehicle_interface":     {En: "vehicle interface {iface}", Zh: "诊断接头 {iface} 出错"},

	// The uplink's errors (package uplink's Err* values), for broker_error.
	"agent.uplink.connect":          {En: "Cannot connect to the records server.", Zh: "无法连接数据平台。"},
	"agent.uplink.connection_lost":  {En: "The connection to the records server was lost.", Zh: "与数据平台的连接已断开。"},
	"agent.uplink.write_denied":     {En: "The records server drops this box's uploads (check its access rights).", Zh: "数据平台拒收本设备上传的数据（请检查访问权限）。"},
	"agent.uplink.subscribe_denied": {En: "The records server refused this box's command subscription.", Zh: "数据平台拒绝本设备订阅命令。"},
	"agent.uplink.publish":          {En: "An upload to the records server failed.", Zh: "向数据平台上传失败。"},
	"agent.uplink.too_large":        {En: "A record is too large for the records server.", Zh: "记录过大，数据平台无法接收。"},
	"agent.uplink.queue":            {En: "The upload queue on this box failed.", Zh: "本设备的上传队列出错。"},
	"agent.uplink.other":            {En: "Upload error.", Zh: "上传出错。"},
}

func init() { add(agentMessages) }
