// Package embedbroker is the MQTT broker built into bayagent for the demo and
// the tests.
//
// It runs mochi-mqtt on free loopback ports, TLS with a CA made for the run,
// and optionally a plain listener; every client may connect, publish and
// subscribe (it listens on loopback only). It serves MQTT 3.1.1 and 5,
// retained messages, last wills and shared subscriptions ($share/<group>/...).
package embedbroker

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Options configures Start.
type Options struct {
	// CAFile, when set, is where the CA certificate (PEM) is written, for
	// clients such as mosquitto_sub.
	CAFile string
	// Plain adds a listener without TLS.
	Plain bool
	// Logger receives the broker's log; nil discards.
	Logger *slog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	srv *mqtt.Server
	// Addr is the TLS listener's host:port; PlainAddr the plain one's
	// ("" without Options.Plain).
	Addr, PlainAddr string
	// CAFile is Options.CAFile; Pool holds the CA, for clients.
	CAFile string
	Pool   *x509.CertPool
	// ServerTLS is the listener's TLS configuration: a certificate for
	// 127.0.0.1 and localhost issued by the CA, which other loopback
	// servers of the run (the demo's provincial simulator) may use too.
	ServerTLS *tls.Config
}

// Start starts the broker on free loopback ports.
func Start(o Options) (*Broker, error) {
	serverTLS, pool, caPEM, err := LoopbackTLS()
	if err != nil {
		return nil, fmt.Errorf("embedbroker: certificates: %w", err)
	}
	if o.CAFile != "" {
		if err := os.WriteFile(o.CAFile, caPEM, 0o644); err != nil {
			return nil, fmt.Errorf("embedbroker: CA file: %w", err)
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Logger: log})
	if err := srv.AddHook(new(allowHook), nil); err != nil {
		return nil, fmt.Errorf("embedbroker: %w", err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tls", Address: "127.0.0.1:0", TLSConfig: serverTLS})
	if err := srv.AddListener(safeClose{l, srv}); err != nil {
		return nil, fmt.Errorf("embedbroker: listen on 127.0.0.1: %w", err)
	}
	b := &Broker{srv: srv, CAFile: o.CAFile, Pool: pool, ServerTLS: serverTLS}
	var plain *listeners.TCP
	if o.Plain {
		plain = listeners.NewTCP(listeners.Config{ID: "plain", Address: "127.0.0.1:0"})
		if err := srv.AddListener(safeClose{plain, srv}); err != nil {
			return nil, fmt.Errorf("embedbroker: listen on 127.0.0.1: %w", err)
		}
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("embedbroker: %w", err)
	}
	b.Addr = l.Address()
	if plain != nil {
		b.PlainAddr = plain.Address()
	}
	return b, nil
}

// URL is the TLS listener's address for MQTT clients (ssl://).
func (b *Broker) URL() string { return "ssl://" + b.Addr }

// PlainURL is the plain listener's address (tcp://), "" without one.
func (b *Broker) PlainURL() string {
	if b.PlainAddr == "" {
		return ""
	}
	return "tcp://" + b.PlainAddr
}

// Close disconnects every client, closes the listeners and waits for the
// broker's client goroutines.
func (b *Broker) Close() { b.srv.Close() }

// safeClose is a listener whose Close disconnects its clients without
// mochi-mqtt's own closeListenerClients: that takes the client map's read
// lock twice (GetByListener calls Len), so a client leaving at the same
// moment (its Delete waiting for the write lock between the two) deadlocks
// Close for ever (seen under qemu-arm, v2.7.9). Clients.GetAll takes the
// lock once.
type safeClose struct {
	*listeners.TCP
	srv *mqtt.Server
}

func (l safeClose) Close(listeners.CloseFn) {
	l.TCP.Close(func(id string) {
		for _, cl := range l.srv.Clients.GetAll() {
			if cl.Net.Listener == id && !cl.Closed() {
				_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
}

// allowHook lets every client connect, publish and subscribe.
type allowHook struct{ mqtt.HookBase }

func (*allowHook) ID() string { return "embedbroker-allow-all" }

func (*allowHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func (*allowHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (*allowHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// LoopbackTLS generates a CA and a server certificate for 127.0.0.1 and
// localhost, valid for a day: the server's TLS config, a pool holding the
// CA, and the CA certificate in PEM.
func LoopbackTLS() (*tls.Config, *x509.CertPool, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bayagent embedded broker CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "bayagent embedded broker"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}
	return cfg, pool, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}
