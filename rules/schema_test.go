package rules_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// The JSON Schemas of docs/ must accept the example rules and rule test
// cases, and the test data that is meant to load, and reject documents
// the loader rejects for their shape. This test uses only the standard
// library, yaml and jsonschema, so it checks the schemas on their own.

const (
	rulesSchemaFile = "../docs/rules.schema.json"
	casesSchemaFile = "../docs/rules-cases.schema.json"
)

func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	sch, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return sch
}

// yamlToJSON decodes a YAML document into the values a JSON document
// would give: mappings with string keys, timestamps as strings, numbers
// as json.Number.
func yamlToJSON(data []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	v, err := nodeValue(doc.Content[0])
	if err != nil {
		return nil, err
	}
	// Round-trip through JSON so the validator sees exactly what it sees
	// for a JSON document.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

func nodeValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeValue(n.Content[0])
	case yaml.AliasNode:
		return nodeValue(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a scalar", k.Line)
			}
			if k.Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: merge keys are not supported", k.Line)
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			val, err := nodeValue(v)
			if err != nil {
				return nil, err
			}
			out[k.Value] = val
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, err
			}
			return b, nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, err
			}
			return json.Number(strconv.FormatInt(i, 10)), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			return f, nil
		default: // !!str, !!timestamp, !!binary
			return n.Value, nil
		}
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

func validateFile(t *testing.T, sch *jsonschema.Schema, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := yamlToJSON(data)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s does not match its schema:\n%v", path, err)
	}
}

func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

func isCasesFile(path string) bool {
	base := filepath.Base(path)
	return strings.HasSuffix(base, ".cases.yaml") || strings.HasSuffix(base, ".cases.yml")
}

func TestSchemaExamples(t *testing.T) {
	rulesSch := compileSchema(t, rulesSchemaFile)
	casesSch := compileSchema(t, casesSchemaFile)

	examples := append(yamlFiles(t, "../examples/rules"), yamlFiles(t, "../examples/oncall")...)
	if len(examples) == 0 {
		t.Fatal("no examples/rules/*.yaml")
	}
	var sawRules, sawCases bool
	for _, path := range examples {
		if isCasesFile(path) {
			sawCases = true
			validateFile(t, casesSch, path)
		} else {
			sawRules = true
			validateFile(t, rulesSch, path)
		}
	}
	if !sawRules || !sawCases {
		t.Errorf("examples/rules holds rules files: %v, cases files: %v; want both", sawRules, sawCases)
	}
}

func TestSchemaTestdata(t *testing.T) {
	rulesSch := compileSchema(t, rulesSchemaFile)
	casesSch := compileSchema(t, casesSchemaFile)
	files := yamlFiles(t, "testdata")
	if len(files) == 0 {
		t.Fatal("no rules/testdata/*.yaml")
	}
	for _, path := range files {
		if strings.HasPrefix(filepath.Base(path), "bad") {
			continue
		}
		if isCasesFile(path) {
			validateFile(t, casesSch, path)
		} else {
			validateFile(t, rulesSch, path)
		}
	}
}

func TestSchemaRejects(t *testing.T) {
	rulesSch := compileSchema(t, rulesSchemaFile)
	casesSch := compileSchema(t, casesSchemaFile)

	good := `
version: 1
x-steps: &steps [leave]
rules:
  - name: greet
    on: participant.joined
    when: '!participant.local'
    cooldown: {window: 24h, per: [participant]}
    do:
      - reply: {text: "Hello {{.Participant.Name}}"}
      - leave
  - name: weekly
    on: [message.received, typing]
    cooldown: {window: 7d, per: []}
    do: [leave]
`
	v, err := yamlToJSON([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := rulesSch.Validate(v); err != nil {
		t.Fatalf("the base document must be valid: %v", err)
	}

	bad := []struct{ name, doc string }{
		{"unknown top-level key", `
version: 1
rulez: []
`},
		{"unknown rule key", `
rules:
  - name: greet
    on: participant.joined
    then: [leave]
    do: [leave]
`},
		{"bad event kind", `
rules:
  - name: greet
    on: participant.arrived
    do: [leave]
`},
		{"bad event kind in a list", `
rules:
  - name: greet
    on: [participant.joined, message.recieved]
    do: [leave]
`},
		{"do item with two keys", `
rules:
  - name: greet
    on: participant.joined
    do:
      - reply: {text: hi}
        leave: {}
`},
		{"cooldown without window", `
rules:
  - name: greet
    on: participant.joined
    cooldown: {per: [participant]}
    do: [leave]
`},
		{"cooldown window not a duration", `
rules:
  - name: greet
    on: participant.joined
    cooldown: {window: soon}
    do: [leave]
`},
		{"cooldown per an unknown key", `
rules:
  - name: greet
    on: participant.joined
    cooldown: {window: 1h, per: [account]}
    do: [leave]
`},
		{"rule without do", `
rules:
  - name: greet
    on: participant.joined
`},
		{"version 2", `
version: 2
rules: []
`},
		{"unknown invitations key", `
invitations:
  decline: 'true'
`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			v, err := yamlToJSON([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if err := rulesSch.Validate(v); err == nil {
				t.Errorf("the rules schema accepts:%s", c.doc)
			}
		})
	}

	badCases := []struct{ name, doc string }{
		{"unknown case key", `
cases:
  - name: x
    event: {kind: typing}
    expect: {rules: []}
    expected: {rules: []}
`},
		{"bad event kind", `
cases:
  - name: x
    event: {kind: message.recieved}
    expect: {rules: []}
`},
		{"bad invitation answer", `
cases:
  - name: x
    event: {kind: invitation.received}
    expect: {rules: [], invitation: ignore}
`},
	}
	for _, c := range badCases {
		t.Run("cases/"+c.name, func(t *testing.T) {
			v, err := yamlToJSON([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if err := casesSch.Validate(v); err == nil {
				t.Errorf("the cases schema accepts:%s", c.doc)
			}
		})
	}
}
