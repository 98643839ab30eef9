package fileio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := ReadFile(small, 6)
	if err != nil || string(data) != "hello\n" {
		t.Fatalf("ReadFile = %q, %v", data, err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("small", link); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadFile(link, 100); err != nil || string(data) != "hello\n" {
		t.Fatalf("through a symlink: %q, %v", data, err)
	}

	// One byte over: refused with the real size, and the bounded prefix
	// returned for hashing.
	data, err = ReadFile(small, 5)
	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) || tl.Size != 6 || tl.Limit != 5 {
		t.Fatalf("over the limit: %v", err)
	}
	if string(data) != "hello\n" {
		t.Fatalf("prefix %q, want limit+1 bytes", data)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 5); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

func TestReadFileBigStopsAtTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 50<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := ReadFile(path, 4<<20)
	if want := "big: file too large: 52428800 bytes, the limit is 4 MiB"; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v, want it to end in %q", err, want)
	}
	if len(data) != 4<<20+1 {
		t.Fatalf("read %d bytes, want limit+1", len(data))
	}
}

func TestReadFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, kind string }{
		{fifo, "a named pipe"},
		{zero, "a character device"},
		{dir, "a directory"},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := ReadFile(tc.path, 1<<20)
			done <- err
		}()
		select {
		case err := <-done:
			want := tc.path + ": not a regular file (" + tc.kind + ")"
			if err == nil || err.Error() != want || !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s: err = %v, want %q", tc.path, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadFile(%s) blocked", tc.path)
		}
	}
}

func TestHash(t *testing.T) {
	if got := Hash([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Hash = %s", got)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{4 << 20: "4 MiB", 1 << 10: "1 KiB", 1000: "1000 bytes", 3 << 30: "3 GiB", 5<<20 + 1: "5242881 bytes"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
