// Package memtrim gives back the pages of the agent's own executable that
// only start-up used.
//
// The executable's code and read-only data are mapped from its file. A
// page fault maps in not one page but the whole page-cache folio around it
// (Linux maps large folios, up to megabytes, and faults around the page
// too), so package initialisation, flag parsing, rule compilation and the
// TLS and template set-up of `serve` leave most of a 20 MB binary resident
// although the steady state (polls, an evaluation every few seconds, the
// status page) touches a fraction of it. ReleaseExecutablePages drops those
// mappings once start-up is over, and has what runs afterwards map back
// only the pages it uses: see its doc comment.
package memtrim

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// region is one mapping of the executable that may be dropped.
type region struct {
	start, end uintptr
}

// readOnlyRegions returns the private, read-only mappings of the file exe
// listed in maps (the format of /proc/self/maps): its code and read-only
// data. Writable mappings are never returned: dropping one would lose what
// was written to it.
func readOnlyRegions(maps io.Reader, exe string) ([]region, error) {
	var out []region
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// address perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) < 6 || strings.Join(f[5:], " ") != exe {
			continue
		}
		perms := f[1]
		if len(perms) != 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("maps: address range %q", f[0])
		}
		start, err := strconv.ParseUint(lo, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("maps: address range %q: %w", f[0], err)
		}
		end, err := strconv.ParseUint(hi, 16, 64)
		if err != nil || end <= start {
			return nil, fmt.Errorf("maps: address range %q", f[0])
		}
		out = append(out, region{uintptr(start), uintptr(end)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("maps: %w", err)
	}
	return out, nil
}
