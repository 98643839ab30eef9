package haproxylint

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/haproxy-agent/agent/internal/haproxycfg"
	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// TestLint reads realistic configurations (comments, quoted agent-send,
// named and implicit defaults, several backends) and checks every warning
// and its line.
func TestLint(t *testing.T) {
	for _, tc := range []struct {
		cfg, rules string
		opts       Options
		want       []string
	}{
		{cfg: "good.cfg", rules: "services.yaml", opts: Options{Port: 9999}},
		{cfg: "broken.cfg", rules: "services.yaml", opts: Options{Port: 9999}, want: []string{
			`broken.cfg:21: backend "web" has no ` + "`timeout check`" + `: HAProxy then waits up to agent-inter for a reply; set one, such as timeout check 1s`,
			`broken.cfg:23: server web/web1 sends agent-send "web1", which is no service of services.yaml (services: api, worker)`,
			`broken.cfg:23: server web/web1 has weight 1 while the rules send percentages: HAProxy truncates, so 50% of weight 1 is 0; set weight 100 (or use absolute weights, HAProxy 3.1+)`,
			`broken.cfg:24: server web/web2 polls every 100ms (agent-inter), under a quarter of the rules' interval 5s: most polls repeat the same reply`,
			`broken.cfg:27: backend "fixed": balance static-rr applies only weights 0% and 100%; the rules' other percentages do nothing here`,
			`broken.cfg:29: server fixed/f2 polls every 2m0s (agent-inter), over 10 × the rules' interval 5s: HAProxy learns a decision up to 2m0s late`,
			`services.yaml:11: service "worker": no server of broken.cfg sends agent-send "worker\n"`,
		}},
		// Another port: nothing polls this agent.
		{cfg: "good.cfg", rules: "services.yaml", opts: Options{Port: 9000}, want: []string{
			`good.cfg: no server polls the agent's port 9000: no server or server-template line has agent-check with agent-port 9000`,
		}},
		{cfg: "none.cfg", rules: "services.yaml", opts: Options{Port: 9999}, want: []string{
			`none.cfg: no server polls the agent's port 9999: no server or server-template line has agent-check with agent-port 9999`,
		}},
		// Absolute weights: no percentages, so weight 1 is fine; the
		// version decides.
		{cfg: "fleet.cfg", rules: "fleet.yaml", opts: Options{Port: 9999, Major: 3, Minor: 2}, want: []string{
			`fleet.cfg:11: server web/web2 sends no agent-send: in fleet mode each server names itself, such as agent-send "web2\n"`,
			`fleet.cfg:12: server-template web/dyn: its 3 servers all send agent-send "dyn", so the fleet agent cannot tell them apart; use push mode (fleet.push)`,
			`fleet.yaml:2: fleet server "web2": no server of fleet.cfg sends agent-send "web2"`,
			`fleet.yaml:2: fleet server "web3": no server of fleet.cfg sends agent-send "web3"`,
		}},
		{cfg: "fleet.cfg", rules: "fleet.yaml", opts: Options{Port: 9999, Major: 2, Minor: 6}, want: []string{
			`fleet.cfg:11: server web/web2 sends no agent-send: in fleet mode each server names itself, such as agent-send "web2\n"`,
			`fleet.cfg:12: server-template web/dyn: its 3 servers all send agent-send "dyn", so the fleet agent cannot tell them apart; use push mode (fleet.push)`,
			`fleet.yaml:2: fleet server "web2": no server of fleet.cfg sends agent-send "web2"`,
			`fleet.yaml:2: fleet server "web3": no server of fleet.cfg sends agent-send "web3"`,
			`fleet.yaml:8: rule "cpu > 0.9" sends an absolute weight (weight:50), which HAProxy 2.6 ignores (3.1 and later read it); use a percent`,
		}},
	} {
		t.Run(tc.cfg+"+"+tc.rules, func(t *testing.T) {
			t.Chdir("testdata")
			cfg, err := haproxycfg.ParseFile(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			f, err := rules.ParseFile(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range Lint(cfg, f, tc.opts) {
				got = append(got, w.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("warnings:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

// TestConfigsPassHAProxy: every configuration the lint is tested on is
// one HAProxy 2.6 and 3.2 accept, so that the lint never reads a file
// HAProxy would refuse.
func TestConfigsPassHAProxy(t *testing.T) {
	cfgs, _ := filepath.Glob("testdata/*.cfg")
	if len(cfgs) == 0 {
		t.Fatal("no testdata/*.cfg")
	}
	testutil.CheckHAProxyConfigs(t, cfgs...)
}
