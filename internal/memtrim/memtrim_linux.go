package memtrim

import (
	"fmt"
	"os"
	"syscall"
)

// ReleaseExecutablePages drops this process's mappings of its executable's
// code and read-only data (madvise MADV_DONTNEED on each private read-only
// mapping of /proc/self/exe) and returns how many bytes of address space
// it covered. Nothing is lost: the pages are read again from the page
// cache (or the file) when they are next used.
func ReleaseExecutablePages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("executable: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("maps: %w", err)
	}
	defer f.Close()
	regions, err := readOnlyRegions(f, exe)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range regions {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, r.start, r.end-r.start, syscall.MADV_DONTNEED); errno != 0 {
			return n, fmt.Errorf("madvise %#x-%#x: %w", r.start, r.end, errno)
		}
		n += int64(r.end - r.start)
	}
	return n, nil
}
