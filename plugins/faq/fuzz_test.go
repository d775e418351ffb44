package faq_test

import (
	"os"
	"testing"

	"github.com/ucwabot/ucwabot/plugins/faq"
)

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("testdata/faq.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, "where is the printer")
	f.Add([]byte("faq:\n  - patterns: ['(']\n    answer: x\n"), "(")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		file, err := faq.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if e, ok := file.Match(text); ok && e.Answer == "" && e.HTML == "" {
			t.Fatalf("matched an entry without an answer: %+v", e)
		}
	})
}
