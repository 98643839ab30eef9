package pollbench

import (
	"bufio"
	"context"
	"net"
	"sync"
	"testing"

	"github.com/haproxy-agent/agent/internal/testutil"
)

func TestSendNames(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	addr := testutil.TCPServer(t, func(c net.Conn) {
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		mu.Lock()
		seen[line]++
		mu.Unlock()
		c.Write([]byte("up\n"))
	})
	r, err := Run(context.Background(), Config{Addr: addr, Concurrency: 4, Count: 400, Send: "web%d\n", SendNames: 100, ExpectLine: "up"})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK != 400 {
		t.Fatalf("ok %d of %d: %v", r.OK, r.Polls, r.Examples)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 100 || seen["web0\n"] == 0 || seen["web99\n"] == 0 {
		t.Errorf("%d distinct names sent: %v", len(seen), seen)
	}
	if err := (&Config{Addr: addr, Concurrency: 1, Count: 1, Send: "web\n", SendNames: 10}).Validate(); err == nil {
		t.Error("a pattern without a number verb validated")
	}
}
