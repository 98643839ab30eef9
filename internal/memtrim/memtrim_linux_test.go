package memtrim

import (
	"slices"

	"golang.org/x/sys/unix"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// rssFile is this process's RssFile from /proc/self/status, in kB.
func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestReleaseExecutablePages: the test binary's file-backed resident set
// shrinks, and the process goes on running the code it dropped (this
// test's own code, the runtime's, the testing package's).
func TestReleaseExecutablePages(t *testing.T) {
	before := rssFile(t)
	n, err := ReleaseExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	if n == 0 || after >= before {
		t.Fatalf("released %d bytes of mappings: RssFile %d kB before, %d kB after", n, before, after)
	}
	t.Logf("RssFile %d kB -> %d kB (%d kB of mappings)", before, after, n/1024)
}

// residentPages maps the file at path and counts its pages in the page
// cache.
func residentPages(t *testing.T, path string) (resident, total int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	vec := make([]byte, (len(b)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			resident++
		}
	}
	return resident, len(vec)
}

// TestReleasedPagesComeBackOneByOne: after the release, the executable's
// read-only mappings read no ahead (VmFlags "rr" in smaps), and the pages
// of the executable no mapping holds any more have left the page cache,
// so that the code used afterwards maps back only its own pages, not the
// large folios the file was cached in.
func TestReleasedPagesComeBackOneByOne(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	// A test binary was just written: write it back, as an installed
	// binary is, or the kernel keeps its dirty pages cached.
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before, total := residentPages(t, exe)
	if _, err := ReleaseExecutablePages(); err != nil {
		t.Fatal(err)
	}
	after, _ := residentPages(t, exe)
	if after >= before {
		t.Errorf("pages of %s in the page cache: %d of %d before the release, %d after; want fewer", exe, before, total, after)
	}
	t.Logf("pages of the executable in the page cache: %d -> %d of %d", before, after, total)

	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var mapping string
	checked := 0
	for _, l := range strings.Split(string(smaps), "\n") {
		if f := strings.Fields(l); len(f) >= 6 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			mapping = ""
			if strings.Join(f[5:], " ") == exe && strings.HasPrefix(f[1], "r-") && strings.HasSuffix(f[1], "p") {
				mapping = f[0] + " " + f[1]
			}
			continue
		}
		if flags, ok := strings.CutPrefix(l, "VmFlags:"); ok && mapping != "" {
			checked++
			if !slices.Contains(strings.Fields(flags), "rr") {
				t.Errorf("mapping %s of the executable: VmFlags %q, want rr (random read)", mapping, strings.TrimSpace(flags))
			}
		}
	}
	if checked == 0 {
		t.Fatalf("no read-only mapping of %s in /proc/self/smaps", exe)
	}
}
