package upload

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/bayagent/bayagent/agent/healthrecord"
)

// Staged uploads through the staged, signed API: POST <base>/intake,
// <base>/items and <base>/settlement in turn, each body an envelope
// {"appId","nonce","timestamp","sign","data"} where timestamp is
// milliseconds since 1970 and sign is Sign of the other members. Replies
// are {code, message, data}; code 0 is success. An intake the system
// already has (StagedCodeExists) is corrected with <base>/update instead,
// and a settlement it already has counts as done, so an upload retried
// after a failure part-way goes through. The envelope, the signature
// scheme and the codes are ours (DOMAIN.md gives the shape, not the
// names: unverified) and are kept in this file and in Sign.
type Staged struct {
	o      Options
	d      healthrecord.Staged
	appID  string
	secret []byte
}

// Reply codes of the staged API.
const (
	StagedCodeOK        = "0"
	StagedCodeField     = "4001" // a field is missing or malformed
	StagedCodeSignature = "4010" // bad signature
	StagedCodeTimestamp = "4011" // timestamp too far from the server's clock
	StagedCodeNonce     = "4012" // nonce used before
	StagedCodeNoOrder   = "4040" // items or settlement before the intake
	StagedCodeExists    = "4090" // the stage was received before
	StagedCodeServer    = "5000"
)

// NewStaged returns a client of the staged API for the application appID
// with its signing secret.
func NewStaged(o Options, d healthrecord.Staged, appID string, secret []byte) (*Staged, error) {
	if err := o.defaults(false); err != nil {
		return nil, err
	}
	if appID == "" || len(secret) == 0 {
		return nil, fmt.Errorf("%w: the staged API needs an app id and a secret", ErrOptions)
	}
	return &Staged{o: o, d: d, appID: appID, secret: secret}, nil
}

// Dialect implements Uploader.
func (s *Staged) Dialect() string { return s.d.Name() }

// Sign is the staged API's signature: lowercase hex HMAC-SHA256, keyed by
// the application's secret, of appId, nonce, timestamp and the data's
// JSON, each followed by a newline but the last.
func Sign(secret []byte, appID, nonce, timestamp string, data []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(appID + "\n" + nonce + "\n" + timestamp + "\n"))
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// StagedEnvelope is the body of every staged request.
type StagedEnvelope struct {
	AppID     string          `json:"appId"`
	Nonce     string          `json:"nonce"`
	Timestamp string          `json:"timestamp"`
	Sign      string          `json:"sign"`
	Data      json.RawMessage `json:"data"`
}

func (s *Staged) send(ctx context.Context, method string, data any) (*response, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	var n [16]byte
	_, _ = rand.Read(n[:])
	env := StagedEnvelope{AppID: s.appID, Nonce: hex.EncodeToString(n[:]), Timestamp: strconv.FormatInt(s.o.Now().UnixMilli(), 10), Data: b}
	env.Sign = Sign(s.secret, env.AppID, env.Nonce, env.Timestamp, b)
	return postJSON(ctx, s.o.Client, s.o.BaseURL+"/"+method, env)
}

// stage sends one stage; alt is the code that means "already there".
func (s *Staged) stage(ctx context.Context, rec healthrecord.Record, method string, data any) (*response, error) {
	r, err := s.send(ctx, method, data)
	if err != nil {
		return r, err
	}
	what := fmt.Sprintf("%s of job %s", method, rec.JobID)
	err = recordReply(what, r, []string{StagedCodeOK}, []string{StagedCodeServer, StagedCodeSignature, StagedCodeTimestamp, StagedCodeNonce})
	return r, err
}

func codeOf(r *response) string {
	if r == nil || r.reply.Code == nil {
		return ""
	}
	return string(*r.reply.Code)
}

// Upload implements Uploader.
func (s *Staged) Upload(ctx context.Context, rec healthrecord.Record) (Result, error) {
	body, err := bodyOf(s.d, rec)
	if err != nil {
		return Result{}, err
	}
	u := body.(healthrecord.StagedUpload)
	r, err := s.stage(ctx, rec, "intake", u.Intake)
	if codeOf(r) == StagedCodeExists {
		r, err = s.stage(ctx, rec, "update", u.Intake)
	}
	if err != nil {
		return Result{}, err
	}
	if r, err = s.stage(ctx, rec, "items", u.Items); err != nil {
		return Result{}, err
	}
	r, err = s.stage(ctx, rec, "settlement", u.Settlement)
	if codeOf(r) == StagedCodeExists {
		err = nil
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Reply: string(r.body)}, nil
}
