package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ucwabot/ucwabot/internal/spelling"
	"go.yaml.in/yaml/v3"
)

// decoder walks a YAML node tree into a struct, recording where each key
// was set and collecting every error rather than stopping at the first.
// yaml.v3's own decoder reports unknown keys by line only and without the
// key's path, hence the walk.
type decoder struct {
	file string
	pos  map[string]Position
	errs []error
}

var durationType = reflect.TypeFor[time.Duration]()

func (d *decoder) at(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Pos: d.at(n), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// decode stores node n into v, whose key path is path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) == 0 {
			return
		} else {
			n = n.Content[0]
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value keeps the default
	}
	t := v.Type()
	switch {
	case t == durationType:
		d.duration(n, v, path)
	case t.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case t.Kind() == reflect.Slice:
		d.sequence(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of keys, got %s", describe(n))
		return
	}
	t := v.Type()
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := joinKey(path, k.Value)
		if k.Value == "<<" && k.Tag == "!!merge" {
			d.fail(k, key, "merge keys (<<) are not supported in the configuration; write the keys out")
			continue
		}
		if prev, dup := first[k.Value]; dup {
			d.fail(k, key, "duplicate key: already set at %s", d.at(prev))
			continue
		}
		first[k.Value] = k
		f, ok := fieldByKey(t, k.Value)
		if !ok {
			d.fail(k, key, "unknown key%s", suggest(t, k.Value))
			continue
		}
		d.pos[key] = d.at(k)
		if msg, refusedKey := f.Tag.Lookup("refuse"); refusedKey {
			d.fail(k, key, "%s", msg)
			continue
		}
		d.decode(val, v.FieldByIndex(f.Index), key)
	}
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		key := fmt.Sprintf("%s[%d]", path, i)
		d.pos[key] = d.at(item)
		d.decode(item, out.Index(i), key)
	}
	v.Set(out)
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a duration such as 10s, got %s", describe(n))
		return
	}
	dur, err := parseDuration(n.Value)
	if err != nil {
		d.fail(n, path, "%v", err)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a single value, got %s", describe(n))
		return
	}
	if err := setScalar(v, n.Value); err != nil {
		d.fail(n, path, "%v", err)
	}
}

// setScalar parses s into v by v's kind; the same parser serves files and
// environment variables.
func setScalar(v reflect.Value, s string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		if v.Type() == durationType {
			d, err := parseDuration(s)
			if err != nil {
				return err
			}
			v.SetInt(int64(d))
			return nil
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	default:
		return fmt.Errorf("cannot hold a %s", v.Kind())
	}
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (write a number with a unit, such as 10s or 3m)", s)
	}
	return d, nil
}

// fieldByKey finds the struct field whose yaml tag is key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == key && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// suggest names a known key close to a misspelt one.
func suggest(t reflect.Type, key string) string {
	best, bestDist := "", 3
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || !f.IsExported() {
			continue
		}
		if _, refusedKey := f.Tag.Lookup("refuse"); refusedKey {
			continue
		}
		if d := spelling.Distance(key, name); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}
