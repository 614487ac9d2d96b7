//go:build !unix

package detect

import "time"

// processCPUTime reports false: the CPU time is read on Unix systems only.
func processCPUTime() (time.Duration, bool) { return 0, false }
