// Package provsim simulates the provincial health-record systems for tests and
// the demo.
//
// It is an http.Handler that serves the three upload dialects the receiver
// speaks, strictly.
//
//	POST /restservices/lcipprodatarest/lcipprogetaccesstoken/query   shared: token
//	POST /restservices/lcipprodatarest/lcipprocarfixrecordadd/query  shared: one record
//	GET  /api/getAccessToken.ashx?companydata=...                    Guangdong: token
//	GET  /api/upRepairInfo.ashx?repairdata=...                       Guangdong: one record
//	POST /staged/intake, /staged/items, /staged/settlement, /staged/update   staged, signed
//
// Strict means: every required member present, of its type (the shared
// and Guangdong dialects send every value as a string), in its format
// (17-character VIN, yyyyMMdd dates with the repair not after the
// settlement, whole kilometres, decimal quantities and hours, the company
// name registered for the token's company, part names of at most 50
// characters, known plate colours), no unknown member, and a valid access
// token, each refused with the dialect's code and a Chinese reason as the
// systems give them: shared and Guangdong -1 invalid parameter (missing or
// empty), -2 bad format, -10 unknown company, -11 wrong password, -99
// error (an injected failure), Options.TokenErrorCode for an expired or
// unknown token (or HTTP 401, see TokenErrorHTTP); success is code "1",
// status 新增成功. The staged dialect answers {code, message, data} with
// the codes of package upload (0 success).
//
// Tokens expire after Options.TokenTTL or at ExpireTokens; SetDelay makes
// every request slow; FailNext makes the next requests fail. Uploads
// lists what was accepted.
package provsim

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bayagent/bayagent/cmd/bayreceiver/upload"
)

// Company is a shop registered at the simulated system.
type Company struct {
	Code, Password, Name string
}

// Options configures a simulator.
type Options struct {
	Companies []Company
	// TokenTTL is how long an access token is valid; 0 means 2 hours.
	TokenTTL time.Duration
	// TokenErrorCode is the code answered for an expired or unknown
	// token; "" means "-20". With TokenErrorHTTP it is HTTP 401 instead.
	TokenErrorCode string
	TokenErrorHTTP bool
	// AllowExtension accepts the member x_bayagent_mstation in shared
	// uploads (a province that takes the M-station findings).
	AllowExtension bool
	// StagedApps maps the staged API's app ids to their secrets.
	StagedApps map[string][]byte
	// StagedWindow is how far a staged timestamp may be from the clock;
	// 0 means 5 minutes.
	StagedWindow time.Duration
	// Now gives the time; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

// Failure is how an injected failure is answered.
type Failure int

// Failures for FailNext.
const (
	// FailHTTP answers HTTP 503.
	FailHTTP Failure = iota + 1
	// FailCode answers the dialect's server error code (-99, or 5000).
	FailCode
)

// Upload is one accepted record.
type Upload struct {
	Dialect string // "shared", "guangdong" or "staged"
	Company string
	// Key is the costlistcode (shared, Guangdong) or orderCode (staged).
	Key  string
	Body json.RawMessage // the record as sent (without the token)
	At   time.Time
}

// Counts are the requests the simulator answered.
type Counts struct {
	Tokens, Records, Rejected, TokenRefusals, Failures int
}

// Sim is a simulated provincial system; safe for concurrent use.
type Sim struct {
	o   Options
	mux *http.ServeMux

	mu      sync.Mutex
	tokens  map[string]tokenInfo
	delay   time.Duration
	fails   []Failure
	failsOn map[string][]Failure // by path
	uploads []Upload
	counts  Counts
	nonces  map[string]bool
	orders  map[string]*order // staged, by app id + order code
}

type tokenInfo struct {
	company Company
	until   time.Time
}

type order struct {
	intake, items, settled bool
}

// New returns a simulator.
func New(o Options) *Sim {
	if o.TokenTTL <= 0 {
		o.TokenTTL = 2 * time.Hour
	}
	if o.TokenErrorCode == "" {
		o.TokenErrorCode = "-20"
	}
	if o.StagedWindow <= 0 {
		o.StagedWindow = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{o: o, mux: http.NewServeMux(), tokens: map[string]tokenInfo{}, nonces: map[string]bool{}, orders: map[string]*order{}}
	s.mux.HandleFunc("POST /restservices/lcipprodatarest/lcipprogetaccesstoken/query", s.sharedToken)
	s.mux.HandleFunc("POST /restservices/lcipprodatarest/lcipprocarfixrecordadd/query", s.sharedRecord)
	s.mux.HandleFunc("GET /api/getAccessToken.ashx", s.gdToken)
	s.mux.HandleFunc("GET /api/upRepairInfo.ashx", s.gdRecord)
	s.mux.HandleFunc("POST /staged/{stage}", s.staged)
	return s
}

// ServeHTTP implements http.Handler: the injected delay and failures
// first, then the dialect.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delay := s.delay
	var fail Failure
	if on := s.failsOn[r.URL.Path]; len(on) > 0 {
		fail, s.failsOn[r.URL.Path] = on[0], on[1:]
		s.counts.Failures++
	} else if len(s.fails) > 0 {
		fail, s.fails = s.fails[0], s.fails[1:]
		s.counts.Failures++
	}
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch fail {
	case FailHTTP:
		http.Error(w, "service unavailable (simulated)", http.StatusServiceUnavailable)
		return
	case FailCode:
		if strings.HasPrefix(r.URL.Path, "/staged/") {
			writeJSON(w, map[string]any{"code": 5000, "message": "系统错误(模拟)", "data": nil})
		} else {
			writeJSON(w, map[string]string{"code": "-99", "status": "系统错误(模拟)"})
		}
		return
	}
	s.mux.ServeHTTP(w, r)
}

// ExpireTokens makes every access token handed out so far expired.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		t.until = time.Time{}
		s.tokens[k] = t
	}
}

// SetDelay delays every later request by d.
func (s *Sim) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// FailNext makes the next n requests fail as f.
func (s *Sim) FailNext(n int, f Failure) {
	s.mu.Lock()
	for range n {
		s.fails = append(s.fails, f)
	}
	s.mu.Unlock()
}

// FailNextOn makes the next n requests for path (e.g. "/staged/items")
// fail as f.
func (s *Sim) FailNextOn(path string, n int, f Failure) {
	s.mu.Lock()
	if s.failsOn == nil {
		s.failsOn = map[string][]Failure{}
	}
	for range n {
		s.failsOn[path] = append(s.failsOn[path], f)
	}
	s.mu.Unlock()
}

// Uploads returns the accepted records, in order.
func (s *Sim) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Upload(nil), s.uploads...)
}

// Counts returns the requests answered so far.
func (s *Sim) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	b, _ := json.Marshal(v)
	w.Write(b)
}

// fail is a refusal: the dialect's code and reason.
type fail struct {
	code, reason string
}

func (f *fail) Error() string { return f.code + " " + f.reason }

func missing(field string) *fail { return &fail{"-1", "参数无效: " + field + " 不能为空"} }
func badFormat(field, why string) *fail {
	return &fail{"-2", "格式错误: " + field + " " + why}
}

func (s *Sim) reply(w http.ResponseWriter, f *fail, what string) {
	s.mu.Lock()
	s.counts.Rejected++
	s.mu.Unlock()
	s.o.Logger.Info("provsim: refused", "what", what, "code", f.code, "reason", f.reason)
	writeJSON(w, map[string]string{"code": f.code, "status": f.reason})
}

func (s *Sim) newToken(c Company) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := strings.ToUpper(hex.EncodeToString(b[:]))
	s.mu.Lock()
	s.tokens[tok] = tokenInfo{company: c, until: s.o.Now().Add(s.o.TokenTTL)}
	s.counts.Tokens++
	s.mu.Unlock()
	return tok
}

// login checks a company code and password.
func (s *Sim) login(code, password string) (Company, *fail) {
	switch {
	case code == "":
		return Company{}, missing("companycode")
	case password == "":
		return Company{}, missing("companypassword")
	case !companyRE.MatchString(code):
		return Company{}, badFormat("companycode", "必须为15位数字")
	}
	for _, c := range s.o.Companies {
		if c.Code == code {
			if c.Password != password {
				return Company{}, &fail{"-11", "密码错误"}
			}
			return c, nil
		}
	}
	return Company{}, &fail{"-10", "企业不存在"}
}

// token checks an access token; ok false means the refusal was written.
func (s *Sim) token(w http.ResponseWriter, tok string) (Company, bool) {
	s.mu.Lock()
	t, ok := s.tokens[tok]
	valid := ok && s.o.Now().Before(t.until)
	if !valid {
		s.counts.TokenRefusals++
	}
	s.mu.Unlock()
	if valid {
		return t.company, true
	}
	if s.o.TokenErrorHTTP {
		http.Error(w, "access_token invalid or expired", http.StatusUnauthorized)
		return Company{}, false
	}
	writeJSON(w, map[string]string{"code": s.o.TokenErrorCode, "status": "access_token 无效或已过期"})
	return Company{}, false
}

func (s *Sim) accept(u Upload) {
	s.mu.Lock()
	u.At = s.o.Now()
	s.uploads = append(s.uploads, u)
	s.counts.Records++
	s.mu.Unlock()
}

// object decodes b as one JSON object whose members are all in allowed.
func object(b []byte, where string, allowed ...string) (map[string]json.RawMessage, *fail) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, badFormat(where, "必须为JSON对象")
	}
	for k := range m {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return nil, badFormat(where+"."+k, "为未知字段")
		}
	}
	return m, nil
}

// str reads a member that must be a JSON string; required ones must not
// be empty.
func str(m map[string]json.RawMessage, where, key string, required bool) (string, *fail) {
	raw, ok := m[key]
	if !ok {
		if required {
			return "", missing(where + key)
		}
		return "", nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", badFormat(where+key, "必须为字符串")
	}
	if required && strings.TrimSpace(v) == "" {
		return "", missing(where + key)
	}
	return v, nil
}

var (
	companyRE = regexp.MustCompile(`^[0-9]{15}$`)
	vinRE     = regexp.MustCompile(`^[A-HJ-NPR-Z0-9]{17}$`)
	digitsRE  = regexp.MustCompile(`^[0-9]{1,7}$`)
	decimalRE = regexp.MustCompile(`^[0-9]{1,6}(\.[0-9]{1,3})?$`)
)

func date(v string) (time.Time, bool) {
	t, err := time.Parse("20060102", v)
	return t, err == nil && t.Year() >= 2000
}

// record checks the shared record fields (basicInfo, or the Guangdong
// body) and the two lists; gd adds the plate colour.
func (s *Sim) record(fields map[string]json.RawMessage, lists map[string]json.RawMessage, where string, c Company, gd bool) (string, *fail) {
	get := map[string]string{}
	for _, k := range []string{"vehicleplatenumber", "companyname", "vin", "repairdate", "repairmileage", "settledate", "faultdescription", "costlistcode"} {
		v, f := str(fields, where, k, true)
		if f != nil {
			return "", f
		}
		get[k] = v
	}
	if _, f := str(fields, where, "test_no", false); f != nil {
		return "", f
	}
	if gd {
		v, f := str(fields, where, "vehicleplatecolor", true)
		if f != nil {
			return "", f
		}
		switch v {
		case "蓝", "黄", "黑", "白", "绿", "黄绿":
		default:
			return "", badFormat(where+"vehicleplatecolor", "必须为 蓝 黄 黑 白 绿 黄绿 之一")
		}
	}
	rd, ok1 := date(get["repairdate"])
	sd, ok2 := date(get["settledate"])
	switch {
	case utf8.RuneCountInString(get["vehicleplatenumber"]) > 16:
		return "", badFormat(where+"vehicleplatenumber", "超长")
	case get["companyname"] != c.Name:
		return "", badFormat(where+"companyname", "与企业注册名称不符")
	case !vinRE.MatchString(get["vin"]):
		return "", badFormat(where+"vin", "必须为17位车辆识别代号")
	case !ok1:
		return "", badFormat(where+"repairdate", "必须为yyyyMMdd")
	case !ok2:
		return "", badFormat(where+"settledate", "必须为yyyyMMdd")
	case rd.After(sd):
		return "", badFormat(where+"repairdate", "不能晚于结算日期")
	case !digitsRE.MatchString(get["repairmileage"]) || strings.Trim(get["repairmileage"], "0") == "":
		return "", badFormat(where+"repairmileage", "必须为正整数公里数")
	}
	if f := s.list(lists, "vehiclepartslist", false, map[string]func(string) *fail{
		"partsname": func(v string) *fail {
			if v == "" {
				return missing("partsname")
			}
			if utf8.RuneCountInString(v) > 50 {
				return badFormat("partsname", "超过50个字符")
			}
			return nil
		},
		"partscode": func(string) *fail { return nil },
		"partsquantity": func(v string) *fail {
			if !decimalRE.MatchString(v) || strings.Trim(v, "0.") == "" {
				return badFormat("partsquantity", "必须为大于0的数字")
			}
			return nil
		},
	}); f != nil {
		return "", f
	}
	if f := s.list(lists, "repairprojectlist", true, map[string]func(string) *fail{
		"repairproject": func(v string) *fail {
			if v == "" {
				return missing("repairproject")
			}
			return nil
		},
		"workinghours": func(v string) *fail {
			if !decimalRE.MatchString(v) {
				return badFormat("workinghours", "必须为数字")
			}
			return nil
		},
	}); f != nil {
		return "", f
	}
	return get["costlistcode"], nil
}

// list checks an array of objects whose members are all strings checked
// by the functions.
func (s *Sim) list(m map[string]json.RawMessage, key string, nonEmpty bool, fields map[string]func(string) *fail) *fail {
	raw, ok := m[key]
	if !ok {
		return missing(key)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return badFormat(key, "必须为数组")
	}
	if nonEmpty && len(items) == 0 {
		return missing(key)
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	for i, it := range items {
		where := fmt.Sprintf("%s[%d].", key, i)
		obj, f := object(it, strings.TrimSuffix(where, "."), names...)
		if f != nil {
			return f
		}
		for k, check := range fields {
			v, f := str(obj, where, k, false)
			if f != nil {
				return f
			}
			if f := check(v); f != nil {
				f.reason = strings.Replace(f.reason, k, where+k, 1)
				return f
			}
		}
	}
	return nil
}

func readBody(r *http.Request) ([]byte, *fail) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, &fail{"-2", "请求读取失败"}
	}
	return b, nil
}

func (s *Sim) sharedToken(w http.ResponseWriter, r *http.Request) {
	b, f := readBody(r)
	var m map[string]json.RawMessage
	if f == nil {
		m, f = object(b, "request", "companycode", "companypassword")
	}
	s.tokenReply(w, m, f, "lcipprogetaccesstoken")
}

// tokenReply answers a token request of either dialect: the credentials object
// creds (already checked for unknown keys, or f says what was wrong with
// the request) logs in a company, which gets a new token; a failure is
// replied as endpoint's.
func (s *Sim) tokenReply(w http.ResponseWriter, creds map[string]json.RawMessage, f *fail, endpoint string) {
	var code, pw string
	if f == nil {
		code, f = str(creds, "", "companycode", true)
	}
	if f == nil {
		pw, f = str(creds, "", "companypassword", true)
	}
	var c Company
	if f == nil {
		c, f = s.login(code, pw)
	}
	if f != nil {
		s.reply(w, f, endpoint)
		return
	}
	writeJSON(w, map[string]string{"code": "1", "status": "获取成功", "access_token": s.newToken(c)})
}

func (s *Sim) sharedRecord(w http.ResponseWriter, r *http.Request) {
	b, f := readBody(r)
	allowed := []string{"access_token", "basicInfo", "vehiclepartslist", "repairprojectlist"}
	if s.o.AllowExtension {
		allowed = append(allowed, "x_bayagent_mstation")
	}
	var m map[string]json.RawMessage
	if f == nil {
		m, f = object(b, "request", allowed...)
	}
	var tok string
	if f == nil {
		tok, f = str(m, "", "access_token", true)
	}
	if f != nil {
		s.reply(w, f, "lcipprocarfixrecordadd")
		return
	}
	c, ok := s.token(w, tok)
	if !ok {
		return
	}
	raw, has := m["basicInfo"]
	if !has {
		s.reply(w, missing("basicInfo"), "lcipprocarfixrecordadd")
		return
	}
	basic, f := object(raw, "basicInfo", "vehicleplatenumber", "companyname", "vin", "repairdate", "repairmileage",
		"settledate", "faultdescription", "costlistcode", "test_no")
	var key string
	if f == nil {
		key, f = s.record(basic, m, "basicInfo.", c, false)
	}
	if f != nil {
		s.reply(w, f, "lcipprocarfixrecordadd")
		return
	}
	delete(m, "access_token")
	body, _ := json.Marshal(m)
	s.accept(Upload{Dialect: "shared", Company: c.Code, Key: key, Body: body})
	writeJSON(w, map[string]string{"code": "1", "status": "新增成功"})
}

// gdParam decodes a Guangdong query parameter: a URL-encoded JSON object
// with a header {date yyyyMMdd, time HHmmss} and the other members.
func gdParam(r *http.Request, name string, allowed ...string) (map[string]json.RawMessage, *fail) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, missing(name)
	}
	m, f := object([]byte(v), name, append(allowed, "header")...)
	if f != nil {
		return nil, f
	}
	raw, ok := m["header"]
	if !ok {
		return nil, missing(name + ".header")
	}
	h, f := object(raw, name+".header", "date", "time")
	if f != nil {
		return nil, f
	}
	d, f := str(h, name+".header.", "date", true)
	if f != nil {
		return nil, f
	}
	t, f := str(h, name+".header.", "time", true)
	if f != nil {
		return nil, f
	}
	if _, ok := date(d); !ok {
		return nil, badFormat(name+".header.date", "必须为yyyyMMdd")
	}
	if _, err := time.Parse("150405", t); err != nil {
		return nil, badFormat(name+".header.time", "必须为HHmmss")
	}
	return m, nil
}

func (s *Sim) gdToken(w http.ResponseWriter, r *http.Request) {
	m, f := gdParam(r, "companydata", "body")
	var body map[string]json.RawMessage
	if f == nil {
		raw, ok := m["body"]
		if !ok {
			f = missing("companydata.body")
		} else {
			body, f = object(raw, "companydata.body", "companycode", "companypassword")
		}
	}
	s.tokenReply(w, body, f, "getAccessToken.ashx")
}

func (s *Sim) gdRecord(w http.ResponseWriter, r *http.Request) {
	m, f := gdParam(r, "repairdata", "access_token", "body")
	var tok string
	if f == nil {
		tok, f = str(m, "", "access_token", true)
	}
	if f != nil {
		s.reply(w, f, "upRepairInfo.ashx")
		return
	}
	c, ok := s.token(w, tok)
	if !ok {
		return
	}
	raw, has := m["body"]
	if !has {
		s.reply(w, missing("repairdata.body"), "upRepairInfo.ashx")
		return
	}
	body, f := object(raw, "repairdata.body", "vehicleplatenumber", "vehicleplatecolor", "companyname", "vin", "repairdate",
		"repairmileage", "settledate", "faultdescription", "costlistcode", "test_no", "vehiclepartslist", "repairprojectlist")
	var key string
	if f == nil {
		key, f = s.record(body, body, "body.", c, true)
	}
	if f != nil {
		s.reply(w, f, "upRepairInfo.ashx")
		return
	}
	s.accept(Upload{Dialect: "guangdong", Company: c.Code, Key: key, Body: raw})
	writeJSON(w, map[string]string{"code": "1", "status": "新增成功"})
}

// stagedFields are the members of each stage's data and whether each is
// required.
var stagedFields = map[string]map[string]bool{
	"intake": {"orderCode": true, "vin": true, "plateNumber": true, "repairTime": true, "mileage": true, "serviceType": true,
		"fuelType": true, "faultDescription": true, "natureOfUse": true, "testNo": false},
	"items":      {"orderCode": true, "items": true, "parts": true},
	"settlement": {"orderCode": true, "settlementNo": true, "totalCost": true, "payTime": true},
}

func (s *Sim) stagedReply(w http.ResponseWriter, code, msg string) {
	if code != upload.StagedCodeOK {
		s.mu.Lock()
		s.counts.Rejected++
		s.mu.Unlock()
		s.o.Logger.Info("provsim: staged refused", "code", code, "reason", msg)
	}
	n, _ := strconv.Atoi(code)
	writeJSON(w, map[string]any{"code": n, "message": msg, "data": nil})
}

func (s *Sim) staged(w http.ResponseWriter, r *http.Request) {
	stage := r.PathValue("stage")
	fieldsOf := stage
	if stage == "update" {
		fieldsOf = "intake"
	}
	fields, known := stagedFields[fieldsOf]
	if !known {
		http.NotFound(w, r)
		return
	}
	b, f := readBody(r)
	var env upload.StagedEnvelope
	if f != nil || json.Unmarshal(b, &env) != nil || len(env.Data) == 0 {
		s.stagedReply(w, upload.StagedCodeField, "请求格式错误: 需要 appId nonce timestamp sign data")
		return
	}
	secret, ok := s.o.StagedApps[env.AppID]
	if !ok {
		s.stagedReply(w, upload.StagedCodeSignature, "appId 不存在")
		return
	}
	ms, err := strconv.ParseInt(env.Timestamp, 10, 64)
	if err != nil || s.o.Now().Sub(time.UnixMilli(ms)).Abs() > s.o.StagedWindow {
		s.stagedReply(w, upload.StagedCodeTimestamp, "timestamp 无效或超出允许范围")
		return
	}
	if !hmac.Equal([]byte(env.Sign), []byte(upload.Sign(secret, env.AppID, env.Nonce, env.Timestamp, env.Data))) {
		s.stagedReply(w, upload.StagedCodeSignature, "签名错误")
		return
	}
	s.mu.Lock()
	reused := env.Nonce == "" || s.nonces[env.AppID+"/"+env.Nonce]
	s.nonces[env.AppID+"/"+env.Nonce] = true
	s.mu.Unlock()
	if reused {
		s.stagedReply(w, upload.StagedCodeNonce, "nonce 重复")
		return
	}
	allowed := make([]string, 0, len(fields))
	for k := range fields {
		allowed = append(allowed, k)
	}
	data, f := object(env.Data, "data", allowed...)
	if f == nil {
		for k, req := range fields {
			if k == "items" || k == "parts" {
				if _, ok := data[k]; !ok {
					f = missing("data." + k)
				}
				continue
			}
			if _, f = str(data, "data.", k, req); f != nil {
				break
			}
		}
	}
	if f != nil {
		s.stagedReply(w, upload.StagedCodeField, f.reason)
		return
	}
	oc, _ := str(data, "", "orderCode", true)
	code, msg := s.stagedStage(env.AppID, stage, oc, data)
	if code == upload.StagedCodeOK && stage == "settlement" {
		s.accept(Upload{Dialect: "staged", Company: env.AppID, Key: oc, Body: env.Data})
	}
	s.stagedReply(w, code, msg)
}

// stagedStage checks one stage's content and order.
func (s *Sim) stagedStage(app, stage, oc string, data map[string]json.RawMessage) (string, string) {
	v := func(k string) string { x, _ := str(data, "", k, false); return x }
	switch stage {
	case "intake", "update":
		if !vinRE.MatchString(v("vin")) {
			return upload.StagedCodeField, "vin 格式错误"
		}
		if _, err := time.Parse("2006-01-02 15:04:05", v("repairTime")); err != nil {
			return upload.StagedCodeField, "repairTime 必须为 yyyy-MM-dd HH:mm:ss"
		}
		if !digitsRE.MatchString(v("mileage")) {
			return upload.StagedCodeField, "mileage 必须为整数公里数"
		}
	case "items":
		var items []struct {
			ProjectName string `json:"projectName"`
			Hours       string `json:"hours"`
		}
		if err := json.Unmarshal(data["items"], &items); err != nil || len(items) == 0 {
			return upload.StagedCodeField, "items 必须为非空数组"
		}
		for i, it := range items {
			if it.ProjectName == "" || !decimalRE.MatchString(it.Hours) {
				return upload.StagedCodeField, fmt.Sprintf("items[%d] 格式错误", i)
			}
		}
		var parts []struct {
			Name     string `json:"name"`
			Code     string `json:"code"`
			Quantity string `json:"quantity"`
			Unit     string `json:"unit"`
		}
		if err := json.Unmarshal(data["parts"], &parts); err != nil || parts == nil {
			return upload.StagedCodeField, "parts 必须为数组"
		}
		for i, p := range parts {
			if p.Name == "" || !decimalRE.MatchString(p.Quantity) {
				return upload.StagedCodeField, fmt.Sprintf("parts[%d] 格式错误", i)
			}
		}
	case "settlement":
		if !decimalRE.MatchString(v("totalCost")) {
			return upload.StagedCodeField, "totalCost 必须为金额"
		}
		if _, err := time.Parse("2006-01-02 15:04:05", v("payTime")); err != nil {
			return upload.StagedCodeField, "payTime 必须为 yyyy-MM-dd HH:mm:ss"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := app + "/" + oc
	o := s.orders[key]
	switch stage {
	case "intake":
		if o != nil {
			return upload.StagedCodeExists, "订单已存在, 请使用 update 更正"
		}
		s.orders[key] = &order{intake: true}
	case "update":
		if o == nil {
			return upload.StagedCodeNoOrder, "订单不存在"
		}
	case "items":
		if o == nil {
			return upload.StagedCodeNoOrder, "订单不存在, 请先上传接车信息"
		}
		o.items = true
	case "settlement":
		switch {
		case o == nil || !o.items:
			return upload.StagedCodeNoOrder, "请先上传接车信息和维修项目"
		case o.settled:
			return upload.StagedCodeExists, "订单已结算"
		}
		o.settled = true
	}
	return upload.StagedCodeOK, "成功"
}
