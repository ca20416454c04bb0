package bayiotest

import (
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
)

func TestPin(t *testing.T) {
	p := &Pin{N: "GPIO4"}
	if err := p.In(gpio.PullUp, gpio.FallingEdge); !errors.Is(err, ErrNoEdges) {
		t.Errorf("In with edge and no EdgesChan: err = %v, want ErrNoEdges", err)
	}
	if err := p.In(gpio.PullUp, gpio.NoEdge); err != nil || p.Read() != gpio.High || p.Pull() != gpio.PullUp {
		t.Errorf("In(PullUp) = %v; level %v pull %v, want High PullUp", err, p.Read(), p.Pull())
	}
	if p.WaitForEdge(0) {
		t.Error("WaitForEdge reported an edge that was never sent")
	}
	for _, l := range []gpio.Level{gpio.High, gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High} {
		if err := p.Out(l); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Pulses(); got != 3 {
		t.Errorf("Pulses = %d, want 3", got)
	}
	if got := len(p.Outs()); got != 6 {
		t.Errorf("len(Outs) = %d, want 6", got)
	}

	e := &Pin{N: "GPIO27", EdgesChan: make(chan gpio.Level, 1)}
	if err := e.In(gpio.PullDown, gpio.BothEdges); err != nil || e.Edge() != gpio.BothEdges {
		t.Fatalf("In = %v, edge %v", err, e.Edge())
	}
	e.EdgesChan <- gpio.High
	if !e.WaitForEdge(time.Hour) || e.Read() != gpio.High {
		t.Errorf("edge High not seen: level %v", e.Read())
	}

	boom := errors.New("boom")
	f := &Pin{N: "GPIO22", InErr: boom, OutErr: boom}
	if err := f.In(gpio.PullUp, gpio.NoEdge); !errors.Is(err, boom) {
		t.Errorf("In err = %v", err)
	}
	if err := f.Out(gpio.High); !errors.Is(err, boom) || len(f.Outs()) != 0 {
		t.Errorf("Out err = %v, outs %v", err, f.Outs())
	}
}
