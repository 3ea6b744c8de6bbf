package rules

import "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

// getPath returns the value at p, through nested maps.
func getPath(item map[string]types.AttributeValue, p Path) (types.AttributeValue, bool) {
	v, ok := item[p[0]]
	for _, name := range p[1:] {
		if !ok {
			return nil, false
		}
		m, isMap := v.(*types.AttributeValueMemberM)
		if !isMap {
			return nil, false
		}
		v, ok = m.Value[name]
	}
	return v, ok
}

// deletePath removes the value at p. Maps along the path are copied, so
// values shared with the source item are never modified.
func deletePath(item map[string]types.AttributeValue, p Path) map[string]types.AttributeValue {
	if len(p) == 1 {
		delete(item, p[0])
		return item
	}
	m, ok := item[p[0]].(*types.AttributeValueMemberM)
	if !ok {
		return item
	}
	if _, ok := getPath(m.Value, p[1:]); !ok {
		return item
	}
	item[p[0]] = &types.AttributeValueMemberM{Value: deletePath(cloneMap(m.Value), p[1:])}
	return item
}

// setPath sets the value at p, creating maps along the path (and replacing
// a non-map in the way), copying the maps it changes.
func setPath(item map[string]types.AttributeValue, p Path, v types.AttributeValue) map[string]types.AttributeValue {
	if len(p) == 1 {
		item[p[0]] = v
		return item
	}
	var inner map[string]types.AttributeValue
	if m, ok := item[p[0]].(*types.AttributeValueMemberM); ok {
		inner = cloneMap(m.Value)
	} else {
		inner = map[string]types.AttributeValue{}
	}
	item[p[0]] = &types.AttributeValueMemberM{Value: setPath(inner, p[1:], v)}
	return item
}

// includePaths returns only the values at paths (nested maps keep only the
// included parts).
func includePaths(item map[string]types.AttributeValue, paths []Path) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(paths))
	for _, p := range paths {
		if v, ok := getPath(item, p); ok {
			if len(p) == 1 {
				out[p[0]] = v // a whole attribute wins over parts of it
				continue
			}
			if _, whole := out[p[0]]; whole && !isIncludedWhole(paths, p[0]) {
				out = setPath(out, p, v)
			} else if !whole {
				out = setPath(out, p, v)
			}
		}
	}
	return out
}

func isIncludedWhole(paths []Path, name string) bool {
	for _, p := range paths {
		if len(p) == 1 && p[0] == name {
			return true
		}
	}
	return false
}

func cloneMap(m map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
