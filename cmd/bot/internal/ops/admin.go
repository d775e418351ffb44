package ops

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

type admin struct{ o Options }

type errorBody struct {
	Error string `json:"error"`
}

func (a *admin) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/rules", a.listRules)
	mux.HandleFunc("POST /admin/rules/reload", a.reloadRules)
	mux.HandleFunc("GET /admin/conversations", a.listConversations)
	mux.HandleFunc("DELETE /admin/conversations", a.dropConversation)
	return mux
}

// guard lets an admin call through when it carries the token, or, with no
// token configured, when it comes from a loopback address.
func (a *admin) guard(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(a.o.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.o.Token == "" {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			if !loopbackHost(host) {
				writeJSON(w, http.StatusForbidden, errorBody{"admin API answers loopback clients only when no admin token is configured"})
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ucwabot admin"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{"admin API needs Authorization: Bearer <token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
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

func (a *admin) listConversations(w http.ResponseWriter, r *http.Request) {
	if a.o.Conversations == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{"no store"})
		return
	}
	list, err := a.o.Conversations.Conversations(r.Context())
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorBody{err.Error()})
		return
	}
	if list == nil {
		list = []Conversation{}
	}
	writeJSON(w, http.StatusOK, list)
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
