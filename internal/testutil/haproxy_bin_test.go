package testutil

import (
	"fmt"
	"strings"
	"testing"
)

// stopTB records the Fatalf or Skipf that ends a helper, which it stops
// with a panic instead of ending the real test.
type stopTB struct {
	testing.TB
	how, msg string
}

func (s *stopTB) Helper() {}
func (s *stopTB) Fatalf(format string, args ...any) {
	s.how, s.msg = "fatal", fmt.Sprintf(format, args...)
	panic(s)
}
func (s *stopTB) Skipf(format string, args ...any) {
	s.how, s.msg = "skip", fmt.Sprintf(format, args...)
	panic(s)
}

func startMissing(t *testing.T) (s *stopTB) {
	s = &stopTB{TB: t}
	defer func() {
		if r := recover(); r != nil && r != any(s) {
			panic(r)
		}
	}()
	StartHAProxyBin(s, "/nonexistent/haproxy-3.2", "")
	return s
}

// A missing binary skips the test, or fails it in CI.
func TestStartHAProxyBinMissing(t *testing.T) {
	t.Setenv(HAProxyRequireEnv, "")
	if s := startMissing(t); s.how != "skip" || !strings.Contains(s.msg, "/nonexistent/haproxy-3.2") {
		t.Errorf("without $%s: %s %q, want a skip naming the binary", HAProxyRequireEnv, s.how, s.msg)
	}
	t.Setenv(HAProxyRequireEnv, "1")
	if s := startMissing(t); s.how != "fatal" || !strings.Contains(s.msg, "/nonexistent/haproxy-3.2") {
		t.Errorf("with $%s: %s %q, want a failure naming the binary", HAProxyRequireEnv, s.how, s.msg)
	}
}

func TestHAProxyVersions(t *testing.T) {
	t.Setenv(HAProxy32Env, "")
	if v := HAProxyVersions(); len(v) != 2 || v[0].Bin != "" || v[1].Bin != DefaultHAProxy32 {
		t.Errorf("default versions: %+v", v)
	}
	t.Setenv(HAProxy32Env, "/opt/haproxy32")
	if v := HAProxyVersions(); v[1].Bin != "/opt/haproxy32" || v[1].Name != "3.2" {
		t.Errorf("with $%s: %+v", HAProxy32Env, v)
	}
}
