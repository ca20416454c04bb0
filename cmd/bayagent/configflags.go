package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/bayagent/bayagent/agent/config"
	"github.com/bayagent/bayagent/cmd/internal/cli"
)

// defaultConfig is where the box keeps the agent's configuration.
const defaultConfig = "/etc/bayagent/config.yaml"

// configFlags are --config and --env-file, the same on every command that
// reads the agent's configuration (run, job export, key rotate, outbox).
type configFlags struct{ path, envFile *string }

// addConfigFlags defines them on fs; what says what the command takes
// from the configuration.
func addConfigFlags(fs *cli.FlagSet, what string) configFlags {
	return configFlags{
		path: fs.String("config", defaultConfig, "the agent's configuration ("+what+")"),
		envFile: fs.String("env-file", "", "the environment file its ${NAME} values (and the MQTT password) come from, "+
			"as systemd's EnvironmentFile (default "+config.DefaultEnvFile+" when it can be read)"),
	}
}

// lookup returns where the configuration's ${NAME} values come from: the
// --env-file, else the box's environment file when it can be read (as
// root), over the process's environment; and that file ("" for none).
func (c configFlags) lookup() (func(string) (string, bool), string, error) {
	file := *c.envFile
	if file == "" {
		if f, err := os.Open(config.DefaultEnvFile); err == nil {
			f.Close()
			file = config.DefaultEnvFile
		}
	}
	if file == "" {
		return os.LookupEnv, "", nil
	}
	lookup, err := config.EnvLookup(file)
	return lookup, file, err
}

// load reads and validates the configuration. An error is a
// configError (exit 78); a ${NAME} that is not set says which file it
// belongs in.
func (c configFlags) load() (*config.Config, error) {
	lookup, file, err := c.lookup()
	if err != nil {
		return nil, configError{Err: err}
	}
	cfg, err := config.LoadEnv(*c.path, lookup)
	if errors.Is(err, config.ErrEnv) {
		if file == "" {
			file = config.DefaultEnvFile + " (read it with --env-file)"
		}
		err = fmt.Errorf("%w\nvalues written ${NAME} come from the environment: set them in %s", err, file)
	}
	if err != nil {
		return nil, configError{Err: err}
	}
	return cfg, nil
}

// parse reads the configuration without validating it (inspecting the
// outbox must not need the broker's certificates).
func (c configFlags) parse() (*config.Config, error) {
	lookup, _, err := c.lookup()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(*c.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return config.ParseEnv(f, lookup)
}
