package ucwasim

import (
	"testing"
	"unicode/utf8"
)

func FuzzParseRoute(f *testing.F) {
	for _, p := range []string{rootPath, userPath, tokenPath, appsPath, appsPath + "/101/events",
		appsPath + "/101/communication/conversations/abc/participants/a@b.c/messaging",
		appsPath + "/101/people/presenceSubscriptionMemberships/x/a@b.c", appsPath + "//", "/"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt := parseRoute(p)
		if rt.rel == "" && rt.app != "" {
			t.Errorf("%q: unknown rel with app %q", p, rt.app)
		}
	})
}

func FuzzDataURI(f *testing.F) {
	for _, s := range []string{"Hi Tosh\r\n", "a+b=c&d", "100% ünïcode", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return
		}
		got, mt := decodeDataURI(dataURI("text/plain", text))
		if got != text || mt != "text/plain" {
			t.Errorf("round trip %q → %q (%s)", text, got, mt)
		}
		decodeDataURI(text) // any input: no panic
	})
}
