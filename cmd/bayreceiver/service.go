package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/cmd/bayreceiver/config"
	"github.com/bayagent/bayagent/cmd/bayreceiver/provsim"
	"github.com/bayagent/bayagent/cmd/bayreceiver/receiver"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/pgstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/upload"
)

func loadConfig(e env, args []string, name, usage string) (*config.Config, []string, error) {
	fs := newFlagSet(e, name, usage)
	path := fs.String("config", "/etc/bayreceiver/config.yaml", "the configuration file")
	if err := fs.ParseArgs(args); err != nil {
		return nil, nil, err
	}
	c, err := config.Load(*path)
	return c, fs.Args(), err
}

func runCheck(_ context.Context, e env, args []string) error {
	if _, _, err := loadConfig(e, args, "check", "--config FILE"); err != nil {
		return err
	}
	_, err := fmt.Fprintln(e.stdout, "configuration OK")
	return err
}

func secret(e env, key, name string) (string, error) {
	v, ok := e.getenv(name)
	if !ok || v == "" {
		return "", fmt.Errorf("%s: environment variable %s is not set", key, name)
	}
	return v, nil
}

func openStore(ctx context.Context, e env, c *config.Config) (store.Store, error) {
	if c.Store.Driver == "postgres" {
		dsn, err := secret(e, "store.dsn_env", c.Store.DSNEnv)
		if err != nil {
			return nil, err
		}
		return pgstore.Open(ctx, dsn)
	}
	return boltstore.Open(c.Store.Path)
}

func certPool(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil // the system roots
	}
	return uplink.ReadCA(file)
}

func mqttOptions(e env, c *config.Config) (receiver.MQTTOptions, error) {
	m := c.MQTT
	o := receiver.MQTTOptions{Broker: m.Broker, ClientID: m.ClientID, Prefix: m.TopicPrefix, ShareGroup: m.ShareGroup, Username: m.Username}
	if m.PasswordEnv != "" {
		pw, err := secret(e, "mqtt.password_env", m.PasswordEnv)
		if err != nil {
			return o, err
		}
		o.Password = pw
	}
	if strings.HasPrefix(m.Broker, "tcp://") {
		return o, nil
	}
	pool, err := certPool(m.CAFile)
	if err != nil {
		return o, fmt.Errorf("mqtt.ca_file: %w", err)
	}
	o.TLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: m.ServerName, InsecureSkipVerify: m.InsecureSkipVerify}
	if m.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile)
		if err != nil {
			return o, fmt.Errorf("mqtt.cert_file: %w", err)
		}
		o.TLS.Certificates = []tls.Certificate{cert}
	}
	return o, nil
}

func newUploader(e env, c *config.Config, log *slog.Logger) (upload.Uploader, error) {
	u := c.Upload
	if u.Dialect == "none" {
		return nil, nil
	}
	pool, err := certPool(u.CAFile)
	if err != nil {
		return nil, fmt.Errorf("upload.ca_file: %w", err)
	}
	passwords := map[string]string{}
	for _, co := range u.Companies {
		if co.PasswordEnv == "" {
			continue
		}
		pw, err := secret(e, "upload.companies "+co.Code, co.PasswordEnv)
		if err != nil {
			return nil, err
		}
		passwords[co.Code] = pw
	}
	o := upload.Options{
		BaseURL:         u.BaseURL,
		Client:          &http.Client{Timeout: u.Timeout.D(), Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}}},
		TokenTTL:        u.TokenTTL.D(),
		TokenErrorCodes: u.TokenErrorCodes,
		Logger:          log.With("part", "upload"),
		Company: func(shop string) (upload.Company, error) {
			pw, ok := passwords[shop]
			if !ok {
				return upload.Company{}, fmt.Errorf("shop %s is not in upload.companies", shop)
			}
			return upload.Company{Code: shop, Password: pw}, nil
		},
	}
	switch u.Dialect {
	case "shared":
		return upload.NewShared(o, healthrecord.Shared{FieldLimits: u.FieldLimits, OmitExtension: !u.IncludeExtension})
	case "guangdong":
		return upload.NewGuangdong(o, healthrecord.Guangdong{FieldLimits: u.FieldLimits})
	}
	sec, err := secret(e, "upload.staged.secret_env", u.Staged.SecretEnv)
	if err != nil {
		return nil, err
	}
	return upload.NewStaged(o, healthrecord.Staged{FieldLimits: u.FieldLimits, FuelType: u.Staged.FuelType,
		NatureOfUse: u.Staged.NatureOfUse, ServiceTypes: u.Staged.ServiceTypes}, u.Staged.AppID, []byte(sec))
}

func newLogger(e env, c *config.Config) *slog.Logger {
	o := &slog.HandlerOptions{Level: c.Log.SlogLevel()}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, o))
	}
	return slog.New(slog.NewTextHandler(e.stderr, o))
}

// runService runs the receiver until the first signal: it stops taking
// messages, commits and acknowledges those in hand, finishes the HTTP
// requests being served, and closes the store.
func runService(ctx context.Context, e env, args []string) error {
	c, _, err := loadConfig(e, args, "run", "--config FILE")
	if err != nil {
		return err
	}
	log := newLogger(e, c)
	mo, err := mqttOptions(e, c)
	if err != nil {
		return err
	}
	up, err := newUploader(e, c, log)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, e, c)
	if err != nil {
		return err
	}
	defer st.Close()
	names := map[string]string{}
	for _, co := range c.Upload.Companies {
		names[co.Code] = co.Name
	}
	rx, err := receiver.New(receiver.Options{
		ID: c.Receiver.ID, Store: st, MQTT: mo, KeysDir: c.Keys.Dir, Uploader: up,
		CompanyName: func(shop string) (string, bool) { n, ok := names[shop]; return n, ok },
		GapTimeout:  c.Chain.GapTimeout.D(), ResendInterval: c.Chain.ResendInterval.D(), ResendMaxInterval: c.Chain.ResendMaxInterval.D(),
		UploadBackoffMin: c.Upload.BackoffMin.D(), UploadBackoffMax: c.Upload.BackoffMax.D(),
		Logger: log,
	})
	if err != nil {
		return err
	}
	var srv *http.Server
	if c.Receiver.Listen != "" {
		ln, err := net.Listen("tcp", c.Receiver.Listen)
		if err != nil {
			return fmt.Errorf("receiver.listen: %w", err)
		}
		srv = &http.Server{Handler: rx.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		log.Info("status and metrics", "listen", ln.Addr().String())
	}
	err = rx.Run(ctx)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}
	return err
}

// runEnroll puts device public keys into the store.
func runEnroll(ctx context.Context, e env, args []string) error {
	c, files, err := loadConfig(e, args, "enroll", "--config FILE DEVICE.key.pub.json...")
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("give one or more device.key.pub.json files")
	}
	st, err := openStore(ctx, e, c)
	if err != nil {
		return err
	}
	defer st.Close()
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			var pub []byte
			var dev string
			if pub, dev, err = devicekey.ParsePublic(data); err == nil {
				if err = st.EnrollKey(ctx, dev, pub); err == nil {
					fmt.Fprintf(e.stdout, "enrolled %s (key %s)\n", dev, devicekey.Fingerprint(pub))
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
		}
	}
	return errors.Join(errs...)
}

// runProvsim serves the simulated provincial system over plain HTTP on
// loopback, for trying a receiver by hand.
func runProvsim(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "provsim", "--listen 127.0.0.1:9444 --company CODE:PASSWORD:NAME ...")
	listen := fs.String("listen", "127.0.0.1:9444", "loopback address to serve on")
	var companies []provsim.Company
	fs.Func("company", "a registered shop as CODE:PASSWORD:NAME (repeatable)", func(s string) error {
		parts := strings.SplitN(s, ":", 3)
		if len(parts) != 3 {
			return errors.New("want CODE:PASSWORD:NAME")
		}
		companies = append(companies, provsim.Company{Code: parts[0], Password: parts[1], Name: parts[2]})
		return nil
	})
	if err := fs.ParseArgs(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return usagef("--listen must be a loopback address, got %q", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: provsim.New(provsim.Options{Companies: companies,
		Logger: slog.New(slog.NewTextHandler(e.stderr, nil))}), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stdout, "simulated provincial system on http://%s (shared: /restservices/lcipprodatarest, Guangdong: /api, staged: /staged)\n", ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
