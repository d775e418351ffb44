package bench

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// counter is a go-redis hook that counts what its client sends: round
// trips (one per command outside a pipeline, one per pipeline or
// transaction) and commands.
type counter struct {
	trips, cmds atomic.Int64
}

var _ redis.Hook = (*counter)(nil)

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func (c *counter) snapshot() [2]int64 { return [2]int64{c.trips.Load(), c.cmds.Load()} }

// serverStats are the INFO figures a run reads before and after.
type serverStats struct {
	Commands   int64   // total_commands_processed
	InputBytes int64   // total_net_input_bytes
	UsedMemory int64   // used_memory
	CPU        float64 // used_cpu_sys + used_cpu_user, seconds
}

// info reads INFO stats, memory and cpu. The INFO call counts among the
// commands; deltas subtract it.
func info(ctx context.Context, rdb *redis.Client) (serverStats, error) {
	txt, err := rdb.Info(ctx, "stats", "memory", "cpu").Result()
	if err != nil {
		return serverStats{}, fmt.Errorf("bench: redis INFO: %w", err)
	}
	f := infoFields(txt)
	var s serverStats
	s.Commands, _ = strconv.ParseInt(f["total_commands_processed"], 10, 64)
	s.InputBytes, _ = strconv.ParseInt(f["total_net_input_bytes"], 10, 64)
	s.UsedMemory, _ = strconv.ParseInt(f["used_memory"], 10, 64)
	sys, _ := strconv.ParseFloat(f["used_cpu_sys"], 64)
	user, _ := strconv.ParseFloat(f["used_cpu_user"], 64)
	s.CPU = sys + user
	return s, nil
}

// infoFields parses INFO's "key:value" lines.
func infoFields(txt string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(txt, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

// redisVersion returns the server's redis_version.
func redisVersion(ctx context.Context, rdb *redis.Client) string {
	txt, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "unknown"
	}
	return infoFields(txt)["redis_version"]
}

// deletePrefix removes every key under prefix: SCAN and UNLINK, never
// FLUSHALL.
func deletePrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := rdb.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return fmt.Errorf("bench: delete keys %s*: %w", prefix, err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("bench: scan keys %s*: %w", prefix, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("bench: delete keys %s*: %w", prefix, err)
	}
	return nil
}

// redisAddr is the host:port of a redis:// URL, for messages.
func redisAddr(o *redis.Options) string {
	if _, _, err := net.SplitHostPort(o.Addr); err == nil {
		return o.Addr
	}
	return o.Addr + ":6379"
}
