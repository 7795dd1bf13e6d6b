package drain

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// tree is the fixed-depth parse tree of one key. The root branches on the
// number of tokens, each of the next layers on one leading token, and a
// leaf holds the clusters whose messages took that path. A message is only
// compared with the clusters of its leaf, which keeps matching cheap.
type tree struct {
	key      string
	byLength map[int]*node
	byID     map[uint64]*cluster
	count    int
	// seen maps the masked text of each message matched so far to its
	// cluster, so that a message seen before keeps its template even after
	// wildcards lowered its similarity below the threshold. It holds at
	// most seenLimit entries.
	seen      map[string]*cluster
	seenLimit int
	// scratch and text hold the tokens and the masked text of the message
	// being matched.
	scratch []string
	text    []byte
}

type node struct {
	children map[string]*node
	clusters []*cluster
}

// cluster is one log group: its template and the route it was filed under.
type cluster struct {
	id uint64
	// first is the masked text of the message that opened the cluster. It
	// fixes the cluster's route in the tree and its id, so that a restored
	// cluster lands in the same leaf and keeps its id.
	first  string
	tokens []string
	text   string
	count  int64
	// dirty marks a cluster whose text is not saved yet: Flush saves it.
	// counted marks one whose count alone changed: only the periodic save
	// of Run writes it, so that counting lines costs no insert per batch.
	dirty   bool
	counted bool
}

func newTree(key string, seenLimit int) *tree {
	return &tree{key: key, byLength: make(map[int]*node), byID: make(map[uint64]*cluster), seen: make(map[string]*cluster), seenLimit: seenLimit}
}

// remember maps the masked text in t.text to c, unless the map is full.
func (t *tree) remember(c *cluster) {
	if len(t.seen) < t.seenLimit {
		t.seen[string(t.text)] = c
	}
}

// leaf returns the leaf for tokens, creating nodes on the way.
func (t *tree) leaf(tokens []string, cfg *Config) *node {
	n := t.byLength[len(tokens)]
	if n == nil {
		n = &node{}
		t.byLength[len(tokens)] = n
	}
	layers := min(cfg.Depth-2, len(tokens))
	for i := 0; i < layers; i++ {
		tok := tokens[i]
		if tok == Wildcard || hasDigit(tok) {
			tok = Wildcard
		}
		if n.children == nil {
			n.children = make(map[string]*node)
		}
		child := n.children[tok]
		if child == nil {
			// One child slot stays free for the wildcard branch, which
			// takes every token once a node is full.
			if tok != Wildcard && len(n.children) >= cfg.MaxChildren-1 {
				tok = Wildcard
				child = n.children[tok]
			}
			if child == nil {
				child = &node{}
				n.children[tok] = child
			}
		}
		n = child
	}
	return n
}

// best returns the cluster of leaf most similar to tokens and its
// similarity: the share of positions whose template token equals the
// message token. Ties go to the template with more wildcards.
func best(leaf *node, tokens []string) (*cluster, float64) {
	var found *cluster
	bestSim, bestWild := -1.0, -1
	for _, c := range leaf.clusters {
		equal, wild := 0, 0
		for i, tok := range c.tokens {
			if tok == Wildcard {
				wild++
			}
			if tok == tokens[i] {
				equal++
			}
		}
		sim := 1.0
		if len(tokens) > 0 {
			sim = float64(equal) / float64(len(tokens))
		}
		if sim > bestSim || sim == bestSim && wild > bestWild {
			found, bestSim, bestWild = c, sim, wild
		}
	}
	return found, bestSim
}

// merge replaces each template token that differs from the message token
// with Wildcard and reports whether the template changed.
func (c *cluster) merge(tokens []string) bool {
	changed := false
	for i, tok := range tokens {
		if c.tokens[i] != tok && c.tokens[i] != Wildcard {
			c.tokens[i] = Wildcard
			changed = true
		}
	}
	if changed {
		c.text = strings.Join(c.tokens, " ")
	}
	return changed
}

// add files a new cluster for tokens in leaf and returns it. Its id is a
// hash of the key and the first template text, so that the same first
// message under the same key gives the same id in every process. A hash
// already taken by another cluster of the key is hashed again with a
// suffix, and only then does the id depend on the order of creation.
func (t *tree) add(leaf *node, tokens []string) *cluster {
	owned := make([]string, len(tokens))
	for i, tok := range tokens {
		owned[i] = strings.Clone(tok)
	}
	text := strings.Join(owned, " ")
	c := &cluster{first: text, tokens: owned, text: text}
	c.id = t.freeID(text)
	t.insert(leaf, c)
	return c
}

func (t *tree) insert(leaf *node, c *cluster) {
	leaf.clusters = append(leaf.clusters, c)
	t.byID[c.id] = c
	t.count++
}

func (t *tree) freeID(first string) uint64 {
	for n := 0; ; n++ {
		h := fnv.New64a()
		h.Write([]byte(t.key))
		h.Write([]byte{0})
		h.Write([]byte(first))
		if n > 0 {
			h.Write([]byte{0})
			h.Write([]byte(strconv.Itoa(n)))
		}
		id := h.Sum64()
		// 0 means "no template" in the events table.
		if _, used := t.byID[id]; !used && id != 0 {
			return id
		}
	}
}
