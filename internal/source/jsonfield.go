package source

import (
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
)

// maxJSONDepth bounds the nesting of a probe's JSON body. gjson finds a
// path by scanning the body in place, without decoding it, but its
// validation recurses once per level: a body of a million `[` would cost
// a deep stack for nothing a health endpoint needs.
const maxJSONDepth = 64

// checkJSON says why body cannot be read as JSON, or nil: it is nested
// deeper than maxJSONDepth, or it is not JSON at all.
func checkJSON(body []byte) error {
	depth, inString, escaped := 0, false, false
	blank := true
	for _, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > maxJSONDepth {
				return fmt.Errorf("body nested deeper than %d levels", maxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			blank = false
		}
	}
	switch {
	case blank:
		return errors.New("body is empty, not JSON")
	case !gjson.ValidBytes(body):
		return errors.New("body is not valid JSON")
	}
	return nil
}

// jsonNumber reads the value at path in body, valid JSON: a number, or a
// boolean as 1 or 0. Anything else, or nothing, is an error saying which.
func jsonNumber(body []byte, path string) (float64, error) {
	r := gjson.GetBytes(body, path)
	switch {
	case !r.Exists():
		return 0, fmt.Errorf("JSON path %s matches nothing", path)
	case r.Type == gjson.Number:
		return r.Num, nil
	case r.Type == gjson.True:
		return 1, nil
	case r.Type == gjson.False:
		return 0, nil
	case r.Type == gjson.Null:
		return 0, fmt.Errorf("JSON path %s is null", path)
	case r.Type == gjson.String:
		return 0, fmt.Errorf("JSON path %s is a string, not a number", path)
	}
	return 0, fmt.Errorf("JSON path %s is an object or a list, not a number", path)
}
