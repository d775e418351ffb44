package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Position says where a setting came from: a line and column of a file,
// or an environment variable.
type Position struct {
	// File is the config file's path; empty for environment variables.
	File string
	Line int
	Col  int
	// Env names the environment variable that set the value, if one did.
	Env string
}

// String formats the position as file:line:col or "$NAME".
func (p Position) String() string {
	switch {
	case p.Env != "":
		return "$" + p.Env
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	case p.File != "":
		return p.File
	case p.Line > 0:
		return fmt.Sprintf("line %d:%d", p.Line, p.Col)
	}
	return ""
}

// FieldError is a bad or unknown setting: where it is, its key path
// ("accounts[0].address") and what is wrong. It never holds a secret's
// value.
type FieldError struct {
	Pos Position
	Key string
	Msg string
}

// Error formats the error as "bot.yaml:12:3: accounts[0].pasword: unknown key".
func (e *FieldError) Error() string {
	var b strings.Builder
	if s := e.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// fieldErr builds a FieldError without a position; Load adds it.
func fieldErr(key, format string, args ...any) *FieldError {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// joinKey appends a mapping key to a path. A key with spaces, control
// characters, quotes, dots or brackets is quoted, so that an unknown key
// from the file can neither break an error into lines nor pass for a
// path.
func joinKey(path, key string) string {
	if !plainKey(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func plainKey(key string) bool {
	return key != "" && !strings.ContainsFunc(key, func(r rune) bool {
		return !unicode.IsGraphic(r) || unicode.IsSpace(r) || strings.ContainsRune(`."[]`, r)
	})
}

// parentKey strips the last element of a key path: "a.b[1].c" → "a.b[1]",
// "a.b[1]" → "a.b", "a" → "".
func parentKey(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
