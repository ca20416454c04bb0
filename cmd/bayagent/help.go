package main

import (
	"fmt"
	"strings"

	"github.com/bayagent/bayagent/agent/vehicle"
	"github.com/bayagent/bayagent/drivers/analyzer"
)

// addressHelp lists every vehicle interface address (vehicle.Addresses).
func addressHelp() string {
	var b strings.Builder
	b.WriteString("vehicle interface addresses (--iface, vehicle.interface):\n")
	for _, a := range vehicle.Addresses() {
		fmt.Fprintf(&b, "  %-28s %s\n", a.Example, a.What)
	}
	return b.String()
}

// analyzerHelp lists every built-in analyzer driver and the test methods.
func analyzerHelp() string {
	var b strings.Builder
	b.WriteString("instruments (--iface DRIVER:DEVICE[@BAUD], analyzer.interface):\n")
	for _, d := range analyzer.Builtin() {
		fmt.Fprintf(&b, "  %-8s %s, %d baud\n", d.Name+":", d.Model, d.Baud)
	}
	fmt.Fprintf(&b, "methods (--method, analyzer.method): %s\n", strings.Join(analyzer.Methods(), ", "))
	return b.String()
}
