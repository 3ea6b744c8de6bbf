package lambdahandler_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchSpec describes a generated DynamoDB Streams event: Records records of
// distinct items ("pk" S, "sk" N), 60% INSERT, 30% MODIFY and 10% REMOVE,
// in the JSON Lambda delivers.
type batchSpec struct {
	// Records is the number of records.
	Records int
	// ItemBytes is the JSON size each image is padded to, with a "note"
	// string attribute (0: no padding).
	ItemBytes int
	// TotalBytes, if set, overrides ItemBytes: images are padded evenly so
	// the whole payload is about TotalBytes long.
	TotalBytes int
	// OldImages selects the NEW_AND_OLD_IMAGES view type, where MODIFY
	// records also carry OldImage and REMOVE records carry only OldImage;
	// otherwise the view type is NEW_IMAGE.
	OldImages bool
	// Compact selects images of about 190 bytes that still hold S, N, BOOL,
	// M, L, SS and B, so that 10,000 records fit in 6 MB: the rest of a
	// record (eventID, Keys, SequenceNumber, eventSourceARN…) is about 420
	// bytes.
	Compact bool
}

// The batches of the benchmarks. A full Lambda batch is 10,000 records and
// at most 6 MB; with ~500-byte items and both images, batch10k is larger
// than Lambda would deliver at once, which only makes it heavier.
var (
	batch10k = batchSpec{Records: 10_000, ItemBytes: 500, OldImages: true}
	batch6MB = batchSpec{Records: 10_000, TotalBytes: 6 << 20, Compact: true}
)

const (
	genSeed       = 0x5eed
	genSourceARN  = "arn:aws:dynamodb:us-east-1:123456789012:table/source/stream/2024-05-01T00:00:00.000"
	genEpoch      = 1714521600
	payloadPrefix = `{"Records":[`
	payloadSuffix = `]}`
)

var genWords = []string{
	"amber", "basil", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper",
	"kestrel", "lumen", "maple", "nectar", "onyx", "pepper", "quartz", "raven", "sierra", "tundra",
}

// genBatch returns spec's event. Record i depends only on i and the image
// sizes, so a batch of n records starts with the same records as any
// larger batch of the same sizes.
func genBatch(tb testing.TB, spec batchSpec) []byte {
	tb.Helper()
	pad := func(int) int { return 0 }
	if spec.ItemBytes > 0 {
		pad = func(base int) int { return max(spec.ItemBytes-base, 0) }
	}
	if spec.TotalBytes > 0 {
		extra, images := spec.TotalBytes-len(encodeBatch(spec, pad)), 0
		for i := range spec.Records {
			images += imageCount(spec, i)
		}
		if extra < 0 || images == 0 {
			tb.Fatalf("cannot fit %d records in %d bytes", spec.Records, spec.TotalBytes)
		}
		pad = func(int) int { return extra / images }
	}
	return encodeBatch(spec, pad)
}

// encodeBatch encodes spec's records, padding each image of base length b
// by pad(b) bytes.
func encodeBatch(spec batchSpec, pad func(base int) int) []byte {
	var sb strings.Builder
	sb.WriteString(payloadPrefix)
	for i := range spec.Records {
		if i > 0 {
			sb.WriteByte(',')
		}
		writeRecord(&sb, spec, i, pad)
	}
	sb.WriteString(payloadSuffix)
	return []byte(sb.String())
}

func eventName(i int) string {
	switch i % 10 {
	case 9:
		return "REMOVE"
	case 6, 7, 8:
		return "MODIFY"
	}
	return "INSERT"
}

func imageCount(spec batchSpec, i int) int {
	switch name := eventName(i); {
	case name == "MODIFY" && spec.OldImages:
		return 2
	case name == "REMOVE" && !spec.OldImages:
		return 0
	}
	return 1
}

func writeRecord(sb *strings.Builder, spec batchSpec, i int, pad func(int) int) {
	rng := rand.New(rand.NewPCG(genSeed, uint64(i)))
	var id [16]byte
	for j := range id {
		id[j] = byte(rng.Uint32())
	}
	name := eventName(i)
	keys := `{"pk":{"S":"user#` + pad6(i) + `"},"sk":{"N":"` + strconv.Itoa(1+i%7) + `"}}`
	var newImage, oldImage string
	switch {
	case name != "REMOVE":
		newImage = image(i, 1, spec.Compact, pad)
		if name == "MODIFY" && spec.OldImages {
			oldImage = image(i, 0, spec.Compact, pad)
		}
	case spec.OldImages:
		oldImage = image(i, 0, spec.Compact, pad)
	}
	view := "NEW_IMAGE"
	if spec.OldImages {
		view = "NEW_AND_OLD_IMAGES"
	}

	sb.WriteString(`{"eventID":"` + hex.EncodeToString(id[:]) + `","eventName":"` + name +
		`","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1","dynamodb":{`)
	sb.WriteString(`"ApproximateCreationDateTime":` + strconv.Itoa(genEpoch+i/100) + `,"Keys":` + keys)
	if newImage != "" {
		sb.WriteString(`,"NewImage":` + newImage)
	}
	if oldImage != "" {
		sb.WriteString(`,"OldImage":` + oldImage)
	}
	// Real sequence numbers have 21 to 40 digits.
	sb.WriteString(`,"SequenceNumber":"49` + strconv.FormatUint(1e18+uint64(i)*7919, 10) +
		`","SizeBytes":` + strconv.Itoa((len(keys)+len(newImage)+len(oldImage))*3/4) +
		`,"StreamViewType":"` + view + `"},"eventSourceARN":"` + genSourceARN + `"}`)
}

// image returns version v of item i's image in DynamoDB JSON, with every
// attribute type the target must carry: S, N, BOOL, NULL, M, L, SS, NS, B
// (NULL and NS only when not compact).
func image(i, v int, compact bool, pad func(int) int) string {
	rng := rand.New(rand.NewPCG(genSeed+uint64(v)+1, uint64(i)))
	word := func() string { return genWords[rng.IntN(len(genWords))] }
	perm := rng.Perm(len(genWords))
	blob := make([]byte, 8+rng.IntN(16))
	for j := range blob {
		blob[j] = byte(rng.Uint32())
	}
	var b strings.Builder
	b.WriteString(`{"pk":{"S":"user#` + pad6(i) + `"},"sk":{"N":"` + strconv.Itoa(1+i%7) + `"}`)
	if compact {
		b.WriteString(`,"active":{"BOOL":` + strconv.FormatBool(rng.IntN(2) == 0) + `}`)
		b.WriteString(`,"addr":{"M":{"city":{"S":"` + word() + `"}}}`)
		b.WriteString(`,"orders":{"L":[{"N":"` + strconv.Itoa(rng.IntN(100)) + `"}]}`)
		b.WriteString(`,"tags":{"SS":["` + genWords[perm[0]] + `"]}`)
		b.WriteString(`,"avatar":{"B":"` + base64.StdEncoding.EncodeToString(blob[:6]) + `"}`)
	} else {
		writeFullImage(&b, rng, i, v, word, perm, blob)
	}
	const note = `,"note":{"S":""}}`
	n := pad(b.Len() + len(note))
	b.WriteString(note[:len(note)-3])
	b.WriteString(strings.Repeat("x", n))
	b.WriteString(note[len(note)-3:])
	return b.String()
}

func writeFullImage(b *strings.Builder, rng *rand.Rand, i, v int, word func() string, perm []int, blob []byte) {
	b.WriteString(`,"name":{"S":"` + word() + " " + word() + `"}`)
	b.WriteString(`,"age":{"N":"` + strconv.Itoa(18+rng.IntN(70)) + `"}`)
	b.WriteString(`,"balance":{"N":"` + strconv.Itoa(rng.IntN(100000)) + "." + strconv.Itoa(10+rng.IntN(90)) + `"}`)
	b.WriteString(`,"active":{"BOOL":` + strconv.FormatBool(rng.IntN(2) == 0) + `}`)
	if i%5 == 0 {
		b.WriteString(`,"closedAt":{"NULL":true}`)
	}
	b.WriteString(`,"addr":{"M":{"city":{"S":"` + word() + `"},"zip":{"N":"` + strconv.Itoa(10000+rng.IntN(89999)) + `"}}}`)
	b.WriteString(`,"orders":{"L":[{"S":"o-` + strconv.Itoa(rng.IntN(1e6)) + `"},{"N":"` + strconv.Itoa(rng.IntN(100)) + `"}]}`)
	b.WriteString(`,"tags":{"SS":["` + genWords[perm[0]] + `","` + genWords[perm[1]] + `"]}`)
	b.WriteString(`,"scores":{"NS":["` + strconv.Itoa(perm[2]) + `","` + strconv.Itoa(perm[3]+100) + `"]}`)
	b.WriteString(`,"avatar":{"B":"` + base64.StdEncoding.EncodeToString(blob) + `"}`)
	b.WriteString(`,"v":{"N":"` + strconv.Itoa(v) + `"}`)
}

func pad6(i int) string {
	s := strconv.Itoa(i)
	return strings.Repeat("0", max(6-len(s), 0)) + s
}

func TestGenBatch(t *testing.T) {
	tests := map[string]struct {
		spec     batchSpec
		wantView string
		minBytes int
		maxBytes int
		wantOld  int
	}{
		"10k with old images": {spec: batch10k, wantView: "NEW_AND_OLD_IMAGES", minBytes: 9 << 20, maxBytes: 14 << 20, wantOld: 4_000},
		"6 MB":                {spec: batch6MB, wantView: "NEW_IMAGE", minBytes: 6<<20 - 100_000, maxBytes: 6 << 20, wantOld: 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			payload := genBatch(t, tt.spec)
			assert.GreaterOrEqual(t, len(payload), tt.minBytes)
			assert.LessOrEqual(t, len(payload), tt.maxBytes)

			var ev events.DynamoDBEvent
			require.NoError(t, json.Unmarshal(payload, &ev))
			require.Len(t, ev.Records, tt.spec.Records)
			keys, ops, old := map[string]bool{}, map[string]int{}, 0
			for _, r := range ev.Records {
				keys[r.Change.Keys["pk"].String()] = true
				ops[r.EventName]++
				if len(r.Change.OldImage) > 0 {
					old++
				}
				assert.Equal(t, tt.wantView, r.Change.StreamViewType)
			}
			assert.Len(t, keys, tt.spec.Records, "distinct keys")
			assert.Equal(t, map[string]int{"INSERT": 6_000, "MODIFY": 3_000, "REMOVE": 1_000}, ops)
			assert.Equal(t, tt.wantOld, old)

			assert.Equal(t, payload, genBatch(t, tt.spec), "deterministic")
		})
	}
}
