//go:build race

package recorder

// raceEnabled is true when the race detector is on, which adds allocations
// that a test of allocation counts must not see.
const raceEnabled = true
