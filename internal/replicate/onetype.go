package replicate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// checkOneType reports the first attribute value object in raw, a DynamoDB
// JSON image, that has more than one field, such as {"S":"a","N":"1"}.
// attributevalue.UnmarshalMapJSON keeps one of them at random (Go map
// order), so such a value must be rejected before it is converted. It reads
// raw once, without allocating unless it finds one. It does not validate
// JSON: on input it cannot follow it returns nil and leaves the error to the
// SDK's decoder.
func checkOneType(raw []byte) error {
	s := typeScanner{b: raw}
	if s.names() || !s.found {
		return nil
	}
	// Found one: walk again, keeping the path, to describe it.
	slow := typeScanner{b: raw, track: true}
	slow.names()
	return slow.err
}

// pathElem is one step of the path to an attribute value: an attribute name
// (raw JSON string contents) or a list index.
type pathElem struct {
	name  []byte
	index int
}

// typeScanner walks a DynamoDB JSON image for checkOneType. Its methods
// return false when they stop: on input they cannot follow, or on a value
// with several fields (found). Only with track set does it keep the path to
// the current value, and describe such a value in err.
type typeScanner struct {
	b     []byte
	i     int
	track bool
	path  []pathElem
	found bool
	err   error
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *typeScanner) peek() byte {
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// str reads a string and returns its raw contents (escapes not undone).
func (s *typeScanner) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; ; j++ {
		k := bytes.IndexByte(s.b[j:], '"')
		if k < 0 {
			return nil, false
		}
		j += k
		// The quote ends the string unless an odd number of backslashes
		// precede it.
		escapes := 0
		for p := j - 1; p >= start && s.b[p] == '\\'; p-- {
			escapes++
		}
		if escapes%2 == 0 {
			s.i = j + 1
			return s.b[start:j], true
		}
	}
}

// skip skips one JSON value.
func (s *typeScanner) skip() bool {
	switch s.peek() {
	case 0:
		return false
	case '"':
		_, ok := s.str()
		return ok
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, ok := s.str(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	}
	start := s.i // number, true, false or null
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return s.i > start
		}
		s.i++
	}
	return s.i > start
}

// names reads an object of attribute names to attribute values: an image,
// or the value of an M.
func (s *typeScanner) names() bool {
	if s.peek() != '{' {
		return s.skip()
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		name, ok := s.str()
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		if s.track {
			s.path = append(s.path, pathElem{name: name})
		}
		if !s.value() {
			return false
		}
		if s.track {
			s.path = s.path[:len(s.path)-1]
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// list reads the value of an L.
func (s *typeScanner) list() bool {
	if s.peek() != '[' {
		return s.skip()
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return true
	}
	for i := 0; ; i++ {
		if s.track {
			s.path = append(s.path, pathElem{index: i})
		}
		if !s.value() {
			return false
		}
		if s.track {
			s.path = s.path[:len(s.path)-1]
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// value reads one attribute value object, {"<type>": <value>}.
func (s *typeScanner) value() bool {
	if s.peek() != '{' {
		return s.skip() // null or worse: the SDK's decoder and checks report it
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	var fields [2][]byte
	n := 0
	for {
		field, ok := s.str()
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		if n < len(fields) {
			fields[n] = field
		}
		n++
		tag := field
		if bytes.IndexByte(tag, '\\') >= 0 {
			tag = []byte(unescape(tag)) // rare: "\u004d" is "M"
		}
		switch {
		case len(tag) == 1 && tag[0] == 'M':
			ok = s.names()
		case len(tag) == 1 && tag[0] == 'L':
			ok = s.list()
		default:
			ok = s.skip()
		}
		if !ok {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
			continue
		case '}':
			s.i++
		default:
			return false
		}
		break
	}
	if n > 1 {
		s.found = true
		if s.track {
			s.err = s.typesError(fields, n)
		}
		return false
	}
	return true
}

// typesError describes a value with n > 1 fields at the current path, in
// the style of validateValue's errors.
func (s *typeScanner) typesError(fields [2][]byte, n int) error {
	var b strings.Builder
	for i, e := range s.path {
		switch {
		case i == 0:
			fmt.Fprintf(&b, "attribute %s: ", strconv.Quote(unescape(e.name)))
		case e.name != nil:
			fmt.Fprintf(&b, ".%s: ", strconv.Quote(unescape(e.name)))
		default:
			fmt.Fprintf(&b, "[%d]: ", e.index)
		}
	}
	more := ""
	if n > len(fields) {
		more = ", …"
	}
	fmt.Fprintf(&b, "%d type fields (%s, %s%s) in one value (want exactly one)",
		n, strconv.Quote(unescape(fields[0])), strconv.Quote(unescape(fields[1])), more)
	return errors.New(b.String())
}

// unescape returns the contents of a JSON string as text, undoing escapes
// only when there are any.
func unescape(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s); err != nil {
		return string(raw)
	}
	return s
}
