package bot

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestConfig_Validate_names_the_key(t *testing.T) {
	ok := Account{Address: "sip:bot@contoso.com", Password: "pw"}
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no accounts", Config{}, "accounts"},
		{"activity at 4m with jitter", Config{Accounts: []Account{ok}, ActivityInterval: 3*time.Minute + 45*time.Second}, "activityInterval"},
		{"subscription too short", Config{Accounts: []Account{ok}, SubscriptionDuration: 5 * time.Minute}, "subscriptionDuration"},
		{"no password", Config{Accounts: []Account{{Address: "sip:bot@contoso.com"}}}, "accounts[0]"},
		{"not an address", Config{Accounts: []Account{{Address: "bot", Password: "pw"}}}, "accounts[0]"},
		{"duplicate", Config{Accounts: []Account{ok, {Address: "bot@contoso.com", Password: "x"}}}, "accounts[1].address"},
		{"negative workers", Config{Accounts: []Account{ok}, Workers: -1}, "workers"},
		{"shrinking backoff", Config{Accounts: []Account{ok}, BackoffMultiplier: 0.5}, "backoffMultiplier"},
		{"jitter of a whole wait", Config{Accounts: []Account{ok}, BackoffJitter: 1}, "backoffJitter"},
		{"multiplier not a number", Config{Accounts: []Account{ok}, BackoffMultiplier: math.NaN()}, "backoffMultiplier"},
		{"infinite multiplier", Config{Accounts: []Account{ok}, BackoffMultiplier: math.Inf(1)}, "backoffMultiplier"},
		{"jitter not a number", Config{Accounts: []Account{ok}, BackoffJitter: math.NaN()}, "backoffJitter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, c.want)
			}
		})
	}
	good := Config{Accounts: []Account{ok}}.withDefaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if good.ActivityInterval != DefaultActivityInterval || good.Workers != DefaultWorkers || good.Accounts[0].EndpointID == "" {
		t.Fatalf("defaults not applied: %+v", good)
	}
}

func TestAccount_never_prints_its_password(t *testing.T) {
	a := Account{Address: "sip:bot@contoso.com", Password: "hunter2secret"}
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%v %+v %#v %s", a, a, a, a)} {
		if strings.Contains(s, "hunter2secret") {
			t.Fatalf("password printed: %s", s)
		}
	}
}

func TestEndpointID_is_stable_per_address(t *testing.T) {
	if endpointID("bot@contoso.com") != endpointID("sip:BOT@contoso.com") {
		t.Fatal("endpoint id depends on the address's spelling")
	}
	if endpointID("sip:a@contoso.com") == endpointID("sip:b@contoso.com") {
		t.Fatal("two accounts share an endpoint id")
	}
}
