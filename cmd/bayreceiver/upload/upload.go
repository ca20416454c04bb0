// Package upload sends health records to the provincial health-record systems.
//
// It has one client per dialect: Shared (the lcipprodatarest JSON API many
// provinces share), Guangdong (the .ashx GET interface) and Staged (intake,
// items, settlement, signed). The bodies come from agent/healthrecord's
// dialects; this package adds the transport: access tokens, envelopes,
// signatures, HTTP, and the reading of the replies.
//
// # Errors
//
// Upload returns nil when the provincial system accepted the record, and
// otherwise an error wrapping one of:
//
//   - ErrRejected: the system refused this record (a missing or malformed
//     field, by its reply code), or the job lacks what the dialect needs.
//     Sending it again as it is cannot succeed; the reason is in the error.
//   - ErrTemporary: the system could not be reached, answered with a
//     server error or an unexpected reply, refused the shop's credentials
//     (a configuration matter, not the record's), or did not renew its
//     access token. Retry later.
//
// # Access tokens
//
// The shared and Guangdong dialects authenticate with an access token per
// company (the shop's 15-digit code and its password). A client caches
// each token for Options.TokenTTL and fetches a new one when it is older,
// when a request is answered with HTTP 401, and when the reply's code is
// one of Options.TokenErrorCodes (then the request is sent once more with
// the new token). The token lifetime and the codes meaning "token invalid
// or expired" were not found in public sources (unverified): both are
// configurable.
//
// Nothing is guessed to make a record pass: no invented mileage, fault
// description or plate colour; the body is the job's own data, and TLS is
// verified by the http.Client the caller gives (Options.Client).
package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/check"
	"github.com/bayagent/bayagent/agent/healthrecord"
)

// Errors of the uploads; compare with errors.Is.
var (
	ErrRejected  = errors.New("upload: rejected")
	ErrTemporary = errors.New("upload: temporary failure")
	ErrOptions   = errors.New("upload: invalid options")
)

// Uploader sends one health record; safe for concurrent use.
type Uploader interface {
	// Dialect names the dialect, e.g. "shared".
	Dialect() string
	// Upload sends r and returns the system's reply when it accepted it.
	Upload(ctx context.Context, r healthrecord.Record) (Result, error)
}

// Result is an accepted upload.
type Result struct {
	// Reply is the system's last reply, as received.
	Reply string
}

// Company is a shop's identity at the provincial system.
type Company struct {
	Code     string // the 15-digit company code (the shop code of the records)
	Password string
}

// Defaults for Options.
const (
	DefaultTokenTTL    = time.Hour
	DefaultMaxReply    = 1 << 20
	DefaultHTTPTimeout = 30 * time.Second
)

// DefaultTokenErrorCodes are the reply codes taken to mean "access token
// invalid or expired" (unverified; what the simulator answers).
func DefaultTokenErrorCodes() []string { return []string{"-20"} }

// Options configures a client.
type Options struct {
	// BaseURL is where the dialect's methods live, e.g.
	// https://HOST/restservices/lcipprodatarest for Shared,
	// https://HOST/api for Guangdong, https://HOST/staged for Staged.
	BaseURL string
	// Client sends the requests; nil means a client with
	// DefaultHTTPTimeout that verifies TLS with the system roots.
	Client *http.Client
	// Company returns the credentials of a shop (by its code).
	Company func(shop string) (Company, error)
	// TokenTTL is how long a token is used; 0 means DefaultTokenTTL.
	TokenTTL time.Duration
	// TokenErrorCodes are reply codes that mean "token refused"; nil means
	// DefaultTokenErrorCodes().
	TokenErrorCodes []string
	// Now gives the time; nil means time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
}

func (o *Options) defaults(needCompany bool) error {
	if o.BaseURL == "" || !(strings.HasPrefix(o.BaseURL, "https://") || strings.HasPrefix(o.BaseURL, "http://")) {
		return fmt.Errorf("%w: base URL must be http:// or https://: %q", ErrOptions, o.BaseURL)
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if needCompany && o.Company == nil {
		return fmt.Errorf("%w: Company is required", ErrOptions)
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.TokenErrorCodes == nil {
		o.TokenErrorCodes = DefaultTokenErrorCodes()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// code is a reply code, sent as a string or a number.
type code string

func (c *code) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*c = code(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("reply code %s is neither a string nor a number", b)
	}
	*c = code(n.String())
	return nil
}

// reply is the members the dialects' replies use.
type reply struct {
	Code        *code  `json:"code"`
	Status      string `json:"status"`
	Message     string `json:"message"`
	AccessToken string `json:"access_token"`
}

func (r *reply) text() string {
	if r.Status != "" {
		return r.Status
	}
	return r.Message
}

// response is one HTTP exchange.
type response struct {
	status int
	body   []byte
	reply  reply
	json   bool // body parsed as a reply
}

// do sends req and reads the reply (at most DefaultMaxReply bytes). A
// transport error or an HTTP status of 5xx or 429 is ErrTemporary.
func do(c *http.Client, req *http.Request) (*response, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrTemporary, req.Method, redact(req), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxReply))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: reading the reply: %v", ErrTemporary, req.Method, redact(req), err)
	}
	r := newResponse(resp.StatusCode, body)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return r, fmt.Errorf("%w: %s %s: HTTP %d: %s", ErrTemporary, req.Method, redact(req), resp.StatusCode, clip(body))
	}
	return r, nil
}

// newResponse reads an HTTP status and body as the system's reply.
func newResponse(status int, body []byte) *response {
	r := &response{status: status, body: body}
	r.json = json.Unmarshal(body, &r.reply) == nil
	return r
}

// redact names a request without its query (which may hold the
// password or a token).
func redact(req *http.Request) string {
	u := *req.URL
	u.RawQuery = ""
	return u.String()
}

// clip shortens what a system sent for an error message: at most about
// 300 bytes, cut between characters (the systems answer in Chinese).
func clip[T ~[]byte | ~string](b T) string {
	return check.ClipTo(strings.TrimSpace(string(b)), 300)
}

func postJSON(ctx context.Context, c *http.Client, url string, v any) (*response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	return do(c, req)
}

// tokens caches one access token per company.
type tokens struct {
	mu  sync.Mutex
	tok map[string]token
}

type token struct {
	value string
	until time.Time
}

// get returns the company's token, fetching one when there is none or it
// is older than ttl.
func (t *tokens) get(ctx context.Context, o *Options, c Company, fetch func(context.Context, Company) (string, error)) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tk, ok := t.tok[c.Code]; ok && o.Now().Before(tk.until) {
		return tk.value, nil
	}
	v, err := fetch(ctx, c)
	if err != nil {
		return "", err
	}
	if t.tok == nil {
		t.tok = map[string]token{}
	}
	t.tok[c.Code] = token{value: v, until: o.Now().Add(o.TokenTTL)}
	o.Logger.Info("upload: new access token", "company", c.Code)
	return v, nil
}

// drop forgets the company's token if it is still v.
func (t *tokens) drop(c Company, v string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tk, ok := t.tok[c.Code]; ok && tk.value == v {
		delete(t.tok, c.Code)
	}
}

func isTokenError(o *Options, r *response) bool {
	if r.status == http.StatusUnauthorized {
		return true
	}
	if r.reply.Code == nil {
		return false
	}
	for _, c := range o.TokenErrorCodes {
		if string(*r.reply.Code) == c {
			return true
		}
	}
	return false
}

// tokenReply reads the reply to a token request: code "1" with a token,
// or ErrTemporary naming the system's reason (a company the system does
// not know, or a wrong password, is for the operator to fix).
func tokenReply(what string, r *response) (string, error) {
	switch {
	case !r.json || r.reply.Code == nil:
		return "", fmt.Errorf("%w: %s: HTTP %d, not a reply: %s", ErrTemporary, what, r.status, clip(r.body))
	case *r.reply.Code != "1":
		return "", fmt.Errorf("%w: %s refused (code %s): %s; check the company code and password", ErrTemporary, what, clip(*r.reply.Code), clip(r.reply.text()))
	case r.reply.AccessToken == "":
		return "", fmt.Errorf("%w: %s: code 1 without an access_token", ErrTemporary, what)
	}
	return r.reply.AccessToken, nil
}

// withToken runs send with the company's token, and once more with a new
// one when the reply says the token was refused.
func withToken(ctx context.Context, o *Options, t *tokens, c Company, fetch func(context.Context, Company) (string, error),
	send func(tok string) (*response, error)) (*response, error) {
	for try := 0; ; try++ {
		tok, err := t.get(ctx, o, c, fetch)
		if err != nil {
			return nil, err
		}
		r, err := send(tok)
		if err != nil {
			return r, err
		}
		if !isTokenError(o, r) {
			return r, nil
		}
		t.drop(c, tok)
		if try == 1 {
			return r, fmt.Errorf("%w: the access token was refused again right after it was renewed (HTTP %d): %s", ErrTemporary, r.status, clip(r.body))
		}
		o.Logger.Info("upload: access token refused; fetching a new one", "company", c.Code, "http", r.status)
	}
}

// recordReply reads the reply to a record upload: ok for one of okCodes;
// ErrTemporary for a server error code or something that is not a reply;
// ErrRejected with the system's reason otherwise.
func recordReply(what string, r *response, okCodes []string, temporary []string) error {
	if !r.json || r.reply.Code == nil || r.status != http.StatusOK {
		return fmt.Errorf("%w: %s: HTTP %d, not a reply: %s", ErrTemporary, what, r.status, clip(r.body))
	}
	c := string(*r.reply.Code)
	for _, ok := range okCodes {
		if c == ok {
			return nil
		}
	}
	for _, tmp := range temporary {
		if c == tmp {
			return fmt.Errorf("%w: %s: code %s: %s", ErrTemporary, what, clip(c), clip(r.reply.text()))
		}
	}
	return fmt.Errorf("%w: %s: code %s: %s", ErrRejected, what, clip(c), clip(r.reply.text()))
}

func bodyOf(d healthrecord.Dialect, r healthrecord.Record) (any, error) {
	b, err := d.Upload(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrRejected, d.Name(), err)
	}
	return b, nil
}

func company(o *Options, shop string) (Company, error) {
	c, err := o.Company(shop)
	if err != nil {
		return Company{}, fmt.Errorf("%w: no credentials for shop %s: %v", ErrTemporary, shop, err)
	}
	return c, nil
}
