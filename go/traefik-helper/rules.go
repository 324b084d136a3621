package main

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/gorilla/mux" // Traefik's fork (github.com/containous/mux), by the wrapper's replace
	httpmuxer "github.com/traefik/traefik/v3/pkg/muxer/http"
	tcpmuxer "github.com/traefik/traefik/v3/pkg/muxer/tcp"
	"github.com/traefik/traefik/v3/pkg/rules"
	"github.com/traefik/traefik/v3/pkg/tcp"
)

// Matcher names per protocol and syntax. Traefik keeps them in unexported maps of its muxers
// (httpFuncs, httpFuncsV2, tcpFuncs, tcpFuncsV2); the tests check these lists against those
// maps. They only serve to build the rule's tree with Traefik's rules.NewParser: whether a rule
// is valid is always decided by Traefik's muxer (AddRoute), and a rule the muxer accepts but
// these lists cannot parse is reported as an error, never passed.
var matcherNames = map[string]map[string][]string{
	"http": {
		"v3": {"ClientIP", "Method", "Host", "HostRegexp", "Path", "PathRegexp", "PathPrefix", "Header", "HeaderRegexp", "Query", "QueryRegexp"},
		"v2": {"Host", "HostHeader", "HostRegexp", "ClientIP", "Path", "PathPrefix", "Method", "Headers", "HeadersRegexp", "Query"},
	},
	"tcp": {
		"v3": {"ALPN", "ClientIP", "HostSNI", "HostSNIRegexp"},
		"v2": {"ALPN", "ClientIP", "HostSNI", "HostSNIRegexp"},
	},
}

// RuleNode is Traefik's rule tree (rules.Tree) as JSON. Traefik's parser pushes negations down
// to the matchers (De Morgan), so "not" only ever wraps a matcher; chains of the same operator
// are flattened ("and"/"or" lists of two or more).
type RuleNode struct {
	And     []*RuleNode `json:"and,omitempty"`
	Or      []*RuleNode `json:"or,omitempty"`
	Not     *RuleNode   `json:"not,omitempty"`
	Matcher string      `json:"matcher,omitempty"`
	Args    []string    `json:"args,omitempty"`
}

// HostRegexpInfo is one argument of a HostRegexp / HostSNIRegexp matcher.
type HostRegexpInfo struct {
	Matcher string `json:"matcher"`
	Arg     string `json:"arg"`
	// Pattern is the regexp Traefik compiles from Arg: Arg itself in v3; in v2 the regexp
	// Traefik derives from the {name:pattern} template ((?i)^...$).
	Pattern string `json:"pattern"`
	// Negated: the matcher sits under a "!" (then it confines nothing).
	Negated bool `json:"negated"`
	RegexpShape
	Error string `json:"error,omitempty"`
}

// HostConfinement: every request (connection) the rule matches has a host (SNI) that is one of
// Hosts or ends with one of Suffixes. Confined is false when the rule can match a host outside
// those (a branch without a host matcher, a negated one, an unproven regexp, HostSNI(`*`)).
type HostConfinement struct {
	Confined bool     `json:"confined"`
	Hosts    []string `json:"hosts"`
	Suffixes []string `json:"suffixes"`
}

// RuleInfo describes one router's rule as Traefik will use it.
type RuleInfo struct {
	Rule string `json:"rule"`
	// RuleSyntax as configured on the router; Syntax the parser Traefik picks for it: "v2" only
	// for exactly "v2", anything else (including "V2") gets v3.
	RuleSyntax string `json:"ruleSyntax,omitempty"`
	Syntax     string `json:"syntax"`
	// Priority as Traefik computes it: the router's own when not 0, else the rule's length
	// (TCP: -1 for the catch-all HostSNI(`*`)).
	Priority         int  `json:"priority"`
	PriorityFromRule bool `json:"priorityFromRule"`
	// DefaultRule: the router had no rule and the provider gave it its defaultRule.
	DefaultRule bool `json:"defaultRule,omitempty"`
	// CatchAll (TCP): Traefik treats the router as the HostSNI(`*`) catch-all.
	CatchAll bool `json:"catchAll,omitempty"`
	// Error: Traefik's muxer refused the rule (Traefik's words); the router is then not served.
	Error           string           `json:"error,omitempty"`
	Tree            *RuleNode        `json:"tree"`
	HostRegexps     []HostRegexpInfo `json:"hostRegexps"`
	HostConfinement HostConfinement  `json:"hostConfinement"`
}

// maxUserPriority is the unexported constant of the same name in Traefik's pkg/server/router
// and pkg/server/router/tcp.
const maxUserPriority = math.MaxInt - 1000

func effectiveSyntax(ruleSyntax string) string {
	if ruleSyntax == "v2" {
		return "v2"
	}
	return "v3"
}

// AnalyzeRule parses rule for a router of kind "http" or "tcp" with Traefik's own muxer and
// rule parser.
func AnalyzeRule(kind, rule, ruleSyntax string, priority int) RuleInfo {
	info := RuleInfo{
		Rule:        rule,
		RuleSyntax:  ruleSyntax,
		Syntax:      effectiveSyntax(ruleSyntax),
		Priority:    priority,
		HostRegexps: []HostRegexpInfo{},
		HostConfinement: HostConfinement{
			Hosts: []string{}, Suffixes: []string{},
		},
	}

	// 1. Traefik's verdict and priority, exactly as its router managers do it.
	var routeErr error
	switch kind {
	case "http":
		if priority == 0 {
			info.Priority = httpmuxer.GetRulePriority(rule)
			info.PriorityFromRule = true
		}
		parser, err := httpmuxer.NewSyntaxParser()
		if err != nil {
			routeErr = fmt.Errorf("creating Traefik's rule parser: %w", err)
			break
		}
		routeErr = httpmuxer.NewMuxer(parser).AddRoute(rule, ruleSyntax, info.Priority, http.NotFoundHandler())
	case "tcp":
		if priority == 0 {
			info.Priority = tcpmuxer.GetRulePriority(rule)
			info.PriorityFromRule = true
		}
		m, err := tcpmuxer.NewMuxer()
		if err != nil {
			routeErr = fmt.Errorf("creating Traefik's rule parser: %w", err)
			break
		}
		routeErr = m.AddRoute(rule, ruleSyntax, info.Priority, tcp.HandlerFunc(func(tcp.WriteCloser) {}))
	default:
		panic("unknown router kind " + kind)
	}
	if routeErr != nil {
		info.Error = routeErr.Error()
	} else if info.Priority > maxUserPriority {
		// The check of Traefik's HTTP and TCP router managers (pkg/server/router), for a router
		// that is not @internal.
		info.Error = fmt.Sprintf("the router priority %d exceeds the max user-defined priority %d", info.Priority, maxUserPriority)
	}

	// 2. The tree, from Traefik's rules.NewParser with the same matcher names.
	tree, err := parseTree(kind, info.Syntax, rule)
	if err != nil {
		if routeErr == nil {
			// Traefik accepts what we cannot parse: the matcher lists above are out of date.
			info.Error = "ccci-traefik: Traefik accepts this rule but its tree could not be built (" +
				err.Error() + "); update matcherNames"
		}
		return info
	}
	info.Tree = toNode(tree)
	if kind == "tcp" && tree.RuleLeft == nil && tree.RuleRight == nil && len(tree.Value) == 1 {
		// The catch-all test of tcpmuxer.AddRoute (it ignores a negation, as Traefik does).
		info.CatchAll = tree.Value[0] == "*" && strings.EqualFold(tree.Matcher, "HostSNI")
	}

	// 3. Host regexps and host confinement.
	collectHostRegexps(kind, info.Syntax, tree, &info.HostRegexps)
	if info.Error == "" {
		info.HostConfinement = confinement(kind, info.Syntax, tree)
	}
	return info
}

func parseTree(kind, syntax, rule string) (*rules.Tree, error) {
	p, err := rules.NewParser(matcherNames[kind][syntax])
	if err != nil {
		return nil, err
	}
	parsed, err := p.Parse(rule)
	if err != nil {
		return nil, err
	}
	build, ok := parsed.(rules.TreeBuilder)
	if !ok {
		return nil, errors.New("the rule is not a tree of matchers")
	}
	return build(), nil
}

func toNode(t *rules.Tree) *RuleNode {
	switch t.Matcher {
	case "and", "or":
		var kids []*RuleNode
		for _, sub := range []*rules.Tree{t.RuleLeft, t.RuleRight} {
			n := toNode(sub)
			if t.Matcher == "and" && n.And != nil {
				kids = append(kids, n.And...)
			} else if t.Matcher == "or" && n.Or != nil {
				kids = append(kids, n.Or...)
			} else {
				kids = append(kids, n)
			}
		}
		if t.Matcher == "and" {
			return &RuleNode{And: kids}
		}
		return &RuleNode{Or: kids}
	default:
		leaf := &RuleNode{Matcher: t.Matcher, Args: append([]string{}, t.Value...)}
		if t.Not {
			return &RuleNode{Not: leaf}
		}
		return leaf
	}
}

func isHostRegexpMatcher(kind, matcher string) bool {
	return (kind == "http" && matcher == "HostRegexp") || (kind == "tcp" && matcher == "HostSNIRegexp")
}

func collectHostRegexps(kind, syntax string, t *rules.Tree, out *[]HostRegexpInfo) {
	if t.Matcher == "and" || t.Matcher == "or" {
		collectHostRegexps(kind, syntax, t.RuleLeft, out)
		collectHostRegexps(kind, syntax, t.RuleRight, out)
		return
	}
	if !isHostRegexpMatcher(kind, t.Matcher) {
		return
	}
	for _, arg := range t.Value {
		*out = append(*out, hostRegexpInfo(t.Matcher, syntax, arg, t.Not))
	}
}

func hostRegexpInfo(matcher, syntax, arg string, negated bool) HostRegexpInfo {
	info := HostRegexpInfo{Matcher: matcher, Arg: arg, Negated: negated}
	pattern := arg
	if syntax == "v2" {
		var err error
		if pattern, err = v2HostPattern(arg); err != nil {
			info.Error = err.Error()
			return info
		}
	}
	info.Pattern = pattern
	shape, err := AnalyzeRegexp(pattern)
	if err != nil {
		info.Error = err.Error()
		return info
	}
	info.RegexpShape = shape
	return info
}

// v2HostPattern returns the regexp Traefik's v2 HostRegexp matcher compiles from a
// {name:pattern} template: the v2 HTTP matcher calls (Traefik's fork of) gorilla/mux's
// Router.Host, and the v2 TCP HostSNIRegexp matcher a copy of the same code (preparePattern,
// "reuses the code dedicated to host matching of the newRouteRegexp func"). mux keeps the
// compiled regexp in unexported fields; read it by reflection rather than rebuild it.
func v2HostPattern(template string) (string, error) {
	route := mux.NewRouter().Host(template)
	if err := route.GetError(); err != nil {
		return "", err
	}
	v := reflect.ValueOf(route).Elem()
	for _, field := range []string{"regexp", "host", "regexp"} {
		v = v.FieldByName(field)
		if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
			return "", fmt.Errorf("ccci-traefik: cannot read mux's host regexp (field %q); update v2HostPattern", field)
		}
		v = v.Elem()
	}
	expr := v.FieldByName("expr")
	if !expr.IsValid() || expr.Kind() != reflect.String {
		return "", errors.New("ccci-traefik: cannot read mux's host regexp source; update v2HostPattern")
	}
	return expr.String(), nil
}

// confinement works out which hosts a rule can match, on Traefik's tree: a Host/HostSNI
// matcher confines to its (lower-cased) names, a HostRegexp/HostSNIRegexp to its proven
// suffix; "and" is confined when either side is, "or" when both are; anything negated or
// unproven is not confined.
func confinement(kind, syntax string, t *rules.Tree) HostConfinement {
	hc := confine(kind, syntax, t)
	if !hc.Confined {
		return HostConfinement{Hosts: []string{}, Suffixes: []string{}}
	}
	sort.Strings(hc.Hosts)
	sort.Strings(hc.Suffixes)
	return HostConfinement{
		Confined: true,
		Hosts:    append([]string{}, slices.Compact(hc.Hosts)...),
		Suffixes: append([]string{}, slices.Compact(hc.Suffixes)...),
	}
}

func confine(kind, syntax string, t *rules.Tree) HostConfinement {
	none := HostConfinement{}
	switch t.Matcher {
	case "and":
		l, r := confine(kind, syntax, t.RuleLeft), confine(kind, syntax, t.RuleRight)
		switch {
		case l.Confined && r.Confined:
			// Both hold; report the tighter: exact hosts over suffixes, then fewer entries.
			if len(r.Suffixes) < len(l.Suffixes) ||
				(len(r.Suffixes) == len(l.Suffixes) && len(r.Hosts) < len(l.Hosts)) {
				return r
			}
			return l
		case l.Confined:
			return l
		default:
			return r
		}
	case "or":
		l, r := confine(kind, syntax, t.RuleLeft), confine(kind, syntax, t.RuleRight)
		if !l.Confined || !r.Confined {
			return none
		}
		return HostConfinement{
			Confined: true,
			Hosts:    append(append([]string{}, l.Hosts...), r.Hosts...),
			Suffixes: append(append([]string{}, l.Suffixes...), r.Suffixes...),
		}
	}
	if t.Not || len(t.Value) == 0 {
		return none
	}
	hc := HostConfinement{Confined: true}
	switch {
	case (kind == "http" && (t.Matcher == "Host" || (syntax == "v2" && t.Matcher == "HostHeader"))) ||
		(kind == "tcp" && t.Matcher == "HostSNI"):
		for _, h := range t.Value {
			if kind == "tcp" && h == "*" {
				return none
			}
			hc.Hosts = append(hc.Hosts, strings.ToLower(h))
		}
	case isHostRegexpMatcher(kind, t.Matcher):
		for _, arg := range t.Value {
			ri := hostRegexpInfo(t.Matcher, syntax, arg, false)
			if ri.Error != "" || ri.RequiredSuffix == "" {
				return none
			}
			hc.Suffixes = append(hc.Suffixes, ri.RequiredSuffix)
		}
	default:
		return none
	}
	return hc
}
