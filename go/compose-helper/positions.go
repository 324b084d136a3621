package main

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	yaml4 "go.yaml.in/yaml/v4"
)

// pos is a 1-based line and column in one compose file.
type pos struct {
	Line   int
	Column int
}

// positions maps a dotted path ("services.app.ports.0.target") to where that mapping key or list item is
// written in one file. A path that goes through an alias or a merge key (`<<: *x`) points into the
// anchored node, where the value is actually written.
type positions map[string]pos

// maxPositions bounds the walk of alias-heavy documents (Docker's own decoder has already refused a
// "billion laughs" document by the time we get here, this is a second fence).
const maxPositions = 1_000_000

// buildPositions parses content with the same YAML library Docker uses (go.yaml.in/yaml/v3) into a node
// tree and records a position for every mapping key and list item.
func buildPositions(content []byte) positions {
	out := positions{}
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil || len(doc.Content) == 0 {
		return out
	}
	walkPositions(doc.Content[0], nil, out, 0)
	return out
}

func joinPath(parts []string) string { return strings.Join(parts, ".") }

func walkPositions(n *yaml.Node, path []string, out positions, depth int) {
	if n == nil || depth > 200 || len(out) > maxPositions {
		return
	}
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		for _, p := range effectivePairs(n, 0) {
			child := append(append([]string(nil), path...), p.key)
			out[joinPath(child)] = pos{p.keyNode.Line, p.keyNode.Column}
			walkPositions(p.value, child, out, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			child := append(append([]string(nil), path...), strconv.Itoa(i))
			out[joinPath(child)] = pos{c.Line, c.Column}
			walkPositions(c, child, out, depth+1)
		}
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

type pair struct {
	key     string
	keyNode *yaml.Node
	value   *yaml.Node
}

// isMerge is yaml.v3's own test for a merge key.
func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" &&
		(n.Tag == "" || n.Tag == "!" || n.Tag == "!!merge" || n.Tag == "tag:yaml.org,2002:merge")
}

// effectivePairs returns a mapping's entries the way yaml.v3 decodes them: the mapping's own keys win over
// merged ones, only the last `<<` of a mapping counts, and in `<<: [*a, *b]` the earlier source wins.
func effectivePairs(m *yaml.Node, depth int) []pair {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode || depth > 50 {
		return nil
	}
	var out []pair
	seen := map[string]bool{}
	var mergeNode *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if isMerge(k) {
			mergeNode = v
			continue
		}
		key := deref(k).Value
		if seen[key] {
			continue // a duplicate key is a YAML error Docker reports; keep the first position
		}
		seen[key] = true
		out = append(out, pair{key: key, keyNode: k, value: v})
	}
	if mergeNode != nil {
		var sources []*yaml.Node
		switch mn := deref(mergeNode); mn.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{mn}
		case yaml.SequenceNode:
			sources = mn.Content
		}
		for _, s := range sources {
			for _, p := range effectivePairs(s, depth+1) {
				if !seen[p.key] {
					seen[p.key] = true
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// lookup returns the position of path, or of its nearest ancestor that is written in the file, and the
// path it found (joined). ok is false when nothing on the way is in the file.
func (p positions) lookup(path []string) (pos, string, bool) {
	for i := len(path); i > 0; i-- {
		key := joinPath(path[:i])
		if at, ok := p[key]; ok {
			return at, key, true
		}
	}
	return pos{}, "", false
}

// --- YAML syntax errors ---------------------------------------------------------------------------------

var yamlLineRe = regexp.MustCompile(`line (\d+): (.*)`)

// yamlErrorPositions turns the error Docker's parser (yaml.v3) returned for content into problems with a
// line and column. yaml.v3 reports only a line (and, for parser errors, a 0-based one), so the same content
// is parsed again with yaml/v4, which reports both the problem mark and the mark where the offending
// construct starts (an unterminated quote: where it opened). The message stays Docker's.
func yamlErrorPositions(content []byte, dockerErr error) []Problem {
	msg := dockerErr.Error()
	var n yaml4.Node
	err4 := yaml4.Unmarshal(content, &n)
	var le *yaml4.LoadError
	if errors.As(err4, &le) && le.Mark.Line > 0 {
		at := le.Mark
		detail := le.Message
		if le.ContextMsg != "" && le.ContextMark.Line > 0 {
			detail = le.ContextMsg + " at line " + strconv.Itoa(le.ContextMark.Line) + ", column " +
				strconv.Itoa(le.ContextMark.Column) + ": " + le.Message
			// Scanner errors ("while scanning a quoted scalar", "... a simple key", ...) and unclosed flow
			// collections start where the construct opened; a block mapping or sequence that goes wrong
			// goes wrong at the problem mark.
			if strings.HasPrefix(le.ContextMsg, "while scanning") || strings.HasPrefix(le.ContextMsg, "while parsing a flow") {
				at = le.ContextMark
			}
		}
		return []Problem{{Kind: "yaml", Message: msg, Line: at.Line, Column: at.Column, Detail: detail}}
	}
	// yaml/v4 accepted it (yaml.v3 is stricter about duplicate keys) or gave no position: use the line(s)
	// in yaml.v3's message. An "unmarshal errors" message lists one problem per line.
	var out []Problem
	matches := yamlLineRe.FindAllStringSubmatch(msg, -1)
	for _, m := range matches {
		line, _ := strconv.Atoi(m[1])
		one := msg
		if len(matches) > 1 {
			one = "yaml: " + m[0]
		}
		out = append(out, Problem{Kind: "yaml", Message: one, Line: line, Column: firstColumn(content, line)})
	}
	if len(out) == 0 {
		out = append(out, Problem{Kind: "yaml", Message: msg, Line: 1, Column: 1})
	}
	return out
}

// firstColumn is the column of the first non-blank character of a 1-based line (1 if there is none).
func firstColumn(content []byte, line int) int {
	lines := strings.Split(string(content), "\n")
	if line < 1 || line > len(lines) {
		return 1
	}
	text := lines[line-1]
	return len(text) - len(strings.TrimLeft(text, " \t")) + 1
}
