package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// loadFile applies a YAML file. Its mappings nest by the dots of the key
// names; a list value is allowed only for list keys.
func (l *Loader) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	return l.applyYAML(path, data)
}

func (l *Loader) applyYAML(path string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("%s: invalid YAML: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: expected a mapping of keys at the top level", path, root.Line)
	}
	return l.walk(path, "", root, map[string]int{})
}

// walk applies the keys of one mapping. seen maps each key already set in
// the file to its line, so that a key given twice is an error instead of
// the last value silently winning.
func (l *Loader) walk(path, prefix string, node *yaml.Node, seen map[string]int) error {
	for i := 0; i+1 < len(node.Content); i += 2 {
		kn, vn := node.Content[i], node.Content[i+1]
		name := kn.Value
		if prefix != "" {
			name = prefix + "." + kn.Value
		}
		source := fmt.Sprintf("%s:%d", path, kn.Line)
		if first, dup := seen[name]; dup {
			return fmt.Errorf("%s: key %s is set twice, first on line %d", source, name, first)
		}
		seen[name] = kn.Line
		k, ok := l.byName[name]
		if !ok {
			if l.hasGroup(name) {
				if vn.Kind != yaml.MappingNode {
					return fmt.Errorf("%s: %s is a group of keys: expected a mapping such as %s:\n  %s: ...", source, name, kn.Value, lastPart(l.firstKeyOf(name)))
				}
				if err := l.walk(path, name, vn, seen); err != nil {
					return err
				}
				continue
			}
			return &Error{Source: source, Key: name}
		}
		value, err := scalarValue(k, vn)
		if err != nil {
			return &Error{Source: source, Key: name, Value: err.Error(), Allowed: "expected a single value" + map[bool]string{true: " or a list", false: ""}[k.kind == kStrings]}
		}
		if err := k.set(value); err != nil {
			return &Error{Source: source, Key: name, Value: value, Allowed: err.Error()}
		}
	}
	return nil
}

// firstKeyOf returns the first key of a group in the key table's order.
func (l *Loader) firstKeyOf(prefix string) string {
	for _, k := range l.keys {
		if strings.HasPrefix(k.name, prefix+".") {
			return k.name
		}
	}
	return prefix
}

func lastPart(name string) string { return name[strings.LastIndex(name, ".")+1:] }

func (l *Loader) hasGroup(prefix string) bool {
	for name := range l.byName {
		if strings.HasPrefix(name, prefix+".") {
			return true
		}
	}
	return false
}

// scalarValue returns the value of a leaf as the string form that set
// parses; a sequence becomes a comma-separated list.
func scalarValue(k *key, n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		if k.kind != kStrings {
			return "", fmt.Errorf("a list")
		}
		var parts []string
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("a nested value")
			}
			parts = append(parts, item.Value)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("a mapping")
}
