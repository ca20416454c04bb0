//go:build !linux

package clock

import "time"

func kernelSynced() (bool, error) { return false, errUnsupported }

func bootTime() (time.Duration, error) { return 0, errUnsupported }
