package override

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestRepliesSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	clk := &clock{now: t0}
	s := open(t, path, Options{Now: clk.Now})
	if err := s.SaveReplies(map[string]string{"default": "up ready 100%\n", "worker": "up drain 100% #q\n"}, nil); err != nil {
		t.Fatal(err)
	}
	first := inode(t, path)
	// The same replies again: nothing is written.
	if err := s.SaveReplies(map[string]string{"default": "up ready 100%", "worker": "up drain 100% #q"}, nil); err != nil {
		t.Fatal(err)
	}
	if inode(t, path) != first {
		t.Error("unchanged replies rewrote the state file")
	}
	if err := s.SaveReplies(map[string]string{"default": "up", "worker": "up drain 100% #q"}, nil); err != nil {
		t.Fatal(err)
	}
	if inode(t, path) == first {
		t.Error("changed replies were not written")
	}
	// An override written afterwards keeps the replies.
	add(t, s, "", "drain", "deploy", time.Hour)
	s.Close()

	s2 := open(t, path, Options{Now: clk.Now})
	got := s2.Replies()
	if got["default"] != "up" || got["worker"] != "up drain 100% #q" || len(got) != 2 {
		t.Errorf("replies after reopen: %q", got)
	}
	if n := len(s2.List(clk.Now())); n != 1 {
		t.Errorf("overrides after reopen: %d, want 1", n)
	}
	st, err := ReadState(path)
	if err != nil || st.Replies["default"] != "up" || len(st.Overrides) != 1 {
		t.Errorf("ReadState = %+v, %v", st, err)
	}
}

func TestStateFileVersions(t *testing.T) {
	for name, tc := range map[string]struct {
		content string
		ok      bool
	}{
		"version 1, before replies": {`{"version":1,"overrides":[]}`, true},
		"version 2 with replies":    {`{"version":2,"overrides":[],"replies":{"default":"up"}}`, true},
		"version 1 with replies":    {`{"version":1,"overrides":[],"replies":{"default":"up"}}`, false},
		"a reply with a line break": {`{"version":2,"overrides":[],"replies":{"default":"up\ndrain"}}`, false},
		"version 3 with out":        {`{"version":3,"overrides":[],"replies":{"web1":"up drain 100%"},"out":{"web1":"rules","web2":"override"}}`, true},
		"version 2 with out":        {`{"version":2,"overrides":[],"out":{"web1":"rules"}}`, false},
		"out for no reason":         {`{"version":3,"overrides":[],"out":{"web1":"maybe"}}`, false},
	} {
		_, err := decodeState([]byte(tc.content))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", name, err, tc.ok)
		}
	}
}

func TestSaveRepliesWithoutStateFile(t *testing.T) {
	s := open(t, "", Options{})
	if err := s.SaveReplies(map[string]string{"default": "up"}, nil); err != nil || s.Replies() != nil {
		t.Errorf("in memory: err %v, replies %q", err, s.Replies())
	}
}

// TestOutBySurvivesARestart: which fleet servers HAProxy may hold out, and
// why, is written with the replies, rewritten when only it changes, and
// read back on reopening.
func TestOutBySurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := open(t, path, Options{})
	told := map[string]string{"web1": "up drain 100% #q", "web2": "up ready 100%"}
	if err := s.SaveReplies(told, map[string]string{"web1": "rules", "web2": "override"}); err != nil {
		t.Fatal(err)
	}
	// Only the reasons change (web2 was told its restore).
	if err := s.SaveReplies(told, map[string]string{"web1": "rules"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := open(t, path, Options{})
	if got := s2.OutBy(); len(got) != 1 || got["web1"] != "rules" {
		t.Errorf("out after reopen: %v, want web1 by rules", got)
	}
	if got := s2.Replies(); got["web1"] != told["web1"] {
		t.Errorf("replies after reopen: %v", got)
	}
}

// TestStateFileReadable: a reply's description and an override's reason
// keep > < & as written (JSON's HTML escapes made "queue > 50" read
// "queue \u003e 50" to whoever opens the file), and read back the same.
func TestStateFileReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	clk := &clock{now: t0}
	s := open(t, path, Options{Now: clk.Now})
	if err := s.SaveReplies(map[string]string{"default": "up drain 100% #queue > 50 & cpu < 1"}, nil); err != nil {
		t.Fatal(err)
	}
	add(t, s, "", "drain", "load > 2 & rising", time.Hour)
	s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#queue > 50 & cpu < 1", `"load > 2 & rising"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("state file without %q:\n%s", want, data)
		}
	}
	st, err := ReadState(path)
	if err != nil || st.Replies["default"] != "up drain 100% #queue > 50 & cpu < 1" || len(st.Overrides) != 1 || st.Overrides[0].Reason != "load > 2 & rising" {
		t.Errorf("ReadState = %+v, %v", st, err)
	}
}
