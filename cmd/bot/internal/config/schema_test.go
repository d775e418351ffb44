package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

var schemaFile = filepath.Join("..", "..", "..", "..", "docs", "config.schema.json")

func compileConfigSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	sch, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return sch
}

// asJSON decodes a YAML document into what the same JSON document gives.
func asJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// The schema accepts every example configuration and the README's.
func TestSchema_accepts_the_example_configurations(t *testing.T) {
	sch := compileConfigSchema(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "..", "examples", "config", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configurations: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(asJSON(t, data)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := string(readme)[strings.Index(string(readme), "## Configuration"):]
	block = block[strings.Index(block, "```yaml\n")+8:]
	block = block[:strings.Index(block, "```")]
	if err := sch.Validate(asJSON(t, []byte(block))); err != nil {
		t.Errorf("README configuration: %v", err)
	}
}

// The schema rejects what the loader rejects for its shape.
func TestSchema_rejects_broken_shapes(t *testing.T) {
	sch := compileConfigSchema(t)
	for _, name := range []string{
		"unknown-key-suggestion", "duration-without-unit", "inline-password", "no-accounts",
		"top-level-list", "store-url-unknown-scheme", "store-url-missing-slashes", "store-prefix-braces",
		"http-listen-no-port", "http-listen-bad-host", "discovery-url-not-http",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "broken", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(asJSON(t, data)); err == nil {
			t.Errorf("the schema accepts testdata/broken/%s.yaml", name)
		}
	}
}

// Every key of Config is in the schema and every key of the schema is in
// Config, at the same path; a refused key is refused by the schema.
func TestSchema_has_every_configuration_key(t *testing.T) {
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	defs, _ := root["$defs"].(map[string]any)
	resolve := func(s map[string]any) map[string]any {
		for {
			ref, ok := s["$ref"].(string)
			if !ok {
				return s
			}
			s = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
	}
	inSchema := map[string]bool{}
	var walkSchema func(s map[string]any, path string)
	walkSchema = func(s map[string]any, path string) {
		s = resolve(s)
		if items, ok := s["items"].(map[string]any); ok {
			walkSchema(items, path+"[]")
		}
		props, _ := s["properties"].(map[string]any)
		for k, v := range props {
			key := joinKey(path, k)
			sub := v.(map[string]any)
			if _, refused := sub["not"]; refused && len(sub) <= 2 {
				key += " (refused)"
			}
			inSchema[key] = true
			walkSchema(sub, joinKey(path, k))
		}
	}
	walkSchema(root, "")

	inConfig := map[string]bool{}
	var walkType func(t reflect.Type, path string)
	walkType = func(t reflect.Type, path string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" {
				continue
			}
			key := joinKey(path, name)
			if _, refused := f.Tag.Lookup("refuse"); refused {
				inConfig[key+" (refused)"] = true
				continue
			}
			inConfig[key] = true
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				walkType(ft.Elem(), key+"[]")
			} else if ft.Kind() == reflect.Struct && ft != durationType {
				walkType(ft, key)
			}
		}
	}
	walkType(reflect.TypeFor[Config](), "")

	var missing, extra []string
	for k := range inConfig {
		if !inSchema[k] {
			missing = append(missing, k)
		}
	}
	for k := range inSchema {
		if !inConfig[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("docs/config.schema.json lacks %q", missing)
	}
	if len(extra) > 0 {
		t.Errorf("docs/config.schema.json has keys Config does not: %q", extra)
	}
	if len(inConfig) < 30 {
		t.Errorf("only %d keys found in Config", len(inConfig))
	}
}
