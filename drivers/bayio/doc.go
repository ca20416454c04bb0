// Package bayio drives the operator box at a repair bay through periph.io
// GPIO.
//
// The box has one push button, five LEDs and a buzzer. The package gives the
// agent a small vocabulary (SetState, Stored, Presses) so that nothing above
// it knows pins.
//
// # Wiring
//
// The button is active-low by default: one side to the GPIO, the other to
// ground, with the SoC's internal pull-up enabled (New does that), so the line
// reads High when idle and Low while pressed. Options.ActiveHigh selects the
// opposite wiring (button to 3.3 V, internal pull-down). Edges are watched in
// both directions because a press is only known to have ended, or to be
// long, from its release.
//
// LEDs and the buzzer are active-high: GPIO -> resistor -> LED -> ground (an
// active buzzer, or a transistor driving one, on its own pin). High is on.
// New turns every output off; Halt turns them off again. A failed write to
// an output after New is logged once and retried every second.
//
// Any pin may be absent (nil in Pins, empty in PinNames): methods touching
// it do nothing. OpenHost resolves pin names such as "GPIO17" on a real board.
//
// # Meanings
//
//	Ready    steady on: the agent runs and its vehicle and uplink drivers are up
//	Vehicle  steady on: a vehicle answers on the diagnostic link
//	Stored   one short blink (with a short beep): a record was durably stored
//	Offline  steady on: the uplink is down; records wait in the outbox
//	Fault    steady on: something needs a technician (the buzzer sounds the
//	         error pattern when the fault appears); a long press may clear it
//
// # Button
//
// A press is debounced (Options.Debounce, 50 ms by default): the line must
// stay at one level that long before it counts. Each physical press yields
// exactly one Press on Presses: a short press when it is released, a long
// press (Options.LongPress, 2 s by default) as soon as the threshold is
// reached while still held, so the technician gets feedback without letting
// go. The channel holds one Press; when the consumer has not taken it by the
// time the next one comes, the older one is dropped and the newer kept, so
// the watcher never blocks and a slow reader acts on the latest intent only.
// A button already held when New runs is ignored until released.
//
// # Goroutines
//
// New starts at most two goroutines, both owned by the Bay: the button
// watcher (only when a button is present) and the output driver that runs
// blink and beep patterns. Halt stops both and waits for them. The watcher
// calls WaitForEdge with a timeout of at most 100 ms so it can notice Halt;
// Halt therefore returns within about that long.
package bayio
