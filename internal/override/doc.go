// Package override keeps the operator's overrides: instructions such as
// "drain this server until I say otherwise" that win over the rules.
//
// The agent sends HAProxy its complete state on every poll, so a drain an
// operator sets on HAProxy's runtime API (`set server ... state drain`) is
// undone at the next poll. Overrides are the agent-side replacement: they
// are applied by the evaluator on top of what the rules decide, show in
// the reply's description as "override: REASON", survive a restart of the
// agent (Store persists them to a state file) and may expire on their own.
//
// The parts: Store (the set, its validation and its state file), Handler
// (the HTTP API under /api/v1/overrides) and Client (what `agent override`
// uses to reach a running agent).
package override
