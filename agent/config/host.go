package config

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/bayagent/bayagent/drivers/analyzer"
	"github.com/bayagent/bayagent/drivers/bayio"
	"github.com/bayagent/bayagent/drivers/elm327"
)

// HostWarnings checks a valid configuration against this machine, for
// `bayagent run --check` on the box: serial devices and CAN interfaces
// that do not exist (yet: a USB adapter may be unplugged), GPIO pins the
// board does not have, and a password variable that is set but empty.
// They are warnings: the agent starts anyway and retries the devices.
func (c *Config) HostWarnings() []string {
	var w []string
	if scheme, rest, _ := strings.Cut(c.Vehicle.Interface, ":"); scheme == "elm327" {
		if dev, _, err := elm327.ParseSpec(rest); err == nil && strings.HasPrefix(dev, "/") {
			if _, err := os.Stat(dev); err != nil {
				w = append(w, fmt.Sprintf("vehicle.interface: %s does not exist on this box: is the adapter plugged in? (ls -l /dev/serial/by-id/ names USB adapters by serial number)", dev))
			}
		}
	} else if scheme == "can" {
		if _, err := net.InterfaceByName(rest); err != nil {
			w = append(w, fmt.Sprintf("vehicle.interface: there is no network interface %s here: bring the CAN interface up (scripts/can-up.sh %s 500000)", rest, rest))
		}
	} else if scheme == "replay" {
		if _, err := os.Stat(rest); err != nil {
			w = append(w, fmt.Sprintf("vehicle.interface: the replay file %s cannot be read: %v", rest, err))
		}
	}
	if c.Analyzer.Interface != "" {
		if a, err := analyzer.ParseAddress(c.Analyzer.Interface); err == nil && strings.HasPrefix(a.Port, "/") {
			if _, err := os.Stat(a.Port); err != nil {
				w = append(w, fmt.Sprintf("analyzer.interface: %s does not exist on this box: is the analyzer's USB serial adapter plugged in?", a.Port))
			}
		}
	}
	b := c.BayIO
	names := bayio.PinNames{Button: b.Button, Ready: b.Ready, Vehicle: b.Vehicle, Stored: b.Stored, Offline: b.Offline, Fault: b.Fault, Buzzer: b.Buzzer}
	if names != (bayio.PinNames{}) {
		if _, err := bayio.OpenHost(names); err != nil {
			w = append(w, fmt.Sprintf("%v: is this the board the file is for? (the agent will not start with a pin it cannot find)", err))
		}
	}
	if u := c.Uplink; u.PasswordEnv != "" {
		if v, ok := c.lookupEnv(u.PasswordEnv); ok && v == "" {
			w = append(w, fmt.Sprintf("uplink.password_env: %s is set but empty: the broker will refuse user %q (set it in %s)", u.PasswordEnv, u.Username, DefaultEnvFile))
		}
	}
	return w
}
