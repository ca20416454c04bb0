package uplink

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
)

// TestCodes: every reply code is documented once, is a lowercase name, and
// has its message in both languages.
func TestCodes(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z_]*[a-z]$`)
	seen := map[Code]bool{}
	for _, c := range Codes() {
		if seen[c] {
			t.Errorf("code %s listed twice", c)
		}
		seen[c] = true
		if !name.MatchString(string(c)) {
			t.Errorf("code %q: want lowercase words joined by _", c)
		}
		if c.Doc() == "" {
			t.Errorf("code %s has no description", c)
		}
		e, ok := i18n.Lookup(c.MessageKey())
		if !ok || e.En == "" || e.Zh == "" {
			t.Errorf("code %s: no message %s in both languages in package i18n", c, c.MessageKey())
		}
	}
	for _, k := range i18n.Keys() {
		if c, ok := strings.CutPrefix(k, "reply."); ok && !seen[Code(c)] {
			t.Errorf("message %s is for no reply code", k)
		}
	}
	if Code("nonsense").Doc() != "" {
		t.Error("an unknown code has a description")
	}
}

// TestUplinkCodes: the uplink's own errors are answered with their codes.
func TestUplinkCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Code
	}{
		{fmt.Errorf("%w: 9 bytes", ErrCommandTooLarge), CodeCommandTooLarge},
		{fmt.Errorf("%w: empty", ErrCommandSyntax), CodeBadCommand},
		{fmt.Errorf("%w: missing id", ErrCommandField), CodeBadCommand},
		{fmt.Errorf("%w: fly", ErrUnknownCommand), CodeUnknownCommand},
		{ErrRetainedCommand, CodeRetainedCommand},
		{ErrBusy, CodeBusy},
		{ErrShuttingDown, CodeShuttingDown},
		{errors.New("disk on fire"), CodeInternal},
		{WithCode(CodeNoOpenJob, fmt.Errorf("wrapped: %w", ErrBusy)), CodeNoOpenJob}, // the explicit code wins
		{fmt.Errorf("outer: %w", WithCode(CodeVehicleError, errors.New("timeout"))), CodeVehicleError},
	} {
		r := ErrorReply("x", c.err)
		if r.Code != c.want || r.OK || r.Error != c.err.Error() {
			t.Errorf("ErrorReply(%v) = %+v, want code %s", c.err, r, c.want)
		}
		if r.Message[i18n.English] != i18n.Text(i18n.English, c.want.MessageKey()) || r.Message[i18n.Chinese] == "" {
			t.Errorf("ErrorReply(%v) message %q", c.err, r.Message)
		}
	}
	if WithCode(CodeInternal, nil) != nil {
		t.Error("WithCode(nil) is not nil")
	}
}

func TestReplyJSON(t *testing.T) {
	err := &Error{Code: CodeBadArgument, Fields: []string{"vin", "mileage_km"}, Err: errors.New("vin must be 17 characters; mileage_km must not be negative")}
	b, _ := json.Marshal(ErrorReply("c-9", err))
	want := `{"id":"c-9","ok":false,"code":"bad_argument","fields":["vin","mileage_km"],` +
		`"error":"vin must be 17 characters; mileage_km must not be negative",` +
		`"message":{"en":"Invalid command arguments: vin, mileage_km.","zh-CN":"命令参数有误：vin, mileage_km。"}}`
	if string(b) != want {
		t.Errorf("reply\n%s\nwant\n%s", b, want)
	}
	ok := OKReply("c-1", map[string]any{"kind": "note"})
	b, _ = json.Marshal(ok)
	if string(b) != `{"id":"c-1","ok":true,"result":{"kind":"note"}}` {
		t.Errorf("ok reply %s", b)
	}
	var res struct{ Kind string }
	if err := ok.Decode(&res); err != nil || res.Kind != "note" {
		t.Errorf("Decode: %v %+v", err, res)
	}
	if bad := OKReply("c-2", func() {}); bad.OK || bad.Code != CodeInternal {
		t.Errorf("an unencodable result: %+v", bad)
	}
	if !slices.Contains(Codes(), CodeInternal) {
		t.Error("no internal code")
	}
}

// TestBrokerErrorsSayWhatToFix: the connection errors an installer makes
// name the setting to change, against a real Mosquitto.
func TestBrokerErrorsSayWhatToFix(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Options{Devices: devices})
	rogueDir := t.TempDir()
	rogue := mosquittotest.NewCA(t, rogueDir, "rogue")
	cert, key := b.ClientCert("dev-a")
	tlsPort := b.TLSAddr[strings.LastIndexByte(b.TLSAddr, ':')+1:]
	plainPort := b.PlainAddr[strings.LastIndexByte(b.PlainAddr, ':')+1:]
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"CA not the broker's", Options{Broker: b.TLSURL, CAFile: rogue.File, CertFile: cert, KeyFile: key},
			"not signed by the CA in uplink.ca_file (" + rogue.File + ")"},
		{"TLS to the plain port", Options{Broker: "ssl://127.0.0.1:" + plainPort, CAFile: b.CA.File},
			"port " + plainPort + " may not speak TLS"},
		{"plain to the TLS port", Options{Broker: "tcp://127.0.0.1:" + tlsPort, AllowPlaintext: true},
			"if port " + tlsPort + " is its TLS port (usually 8883), use ssl://"},
		{"nothing listening", Options{Broker: "tcp://127.0.0.1:1", AllowPlaintext: true},
			"nothing accepts connections at 127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := tc.o
			o.Shop, o.Device = "s1", "dev-a"
			o.BackoffMin, o.BackoffMax, o.ConnectTimeout = 50*time.Millisecond, 200*time.Millisecond, 5*time.Second
			u := newUplink(t, o, newMemQueue())
			run(t, u)
			s := waitStats(t, u, wait10, "a connection error", func(s Stats) bool { return s.LastError != nil })
			if !errors.Is(s.LastError, ErrConnect) || !strings.Contains(s.LastError.Error(), tc.want) {
				t.Errorf("error %v\nwant it to say %q", s.LastError, tc.want)
			}
		})
	}
}

// TestLoginHint: a refused login names the user and the variable.
func TestLoginHint(t *testing.T) {
	u, err := New(Options{Broker: "ssl://b.example.org", Shop: "s1", Device: "d", Username: "bay3", PasswordEnv: "BAYAGENT_MQTT_PASSWORD",
		LookupEnv: func(string) (string, bool) { return "pw", true }}, newMemQueue(), commander{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []error{packets.ErrorRefusedBadUsernameOrPassword, packets.ErrorRefusedNotAuthorised} {
		if h := u.connectHint(e); !strings.Contains(h, `user "bay3"`) || !strings.Contains(h, "$BAYAGENT_MQTT_PASSWORD") {
			t.Errorf("%v: hint %q", e, h)
		}
	}
}

// FuzzParseTopic: any topic a broker delivers splits without a panic, and
// a topic it accepts is exactly the one DeviceTopics builds from its parts,
// none of which holds a level separator.
func FuzzParseTopic(f *testing.F) {
	f.Add("bayagent", "bayagent/330106000123456/bay-01/records")
	f.Add("bayagent", "bayagent/330106000123456/bay-01/reply")
	f.Add("shops/hz", "shops/hz/330106000654321/bay-05/status")
	f.Add("bayagent", "bayagent//bay-01/reply")
	f.Add("bayagent", "bayagent/a/b/c/d")
	f.Add("bayagent", "other/330106000123456/bay-01/records")
	f.Fuzz(func(t *testing.T, prefix, topic string) {
		shop, device, leaf, ok := ParseTopic(prefix, topic)
		if !ok {
			if shop != "" || device != "" || leaf != "" {
				t.Fatalf("refused %q but gave %q %q %q", topic, shop, device, leaf)
			}
			return
		}
		if strings.Contains(shop+device+leaf, "/") {
			t.Fatalf("%q: a part holds a /: %q %q %q", topic, shop, device, leaf)
		}
		if got := DeviceTopics(prefix, shop, device).Root + "/" + leaf; got != topic {
			t.Fatalf("%q parsed to %q %q %q, which build %q", topic, shop, device, leaf, got)
		}
	})
}
