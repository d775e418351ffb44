package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"

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
	c.resolvePaths(filepath.Dir(path))
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
	if len(bytes.TrimSpace(data)) > 0 {
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			return nil, syntaxError(name, err)
		}
		d.decode(&root, reflect.ValueOf(c).Elem(), "")
	}
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
		return Position{File: c.file}
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
	}
	c.Admin.TokenFile = abs(c.Admin.TokenFile)
}
