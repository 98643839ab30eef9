package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/crypto/bcrypt"
)

// maxPasswordLine bounds what hash-password reads: bcrypt uses at most 72
// bytes of a password anyway.
const maxPasswordLine = 4096

func registerHashPassword(app *kingpin.Application, stdout, stderr io.Writer) (string, command) {
	c := app.Command("hash-password", "Read a password from stdin (its first line) and print its bcrypt hash, for basic_auth_users in --web.config.file. Example: agent hash-password < password-file")
	cost := c.Flag("cost", "bcrypt cost (work factor).").Default("10").Int()
	return c.FullCommand(), func(context.Context, *slog.Logger) int {
		if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
			fmt.Fprintf(stderr, "agent: hash-password: --cost %d: want %d to %d\n", *cost, bcrypt.MinCost, bcrypt.MaxCost)
			return exitUsage
		}
		pw, err := readPassword(os.Stdin)
		if err != nil {
			fmt.Fprintf(stderr, "agent: hash-password: %v\n", err)
			return exitFailure
		}
		h, err := bcrypt.GenerateFromPassword([]byte(pw), *cost)
		if err != nil {
			fmt.Fprintf(stderr, "agent: hash-password: %v\n", err)
			return exitFailure
		}
		fmt.Fprintln(stdout, string(h))
		return exitOK
	}
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordLine)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	switch {
	case pw == "":
		return "", errors.New("no password on stdin: give it as the first line (agent hash-password < password-file)")
	case len(pw) > 72:
		// bcrypt refuses longer passwords: say so in its terms.
		return "", fmt.Errorf("the password is %d bytes: bcrypt takes at most 72", len(pw))
	}
	return pw, nil
}
