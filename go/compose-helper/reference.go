package main

import "github.com/distribution/reference"

// ReferenceRequest is the input of `ccci-compose reference`: image references to judge.
type ReferenceRequest struct {
	References []string `json:"references"`
}

// ReferenceResult is Docker's reading of one reference: its normalized name, or why it is none.
type ReferenceResult struct {
	Normalized string `json:"normalized,omitempty"`
	Error      string `json:"error,omitempty"`
}

type ReferenceResponse struct {
	Results []ReferenceResult `json:"results"`
}

// References reads each reference as the engine reads a container's image (ParseNormalizedNamed).
func References(req ReferenceRequest) *ReferenceResponse {
	out := &ReferenceResponse{Results: make([]ReferenceResult, 0, len(req.References))}
	for _, r := range req.References {
		named, err := reference.ParseNormalizedNamed(r)
		if err != nil {
			out.Results = append(out.Results, ReferenceResult{Error: err.Error()})
			continue
		}
		out.Results = append(out.Results, ReferenceResult{Normalized: named.String()})
	}
	return out
}
