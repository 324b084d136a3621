package main

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
)

// RegexpShape is what a static look at a host regexp can prove about every string it lets
// through. Traefik applies host regexps with regexp.MatchString, a search: a pattern not
// anchored with ^ and $ matches any host that merely contains a match.
type RegexpShape struct {
	// RequiredSuffix: the longest literal that every host the regexp accepts must end with,
	// lower-cased (compare case-insensitively); "" when none can be proven.
	RequiredSuffix string `json:"requiredSuffix"`
	// AnchoredStart/AnchoredEnd: every match must begin at the start / end at the end of the
	// host (^ or \A, and $ or \z, outside (?m)). Anchored is both.
	AnchoredStart bool `json:"anchoredStart"`
	AnchoredEnd   bool `json:"anchoredEnd"`
	Anchored      bool `json:"anchored"`
	// MatchesEmpty: the regexp matches the empty string. For an HTTP HostRegexp (v3) this
	// matters beyond the empty host: Traefik also tries the regexp on the CNAME-flattened host,
	// which is "" unless CNAME flattening is configured, so such a router matches every request.
	MatchesEmpty bool `json:"matchesEmpty"`
}

// AnalyzeRegexp parses pattern the way regexp.Compile does (syntax.Perl, then Simplify) and
// works out its RegexpShape. The analysis is conservative: whatever it cannot follow (optional
// or repeated parts, classes of more than one letter, multi-line anchors) ends the literal it
// is collecting, so a reported suffix is always forced, never guessed.
func AnalyzeRegexp(pattern string) (RegexpShape, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return RegexpShape{}, err
	}
	compiled, err := regexp.Compile(pattern)
	if err != nil {
		return RegexpShape{}, err
	}
	in := shapeOf(re.Simplify())
	out := RegexpShape{
		AnchoredStart: in.anchStart,
		AnchoredEnd:   in.anchEnd,
		Anchored:      in.anchStart && in.anchEnd,
		MatchesEmpty:  compiled.MatchString(""),
	}
	if in.anchEnd {
		out.RequiredSuffix = in.suffix
	}
	return out, nil
}

// shape describes the strings one node of the parsed regexp can match:
//   - suffix: every match of the node ends with it (lower-cased);
//   - fixed: every match of the node is exactly suffix (zero-width assertions are fixed "");
//   - anchEnd: every match of the node ends at the end of the text;
//   - anchStart: every match of the node begins at the start of the text.
type shape struct {
	suffix    string
	fixed     bool
	anchEnd   bool
	anchStart bool
}

var unknown = shape{}

func shapeOf(re *syntax.Regexp) shape {
	switch re.Op {
	case syntax.OpLiteral:
		return shape{suffix: foldString(re.Rune), fixed: true}
	case syntax.OpCharClass:
		if s, ok := singleLetterClass(re.Rune); ok {
			return shape{suffix: s, fixed: true}
		}
		return unknown
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary,
		syntax.OpBeginLine, syntax.OpEndLine:
		// Zero-width: consume nothing. (?m)^ and (?m)$ also match around "\n", so they are
		// not anchors.
		return shape{fixed: true}
	case syntax.OpBeginText:
		return shape{fixed: true, anchStart: true}
	case syntax.OpEndText:
		return shape{fixed: true, anchEnd: true}
	case syntax.OpCapture:
		return shapeOf(re.Sub[0])
	case syntax.OpPlus:
		// Every match of x+ ends with a match of x and begins with one.
		s := shapeOf(re.Sub[0])
		return shape{suffix: s.suffix, fixed: s.fixed && s.suffix == "", anchEnd: s.anchEnd, anchStart: s.anchStart}
	case syntax.OpRepeat:
		// Simplify rewrites counted repetitions; this is only reached for huge counts.
		if re.Min >= 1 {
			s := shapeOf(re.Sub[0])
			return shape{suffix: s.suffix, anchEnd: s.anchEnd, anchStart: s.anchStart}
		}
		return unknown
	case syntax.OpConcat:
		return concatShape(re.Sub)
	case syntax.OpAlternate:
		return alternateShape(re.Sub)
	default:
		// OpStar, OpQuest (may match nothing), OpAnyChar, OpAnyCharNotNL, OpNoMatch.
		return unknown
	}
}

func concatShape(subs []*syntax.Regexp) shape {
	if len(subs) == 0 {
		return shape{fixed: true}
	}
	shapes := make([]shape, len(subs))
	for i, s := range subs {
		shapes[i] = shapeOf(s)
	}
	var out shape
	// End anchor: the last element ends at the end of the text, or an end-anchored element is
	// followed only by zero-width ones.
	for i := len(shapes) - 1; i >= 0; i-- {
		if shapes[i].anchEnd {
			out.anchEnd = true
			break
		}
		if !(shapes[i].fixed && shapes[i].suffix == "") {
			break
		}
	}
	// Start anchor, symmetrically.
	for i := range shapes {
		if shapes[i].anchStart {
			out.anchStart = true
			break
		}
		if !(shapes[i].fixed && shapes[i].suffix == "") {
			break
		}
	}
	// Suffix: collect fixed elements right to left; the first element that is not fixed
	// contributes its own forced suffix and ends the literal.
	out.fixed = true
	for i := len(shapes) - 1; i >= 0; i-- {
		out.suffix = shapes[i].suffix + out.suffix
		if !shapes[i].fixed {
			out.fixed = false
			break
		}
	}
	return out
}

func alternateShape(subs []*syntax.Regexp) shape {
	if len(subs) == 0 {
		return unknown
	}
	out := shapeOf(subs[0])
	for _, sub := range subs[1:] {
		s := shapeOf(sub)
		out.anchEnd = out.anchEnd && s.anchEnd
		out.anchStart = out.anchStart && s.anchStart
		if !(out.fixed && s.fixed && out.suffix == s.suffix) {
			out.fixed = false
		}
		out.suffix = commonSuffix(out.suffix, s.suffix)
	}
	return out
}

func commonSuffix(a, b string) string {
	ra, rb := []rune(a), []rune(b)
	n := 0
	for n < len(ra) && n < len(rb) && ra[len(ra)-1-n] == rb[len(rb)-1-n] {
		n++
	}
	return string(ra[len(ra)-n:])
}

// foldString lower-cases a literal. Whether or not the literal was case-folded ((?i)), every
// string it matches lower-cases (rune by rune, with simple folding) to this.
func foldString(runes []rune) string {
	var b strings.Builder
	for _, r := range runes {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune maps r to the one representative of its simple-fold orbit that unicode.ToLower
// gives for the ASCII letters (K, k and the Kelvin sign all give k).
func foldRune(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	return unicode.ToLower(min)
}

// singleLetterClass: a character class whose runes are all one letter up to case ([Aa], or a
// one-rune class) matches a fixed string up to case.
func singleLetterClass(ranges []rune) (string, bool) {
	var runes []rune
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i+1]-ranges[i] > 4 {
			return "", false
		}
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			runes = append(runes, r)
		}
	}
	if len(runes) == 0 {
		return "", false
	}
	f := foldRune(runes[0])
	for _, r := range runes[1:] {
		if foldRune(r) != f {
			return "", false
		}
	}
	return string(f), true
}
