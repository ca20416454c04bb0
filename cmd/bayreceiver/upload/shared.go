package upload

import (
	"context"
	"fmt"

	"github.com/bayagent/bayagent/agent/healthrecord"
)

// Shared uploads through the lcipprodatarest API many provinces share:
// POST <base>/lcipprogetaccesstoken/query {companycode, companypassword}
// -> {code, status, access_token}, then POST
// <base>/lcipprocarfixrecordadd/query with the access token beside the
// record's members -> {code, status}. Code "1" is success; otherwise
// status is the reason. Code -99 ("error") is taken as temporary; every
// other code rejects the record.
type Shared struct {
	o      Options
	d      healthrecord.Shared
	tokens tokens
}

// NewShared returns a client of the shared API; d shapes the body.
func NewShared(o Options, d healthrecord.Shared) (*Shared, error) {
	if err := o.defaults(true); err != nil {
		return nil, err
	}
	return &Shared{o: o, d: d}, nil
}

// Dialect implements Uploader.
func (s *Shared) Dialect() string { return s.d.Name() }

func (s *Shared) fetch(ctx context.Context, c Company) (string, error) {
	r, err := postJSON(ctx, s.o.Client, s.o.BaseURL+"/lcipprogetaccesstoken/query",
		map[string]string{"companycode": c.Code, "companypassword": c.Password})
	if err != nil {
		return "", err
	}
	return tokenReply("lcipprogetaccesstoken for company "+c.Code, r)
}

// sharedRequest is the record body with the access token beside it.
type sharedRequest struct {
	AccessToken string `json:"access_token"`
	healthrecord.Upload
}

// Upload implements Uploader.
func (s *Shared) Upload(ctx context.Context, rec healthrecord.Record) (Result, error) {
	body, err := bodyOf(s.d, rec)
	if err != nil {
		return Result{}, err
	}
	c, err := company(&s.o, rec.Shop)
	if err != nil {
		return Result{}, err
	}
	r, err := withToken(ctx, &s.o, &s.tokens, c, s.fetch, func(tok string) (*response, error) {
		return postJSON(ctx, s.o.Client, s.o.BaseURL+"/lcipprocarfixrecordadd/query", sharedRequest{tok, body.(healthrecord.Upload)})
	})
	if err != nil {
		return Result{}, err
	}
	if err := recordReply(fmt.Sprintf("lcipprocarfixrecordadd of job %s", rec.JobID), r, []string{"1"}, []string{"-99"}); err != nil {
		return Result{Reply: string(r.body)}, err
	}
	return Result{Reply: string(r.body)}, nil
}
