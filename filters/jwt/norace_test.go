//go:build !race

package jwt

// raceEnabled is race_test.go's, without the race detector.
const raceEnabled = false
