package override

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/fileio"
	"github.com/haproxy-agent/agent/rules"
)

// stateVersion is the version of the state file's format this agent
// writes; it reads it and every earlier one. Version 2 added replies,
// version 3 out.
const stateVersion = 3

// stateFile is the state file's content.
type stateFile struct {
	Version   int      `json:"version"`
	Overrides []Record `json:"overrides"`
	// Replies holds, per service, the last reply line the agent sent to
	// HAProxy (without its newline), so that a restarted agent knows
	// whether HAProxy holds anything of its own to restore.
	Replies map[string]string `json:"replies,omitempty"`
	// Out names, in fleet mode, the servers HAProxy may hold out of
	// rotation and why ("rules" or "override"), so that a restarted agent
	// counts them from its first evaluation and keeps a server its rules
	// took out in its place.
	Out map[string]string `json:"out,omitempty"`
}

// State is what a state file holds.
type State struct {
	Overrides []evaluator.Override
	// Replies are the last reply lines sent, by service.
	Replies map[string]string
	// OutBy says which fleet servers HAProxy may hold out and why.
	OutBy map[string]string
}

// CorruptError reports a state file that could not be read back: it was
// moved aside to MovedTo and the store started empty.
type CorruptError struct {
	Path    string
	MovedTo string
	Err     error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("override state file %s is corrupt (moved to %s, starting with no overrides): %v", e.Path, e.MovedTo, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// errNewer marks a state file written by a newer agent: not corrupt, so it
// is left alone and Open fails rather than losing it.
var errNewer = errors.New("written by a newer agent")

// decodeState parses a state file's bytes. Any problem, down to one
// override's action, makes the whole file corrupt: an override that is
// silently dropped is a server silently back in rotation.
func decodeState(data []byte) (State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st stateFile
	if err := dec.Decode(&st); err != nil {
		return State{}, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return State{}, errors.New("decode: data after the JSON object")
	}
	switch {
	case st.Version > stateVersion:
		return State{}, fmt.Errorf("format version %d: %w (this one reads up to version %d)", st.Version, errNewer, stateVersion)
	case st.Version < 1:
		return State{}, fmt.Errorf("format version %d: want 1 to %d", st.Version, stateVersion)
	case st.Version == 1 && st.Replies != nil:
		return State{}, errors.New("format version 1 has no replies")
	case st.Version < 3 && st.Out != nil:
		return State{}, fmt.Errorf("format version %d has no out", st.Version)
	}
	for srv, why := range st.Out {
		if why != evaluator.OutByRules && why != evaluator.OutByOverride {
			return State{}, fmt.Errorf("server %q is out by %q: want %q or %q", srv, why, evaluator.OutByRules, evaluator.OutByOverride)
		}
	}
	for svc, line := range st.Replies {
		if strings.ContainsAny(line, "\r\n") {
			return State{}, fmt.Errorf("reply of service %q holds a line break", svc)
		}
	}
	ovs := make([]evaluator.Override, 0, len(st.Overrides))
	seen := make(map[string]bool, len(st.Overrides))
	for i, r := range st.Overrides {
		if r.ID == "" || seen[r.ID] {
			return State{}, fmt.Errorf("override %d: missing or duplicate id %q", i, r.ID)
		}
		seen[r.ID] = true
		o, err := r.Override()
		if err == nil {
			err = checkAction(o.Action)
		}
		if err == nil {
			err = checkReason(o.Reason)
		}
		if err != nil {
			return State{}, fmt.Errorf("override %d (%s): %w", i, r.ID, err)
		}
		ovs = append(ovs, o)
	}
	return State{Overrides: ovs, Replies: st.Replies, OutBy: st.Out}, nil
}

// encodeState renders the overrides, replies and servers out as the state
// file's bytes.
func encodeState(ovs []evaluator.Override, replies, outBy map[string]string) ([]byte, error) {
	// Without HTML escapes: a person reading the file sees "queue > 50",
	// not "queue \u003e 50". Encode ends with the newline.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(stateFile{Version: stateVersion, Overrides: Records(ovs), Replies: replies, Out: outBy}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// What one override and one reply take in the state file at most, to
// derive MaxStateFileSize from the limits. Free text (a reason, a reply's
// description, and an override's service, which an agent without rules
// does not check) counts 6 bytes a character, the longest JSON escape
// (a control character is written \u0001); names of services and servers need none.
const (
	// jsonOverhead covers field names, quotes, commas and indentation.
	jsonOverhead  = 256
	maxTimeJSON   = len("2006-01-02T15:04:05.999999999-07:00")
	maxActionJSON = len("stopped, maint, weight 256%, maxconn -9223372036854775808")
	maxRecordJSON = jsonOverhead + 2*maxTimeJSON + 6*(idLen+rules.MaxNameLen+maxActionJSON+MaxReason)
	maxReplyJSON  = jsonOverhead + rules.MaxNameLen + 6*evaluator.MaxReplyLen
	// maxOutJSON is one fleet server HAProxy may hold out, and why.
	maxOutJSON = jsonOverhead + rules.MaxNameLen + len(evaluator.OutByOverride)
	// maxReplies is one reply per fleet server or per service.
	maxReplies = max(rules.MaxFleetServers, rules.MaxServices+1)
)

// MaxStateFileSize bounds the state file read back. It is the largest
// state file the agent writes within its limits: MaxOverrides overrides
// and a reply for each of the most servers a fleet may have, each of them
// out, every text at its longest (about 24 MB). A file the agent wrote is
// never refused as too large.
const MaxStateFileSize = jsonOverhead + MaxOverrides*maxRecordJSON + maxReplies*maxReplyJSON + rules.MaxFleetServers*maxOutJSON

// readState reads the state file with the bounded, non-blocking reader the
// rule file uses: a FIFO or a device at the path is refused, never read.
func readStateFile(path string) ([]byte, error) {
	return fileio.ReadFile(path, int64(MaxStateFileSize))
}

// maxLinks bounds the symlinks resolve follows, as the kernel does (40).
const maxLinks = 40

// resolve returns the file that path names once every symlink is followed,
// so that the state file is replaced where it really is and a symlinked
// --state.file stays a symlink. Unlike filepath.EvalSymlinks it accepts a
// final target that does not exist yet (a dangling link is where the first
// write goes). Only the last element is followed: the directories on the
// way are left to the kernel, and renaming within them is the same.
func resolve(path string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		target, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// moveAside renames a corrupt file out of the way, keeping it for a human
// to look at, and returns its new name. A symlinked path has its target
// moved, so that the link is kept for the next write.
func moveAside(path string, now time.Time) (string, error) {
	path, err := resolve(path)
	if err != nil {
		return "", err
	}
	to := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	if _, err := os.Lstat(to); err == nil {
		to += fmt.Sprintf("-%d", now.UnixNano())
	}
	if err := os.Rename(path, to); err != nil {
		return "", err
	}
	return to, syncDir(filepath.Dir(path))
}

// writeAtomic replaces path with data so that a crash at any point leaves
// either the old or the new content: a temporary file in the same
// directory is written and fsynced, renamed over path, and the directory
// is fsynced so that the rename itself is durable. When path is a symlink,
// its final target is replaced, next to it: the link stays a link, and
// there is never a second copy of the state to diverge from the first.
func writeAtomic(path string, data []byte) (err error) {
	path, err = resolve(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// ReadFile returns the overrides of a state file without changing it: a
// missing file has none, a corrupt one is an error (left where it is). It
// is for readers that must change nothing, such as `agent eval --dry-run`.
func ReadFile(path string) ([]evaluator.Override, error) {
	st, err := ReadState(path)
	return st.Overrides, err
}

// ReadState is ReadFile with the replies recorded as well.
func ReadState(path string) (State, error) {
	data, err := readStateFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read override state: %w", err)
	}
	st, err := decodeState(data)
	if err != nil {
		return State{}, fmt.Errorf("override state file %s: %w", path, err)
	}
	return st, nil
}
