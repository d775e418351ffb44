package redisstore_test

import (
	"context"
	"log"
	"time"

	"github.com/ucwabot/ucwabot/store/redisstore"
)

// Open a store on a Redis Cluster for the "prod" deployment.
func ExampleOpen() {
	ctx := context.Background()
	s, err := redisstore.Open(ctx, "redis+cluster://redis-1:6379?addr=redis-2:6379&addr=redis-3:6379&pool_size=64",
		redisstore.Options{Prefix: "ucwabot:prod", StateTTL: 7 * 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
}
