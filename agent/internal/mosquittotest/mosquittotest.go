// Package mosquittotest starts a real Mosquitto broker for integration tests.
//
// It also offers small helpers around it: a subscriber that collects messages,
// a TCP proxy that can cut connections, and a test CA that issues server and
// client certificates.
//
// [Start] finds the mosquitto binary (PATH, /usr/sbin, /usr/local/sbin). When
// it is missing it runs the repository's scripts/install-test-tools.sh
// mosquitto once per test binary; if the binary is still missing the test
// fails when the environment variable CI is "true" and is skipped otherwise.
//
// Each broker listens on two free loopback ports with a generated
// configuration (per_listener_settings true, persistence off unless
// Options.Persistence):
//
//   - a plain listener (tcp://127.0.0.1:port), anonymous, no ACL: for test
//     observers, command senders and tests that do not care about TLS;
//   - a TLS listener (ssl://127.0.0.1:port) with a CA, server certificate and
//     client certificates generated in the test (ECDSA P-256),
//     require_certificate true, use_identity_as_username true and an ACL file
//     keyed by shop and device (the form docs/broker.md documents): device
//     D of shop S has a certificate with the common name "S/D" (Identity),
//     may write only <prefix>/S/D/# and read only <prefix>/S/D/cmd and
//     <prefix>/S/D/status; the same device id in another shop has no
//     rights on them.
//
// The broker log is attached to the test output when the test fails.
package mosquittotest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/testtool"
)

// DefaultPrefix is the topic prefix of the generated ACL when
// Options.Prefix is empty.
const DefaultPrefix = "bayagent"

// Device names a device that gets a client certificate (common name
// Identity(Shop, ID)) and ACL rights on <prefix>/<Shop>/<ID>/#.
type Device struct {
	Shop, ID string
}

// Identity is the broker user name of device id of shop: the common name
// of its client certificate, "<shop>/<id>", so that the same device id in
// two shops is two users.
func Identity(shop, id string) string { return shop + "/" + id }

// Options configures a broker. The zero value is usable.
type Options struct {
	// Prefix is the topic prefix of the ACL; "" means DefaultPrefix.
	Prefix string
	// Devices get client certificates and ACL entries.
	Devices []Device
	// MessageSizeLimit is Mosquitto's message_size_limit (payload bytes);
	// 0 leaves Mosquitto's default (the MQTT maximum).
	MessageSizeLimit int
	// Verbose sets log_type all (every packet is logged).
	Verbose bool
	// Persistence keeps sessions and retained messages across Stop/Start
	// and Restart (Mosquitto saves them on a graceful stop). Off by default.
	Persistence bool
}

// Broker is a running (or stopped) Mosquitto process owned by one test.
type Broker struct {
	t    testing.TB
	bin  string
	opts Options

	// Dir holds the configuration, certificates and ACL.
	Dir string
	// PlainAddr and TLSAddr are the listeners' host:port.
	PlainAddr, TLSAddr string
	// PlainURL is tcp://PlainAddr, TLSURL is ssl://TLSAddr.
	PlainURL, TLSURL string
	// CA signed the server and client certificates; CA.File is its PEM.
	CA *CA

	certs map[string][2]string

	mu     sync.Mutex
	log    logBuffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// Binary returns the path of a Mosquitto program ("mosquitto",
// "mosquitto_pub", ...), installing Mosquitto with the repository script
// when it is missing. It fails the test when CI=true and skips it otherwise
// if the program cannot be found.
func Binary(t testing.TB, name string) string {
	t.Helper()
	return testtool.Need(t, "mosquitto", "mosquittotest: "+name, func() string { return lookup(name) })
}

func lookup(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Start generates certificates and configuration, starts Mosquitto on two
// free loopback ports and waits until both listeners accept connections.
// The broker is stopped by t.Cleanup.
func Start(t testing.TB, opts Options) *Broker {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	b := &Broker{t: t, bin: Binary(t, "mosquitto"), opts: opts, Dir: t.TempDir(), certs: map[string][2]string{}}
	b.CA = NewCA(t, b.Dir, "ca")
	b.CA.Issue(t, b.Dir, "server", "localhost", true)
	for _, d := range opts.Devices {
		c, k := b.CA.Issue(t, b.Dir, "client-"+d.Shop+"-"+d.ID, Identity(d.Shop, d.ID), false)
		b.certs[Identity(d.Shop, d.ID)] = [2]string{c, k}
	}
	b.writeACL()
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("mosquitto log (%s):\n%s", b.Dir, b.Log())
		}
	})
	// A port picked by listening on :0 and closing can be taken by someone
	// else before Mosquitto binds it; try a few times.
	var err error
	for range 3 {
		b.PlainAddr, b.TLSAddr = FreeAddr(t), FreeAddr(t)
		b.PlainURL, b.TLSURL = "tcp://"+b.PlainAddr, "ssl://"+b.TLSAddr
		if err = b.start(); err == nil {
			return b
		}
	}
	t.Fatalf("mosquittotest: %v\n%s", err, b.Log())
	return nil
}

// ClientCert returns the certificate and key files issued for device id
// (one of Options.Devices, in one shop only; see ShopClientCert).
func (b *Broker) ClientCert(id string) (certFile, keyFile string) {
	shop := ""
	for _, d := range b.opts.Devices {
		if d.ID == id {
			if shop != "" {
				b.t.Fatalf("mosquittotest: device %q is in shops %s and %s: use ShopClientCert", id, shop, d.Shop)
			}
			shop = d.Shop
		}
	}
	return b.ShopClientCert(shop, id)
}

// ShopClientCert returns the certificate and key files issued for device
// id of shop (one of Options.Devices).
func (b *Broker) ShopClientCert(shop, id string) (certFile, keyFile string) {
	c, ok := b.certs[Identity(shop, id)]
	if !ok {
		b.t.Fatalf("mosquittotest: no client certificate for %q of shop %q (add it to Options.Devices)", id, shop)
	}
	return c[0], c[1]
}

// Log returns the broker's log so far (the last 256 KiB).
func (b *Broker) Log() string { return b.log.String() }

// Stop terminates the broker (SIGTERM, then SIGKILL after 5 s) and waits
// for it to exit. Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	cmd, exited := b.take()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Kill stops the broker with SIGKILL (no goodbye to clients) and waits for
// it to exit.
func (b *Broker) Kill() {
	cmd, exited := b.take()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// take returns the running broker process and forgets it (nil when the
// broker is stopped).
func (b *Broker) take() (*exec.Cmd, chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cmd, exited := b.cmd, b.exited
	b.cmd = nil
	return cmd, exited
}

// Start starts a stopped broker again on the same ports.
func (b *Broker) Start() {
	b.t.Helper()
	if err := b.start(); err != nil {
		b.t.Fatalf("mosquittotest: restart: %v", err)
	}
}

// Restart stops the broker and starts it again on the same ports. With
// persistence off, every session and retained message is lost.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.Start()
}

func (b *Broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return errors.New("broker already running")
	}
	conf := filepath.Join(b.Dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(b.config()), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(b.bin, "-c", conf)
	cmd.Stdout = &b.log
	cmd.Stderr = &b.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", b.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	if err := waitListening(exited, b.PlainAddr, b.TLSAddr); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return err
	}
	b.cmd, b.exited = cmd, exited
	return nil
}

// waitListening dials each address until it accepts, with a bounded number
// of tries and a short growing pause, or fails when the process exits.
func waitListening(exited <-chan struct{}, addrs ...string) error {
	for _, addr := range addrs {
		pause := 5 * time.Millisecond
		for try := 0; ; try++ {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if try == 60 {
				return fmt.Errorf("mosquitto does not accept connections on %s: %w", addr, err)
			}
			t := time.NewTimer(pause)
			select {
			case <-exited:
				t.Stop()
				return errors.New("mosquitto exited during startup (see log)")
			case <-t.C:
			}
			pause = min(2*pause, 100*time.Millisecond)
		}
	}
	return nil
}

// FreeAddr returns a loopback address (127.0.0.1:port) with a port that
// was free a moment ago, for a test server that must be told its port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mosquittotest: pick a port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (b *Broker) config() string {
	var s strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&s, format+"\n", a...) }
	port := func(addr string) string {
		_, pt, _ := net.SplitHostPort(addr)
		return pt
	}
	p("per_listener_settings true")
	if b.opts.Persistence {
		p("persistence true")
		p("persistence_location %s/", b.Dir)
		p("autosave_interval 0")
	} else {
		p("persistence false")
	}
	p("log_dest stderr")
	if b.opts.Verbose {
		p("log_type all")
	} else {
		for _, lt := range []string{"error", "warning", "notice", "information"} {
			p("log_type %s", lt)
		}
	}
	p("connection_messages true")
	// Test observers must not lose messages to broker-side queue limits.
	p("max_queued_messages 0")
	p("max_inflight_messages 0")
	if b.opts.MessageSizeLimit > 0 {
		p("message_size_limit %d", b.opts.MessageSizeLimit)
	}
	if os.Geteuid() == 0 {
		// Keep root: the files live in the test's private temp dir.
		p("user root")
	}
	p("")
	p("listener %s 127.0.0.1", port(b.PlainAddr))
	p("allow_anonymous true")
	p("")
	p("listener %s 127.0.0.1", port(b.TLSAddr))
	p("allow_anonymous false")
	p("cafile %s", b.CA.File)
	p("certfile %s", filepath.Join(b.Dir, "server.crt"))
	p("keyfile %s", filepath.Join(b.Dir, "server.key"))
	p("require_certificate true")
	p("use_identity_as_username true")
	p("acl_file %s", filepath.Join(b.Dir, "acl"))
	return s.String()
}

func (b *Broker) writeACL() {
	var s strings.Builder
	s.WriteString("# generated by mosquittotest\n")
	for _, d := range b.opts.Devices {
		root := b.opts.Prefix + "/" + d.Shop + "/" + d.ID
		fmt.Fprintf(&s, "\nuser %s\ntopic write %s/#\ntopic read %s/cmd\ntopic read %s/status\n", Identity(d.Shop, d.ID), root, root, root)
	}
	writeFile(b.t, filepath.Join(b.Dir, "acl"), []byte(s.String()))
}

// logBuffer keeps the last logLimit bytes written to it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const logLimit = 256 << 10

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if n := l.buf.Len(); n > 2*logLimit {
		keep := append([]byte(nil), l.buf.Bytes()[n-logLimit:]...)
		l.buf.Reset()
		l.buf.WriteString("[... earlier log dropped ...]\n")
		l.buf.Write(keep)
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Port returns the port number of a host:port address.
func Port(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
