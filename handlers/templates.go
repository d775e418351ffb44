package handlers

import "sort"

// The built-in handlers that render templates report them, with the data
// they are rendered over, so that a rules loader can check at load time
// that every field a template names exists (rules.Templated).

// Templates returns the reply's template and a TemplateData.
func (h *Reply) Templates() ([]string, any) { return sources(h.tmpl), TemplateData{} }

// Templates returns the set's templates and a TemplateData.
func (h *Set) Templates() ([]string, any) {
	names := make([]string, 0, len(h.templates))
	for n := range h.templates {
		names = append(names, n)
	}
	sort.Strings(names)
	ts := make([]*Template, len(names))
	for i, n := range names {
		ts[i] = h.templates[n]
	}
	return sources(ts...), TemplateData{}
}

// Templates returns the log's message template and a TemplateData.
func (h *Log) Templates() ([]string, any) { return sources(h.message), TemplateData{} }

// Templates returns the forward's text template and a TemplateData.
func (h *Forward) Templates() ([]string, any) { return sources(h.text), TemplateData{} }

// Templates returns the accept's greeting template, if any, and a
// TemplateData.
func (h *Accept) Templates() ([]string, any) { return sources(h.greeting), TemplateData{} }

func sources(ts ...*Template) []string {
	var out []string
	for _, t := range ts {
		if t != nil {
			out = append(out, t.String())
		}
	}
	return out
}
