package redisstore

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckURL_refuses_what_go_redis_would_fill_in(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"redis:localhost:6379", `redisstore: url "redis:localhost:6379": missing "//" after "redis:" (write redis://localhost:6379)`},
		{"redis:redis.contoso.com:6379", `redisstore: url "redis:redis.contoso.com:6379": missing "//" after "redis:" (write redis://redis.contoso.com:6379)`},
		{"redis:/redis.contoso.com:6379/0", `redisstore: url "redis:/redis.contoso.com:6379/0": missing "//" after "redis:" (write redis://redis.contoso.com:6379/0)`},
		{"rediss:host:6380", `redisstore: url "rediss:host:6380": missing "//" after "rediss:" (write rediss://host:6380)`},
		{"redis:user:Hunter2@host:6379", `redisstore: url "redis:user:xxxxx@host:6379": missing "//" after "redis:" (write redis://user:xxxxx@host:6379)`},
		{"localhost:6379", `redisstore: url "localhost:6379": is not a Redis URL (want redis://host:6379/0, rediss://..., redis+cluster://..., rediss+cluster://... or unix:///path/to/redis.sock)`},
		{"http://cache.example.com:6379", `redisstore: url "http://cache.example.com:6379": unknown scheme "http" (want redis, rediss, redis+cluster, rediss+cluster, unix)`},
		{"redis:///0", `redisstore: url "redis:///0": names no host (write redis://host:6379)`},
		{"redis://:Hunter2@/0", `redisstore: url "redis://:xxxxx@/0": names no host (write redis://host:6379)`},
		{"redis://localhost:70000", `redisstore: url "redis://localhost:70000": port "70000" is not a number in 1..65535`},
		{"redis://localhost:redis", `redisstore: url "redis://localhost:redis": port "redis" is not a number in 1..65535`},
		{"redis://localhost:6379/zero", `redisstore: url "redis://localhost:6379/zero": path "/zero" is not a database number such as /0`},
		{"redis://localhost:6379/0/1", `redisstore: url "redis://localhost:6379/0/1": path "/0/1" is not a database number such as /0`},
		{"redis+cluster://node-1:6379/3", `redisstore: url "redis+cluster://node-1:6379/3": names database "3": a cluster has only database 0, write no path`},
		{"redis://localhost:6379/0?pool_sise=3", `redisstore: url "redis://localhost:6379/0?pool_sise=3": unexpected option: pool_sise`},
		{"redis://local host:6379", `redisstore: url "redis://local host:6379": contains spaces`},
		{"unix://localhost/tmp/redis.sock", `redisstore: url "unix://localhost/tmp/redis.sock": unix URLs take no host: write unix:///path/to/redis.sock`},
		{"unix://", `redisstore: url "unix://": names no socket path: write unix:///path/to/redis.sock`},
		{"redis://host:6379#x", `redisstore: url "redis://host:6379#x": has a fragment (#...); Redis URLs have none`},
		{"redis://]", `redisstore: url "redis://]": host "]" is not a host name, an IPv4 address or a bracketed IPv6 address`},
		{"redis://[::1]]:6379", `redisstore: url "redis://[::1]]:6379": has "]:6379" after its IPv6 host`},
		{"redis://[cache]:6379", `redisstore: url "redis://[cache]:6379": host "[cache]" is not a host name, an IPv4 address or a bracketed IPv6 address`},
		{"redis://cache%2Eexample.com:6379", `redisstore: url "redis://cache%2Eexample.com:6379": host "cache%2Eexample.com" is not a host name, an IPv4 address or a bracketed IPv6 address`},
		{"", `redisstore: url "": is empty`},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			err := CheckURL(tc.url)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("CheckURL(%q) = %v\nwant %s", tc.url, err, tc.want)
			}
			var ue *URLError
			if !errors.As(err, &ue) {
				t.Errorf("%T is not a *URLError", err)
			}
			if strings.Contains(err.Error(), "Hunter2") {
				t.Errorf("the password is in %q", err)
			}
			// Open refuses it the same way, before dialling anything.
			if _, derr := dial(tc.url); derr == nil || derr.Error() != tc.want {
				t.Errorf("dial(%q) = %v", tc.url, derr)
			}
		})
	}
}

func TestCheckURL_accepts_every_documented_form(t *testing.T) {
	for _, u := range []string{
		"redis://127.0.0.1:6379/0",
		"redis://localhost",
		"redis://:pw@cache.example.com:6380/2",
		"redis://user:pw@cache.example.com/15?dial_timeout=2s",
		"rediss://cache.example.com:6380",
		"REDIS://CACHE.example.com:6379",
		"redis://[::1]:6379/0",
		"redis://[fe80::1%25eth0]:6379/0",
		"redis://redis_1:6379",
		"redis://sentinel-1:26379/0?master_name=mymaster&addr=sentinel-2:26379",
		"redis+cluster://node-1:6379?addr=node-2:6379",
		"rediss+cluster://node-1:6379",
		"unix:///run/redis/redis.sock",
	} {
		if err := CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
	}
}

func TestRedactURL_hides_the_password_in_any_form(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:s3cret@host:6379/0":     "redis://:xxxxx@host:6379/0",
		"redis://user:s3cret@host:6379/0": "redis://user:xxxxx@host:6379/0",
		"redis://s3cret@host:6379/0":      "redis://xxxxx@host:6379/0",
		"redis:u:s3cret@host:6379":        "redis:u:xxxxx@host:6379",
		"redis://host:6379/0?x=a@b":       "redis://host:6379/0?x=a@b",
		"redis://host:6379":               "redis://host:6379",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
