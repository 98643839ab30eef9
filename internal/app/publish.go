package app

import (
	"sync/atomic"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/responder"
)

// Publisher receives the outcome of every evaluation, in order, on the
// loop's goroutine. It must return quickly (hand slow work, such as a
// network push, to its own goroutine): the next evaluation waits for it.
// The result is shared and must not be modified.
type Publisher interface {
	Publish(res *evaluator.Result)
}

// publish hands res to every publisher, in order: the state file first,
// then the poll table, so that HAProxy's polls see the new replies before
// anything else happens but never before the state file records them.
func (a *agent) publish(res *evaluator.Result) {
	for _, p := range a.publishers {
		p.Publish(res)
	}
}

// pollTable publishes each evaluation's replies to the agent port, and
// counts, in fleet mode, the polls each server's line answered.
type pollTable struct {
	resp *responder.Server
	// answers are, in fleet mode, the poll counters of each server's
	// current line.
	answers map[string]*answers
}

func newPollTable(resp *responder.Server) *pollTable {
	return &pollTable{resp: resp, answers: map[string]*answers{}}
}

// answers counts the polls of one fleet server answered with one line.
type answers struct {
	line string
	n    atomic.Uint64
	// seen is n when the loop last read it.
	seen uint64
}

// Publish builds the table the responder answers polls from.
func (p *pollTable) Publish(res *evaluator.Result) {
	if res.Guardrail != nil {
		p.publishFleet(res)
		return
	}
	byService := make(map[string][]byte, len(res.Services))
	def := []byte(nil)
	for i, d := range res.Services {
		if i == 0 {
			def = []byte(d.Reply)
			continue
		}
		byService[d.Service] = []byte(d.Reply)
	}
	p.resp.Publish(responder.NewTable(def, byService))
}

// publishFleet publishes a fleet's replies by server name, each line with
// the counter of the polls it answers.
func (p *pollTable) publishFleet(res *evaluator.Result) {
	byServer := make(map[string][]byte, len(res.Servers))
	answered := make(map[string]*atomic.Uint64, len(res.Servers))
	for _, d := range res.Servers {
		byServer[d.Server] = []byte(d.Reply)
		// A line gets a new counter when it changes: polls answered
		// from an older table count on the old one.
		m := p.answers[d.Server]
		if m == nil || m.line != d.Reply {
			m = &answers{line: d.Reply}
			p.answers[d.Server] = m
		}
		answered[d.Server] = &m.n
	}
	p.resp.Publish(responder.NewFleetTableAnswered(byServer, answered))
	for name := range p.answers {
		if _, ok := answered[name]; !ok {
			delete(p.answers, name)
		}
	}
}

// reportPolls tells e which fleet servers HAProxy polled since the last
// evaluation, answered their last reply: a server it may hold out of
// rotation is back only once told its restore, and one no longer
// discovered is forgotten after forget_after without a poll.
func (p *pollTable) reportPolls(now time.Time, e *evaluator.Evaluator) {
	for name, m := range p.answers {
		if n := m.n.Load(); n != m.seen {
			m.seen = n
			e.Polled(now, name)
		}
	}
}

// stateRecorder logs the reply changes of each evaluation and records
// them in the state file, with the fleet servers HAProxy may hold out and
// why. It runs before the poll table: from the moment HAProxy can be told
// a line, the state file has it, so that a crash right after a drain was
// answered cannot lose it (the restarted agent counts that server out
// from its first evaluation).
type stateRecorder struct{ a *agent }

func (p stateRecorder) Publish(res *evaluator.Result) { p.a.recordReplies(res) }

// statusPublisher keeps what the agent shows of each evaluation: /status,
// /metrics and the status page's history.
type statusPublisher struct{ a *agent }

func (p statusPublisher) Publish(res *evaluator.Result) { p.a.publishStatus(res) }
