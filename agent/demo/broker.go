package demo

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

// broker is the embedded MQTT broker: mochi-mqtt with one TLS listener on a
// free loopback port, its certificate issued by a CA generated for this
// run. It lets every client in (it listens on loopback only).
type broker struct {
	srv    *mqtt.Server
	addr   string // host:port
	caFile string // the CA certificate (PEM), for the agent and mosquitto_sub
	pool   *x509.CertPool
}

// startBroker starts the broker and writes its CA certificate to caFile.
func startBroker(caFile string, log *slog.Logger) (*broker, error) {
	serverTLS, pool, caPEM, err := newTLS()
	if err != nil {
		return nil, fmt.Errorf("demo: broker certificates: %w", err)
	}
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		return nil, fmt.Errorf("demo: broker CA: %w", err)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: false, Logger: log})
	if err := srv.AddHook(new(allowHook), nil); err != nil {
		return nil, fmt.Errorf("demo: broker: %w", err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tls", Address: "127.0.0.1:0", TLSConfig: serverTLS})
	if err := srv.AddListener(l); err != nil {
		return nil, fmt.Errorf("demo: broker listen on 127.0.0.1: %w", err)
	}
	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, fmt.Errorf("demo: broker: %w", err)
	}
	return &broker{srv: srv, addr: l.Address(), caFile: caFile, pool: pool}, nil
}

// URL is the broker's address for MQTT clients.
func (b *broker) URL() string { return "ssl://" + b.addr }

// Close disconnects every client, closes the listener and waits for the
// broker's client goroutines.
func (b *broker) Close() { b.srv.Close() }

// allowHook lets every client connect, publish and subscribe.
type allowHook struct{ mqtt.HookBase }

func (*allowHook) ID() string { return "demo-allow-all" }

func (*allowHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func (*allowHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (*allowHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// newTLS generates a CA and a server certificate for 127.0.0.1 and
// localhost, valid for a day: the server's TLS config, a pool holding the
// CA, and the CA certificate in PEM.
func newTLS() (*tls.Config, *x509.CertPool, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bayagent demo CA"},
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
		Subject:      pkix.Name{CommonName: "bayagent demo broker"},
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
