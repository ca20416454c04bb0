// Package web is the bay screen: the agent's web pages for the technician's
// phone or tablet.
//
// They are in Chinese and English.
//
// The agent serves it on screen.listen (off unless configured): standard
// library net/http and html/template, every asset embedded, no script or
// font from outside (the shop's LAN may have no internet), a page under
// 100 KB, live updates by Server-Sent Events with a few lines of
// hand-written JavaScript (without it the pages still work: they are
// plain HTML with forms).
//
// # Pages
//
//	/            Now: the vehicle at the bay, its VIN, protocol, MIL, codes
//	             with their ECU and description, readiness, key live values,
//	             the pre-check verdict and findings with what to do next
//	/job         the open job: phase, events in order, before/after, the
//	             emission tests with their verdicts and the instrument's state
//	/live        chosen PIDs updating, with a small chart
//	/box         the box: outbox depth, last upload, broker, last error, clock
//	/report/ID   the printable report of a job for the customer
//
// Each page's changing part is rendered on the server and pushed again
// over /events whenever what it shows changes: a stored record
// (Server.Record), a live sample (Server.Live), a change of status
// (Server.Changed).
//
// # Access
//
// Every page needs a login; there is no default password. The box's PIN
// (or password) is set at install with `bayagent screen pin`, which keeps
// only its PBKDF2 hash in the PIN file (0600); until it is set nobody can
// log in. A login names the technician, whose id the actions then carry.
// Sessions live in memory (a restart logs everybody out) behind an
// HttpOnly, SameSite=Strict cookie (Secure over HTTPS); every POST must
// carry the session's CSRF token and pass net/http's cross-origin check.
// Failed logins are rate limited per address and in total, and logged
// without the PIN. HTTPS uses the box's certificate when screen.cert_file
// and screen.key_file are set.
//
// # Actions
//
// Start a scan, take a reading, run an emission test (in the background:
// the Job page shows its progress and prompts, then its verdict), add a
// note, clear DTCs, start and stop the live feed, and (with screen.job_actions, for shops whose own software
// does not drive jobs) open, close and cancel a job. An action is the same
// command, with the same arguments, checks and reply codes, as one sent on
// the MQTT command topic: the page calls the agent's command handler. An
// "audit" record saying who did what from the page is stored before the
// command runs; when it cannot be stored, the command does not run.
package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/bayagent/bayagent/agent/findings"
	"github.com/bayagent/bayagent/agent/i18n"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
)

// Agent is what the screen needs from the agent.
type Agent interface {
	// Command runs a command exactly as one from the MQTT command topic.
	Command(ctx context.Context, name string, args json.RawMessage) (any, error)
	// Status is the agent's part of the retained status message. Its
	// last_error and broker_error may be a [Problem], shown in the
	// reader's language.
	Status() map[string]any
	// OpenJob returns the bay's open job.
	OpenJob() (job.Job, bool)
	// ClosedJob returns a job closed at settlement.
	ClosedJob(id string) (job.Closed, error)
	// Audit stores an audit record; it returns once it is stored.
	Audit(ctx context.Context, a Audit) error
}

// Problem is an error as the screen shows it: a message of the catalogue
// (package i18n), in the reader's language, and the system's own detail
// (the error of the operating system, a driver or the broker, which no
// catalogue can hold), shown beside it marked as English.
type Problem struct {
	Message i18n.Message
	Detail  string
}

// Audit is the body of an "audit" record: an action taken from the bay
// screen, who took it and from where. Args are the command's arguments as
// sent to the command handler.
type Audit struct {
	Via        string          `json:"via"` // "screen"
	Technician string          `json:"technician"`
	Session    string          `json:"session"` // a short id of the login session
	Remote     string          `json:"remote"`  // the browser's address
	Action     string          `json:"action"`  // the command name, or login / logout
	Args       json.RawMessage `json:"args,omitempty"`
}

// Options configures a Server. Addr and PINFile are required.
type Options struct {
	// Addr is the listen address, host:port (":8080").
	Addr string
	// CertFile and KeyFile: serve HTTPS with this certificate (the box's
	// own); both or neither.
	CertFile, KeyFile string
	// PINFile holds the hash of the screen's PIN (WritePINFile). It is
	// read at every login, so a new PIN takes effect at once.
	PINFile string
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
	// Lang is the language for browsers that ask for neither English nor
	// Chinese (default Chinese).
	Lang i18n.Lang
	// JobActions allows opening, closing and cancelling jobs from the page.
	JobActions bool
	// Rules is the pre-check rule set (default findings.DefaultRules).
	Rules *findings.Rules
	// Logger; nil discards.
	Logger *slog.Logger
	// Now gives the time; nil is time.Now.
	Now func() time.Time
}

// DefaultSessionTTL is Options.SessionTTL's default.
const DefaultSessionTTL = 12 * time.Hour

// Server is the bay screen. Create it with New, serve it with Run.
type Server struct {
	opts  Options
	agent Agent
	log   *slog.Logger
	now   func() time.Time
	rules findings.Rules

	sessions *sessions
	limit    *limiter
	pinCheck chan struct{} // one PIN check at a time: each costs ~0.5 s of CPU on a Pi
	feed     *feed
	handler  http.Handler

	listening chan struct{} // closed once Run listens
	mu        sync.Mutex
	addr      net.Addr // once listening

	// The background action (an emission test started from the page):
	// bgCtx ends when Run returns, which waits for bgWG.
	bgMu     sync.Mutex
	bg       *bgRun
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bgWG     sync.WaitGroup
}

// New prepares the screen; nothing is served before Run.
func New(opts Options, a Agent) (*Server, error) {
	if opts.Addr == "" {
		return nil, errors.New("web: Options.Addr is required")
	}
	if opts.PINFile == "" {
		return nil, errors.New("web: Options.PINFile is required")
	}
	if (opts.CertFile == "") != (opts.KeyFile == "") {
		return nil, errors.New("web: give both the certificate and the key file for HTTPS, or neither")
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.Lang == "" {
		opts.Lang = i18n.Chinese
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rules := findings.DefaultRules()
	if opts.Rules != nil {
		rules = *opts.Rules
	}
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		opts: opts, agent: a, log: log, now: opts.Now, rules: rules,
		sessions:  &sessions{ttl: opts.SessionTTL, now: opts.Now, byID: map[string]*session{}},
		limit:     newLimiter(opts.Now),
		pinCheck:  make(chan struct{}, 1),
		feed:      newFeed(),
		listening: make(chan struct{}),
	}
	if err := parseTemplates(); err != nil {
		return nil, err
	}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	s.handler = s.routes()
	return s, nil
}

// Handler returns the screen's HTTP handler (Run serves it).
func (s *Server) Handler() http.Handler { return s.handler }

// Listening is closed once Run listens (then Addr and URL are set).
func (s *Server) Listening() <-chan struct{} { return s.listening }

// Addr returns the address the screen listens on, once Run has started
// listening; nil before.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL returns the screen's address for a browser, once listening: with
// the loopback address when the screen listens on every interface.
func (s *Server) URL() string {
	a, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if s.opts.CertFile != "" {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(host, fmt.Sprint(a.Port)))
}

// Shutdown grace for open requests; the event streams end at once.
const shutdownGrace = 2 * time.Second

// Run listens on Options.Addr and serves until ctx ends (Listening is
// closed once it listens). Shutdown: the event streams are told to
// end, the listener closes, and requests in progress get shutdownGrace to
// finish.
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if s.opts.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.opts.CertFile, s.opts.KeyFile)
		if err != nil {
			return fmt.Errorf("web: HTTPS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	if _, err := readPINFile(s.opts.PINFile); err != nil {
		s.log.Warn("bay screen: nobody can log in until a PIN is set", "err", err)
	}
	s.log.Info("bay screen listening", "url", s.URL())
	close(s.listening)
	done := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	defer s.bgWG.Wait()
	defer s.bgCancel()
	select {
	case err := <-done:
		return fmt.Errorf("web: %w", err)
	case <-ctx.Done():
	}
	s.feed.close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err = srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	<-done
	return err
}

// Record, Live and Changed do nothing on a nil *Server (the screen is
// off).

// Record tells the screen about a stored record (the agent calls it after
// every commit): a scan shows on Now, a job's events on Job.
func (s *Server) Record(rec record.Record) {
	if s == nil {
		return
	}
	s.feed.record(rec, true)
}

// Seed tells the screen about a record stored before it started (the
// agent gives it the latest ones the outbox holds), so that Now shows the
// last scan and the reports of recent jobs name their records after a
// restart.
func (s *Server) Seed(rec record.Record) {
	if s == nil {
		return
	}
	s.feed.record(rec, false)
}

// Live tells the screen about a message of the live feed (the JSON the
// agent publishes on the live topic).
func (s *Server) Live(msg []byte) {
	if s == nil {
		return
	}
	s.feed.live(msg, s.now())
}

// Changed tells the screen the agent's status changed (a vehicle came or
// went, the broker connection changed).
func (s *Server) Changed() {
	if s == nil {
		return
	}
	s.feed.changed(topicAll)
}
