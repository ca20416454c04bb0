package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/bayagent/bayagent/agent/embedbroker"
	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/cmd/bayreceiver/provsim"
	"github.com/bayagent/bayagent/cmd/bayreceiver/receiver"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store"
	"github.com/bayagent/bayagent/cmd/bayreceiver/store/boltstore"
	"github.com/bayagent/bayagent/cmd/bayreceiver/upload"
)

// companyPassword is the demo shop's password at the simulated provincial
// system.
const companyPassword = "demo-password"

// Upload is what the receiving side did with the demo's job.
type Upload struct {
	// Device is the receiver's view of the box: records stored and
	// verified, gaps.
	Device receiver.DeviceStatus `json:"device"`
	// Job is the job's upload state, with the provincial system's reply.
	Job store.Job `json:"job"`
	// URL is where the record went.
	URL string `json:"url"`
}

// receiving is the health-record operator's side of the demo: the
// receiver (bayreceiver's packages, a bbolt store in the state directory)
// and the simulated provincial system it uploads to over HTTPS.
type receiving struct {
	st       *boltstore.Store
	rx       *receiver.Receiver
	sim      *provsim.Sim
	srv      *http.Server
	url      string
	cancel   context.CancelFunc
	done     chan error
	served   chan error
	shutdown func()
}

// startReceiving starts the simulated provincial system and the receiver;
// the receiver subscribes before it returns, so it gets every record.
func startReceiving(ctx context.Context, dir, brokerURL string, brokerTLS *tls.Config, brk *embedbroker.Broker, log *slog.Logger) (*receiving, error) {
	// The provincial system on loopback, over TLS verified with a CA of
	// this run (the embedded broker's, when there is one).
	var serverTLS *tls.Config
	var pool *x509.CertPool
	if brk != nil {
		serverTLS, pool = brk.ServerTLS, brk.Pool
	} else {
		var err error
		if serverTLS, pool, _, err = embedbroker.LoopbackTLS(); err != nil {
			return nil, fmt.Errorf("demo: provincial system certificate: %w", err)
		}
	}
	r := &receiving{
		sim: provsim.New(provsim.Options{
			Companies: []provsim.Company{{Code: Shop, Password: companyPassword, Name: CompanyName}},
			Logger:    log.With("part", "provsim"),
		}),
		served: make(chan error, 1),
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	if err != nil {
		return nil, fmt.Errorf("demo: provincial system: %w", err)
	}
	r.srv = &http.Server{Handler: r.sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { r.served <- r.srv.Serve(ln) }()
	r.url = "https://" + ln.Addr().(*net.TCPAddr).String() + "/restservices/lcipprodatarest"
	r.shutdown = func() {
		r.srv.Close()
		<-r.served
	}

	up, err := upload.NewShared(upload.Options{
		BaseURL: r.url,
		Client:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
		Company: func(shop string) (upload.Company, error) {
			if shop != Shop {
				return upload.Company{}, fmt.Errorf("shop %s is not the demo's", shop)
			}
			return upload.Company{Code: Shop, Password: companyPassword}, nil
		},
		Logger: log.With("part", "upload"),
	}, healthrecord.Shared{OmitExtension: true})
	if err != nil {
		r.shutdown()
		return nil, err
	}
	if r.st, err = boltstore.Open(filepath.Join(dir, "receiver.db")); err != nil {
		r.shutdown()
		return nil, fmt.Errorf("demo: receiver store: %w", err)
	}
	r.rx, err = receiver.New(receiver.Options{
		Store:       r.st,
		KeysDir:     dir, // device.key.pub.json, as the box wrote it
		Uploader:    up,
		CompanyName: func(shop string) (string, bool) { return CompanyName, shop == Shop },
		MQTT:        receiver.MQTTOptions{Broker: brokerURL, ClientID: "bayreceiver-demo", Prefix: Prefix, TLS: brokerTLS},
		GapTimeout:  2 * time.Second, WalkInterval: 50 * time.Millisecond, UploadPoll: 100 * time.Millisecond,
		UploadBackoffMin: 200 * time.Millisecond, UploadBackoffMax: 2 * time.Second,
		Logger: log.With("part", "receiver"),
	})
	if err != nil {
		r.close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.rx.Run(rctx) }()
	select {
	case <-r.rx.Ready():
		return r, nil
	case err := <-r.done:
		r.cancel = nil
		r.close()
		return nil, fmt.Errorf("demo: receiver: %w", err)
	case <-ctx.Done():
		r.close()
		return nil, fmt.Errorf("demo: receiver did not connect: %w", ctx.Err())
	}
}

// errNotUploaded: the receiver did not upload the demo's job.
var errNotUploaded = errors.New("demo: the job did not reach the provincial system")

// waitUpload waits until the receiver uploaded the job (or the upload was
// rejected) and returns what it did.
func (r *receiving) waitUpload(ctx context.Context) (*Upload, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		j, ok, err := r.st.Job(ctx, Device, JobID)
		if err != nil {
			return nil, err
		}
		if ok && (j.State == store.JobUploaded || j.State == store.JobRejected) {
			ch, _, err := r.st.Chain(ctx, Device)
			if err != nil {
				return nil, err
			}
			n, err := r.st.StoredCount(ctx, Device)
			if err != nil {
				return nil, err
			}
			u := &Upload{Device: receiver.StatusOf(ch, n), Job: j, URL: r.url + "/lcipprocarfixrecordadd/query"}
			if j.State != store.JobUploaded {
				return u, fmt.Errorf("%w: %s", errNotUploaded, j.LastError)
			}
			return u, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			state := "not registered yet"
			if ok {
				state = string(j.State) + " " + j.LastError
			}
			return nil, fmt.Errorf("%w: job %s: %s: %w", errNotUploaded, JobID, state, context.Cause(ctx))
		}
	}
}

// close stops the receiver, the store and the simulated system.
func (r *receiving) close() error {
	var err error
	if r.cancel != nil {
		r.cancel()
		err = <-r.done
	}
	if r.st != nil {
		err = errors.Join(err, r.st.Close())
	}
	r.shutdown()
	return err
}
