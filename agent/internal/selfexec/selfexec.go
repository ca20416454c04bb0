// Package selfexec runs the test binary again as a child process.
//
// Under qemu-user it runs the child through qemu-user too.
//
// A test that needs a process it can kill (crash and power-loss tests)
// runs its own binary with -test.run naming a helper test. Under qemu-user
// without binfmt_misc the kernel cannot execute that foreign binary
// itself, so scripts/test-arch.sh sets BAYAGENT_TEST_EXEC to the qemu
// program, and Command puts it in front.
package selfexec

import (
	"os"
	"os/exec"
	"strconv"
)

// EnvExec names the program that runs a binary of the test's
// architecture (e.g. qemu-arm-static); empty when it runs natively.
const EnvExec = "BAYAGENT_TEST_EXEC"

// Command returns a command running this test binary with the helper test
// run (a regular expression for -test.run) and the extra environment
// variables env ("NAME=value"), through $BAYAGENT_TEST_EXEC when set.
func Command(run string, env ...string) *exec.Cmd {
	args := []string{"-test.run=" + run, "-test.count=1"}
	var cmd *exec.Cmd
	if q := os.Getenv(EnvExec); q != "" {
		cmd = exec.Command(q, append([]string{os.Args[0]}, args...)...)
	} else {
		cmd = exec.Command(os.Args[0], args...)
	}
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// EnvCycles sets how many times the crash and power-loss tests kill their
// child (`make soak` sets it; see Cycles).
const EnvCycles = "BAYAGENT_SOAK_CYCLES"

// Cycles returns the number of kill cycles a crash or power-loss test
// runs: $BAYAGENT_SOAK_CYCLES when set to a positive number, else def.
func Cycles(def int) int {
	if n, err := strconv.Atoi(os.Getenv(EnvCycles)); err == nil && n > 0 {
		return n
	}
	return def
}

// Soak reports whether $BAYAGENT_SOAK_CYCLES is set: a soak run prints
// its totals in a line starting "SOAK ".
func Soak() bool { return os.Getenv(EnvCycles) != "" }
