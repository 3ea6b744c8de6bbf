package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// SourceKey recovers the source key of a target item written by the rule
// set, the reverse mapping that verify and repair use to find the source
// item a target item came from. It is possible when the rules carry the
// source key attributes into the target item: no rule excludes them (or
// leaves them out of an include), and no rename, set or key rule writes
// over them; a rename moves them and SourceKey follows. This holds with
// no key rule (the target key is the source key as renamed) and with a
// key rule that leaves the source key attributes in place.
//
// ok is false when the rules drop or overwrite a source key attribute
// ([RuleSet.Reversible] is then false for every item) or when targetItem
// lacks one of them or holds one of a type other than S, N or B (an item
// that no source item maps to). The key returned is a candidate: the
// caller reads that source item and checks that it maps to the target
// item's key ([RuleSet.Target]). srcKeyNames are the source table's key
// attribute names.
func (rs *RuleSet) SourceKey(targetItem map[string]types.AttributeValue, srcKeyNames []string) (map[string]types.AttributeValue, bool) {
	paths, ok := rs.sourceKeyPaths(srcKeyNames)
	if !ok || len(targetItem) == 0 {
		return nil, false
	}
	key := make(map[string]types.AttributeValue, len(srcKeyNames))
	for i, name := range srcKeyNames {
		v, found := getPath(targetItem, paths[i])
		if !found {
			return nil, false
		}
		switch v.(type) {
		case *types.AttributeValueMemberS, *types.AttributeValueMemberN, *types.AttributeValueMemberB:
		default:
			return nil, false
		}
		key[name] = v
	}
	return key, true
}

// Reversible reports whether [RuleSet.SourceKey] can recover source keys
// from target items at all: whether the rules carry every source key
// attribute into the target item.
func (rs *RuleSet) Reversible(srcKeyNames []string) bool {
	_, ok := rs.sourceKeyPaths(srcKeyNames)
	return ok
}

// HasKeyRule reports whether the rule set has a key rule: only then can
// two source items write one target key over time, so that a delete of a
// target key may find another item there.
func (rs *RuleSet) HasKeyRule() bool { return rs != nil && rs.key != nil }

// SourceKeyPaths returns where the rules put each source key attribute in
// the target item (in srcKeyNames' order), or false if a rule drops or
// overwrites one. The top-level names of these paths are what a reader of
// target items must read to recover source keys.
func (rs *RuleSet) SourceKeyPaths(srcKeyNames []string) ([]Path, bool) {
	return rs.sourceKeyPaths(srcKeyNames)
}

// sourceKeyPaths follows each source key attribute through the rules, in
// order. Key attributes are scalars (S, N, B), so a rule that touches a
// path inside one does nothing to it, while a rule that writes the path
// itself or a map above it (set, key, the target of a rename) loses it.
func (rs *RuleSet) sourceKeyPaths(srcKeyNames []string) ([]Path, bool) {
	if len(srcKeyNames) == 0 {
		return nil, false
	}
	paths := make([]Path, len(srcKeyNames))
	for i, n := range srcKeyNames {
		paths[i] = Path{n}
	}
	if rs == nil {
		return paths, true
	}
	for ri := range rs.Rules {
		r := &rs.Rules[ri]
		for i, p := range paths {
			switch r.Kind {
			case KindInclude:
				kept := false
				for _, q := range r.Paths {
					if isPrefix(q, p) {
						kept = true
					}
				}
				if !kept {
					return nil, false
				}
			case KindExclude:
				for _, q := range r.Paths {
					if isPrefix(q, p) {
						return nil, false
					}
				}
			case KindRename:
				for _, pair := range r.Pairs {
					switch {
					case isPrefix(pair.From, p):
						p = append(append(Path{}, pair.To...), p[len(pair.From):]...)
					case isPrefix(pair.To, p) || isPrefix(p, pair.To):
						return nil, false // written over
					}
				}
			case KindSet, KindKey:
				for _, pair := range r.Pairs {
					if isPrefix(pair.To, p) || isPrefix(p, pair.To) {
						return nil, false
					}
				}
			}
			paths[i] = p
		}
	}
	return paths, true
}

// isPrefix reports whether p is q or a map above it.
func isPrefix(p, q Path) bool {
	if len(p) > len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// UnfilteredKey returns the target key a source item would have if it
// passed the filters: where a copy of an item that has since left the
// filter would be. Repair and redrive use it to find such a copy.
func (rs *RuleSet) UnfilteredKey(src, srcKey map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	item, _, err := rs.apply(src, false)
	if err != nil {
		return nil, err
	}
	return rs.targetKey(item, srcKey)
}

// Fingerprint returns a digest of what the rule set does: its rules in
// order (kinds, paths, renames, expressions; not their names or lines) and
// its TTL policy. Two rule sets with the same fingerprint copy every item
// alike. It is "" for the identity rule set. A checkpoint records it, so
// that a copy is resumed only with the rule set it was started with.
func (rs *RuleSet) Fingerprint() string {
	if rs.IsIdentity() {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "ttl %q\n", rs.TTL)
	for _, r := range rs.Rules {
		fmt.Fprintf(h, "rule %q", r.Kind)
		if r.cond != nil {
			fmt.Fprintf(h, " if %q", r.cond.src)
		}
		for _, p := range r.Paths {
			fmt.Fprintf(h, " path %q", []string(p))
		}
		for _, p := range r.Pairs {
			fmt.Fprintf(h, " pair %q %q %q", []string(p.From), []string(p.To), p.Expr)
		}
		fmt.Fprintln(h)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
