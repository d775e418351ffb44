package simctl

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// FaultSpec is the body of POST /_sim/faults: a ucwasim.Fault with durations written as Go
// durations ("1.5s", "250ms").
type FaultSpec struct {
	Method     string  `json:"method,omitempty"`
	Rel        string  `json:"rel,omitempty"`
	User       string  `json:"user,omitempty"`
	Path       string  `json:"path,omitempty"`
	Status     int     `json:"status,omitempty"`
	Code       string  `json:"code,omitempty"`
	Subcode    string  `json:"subcode,omitempty"`
	RetryAfter string  `json:"retryAfter,omitempty"`
	HTML       bool    `json:"html,omitempty"`
	Delay      string  `json:"delay,omitempty"`
	Drop       bool    `json:"drop,omitempty"`
	AfterServe bool    `json:"afterServe,omitempty"`
	Action     string  `json:"action,omitempty"`
	Rate       float64 `json:"rate,omitempty"`
	Times      int     `json:"times,omitempty"`
}

// FaultInfo is one armed fault as GET /_sim/faults lists it.
type FaultInfo struct {
	ID    int       `json:"id"`
	Fault FaultSpec `json:"fault"`
	Hits  int       `json:"hits"`
	Left  int       `json:"left"`
}

// Injected is the answer of POST /_sim/faults.
type Injected struct {
	ID int `json:"id"`
}

// fault checks the spec and turns it into a ucwasim.Fault.
func (fs FaultSpec) fault() (ucwasim.Fault, error) {
	f := ucwasim.Fault{
		Method: fs.Method, Rel: fs.Rel, User: fs.User, Path: fs.Path, Status: fs.Status,
		Code: fs.Code, Subcode: fs.Subcode, HTML: fs.HTML, Drop: fs.Drop, AfterServe: fs.AfterServe,
		Action: fs.Action, Rate: fs.Rate, Times: fs.Times,
	}
	var err error
	if f.RetryAfter, err = duration("retryAfter", fs.RetryAfter); err != nil {
		return f, err
	}
	if f.Delay, err = duration("delay", fs.Delay); err != nil {
		return f, err
	}
	switch {
	case fs.Status != 0 && (fs.Status < 100 || fs.Status > 599):
		return f, fmt.Errorf("status %d: not an HTTP status", fs.Status)
	case fs.Rate < 0 || fs.Rate > 1:
		return f, fmt.Errorf("rate %v: want 0 < rate <= 1 (0: every matching request)", fs.Rate)
	case fs.Action != "" && !slices.Contains(ucwasim.FaultActions, fs.Action):
		return f, fmt.Errorf("action %q: want one of %v", fs.Action, ucwasim.FaultActions)
	case fs.Status == 0 && !fs.Drop && fs.Delay == "" && fs.Action == "":
		return f, fmt.Errorf("the fault does nothing: give status, drop, delay or action")
	}
	return f, nil
}

func duration(key, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q: want a duration such as 1.5s", key, s)
	}
	return d, nil
}

func specOf(f ucwasim.Fault) FaultSpec {
	fs := FaultSpec{
		Method: f.Method, Rel: f.Rel, User: f.User, Path: f.Path, Status: f.Status, Code: f.Code,
		Subcode: f.Subcode, HTML: f.HTML, Drop: f.Drop, AfterServe: f.AfterServe, Action: f.Action,
		Rate: f.Rate, Times: f.Times,
	}
	if f.RetryAfter > 0 {
		fs.RetryAfter = f.RetryAfter.String()
	}
	if f.Delay > 0 {
		fs.Delay = f.Delay.String()
	}
	return fs
}

func (c *control) injectFault(w http.ResponseWriter, r *http.Request) {
	var fs FaultSpec
	if !decodeInto(w, r, &fs) {
		return
	}
	f, err := fs.fault()
	if err != nil {
		http.Error(w, "fault: "+err.Error(), http.StatusBadRequest)
		return
	}
	reply(w, Injected{ID: c.s.Inject(f)})
}

func (c *control) listFaults(w http.ResponseWriter, r *http.Request) {
	out := []FaultInfo{}
	for _, st := range c.s.Faults() {
		out = append(out, FaultInfo{ID: st.ID, Fault: specOf(st.Fault), Hits: st.Hits, Left: st.Left})
	}
	reply(w, out)
}

// clearFaults serves DELETE /_sim/faults (all) and DELETE /_sim/faults/{id}.
func (c *control) clearFaults(w http.ResponseWriter, r *http.Request) {
	var ids []int
	if s := r.PathValue("id"); s != "" {
		id, err := strconv.Atoi(s)
		if err != nil {
			http.Error(w, "fault id "+strconv.Quote(s)+": not a number", http.StatusBadRequest)
			return
		}
		ids = append(ids, id)
	}
	n := c.s.ClearFaults(ids...)
	if len(ids) > 0 && n == 0 {
		http.Error(w, "no armed fault "+strconv.Itoa(ids[0]), http.StatusNotFound)
		return
	}
	reply(w, map[string]int{"cleared": n})
}

// action serves the one-shot actions on a user's applications or tokens.
func (c *control) action(fn func(uri string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := decode(w, r)
		if !ok {
			return
		}
		if req.URI == "" {
			http.Error(w, "uri is required", http.StatusBadRequest)
			return
		}
		fn(req.URI)
		w.WriteHeader(http.StatusNoContent)
	}
}

// InjectFault arms a fault and returns its id.
func (c *Client) InjectFault(ctx context.Context, f FaultSpec) (int, error) {
	var out Injected
	err := c.postJSON(ctx, "faults", f, &out)
	return out.ID, err
}

// Faults lists the armed faults.
func (c *Client) Faults(ctx context.Context) ([]FaultInfo, error) {
	var out []FaultInfo
	err := c.get(ctx, "faults", &out)
	return out, err
}

// ClearFaults disarms the fault id, or every fault when id is 0.
func (c *Client) ClearFaults(ctx context.Context, id int) error {
	route := "faults"
	if id != 0 {
		route += "/" + strconv.Itoa(id)
	}
	return c.send(ctx, http.MethodDelete, route, nil, nil)
}

// Act does one of the actions resync, resume, revoke, kill or expire to uri's applications
// (revoke: its tokens).
func (c *Client) Act(ctx context.Context, action, uri string) error {
	return c.post(ctx, action, Request{URI: uri}, nil)
}
