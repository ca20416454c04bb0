package healthrecord

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bayagent/bayagent/agent/job"
)

// ExportCommand implements `bayagent job export [-file PATH] [-no-extension]
// [JOB_ID]`: it prints the upload form of the closed job JOB_ID from the
// job state directory stateDir, or of the closed job file PATH, as indented
// JSON on stdout. It returns the exit code: 0 on success, 1 when the job
// cannot be read or mapped, 2 for usage errors (reported on stderr).
func ExportCommand(args []string, stdout, stderr io.Writer, stateDir, companyName string) int {
	fs := flag.NewFlagSet("job export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "read the closed job from this file instead of the state directory")
	noExt := fs.Bool("no-extension", false, "leave out the x_bayagent_mstation extension")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bayagent job export [-file PATH] [-no-extension] [JOB_ID]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if (*file == "") == (fs.NArg() == 0) || fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	var (
		c   job.Closed
		err error
	)
	if *file != "" {
		c, err = readClosedFile(*file)
	} else {
		c, err = job.ReadClosed(stateDir, fs.Arg(0))
	}
	if err == nil {
		err = Export(stdout, c, Options{CompanyName: companyName, Dialect: Shared{OmitExtension: *noExt}})
	}
	if err != nil {
		fmt.Fprintln(stderr, "job export:", err)
		return 1
	}
	return 0
}

func readClosedFile(path string) (job.Closed, error) {
	f, err := os.Open(path)
	if err != nil {
		return job.Closed{}, err
	}
	defer f.Close()
	c, err := job.DecodeClosed(f)
	if err != nil {
		return job.Closed{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
