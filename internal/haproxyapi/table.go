package haproxyapi

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Table is an answer with a header line: its rows read by column name.
type Table struct {
	// Columns are the header's names in order.
	Columns []string
	// Rows hold one value per column (missing trailing values are "").
	Rows  [][]string
	index map[string]int
}

func newTable(cols []string) *Table {
	t := &Table{Columns: cols, index: make(map[string]int, len(cols))}
	for i, c := range cols {
		if c != "" {
			if _, dup := t.index[c]; !dup {
				t.index[c] = i
			}
		}
	}
	return t
}

// Col returns the index of the column name, or -1 when this HAProxy has no
// such column.
func (t *Table) Col(name string) int {
	if i, ok := t.index[name]; ok {
		return i
	}
	return -1
}

// Has reports whether the table has the column name.
func (t *Table) Has(name string) bool { return t.Col(name) >= 0 }

// Get returns row r's value in column name; "" when the column is absent.
func (t *Table) Get(r int, name string) string {
	i := t.Col(name)
	if i < 0 || i >= len(t.Rows[r]) {
		return ""
	}
	return t.Rows[r][i]
}

// Row returns row r as a map from column name to value.
func (t *Table) Row(r int) map[string]string {
	m := make(map[string]string, len(t.Columns))
	for i, c := range t.Columns {
		if c != "" && i < len(t.Rows[r]) {
			m[c] = t.Rows[r][i]
		}
	}
	return m
}

// Stat types in show stat's "type" column.
const (
	TypeFrontend = "0"
	TypeBackend  = "1"
	TypeServer   = "2"
	TypeListener = "3"
)

// ParseStat reads a `show stat` answer: a CSV table whose header starts
// with "# ". Lines without a quote (nearly all) are split on commas; a line
// with one goes through encoding/csv.
func ParseStat(b []byte) (*Table, error) {
	if !bytes.HasPrefix(b, []byte("# ")) {
		return nil, answerError("show stat", b)
	}
	text := string(b[2:])
	header, text, _ := strings.Cut(text, "\n")
	t := newTable(strings.Split(header, ","))
	t.Rows = make([][]string, 0, strings.Count(text, "\n"))
	// One backing array for every row's fields: a read of 1,000 servers
	// is then a handful of allocations.
	fields := make([]string, 0, strings.Count(text, ",")+cap(t.Rows))
	for len(text) > 0 {
		line, rest, _ := strings.Cut(text, "\n")
		if !strings.Contains(line, `"`) {
			if line != "" {
				start := len(fields)
				for f := range strings.SplitSeq(line, ",") {
					fields = append(fields, f)
				}
				t.Rows = append(t.Rows, fields[start:len(fields):len(fields)])
			}
			text = rest
			continue
		}
		// A quoted field may hold commas, quotes and even newlines.
		r := csv.NewReader(strings.NewReader(text))
		r.FieldsPerRecord = -1
		r.LazyQuotes = true
		rec, err := r.Read()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("show stat: %w", err)
		}
		t.Rows = append(t.Rows, rec)
		text = text[r.InputOffset():]
	}
	return t, nil
}

// ParseServersState reads a `show servers state` answer: a format version
// line ("1"), a "# " header, then one space-separated line per server.
func ParseServersState(b []byte) (*Table, error) {
	version, rest, _ := bytes.Cut(b, []byte{'\n'})
	header, rest, _ := bytes.Cut(rest, []byte{'\n'})
	if len(bytes.TrimSpace(version)) == 0 || !bytes.HasPrefix(header, []byte("# ")) {
		return nil, answerError("show servers state", b)
	}
	if v := string(bytes.TrimSpace(version)); v != "1" {
		return nil, fmt.Errorf("show servers state: format %q, want 1", v)
	}
	t := newTable(strings.Fields(string(header[2:])))
	text := string(rest)
	t.Rows = make([][]string, 0, strings.Count(text, "\n"))
	for line := range strings.SplitSeq(text, "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			t.Rows = append(t.Rows, f)
		}
	}
	return t, nil
}

// answerError is the error for an answer that is not the expected table:
// HAProxy's refusal, first line.
func answerError(cmd string, b []byte) error {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte{'\n'})
	if len(line) == 0 {
		return fmt.Errorf("%s: empty answer", cmd)
	}
	return &RefusedError{Command: cmd, Answer: string(line)}
}

// RefusedError is HAProxy refusing a command: its answer's first line, such
// as "No such server." or "Unknown command...".
type RefusedError struct {
	Command string
	Answer  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("haproxy refused %q: %s", e.Command, e.Answer)
}
