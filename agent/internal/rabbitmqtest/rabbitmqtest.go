// Package rabbitmqtest runs a private RabbitMQ node with its MQTT plugin for one test.
//
// The node (Debian's rabbitmq-server, installed by the repository's
// scripts/install-test-tools.sh rabbitmq when missing) runs as a child of
// the test with everything in the test's temporary directory: its own
// node name, Erlang cookie, database and log, its own epmd on a free port,
// and listeners on free loopback ports: AMQP (unused by the tests), MQTT
// and MQTT over TLS with a server certificate from a CA of the test
// (mosquittotest.CA). MQTT clients log in anonymously as guest, which
// RabbitMQ allows on loopback only.
//
// RabbitMQ 3.10's MQTT plugin speaks MQTT 3.1.1 with QoS 0 and 1, last
// will, persistent sessions and retained messages, but sends retained
// messages only to subscriptions without wildcards, and has no shared
// subscriptions ($share). A node takes tens of seconds to start on a
// loaded machine; the tests that use it run under make test-brokers.
package rabbitmqtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/testtool"
)

// Broker is a running RabbitMQ node owned by one test.
type Broker struct {
	// Dir holds the configuration, certificates, database and log.
	Dir string
	// PlainAddr and TLSAddr are the MQTT listeners' host:port; PlainURL
	// is tcp://PlainAddr, TLSURL ssl://TLSAddr.
	PlainAddr, TLSAddr string
	PlainURL, TLSURL   string
	// CA signed the server certificate; CA.File is its PEM.
	CA *mosquittotest.CA

	cmd    *exec.Cmd
	exited chan struct{}
	env    []string
	log    string
}

// Binary returns the path of the rabbitmq-server program, installing
// RabbitMQ with the repository script when it is missing (testtool.Need).
func Binary(t testing.TB) string {
	t.Helper()
	return testtool.Need(t, "rabbitmq", "rabbitmq-server", lookup)
}

// lookup finds the node's own start script (Debian's /usr/sbin wrapper
// would switch to the rabbitmq user and its system-wide files).
func lookup() string {
	m, _ := filepath.Glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server")
	if len(m) > 0 {
		return m[len(m)-1]
	}
	return ""
}

// StartTimeout bounds the wait for a node's MQTT listeners.
const StartTimeout = 4 * time.Minute

// Start starts a node and waits until both MQTT listeners accept
// connections. It is stopped by t.Cleanup.
func Start(t testing.TB) *Broker {
	t.Helper()
	bin := Binary(t)
	b := &Broker{Dir: t.TempDir()}
	b.CA = mosquittotest.NewCA(t, b.Dir, "ca")
	cert, key := b.CA.Issue(t, b.Dir, "server", "localhost", true)
	b.log = filepath.Join(b.Dir, "rabbitmq.log")
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			out, _ := os.ReadFile(b.log)
			if len(out) > 64<<10 {
				out = out[len(out)-64<<10:]
			}
			t.Logf("rabbitmq log (%s):\n%s", b.Dir, out)
		}
	})
	amqp, dist, epmd := freePort(t), freePort(t), freePort(t)
	b.PlainAddr, b.TLSAddr = mosquittotest.FreeAddr(t), mosquittotest.FreeAddr(t)
	b.PlainURL, b.TLSURL = "tcp://"+b.PlainAddr, "ssl://"+b.TLSAddr
	conf := strings.Join([]string{
		"listeners.tcp.default = 127.0.0.1:" + amqp,
		"mqtt.listeners.tcp.default = " + b.PlainAddr,
		"mqtt.listeners.ssl.default = " + b.TLSAddr,
		"ssl_options.cacertfile = " + b.CA.File,
		"ssl_options.certfile = " + cert,
		"ssl_options.keyfile = " + key,
		"ssl_options.verify = verify_none",
		"ssl_options.fail_if_no_peer_cert = false",
		"mqtt.allow_anonymous = true",
		"log.console = true",
		"log.console.level = info",
		"log.file = false",
		"",
	}, "\n")
	write := func(name, data string) string {
		p := filepath.Join(b.Dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatalf("rabbitmqtest: %v", err)
		}
		return p
	}
	b.env = append(os.Environ(),
		"HOME="+b.Dir, // the Erlang cookie
		"RABBITMQ_NODENAME=bayagent-test@localhost",
		"RABBITMQ_CONFIG_FILE="+write("rabbitmq.conf", conf),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+write("enabled_plugins", "[rabbitmq_mqtt].\n"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(b.Dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(b.Dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(b.Dir, "rabbitmq.pid"),
		"RABBITMQ_DIST_PORT="+dist,
		"ERL_EPMD_PORT="+epmd,
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
	logf, err := os.Create(b.log)
	if err != nil {
		t.Fatalf("rabbitmqtest: %v", err)
	}
	defer logf.Close()
	b.cmd = exec.Command(bin)
	b.cmd.Env = b.env
	b.cmd.Dir = b.Dir
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("rabbitmqtest: start %s: %v", bin, err)
	}
	b.exited = make(chan struct{})
	go func() {
		_ = b.cmd.Wait()
		close(b.exited)
	}()
	if err := b.waitListening(); err != nil {
		t.Fatalf("rabbitmqtest: %v", err)
	}
	return b
}

// waitListening dials each MQTT listener until it accepts (RabbitMQ
// opens them once the plugin has started), or fails when the node exits
// or StartTimeout passes.
func (b *Broker) waitListening() error {
	deadline := time.Now().Add(StartTimeout)
	for _, addr := range []string{b.PlainAddr, b.TLSAddr} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("RabbitMQ does not accept MQTT connections on %s after %v: %w", addr, StartTimeout, err)
			}
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-b.exited:
				t.Stop()
				return errors.New("rabbitmq-server exited during startup (see its log)")
			case <-t.C:
			}
		}
	}
	return nil
}

// stop ends the node's process group (SIGTERM, SIGKILL after 30 s) and
// its epmd.
func (b *Broker) stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	pgid := b.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(30 * time.Second)
	select {
	case <-b.exited:
		t.Stop()
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-b.exited
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // what the script left behind
	// epmd detaches from the group; it listens on this node's own port.
	if epmd, err := exec.LookPath("epmd"); err == nil {
		cmd := exec.Command(epmd, "-kill")
		cmd.Env = b.env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run()
	}
	b.cmd = nil
}

func freePort(t testing.TB) string {
	_, p, _ := net.SplitHostPort(mosquittotest.FreeAddr(t))
	return p
}
