// Package plugins is the registry of handler plugins: rules name a plugin
// and give it parameters; the registry builds a handlers.Handler from them
// when the rules load.
//
// Plugins register themselves from init():
//
//	func init() {
//		plugins.Register("shout", plugins.Define(func(c Config) (handlers.Handler, error) { ... }))
//	}
package plugins

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/handlers"
)

// Plugin builds handlers from a rule action's parameters.
type Plugin interface {
	// Build decodes params (nil when the action gives none) and returns a
	// ready handler, or an error saying which parameter is wrong. It runs
	// when the rules load, never at event time.
	Build(params *yaml.Node) (handlers.Handler, error)
}

// Validator is implemented by plugin configs that check themselves after
// decoding.
type Validator interface {
	Validate() error
}

// Define returns a Plugin whose parameters are decoded strictly (unknown
// keys are an error) into a C, validated when C implements Validator, and
// passed to build.
func Define[C any](build func(C) (handlers.Handler, error)) Plugin {
	return definedPlugin[C](build)
}

type definedPlugin[C any] func(C) (handlers.Handler, error)

func (p definedPlugin[C]) Build(params *yaml.Node) (handlers.Handler, error) {
	var cfg C
	if err := DecodeStrict(params, &cfg); err != nil {
		return nil, err
	}
	if v, ok := any(&cfg).(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return p(cfg)
}

// DecodeStrict decodes a YAML node into v, rejecting keys v does not have.
// Errors start with "line N: " (N a line of the node's file) and name an
// unknown key with the keys its place accepts:
//
//	line 7: unknown key "txt" (known: text, html, typing)
func DecodeStrict(node *yaml.Node, v any) error {
	if node == nil || node.Kind == 0 {
		return nil
	}
	b, err := yaml.Marshal(node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return cleanYAMLError(err, node.Line, reflect.TypeOf(v))
	}
	return nil
}

// unknownField is yaml.v3's message for a key the target struct lacks.
var unknownField = regexp.MustCompile(`^field (.*) not found in type (.+)$`)

// cleanYAMLError rewrites line numbers of the re-encoded document, which
// start at 1, into lines of the original file, and unknown-field messages
// into ones naming the known keys of target's struct types.
func cleanYAMLError(err error, base int, target reflect.Type) error {
	msgs := yamlMessages(err, base, target)
	if msgs == nil {
		return err
	}
	return errors.New(strings.Join(msgs, "; "))
}

// YAMLMessages returns one message per problem of a yaml.v3 decoding error
// ("line 4: unknown key "txt" (known: text, html, typing)"), unknown-field
// messages naming the keys target's struct types accept; nil when err is
// not a decoding error (a syntax error, for one).
func YAMLMessages(err error, target any) []string {
	return yamlMessages(err, 1, reflect.TypeOf(target))
}

func yamlMessages(err error, base int, target reflect.Type) []string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return nil
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		prefix, rest := "", m
		var line int
		if n, _ := fmt.Sscanf(m, "line %d:", &line); n == 1 {
			if base > 1 {
				line += base - 1
			}
			prefix = fmt.Sprintf("line %d: ", line)
			rest = strings.TrimPrefix(m[strings.Index(m, ":")+1:], " ")
		}
		if f := unknownField.FindStringSubmatch(rest); f != nil {
			rest = fmt.Sprintf("unknown key %q", f[1])
			if t := findStruct(target, f[2], map[reflect.Type]bool{}); t != nil {
				if keys := knownKeys(t); len(keys) > 0 {
					rest += " (known: " + strings.Join(keys, ", ") + ")"
				}
			}
		}
		msgs[i] = prefix + rest
	}
	return msgs
}

// findStruct returns the struct type named name (as reflect prints it)
// reachable from t through pointers, slices, arrays, maps and fields.
func findStruct(t reflect.Type, name string, seen map[reflect.Type]bool) reflect.Type {
	if t == nil || seen[t] {
		return nil
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return findStruct(t.Elem(), name, seen)
	case reflect.Map:
		return findStruct(t.Elem(), name, seen)
	case reflect.Struct:
		if t.String() == name {
			return t
		}
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() || f.Anonymous {
				if s := findStruct(f.Type, name, seen); s != nil {
					return s
				}
			}
		}
	}
	return nil
}

// knownKeys lists the YAML keys struct type t accepts, in field order, the
// way yaml.v3 names them: the tag's name, else the lower-cased field name;
// fields tagged ",inline" contribute their own keys.
func knownKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				keys = append(keys, knownKeys(ft)...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, name)
	}
	return keys
}

// Registry maps plugin names to plugins. The zero value is not usable; use
// NewRegistry. A Registry is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	plugins map[string]Plugin
}

// NewRegistry returns an empty registry. Tests build their own; the bot
// uses Default.
func NewRegistry() *Registry { return &Registry{plugins: map[string]Plugin{}} }

// Default is the registry that Register fills and the bot uses.
var Default = NewRegistry()

// Register adds p under name to the Default registry. It is meant to be
// called from init() and panics on an empty or duplicate name.
func Register(name string, p Plugin) { Default.Register(name, p) }

// Register adds p under name; it panics on an empty or duplicate name or a
// nil plugin, since both are programming errors found at start-up.
func (r *Registry) Register(name string, p Plugin) {
	if name == "" {
		panic("plugins: Register with an empty name")
	}
	if p == nil {
		panic(fmt.Sprintf("plugins: Register %q with a nil plugin", name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.plugins[name]; dup {
		panic(fmt.Sprintf("plugins: %q registered twice", name))
	}
	r.plugins[name] = p
}

// Lookup returns the plugin registered under name, or an error that names
// the known plugins.
func (r *Registry) Lookup(name string) (Plugin, error) {
	r.mu.RLock()
	p, ok := r.plugins[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown plugin %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	return p, nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.plugins))
	for n := range r.plugins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Build looks the plugin up and builds a handler from its parameters. Its
// signature is the rules package's Builder, so a rule set loads with
// `rules.Options{Build: registry.Build}` and every unknown plugin or bad
// parameter is an error at load time, positioned at the rule's step.
func (r *Registry) Build(name string, params *yaml.Node) (any, error) {
	p, err := r.Lookup(name)
	if err != nil {
		return nil, err
	}
	h, err := p.Build(params)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("plugin %q built no handler", name)
	}
	return h, nil
}
