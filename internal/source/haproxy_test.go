package source

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// TestHAProxySource reads qcur, scur, weight and up of real HAProxys (2.6
// and 3.2) over their unix socket and over TCP, compares each with show
// stat read directly, and reads a fleet vector by server.
func TestHAProxySource(t *testing.T) {
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		port := testutil.FreePort(t)
		h := testutil.StartHAProxyBin(t, bin, fmt.Sprintf("global\n    stats socket ipv4@127.0.0.1:%d level admin\n", port)+testutil.HAProxyTCPDefaults+`
backend be
    server web1 127.0.0.1:1 weight 100
    server web2 127.0.0.1:2 weight 30
`)
		if out, err := h.Command("set server be/web2 state maint"); err != nil || out != "\n" {
			t.Fatal(out, err)
		}
		for _, addr := range []string{"unix:" + h.Socket, fmt.Sprintf("tcp:127.0.0.1:%d", port)} {
			f, err := rules.Parse([]byte(fmt.Sprintf(`
sources:
  lb: {haproxy: %q}
metrics:
  queue: lb:qcur{proxy="be",server="web1"}
  sessions: lb:scur{proxy="be",server="web2"}
  weight1: lb:weight{proxy="be",server="web1"}
  weight2: lb:weight{proxy="be",server="web2"}
  up1: lb:up{proxy="be",server="web1"}
  up2: lb:up{proxy="be",server="web2"}
rules: []
`, addr)), "lb.yaml")
			if err != nil {
				t.Fatal(err)
			}
			r, err := New(f.Source("lb"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Read(context.Background(), f.Metrics)
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			web1, _ := h.ServerStat("be", "web1")
			web2, _ := h.ServerStat("be", "web2")
			want := []string{web1["qcur"], web2["scur"], web1["weight"], web2["weight"], "1", "0"}
			for i, m := range f.Metrics {
				if got[i].Err != nil || strconv.FormatFloat(got[i].Value, 'f', -1, 64) != want[i] {
					t.Errorf("%s %s = %v, %v; show stat says %s", addr, m.Name, got[i].Value, got[i].Err, want[i])
				}
			}
			if web2["weight"] != "30" || web2["status"] != "MAINT" {
				t.Errorf("show stat web2: %v", web2)
			}
		}

		// Fleet mode: one vector by server.
		f, err := rules.Parse([]byte(fmt.Sprintf(`
sources:
  lb: {haproxy: %q}
fleet:
  servers: [web1, web2]
metrics:
  weight: lb:weight{proxy="be"}
rules:
  - weight < 50 => drain
`, h.Socket)), "fleet.yaml")
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(f.Source("lb"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Read(context.Background(), f.Metrics)
		if err != nil {
			t.Fatal(err)
		}
		by := got[0].ByLabel
		if by["web1"].Value != 100 || by["web2"].Value != 30 || by["web1"].Err != nil {
			t.Errorf("weight by server: %+v", by)
		}
	})
}
