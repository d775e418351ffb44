package ucwasim

import "strings"

// lk is a link object.
func lk(href string) map[string]any { return map[string]any{"href": href} }

// lkt is a link object with a title.
func lkt(href, title string) map[string]any { return map[string]any{"href": href, "title": title} }

// applicationResource is the application with me, people, onlineMeetings and communication
// embedded, as in the CreateAnApplication and ReceiveAnIM walkthroughs.
func (s *Server) applicationResource(a *application) map[string]any {
	return map[string]any{
		"culture":    a.culture,
		"userAgent":  a.userAgent,
		"endpointId": a.endpointID,
		"id":         a.id,
		"type":       "Browser",
		"_links": map[string]any{
			"self":     lk(a.base),
			"policies": lk(a.base + "/policies"),
			"batch":    lk(a.base + "/batch"),
			"events":   lk(a.base + "/events?ack=" + itoa(int64(a.events.firstUnacked()))),
		},
		"_embedded": map[string]any{
			"me":             s.meResource(a),
			"people":         s.peopleResource(a),
			"onlineMeetings": onlineMeetingsResource(a),
			"communication":  s.communicationResource(a),
		},
		"rel": "application",
	}
}

// meResource is the user's own resource; links depend on makeMeAvailable (lurker mode).
func (s *Server) meResource(a *application) map[string]any {
	b := a.base + "/me"
	links := map[string]any{
		"self":                   lk(b),
		"callForwardingSettings": lk(b + "/callForwardingSettings"),
		"phones":                 lk(b + "/phones"),
		"photo":                  lk(a.base + "/photos/" + addrOf(a.user.uri)),
	}
	if a.available {
		links["note"] = lk(b + "/note")
		links["presence"] = lk(b + "/presence")
		links["location"] = lk(b + "/location")
		links["reportMyActivity"] = lk(b + "/reportMyActivity")
	} else {
		links["makeMeAvailable"] = lk(b + "/makeMeAvailable")
	}
	return map[string]any{
		"name":           a.user.name,
		"uri":            a.user.uri,
		"emailAddresses": []string{addrOf(a.user.uri)},
		"_links":         links,
		"rel":            "me",
	}
}

// peopleResource is the people hub.
func (s *Server) peopleResource(a *application) map[string]any {
	b := a.base + "/people"
	return map[string]any{
		"_links": map[string]any{
			"self":                            lk(b),
			"presenceSubscriptions":           lk(b + "/presenceSubscriptions"),
			"subscribedContacts":              lk(b + "/subscribedContacts"),
			"presenceSubscriptionMemberships": lk(b + "/presenceSubscriptionMemberships"),
			"myGroups":                        lk(b + "/groups"),
			"myGroupMemberships":              lk(b + "/groupMemberships"),
			"myContacts":                      lk(b + "/contacts"),
			"myPrivacyRelationships":          lk(b + "/privacyRelationships"),
			"myContactsAndGroupsSubscription": lk(b + "/contactsAndGroupsSubscription"),
			"search":                          lk(b + "/search"),
		},
		"rel": "people",
	}
}

func onlineMeetingsResource(a *application) map[string]any {
	b := a.base + "/onlineMeetings"
	return map[string]any{
		"_links": map[string]any{
			"self":                                 lk(b),
			"myOnlineMeetings":                     lk(b + "/myOnlineMeetings"),
			"onlineMeetingDefaultValues":           lk(b + "/defaultValues"),
			"onlineMeetingEligibleValues":          lk(b + "/eligibleValues"),
			"onlineMeetingInvitationCustomization": lk(b + "/customInvitation"),
			"onlineMeetingPolicies":                lk(b + "/policies"),
			"phoneDialInInformation":               lk(b + "/phoneDialInInformation"),
			"myAssignedOnlineMeeting":              lk(b + "/myOnlineMeetings/" + strings.ToUpper(a.id)),
		},
		"rel": "onlineMeetings",
	}
}

// communicationResource is the communication hub; supportedModalities is empty in lurker mode.
func (s *Server) communicationResource(a *application) map[string]any {
	b := a.base + "/communication"
	mods := []string{}
	if a.available {
		mods = append(mods, a.modalities...)
	}
	return map[string]any{
		a.guid:                    "please pass this in a PUT request",
		"supportedModalities":     mods,
		"supportedMessageFormats": a.formats,
		"_links": map[string]any{
			"self":               lk(b),
			"startPhoneAudio":    lk(b + "/phoneAudioInvitations"),
			"conversations":      lk(b + "/conversations?filter=active"),
			"startMessaging":     lk(b + "/messagingInvitations"),
			"startOnlineMeeting": lk(b + "/onlineMeetingInvitations?onlineMeetingUri=adhoc"),
			"joinOnlineMeeting":  lk(b + "/onlineMeetingInvitations"),
		},
		"rel":  "communication",
		"etag": etag(a),
	}
}

func etag(a *application) string {
	if a.available {
		return "1925102412"
	}
	return "3140562359"
}
