package normalize

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/harrierhq/harrier/storage"
)

// containerInfo is the part of a container that events and metrics rows copy.
type containerInfo struct {
	imageID  string
	imageRef string
	name     string
	hostID   string
}

// cacheEntry is a cached container, or a remembered miss.
type cacheEntry struct {
	info  containerInfo
	found bool
	// checked is when a miss was looked up in the containers table.
	checked time.Time
}

// missRetryAfter is how long a container that the containers table does
// not have stays a miss before it is looked up again. A container record
// read by this normalizer replaces a miss at once; the retry covers records
// that another normalizer process stored.
const missRetryAfter = time.Minute

// maxCachedContainers bounds the cache. When it is full the cache starts
// empty again and refills from records and lookups.
const maxCachedContainers = 100_000

// containerCache maps container ids to their image and name. It is filled
// from container records and, on a miss, from the containers table.
type containerCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
	now     func() time.Time
	queries atomic.Uint64
}

// lookups returns how many times the cache queried the containers table.
func (c *containerCache) lookups() uint64 { return c.queries.Load() }

func newContainerCache() *containerCache {
	return &containerCache{entries: make(map[string]cacheEntry), now: time.Now}
}

// put records the latest state of a container.
func (c *containerCache) put(id string, info containerInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedContainers {
		c.entries = make(map[string]cacheEntry)
	}
	c.entries[id] = cacheEntry{info: info, found: true}
}

// resolve returns the info of every id in ids that is known, looking the
// unknown ones up in the containers table with one query.
func (c *containerCache) resolve(ctx context.Context, store *storage.Store, ids map[string]bool) (map[string]containerInfo, error) {
	out := make(map[string]containerInfo, len(ids))
	var missing []string
	now := c.now()

	c.mu.Lock()
	for id := range ids {
		e, ok := c.entries[id]
		switch {
		case ok && e.found:
			out[id] = e.info
		case ok && now.Sub(e.checked) < missRetryAfter:
			// A recent miss: do not query again yet.
		default:
			missing = append(missing, id)
		}
	}
	c.mu.Unlock()

	if len(missing) == 0 || store == nil {
		return out, nil
	}
	c.queries.Add(1)
	found, err := lookupContainers(ctx, store, missing)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries)+len(missing) > maxCachedContainers {
		c.entries = make(map[string]cacheEntry)
	}
	for _, id := range missing {
		if info, ok := found[id]; ok {
			c.entries[id] = cacheEntry{info: info, found: true}
			out[id] = info
		} else {
			c.entries[id] = cacheEntry{checked: now}
		}
	}
	return out, nil
}

// ContainerLookupQuery returns the statement with which the normalizer
// reads the latest stored state of n containers. It has one "?" placeholder
// per container id, because clickhouse-go binds a slice as an array
// literal, which "IN (...)" rejects.
func ContainerLookupQuery(n int) string {
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
	return "SELECT container_id, image_id, image_ref, name, host_id FROM containers FINAL WHERE container_id IN (" + placeholders + ")"
}

// lookupContainers reads the latest stored state of the given containers.
func lookupContainers(ctx context.Context, store *storage.Store, ids []string) (map[string]containerInfo, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := store.Conn().Query(ctx, ContainerLookupQuery(len(ids)), args...)
	if err != nil {
		return nil, fmt.Errorf("look up %d containers: %w", len(ids), err)
	}
	defer rows.Close()
	found := make(map[string]containerInfo, len(ids))
	for rows.Next() {
		var id string
		var info containerInfo
		if err := rows.Scan(&id, &info.imageID, &info.imageRef, &info.name, &info.hostID); err != nil {
			return nil, fmt.Errorf("look up containers: %w", err)
		}
		found[id] = info
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up containers: %w", err)
	}
	return found, nil
}
