package main

// Bounds on everything a recipe can make this helper grow. A recipe comes from a pull request: a few
// hundred bytes of env values that double at every line, or ten nested `define`s that each call the
// previous twice, would otherwise drive the helper (and then dockerd, which renders the same template
// when the task starts) to many gigabytes. Every bound here is checked before the work it bounds, or
// after it on a result that could not grow past the process's own ceiling (the caller runs the helper
// under RLIMIT_DATA, RLIMIT_CPU and GOMEMLIMIT: lib/recipe/helpers.ts).

import (
	"fmt"
	"regexp"
	"text/template/parse"
)

const (
	// MaxConfigSize is swarmkit's limit on a config's data: manager/controlapi/config.go (swarmkit v2.0.0)
	// `const MaxConfigSize = 1000 * 1024`. A rendered config may be no larger than what the engine
	// accepts for a config.
	MaxConfigSize = 1000 * 1024
	// MaxInterpolated is the most bytes one compose value may interpolate to (bounded before Docker's
	// interpolation runs, from the lengths of the variables it names).
	MaxInterpolated = 256 * 1024
	// MaxInterpolatedTotal is the most bytes a whole compose file may interpolate to.
	MaxInterpolatedTotal = 16 * 1024 * 1024
	// MaxTemplateCalls is the most `template` calls one rendering may make, nested calls multiplied out,
	// and literal `range N` loops multiplied in.
	MaxTemplateCalls = 10000
	// MaxRangeIterations is the most iterations a literal `range N` of a template may ask for.
	MaxRangeIterations = 100000
)

// A variable reference as Docker's template reads one ($NAME, ${NAME…}); `$$` escapes are counted too,
// which only makes the bound larger.
var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// interpolationBound is an upper bound of what `value` interpolates to: its own length plus, for every
// variable it names, that variable's length (Docker substitutes each reference once, never the result
// again; a default's text is part of the value's own length).
func interpolationBound(value string, env map[string]string) int64 {
	n := int64(len(value))
	for _, m := range varRef.FindAllStringSubmatch(value, -1) {
		n += int64(len(env[m[1]]))
	}
	return n
}

// templateCalls counts the `template` calls a rendering of text makes at most, nested calls multiplied
// out and the bodies of literal `range N` loops multiplied by N; an error names a template that calls
// itself (directly or not), a loop past MaxRangeIterations, or a count past MaxTemplateCalls. A parse
// error is left for the renderer to report in Docker's words.
func templateCalls(text string) (int64, error) {
	trees := map[string]*parse.Tree{}
	t := parse.New("config")
	t.Mode = parse.SkipFuncCheck
	if _, err := t.Parse(text, "", "", trees); err != nil {
		return 0, nil
	}
	memo := map[string]int64{}
	visiting := map[string]bool{}
	var ofTree func(name string) (int64, error)
	var ofNode func(n parse.Node) (int64, error)
	// Every count saturates just past the limit, so no product of nested loops overflows.
	mul := func(a, b int64) int64 {
		return min(a*b, MaxTemplateCalls+1)
	}
	ofList := func(l *parse.ListNode) (int64, error) {
		var sum int64
		if l == nil {
			return 0, nil
		}
		for _, n := range l.Nodes {
			c, err := ofNode(n)
			if err != nil {
				return 0, err
			}
			if sum += c; sum > MaxTemplateCalls {
				return MaxTemplateCalls + 1, nil
			}
		}
		return sum, nil
	}
	// One branch or the other runs: the larger counts.
	ofBranch := func(b *parse.BranchNode) (int64, error) {
		a, err := ofList(b.List)
		if err != nil {
			return 0, err
		}
		e, err := ofList(b.ElseList)
		return max(a, e), err
	}
	ofNode = func(n parse.Node) (int64, error) {
		switch n := n.(type) {
		case *parse.TemplateNode:
			c, err := ofTree(n.Name)
			return min(1+c, MaxTemplateCalls+1), err
		case *parse.IfNode:
			return ofBranch(&n.BranchNode)
		case *parse.WithNode:
			return ofBranch(&n.BranchNode)
		case *parse.RangeNode:
			body, err := ofList(n.List)
			if err != nil {
				return 0, err
			}
			els, err := ofList(n.ElseList)
			if err != nil {
				return 0, err
			}
			times := int64(1)
			if k, ok := literalInt(n.Pipe); ok {
				if k > MaxRangeIterations {
					return 0, fmt.Errorf("a range over %d is over the limit of %d iterations", k, MaxRangeIterations)
				}
				times = max(k, 1)
			}
			return max(mul(body, times), els), nil
		case *parse.ListNode:
			return ofList(n)
		}
		return 0, nil
	}
	ofTree = func(name string) (int64, error) {
		if c, ok := memo[name]; ok {
			return c, nil
		}
		tree := trees[name]
		if tree == nil {
			return 0, nil // an undefined template: the renderer says so in Docker's words
		}
		if visiting[name] {
			return 0, fmt.Errorf("template %q calls itself", name)
		}
		visiting[name] = true
		c, err := ofList(tree.Root)
		visiting[name] = false
		memo[name] = c
		return c, err
	}
	c, err := ofTree("config")
	if err == nil && c > MaxTemplateCalls {
		err = fmt.Errorf("it makes more than %d template calls (nested defines multiply)", MaxTemplateCalls)
	}
	return c, err
}

// literalInt is the N of `range N` written as a number.
func literalInt(p *parse.PipeNode) (int64, bool) {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return 0, false
	}
	num, ok := p.Cmds[0].Args[0].(*parse.NumberNode)
	if !ok || !num.IsInt {
		return 0, false
	}
	return num.Int64, true
}
