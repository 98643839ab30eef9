// Package pollbench simulates many HAProxy agent-check pollers against one
// TCP address and measures what they see: polls per second, latency
// percentiles and failed polls by kind.
//
// A poll is what HAProxy does every agent-inter: connect, optionally write
// the agent-send string, read one line (ended by the first '\r' or '\n'),
// close. Run drives polls in one of two modes:
//
//   - Closed loop: N workers poll back to back. The figure that counts is
//     throughput (successful polls per second); latency in this mode mostly
//     measures queueing behind the other workers.
//   - Open loop: polls are scheduled at fixed intervals and each poll's
//     latency is counted from its scheduled start, so a stall in the target
//     (or in the generator) shows up as latency instead of silently delaying
//     later polls (no coordinated omission).
//
// Absolute figures on a small shared machine are noise; compare a target
// with a baseline responder (StartBaseline, StartBaselineProcess) measured
// in the same run, as ratios.
package pollbench
