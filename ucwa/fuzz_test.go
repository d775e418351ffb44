package ucwa

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// addSampleSeeds adds every sample file to the fuzz corpus.
func addSampleSeeds(f *testing.F) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "samples", "*__*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no samples: %v", err)
	}
	var bodies [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

func FuzzDecodeBatch(f *testing.F) {
	for _, b := range addSampleSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"_links":{"resync":{"href":"events?ack=1"}},"sender":{"rel":"x","events":{"link":{"rel":"a"}}}}`))
	base, _ := url.Parse("https://fe1.contoso.com/ucwa/oauth/v1/applications/1/events?ack=1")
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := DecodeBatch(body, base)
		if err != nil {
			if b != nil {
				t.Fatal("batch and error")
			}
			return
		}
		_ = b.Continue()
		for _, e := range b.Events {
			_ = e.Succeeded()
			if e.Resource != nil {
				_ = e.Resource.Self()
				_, _ = e.Resource.Time("timeStamp")
			}
		}
		if r, err := DecodeResource(body, base); err == nil {
			_ = r.Self()
		}
	})
}

func FuzzDecodeDataURI(f *testing.F) {
	for _, b := range addSampleSeeds(f) {
		for _, part := range strings.Split(string(b), `"`) {
			if strings.HasPrefix(part, "data:") {
				f.Add(part)
			}
		}
	}
	for _, s := range []string{"data:text/plain;charset=utf-8,Hi+Tosh%0d%0a", "data:text/html;base64,PGI+aGk8L2I+",
		"data:,", "data:;base64,", "data:text/plain;base64,SGk%3D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mt, text, err := DecodeDataURI(s)
		if err != nil {
			return
		}
		if mt == "" {
			t.Fatalf("%q: empty media type", s)
		}
		if strings.ContainsAny(mt, ",") {
			return
		}
		// What decodes re-encodes to the same text.
		mt2, text2, err := DecodeDataURI(EncodeDataURI(mt, text))
		if err != nil || text2 != text {
			t.Fatalf("round trip of %q (%q): %q %q %v", s, text, mt2, text2, err)
		}
	})
}

// FuzzParseChallenges checks the WWW-Authenticate parser: it never
// panics, and an MsRtcOAuth challenge whose quoted href is not empty and
// holds no quote or backslash gives back that href and its grant types, whatever header
// comes before it.
func FuzzParseChallenges(f *testing.F) {
	for _, c := range [][2]string{
		{`Bearer trusted_issuers="00000002-0000-0ff1-ce00-000000000000@contoso.com", client_id="00000004-0000-0ff1-ce00-000000000000"`, "https://lyncweb.contoso.com/WebTicket/oauthtoken"},
		{`Bearer authorization_uri="https://login.windows.net/common/oauth2/authorize", MsRtcOAuth href="/t",grant_type="password"`, "/t"},
		{`Negotiate`, "https://x/t?a=b,c"},
		{`msrtcoauth  HREF = "https://x/t" , grant_type = "password"`, "https://lyncweb.contoso.com/a b"},
		{``, `https://x/t, Bearer realm=y`},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, before, href string) {
		_, _ = parseChallenges([]string{before})
		_, _ = parseChallenges([]string{before + ", MsRtcOAuth " + href})
		if href == "" || strings.ContainsAny(href, "\"\\\r\n") {
			return
		}
		ch, ok := parseChallenges([]string{before, `MsRtcOAuth href="` + href + `",grant_type="urn:microsoft.rtc:windows,password"`})
		if !ok || ch.TokenURL != href || !slices.Equal(ch.GrantTypes, []string{"urn:microsoft.rtc:windows", "password"}) {
			t.Fatalf("href %q after %q: got %+v %v", href, before, ch, ok)
		}
	})
}
