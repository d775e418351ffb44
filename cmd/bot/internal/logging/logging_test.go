package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestRedactor_blanks_secrets_in_messages_fields_and_errors(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log, red, err := New(&buf, format, "debug")
			if err != nil {
				t.Fatal(err)
			}
			const pw, tok = `pa"ss\word-42`, "tok-ABCDEF"
			red.Add(pw, tok, "")
			log.WithField("account", "sip:bot@example.com").
				WithField("header", "Bearer "+tok).
				WithError(errors.New("sign in with "+pw+" refused")).
				Infof("password is %s", pw)
			out := buf.String()
			for _, secret := range []string{pw, tok, `pa\"ss\\word-42`} {
				if strings.Contains(out, secret) {
					t.Errorf("secret %q in output: %s", secret, out)
				}
			}
			if !strings.Contains(out, Redacted) || !strings.Contains(out, "sip:bot@example.com") {
				t.Errorf("output lost its content: %s", out)
			}
			if format == "json" {
				var m map[string]any
				if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
					t.Errorf("redacted line is not JSON: %v: %s", err, out)
				}
			}
		})
	}
}

func TestNew_rejects_unknown_format_and_level(t *testing.T) {
	if _, _, err := New(&bytes.Buffer{}, "xml", "info"); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("format: %v", err)
	}
	if _, _, err := New(&bytes.Buffer{}, "json", "loud"); err == nil {
		t.Error("level: no error")
	}
}

func TestNew_filters_below_level(t *testing.T) {
	var buf bytes.Buffer
	log, _, err := New(&buf, "text", "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("quiet")
	log.Warn("loud")
	if out := buf.String(); strings.Contains(out, "quiet") || !strings.Contains(out, "loud") {
		t.Errorf("output %q", out)
	}
}
