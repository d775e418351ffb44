package ucwasim

import (
	"net/http"
	"strings"
)

// handleMe serves me, makeMeAvailable, reportMyActivity, and the own presence, note and location.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, a *application, rt route, in *input) {
	if rt.rel == "me" {
		onlyGet(w, r, func() { writeJSON(w, http.StatusOK, s.meResource(a)) })
		return
	}
	if rt.rel == "makeMeAvailable" {
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "", "")
			return
		}
		s.makeMeAvailableLocked(a, in)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !a.available {
		writeError(w, http.StatusConflict, "MakeMeAvailableRequired", "Call makeMeAvailable first.")
		return
	}
	switch {
	case rt.rel == "reportMyActivity" && r.Method == http.MethodPost:
		a.lastActivity = s.clock.now()
		a.user.lastActive = a.lastActivity
		s.armAwayLocked(a)
		if a.awayReported {
			a.awayReported = false
			s.emitPresenceLocked(a)
		}
		w.WriteHeader(http.StatusNoContent)
	case rt.rel == "presence" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"availability": s.availabilityLocked(a.user),
			"activity":     "",
			"_links":       map[string]any{"self": lk(a.base + "/me/presence")},
			"rel":          "presence",
		})
	case rt.rel == "presence" && r.Method == http.MethodPost:
		a.availability = in.str("availability")
		if a.availability == "Online" {
			a.availability = ""
		}
		s.emitPresenceLocked(a)
		w.WriteHeader(http.StatusNoContent)
	case rt.rel == "note" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"message": a.user.note,
			"type":    "Personal",
			"_links":  map[string]any{"self": lk(a.base + "/me/note")},
			"rel":     "note",
		})
	case rt.rel == "note" && r.Method == http.MethodPost:
		a.user.note = in.str("message")
		a.events.emit("me", a.base+"/me", event{"link": lk2("note", a.base+"/me/note"), "type": "updated"})
		w.WriteHeader(http.StatusNoContent)
	case rt.rel == "location" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"location": "",
			"_links":   map[string]any{"self": lk(a.base + "/me/location")},
			"rel":      "location",
		})
	case rt.rel == "location" && r.Method == http.MethodPost:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusMethodNotAllowed, "", "")
	}
}

// makeMeAvailableLocked ends lurker mode: me, presence, note, location and communication events.
func (s *Server) makeMeAvailableLocked(a *application, in *input) {
	mods := in.strs("supportedModalities")
	if len(mods) == 0 {
		mods = []string{"Messaging"}
	}
	a.modalities = mods
	if f := in.strs("supportedMessageFormats"); len(f) > 0 {
		a.formats = f
	}
	if sa := in.str("signInAs"); sa != "" && !strings.EqualFold(sa, "Online") {
		a.availability = sa
	}
	a.lastActivity = s.clock.now()
	a.user.lastActive = a.lastActivity
	s.armAwayLocked(a)
	if a.available {
		return
	}
	a.available = true
	s.broadcastLocked()
	me := a.base + "/me"
	a.events.emit("me", me, event{"link": lk2("me", me), "type": "updated"})
	a.events.emit("me", me, event{"link": lk2("presence", me+"/presence"), "type": "added"})
	a.events.emit("me", me, event{"link": lk2("note", me+"/note"), "type": "added"})
	a.events.emit("me", me, event{"link": lk2("location", me+"/location"), "type": "added"})
	comm := a.base + "/communication"
	a.events.emit("communication", comm, event{
		"link":      lk2("communication", comm),
		"_embedded": map[string]any{"communication": s.communicationResource(a)},
		"type":      "updated",
	})
}

// emitPresenceLocked tells a that its own presence changed.
func (s *Server) emitPresenceLocked(a *application) {
	a.events.emit("me", a.base+"/me", event{"link": lk2("presence", a.base+"/me/presence"), "type": "updated"})
}

// lk2 is an event link {rel, href}.
func lk2(rel, href string) map[string]any { return map[string]any{"rel": rel, "href": href} }

// lk3 is an event link {rel, href, title}.
func lk3(rel, href, title string) map[string]any {
	return map[string]any{"rel": rel, "href": href, "title": title}
}
