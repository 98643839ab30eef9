package yamlnode

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Document decodes the one YAML document that data holds, as every file of
// the agent is read. root is the document's top node, aliases followed,
// or nil when data holds nothing (no document, only comments, or null).
// extra is the first node of a second document, which the caller refuses,
// or nil. err is a syntax error: see ErrorPos.
func Document(data []byte) (root, extra *yaml.Node, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := Decode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var next yaml.Node
	if err := Decode(dec, &next); err == nil {
		extra = &next
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || IsNull(doc.Content[0]) {
		return nil, extra, nil
	}
	return Deref(doc.Content[0]), extra, nil
}

var anchorRe = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

// ErrorPos places an error of Document in data (split into lines by
// Lines) and words it. The library gives a line only, so the column is
// found where it can be: a tab in the indentation, the use of an unknown
// anchor; else it is 1, and the line is kept within the file.
func ErrorPos(err error, data []byte, lines []string) (line, col int, msg string) {
	if l, text, ok := SyntaxLine(err); ok {
		if strings.Contains(text, "cannot start any token") || strings.Contains(text, "tab character") {
			if l, col, ok := IndentTab(lines, l); ok {
				return l, col, "yaml: tab character: use spaces, not tabs, for indentation"
			}
		}
		return ClampLine(lines, l), 1, "yaml: " + text
	}
	if m := anchorRe.FindStringSubmatch(err.Error()); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			line := bytes.Count(data[:i], []byte("\n")) + 1
			col := i - bytes.LastIndexByte(data[:i], '\n')
			return line, col, "yaml: unknown anchor " + strconv.Quote(m[1])
		}
	}
	return 1, 1, err.Error()
}
