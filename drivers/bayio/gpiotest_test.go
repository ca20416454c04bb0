package bayio_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/bayagent/bayagent/drivers/bayio"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// TestWithPeriphGpiotest drives the bay through periph's own fake pins: the
// lights follow the state, and a press on the (active-low, pulled-up)
// button arrives once.
func TestWithPeriphGpiotest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		button := &gpiotest.Pin{N: "GPIO17", L: gpio.High, EdgesChan: make(chan gpio.Level, 4)}
		ready := &gpiotest.Pin{N: "GPIO5"}
		veh := &gpiotest.Pin{N: "GPIO6"}
		offline := &gpiotest.Pin{N: "GPIO19"}
		fault := &gpiotest.Pin{N: "GPIO26"}
		bay, err := bayio.New(bayio.Pins{Button: button, Ready: ready, Vehicle: veh, Offline: offline, Fault: fault}, bayio.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer bay.Halt()

		bay.SetState(bayio.State{Ready: true, VehicleConnected: true})
		synctest.Wait()
		for _, c := range []struct {
			name string
			pin  *gpiotest.Pin
			want gpio.Level
		}{{"ready", ready, gpio.High}, {"vehicle", veh, gpio.High}, {"offline", offline, gpio.Low}, {"fault", fault, gpio.Low}} {
			if got := c.pin.Read(); got != c.want {
				t.Errorf("%s LED = %v, want %v", c.name, got, c.want)
			}
		}

		button.EdgesChan <- gpio.Low // pressed
		time.Sleep(200 * time.Millisecond)
		button.EdgesChan <- gpio.High // released
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		select {
		case p := <-bay.Presses():
			if p.Long {
				t.Error("a 200 ms press came out long")
			}
		default:
			t.Fatal("no press delivered")
		}
		select {
		case p := <-bay.Presses():
			t.Errorf("a second press %+v from one press", p)
		default:
		}
	})
}
