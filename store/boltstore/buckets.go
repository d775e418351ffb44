package boltstore

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The file's layout: one bucket per account under "accounts", holding
//
//	state/<conv>/<field>  JSON value
//	touched/<conv>        last write, unix nanoseconds
//	inbox/<seq>           encoded entry, seq a big-endian uint64
//	queued/<eventID>      seq of the queued entry
//	done/<eventID>        expiry, unix nanoseconds
//	marks/<key>           expiry, unix nanoseconds (0: never)
//	values/<key>          expiry (unix nanoseconds, 0: never), then the value
//	timers/<id>           JSON store.Timer
//	meta/session          JSON store.Session
//	meta/lease            JSON lease record
//	meta/fence            current fencing token
var (
	bucketAccounts = []byte("accounts")
	bucketState    = []byte("state")
	bucketTouched  = []byte("touched")
	bucketInbox    = []byte("inbox")
	bucketQueued   = []byte("queued")
	bucketDone     = []byte("done")
	bucketMarks    = []byte("marks")
	bucketMeta     = []byte("meta")
	bucketValues   = []byte("values")
	bucketTimers   = []byte("timers")

	keySession = []byte("session")
	keyLease   = []byte("lease")
	keyFence   = []byte("fence")
)

// sub returns the account's named bucket, nil when it does not exist (in a
// read transaction).
func sub(tx *bolt.Tx, account string, name []byte) *bolt.Bucket {
	a := tx.Bucket(bucketAccounts).Bucket([]byte(account))
	if a == nil {
		return nil
	}
	return a.Bucket(name)
}

// mkSub returns the account's named bucket, creating it (in a write
// transaction).
func mkSub(tx *bolt.Tx, account string, name []byte) (*bolt.Bucket, error) {
	a, err := tx.Bucket(bucketAccounts).CreateBucketIfNotExists([]byte(account))
	if err != nil {
		return nil, err
	}
	return a.CreateBucketIfNotExists(name)
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func nanos(t time.Time) []byte { return u64(uint64(t.UnixNano())) }

func getTime(b []byte) time.Time { return time.Unix(0, int64(getU64(b))) }

// live reports whether an expiry value has not passed at now (0: never
// expires).
func live(v []byte, now time.Time) bool {
	if v == nil {
		return false
	}
	exp := getU64(v)
	return exp == 0 || int64(exp) > now.UnixNano()
}

// sweep deletes expired done marks and marks of every account.
func (s *Store) sweep(now time.Time) error {
	return s.batch("sweep", "", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).ForEachBucket(func(acct []byte) error {
			a := tx.Bucket(bucketAccounts).Bucket(acct)
			for _, name := range [][]byte{bucketDone, bucketMarks, bucketValues} {
				b := a.Bucket(name)
				if b == nil {
					continue
				}
				var stale [][]byte
				if err := b.ForEach(func(k, v []byte) error {
					if len(v) > 8 {
						v = v[:8] // a value: its expiry comes first
					}
					if !live(v, now) {
						stale = append(stale, append([]byte(nil), k...))
					}
					return nil
				}); err != nil {
					return err
				}
				for _, k := range stale {
					if err := b.Delete(k); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
}
