package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/source"
)

const listenRules = `interval: 5s
sources:
  app:
    scrape: %s
    timeout: 5s
metrics:
  queue_depth: app:queue_depth
rules:
  - queue_depth > 500 => drain
`

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPortInUseComesFirst: a port already taken is reported before any
// source is read, and no reply is logged for an agent that never served.
func TestPortInUseComesFirst(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	var reads atomic.Int64
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reads.Add(1)
		fmt.Fprintln(w, "queue_depth 600")
	}))
	t.Cleanup(src.Close)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(listenRules, src.URL))
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	for _, port := range []string{"agent", "web"} {
		t.Run(port, func(t *testing.T) {
			var logs lockedBuffer
			o := Options{
				RulesPath: path, Listen: "127.0.0.1:0", WebListen: "127.0.0.1:0",
				NewReader: source.New,
				Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
			}
			if port == "agent" {
				o.Listen = taken.Addr().String()
			} else {
				o.WebListen = taken.Addr().String()
			}
			err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), port+" port") || !strings.Contains(err.Error(), "address already in use") {
				t.Fatalf("Run: %v; want the %s port in use", err, port)
			}
			// The error names the flag that picks another port.
			if flag := map[string]string{"agent": "(--listen)", "web": "(--web.listen-address)"}[port]; !strings.Contains(err.Error(), flag) {
				t.Errorf("Run: %v; want it to name %s", err, flag)
			}
			if n := reads.Load(); n != 0 {
				t.Errorf("the source was read %d times before the port error", n)
			}
			if strings.Contains(logs.String(), "reply") {
				t.Errorf("a reply was logged by an agent that never served:\n%s", logs.String())
			}
		})
	}
}

// TestBindBeforeFirstEvaluation: the agent port accepts connections while
// the first evaluation is still reading, and the poll queued meanwhile gets
// the reply of that evaluation, not an early close.
func TestBindBeforeFirstEvaluation(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	release := make(chan struct{})
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintln(w, "queue_depth 600")
	}))
	t.Cleanup(src.Close)
	t.Cleanup(func() { closeOnce(release) })
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(listenRules, src.URL))
	// Bind a port, free it, and give it to the agent: the test must dial
	// it before the agent says it started.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			RulesPath: path, Listen: addr, WebListen: "127.0.0.1:0",
			NewReader: source.New, Logger: quietLogger(),
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	var c net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent port was not bound while the first evaluation read: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer c.Close()
	// The source is still held: the first evaluation has not finished.
	closeOnce(release)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(c); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "up drain 100% #queue_depth > 500\n"; got != want {
		t.Errorf("first poll got %q, want %q (the first evaluation's reply)", got, want)
	}
}

var closeMu sync.Mutex

func closeOnce(ch chan struct{}) {
	closeMu.Lock()
	defer closeMu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}
