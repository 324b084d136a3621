package main

import (
	"strconv"
	"strings"
	"testing"
)

func TestTemplateCalls(t *testing.T) {
	// Ten nested defines, each calling the previous twice: 2^10 calls of the innermost.
	var nested strings.Builder
	nested.WriteString(`{{define "t0"}}x{{end}}`)
	for i := 1; i <= 10; i++ {
		nested.WriteString(`{{define "t` + itoa(i) + `"}}{{template "t` + itoa(i-1) + `"}}{{template "t` + itoa(i-1) + `"}}{{end}}`)
	}
	bomb := nested.String() + `{{template "t10"}}`
	deep := strings.Replace(bomb, `{{template "t10"}}`, `{{range 20}}{{template "t10"}}{{end}}`, 1)
	for _, tc := range []struct {
		name, text, wantErr string
		want                int64
	}{
		{name: "plain text", text: "hello", want: 0},
		{name: "two calls", text: `{{define "a"}}a{{end}}{{template "a"}}{{template "a"}}`, want: 2},
		{name: "nested", text: `{{define "a"}}a{{end}}{{define "b"}}{{template "a"}}{{template "a"}}{{end}}{{template "b"}}`, want: 3},
		{name: "if takes the larger branch", text: `{{define "a"}}a{{end}}{{if .X}}{{template "a"}}{{else}}{{template "a"}}{{template "a"}}{{end}}`, want: 2},
		{name: "range N multiplies", text: `{{define "a"}}a{{end}}{{range 5}}{{template "a"}}{{end}}`, want: 5},
		{name: "nested defines within the limit", text: bomb, want: 2046 + 1},
		{name: "past the limit", text: deep, wantErr: "more than 10000 template calls"},
		{name: "recursion", text: `{{define "a"}}{{template "a"}}{{end}}{{template "a"}}`, wantErr: "calls itself"},
		{name: "mutual recursion", text: `{{define "a"}}{{template "b"}}{{end}}{{define "b"}}{{template "a"}}{{end}}{{template "a"}}`, wantErr: "calls itself"},
		{name: "a huge range", text: `{{range 100000000}}x{{end}}`, wantErr: "over the limit of 100000 iterations"},
		{name: "parse errors are the renderer's", text: `{{ if }}`, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := templateCalls(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestRenderBounds(t *testing.T) {
	big := strings.Repeat("x", 600*1024)
	for _, tc := range []struct {
		name, template, wantErr string
		env                     []string
	}{
		{name: "output past a config's limit", template: `{{env "BIG"}}{{env "BIG"}}`, env: []string{"BIG=" + big},
			wantErr: "renders to 1228800 bytes, over the 1024000"},
		{name: "template past a config's limit", template: big + big, wantErr: "the template is 1228800 bytes"},
		{name: "recursion", template: `{{define "a"}}{{template "a"}}{{end}}{{template "a"}}`, wantErr: "calls itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderOne(RenderItem{ID: "config-x", Template: tc.template, Env: tc.env})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestInterpolationBound(t *testing.T) {
	env := map[string]string{"A": strings.Repeat("a", 100*1024)}
	if got := interpolationBound("${A}-$A-${B:-x}", env); got != int64(len("${A}-$A-${B:-x}")+200*1024) {
		t.Fatalf("bound = %d", got)
	}
	// A compose value naming a long variable a few times is refused before Docker expands it.
	resp, err := Load(LoadRequest{WorkingDir: "/r", Env: env, Files: []FileIn{{Name: "compose.yml",
		Content: "version: \"3.8\"\nservices:\n  app:\n    image: x\n    environment:\n      X: ${A}${A}${A}\n"}}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range resp.Problems {
		if p.Kind == "bound" && p.Path == "services.app.environment.X" && strings.Contains(p.Message, "over the limit of 262144") {
			found = true
		}
	}
	if !found || resp.Config != nil {
		t.Fatalf("no bound problem (or a config was loaded anyway): %+v", resp.Problems)
	}
}
