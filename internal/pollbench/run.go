package pollbench

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// recorder collects the outcomes of one measured run from every worker.
type recorder struct {
	lat      histogram
	kinds    [numKinds]atomic.Int64
	examples [numKinds]atomic.Pointer[string]
	// maxLag is the longest an open-loop poll waited between its
	// scheduled time and the moment a worker started it: the generator's
	// own shortfall.
	maxLag atomic.Int64
}

func (r *recorder) add(k Kind, err error, lat time.Duration) {
	r.kinds[k].Add(1)
	if k == OK {
		r.lat.record(lat)
		return
	}
	if r.examples[k].Load() == nil {
		msg := k.String()
		if err != nil {
			msg = err.Error()
		}
		r.examples[k].CompareAndSwap(nil, &msg)
	}
}

func (r *recorder) lag(d time.Duration) {
	for {
		m := r.maxLag.Load()
		if int64(d) <= m || r.maxLag.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Run polls cfg.Addr as configured and returns what it measured. A
// cancelled ctx ends the run early; the report then covers the polls made
// so far. The error is non-nil only for an invalid configuration.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if cfg.Warmup > 0 {
		w := cfg
		w.Duration, w.Count, w.Warmup = cfg.Warmup, 0, 0
		measure(ctx, &w, &recorder{})
	}
	rec := &recorder{}
	var srv0 time.Duration
	srvOK := cfg.ServerCPU != nil
	if srvOK {
		srv0, srvOK = cfg.ServerCPU()
	}
	var mem *memSampler
	if cfg.ServerMemory != nil {
		mem = startMemSampler(cfg.ServerMemory)
	}
	cpu0 := processCPU()
	elapsed := measure(ctx, &cfg, rec)
	cpu := processCPU() - cpu0
	r := newReport(&cfg, rec, elapsed, cpu)
	if mem != nil {
		r.ServerRSS, r.ServerHWM, r.ServerMemoryKnown = mem.finish()
	}
	if srvOK {
		if srv1, ok := cfg.ServerCPU(); ok {
			r.ServerCPU, r.ServerCPUKnown = srv1-srv0, true
		}
	}
	return r, nil
}

// measure runs one loop into rec and returns its wall time.
func measure(ctx context.Context, cfg *Config, rec *recorder) time.Duration {
	var stop atomic.Bool
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		t := time.AfterFunc(cfg.Duration, cancel)
		defer t.Stop()
	}
	go func() {
		<-ctx.Done()
		stop.Store(true)
	}()
	if cfg.Rate > 0 {
		return openLoop(ctx, cfg, rec, start)
	}
	closedLoop(cfg, rec, &stop)
	return time.Since(start)
}

// closedLoop runs cfg.Concurrency workers polling back to back until stop
// is set or cfg.Count polls have been claimed.
func closedLoop(cfg *Config, rec *recorder, stop *atomic.Bool) {
	var claimed atomic.Int64
	timeout := cfg.timeout()
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Go(func() {
			p := newPoller(cfg, w)
			for !stop.Load() {
				if cfg.Count > 0 && claimed.Add(1) > cfg.Count {
					return
				}
				t0 := time.Now()
				k, err := p.poll(t0.Add(timeout))
				rec.add(k, err, time.Since(t0))
			}
		})
	}
	wg.Wait()
}

// openLoop schedules polls at fixed intervals from start. Each poll's
// latency runs from its scheduled time, so time spent waiting for a free
// worker (or for a stalled target) is counted, not omitted. It returns the
// scheduled span (polls issued times the interval), so that the achieved
// rate is not diluted by waiting for the last polls in flight.
func openLoop(ctx context.Context, cfg *Config, rec *recorder, start time.Time) time.Duration {
	timeout := cfg.timeout()
	workers := cfg.openWorkers()
	jobs := make(chan time.Time, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			p := newPoller(cfg, w)
			for sched := range jobs {
				t0 := time.Now()
				rec.lag(t0.Sub(sched))
				k, err := p.poll(t0.Add(timeout))
				rec.add(k, err, time.Since(sched))
			}
		})
	}
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var end time.Time
	if cfg.Duration > 0 {
		end = start.Add(cfg.Duration)
	}
	var i int64
schedule:
	for ; cfg.Count == 0 || i < cfg.Count; i++ {
		sched := start.Add(time.Duration(i) * interval)
		if !end.IsZero() && !sched.Before(end) {
			break
		}
		// Go timers wake up to a millisecond late on Linux, which would
		// add up to 1ms to every latency measured from the schedule. Long
		// waits use a timer (cancellable) until 2ms before; the rest is a
		// nanosleep, which blocks this goroutine's thread and is accurate
		// to tens of microseconds, without spinning a CPU.
		if d := time.Until(sched); d > 5*time.Millisecond {
			timer.Reset(d - 2*time.Millisecond)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break schedule
			}
		}
		if d := time.Until(sched); d > 0 {
			ts := syscall.NsecToTimespec(int64(d))
			_ = syscall.Nanosleep(&ts, nil)
		}
		select {
		case jobs <- sched:
		case <-ctx.Done():
			break schedule
		}
	}
	close(jobs)
	wg.Wait()
	return time.Duration(i) * interval
}

// processCPU returns the user plus system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
