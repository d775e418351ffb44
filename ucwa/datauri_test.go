package ucwa

import (
	"errors"
	"testing"
)

func TestDecodeDataURI(t *testing.T) {
	cases := []struct {
		name, in, mt, text string
		fail               bool
	}{
		{"url-encoded walkthrough", "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a", "text/plain", "Hi Tosh\r\n", false},
		{"html url-encoded", "data:text/html;charset=utf-8,%3Cb%3Ehi%3C%2Fb%3E", "text/html", "<b>hi</b>", false},
		{"base64 plain", "data:text/plain;base64,SGVsbG8gV29ybGQ=", "text/plain", "Hello World", false},
		{"base64 html with charset", "data:text/html;charset=utf-8;base64,PGI+aGk8L2I+", "text/html", "<b>hi</b>", false},
		{"base64 no padding", "data:text/plain;base64,SGk", "text/plain", "Hi", false},
		{"base64 percent-encoded", "data:text/plain;base64,SGVsbG8gV29ybGQ%3D", "text/plain", "Hello World", false},
		{"no media type", "data:,A%20b+c", "text/plain", "A b c", false},
		{"upper-case scheme", "DATA:Text/Plain,x", "text/plain", "x", false},
		{"utf-8", "data:text/plain;charset=utf-8,%C3%A9t%C3%A9", "text/plain", "été", false},
		{"empty text", "data:text/plain,", "text/plain", "", false},
		{"not data", "https://x/y", "", "", true},
		{"no comma", "data:text/plain", "", "", true},
		{"bad escape", "data:text/plain,%zz", "", "", true},
		{"bad base64", "data:text/plain;base64,!!!", "", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mt, text, err := DecodeDataURI(c.in)
			if c.fail {
				if err == nil {
					t.Fatalf("got %q %q, want an error", mt, text)
				}
				return
			}
			if err != nil || mt != c.mt || text != c.text {
				t.Fatalf("got %q %q %v, want %q %q", mt, text, err, c.mt, c.text)
			}
		})
	}
	if _, _, err := DecodeDataURI("mailto:x"); !errors.Is(err, ErrNotDataURI) {
		t.Errorf("err = %v, want ErrNotDataURI", err)
	}
}

func TestEncodeDataURI(t *testing.T) {
	if got, want := EncodeDataURI("text/plain", "Hi Tosh\r\n"), "data:text/plain;charset=utf-8,Hi+Tosh%0D%0A"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, text := range []string{"", "a+b=c&d", "<p>été 100%</p>", "line\nbreak"} {
		mt, back, err := DecodeDataURI(EncodeDataURI("text/html", text))
		if err != nil || mt != "text/html" || back != text {
			t.Errorf("round trip %q: %q %q %v", text, mt, back, err)
		}
	}
}
