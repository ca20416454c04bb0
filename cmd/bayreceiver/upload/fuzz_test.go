package upload

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReply feeds arbitrary HTTP statuses and bodies, as a health-record
// system might answer, to the readers of a record upload's and a token
// request's reply: no panic; an upload is accepted only on its ok code
// exactly, else temporary or rejected, never both; and what the error quotes of the system's reply is
// bounded and valid UTF-8 when the body is.
func FuzzReply(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"code":"1","status":"新增成功"}`},
		{200, `{"code":1,"access_token":"a1b2c3"}`},
		{200, `{"code":-2,"status":"格式错误: basicInfo.companyname 与企业注册名称不符"}`},
		{200, `{"code":"-20","status":"access_token 已过期"}`},
		{200, `{"code":"0","message":"` + strings.Repeat("系统繁忙", 200) + `"}`},
		{401, `{"code":"-20"}`},
		{200, `{"code":null}`},
		{200, `{"code":" 1 ","status":"ok?"}`},
		{200, `{"code":{"x":1}}`},
		{502, "<html><body>502 Bad Gateway</body></html>"},
		{200, ""},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r := newResponse(status, body)
		const bound = 2*300 + 200 // two clipped quotes and the sentence around them
		err := recordReply("upload", r, []string{"1"}, []string{"0"})
		temporary, rejected := errors.Is(err, ErrTemporary), errors.Is(err, ErrRejected)
		switch {
		case err == nil && (status != http.StatusOK || !r.json || r.reply.Code == nil || *r.reply.Code != "1"):
			t.Fatalf("HTTP %d %q accepted without the ok code", status, body)
		case err != nil && temporary == rejected:
			t.Fatalf("HTTP %d %q: %v is not exactly one of temporary and rejected", status, body, err)
		case err != nil && len(err.Error()) > bound:
			t.Fatalf("error of %d bytes: %.80s...", len(err.Error()), err)
		case err != nil && utf8.Valid(body) && !utf8.ValidString(err.Error()):
			t.Fatalf("error not valid UTF-8: %q", err)
		}
		tok, err := tokenReply("token", r)
		switch {
		case err == nil && tok == "":
			t.Fatalf("HTTP %d %q: no token and no error", status, body)
		case err != nil && !errors.Is(err, ErrTemporary):
			t.Fatalf("token reply error %v is not temporary", err)
		case err != nil && len(err.Error()) > bound+100:
			t.Fatalf("token error of %d bytes", len(err.Error()))
		}
	})
}
