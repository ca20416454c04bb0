package i18n

// verifyMessages are the record chain verification's report (package
// record, Report.Text), keyed "verify.<name>". The English is what
// `bayagent verify` has always printed.
var verifyMessages = Catalogue{
	"verify.ok":              {En: "OK", Zh: "通过"},
	"verify.problems_found":  {En: "PROBLEMS FOUND", Zh: "发现问题"},
	"verify.summary":         {En: "{status}: {lines} lines, {records} records, {devices} devices", Zh: "{status}：共 {lines} 行，{records} 条记录，{devices} 台设备"},
	"verify.no_keys":         {En: " (signatures NOT checked: no keys given)", Zh: "（未校验签名：没有提供公钥）"},
	"verify.read_error":      {En: "read error: {error}", Zh: "读取出错：{error}"},
	"verify.unparseable":     {En: "line {line}: unparseable: {error}", Zh: "第 {line} 行：无法解析：{error}"},
	"verify.unparseable_all": {En: "... {n} unparseable lines in all", Zh: "……共 {n} 行无法解析"},
	"verify.device_ok":       {En: "ok", Zh: "正常"},
	"verify.device_problems": {En: "PROBLEMS", Zh: "有问题"},
	"verify.device":          {En: "device {device}: {status}: {records} records, seq {first}..{last}", Zh: "设备 {device}：{status}：{records} 条记录，记录号 {first}..{last}"},
	"verify.unknown_key":     {En: "no public key for this device: signatures not checked", Zh: "没有该设备的公钥：未校验签名"},
	"verify.gaps":            {En: "gaps ({n} missing):", Zh: "缺号（缺 {n} 条）："},
	"verify.list_all":        {En: ", ... ({n} in all)", Zh: "……（共 {n} 条）"},

	"verify.conflicts":              {En: "conflicting duplicates (same seq, different content)", Zh: "冲突的重复记录（记录号相同、内容不同）"},
	"verify.reorders":               {En: "re-ordered arrivals", Zh: "乱序到达"},
	"verify.broken_links":           {En: "broken hash links", Zh: "哈希链断开"},
	"verify.bad_signatures":         {En: "bad signatures", Zh: "签名无效"},
	"verify.resets":                 {En: "chain resets (outbox_reset; records may be lost)", Zh: "记录链重置（outbox_reset，可能有记录丢失）"},
	"verify.unauthorised_rotations": {En: "key rotations not signed by the key before them", Zh: "未经原密钥签名的密钥更换"},
	"verify.key_rotations":          {En: "key rotations", Zh: "密钥更换"},
	"verify.duplicates":             {En: "exact duplicates (harmless)", Zh: "完全相同的重复记录（无害）"},
	"verify.unsynced":               {En: "sealed with an unsynchronised clock", Zh: "封存时设备时钟未同步"},
	"verify.uncorrectable":          {En: "unsynchronised and not corrected (no clock_sync of their boot)", Zh: "时钟未同步且无法校正（该次开机没有 clock_sync 记录）"},
	"verify.backwards":              {En: "times going backwards (earlier than the record before)", Zh: "时间倒退（早于前一条记录）"},
	"verify.corrected":              {En: "seq {seq}: time {time} corrected to {corrected} (clock_sync seq {by})", Zh: "记录号 {seq}：时间 {time} 校正为 {corrected}（依据 clock_sync 记录号 {by}）"},
	"verify.corrected_all":          {En: "... {n} corrected times in all", Zh: "……共校正 {n} 个时间"},
}

func init() { add(verifyMessages) }
