package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/ucwabot/ucwabot/internal/spelling"
)

// EnvPrefix starts the name of every environment variable that overrides
// a setting.
const EnvPrefix = "UCWABOT_"

// EnvVar is an environment variable and the setting it overrides.
type EnvVar struct {
	// Name is the variable, e.g. UCWABOT_STORE_URL.
	Name string
	// Key is the setting's path, e.g. store.url.
	Key string
}

// EnvVars lists every environment variable that overrides a setting: each
// setting outside the accounts list, named UCWABOT_ followed by its key
// path upper-cased with dots as underscores. UCWABOT_RULES holds a
// comma-separated list.
func EnvVars() []EnvVar {
	var out []EnvVar
	walkSettings(reflect.ValueOf(Default()).Elem(), "", func(key string, _ reflect.Value) {
		out = append(out, EnvVar{Name: envName(key), Key: key})
	})
	return out
}

func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// applyEnv overrides settings from the environment; a bad value is an
// error naming the variable and the key.
func (c *Config) applyEnv(getenv Getenv) []error {
	var errs []error
	walkSettings(reflect.ValueOf(c).Elem(), "", func(key string, v reflect.Value) {
		name := envName(key)
		s := getenv(name)
		if s == "" {
			return
		}
		pos := Position{Env: name}
		c.pos[key] = pos
		if v.Kind() == reflect.Slice {
			// The file's items are replaced, and so are their positions.
			for k := range c.pos {
				if strings.HasPrefix(k, key+"[") {
					delete(c.pos, k)
				}
			}
			var list []string
			for _, item := range strings.Split(s, ",") {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
			v.Set(reflect.ValueOf(list))
			return
		}
		if err := setScalar(v, s); err != nil {
			errs = append(errs, &FieldError{Pos: pos, Key: key, Msg: err.Error()})
		}
	})
	return errs
}

// walkSettings calls fn for every setting that an environment variable
// may override: scalars and lists of strings, not lists of structs.
func walkSettings(v reflect.Value, path string, fn func(key string, v reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" {
			continue
		}
		key := joinKey(path, name)
		fv := v.Field(i)
		switch {
		case fv.Type() == durationType:
			fn(key, fv)
		case fv.Kind() == reflect.Struct:
			walkSettings(fv, key, fn)
		case fv.Kind() == reflect.Slice:
			if fv.Type().Elem().Kind() == reflect.String {
				fn(key, fv)
			}
		default:
			fn(key, fv)
		}
	}
}

// CheckEnviron reports every UCWABOT_* variable in environ ("NAME=value"
// pairs, as os.Environ returns them) that is neither a setting's variable
// (EnvVars) nor named by one of the configuration's *_env keys (an
// account's password_env, admin.token_env): a mistyped override is an
// error naming the closest known variable, not silently ignored.
func (c *Config) CheckEnviron(environ []string) error {
	known := map[string]bool{}
	var names []string
	for _, v := range EnvVars() {
		known[v.Name] = true
		names = append(names, v.Name)
	}
	for _, n := range c.namedEnv() {
		known[n] = true
	}
	var errs []error
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || known[name] || seen[name] {
			continue
		}
		seen[name] = true
		best, bestDist := "", len(name)
		for _, k := range names {
			if d := spelling.Distance(name, k); d < bestDist {
				best, bestDist = k, d
			}
		}
		msg := "unknown variable: " + EnvPrefix + " variables set configuration keys (docs/config.md)"
		if best != "" && bestDist <= max(3, len(name)/4) {
			msg = fmt.Sprintf("unknown variable (did you mean %s, which sets %s?)", best, envKey(best))
		}
		errs = append(errs, &FieldError{Pos: Position{Env: name}, Msg: msg})
	}
	sort.Slice(errs, func(i, j int) bool {
		return errs[i].(*FieldError).Pos.Env < errs[j].(*FieldError).Pos.Env
	})
	return errors.Join(errs...)
}

// envKey returns the setting that variable name sets.
func envKey(name string) string {
	for _, v := range EnvVars() {
		if v.Name == name {
			return v.Key
		}
	}
	return ""
}

// namedEnv lists the variables the configuration names in its *_env keys.
func (c *Config) namedEnv() []string {
	var out []string
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			t := v.Type()
			for i := range t.NumField() {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				fv := v.Field(i)
				if strings.HasSuffix(name, "_env") && fv.Kind() == reflect.String {
					if fv.String() != "" {
						out = append(out, fv.String())
					}
					continue
				}
				walk(fv)
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(c).Elem())
	return out
}
