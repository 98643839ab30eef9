package pollbench

import (
	"os"
	"testing"
)

func TestProcMemoryAndCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	// Not HWM >= RSS: the kernel counts RSS per thread and folds the
	// counts in lazily ("inaccurate because of a kernel-internal
	// scalability optimization", proc(5)), so VmHWM can lag VmRSS by a
	// few pages, more often the busier the machine.
	m, ok := ProcMemory(os.Getpid())
	if !ok || m.RSS <= 0 || m.HWM <= 0 {
		t.Fatalf("ProcMemory(self) = %+v, %v; want RSS > 0 and HWM > 0", m, ok)
	}
	if _, ok := ProcCPU(os.Getpid()); !ok {
		t.Fatal("ProcCPU(self) not ok")
	}
	if _, ok := ProcMemory(-1); ok {
		t.Fatal("ProcMemory(-1) ok")
	}
	s := startMemSampler(func() (Memory, bool) { return ProcMemory(os.Getpid()) })
	peak, hwm, ok := s.finish()
	if !ok || peak <= 0 || hwm <= 0 {
		t.Fatalf("sampler: peak %d hwm %d ok %v", peak, hwm, ok)
	}
}
