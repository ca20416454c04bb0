package record

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// VerifyCommand implements `bayagent verify [-json] FILE|-`: it verifies the
// records in FILE (or stdin for "-") with keys (nil: signatures are not
// checked), writes the report to stdout (human form, or JSON with -json)
// and returns the exit code: 0 when the report is OK, 1 when it found
// problems, 2 for usage or I/O errors (reported on stderr).
func VerifyCommand(args []string, stdin io.Reader, stdout, stderr io.Writer, keys KeySource) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bayagent verify [-json] FILE|-")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	in := stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(stderr, "verify:", err)
			return 2
		}
		defer f.Close()
		in = f
	}
	rep := Verify(in, keys)
	if *asJSON {
		stdout.Write(append(rep.MarshalJSONIndent(), '\n'))
	} else {
		io.WriteString(stdout, rep.String())
	}
	switch {
	case rep.ReadError != "":
		fmt.Fprintln(stderr, "verify: read error:", rep.ReadError)
		return 2
	case !rep.OK():
		return 1
	}
	return 0
}
