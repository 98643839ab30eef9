//go:build !race

package rules

// raceEnabled is true when the tests run under the race detector, whose
// shadow memory makes a process's RSS meaningless as a figure.
const raceEnabled = false
