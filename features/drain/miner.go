// Package drain mines log templates online with the Drain algorithm (Pinjia
// He, Jieming Zhu, Zibin Zheng, Michael R. Lyu, "Drain: An Online Log
// Parsing Approach with Fixed Depth Tree", ICWS 2017). Each message is
// split into tokens, its variable tokens (numbers, addresses, ids, paths)
// are masked, and a fixed-depth parse tree leads it to a few candidate
// templates. The most similar candidate takes the message when their
// token similarity reaches a threshold, and otherwise the message opens a
// template of its own. Templates are kept per key, such as an image id,
// and a Store keeps them with their ids across restarts.
package drain

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultDepth              = 4
	DefaultSimilarity         = 0.5
	DefaultMaxChildren        = 100
	DefaultMaxTemplatesPerKey = 10000
	DefaultFlushInterval      = 10 * time.Second
)

// seenPerTemplate sizes the map from masked message text to template: a
// key remembers up to this many distinct texts per allowed template.
const seenPerTemplate = 4

// Config configures a Miner. Zero fields take their defaults.
type Config struct {
	// Depth is the depth of a leaf of the parse tree, counting the root and
	// the token-count layer, so Depth-2 leading tokens route a message.
	// Default 4; values below 3 are invalid.
	Depth int
	// Similarity is the minimum share of equal tokens, in (0, 1], at
	// which a message joins a template. Default 0.5.
	Similarity float64
	// MaxChildren caps the children of an inner node of the tree. Past the
	// cap, new tokens share the wildcard child. Default 100; minimum 2.
	MaxChildren int
	// MaxTemplatesPerKey caps the templates kept for one key, which bounds
	// memory when a key logs unbounded free text. A message that matches
	// no template of a full key gets the id of its masked text and is not
	// kept. Default 10000.
	MaxTemplatesPerKey int
	// FlushInterval is how often Run saves changed templates to the store.
	// Default 10 seconds.
	FlushInterval time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Depth == 0 {
		c.Depth = DefaultDepth
	}
	if c.Depth < 3 {
		return c, fmt.Errorf("invalid drain depth %d: must be at least 3 (root, token count and one token layer)", c.Depth)
	}
	if c.Similarity == 0 {
		c.Similarity = DefaultSimilarity
	}
	if c.Similarity < 0 || c.Similarity > 1 {
		return c, fmt.Errorf("invalid drain similarity %g: must be in (0, 1]", c.Similarity)
	}
	if c.MaxChildren == 0 {
		c.MaxChildren = DefaultMaxChildren
	}
	if c.MaxChildren < 2 {
		return c, fmt.Errorf("invalid drain max children %d: must be at least 2", c.MaxChildren)
	}
	if c.MaxTemplatesPerKey <= 0 {
		c.MaxTemplatesPerKey = DefaultMaxTemplatesPerKey
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	return c, nil
}

// Stats counts what a Miner has done. Tests and metrics read it.
type Stats struct {
	// Lines is the number of messages matched.
	Lines int64
	// Templates is the number of templates kept, over all keys.
	Templates int64
	// NewTemplates is the number of templates created since start.
	NewTemplates int64
	// Overflow is the number of messages that matched no template of a key
	// already at MaxTemplatesPerKey.
	Overflow int64
	// Keys is the number of keys.
	Keys int64
	// Saved is the number of template versions written to the store.
	Saved int64
	// SaveErrors is the number of failed saves.
	SaveErrors int64
}

// Miner mines templates per key. It is safe for concurrent use. Matches of
// different keys run in parallel, and matches of one key take turns.
type Miner struct {
	cfg    Config
	store  Store
	logger *slog.Logger

	mu    sync.RWMutex
	trees map[string]*keyTree

	// flushMu serializes Flush calls so that template versions reach the
	// store in order.
	flushMu sync.Mutex

	lines, templates, created, overflow, keys, saved, saveErrors atomic.Int64
}

type keyTree struct {
	mu sync.Mutex
	*tree
}

// NewMiner returns a Miner that keeps its templates in store (nil for none)
// and loads the templates store already contains.
func NewMiner(ctx context.Context, cfg Config, store Store, logger *slog.Logger) (*Miner, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Miner{cfg: cfg, store: store, logger: logger.With("component", "drain"), trees: make(map[string]*keyTree)}
	if store == nil {
		return m, nil
	}
	saved, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	for _, tpl := range saved {
		if err := m.restore(tpl); err != nil {
			return nil, err
		}
	}
	m.logger.Info("Templates loaded", "templates", len(saved), "keys", m.keys.Load())
	return m, nil
}

// NewInMemory returns a Miner with the default configuration that keeps
// its templates in memory only.
func NewInMemory(logger *slog.Logger) *Miner {
	cfg, _ := Config{}.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Miner{cfg: cfg, logger: logger.With("component", "drain"), trees: make(map[string]*keyTree)}
}

// restore files a stored template under the route of its first text.
func (m *Miner) restore(tpl Template) error {
	first := strings.Fields(tpl.First)
	tokens := strings.Fields(tpl.Template)
	if len(first) != len(tokens) {
		return fmt.Errorf("invalid stored template %d of key %q: template %q has %d tokens but first text %q has %d; remove the entry from the store",
			tpl.ID, tpl.Key, tpl.Template, len(tokens), tpl.First, len(first))
	}
	if tpl.ID == 0 {
		return fmt.Errorf("invalid stored template id 0 of key %q (template %q): ids start at 1; remove the entry from the store", tpl.Key, tpl.Template)
	}
	kt := m.keyTree(tpl.Key)
	kt.mu.Lock()
	defer kt.mu.Unlock()

	if c := kt.byID[tpl.ID]; c != nil {
		c.tokens, c.text, c.count = tokens, strings.Join(tokens, " "), tpl.Count
		return nil
	}
	c := &cluster{id: tpl.ID, first: strings.Join(first, " "), tokens: tokens, text: strings.Join(tokens, " "), count: tpl.Count}
	kt.insert(kt.leaf(first, &m.cfg), c)
	m.templates.Add(1)
	return nil
}

func (m *Miner) keyTree(key string) *keyTree {
	m.mu.RLock()
	kt := m.trees[key]
	m.mu.RUnlock()
	if kt != nil {
		return kt
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if kt = m.trees[key]; kt == nil {
		kt = &keyTree{tree: newTree(key, seenPerTemplate*m.cfg.MaxTemplatesPerKey)}
		m.trees[key] = kt
		m.keys.Add(1)
	}
	return kt
}

// Match finds the template of message under key, creating or widening one
// as needed. It returns the template's id, which never changes once
// assigned, its current text, and whether the message opened a new
// template. The text can gain wildcards as later messages join.
func (m *Miner) Match(key, message string) (id uint64, template string, isNew bool) {
	m.lines.Add(1)
	kt := m.keyTree(key)
	kt.mu.Lock()
	defer kt.mu.Unlock()

	tokens := tokenize(kt.scratch[:0], message)
	kt.text = kt.text[:0]
	for i, tok := range tokens {
		tokens[i] = maskToken(tok)
		if i > 0 {
			kt.text = append(kt.text, ' ')
		}
		kt.text = append(kt.text, tokens[i]...)
	}
	kt.scratch = tokens

	if c := kt.seen[string(kt.text)]; c != nil {
		c.count++
		c.counted = true
		return c.id, c.text, false
	}
	leaf := kt.leaf(tokens, &m.cfg)
	if c, sim := best(leaf, tokens); c != nil && sim >= m.cfg.Similarity {
		if c.merge(tokens) {
			c.dirty = true
		}
		c.count++
		c.counted = true
		kt.remember(c)
		return c.id, c.text, false
	}

	if kt.count >= m.cfg.MaxTemplatesPerKey {
		m.overflow.Add(1)
		text := string(kt.text)
		h := fnv.New64a()
		h.Write([]byte(key))
		h.Write([]byte{0})
		h.Write([]byte(text))
		return h.Sum64() | 1, text, true
	}
	c := kt.add(leaf, tokens)
	kt.remember(c)
	c.count = 1
	c.dirty = true
	m.templates.Add(1)
	m.created.Add(1)
	return c.id, c.text, true
}

// Templates returns a copy of the templates of key, in no particular order.
func (m *Miner) Templates(key string) []Template {
	m.mu.RLock()
	kt := m.trees[key]
	m.mu.RUnlock()
	if kt == nil {
		return nil
	}
	kt.mu.Lock()
	defer kt.mu.Unlock()
	out := make([]Template, 0, len(kt.byID))
	for _, c := range kt.byID {
		out = append(out, c.template(key))
	}
	return out
}

func (c *cluster) template(key string) Template {
	return Template{Key: key, ID: c.id, First: c.first, Template: c.text, Count: c.count}
}

// Stats returns a snapshot of the counters.
func (m *Miner) Stats() Stats {
	return Stats{
		Lines:        m.lines.Load(),
		Templates:    m.templates.Load(),
		NewTemplates: m.created.Load(),
		Overflow:     m.overflow.Load(),
		Keys:         m.keys.Load(),
		Saved:        m.saved.Load(),
		SaveErrors:   m.saveErrors.Load(),
	}
}

// Flush saves the templates created or whose text changed since the last
// save, so that their ids survive a restart. Counts that alone changed wait
// for the periodic save of Run. A failed save marks the templates changed
// again, so the next save retries them.
func (m *Miner) Flush(ctx context.Context) error {
	return m.save(ctx, false)
}

// save writes the templates whose text changed and, with counts, also
// those whose count alone changed.
func (m *Miner) save(ctx context.Context, counts bool) error {
	if m.store == nil {
		return nil
	}
	m.flushMu.Lock()
	defer m.flushMu.Unlock()

	var changed []Template
	var clusters []*cluster
	m.mu.RLock()
	trees := make([]*keyTree, 0, len(m.trees))
	for _, kt := range m.trees {
		trees = append(trees, kt)
	}
	m.mu.RUnlock()
	for _, kt := range trees {
		kt.mu.Lock()
		for _, c := range kt.byID {
			if c.dirty || (counts && c.counted) {
				c.dirty, c.counted = false, false
				changed = append(changed, c.template(kt.key))
				clusters = append(clusters, c)
			}
		}
		kt.mu.Unlock()
	}
	if len(changed) == 0 {
		return nil
	}

	if err := m.store.Save(ctx, changed); err != nil {
		m.saveErrors.Add(1)
		m.markDirty(clusters)
		return fmt.Errorf("save %d templates: %w", len(changed), err)
	}
	m.saved.Add(int64(len(changed)))
	return nil
}

func (m *Miner) markDirty(clusters []*cluster) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, kt := range m.trees {
		kt.mu.Lock()
		for _, c := range clusters {
			if kt.byID[c.id] == c {
				c.dirty = true
			}
		}
		kt.mu.Unlock()
	}
}

// Run saves changed templates every FlushInterval until ctx is done, then
// saves once more with a fresh 10-second deadline and returns.
func (m *Miner) Run(ctx context.Context) error {
	m.logger.Info("Template miner started", "flush_interval", m.cfg.FlushInterval)
	ticker := time.NewTicker(m.cfg.FlushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := m.save(final, true)
			cancel()
			if err != nil {
				m.logger.Error("Final template save failed", "err", err)
			}
			m.logger.Info("Template miner stopped", "templates", m.templates.Load(), "saved", m.saved.Load())
			return err
		case <-ticker.C:
			if err := m.save(ctx, true); err != nil {
				m.logger.Warn("Template save failed, retrying at next flush", "err", err)
			}
		}
	}
}
