package config

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Tests of the box installation: scripts/install.sh, scripts/bayagent.service
// and scripts/dist.sh. They live here because the installed configuration
// is this package's.

const repo = "../.."

func needBash(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
}

func TestScriptsSyntax(t *testing.T) {
	needBash(t)
	for _, s := range []string{"install.sh", "dist.sh", "version.sh", "can-up.sh"} {
		path := filepath.Join(repo, "scripts", s)
		if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", s, err)
		}
	}
}

func runInstall(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(repo, "scripts", "install.sh")}, args...)...)
	cmd.Env = append(os.Environ(), "DESTDIR=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// installFixture returns a directory for the test and a fake bayagent
// binary in it for install.sh to install.
func installFixture(t *testing.T) (dir, bin string) {
	t.Helper()
	needBash(t)
	dir = t.TempDir()
	bin = filepath.Join(dir, "bayagent")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho fake\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

func TestInstallIntoPrefix(t *testing.T) {
	dir, bin := installFixture(t)
	prefix := filepath.Join(dir, "root")
	board := filepath.Join(repo, "firmware-config", "pi4-pican2-nha506.yaml")
	out, err := runInstall(t, "--prefix", prefix, "--binary", bin, "--config", board)
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	for _, f := range []struct {
		path string
		mode fs.FileMode
		dir  bool
	}{
		{"usr/local/bin/bayagent", 0o755, false},
		{"etc/systemd/system/bayagent.service", 0o644, false},
		{"etc/bayagent", 0o750, true},
		{"etc/bayagent/config.yaml", 0o640, false},
		{"etc/bayagent/bayagent.env", 0o600, false},
		{"var/lib/bayagent", 0o700, true},
		{"usr/local/share/bayagent/README.md", 0o644, false},
		{"usr/local/share/bayagent/firmware-config/pi-usb-elm327.yaml", 0o644, false},
	} {
		fi, err := os.Stat(filepath.Join(prefix, f.path))
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if fi.IsDir() != f.dir || fi.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v (dir %v), want %v (dir %v)", f.path, fi.Mode().Perm(), fi.IsDir(), f.mode, f.dir)
		}
	}
	sameFile(t, filepath.Join(prefix, "usr/local/bin/bayagent"), bin)
	sameFile(t, filepath.Join(prefix, "etc/systemd/system/bayagent.service"), filepath.Join(repo, "scripts/bayagent.service"))
	sameFile(t, filepath.Join(prefix, "etc/bayagent/config.yaml"), board)
	if leftovers, _ := filepath.Glob(filepath.Join(prefix, "usr/local/bin/.bayagent*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// The env template names every variable the firmware configs use; filled
	// in, the installed configuration validates.
	envFile, err := os.ReadFile(filepath.Join(prefix, "etc/bayagent/bayagent.env"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range boxEnv {
		if !strings.Contains(string(envFile), "\n"+name+"=") {
			t.Errorf("bayagent.env lacks %s", name)
		}
	}
	c, err := Load(filepath.Join(prefix, "etc/bayagent/config.yaml"))
	if err == nil || !errors.Is(err, ErrEnv) {
		t.Errorf("Load before the environment is set: %v, want ErrEnv", err)
	}
	f, err := os.Open(filepath.Join(prefix, "etc/bayagent/config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if c, err = ParseEnv(f, lookupIn(boxEnv)); err != nil || c.Validate() != nil {
		t.Errorf("installed config: %v", err)
	}

	// A second run (an upgrade, or another board) keeps the configuration
	// and the env file the operator edited.
	edited := []byte("# edited on the box\n")
	for _, p := range []string{"etc/bayagent/config.yaml", "etc/bayagent/bayagent.env"} {
		if err := os.WriteFile(filepath.Join(prefix, p), edited, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err = runInstall(t, "--prefix", prefix, "--binary", bin, "--config", filepath.Join(repo, "firmware-config", "pi-usb-elm327.yaml"))
	if err != nil {
		t.Fatalf("second install.sh: %v\n%s", err, out)
	}
	if !strings.Contains(out, "kept the existing") {
		t.Errorf("second run does not say it kept the configuration:\n%s", out)
	}
	out, err = runInstall(t, "--prefix="+prefix, "--binary="+bin) // upgrade without --config
	if err != nil {
		t.Fatalf("upgrade install.sh: %v\n%s", err, out)
	}
	for _, p := range []string{"etc/bayagent/config.yaml", "etc/bayagent/bayagent.env"} {
		if got, _ := os.ReadFile(filepath.Join(prefix, p)); !bytes.Equal(got, edited) {
			t.Errorf("%s overwritten: %q", p, got)
		}
	}
}

func TestInstallRefusals(t *testing.T) {
	dir, bin := installFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no config on a fresh box", []string{"--prefix", filepath.Join(dir, "a"), "--binary", bin},
			"no configuration yet: choose your board with --config FILE, one of:\n  firmware-config/arm64-diesel-j1939-opacimeter.yaml"},
		{"missing config file", []string{"--prefix", filepath.Join(dir, "b"), "--binary", bin, "--config", "/nonexistent.yaml"},
			"no such configuration file: /nonexistent.yaml"},
		{"missing binary", []string{"--prefix", filepath.Join(dir, "c"), "--binary", filepath.Join(dir, "nope")},
			"no bayagent binary"},
		{"unknown flag", []string{"--prefx", dir}, "unknown argument '--prefx'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runInstall(t, tc.args...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("err %v, output:\n%s\nwant it to contain %q", err, out, tc.want)
			}
		})
	}
}

// TestServiceUnit checks the directives the box relies on.
func TestServiceUnit(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repo, "scripts", "bayagent.service"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf("not a directive: %q", line)
			}
			got[section+k] = append(got[section+k], v)
		}
	}
	for k, want := range map[string]string{
		"[Service]ExecStart":                "/usr/local/bin/bayagent run --config /etc/bayagent/config.yaml",
		"[Service]User":                     "bayagent",
		"[Service]NoNewPrivileges":          "yes",
		"[Service]ProtectSystem":            "strict",
		"[Service]ProtectHome":              "yes",
		"[Service]PrivateTmp":               "yes",
		"[Service]ReadWritePaths":           "/var/lib/bayagent",
		"[Service]StateDirectory":           "bayagent",
		"[Service]StateDirectoryMode":       "0700",
		"[Service]Restart":                  "on-failure",
		"[Service]RestartPreventExitStatus": "78",
		"[Unit]After":                       "network-online.target time-sync.target",
		"[Service]KillSignal":               "SIGTERM",
		"[Service]TimeoutStopSec":           "30s",
		"[Service]EnvironmentFile":          "-/etc/bayagent/bayagent.env",
		"[Service]AmbientCapabilities":      "",
		"[Service]CapabilityBoundingSet":    "",
		"[Service]RestrictAddressFamilies":  "AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_CAN",
		"[Service]MemoryMax":                "256M", // a 512 MiB board survives the agent
		"[Service]Environment":              "GOMEMLIMIT=128MiB",
		"[Install]WantedBy":                 "multi-user.target",
	} {
		if v := got[k]; len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want exactly %q", k, v, want)
		}
	}
	for _, k := range []string{"[Service]PrivateDevices", "[Service]ProtectKernelTunables"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s is set: it would cut the agent off its serial lines or GPIO", k)
		}
	}
	if !strings.Contains(string(data), "generated by the agent itself on its first start") {
		t.Errorf("unit comment does not say who creates the device key")
	}
	// systemd's own check, where it is installed: unknown or malformed
	// directives show as warnings (with the binary swapped for one that
	// exists here).
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not installed: unit not verified by systemd")
		return
	}
	unit := filepath.Join(t.TempDir(), "bayagent.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(data, []byte("ExecStart=/usr/local/bin/bayagent"), []byte("ExecStart=/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDist builds the arm64 release into a temporary directory (about 10 s
// with a warm build cache; skipped with -short) and checks the tarball, its
// contents and SHA256SUMS.
func TestDist(t *testing.T) {
	needBash(t)
	if testing.Short() {
		t.Skip("builds a release binary; skipped with -short (bash -n runs in TestScriptsSyntax)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not in PATH")
	}
	out := t.TempDir()
	const version = "1.2.3-test"
	// No timeout of its own: a cold cross build on a loaded machine takes
	// minutes; go test's -timeout bounds it.
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(repo, "scripts", "dist.sh"), version, out, "arm64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dist.sh (builds ./cmd/bayagent for linux/arm64): %v\n%s", err, b)
	}
	name := "bayagent-" + version + "-linux-arm64"
	tarball := filepath.Join(out, name+".tar.gz")
	data, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(sum[:]) + "  " + name + ".tar.gz\n"; string(sums) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sums, want)
	}

	files := map[string]tar.Header{}
	var binary []byte
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = *h
		if h.Name == name+"/bayagent" {
			if binary, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	boards, _ := filepath.Glob(filepath.Join(repo, "firmware-config", "*.yaml"))
	// Every script the README tells a user to run, and the docs it links.
	want := []string{name + "/bayagent", name + "/README.md", name + "/scripts/install.sh", name + "/scripts/can-up.sh",
		name + "/scripts/bayagent.service", name + "/docs/commands.md", name + "/docs/healthrecord.md", name + "/docs/record.schema.json"}
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`scripts/[a-z0-9-]+\.sh`).FindAllString(string(readme), -1) {
		buildMachine := []string{"scripts/install-test-tools.sh", "scripts/version.sh", "scripts/dist.sh", "scripts/test-arch.sh", "scripts/fuzz.sh"}
		if !slices.Contains(buildMachine, m) && !slices.Contains(want, name+"/"+m) {
			want = append(want, name+"/"+m)
		}
	}
	for _, b := range boards {
		want = append(want, name+"/firmware-config/"+filepath.Base(b))
	}
	for _, w := range want {
		h, ok := files[w]
		if !ok {
			t.Errorf("tarball lacks %s (has %v)", w, slices.Sorted(mapsKeys(files)))
			continue
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want 0:0", w, h.Uid, h.Gid)
		}
	}
	for _, exe := range []string{"/bayagent", "/scripts/install.sh", "/scripts/can-up.sh"} {
		if files[name+exe].Mode&0o111 == 0 {
			t.Errorf("%s is not executable: %o", exe, files[name+exe].Mode)
		}
	}
	e, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		t.Fatalf("bayagent is not an ELF file: %v", err)
	}
	if e.Machine != elf.EM_AARCH64 {
		t.Errorf("binary for %v, want EM_AARCH64", e.Machine)
	}
	for _, p := range e.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary is dynamically linked (CGO on?)")
		}
	}
	if e.Section(".symtab") != nil {
		t.Errorf("binary is not stripped (-s -w)")
	}
	if !bytes.Contains(binary, []byte(version)) {
		t.Errorf("binary does not carry the version %s (-X main.version)", version)
	}
	if bytes.Contains(binary, []byte(mustAbs(t, repo))) {
		t.Errorf("binary holds the build directory (-trimpath missing)")
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	if err := errors.Join(err1, err2); err != nil || !bytes.Equal(x, y) {
		t.Errorf("%s differs from %s %v", a, b, fmt.Sprint(err))
	}
}

// TestInstallForceAndStateDir: --force replaces the configuration and
// keeps the old one; a configuration with another state_dir gets that
// directory and a drop-in that lets the unit write it.
func TestInstallForceAndStateDir(t *testing.T) {
	dir, bin := installFixture(t)
	prefix := filepath.Join(dir, "root")
	first := filepath.Join(repo, "firmware-config", "pi4-pican2-nha506.yaml")
	if out, err := runInstall(t, "--prefix", prefix, "--binary", bin, "--config", first); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	second, err := os.ReadFile(filepath.Join(repo, "firmware-config", "pi-usb-elm327.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	second = append(second, []byte("# moved to the data partition\n")...)
	second = bytes.Replace(second, []byte("device:\n"), []byte("device:\n  state_dir: \"/data/bayagent\"   # the SD card's data partition\n"), 1)
	secondFile := filepath.Join(dir, "second.yaml")
	if err := os.WriteFile(secondFile, second, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runInstall(t, "--prefix", prefix, "--binary", bin, "--force"); err == nil || !strings.Contains(out, "give the new one with --config") {
		t.Errorf("--force without --config: %v\n%s", err, out)
	}
	out, err := runInstall(t, "--prefix", prefix, "--binary", bin, "--config", secondFile, "--force")
	if err != nil || !strings.Contains(out, "replaced") {
		t.Fatalf("install.sh --force: %v\n%s", err, out)
	}
	sameFile(t, filepath.Join(prefix, "etc/bayagent/config.yaml"), secondFile)
	backups, _ := filepath.Glob(filepath.Join(prefix, "etc/bayagent/config.yaml.bak-*"))
	if len(backups) != 1 {
		t.Fatalf("backups %v, want one", backups)
	}
	sameFile(t, backups[0], first)
	dropin, err := os.ReadFile(filepath.Join(prefix, "etc/systemd/system/bayagent.service.d/state-dir.conf"))
	if err != nil || !strings.Contains(string(dropin), "[Service]\nReadWritePaths=/data/bayagent\n") {
		t.Errorf("drop-in: %v %q", err, dropin)
	}
	if fi, err := os.Stat(filepath.Join(prefix, "data/bayagent")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory: %v %v", fi, err)
	}
	// Back to the default state directory: the drop-in goes.
	if out, err := runInstall(t, "--prefix", prefix, "--binary", bin, "--config", first, "--force"); err != nil {
		t.Fatalf("install.sh --force back: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(prefix, "etc/systemd/system/bayagent.service.d/state-dir.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the drop-in stays with the default state_dir: %v", err)
	}
}

// TestVersionScript: the version stamped into binaries and release names is
// tag-like and names the commit.
func TestVersionScript(t *testing.T) {
	needBash(t)
	out, err := exec.Command("bash", filepath.Join(repo, "scripts", "version.sh")).Output()
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(out))
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+g[0-9a-f]{7,}(\.dirty)?)?$`).MatchString(v) {
		t.Errorf("version %q is not tag-like", v)
	}
	if head, err := exec.Command("git", "-C", repo, "rev-parse", "--short=7", "HEAD").Output(); err == nil {
		if c := strings.TrimSpace(string(head)); !strings.Contains(v, "g"+c) && !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(v) {
			t.Errorf("version %q does not name the commit %s", v, c)
		}
	}
}
