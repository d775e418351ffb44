package ucwasim

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// marshal encodes v as encoding/json does, byte for byte, but without
// reflection for the shapes the simulator's answers are made of: maps of
// string to any, slices of them, strings, booleans and integers. Anything
// else is handed to encoding/json. Answers are built fresh per request
// from maps, and encoding/json spends most of its time there on
// reflection and on sorting each map's keys through reflect.Value.
func marshal(v any) ([]byte, error) {
	return appendJSON(nil, v)
}

func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v)
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case map[string]any:
		return appendMap(b, v)
	case event:
		return appendMap(b, v)
	case []map[string]any:
		return appendArray(b, v, appendMap)
	case []event:
		return appendArray(b, v, func(b []byte, e event) ([]byte, error) { return appendMap(b, e) })
	case []any:
		return appendArray(b, v, appendJSON)
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return b, err
		}
		return append(b, raw...), nil
	}
}

// appendArray writes v with elem for each element (nil: null, as
// encoding/json does).
func appendArray[T any](b []byte, v []T, elem func([]byte, T) ([]byte, error)) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, e := range v {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = elem(b, e); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// appendMap writes the keys in the order encoding/json does: sorted.
func appendMap(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var stack [16]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendString(b, k); err != nil {
			return b, err
		}
		b = append(b, ':')
		if b, err = appendJSON(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// escaped marks the bytes encoding/json writes other than as themselves
// in a string (or may, beyond ASCII).
var escaped = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	}
	return t
}()

// appendString quotes s. A string that encoding/json would escape
// anywhere (quotes, backslashes, control characters, the HTML-sensitive
// <, > and &, anything beyond ASCII) is left to it, so that the escapes
// are its own.
func appendString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if escaped[s[i]] {
			raw, err := json.Marshal(s)
			if err != nil {
				return b, err
			}
			return append(b, raw...), nil
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}
