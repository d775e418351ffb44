package botcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/ops"
)

func sayCommand() *command {
	var (
		configPath, base, tokenEnv string
		m                          ops.Message
		html                       bool
		wait                       time.Duration
	)
	return &command{
		name: "say",
		args: "TEXT...",
		summary: `Make a running bot write TEXT to a person (--to, in a new conversation) or in
an open conversation (--conversation), through its notify API (POST
/api/v1/messages). The request is durable and sent once per --key, however
often it is retried. Prints the outcome as JSON: status sent, failed, or queued
when it was not sent within --wait. The bot is found by --config (its
http.listen and admin token) or --url and --token-env.`,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&configPath, "config", "", "the running bot's configuration `FILE` (for its address and admin token)")
			fs.StringVar(&base, "url", "http://127.0.0.1:8080", "the bot's HTTP `URL`, when no --config is given")
			fs.StringVar(&tokenEnv, "token-env", "", "the environment `VARIABLE` holding the admin token, when no --config is given")
			fs.StringVar(&m.To, "to", "", "the SIP `URI` of the person to write to")
			fs.StringVar(&m.Conversation, "conversation", "", "the `ID` of an open conversation to write in")
			fs.StringVar(&m.Account, "account", "", "the bot `ACCOUNT` that writes (when the bot drives several)")
			fs.StringVar(&m.Subject, "subject", "", "the `SUBJECT` of a new conversation")
			fs.StringVar(&m.IdempotencyKey, "key", "", "the idempotency `KEY`: requests with the same key are one message")
			fs.BoolVar(&html, "html", false, "TEXT is HTML")
			fs.DurationVar(&wait, "wait", 10*time.Second, "how long to wait for the outcome")
		},
		run: func(ctx context.Context, stdio Stdio, fs *flag.FlagSet) error {
			text := strings.Join(fs.Args(), " ")
			if text == "" {
				return usagef("say needs the TEXT to send")
			}
			if (m.To == "") == (m.Conversation == "") {
				return usagef("give either --to URI or --conversation ID")
			}
			if html {
				m.HTML = text
			} else {
				m.Text = text
			}
			token := ""
			if configPath != "" {
				cfg, err := loadConfig(configPath)
				if err != nil {
					return err
				}
				if token, err = cfg.AdminToken(os.Getenv); err != nil {
					return err
				}
				base = "http://" + cfg.HTTP.Listen
			} else if tokenEnv != "" {
				if token = os.Getenv(tokenEnv); token == "" {
					return fmt.Errorf("--token-env: %s is not set", tokenEnv)
				}
			}
			res, err := postSay(ctx, base, token, m, wait)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(stdio.Out)
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				return err
			}
			if res.Status == "failed" {
				return fmt.Errorf("say: the message failed: %s", res.Error)
			}
			return nil
		},
	}
}

// postSay posts m to the notify API at base.
func postSay(ctx context.Context, base, token string, m ops.Message, wait time.Duration) (ops.MessageResult, error) {
	var res ops.MessageResult
	body, err := json.Marshal(m)
	if err != nil {
		return res, err
	}
	u := strings.TrimSuffix(base, "/") + "/api/v1/messages?wait=" + url.QueryEscape(wait.String())
	ctx, cancel := context.WithTimeout(ctx, wait+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return res, fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return res, fmt.Errorf("say: POST %s: %w (is the bot running there?)", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return res, fmt.Errorf("say: POST %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return res, fmt.Errorf("say: POST %s: HTTP %d: %s", u, resp.StatusCode, e.Error)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("say: POST %s: the answer is not a message result: %w", u, err)
	}
	return res, nil
}
