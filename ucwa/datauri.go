package ucwa

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrNotDataURI is returned by DecodeDataURI for a string that is not a data: URI.
var ErrNotDataURI = errors.New("ucwa: not a data: URI")

// DecodeDataURI decodes an RFC 2397 data: URI as UCWA uses it for message text. PROTOCOL.md
// §13.4: the overview says data URIs are always URL-encoded, the samples also show ";base64";
// so ";base64" is honoured and anything else is form-URL-decoded ('+' is a space, %0d%0a a line
// break). It returns the media type without parameters ("text/plain" when none is given) and
// the text.
func DecodeDataURI(s string) (mediaType, text string, err error) {
	rest, ok := cutPrefixFold(s, "data:")
	if !ok {
		return "", "", ErrNotDataURI
	}
	header, data, ok := strings.Cut(rest, ",")
	if !ok {
		return "", "", fmt.Errorf("ucwa: data URI: no comma: %w", ErrNotDataURI)
	}
	isBase64 := false
	params := strings.Split(header, ";")
	if n := len(params); n > 1 && strings.EqualFold(strings.TrimSpace(params[n-1]), "base64") {
		isBase64 = true
		params = params[:n-1]
	}
	mediaType = strings.ToLower(strings.TrimSpace(params[0]))
	if mediaType == "" {
		mediaType = "text/plain"
	}
	if !isBase64 {
		text, err = url.QueryUnescape(data)
		if err != nil {
			return "", "", fmt.Errorf("ucwa: data URI: %w", err)
		}
		return mediaType, text, nil
	}
	// Base64 data may itself be percent-encoded; '+' is a base64 digit here, not a space.
	unesc, err := url.PathUnescape(data)
	if err != nil {
		return "", "", fmt.Errorf("ucwa: data URI: %w", err)
	}
	unesc = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, unesc)
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(unesc, "="))
	if err != nil {
		return "", "", fmt.Errorf("ucwa: data URI: base64: %w", err)
	}
	return mediaType, string(raw), nil
}

// EncodeDataURI writes text as a URL-encoded data: URI, the form the server uses:
// "data:text/plain;charset=utf-8,Hi+Tosh%0D%0A".
func EncodeDataURI(mediaType, text string) string {
	if mediaType == "" {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "text/") && !strings.Contains(mediaType, ";") {
		mediaType += ";charset=utf-8"
	}
	return "data:" + mediaType + "," + url.QueryEscape(text)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
