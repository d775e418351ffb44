package event

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
)

// State is a conversation's persisted state as rules and handlers see it:
// named fields holding JSON values. Handlers change it through Set and
// Delete; the engine writes only the changed fields back to the store, in
// the same atomic step that marks the event done.
//
// A State is used by one event at a time and is not safe for concurrent use.
type State struct {
	fields  map[string]json.RawMessage
	set     map[string]json.RawMessage
	deleted map[string]bool
}

// NewState returns a State holding fields. The map is not copied.
func NewState(fields map[string]json.RawMessage) *State {
	if fields == nil {
		fields = map[string]json.RawMessage{}
	}
	return &State{fields: fields}
}

// Get decodes field name into v and reports whether the field exists.
func (s *State) Get(name string, v any) (bool, error) {
	raw, ok := s.fields[name]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("state field %q: %w", name, err)
	}
	return true, nil
}

// Raw returns field name as stored, or nil when it does not exist.
func (s *State) Raw(name string) json.RawMessage { return s.fields[name] }

// Set stores v, encoded as JSON, under name.
func (s *State) Set(name string, v any) error {
	if name == "" {
		return fmt.Errorf("state field name is empty")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("state field %q: %w", name, err)
	}
	if s.set == nil {
		s.set = map[string]json.RawMessage{}
	}
	s.fields[name] = raw
	s.set[name] = raw
	delete(s.deleted, name)
	return nil
}

// Delete removes field name.
func (s *State) Delete(name string) {
	if s.deleted == nil {
		s.deleted = map[string]bool{}
	}
	delete(s.fields, name)
	delete(s.set, name)
	s.deleted[name] = true
}

// Names returns the names of the fields, sorted.
func (s *State) Names() []string {
	out := make([]string, 0, len(s.fields))
	for k := range s.fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Map returns the fields decoded into plain Go values, for expressions.
// A field that is not valid JSON is returned as its raw string.
func (s *State) Map() map[string]any {
	out := make(map[string]any, len(s.fields))
	for k, raw := range s.fields {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			v = string(raw)
		}
		out[k] = v
	}
	return out
}

// Changes returns the fields set and the names deleted since NewState.
func (s *State) Changes() (set map[string]json.RawMessage, deleted []string) {
	for k := range s.deleted {
		deleted = append(deleted, k)
	}
	sort.Strings(deleted)
	return s.set, deleted
}

// Changed reports whether Set or Delete was called.
func (s *State) Changed() bool { return len(s.set) > 0 || len(s.deleted) > 0 }

// Fork returns a State for one handler call: it starts with s's fields
// and keeps its changes to itself until Join applies them to s. A handler
// the engine gave up on keeps its fork, and nothing it does later reaches
// s.
func (s *State) Fork() *State { return &State{fields: maps.Clone(s.fields)} }

// Join applies the changes made in f, a Fork of s, to s.
func (s *State) Join(f *State) {
	for k := range f.deleted {
		s.Delete(k)
	}
	for k, raw := range f.set {
		if s.set == nil {
			s.set = map[string]json.RawMessage{}
		}
		s.fields[k] = raw
		s.set[k] = raw
		delete(s.deleted, k)
	}
}
