package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bayagent/bayagent/agent/healthrecord"
	"github.com/bayagent/bayagent/agent/job"
)

// runJob is `bayagent job export`: a closed job in the health-record
// system's upload form.
func runJob(_ context.Context, e env, args []string) error {
	if _, err := subcommandHelp(e, "job", args, "export"); err != nil {
		return err
	}
	fs := newFlagSet(e, "job export", "[--config FILE [--env-file FILE] | --file PATH] [--company NAME] [--no-extension] [JOB_ID]")
	cf := addConfigFlags(fs, "where its closed jobs are, the company name")
	file := fs.String("file", "", "read the closed job from this file instead of the agent's state directory")
	company := fs.String("company", "", "the shop's registered name (default device.company_name of the configuration)")
	noExt := fs.Bool("no-extension", false, "leave out the x_bayagent_mstation extension")
	if err := fs.ParseArgs(args[1:]); err != nil {
		return err
	}
	if (*file == "") == (fs.NArg() == 0) || fs.NArg() > 1 {
		return usagef("give a JOB_ID or --file PATH")
	}
	var c job.Closed
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		if c, err = job.DecodeClosed(f); err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
	} else {
		cfg, err := cf.load()
		if err != nil {
			return err
		}
		if *company == "" {
			*company = cfg.Device.CompanyName
		}
		if c, err = job.ReadClosed(filepath.Join(cfg.Device.StateDir, "jobs"), fs.Arg(0)); err != nil {
			return err
		}
	}
	if c.ClockUnsynced {
		fmt.Fprintf(e.stderr, "warning: job %s was settled while the box's clock was not synchronised: its settlement time %s may be wrong "+
			"(bayagent verify on the box's records gives the corrected time)\n", c.ID, c.ClosedAt.UTC().Format(time.RFC3339))
	}
	return healthrecord.Export(e.stdout, c, healthrecord.Options{CompanyName: *company, Dialect: healthrecord.Shared{OmitExtension: *noExt}})
}
