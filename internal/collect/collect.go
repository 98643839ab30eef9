// Package collect reads every source of a rule file once per evaluation
// cycle, concurrently and each within its timeout, and turns what came back
// into per-metric values, holding last good values until they are stale.
// The readers and what they return are defined in package sample.
package collect
