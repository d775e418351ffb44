package ucwasim

import (
	"net/http"
	"strings"
)

// Paths of the discovery and authentication endpoints, and the prefix of applications.
const (
	rootPath   = "/Autodiscover/AutodiscoverService.svc/root"
	userPath   = "/Autodiscover/AutodiscoverService.svc/root/oauth/user"
	xframePath = "/Autodiscover/XFrame/XFrame.html"
	tokenPath  = "/WebTicket/oauthtoken"
	appsPath   = "/ucwa/oauth/v1/applications"
)

// route is a parsed request path: the link rel of the endpoint and the ids in the path.
type route struct {
	rel   string // link rel name of the endpoint ("" = unknown path)
	app   string // application id
	conv  string // conversation id
	inv   string // messaging invitation id
	addr  string // person address (user@domain) for people/participant paths
	sub   string // presence subscription id
	msgID string // message number
}

// parseRoute maps a path to the endpoint it names, following the server's own path scheme.
// Like IIS, which serves Skype for Business, the fixed parts of a path match
// in any letter case (/autodiscover/... is /Autodiscover/...); ids are kept as sent.
func parseRoute(p string) route {
	p = canonicalPath(p)
	switch p {
	case rootPath, rootPath + "/":
		return route{rel: "root"}
	case userPath:
		return route{rel: "user"}
	case xframePath:
		return route{rel: "xframe"}
	case tokenPath:
		return route{rel: "token"}
	case appsPath, appsPath + "/":
		return route{rel: "applications"}
	}
	rest, ok := strings.CutPrefix(p, appsPath+"/")
	if !ok {
		return route{}
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	rt := route{app: seg[0]}
	seg = seg[1:]
	n := len(seg)
	switch {
	case n == 0:
		rt.rel = "application"
	case n == 1 && seg[0] == "events":
		rt.rel = "events"
	case n == 1 && seg[0] == "policies":
		rt.rel = "policies"
	case n == 1 && seg[0] == "batch":
		rt.rel = "batch"
	case seg[0] == "me" && n <= 2:
		rt.rel = "me"
		if n == 2 {
			rt.rel = seg[1] // makeMeAvailable, reportMyActivity, presence, note, location, ...
		}
	case seg[0] == "people":
		rt = peopleRoute(rt, seg[1:])
	case seg[0] == "communication":
		rt = communicationRoute(rt, seg[1:])
	}
	if rt.rel == "" {
		rt.app = ""
	}
	return rt
}

func peopleRoute(rt route, seg []string) route {
	switch {
	case len(seg) == 0:
		rt.rel = "people"
	case seg[0] == "presenceSubscriptions" && len(seg) == 1:
		rt.rel = "presenceSubscriptions"
	case seg[0] == "presenceSubscriptions" && len(seg) == 2:
		rt.rel, rt.sub = "presenceSubscription", seg[1]
	case seg[0] == "presenceSubscriptionMemberships" && len(seg) == 1:
		rt.rel = "memberships"
	case seg[0] == "presenceSubscriptionMemberships" && len(seg) == 3:
		rt.rel, rt.sub, rt.addr = "presenceSubscriptionMembership", seg[1], seg[2]
	case seg[0] == "subscribedContacts" && len(seg) == 1:
		rt.rel = "subscribedContacts"
	case strings.Contains(seg[0], "@") && len(seg) == 1:
		rt.rel, rt.addr = "contact", seg[0]
	case strings.Contains(seg[0], "@") && len(seg) == 2:
		rt.addr = seg[0]
		switch seg[1] {
		case "presence":
			rt.rel = "contactPresence"
		case "note":
			rt.rel = "contactNote"
		}
	}
	return rt
}

func communicationRoute(rt route, seg []string) route {
	n := len(seg)
	switch {
	case n == 0:
		rt.rel = "communication"
	case seg[0] == "conversations" && n == 1:
		rt.rel = "conversations"
	case seg[0] == "messagingInvitations" && n == 1:
		rt.rel = "startMessaging"
	case seg[0] == "messagingInvitations" && n == 2:
		rt.rel, rt.inv = "messagingInvitation", seg[1]
	case seg[0] == "messagingInvitations" && n == 3 && (seg[2] == "accept" || seg[2] == "decline"):
		rt.rel, rt.inv = seg[2], seg[1]
	case seg[0] == "participantInvitations" && n == 1:
		rt.rel = "addParticipant"
	case seg[0] == "conversations" && n >= 2:
		rt.conv = seg[1]
		rt = conversationRoute(rt, seg[2:])
	}
	return rt
}

func conversationRoute(rt route, seg []string) route {
	n := len(seg)
	switch {
	case n == 0:
		rt.rel = "conversation"
	case seg[0] == "messaging" && n == 1:
		rt.rel = "messaging"
	case seg[0] == "messaging" && n == 2:
		switch seg[1] {
		case "messages":
			rt.rel = "sendMessage"
		case "typing":
			rt.rel = "setIsTyping"
		case "terminate":
			rt.rel = "stopMessaging"
		case "typingParticipants":
			rt.rel = "typingParticipants"
		}
	case seg[0] == "messaging" && n == 3 && seg[1] == "messages":
		rt.rel, rt.msgID = "message", seg[2]
	case seg[0] == "participants" && n == 1:
		rt.rel = "participants"
	case seg[0] == "participants" && n == 2:
		rt.rel, rt.addr = "participant", seg[1]
	case seg[0] == "participants" && n == 3 && seg[2] == "messaging":
		rt.rel, rt.addr = "participantMessaging", seg[1]
	}
	return rt
}

// dispatch runs the handler of rt.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, rt route) {
	switch rt.rel {
	case "root":
		s.handleRoot(w, r)
		return
	case "xframe":
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body></body></html>"))
		return
	case "token":
		s.handleToken(w, r)
		return
	case "":
		writeError(w, http.StatusNotFound, "ResourceNotFound", "")
		return
	}
	u := s.authenticate(w, r)
	if u == nil {
		return
	}
	switch rt.rel {
	case "user":
		s.handleUser(w, r)
	case "applications":
		s.handleApplications(w, r, u)
	default:
		s.handleAppResource(w, r, rt, u)
	}
}

// canonicalPaths are the fixed paths and prefixes matched without regard to letter case.
var canonicalPaths = []string{userPath, rootPath, xframePath, tokenPath, appsPath}

// canonicalPath rewrites a fixed path or prefix sent in another letter case to its
// canonical spelling and leaves the rest of the path alone.
func canonicalPath(p string) string {
	for _, c := range canonicalPaths {
		if len(p) >= len(c) && strings.EqualFold(p[:len(c)], c) && (len(p) == len(c) || p[len(c)] == '/') {
			return c + p[len(c):]
		}
	}
	return p
}
