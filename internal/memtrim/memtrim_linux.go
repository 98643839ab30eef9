package memtrim

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ReleaseExecutablePages drops this process's mappings of its executable's
// code and read-only data and returns how many bytes of address space it
// covered. Nothing is lost: the pages are read again from the page cache
// (or the file) when they are next used.
//
// Dropping the mappings alone does not keep them small: the page cache
// holds the executable in large folios (ext4 and others read and write
// files in folios of up to megabytes), and one fault maps the whole folio
// around the page it needs. So each mapping is also marked for random
// access (no read-ahead: a fault reads the one page it needs), and the
// executable's page-cache pages that no process maps any more are
// dropped, so that the pages used from now on come back one by one. A
// file with pages not yet written back (a binary just built) keeps them:
// the kernel drops only clean pages.
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
		for _, advice := range []int{unix.MADV_DONTNEED, unix.MADV_RANDOM} {
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, uintptr(advice)); errno != 0 {
				return n, fmt.Errorf("madvise %#x-%#x: %w", r.start, r.end, errno)
			}
		}
		n += int64(r.end - r.start)
	}
	// /proc/self/exe opens the very file mapped, even if its path was
	// replaced since (an upgrade in place).
	ef, err := os.Open("/proc/self/exe")
	if err != nil {
		return n, fmt.Errorf("executable: %w", err)
	}
	defer ef.Close()
	if err := unix.Fadvise(int(ef.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return n, fmt.Errorf("fadvise %s: %w", exe, err)
	}
	return n, nil
}
