package rules

import (
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/fileio"
	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// Limits that keep a hostile or mistaken file from exhausting the agent.
const (
	// MaxFileSize is the largest rule file accepted, in bytes.
	MaxFileSize = 4 << 20
	// MaxRules caps the rules of a file, over all services.
	MaxRules = 10000
	// MaxMetrics caps the metrics of a file.
	MaxMetrics = 10000
	// MaxServices caps the services of a file. Each has its reply, its
	// metric series and its place in /status: 160,000 empty services
	// loaded, and a scrape of /metrics (166 MB) took the agent to 3.5 GB.
	MaxServices = 1000
	// MaxSources caps the sources of a file.
	MaxSources = 1000
	// MaxExprLen caps the length of one expression, in bytes.
	MaxExprLen = 4096
	// MaxExprNodes caps the syntax nodes of one expression.
	MaxExprNodes = 1000
	// MaxFileNodes caps the syntax nodes of all the expressions of a file,
	// counting an expression once for every use of a YAML alias to it.
	MaxFileNodes = 500000
)

// ErrFileTooLarge is returned (wrapped) by ParseFile and Parse for a file
// over MaxFileSize.
var ErrFileTooLarge = errors.New("rule file too large")

// noRulesKey explains why a file without a rules key is refused.
const noRulesKey = `no "rules:" key: a file cut short (a write that did not finish) must not load as "no rules" and undo a drain; write "rules: []" for a file without top-level rules`

// emptyHint tells someone facing an empty file what to write.
const emptyHint = `write at least "rules:" with a list such as "- cpu > 0.9 => weight 50%" and the metrics it reads`

// ParseFile reads the rule file at path and parses it. Relative file names
// in HTTP settings (password_file, ca_file...) are taken from the rule
// file's directory. Problems with the content are returned as Errors.
func ParseFile(path string) (*File, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// ReadFile reads a rule file the way every command does (check, eval,
// test, serve and its reloads): a regular file of at most MaxFileSize
// bytes, refusing anything else without blocking (see fileio.ReadFile).
// The error for a file that is too large wraps ErrFileTooLarge and gives
// the file's real size; it comes with the file's first MaxFileSize+1
// bytes, so that a watcher can tell the refused content by its hash
// without reading it whole.
func ReadFile(path string) ([]byte, error) {
	data, err := fileio.ReadFile(path, MaxFileSize)
	var tl *fileio.TooLargeError
	switch {
	case errors.As(err, &tl):
		return data, fmt.Errorf("%s: %w: %d bytes, the limit is %s", path, ErrFileTooLarge, tl.Size, fileio.FormatSize(MaxFileSize))
	case err != nil:
		return nil, fmt.Errorf("read rule file: %w", err)
	}
	return data, nil
}

// Parse parses and compiles a rule file held in data; name, the file's
// path, is used in messages, and relative file names in HTTP settings are
// taken from its directory. Parse builds every source's HTTP client as
// serve does, reading the files the settings name, so that what loads here
// can be served. On failure the error is Errors holding every problem found,
// in file order, each with its line and column.
func Parse(data []byte, name string) (*File, error) {
	p := &parser{file: name, data: data}
	if len(data) > MaxFileSize {
		p.errAt(Pos{Line: 1, Col: 1}, "", "%v: %d bytes, the limit is %d (4 MiB)", ErrFileTooLarge, len(data), MaxFileSize)
		return nil, p.sorted()
	}
	if n := yamlSeparators(data); n > MaxYAMLSeparators {
		p.errAt(Pos{Line: 1, Col: 1}, "", "rule file too dense for YAML: %d commas, colons, dashes, brackets, braces, question marks and line breaks, the limit is %d", n, MaxYAMLSeparators)
		return nil, p.sorted()
	}
	root, ok := p.document()
	if !ok {
		return nil, p.sorted()
	}
	f := &File{
		Path:     name,
		Hash:     fileio.Hash(data),
		Interval: DefaultInterval,
	}
	p.checkFile(f, p.decodeFile(root))
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	return f, nil
}

// document decodes the file into its top-level mapping (see
// yamlnode.Document, which every file of the agent is read with).
func (p *parser) document() (*yaml.Node, bool) {
	root, extra, err := yamlnode.Document(p.data)
	switch {
	case err != nil:
		line, col, msg := yamlnode.ErrorPos(err, p.data, p.allLines())
		p.errAt(Pos{Line: line, Col: col}, "", "%s", msg)
		return nil, false
	case extra != nil:
		p.errorf(extra, "", "a rule file holds one YAML document; remove this second one")
		return nil, false
	case root == nil:
		p.errAt(Pos{Line: 1, Col: 1}, "", "empty rule file: %s", emptyHint)
		return nil, false
	case root.Kind != yaml.MappingNode:
		p.errorf(root, "", "a rule file is a mapping with keys such as interval, sources, metrics and rules, not %s", yamlnode.KindName(root))
		return nil, false
	}
	return root, true
}
