package reload

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// Hash returns the hex SHA-256 of data, the form Loaded and Event use.
// A consumer should hash the very bytes it parses, so that the watcher's
// comparison matches what is actually loaded.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// HashFile reads the file at path, following symlinks, and returns Hash of
// its content.
func HashFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return Hash(data), nil
}
