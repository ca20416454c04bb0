package config

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// DefaultEnvFile is where the box keeps the values the configuration
// references as ${NAME}, and the MQTT password: the systemd unit's
// EnvironmentFile, written by scripts/install.sh.
const DefaultEnvFile = "/etc/bayagent/bayagent.env"

// ReadEnvFile reads an environment file as systemd's EnvironmentFile does:
// one NAME=VALUE a line; blank lines and lines starting with # or ; are
// comments; the value may be in single or double quotes; a leading
// "export " is allowed. A line that is none of these is an error naming it.
func ReadEnvFile(r io.Reader) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, MaxFileBytes))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || !validEnvName(name) {
			return nil, fmt.Errorf("%w: line %d: want NAME=VALUE, got %q", ErrEnv, n, line)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		env[name] = value
	}
	return env, sc.Err()
}

// EnvLookup returns a lookup of the variables of the environment file at
// path, falling back to the process environment (systemd gives the agent
// both, the file's winning).
func EnvLookup(path string) (func(string) (string, bool), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: environment file: %w", err)
	}
	defer f.Close()
	env, err := ReadEnvFile(f)
	if err != nil {
		return nil, fmt.Errorf("config: environment file %s: %w", path, err)
	}
	return func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		return os.LookupEnv(name)
	}, nil
}
