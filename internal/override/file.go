package override

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
)

// stateVersion is the version of the state file's format this agent
// writes and reads.
const stateVersion = 1

// stateFile is the state file's content.
type stateFile struct {
	Version   int      `json:"version"`
	Overrides []Record `json:"overrides"`
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
func decodeState(data []byte) ([]evaluator.Override, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st stateFile
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode: data after the JSON object")
	}
	switch {
	case st.Version > stateVersion:
		return nil, fmt.Errorf("format version %d: %w (this one reads version %d)", st.Version, errNewer, stateVersion)
	case st.Version != stateVersion:
		return nil, fmt.Errorf("format version %d: want %d", st.Version, stateVersion)
	}
	ovs := make([]evaluator.Override, 0, len(st.Overrides))
	seen := make(map[string]bool, len(st.Overrides))
	for i, r := range st.Overrides {
		if r.ID == "" || seen[r.ID] {
			return nil, fmt.Errorf("override %d: missing or duplicate id %q", i, r.ID)
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
			return nil, fmt.Errorf("override %d (%s): %w", i, r.ID, err)
		}
		ovs = append(ovs, o)
	}
	return ovs, nil
}

// encodeState renders the overrides as the state file's bytes.
func encodeState(ovs []evaluator.Override) ([]byte, error) {
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, Overrides: Records(ovs)}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// moveAside renames a corrupt file out of the way, keeping it for a human
// to look at, and returns its new name.
func moveAside(path string, now time.Time) (string, error) {
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
// is fsynced so that the rename itself is durable.
func writeAtomic(path string, data []byte) (err error) {
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
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read override state: %w", err)
	}
	ovs, err := decodeState(data)
	if err != nil {
		return nil, fmt.Errorf("override state file %s: %w", path, err)
	}
	return ovs, nil
}
