package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/procfs"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// firstCPUWindow is how long the first read of cpu samples /proc/stat: the
// busy fraction since boot says little about now, so the first read takes
// two samples this far apart.
const firstCPUWindow = 100 * time.Millisecond

// host reads the host's own counters from /proc.
type host struct {
	fs      procfs.FS
	prev    procfs.CPUStat
	hasPrev bool
}

func newHost() (*host, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return nil, fmt.Errorf("procfs: %w", err)
	}
	return &host{fs: fs}, nil
}

// hostReads holds what one Read took from /proc, each file read at most once.
type hostReads struct {
	stat    *procfs.Stat
	statErr error
	load    *procfs.LoadAvg
	loadErr error
	mem     *procfs.Meminfo
	memErr  error
	cpuDone bool
	cpu     float64
	cpuErr  error
}

// Read reads the files the metrics need. cpu is the busy fraction of all
// CPUs between the previous read and this one.
func (h *host) Read(ctx context.Context, metrics []*rules.Metric) ([]sample.Reading, error) {
	var r hostReads
	out := make([]sample.Reading, len(metrics))
	failed := 0
	for i, m := range metrics {
		v, err := h.metric(ctx, &r, m.Selector)
		out[i] = sample.Reading{Value: v, Err: err}
		if err != nil {
			failed++
		}
	}
	// When nothing could be read from /proc at all, the source is down.
	if failed == len(out) && failed > 0 && (r.statErr != nil || r.loadErr != nil || r.memErr != nil) {
		return nil, out[0].Err
	}
	return out, nil
}

func (h *host) metric(ctx context.Context, r *hostReads, name string) (float64, error) {
	switch name {
	case "cpu":
		if !r.cpuDone {
			r.cpu, r.cpuErr = h.cpu(ctx, r)
			r.cpuDone = true
		}
		return r.cpu, r.cpuErr
	case "cpus":
		if err := h.readStat(r); err != nil {
			return 0, err
		}
		return float64(len(r.stat.CPU)), nil
	case "load1", "load5", "load15":
		if r.load == nil && r.loadErr == nil {
			r.load, r.loadErr = h.fs.LoadAvg()
			if r.loadErr != nil {
				r.loadErr = fmt.Errorf("loadavg: %w", r.loadErr)
			}
		}
		if r.loadErr != nil {
			return 0, r.loadErr
		}
		switch name {
		case "load1":
			return r.load.Load1, nil
		case "load5":
			return r.load.Load5, nil
		}
		return r.load.Load15, nil
	case "mem_used_ratio", "mem_available_bytes":
		if r.mem == nil && r.memErr == nil {
			mi, err := h.fs.Meminfo()
			switch {
			case err != nil:
				r.memErr = fmt.Errorf("meminfo: %w", err)
			case mi.MemTotalBytes == nil || mi.MemAvailableBytes == nil || *mi.MemTotalBytes == 0:
				r.memErr = errors.New("meminfo: no MemTotal or MemAvailable")
			default:
				r.mem = &mi
			}
		}
		if r.memErr != nil {
			return 0, r.memErr
		}
		avail := float64(*r.mem.MemAvailableBytes)
		if name == "mem_available_bytes" {
			return avail, nil
		}
		return 1 - avail/float64(*r.mem.MemTotalBytes), nil
	}
	return 0, fmt.Errorf("unknown host metric %q", name)
}

func (h *host) readStat(r *hostReads) error {
	if r.stat == nil && r.statErr == nil {
		st, err := h.fs.Stat()
		if err != nil {
			r.statErr = fmt.Errorf("stat: %w", err)
		} else {
			r.stat = &st
		}
	}
	return r.statErr
}

func (h *host) cpu(ctx context.Context, r *hostReads) (float64, error) {
	if !h.hasPrev && r.stat == nil {
		if err := h.readStat(r); err != nil {
			return 0, err
		}
		h.prev, h.hasPrev = r.stat.CPUTotal, true
		t := time.NewTimer(firstCPUWindow)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
		r.stat = nil
	}
	if err := h.readStat(r); err != nil {
		return 0, err
	}
	cur := r.stat.CPUTotal
	busy, total := busyTotal(cur)
	pbusy, ptotal := busyTotal(h.prev)
	if total <= ptotal {
		// Reads closer together than a clock tick: keep the older sample.
		return 0, errors.New("no cpu time elapsed since the previous read")
	}
	h.prev = cur
	// Rounding in the seconds procfs computes can step just outside [0, 1].
	return min(max((busy-pbusy)/(total-ptotal), 0), 1), nil
}

// busyTotal sums /proc/stat's CPU times; guest time is already counted in
// user time.
func busyTotal(c procfs.CPUStat) (busy, total float64) {
	idle := c.Idle + c.Iowait
	busy = c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	return busy, busy + idle
}
