package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Getenv looks up an environment variable; os.Getenv in production, a map
// in tests.
type Getenv func(name string) string

// Load reads the config file at path over the defaults, applies the
// UCWABOT_* environment variables, resolves relative paths against the
// file's directory and validates the result. Every problem is reported at
// once, each naming its position and key.
func Load(path string, getenv Getenv) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data, path, getenv)
	if err != nil {
		return nil, err
	}
	written := slices.Clone(c.Rules)
	c.resolvePaths(filepath.Dir(path))
	if err := c.checkRules(written); err != nil {
		return nil, err
	}
	return c, nil
}

// checkRules reports rule paths that do not exist, by key and position;
// written are the paths as the file or environment gave them.
func (c *Config) checkRules(written []string) error {
	var errs []error
	for i, r := range c.Rules {
		_, err := os.Stat(r)
		if err == nil {
			continue
		}
		key := fmt.Sprintf("rules[%d]", i)
		what := strconv.Quote(written[i])
		if written[i] != r {
			what += " (" + r + ")"
		}
		msg := what + " does not exist"
		if !errors.Is(err, fs.ErrNotExist) {
			msg = fmt.Sprintf("cannot read %s: %v", what, unwrapPathError(err))
		}
		errs = append(errs, &FieldError{Pos: c.Pos(key), Key: key, Msg: msg})
	}
	return errors.Join(errs...)
}

// LoadEnviron is Load with the environment given as "NAME=value" pairs (as
// os.Environ returns them); a UCWABOT_* variable that sets nothing is an
// error too (CheckEnviron).
func LoadEnviron(path string, environ []string) (*Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	c, err := Load(path, func(name string) string { return env[name] })
	if err != nil {
		return nil, err
	}
	if err := c.CheckEnviron(environ); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes a config document named name (used in error positions)
// over the defaults, applies the environment and validates. Relative paths
// stay as written.
func Parse(data []byte, name string, getenv Getenv) (*Config, error) {
	c := Default()
	c.file = name
	c.pos = map[string]Position{}
	d := &decoder{file: name, pos: c.pos}
	root, err := parseDocument(data, name)
	if err != nil {
		return nil, err
	}
	d.decode(root, reflect.ValueOf(c).Elem(), "")
	if getenv != nil {
		d.errs = append(d.errs, c.applyEnv(getenv)...)
	}
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	if err := c.Validate(); err != nil {
		return nil, c.locate(err)
	}
	return c, nil
}

// parseDocument reads the one YAML document of a config file. A file that
// is empty (or only comments), not UTF-8 text, or holds a second document
// is an error with the line it concerns.
func parseDocument(data []byte, name string) (*yaml.Node, error) {
	if err := checkText(data, name); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, emptyFile(name)
		}
		return nil, syntaxError(name, err)
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 && root.Content[0].Kind == yaml.ScalarNode && root.Content[0].Tag == "!!null" {
		return nil, emptyFile(name)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		at := &next
		if len(next.Content) > 0 {
			at = next.Content[0]
		}
		return nil, fmt.Errorf("%s:%d:%d: a second YAML document (after ---); a configuration is one document", name, at.Line, at.Column)
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, err)
	}
	return &root, nil
}

func emptyFile(name string) error {
	return fmt.Errorf("%s:1:1: the file is empty; a configuration sets at least accounts and rules (docs/config.md)", name)
}

// checkText refuses data that is not UTF-8 text: a NUL or other control
// byte (binary data, or UTF-16 text) or an invalid UTF-8 sequence, naming
// the line and column of the first.
func checkText(data []byte, name string) error {
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return fmt.Errorf("%s:1:1: the file is UTF-16 text; save it as UTF-8", name)
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return fmt.Errorf("%s:%d:%d: byte 0x%02x is not UTF-8 text; save the file as UTF-8", name, line, col, data[i])
		case r == '\n':
			line, col = line+1, 0
		case r == '\uFEFF' && i == 0, r == '\t', r == '\r':
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("%s:%d:%d: control byte 0x%02x: this is binary data, not a YAML text file", name, line, col, r)
		}
		i += size
		col++
	}
	return nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns "yaml: line 3: did not find expected key" into
// "bot.yaml:3: did not find expected key".
func syntaxError(name string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return fmt.Errorf("%s:%d: %s", name, line, m[2])
	}
	return fmt.Errorf("%s: %w", name, err)
}

// locate adds positions to the FieldErrors in err (a single error or an
// errors.Join of them): the position of the key, or of its nearest parent
// that the file set.
func (c *Config) locate(err error) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		var fe *FieldError
		if errors.As(e, &fe) && fe.Pos == (Position{}) {
			fe.Pos = c.Pos(fe.Key)
		}
	}
	return errors.Join(list...)
}

// Pos returns where key, or its nearest parent, was set; the zero
// Position when it came from the defaults.
func (c *Config) Pos(key string) Position {
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := c.pos[k]; ok {
			return p
		}
	}
	if c.file != "" {
		// A key the file lacks: the top of the file.
		return Position{File: c.file, Line: 1, Col: 1}
	}
	return Position{}
}

// resolvePaths makes the rules, password and token files relative to dir.
func (c *Config) resolvePaths(dir string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i, r := range c.Rules {
		c.Rules[i] = abs(r)
	}
	for i := range c.Accounts {
		c.Accounts[i].PasswordFile = abs(c.Accounts[i].PasswordFile)
		c.Accounts[i].CAFile = abs(c.Accounts[i].CAFile)
	}
	c.Admin.TokenFile = abs(c.Admin.TokenFile)
}
