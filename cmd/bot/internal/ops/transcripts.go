package ops

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// TranscriptAdmin is the kept transcripts as the admin API sees them:
//
//	GET /admin/transcripts?limit=N&cursor=C          newest first
//	GET /admin/transcripts/entries?account=A&conversation=ID&offset=N&limit=M
type TranscriptAdmin interface {
	Transcripts(ctx context.Context) ([]TranscriptInfo, error)
	// Transcript returns one transcript; an error wrapping ErrNotFound
	// when none is kept.
	Transcript(ctx context.Context, account, conversation string) (TranscriptPage, error)
}

// TranscriptInfo is one kept transcript in a listing.
type TranscriptInfo struct {
	Account      string    `json:"account"`
	Conversation string    `json:"conversation"`
	Updated      time.Time `json:"updated"`
}

// TranscriptPage is a transcript's entries from Offset on.
type TranscriptPage struct {
	Account      string            `json:"account"`
	Conversation string            `json:"conversation"`
	Subject      string            `json:"subject,omitempty"`
	Started      time.Time         `json:"started"`
	Updated      time.Time         `json:"updated"`
	Dropped      int               `json:"dropped,omitempty"`
	Total        int               `json:"total"`
	Offset       int               `json:"offset"`
	Entries      []json.RawMessage `json:"entries"`
	// NextOffset, when not zero, is the offset of the next page.
	NextOffset int `json:"next_offset,omitempty"`
}

// TranscriptList is one page of GET /admin/transcripts.
type TranscriptList struct {
	Transcripts []TranscriptInfo `json:"transcripts"`
	NextCursor  string           `json:"next_cursor,omitempty"`
}

func (a *admin) listTranscripts(w http.ResponseWriter, r *http.Request) {
	if a.o.Transcripts == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"no transcripts"})
		return
	}
	limit, ok := intParam(w, r, "limit", defaultPageLimit, 1, maxPageLimit)
	if !ok {
		return
	}
	from, ok := intParam(w, r, "cursor", 0, 0, 1<<31)
	if !ok {
		return
	}
	list, err := a.o.Transcripts.Transcripts(r.Context())
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorBody{err.Error()})
		return
	}
	page := TranscriptList{Transcripts: []TranscriptInfo{}}
	if from < len(list) {
		end := min(from+limit, len(list))
		page.Transcripts = list[from:end]
		if end < len(list) {
			page.NextCursor = strconv.Itoa(end)
		}
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *admin) getTranscript(w http.ResponseWriter, r *http.Request) {
	if a.o.Transcripts == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"no transcripts"})
		return
	}
	conv := r.URL.Query().Get("conversation")
	if conv == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{"query parameter conversation is required"})
		return
	}
	offset, ok := intParam(w, r, "offset", 0, 0, 1<<31)
	if !ok {
		return
	}
	limit, ok := intParam(w, r, "limit", defaultPageLimit, 1, maxPageLimit)
	if !ok {
		return
	}
	p, err := a.o.Transcripts.Transcript(r.Context(), r.URL.Query().Get("account"), conv)
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusBadGateway, errorBody{err.Error()})
		return
	}
	p.Total, p.Offset = len(p.Entries), offset
	entries := p.Entries
	p.Entries = []json.RawMessage{}
	if offset < len(entries) {
		end := min(offset+limit, len(entries))
		p.Entries = entries[offset:end]
		if end < len(entries) {
			p.NextOffset = end
		}
	}
	writeJSON(w, http.StatusOK, p)
}

// intParam reads a whole-number query parameter in [lo, hi].
func intParam(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		writeJSON(w, http.StatusBadRequest, errorBody{name + " must be a whole number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)})
		return 0, false
	}
	return n, true
}
