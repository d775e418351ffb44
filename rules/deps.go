package rules

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Dependent is implemented by handler instances that read more than their
// parameters when they are built: DependsOn returns the files they read
// (an FAQ file) and the environment variables they take values from. The
// Set's version covers the content of each, so a reload after one of them
// changed replaces the running Set, and Reloader.Watch watches the files.
type Dependent interface {
	DependsOn() (files, env []string)
}

// secretEnvKey is the parameter key by which a step names an environment
// variable holding a secret (the webhook's secret_env); the version covers
// the variable's value without a plugin having to declare it.
const secretEnvKey = "secret_env"

// dependencies records what the step st's instance depends on beyond the
// rules files, and adds it to the version hash.
func (l *loader) dependencies(st *Step) {
	var files, env []string
	if d, ok := st.Instance.(Dependent); ok {
		files, env = d.DependsOn()
	}
	env = append(env, paramValues(st.Params, secretEnvKey)...)
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			abs = f
		}
		if l.depSeen[abs] {
			continue
		}
		l.depSeen[abs] = true
		l.deps = append(l.deps, f)
		data, err := os.ReadFile(f)
		if err != nil {
			// The plugin read it a moment ago; a file that vanished since
			// counts as empty, and its next change reloads.
			data = nil
		}
		fmt.Fprintf(l.hash, "file\x00%s\x00%d\x00", filepath.Base(f), len(data))
		l.hash.Write(data)
	}
	for _, name := range env {
		if l.depSeen["$"+name] {
			continue
		}
		l.depSeen["$"+name] = true
		fmt.Fprintf(l.hash, "env\x00%s\x00", name)
		l.hash.Write(secretDigest(name, os.Getenv(name)))
	}
}

// secretDigest stands for an environment variable's value in the version:
// a slow, salted hash, so that a published version does not make a weak
// secret cheap to guess.
func secretDigest(name, value string) []byte {
	key, err := pbkdf2.Key(sha256.New, value, []byte("ucwabot rules version\x00"+name), 4096, 32)
	if err != nil {
		sum := sha256.Sum256([]byte(name + "\x00" + value))
		return sum[:]
	}
	return key
}

// paramValues returns the scalar values of every key named key under n.
func paramValues(n *yaml.Node, key string) []string {
	if n == nil {
		return nil
	}
	var out []string
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == key && v.Kind == yaml.ScalarNode && v.Value != "" {
				out = append(out, v.Value)
			}
		}
	}
	for _, c := range n.Content {
		out = append(out, paramValues(c, key)...)
	}
	return out
}
