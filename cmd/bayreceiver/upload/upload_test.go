package upload_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/cmd/bayreceiver/provsim"
	"github.com/bayagent/bayagent/cmd/bayreceiver/upload"
)

const (
	shop        = "330106000123456"
	password    = "s3cret"
	companyName = "杭州西湖汽车维修有限公司"
	appID       = "bayagent-test"
)

var secret = []byte("staged secret")

// example is the repository's example closed emission repair as a health
// record.
func example(t *testing.T) healthrecord.Record {
	t.Helper()
	f, err := os.Open("../../../testdata/jobs/emission-repair.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := job.DecodeClosed(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := healthrecord.FromJob(c, companyName)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// server starts the simulator over TLS and returns it with options whose
// client verifies the simulator's certificate.
func server(t *testing.T, so provsim.Options) (*provsim.Sim, upload.Options) {
	t.Helper()
	so.Companies = append(so.Companies, provsim.Company{Code: shop, Password: password, Name: companyName})
	if so.StagedApps == nil {
		so.StagedApps = map[string][]byte{appID: secret}
	}
	sim := provsim.New(so)
	srv := httptest.NewTLSServer(sim)
	t.Cleanup(srv.Close)
	return sim, upload.Options{
		BaseURL: srv.URL,
		Client:  srv.Client(),
		Company: func(s string) (upload.Company, error) {
			if s != shop {
				return upload.Company{}, errors.New("not configured")
			}
			return upload.Company{Code: shop, Password: password}, nil
		},
	}
}

func shared(t *testing.T, o upload.Options, d healthrecord.Shared) *upload.Shared {
	t.Helper()
	o.BaseURL += "/restservices/lcipprodatarest"
	c, err := upload.NewShared(o, d)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSharedTokenCachedAndRenewed(t *testing.T) {
	for _, viaHTTP := range []bool{false, true} {
		sim, o := server(t, provsim.Options{TokenErrorHTTP: viaHTTP})
		c := shared(t, o, healthrecord.Shared{OmitExtension: true})
		ctx := context.Background()
		rec := example(t)
		for i := range 2 {
			res, err := c.Upload(ctx, rec)
			if err != nil || !strings.Contains(res.Reply, "新增成功") {
				t.Fatalf("upload %d: %v %q", i, err, res.Reply)
			}
		}
		if n := sim.Counts().Tokens; n != 1 {
			t.Fatalf("%d token requests for two uploads, want 1 (cached)", n)
		}
		// The token expires mid-run: the next upload is refused once, gets a
		// new token and goes through.
		sim.ExpireTokens()
		if _, err := c.Upload(ctx, rec); err != nil {
			t.Fatalf("upload after expiry (HTTP 401: %v): %v", viaHTTP, err)
		}
		cn := sim.Counts()
		if cn.Tokens != 2 || cn.TokenRefusals != 1 || cn.Records != 3 {
			t.Fatalf("counts %+v (HTTP 401: %v)", cn, viaHTTP)
		}
		up := sim.Uploads()
		var body struct {
			BasicInfo map[string]string `json:"basicInfo"`
		}
		if err := json.Unmarshal(up[0].Body, &body); err != nil || body.BasicInfo["vin"] != rec.VIN || up[0].Key != rec.SettlementNo || up[0].Company != shop {
			t.Fatalf("accepted %+v: %v", up[0], err)
		}
	}
}

func TestSharedTokenRenewedOnExpiry(t *testing.T) {
	now := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	sim, o := server(t, provsim.Options{})
	o.Now = func() time.Time { return now }
	o.TokenTTL = time.Hour
	c := shared(t, o, healthrecord.Shared{OmitExtension: true})
	rec := example(t)
	c.Upload(context.Background(), rec)
	now = now.Add(61 * time.Minute) // past the client's TTL: renewed before sending
	if _, err := c.Upload(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if cn := sim.Counts(); cn.Tokens != 2 || cn.TokenRefusals != 0 {
		t.Fatalf("counts %+v: want a new token without a refusal", cn)
	}
}

func TestSharedRejectionsAndFailures(t *testing.T) {
	sim, o := server(t, provsim.Options{})
	ctx := context.Background()
	rec := example(t)
	c := shared(t, o, healthrecord.Shared{})
	// The extension member is refused by a strict province: rejected with
	// its reason.
	_, err := c.Upload(ctx, rec)
	if !errors.Is(err, upload.ErrRejected) || !strings.Contains(err.Error(), "code -2") || !strings.Contains(err.Error(), "x_bayagent_mstation") {
		t.Fatalf("extension: %v", err)
	}
	c = shared(t, o, healthrecord.Shared{OmitExtension: true})
	bad := rec
	bad.CompanyName = "另一家公司"
	if _, err := c.Upload(ctx, bad); !errors.Is(err, upload.ErrRejected) || !strings.Contains(err.Error(), "companyname") {
		t.Fatalf("wrong company name: %v", err)
	}
	// A record the job cannot fill is refused before sending.
	bad = rec
	bad.FaultDescription = ""
	before := sim.Counts()
	if _, err := c.Upload(ctx, bad); !errors.Is(err, upload.ErrRejected) || sim.Counts() != before {
		t.Fatalf("empty fault description: %v (sent: %v)", err, sim.Counts() != before)
	}
	sim.FailNext(1, provsim.FailHTTP)
	if _, err := c.Upload(ctx, rec); !errors.Is(err, upload.ErrTemporary) || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("HTTP 503: %v", err)
	}
	sim.FailNext(1, provsim.FailCode)
	if _, err := c.Upload(ctx, rec); !errors.Is(err, upload.ErrTemporary) || !strings.Contains(err.Error(), "-99") {
		t.Fatalf("code -99: %v", err)
	}
	other := rec
	other.Shop = "330106000999999"
	if _, err := c.Upload(ctx, other); !errors.Is(err, upload.ErrTemporary) || !strings.Contains(err.Error(), "no credentials") {
		t.Fatalf("unknown shop: %v", err)
	}
	o.Company = func(string) (upload.Company, error) { return upload.Company{Code: shop, Password: "wrong"}, nil }
	c = shared(t, o, healthrecord.Shared{OmitExtension: true})
	if _, err := c.Upload(ctx, rec); !errors.Is(err, upload.ErrTemporary) || !strings.Contains(err.Error(), "-11") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := c.Upload(ctx, rec); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("the password appears in an error: %v", err)
	}
}

func TestGuangdong(t *testing.T) {
	sim, o := server(t, provsim.Options{})
	o.BaseURL += "/api"
	c, err := upload.NewGuangdong(o, healthrecord.Guangdong{})
	if err != nil {
		t.Fatal(err)
	}
	rec := example(t)
	ctx := context.Background()
	if _, err := c.Upload(ctx, rec); err != nil {
		t.Fatal(err)
	}
	sim.ExpireTokens()
	if _, err := c.Upload(ctx, rec); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	up := sim.Uploads()
	var body map[string]any
	json.Unmarshal(up[0].Body, &body)
	if len(up) != 2 || up[0].Dialect != "guangdong" || body["vehicleplatecolor"] != "蓝" || sim.Counts().Tokens != 2 {
		t.Fatalf("uploads %+v, counts %+v", up, sim.Counts())
	}
	rec.PlateColor = ""
	if _, err := c.Upload(ctx, rec); !errors.Is(err, upload.ErrRejected) || !strings.Contains(err.Error(), "plate colour") {
		t.Fatalf("no plate colour: %v", err)
	}
}

func TestStaged(t *testing.T) {
	sim, o := server(t, provsim.Options{})
	o.BaseURL += "/staged"
	d := healthrecord.Staged{FuelType: "A", NatureOfUse: "01", ServiceTypes: map[string]string{"emission_repair": "M1"}}
	c, err := upload.NewStaged(o, d, appID, secret)
	if err != nil {
		t.Fatal(err)
	}
	rec := example(t)
	ctx := context.Background()
	if _, err := c.Upload(ctx, rec); !errors.Is(err, upload.ErrRejected) || !strings.Contains(err.Error(), "total cost") {
		t.Fatalf("no total cost: %v", err)
	}
	rec.TotalCost = "1280.5"
	// The items stage fails: the intake is in, the upload is not.
	sim.FailNextOn("/staged/items", 1, provsim.FailHTTP)
	if _, err := c.Upload(ctx, rec); !errors.Is(err, upload.ErrTemporary) {
		t.Fatalf("items failing: %v", err)
	}
	// The retry corrects the intake with update and finishes.
	if _, err := c.Upload(ctx, rec); err != nil {
		t.Fatal(err)
	}
	sim2 := sim
	if up := sim2.Uploads(); len(up) != 1 || up[0].Key != rec.JobID || up[0].Dialect != "staged" {
		t.Fatalf("uploads %+v", up)
	}
	// Uploaded again (a retry after a lost reply): intake corrected with
	// update, items replaced, the settlement already there counts as done.
	if _, err := c.Upload(ctx, rec); err != nil {
		t.Fatalf("second upload: %v", err)
	}
	bad, _ := upload.NewStaged(o, d, appID, []byte("wrong"))
	if _, err := bad.Upload(ctx, rec); !errors.Is(err, upload.ErrTemporary) || !strings.Contains(err.Error(), upload.StagedCodeSignature) {
		t.Fatalf("wrong secret: %v", err)
	}
}
