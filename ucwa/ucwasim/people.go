package ucwasim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// user is an account of the deployment: the bot or a scripted person.
type user struct {
	uri, password, name string
	autoAccept          bool
	availability        string // set by SetPresence or POST me/presence; "" = automatic
	note                string
	lastActive          time.Time
	signedIn            bool           // created an application once: an endpoint user, Offline without one
	apps                []*application // live and expired applications, oldest first
}

// normURI lower-cases a SIP URI and adds the "sip:" scheme when it is missing.
func normURI(uri string) string {
	uri = strings.ToLower(strings.TrimSpace(uri))
	if uri == "" {
		return ""
	}
	if !strings.HasPrefix(uri, "sip:") {
		uri = "sip:" + uri
	}
	return uri
}

// addrOf is the URI without its scheme, as used in the server's paths (user@domain).
func addrOf(uri string) string { return strings.TrimPrefix(uri, "sip:") }

// AddUser adds an account that can sign in with password; name is its display name (default:
// the part of the URI before "@"). The bot is a user too.
func (s *Server) AddUser(uri, password string, name string) error {
	u := normURI(uri)
	if u == "" || !strings.Contains(u, "@") {
		return fmt.Errorf("ucwasim: add user %q: not a sip uri", uri)
	}
	if name == "" {
		name, _, _ = strings.Cut(addrOf(u), "@")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[u] != nil {
		return fmt.Errorf("ucwasim: add user %s: %w", u, ErrUserExists)
	}
	s.users[u] = &user{uri: u, password: password, name: name, autoAccept: true, lastActive: s.clock.now()}
	return nil
}

// SetAutoAccept says whether the person accepts the bot's invitations (default true). A person
// who does not accept lets the invitation time out after 30 simulated seconds, and does not
// join a conversation the bot adds them to (addParticipant).
func (s *Server) SetAutoAccept(uri string, accept bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[normURI(uri)]; u != nil {
		u.autoAccept = accept
	}
}

// SetPresence sets a person's availability (Online, Busy, Away, DoNotDisturb, Offline, ...).
// Applications subscribed to the person get a contactPresence updated event.
func (s *Server) SetPresence(uri, availability string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[normURI(uri)]
	if u == nil {
		return fmt.Errorf("ucwasim: set presence of %s: %w", uri, ErrUnknownUser)
	}
	u.availability = availability
	u.lastActive = s.clock.now()
	s.notifyPresenceLocked(u)
	return nil
}

// Presence returns a user's availability as the server sees it. A bot's availability comes from
// its application: Offline without one, Away when its reportMyActivity is more than 4 simulated
// minutes late.
func (s *Server) Presence(uri string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[normURI(uri)]
	if u == nil {
		return "Offline"
	}
	return s.availabilityLocked(u)
}

// availabilityLocked computes u's aggregated availability.
func (s *Server) availabilityLocked(u *user) string {
	var app *application
	for _, a := range u.apps {
		if a.alive() && a.available {
			if app == nil || a.lastActivity.After(app.lastActivity) {
				app = a
			}
		}
	}
	if app == nil {
		switch {
		case u.signedIn:
			return "Offline" // signed out, or lurking without makeMeAvailable
		case u.availability == "":
			return "Online" // a scripted person
		}
		return u.availability
	}
	if s.clock.now().Sub(app.lastActivity) > activityTimeout {
		return "Away"
	}
	if app.availability != "" {
		return app.availability
	}
	return "Online"
}

// activityTimeout is the 4-minute reportMyActivity rule.
const activityTimeout = 4 * time.Minute

// contactResource is the contact resource of u as seen from application a.
func (s *Server) contactResource(a *application, u *user) map[string]any {
	p := a.base + "/people/" + addrOf(u.uri)
	return map[string]any{
		"uri":            u.uri,
		"name":           u.name,
		"sourceNetwork":  "SameEnterprise",
		"type":           "User",
		"emailAddresses": []string{addrOf(u.uri)},
		"_links": map[string]any{
			"self":                       lk(p),
			"contactPhoto":               lk(a.base + "/photos/" + addrOf(u.uri)),
			"contactPresence":            lk(p + "/presence"),
			"contactNote":                lk(p + "/note"),
			"contactLocation":            lk(p + "/location"),
			"contactSupportedModalities": lk(p + "/supportedMedia"),
			"contactPrivacyRelationship": lk(p + "/privacyRelationship"),
		},
		"rel": "contact",
	}
}

// contactPresenceResource is u's presence as a contactPresence resource.
func (s *Server) contactPresenceResource(a *application, u *user) map[string]any {
	return map[string]any{
		"availability": s.availabilityLocked(u),
		"deviceType":   "PC",
		"lastActive":   ucwaDate(u.lastActive),
		"_links":       map[string]any{"self": lk(a.base + "/people/" + addrOf(u.uri) + "/presence")},
		"rel":          "contactPresence",
	}
}

// handlePeople serves people, contact, contactPresence and contactNote.
func (s *Server) handlePeople(w http.ResponseWriter, r *http.Request, a *application, rt route) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "", "")
		return
	}
	if rt.rel == "people" {
		writeJSON(w, http.StatusOK, s.peopleResource(a))
		return
	}
	u := s.users[normURI(rt.addr)]
	if u == nil {
		writeError(w, http.StatusNotFound, "ResourceNotFound", "")
		return
	}
	switch rt.rel {
	case "contact":
		writeJSON(w, http.StatusOK, s.contactResource(a, u))
	case "contactPresence":
		writeJSON(w, http.StatusOK, s.contactPresenceResource(a, u))
	case "contactNote":
		writeJSON(w, http.StatusOK, map[string]any{
			"message": u.note, "type": "Personal", "rel": "contactNote",
			"_links": map[string]any{"self": lk(a.base + "/people/" + addrOf(u.uri) + "/note")},
		})
	}
}
