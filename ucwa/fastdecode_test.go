package ucwa

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzFastDecode checks that the one-pass decoder and the encoding/json
// reference agree on every input: the same batch or resource, or both an
// error (the fast path may decline and leave the input to the reference,
// never decide differently).
func FuzzFastDecode(f *testing.F) {
	for _, b := range addSampleSeeds(f) {
		f.Add(b)
	}
	for _, s := range []string{
		`{"_links":{"self":{"href":"a"},"self":{"href":"b"}}}`,
		`{"_links":{"next":null,"self":[null,{"href":"/x","title":"t"}]},"Sender":[{"REL":"me","events":[]}]}`,
		`{"sender":{"rel":"c","href":"/c","events":{"link":{"rel":"m","href":"/m"},"_embedded":{"m":{"rel":"m","a":1,"a":2}}}}}`,
		`{"sender":{"events":[{"link":null,"reason":{"code":"x","subcode":null}},null]}}`,
		`{"_links":[],"x":[1,2,{"y":-0.5e+3}],"sender":null}`,
		`{"ſender":[]}`,
		`{"_links":{"next":{"href":"/a/./b/../c?x=%2F"}}}`,
	} {
		f.Add([]byte(s))
	}
	base, _ := url.Parse("https://fe1.contoso.com/ucwa/oauth/v1/applications/1/events?ack=1")
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ferr := fastDecodeBatch(body, base)
		std, serr := decodeBatchStd(body, base)
		if ferr == nil && (serr != nil || !reflect.DeepEqual(fast, std)) {
			t.Fatalf("batch: fast %+v (%v), encoding/json %+v (%v)", fast, ferr, std, serr)
		}
		fr, ferr := fastDecodeResource(body, base)
		sr, serr := decodeResourceStd(body, base)
		if ferr == nil && (serr != nil || !reflect.DeepEqual(fr, sr)) {
			t.Fatalf("resource: fast %+v (%v), encoding/json %+v (%v)", fr, ferr, sr, serr)
		}
	})
}

// TestFastDecode_takes_every_official_sample: the fast path does not
// decline what UCWA sends.
func TestFastDecode_takes_every_official_sample(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "samples", "*__*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	base, _ := url.Parse("https://fe1.contoso.com/ucwa/oauth/v1/applications/1/events?ack=1")
	took := 0
	for _, p := range files {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		std, serr := decodeBatchStd(body, base)
		fast, ferr := fastDecodeBatch(body, base)
		if serr == nil {
			if ferr != nil {
				t.Errorf("%s: the fast path declined a sample encoding/json takes", filepath.Base(p))
				continue
			}
			if !reflect.DeepEqual(fast, std) {
				t.Errorf("%s: fast and encoding/json differ", filepath.Base(p))
			}
			took++
		}
		sres, serr := decodeResourceStd(body, base)
		fres, ferr := fastDecodeResource(body, base)
		if serr == nil && (ferr != nil || !reflect.DeepEqual(fres, sres)) {
			t.Errorf("%s: resource: fast (%v) and encoding/json differ", filepath.Base(p), ferr)
		}
	}
	if took == 0 {
		t.Fatal("no sample decoded")
	}
}

// FuzzResolveHref checks the resolver's shortcut against url.ResolveReference.
func FuzzResolveHref(f *testing.F) {
	for _, s := range []string{"/ucwa/oauth/v1/applications/1/events?ack=2", "/a/./b", "/a/../b", "/a b", "/a%2Fb", "//evil/x", "/x?y=a b", "/x#f", "/é", "/a:b@c;d=e", "/."} {
		f.Add("https://fe1.contoso.com:443/ucwa/oauth/v1/applications/1/events?ack=1", s)
	}
	f.Fuzz(func(t *testing.T, baseStr, href string) {
		base, err := url.Parse(baseStr)
		if err != nil {
			return
		}
		origin, ok := plainOrigin(base)
		if !ok || !plainAbsPath(href) {
			return
		}
		ref, err := url.Parse(href)
		if err != nil {
			t.Fatalf("shortcut taken for an href that does not parse: %q", href)
		}
		if want := base.ResolveReference(ref).String(); origin+href != want {
			t.Fatalf("resolve %q against %q: shortcut %q, url.ResolveReference %q", href, baseStr, origin+href, want)
		}
	})
}
