// Package fileio reads the agent's own files (the rule file, rule test
// files, the override state file) with a size limit and without blocking,
// and hashes what it read. Every path that reads one of these files goes
// through ReadFile, so that a rules path pointed at /dev/zero, a FIFO or a
// huge log fails fast with a clear error instead of eating memory or
// hanging a reload, and so that the watcher and the loader always agree on
// a file's hash.
package fileio

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrTooLarge is matched (errors.Is) by every *TooLargeError.
var ErrTooLarge = errors.New("file too large")

// TooLargeError reports a file over the limit given to ReadFile.
type TooLargeError struct {
	Path string
	// Size is the file's size as the file system reported it when opened,
	// or the number of bytes read if it grew past that.
	Size  int64
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: file too large: %d bytes, the limit is %s", e.Path, e.Size, FormatSize(e.Limit))
}

// Is makes errors.Is(err, ErrTooLarge) hold.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// ErrNotRegular is matched (errors.Is) by the error ReadFile returns for
// something that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ReadFile reads the regular file at path, following symlinks, and returns
// its content. It refuses anything else (a directory, a FIFO, a device such
// as /dev/zero, a socket) with an error naming what it found, without
// reading from it: the file is opened with O_NONBLOCK, so that opening a
// FIFO that has no writer returns at once instead of blocking.
//
// A file of more than limit bytes is refused with a *TooLargeError naming
// its size. ReadFile then also returns the first limit+1 bytes, and never
// reads more: Hash of them identifies the oversized content well enough
// for a watcher to tell that it has already been refused, without reading
// it whole.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, kind(fi.Mode()))
	}
	size := fi.Size()
	// The size may change between Stat and the read: never read past the
	// limit, whatever Stat said.
	capacity := min(size, limit) + 1
	buf := make([]byte, 0, capacity)
	data, err := readAll(io.LimitReader(f, limit+1), buf)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(data)) > limit || size > limit {
		return data, &TooLargeError{Path: path, Size: max(size, int64(len(data))), Limit: limit}
	}
	return data, nil
}

// readAll is io.ReadAll into a buffer sized from Stat, so that a file read
// whole costs one allocation.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// kind names a file mode that is not a regular file.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	default:
		return "mode " + m.String()
	}
}

// Hash returns the hex SHA-256 of data: the one form in which the loader,
// the watcher and /status name a version of a file.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// FormatSize writes a byte count for messages: "4 MiB" for round binary
// sizes, "1234 bytes" otherwise.
func FormatSize(n int64) string {
	for _, u := range []struct {
		shift int
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
