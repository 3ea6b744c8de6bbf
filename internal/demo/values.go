package demo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// vocabulary for string values, with an empty string and non-ASCII text.
var vocabulary = []string{
	"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "Zoë", "naïve café", "東京", "emoji 🚀",
	"", "with \"quotes\" and \\ backslash", "tab\tand\nnewline", "<html>&amp;",
}

// item returns a whole item for key with all ten attribute types. Each
// attribute name always has the same type, so updates of it stay valid.
func (g *generator) item(key map[string]types.AttributeValue) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		PartitionKey: key[PartitionKey],
		SortKey:      key[SortKey],
		"version":    &types.AttributeValueMemberN{Value: "1"},
		"name":       &types.AttributeValueMemberS{Value: g.word()},
		"balance":    &types.AttributeValueMemberN{Value: g.amount()},
		"avatar":     &types.AttributeValueMemberB{Value: g.bytes()},
		"active":     &types.AttributeValueMemberBOOL{Value: g.rng.IntN(2) == 0},
		"deletedAt":  &types.AttributeValueMemberNULL{Value: true},
		"tags":       &types.AttributeValueMemberSS{Value: g.words(1 + g.rng.IntN(4))},
		"scores":     &types.AttributeValueMemberNS{Value: g.numberSet()},
		"blobs":      &types.AttributeValueMemberBS{Value: g.byteSet()},
		"profile":    g.profile(),
		"history":    &types.AttributeValueMemberL{Value: []types.AttributeValue{g.historyEntry(), g.historyEntry()}},
		"seq":        &types.AttributeValueMemberN{Value: strconv.Itoa(g.seq)},
	}
	if g.rng.IntN(3) == 0 {
		delete(item, "avatar") // not every item has every attribute
	}
	return item
}

func (g *generator) pick(options ...string) string { return options[g.rng.IntN(len(options))] }

func (g *generator) word() string { return vocabulary[g.rng.IntN(len(vocabulary))] }

// words returns n distinct non-empty words (a set cannot hold "").
func (g *generator) words(n int) []string {
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		w := g.word()
		if w == "" || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

// number returns a DynamoDB number that a float64 would not keep, or a
// spelling DynamoDB normalises.
func (g *generator) number() string {
	switch g.rng.IntN(8) {
	case 0:
		return strconv.Itoa(g.rng.IntN(2001) - 1000)
	case 1: // 38 significant digits
		var b strings.Builder
		b.WriteByte(byte('1' + g.rng.IntN(9)))
		for range 37 {
			b.WriteByte(byte('0' + g.rng.IntN(10)))
		}
		return b.String()
	case 2:
		return "9007199254740993" // 2^53 + 1
	case 3:
		return fmt.Sprintf("%d.%03d00", g.rng.IntN(1000), g.rng.IntN(1000)) // trailing zeros
	case 4:
		return "1E-130" // the smallest positive number
	case 5:
		return "-9.9999999999999999999999999999999999999E+125" // the most negative
	case 6:
		return "0.1"
	default:
		return fmt.Sprintf("-%d.%d", g.rng.IntN(100000), 1+g.rng.IntN(999))
	}
}

// amount returns a modest decimal for attributes that updates ADD to: the
// sum must stay within DynamoDB's 38 significant digits.
func (g *generator) amount() string {
	return fmt.Sprintf("%d.%02d", g.rng.IntN(2_000_000)-1_000_000, g.rng.IntN(100))
}

// numberSet returns 1 to 4 numbers with distinct values, some spelled in
// a form DynamoDB normalises.
func (g *generator) numberSet() []string {
	n := 1 + g.rng.IntN(4)
	seen := map[int]bool{}
	var out []string
	for len(out) < n {
		v := g.rng.IntN(50)
		if seen[v] {
			continue
		}
		seen[v] = true
		switch g.rng.IntN(3) {
		case 0:
			out = append(out, strconv.Itoa(v))
		case 1:
			out = append(out, strconv.Itoa(v)+".5") // never equal to another member
		default:
			out = append(out, strconv.Itoa(v)+"E0") // v itself, spelled otherwise
		}
	}
	return out
}

func (g *generator) bytes() []byte {
	b := make([]byte, 1+g.rng.IntN(24))
	for i := range b {
		b[i] = byte(g.rng.IntN(256))
	}
	return b
}

// byteSet returns 1 to 3 distinct byte strings.
func (g *generator) byteSet() [][]byte {
	n := 1 + g.rng.IntN(3)
	seen := map[string]bool{}
	var out [][]byte
	for len(out) < n {
		b := g.bytes()
		if seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		out = append(out, b)
	}
	return out
}

// profile returns a nested map with lists, maps and every scalar type.
func (g *generator) profile() types.AttributeValue {
	return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"city": &types.AttributeValueMemberS{Value: g.pick("Lisbon", "Zürich", "São Paulo", "")},
		"geo": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberN{Value: g.number()},
			&types.AttributeValueMemberN{Value: g.number()},
		}},
		"prefs": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"beta":  &types.AttributeValueMemberBOOL{Value: g.rng.IntN(2) == 0},
			"theme": &types.AttributeValueMemberS{Value: g.pick("dark", "light")},
			"none":  &types.AttributeValueMemberNULL{Value: true},
			"codes": &types.AttributeValueMemberNS{Value: g.numberSet()},
		}},
		"empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
	}}
}

// historyEntry returns a list element: a map, a list or a scalar.
func (g *generator) historyEntry() types.AttributeValue {
	switch g.rng.IntN(3) {
	case 0:
		return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"at":    &types.AttributeValueMemberN{Value: strconv.Itoa(1_790_000_000 + g.rng.IntN(1_000_000))},
			"event": &types.AttributeValueMemberS{Value: g.pick("login", "purchase", "refund")},
			"data":  &types.AttributeValueMemberB{Value: g.bytes()},
		}}
	case 1:
		return &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: g.word()},
			&types.AttributeValueMemberBS{Value: g.byteSet()},
			&types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		}}
	default:
		return &types.AttributeValueMemberN{Value: g.number()}
	}
}
