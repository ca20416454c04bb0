package upload

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/bayagent/bayagent/agent/healthrecord"
)

// Guangdong uploads through the Guangdong (Foshan) .ashx interface: GET
// <base>/getAccessToken.ashx?companydata=<JSON> with
// {"header":{"date","time"},"body":{companycode, companypassword}}, then
// GET <base>/upRepairInfo.ashx?repairdata=<JSON> with
// {"access_token","header":{"date","time"},"body":{...}}, each JSON
// URL-encoded. The header's date (yyyyMMdd) and time (HHmmss) are China
// time. The replies are read as the shared API's ({code, status,
// access_token}, code "1" success): public code shows the requests, not
// the replies (unverified).
type Guangdong struct {
	o      Options
	d      healthrecord.Guangdong
	tokens tokens
}

// NewGuangdong returns a client of the Guangdong interface.
func NewGuangdong(o Options, d healthrecord.Guangdong) (*Guangdong, error) {
	if err := o.defaults(true); err != nil {
		return nil, err
	}
	return &Guangdong{o: o, d: d}, nil
}

// Dialect implements Uploader.
func (g *Guangdong) Dialect() string { return g.d.Name() }

type gdHeader struct {
	Date string `json:"date"`
	Time string `json:"time"`
}

func (g *Guangdong) header() gdHeader {
	now := g.o.Now().In(healthrecord.ChinaTime)
	return gdHeader{Date: now.Format("20060102"), Time: now.Format("150405")}
}

func (g *Guangdong) get(ctx context.Context, method, param string, v any) (*response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.o.BaseURL+"/"+method+"?"+param+"="+url.QueryEscape(string(b)), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	return do(g.o.Client, req)
}

func (g *Guangdong) fetch(ctx context.Context, c Company) (string, error) {
	r, err := g.get(ctx, "getAccessToken.ashx", "companydata", map[string]any{
		"header": g.header(),
		"body":   map[string]string{"companycode": c.Code, "companypassword": c.Password},
	})
	if err != nil {
		return "", err
	}
	return tokenReply("getAccessToken.ashx for company "+c.Code, r)
}

type gdRequest struct {
	AccessToken string                     `json:"access_token"`
	Header      gdHeader                   `json:"header"`
	Body        healthrecord.GuangdongBody `json:"body"`
}

// Upload implements Uploader.
func (g *Guangdong) Upload(ctx context.Context, rec healthrecord.Record) (Result, error) {
	body, err := bodyOf(g.d, rec)
	if err != nil {
		return Result{}, err
	}
	c, err := company(&g.o, rec.Shop)
	if err != nil {
		return Result{}, err
	}
	r, err := withToken(ctx, &g.o, &g.tokens, c, g.fetch, func(tok string) (*response, error) {
		return g.get(ctx, "upRepairInfo.ashx", "repairdata", gdRequest{tok, g.header(), body.(healthrecord.GuangdongBody)})
	})
	if err != nil {
		return Result{}, err
	}
	if err := recordReply(fmt.Sprintf("upRepairInfo.ashx of job %s", rec.JobID), r, []string{"1"}, []string{"-99"}); err != nil {
		return Result{Reply: string(r.body)}, err
	}
	return Result{Reply: string(r.body)}, nil
}
