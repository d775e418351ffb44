package ucwasim

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// input holds the parameters of a request: JSON body properties and query parameters, with
// names matched case-insensitively (the walkthroughs post UserAgent, the reference userAgent).
type input struct {
	props map[string]any // lower-cased keys
	raw   []byte         // the body as received
	ctype string         // media type of the body
}

// decodeInput reads the request body. JSON bodies are decoded into properties; other bodies
// (sendMessage text) are kept raw. Query parameters fill in missing properties.
func decodeInput(r *http.Request) (*input, error) {
	in := &input{props: map[string]any{}}
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		in.raw = b
	}
	in.ctype, _, _ = mime.ParseMediaType(r.Header.Get("Content-Type"))
	body := strings.TrimSpace(string(in.raw))
	if body != "" && (strings.Contains(in.ctype, "json") || (in.ctype == "" && strings.HasPrefix(body, "{"))) {
		var m map[string]any
		if err := json.Unmarshal(in.raw, &m); err != nil {
			return nil, fmt.Errorf("decode json body: %w", err)
		}
		for k, v := range m {
			in.props[strings.ToLower(k)] = v
		}
	}
	for k, v := range r.URL.Query() {
		lk := strings.ToLower(k)
		if _, ok := in.props[lk]; !ok && len(v) > 0 {
			in.props[lk] = v[0]
		}
	}
	return in, nil
}

// str returns property name as a string ("" when absent or not a string).
func (in *input) str(name string) string {
	v, _ := in.props[strings.ToLower(name)].(string)
	return v
}

// strs returns property name as a list of strings.
func (in *input) strs(name string) []string {
	switch v := in.props[strings.ToLower(name)].(type) {
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return strings.Split(v, ",")
	}
	return nil
}

// num returns property name as a number, accepting JSON numbers and numeric strings.
func (in *input) num(name string) (float64, bool) {
	switch v := in.props[strings.ToLower(name)].(type) {
	case float64:
		return v, true
	case string:
		var f float64
		if _, err := fmt.Sscan(v, &f); err == nil {
			return f, true
		}
	}
	return 0, false
}

// messageLink returns the data URI given as _links.message.href, if any.
func (in *input) messageLink() string {
	links, _ := in.props["_links"].(map[string]any)
	for k, v := range links {
		if strings.EqualFold(k, "message") {
			if m, ok := v.(map[string]any); ok {
				h, _ := m["href"].(string)
				return h
			}
		}
	}
	return ""
}
