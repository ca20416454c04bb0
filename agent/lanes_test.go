package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/internal/agenttest"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim/elmsimtest"
	"github.com/bayagent/bayagent/drivers/serialport"
)

// hangingAdapter is an ELM327 whose answers can be held back: while hung,
// whatever the simulated adapter writes waits, as behind a dongle that
// stopped answering mid-request. Blocked is closed at the first write held.
type hangingAdapter struct {
	mu      sync.Mutex
	hung    bool
	release chan struct{}
	blocked chan struct{}
	once    sync.Once
}

func newHangingAdapter() *hangingAdapter {
	return &hangingAdapter{release: make(chan struct{}), blocked: make(chan struct{})}
}

func (h *hangingAdapter) hang() { h.mu.Lock(); h.hung = true; h.mu.Unlock() }

func (h *hangingAdapter) unhang() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hung {
		h.hung = false
		close(h.release)
	}
}

type hangingRW struct {
	io.ReadWriter
	h *hangingAdapter
}

// SetReadDeadline lets the simulator end its reader on stop.
func (rw hangingRW) SetReadDeadline(t time.Time) error {
	return rw.ReadWriter.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(t)
}

func (rw hangingRW) Write(p []byte) (int, error) {
	rw.h.mu.Lock()
	hung, release := rw.h.hung, rw.h.release
	rw.h.mu.Unlock()
	if hung {
		rw.h.once.Do(func() { close(rw.h.blocked) })
		<-release
	}
	return rw.ReadWriter.Write(p)
}

// TestStuckVehicleStopsOnlyTheVehicle: with the vehicle interface stuck in
// the middle of a DTC clear, a note is stored and answered, the retained
// status is still published, and closing the job is refused at once with
// vehicle_busy (the clear must end first); the clear's own reply comes when
// the adapter answers again. (Before lanes, the note waited the whole
// time behind the vehicle.)
func TestStuckVehicleStopsOnlyTheVehicle(t *testing.T) {
	t.Parallel()
	sim := elmsimtest.Load(t, vehicleProfile("petrol-p0420"), elmsim.Options{})
	h := newHangingAdapter()
	t.Cleanup(h.unhang)
	dev, stopPTY, err := serialport.ServePTY(context.Background(), func(ctx context.Context, rw io.ReadWriter) error {
		return sim.Serve(ctx, hangingRW{rw, h})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.unhang(); stopPTY() })

	broker := mosquittotest.Start(t, mosquittotest.Options{Prefix: prefix, Devices: []mosquittotest.Device{{Shop: shop, ID: device}}})
	recv := mosquittotest.Subscribe(t, broker.PlainURL, topics.Records, mosquittotest.SubOptions{QoS: 1})
	cmdr := agenttest.NewCommander(t, broker.PlainURL, topics)

	dir := t.TempDir()
	cert, key := broker.ClientCert(device)
	cfg := config.Default()
	cfg.Device.ID, cfg.Device.Shop, cfg.Device.Bay = device, shop, "bay1"
	cfg.Device.StateDir = dir
	cfg.Device.KeyFile = filepath.Join(dir, "device.key")
	cfg.Outbox.Path = filepath.Join(dir, "outbox.db")
	cfg.Vehicle.Interface = "elm327:" + dev
	// One probe at start: no presence check competes for the stuck adapter
	// while the test runs.
	cfg.Vehicle.DetectInterval = config.Duration(time.Minute)
	cfg.Uplink.Broker = broker.TLSURL
	cfg.Uplink.TopicPrefix = prefix
	cfg.Uplink.CAFile = broker.CA.File
	cfg.Uplink.CertFile, cfg.Uplink.KeyFile = cert, key
	a, err := agent.New(cfg, agent.Deps{Version: "test", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		h.unhang()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent Run: %v", err)
		}
	})

	// The car is found and scanned on plug-in; a job is opened.
	waitRecord(t, recv, topics.Records, record.KindScan, func(json.RawMessage) bool { return true })
	cmdr.MustDo(30*time.Second, "open_job", map[string]any{
		"job_id": "J-STUCK", "type": "repair", "plate": "浙A12345", "mileage_km": 123457,
		"complaint": "MIL on", "technician": "T007",
	})

	// The adapter stops answering in the middle of the clear.
	h.hang()
	clearID := cmdr.Send("clear_dtcs", map[string]any{"technician": "T007", "reason": "catalyst replaced"})
	select {
	case <-h.blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("the clear never reached the adapter")
	}
	statuses := len(cmdr.Statuses())

	note := cmdr.Do(30*time.Second, "add_note", map[string]any{"author": "T007", "text": "waiting for the dongle"})
	if !note.OK {
		t.Errorf("add_note while the vehicle is stuck: %+v", note)
	}
	closeJob := cmdr.Do(30*time.Second, "close_job", map[string]any{
		"technician": "T007", "settlement_no": "JS-1", "settle_date": "2026-03-14", "repair_date": "2026-03-14",
		"items": []map[string]any{{"name": "replace catalytic converter", "working_hours": 1.5}}, "parts": []any{},
	})
	wantRefused(t, "close_job while the clear runs", closeJob, uplink.CodeVehicleBusy)
	stop := cmdr.Do(30*time.Second, "live_stop", nil)
	if !stop.OK {
		t.Errorf("live_stop while the vehicle is stuck: %+v", stop)
	}
	// The note's record made the status publish again: the status does not
	// wait for the vehicle either.
	cmdr.Wait(30*time.Second, "a status after the note", func() bool { return len(cmdr.Statuses()) > statuses })
	if r, answered := cmdr.Reply(clearID); answered {
		t.Fatalf("the clear was answered (%+v) while the adapter was still stuck", r)
	}
	var n job.NoteBody
	waitRecord(t, recv, topics.Records, record.KindNote, func(b json.RawMessage) bool { return json.Unmarshal(b, &n) == nil })
	if n.Text != "waiting for the dongle" || n.N != 3 { // job_open 1, dtc_clear requested 2, note 3
		t.Errorf("note record %+v", n)
	}

	// The adapter answers again: the clear gets its reply.
	h.unhang()
	cmdr.Wait(60*time.Second, "the clear's reply", func() bool { _, ok := cmdr.Reply(clearID); return ok })
}
