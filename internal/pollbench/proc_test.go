package pollbench

import (
	"os"
	"testing"
)

func TestProcMemoryAndCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	m, ok := ProcMemory(os.Getpid())
	if !ok || m.RSS <= 0 || m.HWM < m.RSS {
		t.Fatalf("ProcMemory(self) = %+v, %v; want RSS > 0 and HWM >= RSS", m, ok)
	}
	if _, ok := ProcCPU(os.Getpid()); !ok {
		t.Fatal("ProcCPU(self) not ok")
	}
	if _, ok := ProcMemory(-1); ok {
		t.Fatal("ProcMemory(-1) ok")
	}
	s := startMemSampler(func() (Memory, bool) { return ProcMemory(os.Getpid()) })
	peak, hwm, ok := s.finish()
	if !ok || peak <= 0 || hwm < peak {
		t.Fatalf("sampler: peak %d hwm %d ok %v", peak, hwm, ok)
	}
}
