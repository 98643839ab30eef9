package rules

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/haproxy-agent/agent/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// sumExpr is a condition of n syntax nodes, or n-1 for an even n:
// cpu + cpu + ... > 1.
func sumExpr(n int) string {
	return strings.Repeat("cpu + ", (n-1)/2-1) + "cpu > 1"
}

// aliasFile is a file that names one expression of about nodes syntax
// nodes once, uses it through a YAML alias in `rules` rules, and gives the
// list of rules, again through an alias, to `services` services: each
// rule is compiled once per service, so the file, a few kilobytes, holds
// services × rules × nodes nodes.
func aliasFile(services, rules, nodes int) []byte {
	var b bytes.Buffer
	b.WriteString("metrics:\n  cpu: host:cpu\nrules: []\nservices:\n  s0:\n    rules: &r\n")
	for i := range rules {
		when := "*e"
		if i == 0 {
			when = fmt.Sprintf("&e %q", sumExpr(nodes))
		}
		fmt.Fprintf(&b, "      - name: r%d\n        when: %s\n        then: drain\n", i, when)
	}
	for s := 1; s < services; s++ {
		fmt.Fprintf(&b, "  s%d: {rules: *r}\n", s)
	}
	return b.Bytes()
}

// TestAliasesCountAfterExpansion loads 100 services × 100 aliased rules of
// 990 nodes: 10 KB of YAML, 10,000 rules, 9.9 million nodes once the
// aliases are expanded. It loaded, in 12 s and 2 GB; the node limit of the
// file, counted after expansion, now stops it.
func TestAliasesCountAfterExpansion(t *testing.T) {
	data := aliasFile(100, 100, 990)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(data, "alias.yaml")
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("loaded")
	}
	if want := fmt.Sprintf("too many expression nodes in the file: more than %d", MaxFileNodes); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q; want it to say %q", err, want)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 1 {
		t.Errorf("%d errors; want the limit said once:\n%v", n, err)
	}
	// Compiling stops at the limit: what was allocated is what a file at
	// the limit costs (about 300 bytes per node, garbage included), not
	// ten times that.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(MaxFileNodes)*600; got > limit {
		t.Errorf("Parse allocated %d MB; want at most %d MB", got>>20, limit>>20)
	}
}

// TestAliasedFileWithinLimitsLoads checks that aliases stay usable: the
// same construction under the node limit loads, every alias a rule.
func TestAliasedFileWithinLimitsLoads(t *testing.T) {
	f, err := Parse(aliasFile(10, 10, 990), "alias.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.RuleCount(); n != 100 {
		t.Fatalf("%d rules; want 100", n)
	}
}

// TestCompileCostIndependentOfMetrics measures the bytes compiling a rule
// allocates with 10 and with 10,000 metrics declared. expr.Compile built
// the type environment, one entry per metric, anew for every expression:
// 10,000 rules over 10,000 metrics allocated 17 GB and took 36 s. The
// environment is now built once per file.
func TestCompileCostIndependentOfMetrics(t *testing.T) {
	perRule := func(metrics int) uint64 {
		alloc := func(rules int) uint64 {
			data := manyMetricsFile(metrics, rules)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, err := Parse(data, "m.yaml"); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			return after.TotalAlloc - before.TotalAlloc
		}
		return (alloc(400) - alloc(200)) / 200
	}
	few, many := perRule(10), perRule(10000)
	t.Logf("bytes allocated per rule: %d with 10 metrics, %d with 10,000", few, many)
	if many > 2*few {
		t.Errorf("a rule costs %d bytes with 10,000 metrics, %d with 10: compiling depends on the metrics declared", many, few)
	}
}

// manyMetricsFile declares metrics host metrics and rules rules, each
// reading two of them.
func manyMetricsFile(metrics, rules int) []byte {
	var b bytes.Buffer
	b.WriteString("metrics:\n")
	for i := range metrics {
		fmt.Fprintf(&b, "  m%d: host:cpu\n", i)
	}
	b.WriteString("rules:\n")
	for i := range rules {
		fmt.Fprintf(&b, "  - m%d > %d && m%d < 5 => drain\n", i%metrics, i, (i*7)%metrics)
	}
	return b.Bytes()
}

// memChildEnv names the file a child process of TestLimitsBoundMemory
// loads, and memChildOldEnv one it loads and keeps before.
const (
	memChildEnv    = "AGENT_RULES_MEMORY_CHILD"
	memChildOldEnv = "AGENT_RULES_MEMORY_OLD"
)

// TestLimitsBoundMemory loads, each in a process of its own, the largest
// files of their kind that the limits allow, and attacks that go over
// them, the way a reload does: the file loaded twice, both kept, as the
// running rules and the new ones are at the moment of a swap. The peak
// RSS (VmHWM) stays within 512 MB: the limits of a file bound the memory
// of loading it. The Go heap's peak is checked too.
func TestLimitsBoundMemory(t *testing.T) {
	if path := os.Getenv(memChildEnv); path != "" {
		memChild(os.Getenv(memChildOldEnv), path)
		return
	}
	// It loads files of several MB in child processes.
	testutil.Long(t)
	child := os.Args[0]
	if raceEnabled {
		// A race-built child would measure the race detector's shadow
		// memory (up to 1.1 GB), not the loader's: the children run a
		// copy of these tests built without it.
		child = filepath.Join(t.TempDir(), "rules.test")
		if out, err := exec.Command("go", "test", "-c", "-o", child, ".").CombinedOutput(); err != nil {
			t.Fatalf("building the tests without -race: %v\n%s", err, out)
		}
	}
	const limit = 512 << 20
	dir := t.TempDir()
	atLimit := func() []byte { return aliasFile(MaxFileNodes/99000, 100, 990) }
	// both is a file at the node limit that also holds a flow mapping of
	// as many YAML nodes as allowed, under a key that is not known: it
	// fails, but only once everything in it has been decoded and compiled.
	both := func() []byte {
		data := atLimit()
		return append(data, flowMapFile(2*(MaxYAMLSeparators-yamlSeparators(data))-16)...)
	}
	for _, tc := range []struct {
		name string
		// old, when set, is loaded first and kept, as the running rules
		// are kept while a reload loads the new ones.
		old, data func() []byte
		ok        bool
	}{
		{"100 services of 100 aliased 990-node rules", nil, func() []byte { return aliasFile(100, 100, 990) }, false},
		{"node limit reached through aliases", nil, atLimit, true},
		{"node limit reached in plain text", nil, func() []byte { return denseFile(MaxFileNodes/990, 990) }, true},
		{"10,000 rules over 10,000 metrics", nil, func() []byte { return manyMetricsFile(MaxMetrics, MaxRules) }, true},
		{"a 4 MiB flow mapping", nil, func() []byte { return flowMapFile(MaxFileSize) }, false},
		{"as many YAML nodes as allowed", nil, func() []byte { return flowMapFile(2*MaxYAMLSeparators - 16) }, false},
		{"node limit and as many YAML nodes as allowed", nil, both, false},
		{"that, reloaded over a file at the node limit", atLimit, both, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "new.yaml")
			data := tc.data()
			if len(data) > MaxFileSize {
				t.Fatalf("the file is %d bytes, over the limit", len(data))
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), memChildEnv+"="+path)
			if tc.old != nil {
				old := filepath.Join(dir, "old.yaml")
				if err := os.WriteFile(old, tc.old(), 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, memChildOldEnv+"="+old)
			}
			cmd := exec.Command(child, "-test.run=^TestLimitsBoundMemory$")
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			m := parseMemLine(t, out)
			t.Logf("%d bytes: loaded %v, VmHWM %d MB, heap peak %d MB", len(data), m["loaded"] == 1, m["hwm"]>>20, m["heap"]>>20)
			if loaded := m["loaded"] == 1; loaded != tc.ok {
				t.Errorf("loaded %v, want %v", loaded, tc.ok)
			}
			if m["heap"] > limit {
				t.Errorf("heap peak %d MB; want at most %d MB", m["heap"]>>20, limit>>20)
			}
			if m["hwm"] > limit {
				t.Errorf("VmHWM %d MB; want at most %d MB", m["hwm"]>>20, limit>>20)
			}
		})
	}
}

// denseFile is a file of rules rules, each a distinct expression of about
// nodes nodes.
func denseFile(rules, nodes int) []byte {
	var b bytes.Buffer
	b.WriteString("metrics:\n  cpu: host:cpu\nrules:\n")
	for i := range rules {
		fmt.Fprintf(&b, "  - name: r%d\n    when: %s + %d\n    then: drain\n", i, sumExpr(nodes-2), i)
	}
	return b.Bytes()
}

// flowMapFile is a file of about size bytes that is one flow mapping of
// keys without values, two YAML nodes every two bytes: the most nodes a
// file of that size can make the YAML library build.
func flowMapFile(size int) []byte {
	n := (size - 16) / 2
	return []byte("x: {" + strings.Repeat("a,", n-1) + "a}\n")
}

// memChild loads the file at old, if set, then the one at path twice,
// keeping all that loaded, and prints its peak RSS and heap for
// TestLimitsBoundMemory.
func memChild(old, path string) {
	var o *File
	if old != "" {
		o, _ = ParseFile(old)
	}
	a, errA := ParseFile(path)
	b, _ := ParseFile(path)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	loaded := 0
	if errA == nil {
		loaded = 1
	}
	fmt.Printf("MEM loaded=%d hwm=%d heap=%d\n", loaded, vmHWM(), ms.HeapSys)
	runtime.KeepAlive(o)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}

// vmHWM is the process's peak RSS in bytes, from /proc/self/status; 0
// where that cannot be read.
func vmHWM() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// parseMemLine reads the MEM line a child printed.
func parseMemLine(t *testing.T, out []byte) map[string]uint64 {
	t.Helper()
	for line := range strings.SplitSeq(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "MEM ")
		if !ok {
			continue
		}
		m := map[string]uint64{}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			m[k], _ = strconv.ParseUint(v, 10, 64)
		}
		return m
	}
	t.Fatalf("no MEM line from the child:\n%s", out)
	return nil
}

// TestServiceAndFleetLimits loads files over the limits on services and
// on the rule states of a static fleet, which the agent holds per service
// and per server and rule: both loaded, and the agent went to gigabytes
// (160,000 services: 3.5 GB after one scrape of /metrics; 10,000 servers
// × 100 rules: 894 MB idle, 2.6 GB once /status was read).
func TestServiceAndFleetLimits(t *testing.T) {
	services := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString("rules: []\nservices:\n")
		for i := range n {
			fmt.Fprintf(&b, "  s%d: {}\n", i)
		}
		return b.Bytes()
	}
	fleet := func(servers, rules int) []byte {
		var b bytes.Buffer
		b.WriteString("metrics:\n  cpu: host:cpu\nrules:\n")
		for i := range rules {
			fmt.Fprintf(&b, "  - cpu > %d => drain\n", i+2)
		}
		b.WriteString("fleet:\n  servers:\n")
		for i := range servers {
			fmt.Fprintf(&b, "    - w%d\n", i)
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"services at the limit", services(MaxServices), ""},
		{"services over the limit", services(MaxServices + 1), fmt.Sprintf("too many services: the limit is %d", MaxServices)},
		{"servers × rules at the limit", fleet(MaxFleetRuleStates/100, 100), ""},
		{"servers × rules over the limit", fleet(MaxFleetRuleStates/100+1, 100), fmt.Sprintf("1001 servers × 100 rules is 100100 rule states, the limit is %d", MaxFleetRuleStates)},
		{"servers at the limit", fleet(MaxFleetServers, 1), ""},
		{"servers over the limit", fleet(MaxFleetServers+1, 1), fmt.Sprintf("too many servers: the limit is %d", MaxFleetServers)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data, "x.yaml")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatal("loaded")
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q; want it to contain %q", err, tc.want)
			}
		})
	}
}
