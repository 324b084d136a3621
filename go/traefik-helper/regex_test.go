package main

import (
	"testing"
)

func TestAnalyzeRegexp(t *testing.T) {
	tests := []struct {
		pattern      string
		suffix       string
		start, end   bool
		matchesEmpty bool
	}{
		{pattern: `^[a-z]+\.run\.example$`, suffix: ".run.example", start: true, end: true},
		{pattern: `^.+$`, suffix: "", start: true, end: true},
		{pattern: `^.*$`, suffix: "", start: true, end: true, matchesEmpty: true},
		// Unanchored: MatchString is a search, so "a.run.example.evil" matches.
		{pattern: `[a-z]+\.run\.example`, suffix: "", start: false, end: false},
		{pattern: `^[a-z]+\.run\.example`, suffix: "", start: true, end: false},
		{pattern: `[a-z]+\.run\.example$`, suffix: ".run.example", start: false, end: true},
		{pattern: `\.run\.example\z`, suffix: ".run.example", end: true},
		{pattern: `\A[a-z]+\.run\.example\z`, suffix: ".run.example", start: true, end: true},
		// Case: (?i) and upper-case literals give a lower-cased suffix.
		{pattern: `(?i)^[a-z]+\.RUN\.example$`, suffix: ".run.example", start: true, end: true},
		{pattern: `^[a-z]+\.[Rr]un\.example$`, suffix: ".run.example", start: true, end: true},
		// Top-level alternation: the part before "|" is not anchored at the end.
		{pattern: `^a\.run\.example$|evil`, suffix: "", start: false, end: false},
		{pattern: `^a\.run\.example|evil$`, suffix: "", start: false, end: false},
		{pattern: `^(a|b)\.run\.example$`, suffix: ".run.example", start: true, end: true},
		{pattern: `^(a\.run\.example|b\.run\.example)$`, suffix: ".run.example", start: true, end: true},
		{pattern: `^(a\.run\.example|b\.other\.example)$`, suffix: ".example", start: true, end: true},
		{pattern: `^(a\.run\.example$|b)`, suffix: "", start: true, end: false},
		// Optional parts.
		{pattern: `^[a-z]+(\.run\.example)?$`, suffix: "", start: true, end: true},
		{pattern: `^(x\.run\.example)?$`, suffix: "", start: true, end: true, matchesEmpty: true},
		{pattern: `^[a-z]+\.run\.example(\.evil)?$`, suffix: "", start: true, end: true},
		{pattern: `^[a-z]+\.run\.example(\.evil)*$`, suffix: "", start: true, end: true},
		{pattern: `^[a-z]+(\.run\.example)+$`, suffix: ".run.example", start: true, end: true},
		// Counted repetition becomes nested optional parts: conservative, nothing proven.
		{pattern: `^[a-z]+\.run\.exampl[e]{1,3}$`, suffix: "", start: true, end: true},
		// Multi-line anchors are not anchors.
		{pattern: `(?m)^[a-z]+\.run\.example$`, suffix: "", start: false, end: false},
		// Zero-width assertions after the anchor.
		{pattern: `^[a-z]+\.run\.example$\b`, suffix: ".run.example", start: true, end: true},
		{pattern: `^[a-z]+\.run\.example\b`, suffix: "", start: true, end: false},
		// A class of several letters ends the literal.
		{pattern: `^.+\.run\.exampl[a-z]$`, suffix: "", start: true, end: true},
		{pattern: `^.+[.]run[.]example$`, suffix: ".run.example", start: true, end: true},
		// Groups.
		{pattern: `^(?:[a-z]+)(?P<d>\.run)(\.example)$`, suffix: ".run.example", start: true, end: true},
		// The v2 template Traefik derives from {x:a)|(.*}.run.example: the group closes early
		// and the alternation escapes the anchors.
		{pattern: `(?i)^(?P<v0>a)|(.*)\.run\.example$`, suffix: "", start: false, end: false},
		{pattern: `(?i)^(?P<v0>[a-z]+)\.run\.example$`, suffix: ".run.example", start: true, end: true},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			got, err := AnalyzeRegexp(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got.RequiredSuffix != tc.suffix || got.AnchoredStart != tc.start || got.AnchoredEnd != tc.end ||
				got.Anchored != (tc.start && tc.end) || got.MatchesEmpty != tc.matchesEmpty {
				t.Errorf("got %+v, want suffix %q start %v end %v empty %v", got, tc.suffix, tc.start, tc.end, tc.matchesEmpty)
			}
		})
	}
}

func TestAnalyzeRegexpInvalid(t *testing.T) {
	if _, err := AnalyzeRegexp(`^(a$`); err == nil {
		t.Fatal("want an error for an invalid regexp")
	}
}
