package replicate

import (
	"bytes"
	"slices"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// Forwarding images as they are.
//
// A stream image in a Lambda event is DynamoDB JSON, the same text a
// BatchWriteItem request carries, so a writer that can take it as is
// ([RawWriter]) is given the image's bytes instead of a decoded item. The
// bytes must then be exactly as acceptable as the typed path's decoding
// (DecodeImage), or one bad record could fail a whole request. CheckImage
// and RawKeyID scan an image once, allocating nothing per attribute, and
// accept only a strict subset of what DecodeImage accepts: the spelling the
// stream produces. Input outside that subset is handed to DecodeImage, so
// the verdict and the error text are always DecodeImage's; what the subset
// leaves out goes the typed way. The spellings left out, none of which the
// stream produces (FuzzForward checks that each decodes to a value whose
// SDK re-encoding is forwardable):
//   - invalid UTF-8 and unpaired \uD800-\uDFFF escapes (encoding/json
//     replaces them with U+FFFD);
//   - null members of SS, NS or BS (the SDK reads "" or empty bytes);
//   - base64 that is not canonical: line breaks, or non-zero padding bits
//     (Go's decoder ignores them);
//   - an attribute name repeated in one map (the SDK keeps the last);
//   - nesting deeper than maxRawDepth (DynamoDB allows 32 levels).

// maxRawDepth bounds the JSON nesting the scanner follows.
const maxRawDepth = 1000

// CheckImage reports whether raw is a valid DynamoDB JSON image that can be
// forwarded as is (forward true, err nil). Otherwise it returns
// DecodeImage's error, or nil with forward false when DecodeImage accepts a
// spelling the forwarded subset leaves out (see the package's raw.go).
func CheckImage(raw []byte) (forward bool, err error) {
	s := getScanner(raw)
	ok := s.image(false)
	putScanner(s)
	if ok {
		return true, nil
	}
	_, err = DecodeImage(raw)
	return false, err
}

// RawKeyID returns the [KeyID] of a key image in DynamoDB JSON, without
// decoding it into attribute values: the same ID KeyID gives for
// DecodeImage's result. ok is false when raw is not in the forwarded subset
// or has an attribute that is not S, N or B; decode it with DecodeImage then.
func RawKeyID(raw []byte) (id string, ok bool) {
	s := getScanner(raw)
	defer putScanner(s)
	if !s.image(true) || len(s.keys) == 0 {
		return "", false
	}
	slices.SortFunc(s.keys, func(a, b rawAttr) int { return bytes.Compare(s.text(a.name), s.text(b.name)) })
	size := 0
	for _, k := range s.keys {
		if k.kind == 0 {
			return "", false
		}
		size += 48 + int(k.name.hi-k.name.lo) + int(k.value.hi-k.value.lo)
	}
	b := make([]byte, 0, size)
	for _, k := range s.keys {
		b = appendBytesField(b, s.text(k.name))
		b = append(b, k.kind)
		b = appendBytesField(b, s.text(k.value))
	}
	return string(b), true
}

func appendBytesField(b, s []byte) []byte {
	b = appendInt(b, len(s))
	b = append(b, ':')
	return append(b, s...)
}

func appendInt(b []byte, n int) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

// span is a string's contents: raw bytes of the image, or, for a string
// with escapes, its unescaped text in the scanner's arena.
type span struct {
	lo, hi int32
	arena  bool
}

// rawAttr is a top-level attribute of a key image.
type rawAttr struct {
	name, value span
	kind        byte // 'S', 'N', 'B', or 0 for another type
}

// rawScanner validates one image. Its slices are kept between uses (see
// getScanner), so a scan allocates nothing once they have grown.
type rawScanner struct {
	b     []byte
	i     int
	depth int
	arena []byte    // unescaped strings
	spans []span    // names and set members being checked for duplicates
	keys  []rawAttr // top-level attributes, when asked for
}

var scanners = sync.Pool{New: func() any { return new(rawScanner) }}

func getScanner(raw []byte) *rawScanner {
	s := scanners.Get().(*rawScanner)
	s.b, s.i, s.depth = raw, 0, 0
	s.arena, s.spans, s.keys = s.arena[:0], s.spans[:0], s.keys[:0]
	return s
}

func putScanner(s *rawScanner) {
	s.b = nil
	if cap(s.arena) > 1<<20 {
		s.arena = nil // do not keep a large item's text
	}
	scanners.Put(s)
}

func (s *rawScanner) text(sp span) []byte {
	if sp.arena {
		return s.arena[sp.lo:sp.hi]
	}
	return s.b[sp.lo:sp.hi]
}

// ws skips white space and returns the next byte, or 0 at the end.
func (s *rawScanner) ws() byte {
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// lit consumes the literal word if it comes next.
func (s *rawScanner) lit(word string) bool {
	if s.ws() == 0 || len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// char consumes c if it comes next.
func (s *rawScanner) char(c byte) bool {
	if s.ws() != c {
		return false
	}
	s.i++
	return true
}

// image reads a whole image: a non-empty map, then nothing but white space.
// With keys it records the top-level attributes.
func (s *rawScanner) image(keys bool) bool {
	if s.ws() != '{' || !s.names(keys, true) {
		return false
	}
	return s.ws() == 0
}

// names reads a map of attribute names to attribute values (an image, or
// the value of an M) and checks that no name repeats.
func (s *rawScanner) names(keys, nonEmpty bool) bool {
	if !s.char('{') || !s.enter() {
		return false
	}
	defer s.leave()
	if s.char('}') {
		return !nonEmpty
	}
	first := len(s.spans)
	for {
		name, ok := s.str()
		if !ok || !s.char(':') {
			return false
		}
		s.spans = append(s.spans, name)
		start := len(s.spans)
		kind, value, ok := s.value()
		if !ok {
			return false
		}
		s.spans = s.spans[:start]
		if keys {
			s.keys = append(s.keys, rawAttr{name: name, value: value, kind: kind})
		}
		if s.char(',') {
			continue
		}
		if !s.char('}') {
			return false
		}
		break
	}
	ok := s.distinct(s.spans[first:])
	s.spans = s.spans[:first]
	return ok
}

func (s *rawScanner) enter() bool {
	s.depth++
	return s.depth <= maxRawDepth
}

func (s *rawScanner) leave() { s.depth-- }

// value reads one attribute value object with exactly one type field. For
// S, N and B it returns the type letter and the value's span.
func (s *rawScanner) value() (kind byte, value span, ok bool) {
	if !s.char('{') {
		return 0, span{}, false
	}
	tag, ok := s.str()
	if !ok || !s.char(':') {
		return 0, span{}, false
	}
	switch string(s.text(tag)) {
	case "S":
		value, ok = s.str()
		kind = 'S'
	case "N":
		value, ok = s.str()
		ok = ok && validNumber(s.text(value))
		kind = 'N'
	case "B":
		value, ok = s.str()
		ok = ok && canonicalBase64(s.text(value))
		kind = 'B'
	case "BOOL":
		ok = s.lit("true") || s.lit("false")
	case "NULL":
		ok = s.lit("true")
	case "M":
		ok = s.names(false, false)
	case "L":
		ok = s.list()
	case "SS":
		ok = s.set(nil)
	case "NS":
		ok = s.set(validNumber)
	case "BS":
		ok = s.set(canonicalBase64)
	default:
		return 0, span{}, false
	}
	if !ok || !s.char('}') {
		return 0, span{}, false
	}
	return kind, value, true
}

// list reads the value of an L.
func (s *rawScanner) list() bool {
	if !s.char('[') || !s.enter() {
		return false
	}
	defer s.leave()
	if s.char(']') {
		return true
	}
	for {
		if _, _, ok := s.value(); !ok {
			return false
		}
		if s.char(',') {
			continue
		}
		return s.char(']')
	}
}

// set reads the value of an SS, NS or BS: a non-empty array of distinct
// strings, each passing check.
func (s *rawScanner) set(check func([]byte) bool) bool {
	if !s.char('[') {
		return false
	}
	first := len(s.spans)
	for {
		m, ok := s.str()
		if !ok || (check != nil && !check(s.text(m))) {
			return false
		}
		s.spans = append(s.spans, m)
		if s.char(',') {
			continue
		}
		if !s.char(']') {
			return false
		}
		break
	}
	ok := s.distinct(s.spans[first:])
	s.spans = s.spans[:first]
	return ok
}

// distinct reports whether the texts of spans are pairwise different. It
// reorders spans.
func (s *rawScanner) distinct(spans []span) bool {
	if len(spans) <= 8 {
		for i := range spans {
			for j := i + 1; j < len(spans); j++ {
				if bytes.Equal(s.text(spans[i]), s.text(spans[j])) {
					return false
				}
			}
		}
		return true
	}
	slices.SortFunc(spans, func(a, b span) int { return bytes.Compare(s.text(a), s.text(b)) })
	for i := 1; i < len(spans); i++ {
		if bytes.Equal(s.text(spans[i-1]), s.text(spans[i])) {
			return false
		}
	}
	return true
}

// str reads a JSON string that is valid UTF-8 with no unpaired surrogate
// escape. A string with escapes is unescaped into the arena.
func (s *rawScanner) str() (span, bool) {
	if s.ws() != '"' {
		return span{}, false
	}
	s.i++
	start := s.i
	escaped := false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			sp := span{lo: int32(start), hi: int32(s.i)}
			s.i++
			if escaped {
				return s.unescape(sp)
			}
			return sp, true
		case c == '\\':
			escaped = true
			s.i += 2 // checked by unescape
		case c < 0x20:
			return span{}, false
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n <= 1 {
				return span{}, false
			}
			s.i += n
		}
	}
	return span{}, false
}

// unescape writes the text of raw string contents with escapes to the arena.
func (s *rawScanner) unescape(raw span) (span, bool) {
	b := s.b[raw.lo:raw.hi]
	lo := len(s.arena)
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			s.arena = append(s.arena, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return span{}, false
		}
		switch b[i+1] {
		case '"', '\\', '/':
			s.arena = append(s.arena, b[i+1])
		case 'b':
			s.arena = append(s.arena, '\b')
		case 'f':
			s.arena = append(s.arena, '\f')
		case 'n':
			s.arena = append(s.arena, '\n')
		case 'r':
			s.arena = append(s.arena, '\r')
		case 't':
			s.arena = append(s.arena, '\t')
		case 'u':
			r, ok := hex4(b[i+2:])
			if !ok {
				return span{}, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					r2, ok = hex4(b[i+2:])
				}
				r = utf16.DecodeRune(r, r2)
				if !ok || r == utf8.RuneError {
					return span{}, false
				}
				i += 6
			}
			s.arena = utf8.AppendRune(s.arena, r)
			continue
		default:
			return span{}, false
		}
		i += 2
	}
	return span{lo: int32(lo), hi: int32(len(s.arena)), arena: true}, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// validNumber reports whether b is a number validateNumber accepts.
func validNumber(b []byte) bool { return isNumber(b) }

// canonicalBase64 reports whether b is standard padded base64 that
// re-encodes to itself: the alphabet only, padding only at the end, and
// zero padding bits.
func canonicalBase64(b []byte) bool {
	if len(b)%4 != 0 {
		return false
	}
	pad := 0
	if len(b) > 0 && b[len(b)-1] == '=' {
		pad = 1
		if b[len(b)-2] == '=' {
			pad = 2
		}
	}
	for _, c := range b[:len(b)-pad] {
		if b64Value(c) < 0 {
			return false
		}
	}
	switch pad {
	case 1:
		return b64Value(b[len(b)-2])&0x3 == 0
	case 2:
		return b64Value(b[len(b)-3])&0xf == 0
	}
	return true
}

func b64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}
