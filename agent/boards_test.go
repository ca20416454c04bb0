package agent_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/bayagent/bayagent/agent"
	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/agent/devicekey"
	"github.com/bayagent/bayagent/agent/internal/agenttest"
	"github.com/bayagent/bayagent/agent/internal/mosquittotest"
	"github.com/bayagent/bayagent/agent/job"
	"github.com/bayagent/bayagent/agent/record"
	"github.com/bayagent/bayagent/agent/uplink"
	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/bayio"
	"github.com/bayagent/bayagent/drivers/bayio/bayiotest"
	"github.com/bayagent/bayagent/drivers/canbus"
	"github.com/bayagent/bayagent/drivers/elm327"
	"github.com/bayagent/bayagent/drivers/elm327/elmsim"
	"github.com/bayagent/bayagent/drivers/j1939/j1939sim"
	"github.com/bayagent/bayagent/drivers/obd/obdsim"
)

const (
	boardShop   = "330106000123456"
	boardDevice = "bay-board"
)

// boardEnv is the environment the firmware-config files read (what
// /etc/bayagent/bayagent.env holds on a box).
var boardEnv = map[string]string{
	"BAYAGENT_DEVICE_ID":     boardDevice,
	"BAYAGENT_SHOP":          boardShop,
	"BAYAGENT_COMPANY_NAME":  "Test Motors",
	"BAYAGENT_MQTT_USERNAME": boardDevice,
	"BAYAGENT_MQTT_PASSWORD": "not-a-real-password",
	"BAYAGENT_BROKER":        "ssl://127.0.0.1:8883", // replaced by the test's broker
	"BAYAGENT_COMMAND_KEY":   base64.StdEncoding.EncodeToString(boardOperator.Public().(ed25519.PublicKey)),
}

// boardOperator is the operator key the board files' command_keys name
// (through $BAYAGENT_COMMAND_KEY): the test signs its commands with it.
var boardOperator = func() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("bayagent boards test operator (testdata only)"))
	return ed25519.NewKeyFromSeed(seed[:])
}()

// Vehicle profiles plugged into each kind of vehicle interface.
const (
	boardCar   = "petrol-p0420"       // OBD-II on CAN, 11-bit, 500 kbit/s
	boardTruck = "diesel-truck-j1939" // J1939, 29-bit, 250 kbit/s
)

// analyzerReadings maps an analyzer driver to the readings file its
// simulator reports (served in the driver's own protocol).
var analyzerReadings = map[string]string{
	"nha506": "nha506-before.yaml", "fla502": "nha506-before.yaml", "mqw511": "mqw511-before.yaml",
	"fga4100": "fga4100-after.yaml", "nht6": "nht6-free-accel.yaml", "mqy200": "nht6-diesel.yaml",
}

// TestBoards runs the daemon with every firmware-config file, the
// hardware replaced by simulators: the CAN interface by an in-process bus,
// the ELM327 by a simulated adapter on a pty, the analyzer by a simulated
// instrument on a pty speaking the configured driver's protocol, the GPIO
// pins by fake pins, the broker by a real Mosquitto with TLS client
// certificates. Everything else is as the file says. It plugs a vehicle
// in and waits for the sealed snapshot at the broker; with an analyzer, it
// opens a job and takes a reading by command; the records verify, and the
// bay's lights showed the agent ready, the vehicle connected and the
// records stored.
func TestBoards(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "firmware-config", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no firmware-config/*.yaml (%v)", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			t.Parallel()
			testBoard(t, file)
		})
	}
}

func testBoard(t *testing.T, file string) {
	cfg := loadBoardConfig(t, file)
	tp := uplink.DeviceTopics(cfg.Uplink.TopicPrefix, boardShop, boardDevice)
	broker := mosquittotest.Start(t, mosquittotest.Options{
		Prefix: cfg.Uplink.TopicPrefix, Devices: []mosquittotest.Device{{Shop: boardShop, ID: boardDevice}},
	})
	recv := mosquittotest.Subscribe(t, broker.PlainURL, tp.Records, mosquittotest.SubOptions{QoS: 1})
	cmdr := agenttest.NewCommander(t, broker.PlainURL, tp)
	cmdr.SignWith(boardOperator, "operator", boardShop, boardDevice)

	// The box: its state in a temp dir; the test's broker, its CA and the
	// device's client certificate.
	dir := t.TempDir()
	cfg.Device.StateDir = dir
	cfg.Device.KeyFile = filepath.Join(dir, config.DefaultKeyName)
	cfg.Outbox.Path = filepath.Join(dir, config.DefaultOutboxName)
	cfg.Uplink.Broker = broker.TLSURL
	cfg.Uplink.CAFile = broker.CA.File
	cfg.Uplink.CertFile, cfg.Uplink.KeyFile = broker.ClientCert(boardDevice)
	if cfg.Screen.Listen == "" {
		t.Errorf("%s does not turn the bay screen on (screen.listen)", file)
	}
	cfg.Screen.Listen, cfg.Screen.PINFile = "127.0.0.1:0", filepath.Join(dir, config.DefaultPINName)

	// The board's ECU window (50 ms) is a real ECU's; the simulated ECUs
	// on a loaded 2-core machine under qemu answer later, as in agent_test.
	cfg.Vehicle.P2 = config.Duration(300 * time.Millisecond)
	deps := agent.Deps{Version: "boards-test", Logger: slogFor(t, cfg)}
	vehicle := fitVehicle(t, cfg, &deps)
	t.Cleanup(func() { vehicle.unplug(t) })
	if cfg.Analyzer.Interface != "" {
		fitAnalyzer(t, cfg)
	}
	pins := fitPins(cfg, &deps)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s with the simulated hardware: %v", file, err)
	}

	a, err := agent.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the agent did not stop within 30 s")
		}
	}
	t.Cleanup(stop)
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("the agent stopped before it was ready: %v", err)
	}

	checkScreen(t, a)

	// Plug the vehicle in once the agent is looking for one: it finds it
	// and stores its snapshot.
	select {
	case <-vehicle.probed:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not look for a vehicle within 30 s")
	}
	vehicle.plugIn(t)
	var snap struct {
		Phase    job.Phase `json:"phase"`
		Snapshot struct {
			VIN string `json:"vin"`
		} `json:"snapshot"`
	}
	waitRecord(t, recv, tp.Records, record.KindScan, func(body json.RawMessage) bool {
		return json.Unmarshal(body, &snap) == nil
	})
	if snap.Phase != job.PhaseIntake || snap.Snapshot.VIN != vehicle.vin {
		t.Errorf("snapshot on plug-in: phase %q, VIN %q; want intake, %s", snap.Phase, snap.Snapshot.VIN, vehicle.vin)
	}

	// The analyzer as the file configures it: a reading in a job.
	if cfg.Analyzer.Interface != "" {
		cmdr.MustDo(30*time.Second, "open_job", map[string]any{
			"job_id": "J-BOARD-1", "type": string(job.TypeEmissionRepair), "plate": "浙A12345", "vin": vehicle.vin,
			"mileage_km": 123457, "complaint": "failed the emission test", "technician": "T007", "test_no": "330106202603140012",
		})
		res := agenttest.Result(cmdr.MustDo(30*time.Second, "take_reading", map[string]any{}))
		if res["phase"] != string(job.PhaseBeforeRepair) {
			t.Errorf("take_reading result %v: want phase before_repair", res)
		}
		var em job.EmissionBody
		waitRecord(t, recv, tp.Records, record.KindEmission, func(body json.RawMessage) bool {
			return json.Unmarshal(body, &em) == nil
		})
		if len(em.Reading.Values) == 0 || cfg.Analyzer.Method != "" && em.Reading.Method != cfg.Analyzer.Method {
			t.Errorf("emission reading %+v: want values measured by method %q", em.Reading, cfg.Analyzer.Method)
		}
	}

	stop()
	vehicle.unplug(t)

	// The stream at the broker verifies with the device's public key.
	data, err := os.ReadFile(cfg.Device.KeyFile + ".pub.json")
	if err != nil {
		t.Fatal(err)
	}
	pub, dev, err := devicekey.ParsePublic(data)
	if err != nil || dev != boardDevice {
		t.Fatalf("public key file: %v (device %q)", err, dev)
	}
	rep := record.Verify(bytes.NewReader(agenttest.Stream(recv.Messages(), tp.Records)), record.Keys{boardDevice: ed25519.PublicKey(pub)})
	if !rep.OK() || rep.Records < 2 {
		t.Errorf("the record stream does not verify:\n%s", rep)
	}

	// The bay's lights, where the file fits them.
	for _, p := range []struct {
		what string
		pin  *bayiotest.Pin
		want int
	}{
		{"ready light", pins.ready, 1},
		{"vehicle light", pins.vehicle, 1},
		{"stored light", pins.stored, 2}, // presence and scan at least
	} {
		if p.pin != nil && p.pin.Pulses() < p.want {
			t.Errorf("%s %s lit %d times, want at least %d", p.what, p.pin.N, p.pin.Pulses(), p.want)
		}
	}
}

// loadBoardConfig reads a firmware-config file as the daemon does, with
// the environment of boardEnv (the broker is set by the caller).
func loadBoardConfig(t *testing.T, file string) *config.Config {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := config.ParseEnv(f, func(name string) (string, bool) {
		v, ok := boardEnv[name]
		return v, ok
	})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return cfg
}

func slogFor(t *testing.T, cfg *config.Config) *slog.Logger {
	return slog.New(cfg.Log.NewHandler(agenttest.LogWriter{T: t}))
}

// boardVehicle is the simulated vehicle for a board's vehicle interface.
type boardVehicle struct {
	vin     string
	probed  chan struct{} // closed when the agent has asked for a vehicle
	plugIn  func(t *testing.T)
	unplugF func() error
}

func (v *boardVehicle) unplug(t *testing.T) {
	t.Helper()
	if v.unplugF != nil {
		if err := v.unplugF(); err != nil {
			t.Errorf("vehicle simulator: %v", err)
		}
		v.unplugF = nil
	}
}

// fitVehicle replaces the configured vehicle interface: a CAN interface by
// an in-process bus of the same name (a truck on it for protocol j1939, a
// car otherwise), an ELM327 by a simulated adapter on a pty, at the
// configured baud rate, in front of a car that is not yet plugged in.
func fitVehicle(t *testing.T, cfg *config.Config, deps *agent.Deps) *boardVehicle {
	t.Helper()
	scheme, rest, _ := strings.Cut(cfg.Vehicle.Interface, ":")
	v := &boardVehicle{probed: make(chan struct{})}
	switch scheme {
	case "can":
		deps.Hub = &canbus.MemHub{}
		cfg.Vehicle.Interface = "mem:" + rest
		bus := deps.Hub.Bus(rest)
		// The agent's first frame on the empty bus is its first probe.
		sniffer := bus.Connect()
		ctx, cancel := context.WithCancel(context.Background())
		sniffed := make(chan struct{})
		go func() {
			defer close(sniffed)
			if _, err := sniffer.Receive(ctx); err == nil {
				close(v.probed)
			}
		}()
		t.Cleanup(func() { cancel(); <-sniffed; sniffer.Close() })
		if cfg.Vehicle.Protocol == "j1939" {
			p, err := j1939sim.Load(vehicleProfile(boardTruck))
			if err != nil {
				t.Fatal(err)
			}
			sim, err := j1939sim.New(p, j1939sim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			v.vin = p.VIN
			v.plugIn = func(t *testing.T) {
				conn := bus.Connect()
				stop := sim.Start(conn)
				v.unplugF = func() error { err := stop(); conn.Close(); return err }
			}
			break
		}
		p, err := obdsim.Load(vehicleProfile(boardCar))
		if err != nil {
			t.Fatal(err)
		}
		sim, err := obdsim.New(p, obdsim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		v.vin = p.VIN
		v.plugIn = func(t *testing.T) { v.unplugF = sim.Start(context.Background(), bus) }
	case "elm327":
		_, baud, err := elm327.ParseSpec(rest)
		if err != nil {
			t.Fatal(err)
		}
		// The adapter is in the box, no car at the bay yet (the agent is
		// not started yet); the agent's first OBD request to the adapter is
		// its first probe.
		dev, sim := elmPTY(t, boardCar, elmsim.Options{Logger: slog.New(&obdRequestSeen{seen: v.probed})})
		sim.SetConnected(false)
		cfg.Vehicle.Interface = "elm327:" + dev
		if baud != 0 {
			cfg.Vehicle.Interface += fmt.Sprintf("@%d", baud)
		}
		v.vin = sim.Vehicle().VIN()
		v.plugIn = func(*testing.T) { sim.SetConnected(true) }
	default:
		t.Fatalf("no simulator for vehicle interface %q", cfg.Vehicle.Interface)
	}
	return v
}

// obdRequestSeen is a slog handler for elmsim's debug log that closes
// seen at the first OBD request (a command that is not an AT command).
type obdRequestSeen struct {
	once sync.Once
	seen chan struct{}
}

func (h *obdRequestSeen) Enabled(context.Context, slog.Level) bool { return true }

func (h *obdRequestSeen) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "cmd" && !strings.HasPrefix(a.Value.String(), "AT") {
			h.once.Do(func() { close(h.seen) })
			return false
		}
		return true
	})
	return nil
}

func (h *obdRequestSeen) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *obdRequestSeen) WithGroup(string) slog.Handler      { return h }

// fitAnalyzer replaces the configured analyzer's serial port by a pty
// served by a simulator speaking that driver's protocol, with its readings
// file from testdata/analyzers.
func fitAnalyzer(t *testing.T, cfg *config.Config) {
	t.Helper()
	addr, err := analyzer.ParseAddress(cfg.Analyzer.Interface)
	if err != nil {
		t.Fatal(err)
	}
	file, ok := analyzerReadings[addr.Driver]
	if !ok {
		t.Fatalf("no simulator readings for analyzer driver %q", addr.Driver)
	}
	addr.Port = analyzerPTY(t, file, addr.Driver)
	cfg.Analyzer.Interface = addr.String()
}

// boardPins are the fake pins of the lights the test checks (nil: not
// fitted).
type boardPins struct{ ready, vehicle, stored *bayiotest.Pin }

// fitPins gives the agent a fake pin for every pin the file names, and
// none for the others.
func fitPins(cfg *config.Config, deps *agent.Deps) boardPins {
	b := cfg.BayIO
	var out boardPins
	var pins bayio.Pins
	fitted := false
	out1 := func(name string) (gpio.PinOut, *bayiotest.Pin) {
		if name == "" {
			return nil, nil
		}
		fitted = true
		p := &bayiotest.Pin{N: name}
		return p, p
	}
	pins.Ready, out.ready = out1(b.Ready)
	pins.Vehicle, out.vehicle = out1(b.Vehicle)
	pins.Stored, out.stored = out1(b.Stored)
	pins.Offline, _ = out1(b.Offline)
	pins.Fault, _ = out1(b.Fault)
	pins.Buzzer, _ = out1(b.Buzzer)
	if b.Button != "" {
		fitted = true
		pins.Button = &bayiotest.Pin{N: b.Button, EdgesChan: make(chan gpio.Level)}
	}
	if fitted {
		deps.Pins = &pins
	}
	return out
}

// waitRecord waits for a record of the given kind on topic for which
// match(body) holds.
func waitRecord(t *testing.T, recv *mosquittotest.Subscriber, topic, kind string, match func(json.RawMessage) bool) {
	t.Helper()
	done := 0
	var bad error
	recv.WaitFor(60*time.Second, "a "+kind+" record", func(msgs []mosquittotest.Message) bool {
		recs, err := agenttest.Records(msgs[done:], topic)
		done = len(msgs)
		if err != nil {
			bad = err
			return true
		}
		for _, r := range recs {
			if r.Kind == kind && match(r.Body) {
				return true
			}
		}
		return false
	})
	if bad != nil {
		t.Fatal(bad)
	}
}

// checkScreen waits for the bay screen to listen and asks for its login
// page.
func checkScreen(t *testing.T, a *agent.Agent) {
	t.Helper()
	select {
	case <-a.Screen().Listening():
	case <-time.After(10 * time.Second):
		t.Fatal("the bay screen does not listen")
	}
	resp, err := http.Get(a.Screen().URL() + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("bay screen login page: %s", resp.Status)
	}
}
