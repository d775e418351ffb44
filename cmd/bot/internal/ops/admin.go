package ops

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
)

// Pagination of GET /admin/conversations.
const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
	maxPageBytes     = 1 << 20
)

type admin struct{ o Options }

type errorBody struct {
	Error string `json:"error"`
}

func (a *admin) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/rules", a.listRules)
	mux.Handle("POST /admin/rules/reload", jsonOnly(http.HandlerFunc(a.reloadRules)))
	mux.HandleFunc("GET /admin/conversations", a.listConversations)
	mux.Handle("DELETE /admin/conversations", jsonOnly(http.HandlerFunc(a.dropConversation)))
	mux.HandleFunc("GET /admin/transcripts", a.listTranscripts)
	mux.HandleFunc("GET /admin/transcripts/entries", a.getTranscript)
	return mux
}

func (a *admin) listRules(w http.ResponseWriter, _ *http.Request) {
	if a.o.Rules == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"no rules loaded"})
		return
	}
	writeJSON(w, http.StatusOK, a.o.Rules.Rules())
}

func (a *admin) reloadRules(w http.ResponseWriter, r *http.Request) {
	if a.o.Rules == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"no rules loaded"})
		return
	}
	set, err := a.o.Rules.Reload(r.Context())
	if err != nil {
		a.o.Logger.WithError(err).Warn("admin: rules reload failed; the last good rules stay")
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{err.Error()})
		return
	}
	a.o.Logger.WithField("version", set.Version).Info("admin: rules reloaded")
	writeJSON(w, http.StatusOK, set)
}

// ConversationPage is one page of GET /admin/conversations.
type ConversationPage struct {
	Conversations []Conversation `json:"conversations"`
	// NextCursor, when not empty, is the cursor query parameter of the
	// next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// listConversations answers one page: conversations in account and id
// order after the cursor, at most limit of them and about maxPageBytes of
// JSON. A conversation whose state alone exceeds the bound is listed
// without it, marked state_truncated.
func (a *admin) listConversations(w http.ResponseWriter, r *http.Request) {
	if a.o.Conversations == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"no store"})
		return
	}
	q := r.URL.Query()
	limit, ok := intParam(w, r, "limit", defaultPageLimit, 1, maxPageLimit)
	if !ok {
		return
	}
	var after [2]string
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err == nil {
			err = json.Unmarshal(b, &after)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{"cursor is not a next_cursor of this API"})
			return
		}
	}
	list, err := a.o.Conversations.Conversations(r.Context())
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorBody{err.Error()})
		return
	}
	slices.SortFunc(list, func(x, y Conversation) int {
		return cmp.Or(cmp.Compare(x.Account, y.Account), cmp.Compare(x.ID, y.ID))
	})
	page := ConversationPage{Conversations: []Conversation{}}
	size := 0
	for _, c := range list {
		if q.Get("cursor") != "" && cmp.Or(cmp.Compare(c.Account, after[0]), cmp.Compare(c.ID, after[1])) <= 0 {
			continue
		}
		if len(page.Conversations) == limit {
			page.NextCursor = cursorOf(page.Conversations[len(page.Conversations)-1])
			break
		}
		b, _ := json.Marshal(c)
		if len(b) > maxPageBytes {
			c.State, c.StateTruncated = nil, true
			b, _ = json.Marshal(c)
		}
		if size+len(b) > maxPageBytes && len(page.Conversations) > 0 {
			page.NextCursor = cursorOf(page.Conversations[len(page.Conversations)-1])
			break
		}
		size += len(b)
		page.Conversations = append(page.Conversations, c)
	}
	writeJSON(w, http.StatusOK, page)
}

func cursorOf(c Conversation) string {
	b, _ := json.Marshal([2]string{c.Account, c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *admin) dropConversation(w http.ResponseWriter, r *http.Request) {
	if a.o.Conversations == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"no store"})
		return
	}
	account, id := r.URL.Query().Get("account"), r.URL.Query().Get("id")
	if account == "" || id == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{"query parameters account and id are required"})
		return
	}
	if err := a.o.Conversations.DropConversation(r.Context(), account, id); err != nil {
		writeJSON(w, http.StatusBadGateway, errorBody{err.Error()})
		return
	}
	a.o.Logger.WithFields(map[string]any{"account": account, "conversation": id}).Info("admin: conversation state dropped")
	w.WriteHeader(http.StatusNoContent)
}
