package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

const minimal = `
mqtt:
  broker: ssl://broker.example.org:8883
  client_id: rx-1
`

func TestDefaults(t *testing.T) {
	c, err := Parse(strings.NewReader(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.Driver != "bbolt" || c.Upload.Dialect != "none" || c.Chain.GapTimeout.D() != 30*time.Second ||
		c.MQTT.TopicPrefix != "bayagent" || c.Receiver.Listen != "127.0.0.1:9181" || c.Upload.TokenErrorCodes[0] != "-20" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestFull(t *testing.T) {
	c, err := Parse(strings.NewReader(minimal + `
  share_group: receivers
store:
  driver: postgres
  dsn_env: BAYRECEIVER_DSN
chain:
  gap_timeout: 5s
upload:
  dialect: shared
  base_url: https://api.example.org/restservices/lcipprodatarest
  field_limits: {partsname: 40}
  companies:
    - code: "330106000123456"
      name: 杭州西湖汽车维修有限公司
      password_env: PW_1
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTT.ShareGroup != "receivers" || c.Store.DSNEnv != "BAYRECEIVER_DSN" || c.Chain.GapTimeout.D() != 5*time.Second ||
		c.Upload.Companies[0].Name != "杭州西湖汽车维修有限公司" || c.Upload.FieldLimits["partsname"] != 40 {
		t.Fatalf("%+v", c)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"mqtt:\n  brokr: x\n", "field brokr not found"},
		{"", "mqtt.broker: required"},
		{"mqtt:\n  broker: tcp://127.0.0.1:1883\n  client_id: a\n", "mqtt.broker: tcp:// sends records"},
		{minimal + "store:\n  driver: sqlite\n", `store.driver: want bbolt or postgres, got "sqlite"`},
		{minimal + "store:\n  driver: postgres\n", "store.dsn_env: required"},
		{minimal + "upload:\n  dialect: shared\n", "upload.base_url"},
		{minimal + "upload:\n  dialect: shared\n  base_url: https://x/y\n  companies: [{code: '1', name: x, password_env: P}]\n", "upload.companies[0].code: want the 15-digit"},
		{minimal + "upload:\n  dialect: staged\n  base_url: https://x/y\n", "upload.staged: app_id and secret_env"},
		{minimal + "chain:\n  gap_timeout: 0s\n", "chain.gap_timeout: want a positive duration"},
		{minimal + "  password_env: 'not a name'\n", "mqtt.password_env"},
		{minimal + "log:\n  level: loud\n", "log.level"},
	} {
		_, err := Parse(strings.NewReader(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !(errors.Is(err, ErrInvalid) || errors.Is(err, ErrSyntax)) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// FuzzParse: any file parses or is refused with ErrSyntax or ErrInvalid,
// never a panic; a file that parses validates again and carries no value
// the receiver would refuse later.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		minimal,
		minimal + "  share_group: receivers\nstore:\n  driver: postgres\n  dsn_env: BAYRECEIVER_DSN\n",
		minimal + "store:\n  driver: sqlite\n",
		minimal + "chain:\n  gap_timeout: 30\n",
		minimal + "upload:\n  dialect: shared\n  token_error_codes: []\n",
		"mqtt: [1, 2]\n",
		"a: &x {b: *x}\n",
		"--- \n...\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error is neither ErrSyntax nor ErrInvalid: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed, then invalid: %v", err)
		}
	})
}
