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

// subcommandHelp handles a command with actions (job export, key rotate,
// screen pin): no action or --help prints what it takes (to stdout for
// help, exit 0) and an unknown action is a usage error.
func subcommandHelp(e env, name string, args []string, actions ...string) (action string, err error) {
	usage := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "usage: bayagent %s ACTION [flags]\n\nactions:\n", name)
		for _, a := range actions {
			fmt.Fprintf(&b, "  bayagent %s %s --help\n", name, a)
		}
		return b.String()
	}
	switch {
	case len(args) == 0:
		return "", usagef("want an action: %s\n%s", strings.Join(actions, ", "), usage())
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		_, err := fmt.Fprint(e.stdout, usage())
		if err != nil {
			return "", err
		}
		return "", errHelp
	}
	for _, a := range actions {
		if args[0] == a {
			return a, nil
		}
	}
	return "", usagef("unknown action %q: want %s", args[0], strings.Join(actions, ", "))
}
