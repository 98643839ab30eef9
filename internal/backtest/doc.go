// Package backtest replays rule files over the history Prometheus holds:
// what would these rules have replied last week?
//
// It reads each metric's past values with range queries (Fetcher), then
// feeds them, step by step over simulated time, through the very path
// `agent serve` uses: source.Reading turns each step's samples into a
// reading, collect.Holder holds last good values until stale_after, and
// the evaluator applies for, keep_firing_for, on_missing, the restore
// window, the ramp and the guardrail. Nothing of the semantics is written
// twice. Replay records, per service or fleet server, every change of
// what the agent wants and the totals an SRE asks about.
package backtest
