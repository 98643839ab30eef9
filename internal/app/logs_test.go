package app

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/promslog"
)

// TestLogs runs an agent with promslog, as the CLI does, and checks what
// an operator reads: the source's name under its own key, firing rules as
// one string, a metric going stale logged once, an unchanged file on
// SIGHUP and a reload at info, every message lowercase.
func TestLogs(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	exp := newExporter(t)
	exp.set("queue_depth", 600)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	rules := fmt.Sprintf(`interval: 100ms
stale_after: 300ms
sources:
  app:
    scrape: %s
    timeout: 100ms
metrics:
  queue_depth: app:queue_depth
rules:
  - queue_depth > 500 => drain
  - queue_depth > 100 => weight 50%%
`, exp.srv.URL)
	writeAtomic(t, path, rules)
	var logs lockedBuffer
	sighup := make(chan struct{})
	ag := startAgent(t, Options{
		RulesPath: path, Reload: sighup, EnableLifecycle: true,
		Logger: promslog.New(&promslog.Config{Writer: &logs}),
	})
	count := func(re string) int { return len(regexp.MustCompile(re).FindAllString(logs.String(), -1)) }

	waitFor(t, "the reply change log", func() bool { return count(`msg="reply changed"`) > 0 })
	if count(`firing="queue_depth > 500, queue_depth > 100"`) != 1 {
		t.Errorf("firing rules not logged as one quoted, comma-joined string:\n%s", logs.String())
	}

	exp.fail.Store(true)
	waitFor(t, "a source-down log", func() bool { return count(`msg="source read failed`) > 0 })
	waitFor(t, "the stale log", func() bool { return count(`msg="metric is stale`) > 0 })
	// Ten more cycles: still logged once.
	evals := metricSum(ag.get(t, "/metrics"), "haproxy_agent_evaluations_total")
	waitFor(t, "ten more evaluations", func() bool {
		return metricSum(ag.get(t, "/metrics"), "haproxy_agent_evaluations_total") >= evals+10
	})
	if n := count(`msg="metric is stale`); n != 1 {
		t.Errorf("stale metric logged %d times, want once:\n%s", n, logs.String())
	}
	if n := count(`msg="source read failed`); n != 1 {
		t.Errorf("failed source logged %d times, want once", n)
	}
	if count(`source_name=app`) == 0 || strings.Contains(logs.String(), "logged_source") {
		t.Errorf("the source's name is not under source_name, or clashes with promslog's source:\n%s", logs.String())
	}

	sighup <- struct{}{}
	waitFor(t, "the unchanged-file log", func() bool {
		return count(`level=INFO source=\S+ msg="rule file unchanged, not reloading" trigger=SIGHUP`) == 1
	})
	writeAtomic(t, path, strings.Replace(rules, "weight 50%", "weight 40%", 1))
	reloadNow(ag)
	// By the request or, on a loaded machine, by the file watcher first
	// (trigger="file changed").
	waitFor(t, "the reload log", func() bool {
		return count(`level=INFO source=\S+ msg="rule file reloaded" trigger=("[^"]*"|\S+) file=\S+ rules=2 hash=[0-9a-f]{12}`) >= 1
	})

	first := regexp.MustCompile(`msg="?(.)`)
	for _, line := range strings.Split(logs.String(), "\n") {
		// exporter-toolkit's own lines ("Listening on", "TLS is disabled.")
		// come through the logger it is given, marked component=web; their
		// wording is the library's.
		if strings.Contains(line, "component=web") {
			continue
		}
		if m := first.FindStringSubmatch(line); m != nil && m[1] != strings.ToLower(m[1]) {
			t.Errorf("log message not lowercase: %s", line)
		}
	}
}

// TestStatusJSONReadable: /status writes expressions as they are, without
// \u003e, and no -1 placeholder for an unset maxconn or weight.
func TestStatusJSONReadable(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, stormA)
	ag := startAgent(t, Options{RulesPath: path, Logger: quietLogger()})
	st := ag.get(t, "/status")
	if !strings.Contains(st, `"expr": "cpus >= 0"`) || strings.Contains(st, `\u003e`) {
		t.Errorf("/status escapes '>':\n%s", st)
	}
	if strings.Contains(st, ": -1") {
		t.Errorf("/status shows the -1 placeholder:\n%s", st)
	}
}

// TestReloadLoggedBeforeItsReplyChange: the reply change a reload causes
// is logged after the reload itself, so that the log reads in the order
// things happened.
func TestReloadLoggedBeforeItsReplyChange(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	exp := newExporter(t)
	exp.set("queue_depth", 600)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	rules := fmt.Sprintf("interval: 100ms\nsources:\n  app:\n    scrape: %s\nmetrics:\n  queue_depth: app:queue_depth\nrules:\n  - queue_depth > 500 => drain\n", exp.srv.URL)
	writeAtomic(t, path, rules)
	var logs lockedBuffer
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	ag := startAgent(t, Options{RulesPath: path, EnableLifecycle: true, Allow: allow, Logger: promslog.New(&promslog.Config{Writer: &logs})})
	// The start-up line names who may poll.
	if !regexp.MustCompile(`msg=serving .* poll_allow="127\.0\.0\.0/8 ::1/128"`).MatchString(logs.String()) {
		t.Errorf("the serving line does not name the allowed networks:\n%s", logs.String())
	}
	changed := regexp.MustCompile(`msg="reply changed" service=default from="up drain 100% #queue_depth > 500" to="up ready 40% #queue_depth > 500"`)
	waitFor(t, "the first reply", func() bool { return strings.Contains(logs.String(), `to="up drain 100% #queue_depth > 500"`) })
	writeAtomic(t, path, strings.Replace(rules, "=> drain", "=> weight 40%", 1))
	reloadNow(ag)
	waitFor(t, "the reply change and the reload log", func() bool {
		return changed.MatchString(logs.String()) && strings.Contains(logs.String(), `msg="rule file reloaded"`)
	})
	out := logs.String()
	if r, c := strings.Index(out, `msg="rule file reloaded"`), changed.FindStringIndex(out)[0]; r > c {
		t.Errorf("the reply change is logged before the reload that caused it:\n%s", out)
	}
}
