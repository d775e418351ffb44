package ucwasim

import (
	"net/http"
	"sort"
	"time"
)

// Presence subscription limits and the lead time of the expiry warning (simulated).
const (
	minSubscription  = 10 * time.Minute
	maxSubscription  = 30 * time.Minute
	subscriptionWarn = time.Minute
)

// subscription is a presenceSubscription of one application.
type subscription struct {
	id      string
	uris    []string
	expires time.Time
	warned  bool
	timer   *timer // the expiry warning, then the expiry
}

// SubscriptionInfo describes a live presence subscription of a bot.
type SubscriptionInfo struct {
	URL     string    // the subscription's href
	URIs    []string  // subscribed sip URIs
	Expires time.Time // simulated expiry time
}

// Subscriptions returns the live presence subscriptions of the bot's applications.
func (s *Server) Subscriptions(botURI string) []SubscriptionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SubscriptionInfo
	for _, a := range s.appsOf(normURI(botURI)) {
		for _, sub := range a.subs {
			out = append(out, SubscriptionInfo{URL: subPath(a, sub.id), URIs: append([]string(nil), sub.uris...), Expires: sub.expires})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

func subPath(a *application, id string) string { return a.base + "/people/presenceSubscriptions/" + id }

func membershipsPath(a *application, id string) string {
	return a.base + "/people/presenceSubscriptionMemberships?presenceSubscriptionId=" + id
}

// subscriptionResource is a presenceSubscription; expirationTime is the (simulated) time it
// ends, in the /Date(ms)/ form of UCWA dates.
func (s *Server) subscriptionResource(a *application, sub *subscription) map[string]any {
	return map[string]any{
		"id":             sub.id,
		"expirationTime": ucwaDate(sub.expires),
		"_links": map[string]any{
			"self":                      lk(subPath(a, sub.id)),
			"memberships":               lk(membershipsPath(a, sub.id)),
			"addToPresenceSubscription": lk(membershipsPath(a, sub.id)),
		},
		"rel": "presenceSubscription",
	}
}

func (s *Server) membershipsResource(a *application, sub *subscription) map[string]any {
	list := []any{}
	for _, uri := range sub.uris {
		list = append(list, map[string]any{
			"_links": map[string]any{
				"self":                 lk(a.base + "/people/presenceSubscriptionMemberships/" + sub.id + "/" + addrOf(uri)),
				"contact":              lk(a.base + "/people/" + addrOf(uri)),
				"presenceSubscription": lk(subPath(a, sub.id)),
			},
			"rel": "presenceSubscriptionMembership",
		})
	}
	return map[string]any{
		"_links":    map[string]any{"self": lk(membershipsPath(a, sub.id))},
		"_embedded": map[string]any{"presenceSubscriptionMembership": list},
		"rel":       "presenceSubscriptionMemberships",
	}
}

// durationParam reads the duration input (minutes) and clamps it to 10–30 minutes.
func durationParam(in *input) (time.Duration, bool) {
	m, ok := in.num("duration")
	if !ok {
		return 0, false
	}
	d := time.Duration(m * float64(time.Minute))
	return min(max(d, minSubscription), maxSubscription), true
}

// handleSubscriptions serves presenceSubscriptions, presenceSubscription, memberships,
// presenceSubscriptionMembership and subscribedContacts.
func (s *Server) handleSubscriptions(w http.ResponseWriter, r *http.Request, a *application, rt route, in *input) {
	if !a.available {
		writeError(w, http.StatusConflict, "MakeMeAvailableRequired", "Call makeMeAvailable first.")
		return
	}
	now := s.clock.now()
	switch rt.rel {
	case "presenceSubscriptions":
		switch r.Method {
		case http.MethodGet:
			list := []any{}
			for _, sub := range a.subs {
				list = append(list, s.subscriptionResource(a, sub))
			}
			writeJSON(w, http.StatusOK, map[string]any{
				"_links":    map[string]any{"self": lk(a.base + "/people/presenceSubscriptions")},
				"_embedded": map[string]any{"presenceSubscription": list},
				"rel":       "presenceSubscriptions",
			})
		case http.MethodPost:
			d, ok := durationParam(in)
			if !ok {
				writeError(w, http.StatusBadRequest, "ParameterValidationFailure", "duration (minutes, 10-30) is required")
				return
			}
			sub := &subscription{id: s.newID(), expires: now.Add(d)}
			a.subs[sub.id] = sub
			s.armSubscriptionLocked(a, sub)
			added := s.addMembersLocked(a, sub, in.strs("uris"))
			a.events.emit("people", a.base+"/people", event{
				"link":      lk2("presenceSubscription", subPath(a, sub.id)),
				"_embedded": map[string]any{"presenceSubscription": s.subscriptionResource(a, sub)},
				"type":      "added",
			})
			s.emitContactPresencesLocked(a, added)
			w.Header().Set("Location", subPath(a, sub.id))
			writeJSON(w, http.StatusCreated, s.subscriptionResource(a, sub))
		default:
			writeError(w, http.StatusMethodNotAllowed, "", "")
		}
		return
	case "subscribedContacts":
		seen := map[string]bool{}
		list := []any{}
		for _, sub := range a.subs {
			for _, uri := range sub.uris {
				if u := s.users[uri]; u != nil && !seen[uri] {
					seen[uri] = true
					list = append(list, s.contactResource(a, u))
				}
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"_links": map[string]any{"self": lk(a.base + "/people/subscribedContacts")}, "_embedded": map[string]any{"contact": list}, "rel": "subscribedContacts",
		})
		return
	case "memberships":
		rt.sub = r.URL.Query().Get("presenceSubscriptionId")
	}
	sub := a.subs[rt.sub]
	if sub == nil {
		writeError(w, http.StatusNotFound, "ApplicationNotFound", "")
		return
	}
	switch {
	case rt.rel == "presenceSubscription" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.subscriptionResource(a, sub))
	case rt.rel == "presenceSubscription" && r.Method == http.MethodPost:
		d, ok := durationParam(in)
		if !ok {
			writeError(w, http.StatusBadRequest, "ParameterValidationFailure", "duration (minutes, 10-30) is required")
			return
		}
		sub.expires = sub.expires.Add(d)
		if limit := now.Add(maxSubscription); sub.expires.After(limit) {
			sub.expires = limit
		}
		sub.warned = false
		s.armSubscriptionLocked(a, sub)
		writeJSON(w, http.StatusOK, s.subscriptionResource(a, sub))
	case rt.rel == "presenceSubscription" && r.Method == http.MethodDelete:
		s.deleteSubscriptionLocked(a, sub, true)
		w.WriteHeader(http.StatusNoContent)
	case rt.rel == "memberships" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.membershipsResource(a, sub))
	case rt.rel == "memberships" && r.Method == http.MethodPost:
		s.emitContactPresencesLocked(a, s.addMembersLocked(a, sub, in.strs("contactUris")))
		writeJSON(w, http.StatusCreated, s.membershipsResource(a, sub))
	case rt.rel == "presenceSubscriptionMembership" && r.Method == http.MethodDelete:
		uri := normURI(rt.addr)
		for i, x := range sub.uris {
			if x == uri {
				sub.uris = append(sub.uris[:i], sub.uris[i+1:]...)
				s.emitContactLocked(a, uri, "deleted")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		writeError(w, http.StatusNotFound, "ResourceNotFound", "")
	default:
		writeError(w, http.StatusMethodNotAllowed, "", "")
	}
}

// addMembersLocked subscribes sub to uris (contact added in subscribedContacts for each) and
// returns the URIs that were new.
func (s *Server) addMembersLocked(a *application, sub *subscription, uris []string) []string {
	var added []string
	for _, raw := range uris {
		uri := normURI(raw)
		if uri == "" || contains(sub.uris, uri) {
			continue
		}
		sub.uris = append(sub.uris, uri)
		added = append(added, uri)
		s.emitContactLocked(a, uri, "added")
	}
	return added
}

// emitContactPresencesLocked sends contactPresence updated in contact for each of uris.
func (s *Server) emitContactPresencesLocked(a *application, uris []string) {
	for _, uri := range uris {
		a.events.emit("people", a.base+"/people", event{
			"link": lk2("contactPresence", a.base+"/people/"+addrOf(uri)+"/presence"),
			"in":   lk2("contact", a.base+"/people/"+addrOf(uri)),
			"type": "updated",
		})
	}
}

func (s *Server) emitContactLocked(a *application, uri, typ string) {
	a.events.emit("people", a.base+"/people", event{
		"link": lk2("contact", a.base+"/people/"+addrOf(uri)),
		"in":   lk2("subscribedContacts", a.base+"/people/subscribedContacts"),
		"type": typ,
	})
}

// deleteSubscriptionLocked removes sub; with members, contact deleted events go out first.
func (s *Server) deleteSubscriptionLocked(a *application, sub *subscription, members bool) {
	delete(a.subs, sub.id)
	s.cancelLocked(sub.timer)
	if members {
		for _, uri := range sub.uris {
			s.emitContactLocked(a, uri, "deleted")
		}
	}
	a.events.emit("people", a.base+"/people", event{"link": lk2("presenceSubscription", subPath(a, sub.id)), "type": "deleted"})
}

// notifyPresenceLocked sends contactPresence updated to every application subscribed to u.
func (s *Server) notifyPresenceLocked(u *user) {
	for _, a := range s.apps {
		if !a.alive() {
			continue
		}
		for _, sub := range a.subs {
			if contains(sub.uris, u.uri) {
				s.emitContactPresencesLocked(a, []string{u.uri})
				break
			}
		}
	}
}

// armSubscriptionLocked schedules sub's expiry warning, or its expiry once warned.
func (s *Server) armSubscriptionLocked(a *application, sub *subscription) {
	if sub.timer == nil {
		sub.timer = newTimer(func(now time.Time) { s.subscriptionDueLocked(a, sub, now) })
	}
	at := sub.expires
	if !sub.warned {
		at = at.Add(-subscriptionWarn)
	}
	s.scheduleLocked(sub.timer, at)
}

// subscriptionDueLocked sends sub's expiry warning a minute before it expires, and removes it
// when it has expired.
func (s *Server) subscriptionDueLocked(a *application, sub *subscription, now time.Time) {
	if !a.alive() || a.subs[sub.id] != sub {
		return
	}
	switch {
	case !now.Before(sub.expires):
		s.deleteSubscriptionLocked(a, sub, false)
		return
	case !sub.warned && !now.Before(sub.expires.Add(-subscriptionWarn)):
		sub.warned = true
		a.events.emit("people", a.base+"/people", event{
			"link":      lk2("presenceSubscription", subPath(a, sub.id)),
			"_embedded": map[string]any{"presenceSubscription": s.subscriptionResource(a, sub)},
			"type":      "updated",
		})
	}
	s.armSubscriptionLocked(a, sub)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
