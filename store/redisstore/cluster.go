package redisstore

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// reloadOnFailure makes a cluster client read the slot map again as soon
// as a node cannot be reached or a call fails for want of one. go-redis
// re-reads it on MOVED and otherwise once a minute, so after a primary
// dies and its replica takes over, every call for the dead primary's
// slots would go to the dead address, and fail, for up to a minute.
// Reloads run in the background and are coalesced by go-redis (at most
// one every 200 ms).
type reloadOnFailure struct{ c *redis.ClusterClient }

var _ redis.Hook = reloadOnFailure{}

// watchCluster installs reloadOnFailure on c and on each node client it
// makes, whose dials are the first to see a node gone.
func watchCluster(c *redis.ClusterClient) {
	h := reloadOnFailure{c}
	c.AddHook(h)
	c.OnNewNode(func(node *redis.Client) { node.AddHook(h) })
}

func (h reloadOnFailure) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil && ctx.Err() == nil {
			h.c.ReloadState(ctx)
		}
		return conn, err
	}
}

func (h reloadOnFailure) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnFailure) check(ctx context.Context, err error) {
	if nodeFailure(err) {
		h.c.ReloadState(ctx)
	}
}

// nodeFailure reports whether err says a node is gone or the cluster is
// changing (a network error, CLUSTERDOWN, TRYAGAIN), not that a command
// was answered with an error of its own.
func nodeFailure(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		return strings.HasPrefix(msg, "CLUSTERDOWN") || strings.HasPrefix(msg, "TRYAGAIN") || strings.HasPrefix(msg, "MASTERDOWN")
	}
	return true
}
