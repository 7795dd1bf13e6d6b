// Package route loads the routing config of the alert role: a tree of
// routes that match alerts on their labels and send them to receivers,
// in the model of Alertmanager's routing tree.
package route

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of a route's timers, the same as Alertmanager's.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
)

// Route is one node of the routing tree. A child inherits every unset
// field from its parent.
type Route struct {
	// ID is the node's position in the tree, "0" for the root and "0/2/1"
	// for the second child of the third child. It starts every group key.
	ID string
	// Receiver names the receiver that gets the route's notifications.
	Receiver string
	// GroupBy are the labels whose values split alerts into groups. "..."
	// alone groups by every label, so each alert is its own group. Empty
	// puts all alerts of the route in one group.
	GroupBy []string
	// GroupWait is how long a new group waits for more alerts before its
	// first notification.
	GroupWait time.Duration
	// GroupInterval is the minimum time between two notifications of a
	// group whose alerts changed.
	GroupInterval time.Duration
	// RepeatInterval is the time after which an unchanged, still firing
	// group is notified again.
	RepeatInterval time.Duration
	// Matchers are labels that must equal the given values.
	Matchers map[string]string
	// MatchRE are labels that must fully match the given expressions.
	MatchRE map[string]*regexp.Regexp
	// Continue lets matching go on to the next sibling after this route
	// matched.
	Continue bool
	// Routes are the children, tried in order.
	Routes []*Route
}

// Matches reports whether labels satisfy the route's matchers. A missing
// label has the empty value.
func (r *Route) Matches(labels map[string]string) bool {
	for name, value := range r.Matchers {
		if labels[name] != value {
			return false
		}
	}
	for name, re := range r.MatchRE {
		if !re.MatchString(labels[name]) {
			return false
		}
	}
	return true
}

// Match returns the routes that take an alert with the given labels: the
// deepest matching route of each matching branch. A child that matches
// stops the search among its later siblings unless it has Continue. A
// route none of whose children match takes the alert itself.
func (r *Route) Match(labels map[string]string) []*Route {
	if !r.Matches(labels) {
		return nil
	}
	var out []*Route
	for _, child := range r.Routes {
		matched := child.Match(labels)
		out = append(out, matched...)
		if len(matched) > 0 && !child.Continue {
			break
		}
	}
	if len(out) == 0 {
		out = append(out, r)
	}
	return out
}

// GroupLabels returns the values of the route's group_by labels in labels.
func (r *Route) GroupLabels(labels map[string]string) map[string]string {
	if len(r.GroupBy) == 1 && r.GroupBy[0] == "..." {
		return maps.Clone(labels)
	}
	out := make(map[string]string, len(r.GroupBy))
	for _, name := range r.GroupBy {
		if v, ok := labels[name]; ok {
			out[name] = v
		}
	}
	return out
}

// GroupKey returns the key of the group that an alert with the given
// labels joins on this route, such as `0/1:{alertname="x",container="y"}`.
func (r *Route) GroupKey(groupLabels map[string]string) string {
	var b strings.Builder
	b.WriteString(r.ID + ":{")
	for i, name := range slices.Sorted(maps.Keys(groupLabels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name + "=" + strconvQuote(groupLabels[name]))
	}
	b.WriteByte('}')
	return b.String()
}

func strconvQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// Walk calls f on r and every descendant, parents first.
func (r *Route) Walk(f func(*Route)) {
	f(r)
	for _, c := range r.Routes {
		c.Walk(f)
	}
}
