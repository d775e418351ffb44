package handlers

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"text/template"

	"github.com/ucwabot/ucwabot/bot/event"
)

// TemplateData is what the templates of the built-in handlers see. The
// event's fields are promoted, so {{.Participant.Name}} and
// {{.Message.Text}} work, as does {{.Event.Kind}}. Everything in it is
// data: a user's text is printed, never parsed as a template.
//
// Besides Go's template functions there are lower, upper, trim and
// default: a state field that may be missing is written
// {{default "" .State.topic}} or tested with {{with .State.topic}}, since
// Go prints a missing map entry as "<no value>".
type TemplateData struct {
	*event.Event
	// State is the conversation's state, decoded.
	State map[string]any
	// Person is the participant's state across conversations, decoded.
	Person map[string]any
	// Rule is the rule action being run.
	Rule Rule
	// Error, in an on_error step, says why the step of do failed.
	Error string
}

// NewTemplateData returns the template data of req.
func NewTemplateData(req *Request) TemplateData {
	d := TemplateData{Event: req.Event, Rule: req.Rule, State: map[string]any{}, Person: map[string]any{}}
	if d.Event == nil {
		d.Event = &event.Event{}
	}
	if req.State != nil {
		d.State = req.State.Map()
	}
	if req.Person != nil {
		d.Person = req.Person.Map()
	}
	if req.Failed != nil {
		d.Error = req.Failed.Error()
	}
	return d
}

// templateFuncs are the functions templates may call besides Go's own.
var templateFuncs = map[string]any{
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"trim":  strings.TrimSpace,
	// default returns def when v is empty: {{default "there" .Participant.Name}}.
	"default": func(def string, v any) any {
		if v == nil || v == "" {
			return def
		}
		return v
	},
}

// Template renders text from a Go template over TemplateData. A Template
// built by ParseText escapes nothing; one built by ParseHTML escapes the
// data it prints for HTML (html/template).
type Template struct {
	text *template.Template
	html *htmltemplate.Template
	src  string
}

// ParseText parses src as a text/template; key names the configuration
// key in errors.
func ParseText(key, src string) (*Template, error) {
	t, err := template.New(key).Funcs(templateFuncs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &Template{text: t, src: src}, nil
}

// ParseHTML parses src as an html/template; key names the configuration
// key in errors.
func ParseHTML(key, src string) (*Template, error) {
	t, err := htmltemplate.New(key).Funcs(templateFuncs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &Template{html: t, src: src}, nil
}

// Execute renders the template over data: a TemplateData, or a struct
// that embeds one and adds fields of its own.
func (t *Template) Execute(data any) (string, error) {
	var b bytes.Buffer
	var err error
	if t.html != nil {
		err = t.html.Execute(&b, data)
	} else {
		err = t.text.Execute(&b, data)
	}
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

// String returns the template's source.
func (t *Template) String() string { return t.src }
