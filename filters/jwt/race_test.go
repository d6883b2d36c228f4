//go:build race

package jwt

// raceEnabled: under the race detector, sync.Pool drops some of what it is
// given on purpose, so counts of allocations a pool saves do not hold.
const raceEnabled = true
