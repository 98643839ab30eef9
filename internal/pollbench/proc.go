package pollbench

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// Memory is a process's resident memory as /proc/PID/status reports it.
type Memory struct {
	// RSS is VmRSS: resident now.
	RSS int64
	// HWM is VmHWM: the highest RSS since the process started.
	HWM int64
}

// ProcCPU returns the CPU time (user+system, reaped children included)
// process pid has used so far, read from /proc/PID/stat. ok is false when
// the process or /proc is not there.
func ProcCPU(pid int) (d time.Duration, ok bool) { return procCPU(pid) }

// ProcMemory reads the resident memory of process pid from
// /proc/PID/status. ok is false when the process or /proc is not there.
func ProcMemory(pid int) (Memory, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, false
	}
	var m Memory
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		default:
			continue
		}
		// "   12345 kB"
		f := bytes.Fields(val)
		if len(f) != 2 || string(f[1]) != "kB" {
			return Memory{}, false
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return Memory{}, false
		}
		*dst = n << 10
		seen++
	}
	// Kernel threads and zombies have no Vm* lines.
	return m, seen == 2
}

// memSampler records the highest RSS of a process while a run lasts, by
// polling read every interval: VmHWM alone would include whatever the
// process did before the run.
type memSampler struct {
	read func() (Memory, bool)
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	peak int64
	ok   bool
}

const memSampleInterval = 100 * time.Millisecond

func startMemSampler(read func() (Memory, bool)) *memSampler {
	s := &memSampler{read: read, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(memSampleInterval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *memSampler) sample() {
	m, ok := s.read()
	if !ok {
		return
	}
	s.mu.Lock()
	s.peak = max(s.peak, m.RSS)
	s.ok = true
	s.mu.Unlock()
}

// finish stops sampling, takes a last sample and returns the peak RSS
// seen during the run and the process's VmHWM at its end.
func (s *memSampler) finish() (peakRSS, hwm int64, ok bool) {
	close(s.stop)
	<-s.done
	m, mok := s.read()
	if mok {
		s.mu.Lock()
		s.peak = max(s.peak, m.RSS)
		s.ok = true
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, m.HWM, s.ok && mok
}
