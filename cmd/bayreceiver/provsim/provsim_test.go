package provsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bayagent/bayagent/cmd/bayreceiver/provsim"
)

const (
	shop = "330106000123456"
	name = "杭州西湖汽车维修有限公司"
)

func start(t *testing.T, o provsim.Options) (*provsim.Sim, *httptest.Server) {
	t.Helper()
	o.Companies = []provsim.Company{{Code: shop, Password: "pw", Name: name}}
	sim := provsim.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

type answer struct {
	Code        string `json:"code"`
	Status      string `json:"status"`
	AccessToken string `json:"access_token"`
}

func post(t *testing.T, srv *httptest.Server, method, body string) answer {
	t.Helper()
	resp, err := http.Post(srv.URL+"/restservices/lcipprodatarest/"+method+"/query", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %s (%v)", method, b, err)
	}
	return a
}

const goodRecord = `{"access_token":"TOKEN","basicInfo":{"vehicleplatenumber":"浙A12345","companyname":"杭州西湖汽车维修有限公司",
"vin":"LFV2A21K8A4052691","repairdate":"20260313","repairmileage":"52341","settledate":"20260314",
"faultdescription":"发动机故障灯亮","costlistcode":"JS1"},
"vehiclepartslist":[{"partsname":"三元催化器","partscode":"06A131701","partsquantity":"1"}],
"repairprojectlist":[{"repairproject":"更换三元催化器","workinghours":"1.5"}]}`

// TestSharedStrict sends hand-written bodies and checks each refusal's
// code and the member it names.
func TestSharedStrict(t *testing.T) {
	sim, srv := start(t, provsim.Options{})
	for _, tc := range []struct {
		body, code, names string
	}{
		{`{"companycode":"330106000123456"}`, "-1", "companypassword"},
		{`{"companycode":"33010600012345","companypassword":"pw"}`, "-2", "companycode"},
		{`{"companycode":"330106000123457","companypassword":"pw"}`, "-10", ""},
		{`{"companycode":"330106000123456","companypassword":"nope"}`, "-11", ""},
		{`{"companycode":330106000123456,"companypassword":"pw"}`, "-2", "companycode"},
	} {
		if a := post(t, srv, "lcipprogetaccesstoken", tc.body); a.Code != tc.code || !strings.Contains(a.Status, tc.names) {
			t.Errorf("token %s: %+v, want code %s naming %q", tc.body, a, tc.code, tc.names)
		}
	}
	a := post(t, srv, "lcipprogetaccesstoken", `{"companycode":"330106000123456","companypassword":"pw"}`)
	if a.Code != "1" || len(a.AccessToken) < 32 {
		t.Fatalf("token: %+v", a)
	}
	good := strings.Replace(goodRecord, "TOKEN", a.AccessToken, 1)
	if a := post(t, srv, "lcipprocarfixrecordadd", good); a.Code != "1" || a.Status != "新增成功" {
		t.Fatalf("good record: %+v", a)
	}
	for _, tc := range []struct {
		name, from, to, code, names string
	}{
		{"mileage a number", `"repairmileage":"52341"`, `"repairmileage":52341`, "-2", "repairmileage"},
		{"mileage zero", `"repairmileage":"52341"`, `"repairmileage":"0"`, "-2", "repairmileage"},
		{"vin missing", `"vin":"LFV2A21K8A4052691",`, ``, "-1", "vin"},
		{"vin short", `"vin":"LFV2A21K8A4052691"`, `"vin":"LFV2A21K8A405269"`, "-2", "vin"},
		{"empty fault", `"faultdescription":"发动机故障灯亮"`, `"faultdescription":" "`, "-1", "faultdescription"},
		{"date form", `"repairdate":"20260313"`, `"repairdate":"2026-03-13"`, "-2", "repairdate"},
		{"repair after settlement", `"repairdate":"20260313"`, `"repairdate":"20260315"`, "-2", "repairdate"},
		{"other company name", name, "别的公司", "-2", "companyname"},
		{"unknown member", `"costlistcode":"JS1"`, `"costlistcode":"JS1","owner":"x"`, "-2", "owner"},
		{"extension", `"repairprojectlist"`, `"x_bayagent_mstation":{},"repairprojectlist"`, "-2", "x_bayagent_mstation"},
		{"part name too long", `"partsname":"三元催化器"`, `"partsname":"` + strings.Repeat("件", 51) + `"`, "-2", "vehiclepartslist[0].partsname"},
		{"quantity zero", `"partsquantity":"1"`, `"partsquantity":"0"`, "-2", "partsquantity"},
		{"no project", `[{"repairproject":"更换三元催化器","workinghours":"1.5"}]`, `[]`, "-1", "repairprojectlist"},
		{"hours text", `"workinghours":"1.5"`, `"workinghours":"一个半"`, "-2", "workinghours"},
		{"token wrong", a.AccessToken, "ABC", "-20", "access_token"},
	} {
		body := strings.Replace(good, tc.from, tc.to, 1)
		if body == good {
			t.Fatalf("%s: replacement did not apply", tc.name)
		}
		if got := post(t, srv, "lcipprocarfixrecordadd", body); got.Code != tc.code || !strings.Contains(got.Status, tc.names) {
			t.Errorf("%s: %+v, want code %s naming %q", tc.name, got, tc.code, tc.names)
		}
	}
	if n := len(sim.Uploads()); n != 1 {
		t.Fatalf("%d uploads accepted, want 1", n)
	}
	sim.ExpireTokens()
	if got := post(t, srv, "lcipprocarfixrecordadd", good); got.Code != "-20" {
		t.Fatalf("expired token: %+v", got)
	}
}

func TestGuangdongStrict(t *testing.T) {
	sim, srv := start(t, provsim.Options{})
	get := func(method, param, v string) answer {
		resp, err := http.Get(srv.URL + "/api/" + method + "?" + param + "=" + url.QueryEscape(v))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a answer
		json.NewDecoder(resp.Body).Decode(&a)
		return a
	}
	if a := get("getAccessToken.ashx", "companydata", `{"body":{"companycode":"330106000123456","companypassword":"pw"}}`); a.Code != "-1" || !strings.Contains(a.Status, "header") {
		t.Fatalf("no header: %+v", a)
	}
	if a := get("getAccessToken.ashx", "companydata", `{"header":{"date":"20261129","time":"25:00:00"},"body":{}}`); a.Code != "-2" {
		t.Fatalf("bad time: %+v", a)
	}
	a := get("getAccessToken.ashx", "companydata", `{"header":{"date":"20261129","time":"172522"},"body":{"companycode":"330106000123456","companypassword":"pw"}}`)
	if a.Code != "1" {
		t.Fatalf("token: %+v", a)
	}
	body := `{"vehicleplatenumber":"粤EFS888","vehicleplatecolor":"蓝","companyname":"杭州西湖汽车维修有限公司","vin":"LFV2A21K8A4052691",
"repairdate":"20260313","repairmileage":"30000","settledate":"20260314","faultdescription":"发动机漏油","costlistcode":"C1",
"vehiclepartslist":[],"repairprojectlist":[{"repairproject":"换机油","workinghours":"1"}]}`
	req := func(b string) string {
		return `{"access_token":"` + a.AccessToken + `","header":{"date":"20261129","time":"172522"},"body":` + b + `}`
	}
	if got := get("upRepairInfo.ashx", "repairdata", req(body)); got.Code != "1" {
		t.Fatalf("good record: %+v", got)
	}
	if got := get("upRepairInfo.ashx", "repairdata", req(strings.Replace(body, `"蓝"`, `"紫"`, 1))); got.Code != "-2" || !strings.Contains(got.Status, "vehicleplatecolor") {
		t.Fatalf("unknown colour: %+v", got)
	}
	if got := get("upRepairInfo.ashx", "repairdata", req(strings.Replace(body, `"vehicleplatecolor":"蓝",`, ``, 1))); got.Code != "-1" {
		t.Fatalf("no colour: %+v", got)
	}
	if len(sim.Uploads()) != 1 {
		t.Fatalf("uploads %+v", sim.Uploads())
	}
}
