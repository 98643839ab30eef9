package memtrim

import (
	"strings"
	"testing"
)

func TestReadOnlyRegions(t *testing.T) {
	const exe = "/usr/bin/haproxy-agent"
	maps := `00400000-00cf9000 r-xp 00000000 fe:00 9984413                            /usr/bin/haproxy-agent
00cf9000-0166c000 r--p 008f9000 fe:00 9984413                            /usr/bin/haproxy-agent
0166c000-01707000 rw-p 0126c000 fe:00 9984413                            /usr/bin/haproxy-agent
01707000-0374d000 rw-p 00000000 00:00 0
01800000-01900000 r--s 00000000 fe:00 9984413                            /usr/bin/haproxy-agent
7ff5d9c1f000-7ff5d9c45000 r--p 00000000 fe:00 326269                     /usr/lib/x86_64-linux-gnu/libc.so.6
7ffd1000-7ffd2000 r--p 00000000 fe:00 1                                  /usr/bin/haproxy-agent (deleted)
`
	got, err := readOnlyRegions(strings.NewReader(maps), exe)
	if err != nil {
		t.Fatal(err)
	}
	want := []region{{0x400000, 0xcf9000}, {0xcf9000, 0x166c000}}
	if len(got) != len(want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %x, want %x", got, want)
		}
	}
	if _, err := readOnlyRegions(strings.NewReader("zz-00 r--p 0 0:0 1 "+exe+"\n"), exe); err == nil {
		t.Fatal("a bad address range should be an error")
	}
}
