//go:build unix

package detect

import (
	"syscall"
	"time"
)

// processCPUTime returns the user and system CPU time that the process has
// used, garbage collection included. Benchmarks report it beside the wall
// time, which counts the time the process waits for a core on a busy
// machine.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
