package config

import (
	"reflect"
	"strings"
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
