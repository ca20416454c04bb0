package uplink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// connectHint says what to fix for a connection that failed with err:
// the configuration key or environment variable at fault, in the words of
// the person installing the box. "" when there is nothing better to say
// than the error.
func (u *Uplink) connectHint(err error) string {
	o := u.opts
	p, _ := url.Parse(u.broker)
	plain := p != nil && p.Scheme == "tcp"
	port := ""
	if p != nil {
		port = p.Port()
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		record    tls.RecordHeaderError
		dnsErr    *net.DNSError
		certErr   *tls.CertificateVerificationError
	)
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		if o.Username == "" {
			return "the broker wants a login: set uplink.username, and uplink.password_env to the variable holding the password (in /etc/bayagent/bayagent.env)"
		}
		return fmt.Sprintf("the broker refused user %q: check uplink.username and the password in $%s (set in /etc/bayagent/bayagent.env)", o.Username, o.PasswordEnv)
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return fmt.Sprintf("the broker refused the client id %q: set uplink.client_id to one it accepts", o.ClientID)
	case errors.As(err, &record):
		return fmt.Sprintf("port %s does not speak TLS (it looks like plain MQTT): use the broker's TLS port, usually 8883, in uplink.broker", port)
	case errors.As(err, &unknownCA), errors.As(err, &certErr) && errors.As(certErr.Err, &unknownCA):
		if o.CAFile == "" {
			return "the broker's certificate is not signed by a CA this box trusts: set uplink.ca_file to the PEM file of the CA that signed it"
		}
		return fmt.Sprintf("the broker's certificate is not signed by the CA in uplink.ca_file (%s): give the CA that signed it", o.CAFile)
	case errors.As(err, &hostErr):
		return fmt.Sprintf("the broker's certificate is for %s, not %s: use that name in uplink.broker, or set uplink.server_name",
			strings.Join(hostErr.Certificate.DNSNames, ", "), hostErr.Host)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the broker's name %s does not resolve: check uplink.broker and the box's DNS", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing accepts connections at %s: is the broker running, and is the port in uplink.broker right?", p.Host)
	case plain && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, packets.ErrorNetworkError) && !errors.As(err, new(*net.OpError))):
		return fmt.Sprintf("the broker hung up during the MQTT handshake: if port %s is its TLS port (usually 8883), use ssl:// in uplink.broker", port)
	case !plain && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)):
		return fmt.Sprintf("the broker hung up during the TLS handshake: port %s may not speak TLS (plain MQTT is usually 1883, TLS 8883); check the port in uplink.broker", port)
	}
	return ""
}
